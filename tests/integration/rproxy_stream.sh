#!/usr/bin/env bash
# `edge rproxy` with streams: a 1 GiB upload streams through with bounded memory, a real
# WebSocket echoes through the upgrade tunnel, server-sent
# events arrive one by one (never buffered whole), an
# Upgrade becomes a byte tunnel after the 101 (bytes both ways, half-close), -H and
# --response-header set headers, SIGHUP reopens a rotated access log, large length-framed
# bodies are spliced (whole, cut short, stalled, both directions).
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns curl python3
EDGE=$(realpath "$1")

netns_new ns st
bg "$ns" python3 "$here/lib/stream_backend.py" 19401
wait_for 10 tcp_listening "$ns" 19401 || fail "stream backend"
log=$(tmpfile access.log)
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19400 --to 127.0.0.1:19401 --threads 1 --access-log "$log" \
  -H 'X-Env: test' --response-header 'X-Served-By: edge'
RP=$BG_PID
wait_for 10 tcp_listening "$ns" 19400 || fail "edge rproxy: $(cat "$BG_LOG")"

# A 1 GiB chunked upload: every byte reaches the backend (it counts them), through a 64 KiB
# buffer, so the proxy's peak memory stays small.
out=$(head -c $((1 << 30)) /dev/zero | in_ns curl -s --max-time 120 -X POST -T - http://127.0.0.1:19400/count)
[ "$out" = "got $((1 << 30))" ] || fail "1 GiB upload: backend says '$out'"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$RP/status")
[ "$rss" -lt 32768 ] || fail "peak RSS ${rss} KiB for a 1 GiB upload"
pass "1 GiB chunked upload: every byte reached the backend; peak RSS ${rss} KiB"

# Length-framed bodies of 32 KiB and more move between plain sockets through a pipe with
# splice(2). A 5 MB upload arrives whole; the pipe then stays pooled (two more descriptors,
# and no more after a second body: it is reused). An upload cut short by the client is
# client_aborted.
pipes() { find "/proc/$1/fd" -lname 'pipe:*' | wc -l; }
pipes0=$(pipes "$RP")
upload=$(tmpfile upload.bin); head -c 5000000 /dev/urandom >"$upload"
out=$(in_ns curl -s --max-time 20 --data-binary @"$upload" http://127.0.0.1:19400/count)
[ "$out" = "got 5000000" ] || fail "5 MB length-framed upload: backend says '$out'"
in_ns curl -s --max-time 20 --data-binary @"$upload" http://127.0.0.1:19400/count >/dev/null
[ "$(pipes "$RP")" -eq $((pipes0 + 2)) ] || fail "spliced bodies: pipes $pipes0 -> $(pipes "$RP") (expected one pooled pipe)"
in_ns python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 19400), timeout=5)
s.sendall(b"POST /count HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n" + b"u" * 60000)
s.close()'
wait_for 5 grep -q '"POST /count HTTP/1.1" 0 .*cause=client_aborted@request_body' "$log" || fail "a spliced upload cut short: $(tail -1 "$log")"
pass "5 MB length-framed uploads spliced through one pooled pipe; one cut short is client_aborted"

# Spliced responses: whole; cut short by the backend (the client sees a truncated body, the
# log says so, the proxy serves on); stalled (closed after --idle-timeout).
for m in whole:19431 short:19432 stall:19433; do
  bg "$ns" python3 "$here/lib/bad_server.py" 127.0.0.1 "${m#*:}" "${m%%:*}"
  wait_for 10 tcp_listening "$ns" "${m#*:}" || fail "bad_server ${m%%:*}"
