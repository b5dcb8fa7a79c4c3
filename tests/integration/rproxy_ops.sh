#!/usr/bin/env bash
# `edge rproxy` in operation, inside a namespace of its own, with real nginx backends and wrk:
#   - failover: one of two backends is killed (SIGKILL) in the middle of a wrk run, and not
#     one GET fails; the dead backend is reported down;
#   - --metrics serves Prometheus text on loopback whose counters match what was sent;
#   - --log-format json writes one JSON object per request with the documented keys;
#   - idle connections (parked between requests) serve their next request, are listed by
#     `edge conntrack --origin edge`, time out, and are closed at once by SIGTERM.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nginx curl wrk python3
source "$here/lib/nginx_fixture.sh"
EDGE=$(realpath "$1")

netns_new ns ops
backend() {  # backend PORT: an nginx of its own (so it can be killed alone) answering its port
  NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  server {
    listen 127.0.0.1:$1;
    keepalive_requests 1000000;
    location / { return 200 \"backend $1\\n\"; }
  }"
}
backend 19701; B1=$NGINX_PID
backend 19702; B2=$NGINX_PID
log=$(tmpfile access.json)
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19700 --to 127.0.0.1:19701 --to 127.0.0.1:19702 --threads 2 \
  --metrics 19790 --access-log "$log" --log-format json
RP=$BG_PID
wait_for 10 tcp_listening "$ns" 19700 || fail "edge rproxy: $(cat "$BG_LOG")"
wait_for 10 tcp_listening "$ns" 19790 || fail "metrics listener: $(cat "$BG_LOG")"
metric() {  # metric 'NAME{LABELS}': its value now
  in_ns curl -s --max-time 5 http://127.0.0.1:19790/metrics | awk -v k="$1" '$1 == k {print $2}'
}

# --metrics: loopback only for a bare port; counters equal what went through.
[[ $(in_ns ss -Hltn "sport = :19790") == *"127.0.0.1:19790"* ]] || fail "metrics not bound to loopback: $(in_ns ss -Hltn "sport = :19790")"
for i in $(seq 10); do in_ns curl -s -o /dev/null http://127.0.0.1:19700/; done
in_ns curl -s -o /dev/null http://127.0.0.1:19700/ -H 'Transfer-Encoding: chunked' -H 'Content-Length: 3'  # a 400
ok1=$(metric 'edge_rproxy_requests_total{backend="127.0.0.1:19701",code="2xx"}')
ok2=$(metric 'edge_rproxy_requests_total{backend="127.0.0.1:19702",code="2xx"}')
bad=$(metric 'edge_rproxy_requests_total{backend="-",code="4xx"}')
[ "$ok1" = 5 ] && [ "$ok2" = 5 ] && [ "$bad" = 1 ] || fail "requests_total: $ok1 + $ok2 2xx, $bad 4xx (wanted 5 + 5, 1)"
[ "$(metric 'edge_rproxy_request_duration_seconds_count')" = 11 ] || fail "histogram count"
[ "$(metric 'edge_rproxy_request_duration_seconds_bucket{le="+Inf"}')" = 11 ] || fail "histogram +Inf bucket"
[ "$(metric 'edge_rproxy_connections_total')" = 11 ] || fail "connections_total"
[ "$(metric 'edge_rproxy_backend_up{backend="127.0.0.1:19701"}')" = 1 ] || fail "backend_up"
in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19790/other | grep -q 404 || fail "metrics: /other is not 404"
pass "--metrics: Prometheus text on 127.0.0.1 only; requests, histogram, connections and health as sent"

# --log-format json: one parseable object per request, with the documented keys.
python3 - "$log" <<'PY' || fail "json access log: $(head -3 "$log")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 11, len(lines)
recs = [json.loads(l) for l in lines]
keys = {"time", "client", "method", "target", "version", "status", "bytes", "user_agent", "backend", "connect_ms", "first_byte_ms", "total_ms", "cause"}
for r in recs:
    assert keys <= r.keys(), r.keys()
ok = [r for r in recs if r["status"] == 200]
assert len(ok) == 10 and all(r["method"] == "GET" and r["target"] == "/" and r["backend"].startswith("127.0.0.1:1970") for r in ok), ok[0]
assert all(r["user_agent"].startswith("curl/") and r["cause"] == "keepalive" and r["total_ms"] >= r["first_byte_ms"] >= 0 for r in ok)
bad = [r for r in recs if r["status"] == 400]
assert len(bad) == 1 and bad[0]["method"] is None and bad[0]["cause"].endswith("@header"), bad
print("ok: json access log: 11 records, all keys")
PY

# Failover: wrk keeps 20 connections busy; 2 s in, one backend is killed outright. Every GET
# must still succeed (requests in flight on the dead one are sent again to the other).
in_ns wrk -t2 -c20 -d6s http://127.0.0.1:19700/ >"$(tmpfile wrk.out)" &
wrk_pid=$!
sleep 2
kill -9 "$B1"; wait "$B1" 2>/dev/null || true
wait "$wrk_pid" || fail "wrk: $(cat "$(tmpfile wrk.out)")"
out=$(cat "$(tmpfile wrk.out)")
total=$(awk '/requests in/ {print $1}' <<<"$out")
grep -q "Non-2xx\|Socket errors" <<<"$out" && fail "failed requests while a backend died: $out"
[ "${total:-0}" -gt 1000 ] || fail "wrk made only ${total:-0} requests: $out"
fivexx=$(( $(metric 'edge_rproxy_requests_total{backend="127.0.0.1:19701",code="5xx"}') + $(metric 'edge_rproxy_requests_total{backend="127.0.0.1:19702",code="5xx"}') + $(metric 'edge_rproxy_requests_total{backend="-",code="5xx"}') ))
[ "$fivexx" = 0 ] || fail "$fivexx 5xx responses while a backend died"
[ "$(metric 'edge_rproxy_backend_up{backend="127.0.0.1:19701"}')" = 0 ] || fail "the dead backend is not reported down"
after=$(metric 'edge_rproxy_requests_total{backend="127.0.0.1:19702",code="2xx"}')
pass "failover: backend killed mid-load, $total GETs, none failed; dead backend down in metrics ($after served by the survivor)"

# Idle connections: parked between requests, they still serve the next request on the same
# connection, are listed by `edge conntrack --origin edge`, time out on --keepalive-timeout,
# and SIGTERM closes them at once instead of waiting for --drain.
backend 19703
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19710 --to 127.0.0.1:19703 --threads 1 --keepalive-timeout 2s --drain 20s
RP2=$BG_PID
wait_for 10 tcp_listening "$ns" 19710 || fail "edge rproxy: $(cat "$BG_LOG")"
in_ns python3 - "$EDGE" <<'PY' || fail "parked connections"
import json, socket, subprocess, sys, time
def request(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    data = b""
    while not data.endswith(b"backend 19703\n"):
        chunk = s.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data
s = socket.create_connection(("127.0.0.1", 19710), timeout=5)
silent = socket.create_connection(("127.0.0.1", 19710), timeout=5)  # never sends a byte
request(s)
time.sleep(0.5)  # long past the grace: both connections are parked now
flows = json.loads(subprocess.run([sys.argv[1], "conntrack", "--origin", "edge", "--json"], capture_output=True, check=True).stdout)
ports = {f["orig"]["sport"] for f in flows if f["orig"]["dport"] == 19710}
assert {s.getsockname()[1], silent.getsockname()[1]} <= ports, (ports, flows)
request(s)  # the same connection, back from the parked set
time.sleep(0.5)
request(s)
start = time.time()
assert s.recv(1) == b"", "still open after --keepalive-timeout"
waited = time.time() - start
assert 1.0 < waited < 3.5, f"closed {waited:.1f}s after the last request (--keepalive-timeout 2s)"
print(f"ok: parked connection served 3 requests, listed by conntrack --origin edge, closed {waited:.1f}s after its last")
PY
in_ns python3 - <<'PY' &
import socket, time
socks = [socket.create_connection(("127.0.0.1", 19710)) for _ in range(50)]
for s in socks[:25]:
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"); s.recv(4096)
time.sleep(10)
PY
idlers=$!
sleep 1
start=$(date +%s%N)
kill -TERM "$RP2"
wait "$RP2" || fail "edge rproxy exited $? on SIGTERM"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill "$idlers" 2>/dev/null; wait "$idlers" 2>/dev/null || true
[ "$ms" -lt 2000 ] || fail "SIGTERM with 50 idle keepalive connections took ${ms} ms (--drain 20s)"
pass "SIGTERM with 50 idle keepalive connections: exited in ${ms} ms"
