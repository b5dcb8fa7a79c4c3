#!/usr/bin/env python3
"""A backend for edge rproxy's streaming tests (standard library only):
  GET /events          server-sent events: 5 events, 300 ms apart, flushed one by one (chunked)
  GET /headers         echoes the request headers as text
  GET /early           a 103 Early Hints, then 200 "early"
  GET /close           200 with a body that ends when the connection closes
  GET /split           a chunked body whose chunk headers and data arrive in separate packets
  POST /count          reads the body (Content-Length or chunked), answers "got N" (N body bytes)
  Upgrade: echo        answers 101 Switching Protocols, then echoes every byte until EOF
Usage: stream_backend.py PORT   (binds 127.0.0.1)"""
import socket
import sys
import threading
import time


def handle(conn):
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        if headers.get("upgrade", "").lower() == "echo":
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
            if rest:
                conn.sendall(rest)
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(chunk)
        if path == "/count":
            n = count_body(conn, rest, headers)
            body = f"got {n}\n".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            return
        if path == "/split":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            for piece in (b"hello ", b"split ", b"world\n"):
                for part in (f"{len(piece):x}\r\n".encode(), piece + b"\r\n"):
                    time.sleep(0.05)
                    conn.sendall(part)
            time.sleep(0.05)
            conn.sendall(b"0\r\n\r\n")
            return
        if path == "/early":  # an interim 103, then the answer (then the connection closes)
            conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nearly\n")
            return
        if path == "/close":  # a body framed by the connection's close (no length, no chunks)
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close\n")
            return
        if path == "/events":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(5):
                event = f"data: event {i} at {time.time():.3f}\n\n".encode()
                conn.sendall(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                time.sleep(0.3)
            conn.sendall(b"0\r\n\r\n")
            return
        body = "".join(f"{k}: {v}\n" for k, v in headers.items()).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


def count_body(conn, rest, headers):
    """Reads a request body off the socket, counting its bytes without keeping them."""
    buf = bytearray(rest)

    def fill(n):
        while len(buf) < n:
            chunk = conn.recv(1 << 20)
            if not chunk:
                raise EOFError
            buf.extend(chunk)

    if "content-length" in headers:
        want, got = int(headers["content-length"]), len(buf)
        while got < want:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        return got
    total = 0
    while True:  # chunked: size line, data, CRLF; a 0 size ends it
        while (eol := buf.find(b"\r\n")) < 0:
            fill(len(buf) + 1)
        size = int(bytes(buf[:eol]).split(b";")[0], 16)
        del buf[: eol + 2]
        if size == 0:
            return total
        while size > 0:
            if not buf:
                fill(1)
            take = min(size, len(buf))
            del buf[:take]
            size -= take
            total += take
        fill(2)
        del buf[:2]


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


main()
