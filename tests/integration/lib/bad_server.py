#!/usr/bin/env python3
"""Servers that fail half way, for `edge trace`'s second-ring tests. Standard library only;
one thread per connection; each connection's fate is logged on stdout.

  python3 bad_server.py ADDR PORT MODE

  reset       reads the first bytes (a TLS ClientHello), then resets the connection
              (SO_LINGER 0: an RST, no FIN), as an SNI-filtering middlebox does
  close       reads the first bytes, then closes normally (FIN) without a word
  short       HTTP: reads the request head, answers 200 with Content-Length 100000 and sends
              40000 bytes of it, then closes
  chunked     HTTP: answers 200 chunked, sends three 1000-byte chunks and closes without the
              final zero-length chunk
  whole       HTTP: as short, but sends all 100000 bytes (the healthy counterpart)
  stall       HTTP: as short, but after the 40000 bytes keeps the connection open, silent, 30 s
  redirect    HTTP: /loop/N answers 302 to /loop/N+1 up to /loop/3, which redirects to /loop/1;
              /hop/N answers 302 to /hop/N+1 and /hop/4 answers 200; /away answers 302 to
              http://nxdomain.test:8080/ (a name that does not resolve)
"""
import socket
import struct
import sys
import threading
import time


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def handle(conn, mode):
    try:
        if mode in ("reset", "close"):
            got = conn.recv(4096)
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            print(f"{mode} after {len(got)} bytes", flush=True)
            return
        head = read_head(conn)
        path = head.split(b" ")[1].decode() if head.count(b" ") >= 2 else "/"
        if mode in ("short", "whole", "stall"):
            total = 100000
            sent = total if mode == "whole" else 40000
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         + f"Content-Length: {total}\r\nConnection: close\r\n\r\n".encode()
                         + b"x" * sent)
            if mode == "stall":
                time.sleep(30)
        elif mode == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                         + (b"3e8\r\n" + b"y" * 1000 + b"\r\n") * 3)
        elif mode == "redirect":
            kind, _, n = path.strip("/").partition("/")
            n = int(n or 1)
            if kind == "away":
                conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://nxdomain.test:8080/\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            elif kind == "hop" and n >= 4:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            else:
                nxt = f"/{kind}/{1 if kind == 'loop' and n >= 3 else n + 1}"
                conn.sendall(b"HTTP/1.1 302 Found\r\n" + f"Location: {nxt}\r\n".encode()
                             + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        print(f"{mode} {path}", flush=True)
    except OSError as e:
        print(f"{mode}: {e}", flush=True)
    finally:
        conn.close()


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: bad_server.py ADDR PORT MODE")
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    srv = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    print(f"listening on {addr} port {port} ({mode})", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
