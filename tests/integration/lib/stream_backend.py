#!/usr/bin/env python3
"""A backend for edge rproxy's streaming tests (standard library only):
  GET /events          server-sent events: 5 events, 300 ms apart, flushed one by one (chunked)
  GET /headers         echoes the request headers as text
  GET /early           a 103 Early Hints, then 200 "early"
  GET /close           200 with a body that ends when the connection closes
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


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


main()
