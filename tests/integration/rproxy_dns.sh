#!/usr/bin/env bash
# `edge rproxy` follows DNS for backends given by name, inside a namespace of its own with a
# scripted DNS server (dns_server.py, answers with TTL 1 from a file the test rewrites):
#   - a name that does not resolve at start is a down backend (503), not a startup failure,
#     and comes up once it resolves;
#   - when the answer changes, requests (pooled connections included) move to the new address
#     within a few TTLs, although --health-interval is a minute: re-resolution follows the TTL.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nginx curl python3
source "$here/lib/nginx_fixture.sh"
EDGE=$(realpath "$1")

netns_new ns dns
# The namespace's resolver is its own DNS server on loopback: nothing is asked outside.
netns_etc "$ns" resolv.conf <<<$'nameserver 127.0.0.1\noptions timeout:1 attempts:1'
dyn=$(tmpfile dyn.addr)
: >"$dyn"
EDGE_T_DNS_DYN=$dyn bg "$ns" python3 "$here/lib/dns_server.py" 127.0.0.1 53
wait_for 10 udp_listening "$ns" 53 || fail "dns server: $(cat "$BG_LOG")"
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  server {
    listen 127.0.0.1:19801;
    location / { return 200 \"backend one\\n\"; }
  }
  server {
    listen 127.0.0.2:19801;
    location / { return 200 \"backend two\\n\"; }
  }"

bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19800 --to dyn.test:19801 --threads 1 --health-interval 60s
RP_LOG=$BG_LOG
wait_for 10 tcp_listening "$ns" 19800 || fail "edge rproxy: $(cat "$RP_LOG")"
grep -q "backend dyn.test:19801 does not resolve: it counts as down" "$RP_LOG" || fail "no warning for an unresolved backend: $(cat "$RP_LOG")"
out=$(in_ns curl -s -D - --max-time 5 http://127.0.0.1:19800/)
grep -q '^HTTP/1.1 503' <<<"$out" || fail "unresolved backend: $out"
pass "a backend name that does not resolve: edge starts, answers 503"

answer_is() { [ "$(in_ns curl -s --max-time 5 http://127.0.0.1:19800/)" = "$1" ]; }
echo 127.0.0.1 >"$dyn"
wait_for 6 answer_is "backend one" || fail "the name resolved but edge did not follow"
pass "the name resolves: requests reach 127.0.0.1"

# Keep a client connection busy so pooled backend connections exist, then move the name.
for i in $(seq 5); do answer_is "backend one" || fail "backend one"; done
echo 127.0.0.2 >"$dyn"
start=$(date +%s%N)
wait_for 8 answer_is "backend two" || fail "the answer changed (TTL 1) but requests still go to the old address"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
for i in $(seq 10); do answer_is "backend two" || fail "a request went to the old address after the move"; done
pass "the answer changed: requests followed within ${ms} ms (TTL 1 s, --health-interval 60s)"
