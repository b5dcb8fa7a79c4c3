#!/usr/bin/env bash
# `edge rproxy` and TLS, inside a namespace of its own, against real peers: curl and openssl
# s_client as clients, nginx as an https backend with certificates from make_certs.sh.
#   - terminating TLS with a PEM chain (curl verifies it against the test CA) and with
#     --tls-auto (the fingerprint printed at start is the certificate served);
#   - X-Forwarded-Proto is https; plain HTTP to the TLS port gets a plain 400;
#   - --upstream-tls: SNI is the backend's name, verification on by default (expired, wrong
#     name and unknown CA each a 502 with Proxy-Status error=tls_certificate_error),
#     --upstream-ca, --upstream-insecure;
#   - --mode tcp with TLS termination; bad TLS flags are usage errors (exit 2) before start.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nginx curl openssl python3
source "$here/lib/nginx_fixture.sh"
EDGE=$(realpath "$1")

netns_new ns tls
certs_make
# The backends' name resolves from /etc/hosts inside the namespace only, and the namespace's
# resolver points at its own loopback: nothing is ever asked outside.
netns_etc "$ns" hosts <<<$'127.0.0.1 localhost\n127.0.0.1 www.test'
netns_etc "$ns" resolv.conf <<<$'nameserver 127.0.0.1\noptions timeout:1 attempts:1'

