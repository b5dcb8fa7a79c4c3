#!/usr/bin/env python3
"""WebSocket peers for edge rproxy's tests, on the `websockets` library (Debian's
python3-websockets), so both ends speak the real protocol (RFC 6455: handshake, masking,
fragmentation, ping/pong, close).
  ws_echo.py serve PORT        an echo server on 127.0.0.1:PORT (text and binary)
  ws_echo.py check URL         connects through URL, sends text, a 1 MiB binary message and a
                               ping, checks every echo and the close handshake; prints one line
"""
import asyncio
import os
import sys

import websockets


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def serve(port):
    async with websockets.serve(echo, "127.0.0.1", port, max_size=None):
        await asyncio.Future()


async def check(url):
    async with websockets.connect(url, max_size=None) as ws:
        for i in range(5):
            await ws.send(f"hello {i}")
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == f"hello {i}", got
        blob = os.urandom(1 << 20)
        await ws.send(blob)
        got = await asyncio.wait_for(ws.recv(), 10)
        assert got == blob, f"binary echo differs ({len(got)} bytes)"
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
        await ws.close()
        assert ws.close_code == 1000, ws.close_code
    print("websocket: 5 text messages, 1 MiB binary, ping/pong and the close handshake through the proxy")


if sys.argv[1] == "serve":
    asyncio.run(serve(int(sys.argv[2])))
else:
    asyncio.run(check(sys.argv[2]))
