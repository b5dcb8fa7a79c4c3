#!/usr/bin/env bash
# `edge rproxy` in HTTP mode in front of real nginx backends, inside a namespace of its own:
# requests and bodies go through intact, forwarding headers are set (and client-sent ones
# dropped unless trusted), hop-by-hop headers go, backends share the load and are reused
# (keepalive), a dead backend is skipped with no failed request, errors are 502/503/504 with
# Proxy-Status, malformed or ambiguous requests get 400/431 while the proxy keeps serving,
# slow clients do not stop others, SIGTERM drains.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nginx curl python3 socat
source "$here/lib/nginx_fixture.sh"
EDGE=$(realpath "$1")

netns_new ns rp
echo_headers='return 200 "xff=$http_x_forwarded_for|rip=$http_x_real_ip|proto=$http_x_forwarded_proto|host=$http_x_forwarded_host|via=$http_via|conn=$http_connection|custom=$http_x_custom|ka=$http_keep_alive|server=$server_port\n";'
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  log_format conns '\$connection';
  server {
    listen 127.0.0.1:19101;
    access_log $(tmpfile b1.log) conns;
    client_max_body_size 0;
    location / { $echo_headers }
    location /upload { return 200 \"got \$content_length\\n\"; }
    location /healthz { return 200; }
  }
  server {
    listen 127.0.0.1:19102;
    access_log $(tmpfile b2.log) conns;
    location / { $echo_headers }
    location /healthz { return 503; }
  }"
B_PID=$NGINX_PID

start_rproxy() {  # start_rproxy ARGS...: edge rproxy on 127.0.0.1:19100, waits until it listens
  bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19100 "$@"
  RP_PID=$BG_PID RP_LOG=$BG_LOG
  wait_for 10 tcp_listening "$ns" 19100 || fail "edge rproxy did not start: $(cat "$BG_LOG")"
}
stop_rproxy() { kill -TERM "$RP_PID"; wait "$RP_PID" || fail "edge rproxy exited $? on SIGTERM"; }
get() { in_ns curl -s --max-time 10 "$@"; }

start_rproxy --to 127.0.0.1:19101 --to 127.0.0.1:19102 --threads 1 --access-log "$(tmpfile access.log)"

# Through, alternating between the backends, with the forwarding headers set.
out=$(get http://127.0.0.1:19100/a; get http://127.0.0.1:19100/b)
grep -q "server=19101" <<<"$out" && grep -q "server=19102" <<<"$out" || fail "round-robin: $out"
grep -qE "xff=127.0.0.1\|rip=127.0.0.1\|proto=http\|host=127.0.0.1:19100\|via=1.1 edge-[0-9a-f]{8}\|" <<<"$out" || fail "forwarding headers: $out"
pass "requests go through, round-robin, forwarding headers set"

# Client-sent forwarding headers are dropped: the peer is not trusted.
out=$(get -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Real-IP: 6.6.6.6' http://127.0.0.1:19100/)
grep -q "xff=127.0.0.1|rip=127.0.0.1|" <<<"$out" || fail "untrusted X-Forwarded-For kept: $out"
pass "untrusted X-Forwarded-For dropped"

# Hop-by-hop: Connection-named headers go, but Connection cannot remove forwarding headers.
out=$(get -H 'Connection: keep-alive, X-Custom' -H 'X-Custom: secret' -H 'Keep-Alive: timeout=5' http://127.0.0.1:19100/)
grep -q "custom=|ka=|" <<<"$out" || fail "hop-by-hop headers passed on: $out"
out=$(get -H 'Connection: X-Forwarded-For, X-Real-IP' http://127.0.0.1:19100/)
grep -q "xff=127.0.0.1|rip=127.0.0.1|" <<<"$out" || fail "Connection removed forwarding headers: $out"
pass "hop-by-hop headers removed; forwarding headers protected"

# The response carries Via; the access log names backend, timings and cause.
get -D - -o /dev/null http://127.0.0.1:19100/ | grep -qi '^Via: 1.1 edge' || fail "no Via on the response"
grep -qE '"GET /a HTTP/1.1" 200 [0-9]+ "-" "curl/[0-9.]+" backend=127.0.0.1:1910[12] connect_ms=[0-9.]+ first_byte_ms=[0-9.]+ total_ms=[0-9.]+ cause=keepalive' "$(tmpfile access.log)" \
  || fail "access log: $(head -3 "$(tmpfile access.log)")"
pass "Via and access log"

# Keepalive: 60 client connections, a handful of backend connections.
: >"$(tmpfile b1.log)"; : >"$(tmpfile b2.log)"
for i in $(seq 60); do get -o /dev/null http://127.0.0.1:19100/; done
n=$(cat "$(tmpfile b1.log)" "$(tmpfile b2.log)" | wc -l)
c=$(cat "$(tmpfile b1.log)" "$(tmpfile b2.log)" | sort -u | wc -l)
[ "$n" -eq 60 ] && [ "$c" -le 4 ] || fail "keepalive: $n requests over $c backend connections"
pass "keepalive: $n requests reached the backends over $c connections"

# Oversized heads: 431, and the proxy keeps serving (every other malformed or ambiguous head is
# in rproxy_hostile.sh's corpus).
raw_status() { local status _; read -r status _ < <(http_raw 19100 "$1"); echo "$status"; }
big=$(python3 -c 'print("X-Big: " + "a" * 70000)')
[ "$(raw_status "GET / HTTP/1.1\r\nHost: a\r\n$big\r\n\r\n")" = 431 ] || fail "a 70 KB header block is not 431"
many=$(python3 -c 'print("".join(f"X-H{i}: v\\r\\n" for i in range(120)))')
[ "$(raw_status "GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n")" = 431 ] || fail "120 header fields is not 431"
grep -q '"-" 431 0 "-" "-" backend=- cause=' "$(tmpfile access.log)" || fail "431s are not in the access log"
get -o /dev/null -w '%{http_code}' http://127.0.0.1:19100/ | grep -q 200 || fail "proxy stopped serving after an oversized head"
pass "oversized heads -> 431, serving throughout, each logged"

# Slow clients (headers trickled one byte a second) do not stop others.
in_ns python3 - <<'PY' &
import socket, time
socks = []
for i in range(500):
    s = socket.create_connection(("127.0.0.1", 19100)); s.send(b"G"); socks.append(s)
for _ in range(6):
    time.sleep(1)
    for s in socks:
        try: s.send(b"E")
        except OSError: pass
PY
slow=$!
sleep 1
start=$(date +%s%N)
for i in $(seq 20); do get -o /dev/null -w '%{http_code}\n' http://127.0.0.1:19100/ | grep -q 200 || fail "request failed beside slow clients"; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "20 requests took ${ms} ms beside 500 slow clients"
kill "$slow" 2>/dev/null; wait "$slow" 2>/dev/null || true
pass "20 requests in ${ms} ms beside 500 slowloris clients"
stop_rproxy
pass "SIGTERM: drained and exited 0"

# Failover: a backend that refuses is skipped; no request fails.
start_rproxy --to 127.0.0.1:19109 --to 127.0.0.1:19101 --threads 1
for i in $(seq 20); do get -o /dev/null -w '%{http_code}\n' http://127.0.0.1:19100/ | grep -q 200 || fail "request $i failed with one backend refusing"; done
pass "one backend refusing: 20 of 20 requests served"
stop_rproxy

# Errors with Proxy-Status: refused (502), no response (504). The only backend, ejected after
# three failures, is still tried (no 503 while it is down: nginx and HAProxy try their last
# server too); the ejection and the recovery are said on stderr and counted in --metrics, and
# the backend that comes up is served at the very next request, not 10 s later.
start_rproxy --to 127.0.0.1:19109 --threads 1 --metrics 127.0.0.1:19190
h=$(get -D - -o /dev/null http://127.0.0.1:19100/)
grep -q "^HTTP/1.1 502" <<<"$h" && grep -qi '^Proxy-Status: edge; error=connection_refused' <<<"$h" || fail "502: $h"
get -o /dev/null http://127.0.0.1:19100/; get -o /dev/null http://127.0.0.1:19100/
h=$(get -D - -o /dev/null http://127.0.0.1:19100/)
grep -q "^HTTP/1.1 502" <<<"$h" && grep -qi '^Proxy-Status: edge; error=connection_refused' <<<"$h" || fail "the ejected last backend was not tried: $h"
grep -q "backend 127.0.0.1:19109 ejected for 10s after 3 failures in a row (the last: connection_refused)" "$RP_LOG" || fail "no ejection line: $(cat "$RP_LOG")"
bg "$ns" python3 -m http.server --bind 127.0.0.1 19109
wait_for 10 tcp_listening "$ns" 19109 || fail "python backend"
code=$(get -o /dev/null -w '%{http_code}' http://127.0.0.1:19100/)
[ "$code" = 200 ] || fail "a backend that came back was not served at once: $code"
grep -q "backend 127.0.0.1:19109 is back" "$RP_LOG" || fail "no recovery line: $(cat "$RP_LOG")"
m=$(get http://127.0.0.1:19190/metrics)
grep -q 'edge_rproxy_backend_ejections_total{backend="127.0.0.1:19109"} 1' <<<"$m" && grep -q 'edge_rproxy_backend_recoveries_total{backend="127.0.0.1:19109"} 1' <<<"$m" \
  || fail "ejection metrics: $(grep backend_ <<<"$m")"
stop_rproxy
kill "$BG_PID"
bg "$ns" socat TCP-LISTEN:19108,bind=127.0.0.1,fork,reuseaddr SYSTEM:'sleep 30'
wait_for 10 tcp_listening "$ns" 19108 || fail "socat"
start_rproxy --to 127.0.0.1:19108 --threads 1 --backend-timeout 1s
h=$(get -D - -o /dev/null http://127.0.0.1:19100/)
grep -q "^HTTP/1.1 504" <<<"$h" && grep -qi '^Proxy-Status: edge; error=http_response_timeout' <<<"$h" || fail "504: $h"
stop_rproxy
pass "502 refused, 504 no response, each with Proxy-Status; the ejected last backend is still tried and served once it is back"

# Trusted peers keep their X-Forwarded-For, extended with the peer.
start_rproxy --to 127.0.0.1:19101 --trust-proxy 127.0.0.0/8
out=$(get -H 'X-Forwarded-For: 203.0.113.9' http://127.0.0.1:19100/)
grep -q "xff=203.0.113.9, 127.0.0.1|" <<<"$out" || fail "trusted X-Forwarded-For: $out"
stop_rproxy
pass "--trust-proxy keeps and extends X-Forwarded-For"

# Expect: 100-continue is answered by the proxy at once; a client that stalls mid-body costs
# the backend nothing (three such clients do not eject it).
start_rproxy --to 127.0.0.1:19101 --idle-timeout 1s --threads 1
start=$(date +%s%N)
out=$(head -c 100000 /dev/zero | in_ns curl -s --max-time 10 -H 'Expect: 100-continue' --data-binary @- http://127.0.0.1:19100/upload)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$out" = "got 100000" ] && [ "$ms" -lt 700 ] || fail "Expect: 100-continue upload: '$out' in ${ms} ms"
for i in 1 2 3; do
  in_ns python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 19100), timeout=5)
s.sendall(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
assert s.recv(100) == b""  # closed after the idle timeout, without a response
' || fail "a stalled upload was answered"
done
get -o /dev/null -w '%{http_code}' http://127.0.0.1:19100/ | grep -q 200 || fail "backend ejected after clients stalled"
stop_rproxy
pass "100-continue answered at once (${ms} ms); stalled uploads do not eject the backend"

# Active health: the backend whose /healthz answers 503 gets no traffic.
start_rproxy --to 127.0.0.1:19101 --to 127.0.0.1:19102 --health /healthz --health-interval 200ms --threads 1
sleep 0.6
out=$(for i in $(seq 10); do get http://127.0.0.1:19100/; done)
[ "$(grep -c "server=19101" <<<"$out")" -eq 10 ] || fail "a backend failing its health check got traffic: $out"
grep -q "backend 127.0.0.1:19102 is down (health check)" "$BG_LOG" || fail "the ejection was not reported: $(cat "$BG_LOG")"
stop_rproxy
pass "--health: a backend answering 503 to /healthz is out of the pool"