tls_backend() {  # tls_backend PORT CERTNAME: https, answers with the SNI it was sent
  cat <<CONF
  server {
    listen 127.0.0.1:$1 ssl;
    ssl_certificate $CERTS/$2.pem;
    ssl_certificate_key $CERTS/$2.key;
    location / { default_type text/plain; return 200 "tls backend sni=\$ssl_server_name proto=\$http_x_forwarded_proto\n"; }
  }
CONF
}
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  server {
    listen 127.0.0.1:19201;
    location / { return 200 \"plain backend proto=\$http_x_forwarded_proto\\n\"; }
  }
$(tls_backend 19211 good)$(tls_backend 19212 expired)$(tls_backend 19213 wrongname)$(tls_backend 19214 selfsigned)"

RP_PORT=19200
start_rproxy() {  # start_rproxy ARGS...: edge rproxy on 127.0.0.1:$RP_PORT, waits until it listens
  bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:$RP_PORT --threads 1 "$@"
  RP_PID=$BG_PID RP_LOG=$BG_LOG
  wait_for 10 tcp_listening "$ns" $RP_PORT || fail "edge rproxy did not start: $(cat "$BG_LOG")"
}
stop_rproxy() { kill -TERM "$RP_PID"; wait "$RP_PID" || fail "edge rproxy exited $? on SIGTERM"; }
get() { in_ns curl -s --max-time 10 "$@"; }

# Terminating TLS with a PEM chain: curl verifies it (the intermediate is served) by name.
start_rproxy --tls-cert "$CERTS/good.pem" --tls-key "$CERTS/good.key" --to 127.0.0.1:19201 --access-log "$(tmpfile access.log)"
out=$(get --cacert "$CERTS/ca.pem" --resolve www.test:$RP_PORT:127.0.0.1 https://www.test:$RP_PORT/)
[ "$out" = "plain backend proto=https" ] || fail "TLS with --tls-cert: '$out' $(cat "$RP_LOG")"
alpn=$(in_ns openssl s_client -connect 127.0.0.1:$RP_PORT -alpn h2,http/1.1 </dev/null 2>/dev/null | grep -i '^ALPN')
[[ $alpn == *"http/1.1"* ]] || fail "ALPN: '$alpn'"
pass "--tls-cert/--tls-key: chain verified by curl, ALPN http/1.1, X-Forwarded-Proto https"

# Plain HTTP to the TLS port: a plain 400 saying so, and the proxy serves on.
out=$(get -D - http://127.0.0.1:$RP_PORT/)
grep -q '^HTTP/1.1 400' <<<"$out" && grep -q 'plain HTTP' <<<"$out" || fail "plain HTTP to the TLS port: $out"
grep -q 'plain_http_to_tls_port@handshake' "$(tmpfile access.log)" || fail "access log: $(cat "$(tmpfile access.log)")"
# A client that refuses the certificate (no CA given) fails its handshake; others go on.
get https://127.0.0.1:$RP_PORT/ >/dev/null && fail "curl accepted a certificate from an unknown CA"
out=$(get --cacert "$CERTS/ca.pem" --resolve www.test:$RP_PORT:127.0.0.1 https://www.test:$RP_PORT/)
[ "$out" = "plain backend proto=https" ] || fail "serving after failed handshakes: '$out'"
pass "plain HTTP to the TLS port answered 400; failed handshakes logged, serving goes on"
stop_rproxy

# A body framed by the connection's close ends with TLS close_notify: curl (OpenSSL 3) takes a
# bare TCP close for a truncation.
bg "$ns" python3 "$here/lib/stream_backend.py" 19221
wait_for 10 tcp_listening "$ns" 19221 || fail "stream backend"
RP_PORT=19222 start_rproxy --tls-auto --to 127.0.0.1:19221
out=$(in_ns curl -sk --max-time 10 https://127.0.0.1:19222/close) || fail "close-framed body over TLS: curl exit $?"
[ "$out" = "until close" ] || fail "close-framed body over TLS: '$out'"
stop_rproxy
pass "a close-framed body over TLS ends with close_notify (curl exit 0)"

# --tls-auto: the fingerprint printed at start is the certificate served, valid for 127.0.0.1.
start_rproxy --tls-auto --to 127.0.0.1:19201
printed=$(sed -n 's/.*SHA-256 fingerprint \([0-9A-F:]*\).*/\1/p' "$RP_LOG")
served=$(in_ns openssl s_client -connect 127.0.0.1:$RP_PORT </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
[ -n "$printed" ] && [ "$printed" = "$served" ] || fail "--tls-auto fingerprint: printed '$printed', served '$served'"
in_ns openssl s_client -connect 127.0.0.1:$RP_PORT </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' \
  || fail "--tls-auto certificate lacks IP:127.0.0.1"
in_ns openssl s_client -connect 127.0.0.1:$RP_PORT </dev/null 2>/dev/null | openssl x509 >"$(tmpfile auto.pem)"
out=$(get --cacert "$(tmpfile auto.pem)" https://127.0.0.1:$RP_PORT/)  # pinned: verified as its own CA
[ "$out" = "plain backend proto=https" ] || fail "--tls-auto request: '$out'"
pass "--tls-auto: printed fingerprint $printed is the served certificate"
# An idle TLS keepalive connection does not hold up SIGTERM (default --drain 10s).
in_ns python3 - "$RP_PORT" <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"); s.recv(4096)
time.sleep(15)
PY
idler=$!
sleep 1
start=$(date +%s%N)
stop_rproxy
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill "$idler" 2>/dev/null; wait "$idler" 2>/dev/null || true
[ "$ms" -lt 2000 ] || fail "SIGTERM with an idle TLS keepalive connection took ${ms} ms"
pass "SIGTERM with an idle TLS keepalive connection: exited in ${ms} ms"

# --upstream-tls: SNI is the backend's name; verification with --upstream-ca.
start_rproxy --to www.test:19211 --upstream-tls --upstream-ca "$CERTS/ca.pem"
out=$(get http://127.0.0.1:$RP_PORT/)
[ "$out" = "tls backend sni=www.test proto=http" ] || fail "--upstream-tls: '$out' $(cat "$RP_LOG")"
pass "--upstream-tls: SNI www.test, chain verified with --upstream-ca"
stop_rproxy

# Verification failures: each a 502 naming the certificate problem; the proxy serves on.
for case in 19212:expired 19213:"Hostname mismatch" 19214:"self-signed"; do
  start_rproxy --to www.test:${case%%:*} --upstream-tls --upstream-ca "$CERTS/ca.pem"
  out=$(get -D - http://127.0.0.1:$RP_PORT/)
  grep -q '^HTTP/1.1 502' <<<"$out" && grep -q 'Proxy-Status: edge; error=tls_certificate_error' <<<"$out" \
    && grep -qi "${case#*:}" <<<"$out" || fail "backend cert ${case#*:}: $out"
  stop_rproxy
done
# The system store does not know the test CA: verification is on by default.
start_rproxy --to www.test:19211 --upstream-tls
get -D - http://127.0.0.1:$RP_PORT/ | grep -q 'error=tls_certificate_error' || fail "unknown CA accepted by default"
stop_rproxy
start_rproxy --to www.test:19214 --upstream-tls --upstream-insecure
[ "$(get http://127.0.0.1:$RP_PORT/)" = "tls backend sni=www.test proto=http" ] || fail "--upstream-insecure"
stop_rproxy
pass "backend certificates verified: expired, wrong name, self-signed, unknown CA -> 502 tls_certificate_error; --upstream-insecure skips"

# TLS termination in --mode tcp, to a plain HTTP backend.
start_rproxy --mode tcp --tls-auto --to 127.0.0.1:19201
[ "$(get -k https://127.0.0.1:$RP_PORT/)" = "plain backend proto=" ] || fail "--mode tcp with --tls-auto"
stop_rproxy
pass "--mode tcp terminates TLS"

# Bad TLS flags: exit 2, one line naming the flag, nothing started.
expect_usage() {  # expect_usage PATTERN ARGS...
  local pattern=$1; shift
  set +e
  err=$(in_ns "$EDGE" rproxy --listen 127.0.0.1:$RP_PORT --to 127.0.0.1:19201 "$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  [ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q -- "$pattern" <<<"$err" || fail "rproxy $* -> exit $rc: $err"
  tcp_listening "$ns" $RP_PORT && fail "rproxy $* left a listener"
  return 0
}
expect_usage "--tls-cert $(tmpfile none.pem): cannot read" --tls-cert "$(tmpfile none.pem)" --tls-key "$CERTS/good.key"
expect_usage "--tls-key .*does not match" --tls-cert "$CERTS/good.pem" --tls-key "$CERTS/expired.key"
echo "not a certificate" >"$(tmpfile junk.pem)"
expect_usage "--tls-cert .*not a PEM" --tls-cert "$(tmpfile junk.pem)" --tls-key "$CERTS/good.key"
expect_usage "--tls-cert.*needs --tls-key" --tls-cert "$CERTS/good.pem"
expect_usage "--tls-auto: cannot be used with --tls-cert" --tls-auto --tls-cert "$CERTS/good.pem" --tls-key "$CERTS/good.key"
expect_usage "--upstream-ca.*needs --upstream-tls" --upstream-ca "$CERTS/ca.pem"
pass "bad TLS flags: exit 2 with one line naming the flag"
