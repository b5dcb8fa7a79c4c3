#!/usr/bin/env python3
"""Servers and clients for edge nat's user-engine test (standard library only; loopback only).
  serve TCP_ECHO UDP_ECHO TCP_WHO   TCP echo, UDP echo (each datagram back to its sender) and a
                                    TCP server that answers "peer ADDR" and closes (127.0.0.1)
  echo PORT TEXT                    TCP: sends TEXT, prints what comes back (echo6: over ::1)
  sha PORT                          TCP: 1 MiB of random bytes there and back; prints "same" or
                                    "differs SENT RECEIVED" (sha256)
  who PORT                          TCP: prints the server's answer (the address it saw)
  hold PORT SECONDS                 TCP: one echo, prints "held", keeps the connection open
  refused PORT                      TCP: prints "closed" when the connection is closed without
                                    an echo, "open" when it echoes
  udp PORT TEXT [SIZE]              UDP: one datagram (TEXT, or SIZE bytes), prints the reply
                                    (its length and sha256 for SIZE) or "silence" after 1 s
  udp_two PORT                      UDP: two clients interleaved, prints "own" when each got
                                    only its own replies
Every client gives up after a few seconds; exit 1 on failure to connect."""
import hashlib
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


def tcp_echo_server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)

    def echo(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def udp_echo_server(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((HOST, port))
    while True:
        d, a = u.recvfrom(70000)
        u.sendto(d, a)


def tcp_who_server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, port))
    s.listen(64)
    while True:
        c, a = s.accept()
        with c:
            c.sendall(f"peer {a[0]}".encode())


def connect(port, host=HOST):
    return socket.create_connection((host, port), timeout=5)


def recv_all(c, n):
    out = b""
    while len(out) < n:
        d = c.recv(65536)
        if not d:
            break
        out += d
    return out


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        for fn, p in zip((tcp_echo_server, udp_echo_server, tcp_who_server), args):
            threading.Thread(target=fn, args=(int(p),), daemon=True).start()
        while True:
            time.sleep(3600)
    port = int(args[0])
    if cmd in ("echo", "echo6"):
        c = connect(port, "::1" if cmd == "echo6" else HOST)
        c.sendall(args[1].encode())
        print(recv_all(c, len(args[1])).decode())
    elif cmd == "sha":
        data = os.urandom(1 << 20)
        c = connect(port)
        got = []
        reader = threading.Thread(target=lambda: got.append(recv_all(c, len(data))))
        reader.start()
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        reader.join(10)
        a, b = hashlib.sha256(data).hexdigest(), hashlib.sha256(got[0] if got else b"").hexdigest()
        print("same" if a == b else f"differs {a} {b} ({len(got[0]) if got else 0} bytes back)")
    elif cmd == "who":
        print(recv_all(connect(port), 100).decode())
    elif cmd == "hold":
        c = connect(port)
        c.sendall(b"hold")
        if recv_all(c, 4) != b"hold":
            sys.exit(1)
        print("held", flush=True)
        time.sleep(float(args[1]))
    elif cmd == "refused":
        c = connect(port)
        try:
            c.sendall(b"x")
            print("open" if c.recv(10) == b"x" else "closed")
        except (ConnectionResetError, BrokenPipeError):
            print("closed")
    elif cmd == "udp":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(1)
        size = int(args[2]) if len(args) > 2 else 0
        data = os.urandom(size) if size else args[1].encode()
        u.sendto(data, (HOST, port))
        try:
            d, _ = u.recvfrom(70000)
        except socket.timeout:
            print("silence")
            return
        if size:
            print(len(d), "same" if hashlib.sha256(d).digest() == hashlib.sha256(data).digest() else "differs")
        else:
            print(d.decode())
    elif cmd == "udp_two":
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for s in (a, b):
            s.settimeout(2)
        ok = True
        for i in range(5):
            a.sendto(f"a{i}".encode(), (HOST, port))
            b.sendto(f"b{i}".encode(), (HOST, port))
            ok &= a.recvfrom(100)[0] == f"a{i}".encode() and b.recvfrom(100)[0] == f"b{i}".encode()
        print("own" if ok else "mixed")


if __name__ == "__main__":
    main()
