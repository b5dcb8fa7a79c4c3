#!/usr/bin/env bash
# `edge rproxy` with streams: server-sent events arrive one by one (never buffered whole), an
# Upgrade becomes a byte tunnel after the 101 (bytes both ways, half-close), -H and
# --response-header set headers, SIGHUP reopens a rotated access log.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns curl python3
EDGE=$(realpath "$1")

netns_new ns st
in_ns() { ip netns exec "$ns" "$@"; }
listening() { [ -n "$(in_ns ss -Hltn "sport = :$1")" ]; }
bg "$ns" python3 "$here/lib/stream_backend.py" 19401
wait_for 10 listening 19401 || fail "stream backend"
log=$(tmpfile access.log)
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19400 --to 127.0.0.1:19401 --threads 1 --access-log "$log" \
  -H 'X-Env: test' --response-header 'X-Served-By: edge'
RP=$BG_PID
wait_for 10 listening 19400 || fail "edge rproxy: $(cat "$BG_LOG")"

# SSE: each event reaches the client about when the backend sent it, not at the end.
in_ns python3 - <<'PY' || fail "server-sent events were buffered"
import socket, time
s = socket.create_connection(("127.0.0.1", 19400), timeout=5)
s.sendall(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
arrivals, data, start = [], b"", time.time()
while data.count(b"data: ") < 5:
    chunk = s.recv(4096)
    if not chunk: break
    data += chunk
    arrivals.append((time.time() - start, data.count(b"data: ")))
first = next(t for t, n in arrivals if n >= 1)
assert data.count(b"data: ") == 5, data
assert first < 0.25, f"first event after {first:.2f}s: buffered"
print(f"ok: first event after {first * 1000:.0f} ms, all 5 after {arrivals[-1][0]:.2f} s")
PY

# Upgrade: after the 101 the connection is a tunnel: bytes echo back, EOF passes both ways.
in_ns python3 - <<'PY' || fail "upgrade tunnel"
import os, socket
s = socket.create_connection(("127.0.0.1", 19400), timeout=5)
s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
assert head.startswith(b"HTTP/1.1 101"), head
assert b"upgrade: echo" in head.lower() and b"connection: upgrade" in head.lower(), head
payload = os.urandom(1 << 20)
s.sendall(payload)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    c = s.recv(65536)
    if not c: break
    got += c
assert got == payload, (len(got), len(payload))
print("ok: 101 then 1 MiB echoed through the tunnel, EOF both ways")
PY

# -H reaches the backend, --response-header the client.
out=$(in_ns curl -s -D - http://127.0.0.1:19400/headers)
grep -q "^x-env: test" <<<"$out" || fail "-H did not reach the backend: $out"
grep -qi "^X-Served-By: edge" <<<"$out" || fail "--response-header missing: $out"
pass "-H and --response-header"

# SIGHUP: a rotated log is reopened at its path.
mv "$log" "$log.1"
kill -HUP "$RP"
sleep 0.2
in_ns curl -s -o /dev/null http://127.0.0.1:19400/headers
wait_for 5 test -s "$log" || fail "SIGHUP did not reopen the access log"
grep -q '"GET /headers HTTP/1.1" 200' "$log" || fail "reopened log: $(cat "$log")"
grep -q 'upgrade_echo' "$log.1" || fail "the upgrade was not logged"
pass "SIGHUP reopened the access log"
kill -TERM "$RP"; wait "$RP" || fail "exit $? on SIGTERM"
