#!/usr/bin/env bash
# Hostile input to `edge rproxy` (tests/integration/corpus/rproxy_hostile.txt): each request
# gets the answer the corpus names within a second, a refused one never reaches the backend,
# edge refuses whatever nginx (in front of the same backend) refuses, and the proxy serves on.
# Then: absolute-form targets reach the backend in origin-form with the target's Host; a body
# whose chunk size breaks after the head went out closes the backend connection and is blamed
# on the request; a loop back to the proxy is 508; a port another program holds with
# SO_REUSEPORT refuses to start; -H values are held to header byte rules.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nginx curl python3
source "$here/lib/nginx_fixture.sh"
EDGE=$(realpath "$1")

netns_new ns hostile
BACKEND_LOG=$(tmpfile backend.log)
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  log_format seen '\$request|\$http_host';
  server {
    listen 127.0.0.1:19301;
    access_log $BACKEND_LOG seen;
    location / { return 200 \"host=\$http_host uri=\$request_uri\\n\"; }
  }
  server {
    listen 127.0.0.1:19302;
    location / { proxy_pass http://127.0.0.1:19301; proxy_set_header Host \$http_host; }
  }"

bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19300 --to 127.0.0.1:19301 --threads 1 --access-log "$(tmpfile access.log)"
RP_PID=$BG_PID RP_LOG=$BG_LOG
wait_for 10 tcp_listening "$ns" 19300 || fail "edge rproxy did not start: $(cat "$RP_LOG")"

cases=0
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  want=${line%%|*} req=${line#*|}
  before=$(wc -l <"$BACKEND_LOG")
  read -r got ms < <(http_raw 19300 "$req")
  after=$(wc -l <"$BACKEND_LOG")
  # nginx logs a request after its response has gone: a passed request's line may lag a little.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ "$want" = pass ] && [ "$after" -eq "$before" ] || break
    sleep 0.1
    after=$(wc -l <"$BACKEND_LOG")
  done
  if [ "$want" = pass ]; then
    [ "$got" = 200 ] && [ "$after" -gt "$before" ] || fail "$(printf %q "$req"): wanted it passed, got $got (backend saw $((after - before)))"
  else
    [ "$got" = "$want" ] || fail "$(printf %q "$req"): answered $got, wanted $want"
    [ "$ms" -lt 1000 ] || fail "$(printf %q "$req"): answered after ${ms} ms (should be at once)"
    [ "$after" -eq "$before" ] || fail "$(printf %q "$req"): reached the backend: $(tail -1 "$BACKEND_LOG")"
    # Differential: what nginx refuses, edge must refuse too (asserted on the passing cases
    # below); here, nginx's answer is shown beside edge's for the record.
    read -r ngx _ < <(http_raw 19302 "$req")
    echo "  edge $got  nginx $ngx  $(printf %q "$req" | cut -c1-70)"
  fi
  if [ "$want" = pass ]; then
    read -r ngx _ < <(http_raw 19302 "$req")
    [ "$ngx" = 200 ] || fail "$(printf %q "$req"): edge passes what nginx refuses ($ngx)"
  fi
  in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19300/ok | grep -q 200 || fail "proxy stopped serving after $(printf %q "$req")"
  cases=$((cases + 1))
done <"$here/corpus/rproxy_hostile.txt"
grep -q 'cause=bad_host@header' "$(tmpfile access.log)" && grep -q 'cause=ambiguous_framing@header' "$(tmpfile access.log)" && grep -q 'cause=connect_refused@header' "$(tmpfile access.log)" \
  && grep -q 'cause=tls_to_plain_port@header' "$(tmpfile access.log)" && grep -q 'cause=bad_body@header' "$(tmpfile access.log)" \
  || fail "refusals are not logged with their causes: $(grep -o 'cause=[^ ]*' "$(tmpfile access.log)" | sort | uniq -c)"
pass "$cases hostile requests: each answered as the corpus says, at once, none reached the backend when refused; serving throughout"

# Absolute-form: the target's authority wins over Host; the backend sees origin-form.
read -r got _ < <(http_raw 19300 'GET http://other.example:8080/x?y=1 HTTP/1.1\r\nHost: good\r\nConnection: close\r\n\r\n')
[ "$got" = 200 ] || fail "absolute-form: $got"
[ "$(tail -1 "$BACKEND_LOG")" = "GET /x?y=1 HTTP/1.1|other.example:8080" ] || fail "absolute-form reached the backend as: $(tail -1 "$BACKEND_LOG")"
# Repeated identical Content-Length lines go on as one.
out=$(in_ns python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 19300), timeout=5)
s.sendall(b"POST /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
print(s.recv(100).split(b"\r\n")[0].decode())')
[[ $out == "HTTP/1.1 200 "* ]] || fail "repeated Content-Length 5: $out"
pass "absolute-form reaches the backend as origin-form with the target's Host; repeated Content-Length merged"

# A chunk size that breaks after the head went to the backend: 400 to the client, the backend
# connection closed (not pooled), the access log blames the request.
out=$(in_ns python3 -c '
import socket, time
s = socket.create_connection(("127.0.0.1", 19300), timeout=5)
s.sendall(b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
time.sleep(0.3)
s.sendall(b"zz\r\nmore\r\n0\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())')
[[ $out == "HTTP/1.1 400 "* ]] || fail "a bad chunk after the head: $out"
grep -q 'cause=bad_body@request_body' "$(tmpfile access.log)" || fail "bad chunk not blamed on the request: $(tail -2 "$(tmpfile access.log)")"
in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19300/ok | grep -q 200 || fail "serving after a bad chunk"
pass "a bad chunk after the head: 400, blamed on the request body"

# A client that closes mid-body left; it did not send a malformed request.
in_ns python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 19300), timeout=5)
s.sendall(b"POST /short HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
s.close()'
wait_for 5 grep -q '"POST /short HTTP/1.1" 0 .*cause=client_aborted@request_body' "$(tmpfile access.log)" \
  || fail "a body cut short by the client: $(grep /short "$(tmpfile access.log)")"
pass "a body cut short by the client's close is client_aborted, not a bad request"

# Loops: --to pointing at the proxy itself, and at it through a second edge.
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19310 --to 127.0.0.1:19310 --threads 1
wait_for 10 tcp_listening "$ns" 19310 || fail "looping edge did not start"
h=$(in_ns curl -s -D - -o /dev/null --max-time 5 http://127.0.0.1:19310/)
grep -q '^HTTP/1.1 508' <<<"$h" && grep -qi '^Proxy-Status: edge; error=proxy_loop_detected' <<<"$h" || fail "self loop: $h"
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19311 --to 127.0.0.1:19312 --threads 1
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19312 --to 127.0.0.1:19311 --threads 1
wait_for 10 tcp_listening "$ns" 19312 || fail "second edge did not start"
wait_for 10 tcp_listening "$ns" 19311 || fail "first edge did not start"
h=$(in_ns curl -s -D - -o /dev/null --max-time 5 http://127.0.0.1:19311/)
grep -q '^HTTP/1.1 508' <<<"$h" || fail "loop through a second edge: $h"
# A chain of two different edges is no loop.
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19313 --to 127.0.0.1:19300 --threads 1
wait_for 10 tcp_listening "$ns" 19313 || fail "chained edge did not start"
in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:19313/ok | grep -q 200 || fail "a chain of two edges was taken for a loop"
pass "loops answered 508 at the first repeat (directly and through another edge); chains of edges pass"

# A port another program holds with SO_REUSEPORT: edge refuses to start and names it.
bg "$ns" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 19320)); s.listen(); time.sleep(60)'
HOLDER=$BG_PID
wait_for 10 tcp_listening "$ns" 19320 || fail "holder did not listen"
set +e
err=$(in_ns timeout 5 "$EDGE" rproxy --listen 127.0.0.1:19320 --to 127.0.0.1:19301 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "already in use by pid $HOLDER (python3)" <<<"$err" || fail "a port held with SO_REUSEPORT: exit $rc: $err"
pass "a port held by another program (SO_REUSEPORT) refuses to start: $err"

# -H / --response-header values: the byte rules of a client's headers.
for bad in $'X-A: a\x01b' $'X-A: a\x1b]0;t\x07' 'X A: b' 'Content-Length: 5'; do
  set +e
  err=$("$EDGE" rproxy --listen 127.0.0.1:19330 --to 127.0.0.1:19301 -H "$bad" 2>&1)
  rc=$?
  set -e
  [ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q -- '--header' <<<"$err" || fail "-H $(printf %q "$bad"): exit $rc: $err"
done
pass "-H values held to header byte rules (exit 2, one line)"