done
slog=$(tmpfile splice.log)
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19430 --to 127.0.0.1:19431 --threads 1 --access-log "$slog"
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19434 --to 127.0.0.1:19432 --threads 1 --access-log "$slog"
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19435 --to 127.0.0.1:19433 --threads 1 --access-log "$slog" --idle-timeout 1s
for p in 19430 19434 19435; do wait_for 10 tcp_listening "$ns" $p || fail "edge rproxy on $p"; done
out=$(in_ns curl -s --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' http://127.0.0.1:19430/whole)
[ "$out" = "200 100000" ] || fail "a 100000-byte response: $out"
rc=0; out=$(in_ns curl -s --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' http://127.0.0.1:19434/short) || rc=$?
[ "$rc" = 18 ] && [ "$out" = "200 40000" ] || fail "a response cut short at 40000 of 100000 bytes: curl $rc, $out"
wait_for 5 grep -q '"GET /short HTTP/1.1" 200 40000 .*cause=relay_partial_message@body' "$slog" || fail "cut short, logged: $(grep /short "$slog")"
out=$(in_ns curl -s --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' http://127.0.0.1:19430/again)
[ "$out" = "200 100000" ] || fail "serving after a cut-short body: $out"
start=$(date +%s%N)
rc=0; in_ns curl -s --max-time 10 -o /dev/null http://127.0.0.1:19435/stall || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 18 ] && [ "$ms" -lt 5000 ] || fail "a stalled spliced body: curl $rc after $ms ms"
pass "spliced responses: whole, cut short (curl 18, logged), stalled (closed after ${ms} ms)"

# A chunked response whose chunk headers arrive apart from their data is passed on whole
# (an empty read must never become a premature last chunk).
[ "$(in_ns curl -s --max-time 10 http://127.0.0.1:19400/split)" = "hello split world" ] || fail "chunks split across packets"
pass "chunk headers apart from their data: body intact"

# A real WebSocket (the websockets library at both ends): after the 101 the proxy is a tunnel
# that carries text, a 1 MiB binary message, ping/pong and the close handshake.
py=python3
python3 -c 'import websockets' 2>/dev/null || py=/usr/bin/python3  # Debian's python3-websockets
bg "$ns" "$py" "$here/lib/ws_echo.py" serve 19403
wait_for 10 tcp_listening "$ns" 19403 || fail "websocket echo server: $(cat "$BG_LOG")"
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19404 --to 127.0.0.1:19403 --threads 1
wait_for 10 tcp_listening "$ns" 19404 || fail "edge rproxy for websockets: $(cat "$BG_LOG")"
out=$(in_ns timeout 30 "$py" "$here/lib/ws_echo.py" check ws://127.0.0.1:19404/echo) || fail "websocket through the proxy: $out"
pass "$out"

# On one keepalive connection: a HEAD whose response says chunked ends with its head (no stray
# last chunk to desynchronise the next response), and an HTTP/1.0 client that asked for
# keep-alive is told so and can send its next request.
in_ns python3 - <<'PY' || fail "HEAD with chunked / HTTP/1.0 keep-alive"
import socket
s = socket.create_connection(("127.0.0.1", 19400), timeout=5)
def response(s, head_only=False):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096); assert chunk, data; data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    fields = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")[1:]}
    n = 0 if head_only else int(fields.get(b"content-length", b"0"))
    while len(rest) < n:
        chunk = s.recv(4096); assert chunk; rest += chunk
    assert len(rest) == n, (head, rest)
    return head.split(b"\r\n")[0], fields, rest
s.sendall(b"HEAD /split HTTP/1.1\r\nHost: a\r\n\r\n")
status, fields, rest = response(s, head_only=True)
assert status.startswith(b"HTTP/1.1 200") and fields.get(b"transfer-encoding") == b"chunked", (status, fields)
s.sendall(b"GET /headers HTTP/1.1\r\nHost: a\r\n\r\n")
status, fields, body = response(s)
assert status.startswith(b"HTTP/1.1 200") and b"host: a" in body, (status, body)
t = socket.create_connection(("127.0.0.1", 19400), timeout=5)
for i in range(2):
    t.sendall(b"GET /headers HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
    status, fields, body = response(t)
    assert status.startswith(b"HTTP/1.") and b" 200" in status and fields.get(b"connection", b"").lower() == b"keep-alive", (status, fields)
print("ok: HEAD with a chunked head ends cleanly; HTTP/1.0 keep-alive honoured")
PY

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

# Interim 103 responses are dropped (the final answer reaches the right client), and a body
# framed by the close ends the client's response promptly instead of hanging keep-alive.
out=$(in_ns curl -s --max-time 5 http://127.0.0.1:19400/early http://127.0.0.1:19400/early)
[ "$out" = "$(printf 'early\nearly')" ] || fail "103 + 200 through the proxy: '$out'"
start=$(date +%s%N)
out=$(in_ns curl -s --max-time 5 http://127.0.0.1:19400/close)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$out" = "until close" ] && [ "$ms" -lt 2000 ] || fail "close-framed body: '$out' in ${ms} ms"
pass "103 Early Hints dropped; close-framed body ends in ${ms} ms"

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

# edge conntrack --origin edge|all: the proxy's live flows, in the kernel's shape.
in_ns python3 - "$EDGE" "$RP" <<'PY' || fail "edge conntrack --origin edge"
import json, socket, subprocess, sys
edge, pid = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 19400), timeout=5)
s.sendall(b"GET /headers HTTP/1.1\r\nHost: a\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
port = s.getsockname()[1]
flows = json.loads(subprocess.run([edge, "conntrack", "--origin", "edge", "--json"], capture_output=True, check=True).stdout)
mine = [f for f in flows if f["orig"]["sport"] == port]
assert len(mine) == 1, flows
f = mine[0]
assert f["origin"] == f"edge:rproxy:{pid}", f
assert f["proto"] == "tcp" and f["state"] == "ESTABLISHED", f
assert f["orig"]["dst"] == "127.0.0.1" and f["orig"]["dport"] == 19400, f
assert f["reply"]["src"] == "127.0.0.1" and f["reply"]["sport"] == 19401, f
assert f["counters"]["reply"]["bytes"] > 0 and f["nat"] == ["snat", "dnat"], f
both = json.loads(subprocess.run([edge, "conntrack", "--origin", "all", "--json"], capture_output=True, check=True).stdout)
assert any(x["origin"] == f"edge:rproxy:{pid}" and x["orig"]["sport"] == port for x in both), both
table = subprocess.run([edge, "conntrack", "--origin", "edge"], capture_output=True, text=True, check=True).stdout
assert f"127.0.0.1:{port} -> 127.0.0.1:19400" in table, table
print(f"ok: flow {port} -> 19400 via backend 19401 listed with origin edge:rproxy:{pid}")
PY
sock=$(ls /run/edge/rproxy-"$RP".sock 2>/dev/null || ls /tmp/edge-"$(id -u)"/rproxy-"$RP".sock)
kill -TERM "$RP"; wait "$RP" || fail "exit $? on SIGTERM"
[ ! -e "$sock" ] || fail "the control socket $sock outlived the proxy"
pass "control socket removed on exit"
