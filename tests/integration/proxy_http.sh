#!/usr/bin/env bash
# `edge proxy` against real clients and a real origin, inside a namespace of its own:
#   - curl (-x http://, CONNECT to a TLS origin with --cacert, --socks5-hostname, --socks5,
#     --proxy-user), Python's urllib with a proxy, wget, and Python's http.client tunnel;
#   - keepalive on both sides, Via with the process's token, bodies both ways (1 MiB upload);
#   - the egress table: each default-denied range (loopback in four spellings, metadata,
#     RFC 1918, ULA, link-local), a name resolving to loopback, CONNECT to port 22, plain HTTP
#     to port 22, a name resolving to both a denied and an allowed address; each answered
#     403 (or SOCKS reply 2) naming its rule, and logged with it;
#   - allowlist mode (--allow-domain .allowed.test, --allow-dst), --deny-domain over an allow;
#   - who may use it: a non-loopback client is refused (rule source) unless --allow-src or
#     --auth; --auth gives 407 with Proxy-Authenticate, SOCKS5 method 2, 0xFF without it;
#     a non-loopback --listen without a guard refuses to start (exit 2);
#   - malformed requests (CONNECT without port, origin-form, oversized head, SOCKS4, a bad
#     SOCKS5 version) get their error, and the proxy keeps serving;
#   - --parent: through a second edge proxy (HTTP with credentials, and SOCKS5) and through
#     tinyproxy with BasicAuth; --no-parent-for goes direct; the egress rules still apply;
#   - edge trace through edge proxy (http:// and socks5h://), and edge conntrack --origin edge.
# The origin's public-looking addresses (203.0.113.10, 2001:db8::10; documentation ranges,
# not denied by default) and the private ones live on the namespace's loopback interface.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nginx curl wget python3 openssl tinyproxy
source "$here/lib/nginx_fixture.sh"
source "$here/lib/tinyproxy_fixture.sh"
EDGE=$(realpath "$1")

netns_new ns proxy
for a in 203.0.113.10/32 10.20.0.5/32 10.30.0.2/32; do ip -n "$ns" addr add "$a" dev lo; done
ip -n "$ns" addr add 2001:db8::10/128 dev lo
certs_make
netns_etc "$ns" hosts <<'HOSTS'
127.0.0.1 localhost
203.0.113.10 www.test a.allowed.test allowed.test other.test evil.allowed.test
127.0.0.1 loop.test
10.20.0.5 priv.test
127.0.0.1 mixed.test
203.0.113.10 mixed.test
HOSTS
netns_etc "$ns" resolv.conf <<<$'nameserver 127.0.0.1\noptions timeout:1 attempts:1'

origin() {  # origin ADDR: an http origin on ADDR:80 and ADDR:8080 that says what it got
  cat <<CONF
  server {
    listen $1:80;
    listen $1:8080;
    location / { default_type text/plain; return 200 "origin \$server_addr host=\$host via=\$http_via auth=\$http_proxy_authorization conn=\$connection\n"; }
    location /upload { client_max_body_size 10m; proxy_pass http://127.0.0.1:19380/sink; }
  }
CONF
}
NGINX_ADDRS=203.0.113.10 nginx_start "$ns" "
$(origin 203.0.113.10)$(origin '[2001:db8::10]')$(origin 10.20.0.5)$(origin 127.0.0.1)
  server { listen 127.0.0.1:19380; location /sink { client_max_body_size 10m; return 200 \"got \$content_length\\n\"; } }
  server {
    listen 203.0.113.10:443 ssl;
    ssl_certificate $CERTS/good.pem;
    ssl_certificate_key $CERTS/good.key;
    location / { default_type text/plain; return 200 \"tls origin sni=\$ssl_server_name\\n\"; }
  }"

PORT=3128
PROXY=http://127.0.0.1:$PORT
start_proxy() {  # start_proxy ARGS...: edge proxy on 127.0.0.1:$PORT (unless ARGS name --listen)
  local listen=(--listen 127.0.0.1:$PORT)
  [[ " $* " == *" --listen "* ]] && listen=()
  bg "$ns" "$EDGE" proxy "${listen[@]}" --threads 1 --access-log "$(tmpfile access.log)" "$@"
  P_PID=$BG_PID P_LOG=$BG_LOG
  wait_for 10 tcp_listening "$ns" $PORT || fail "edge proxy did not start: $(cat "$BG_LOG")"
}
stop_proxy() { kill -TERM "$P_PID"; wait "$P_PID" || fail "edge proxy exited $? on SIGTERM: $(cat "$P_LOG")"; : >"$(tmpfile access.log)"; }
pcurl() { in_ns curl -s --max-time 10 -x "$PROXY" "$@"; }
status() { in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 10 -x "$PROXY" "$@"; }
log_has() { grep -q -- "$1" "$(tmpfile access.log)"; }
last_log_has() { tail -n 1 "$(tmpfile access.log)" | grep -q -- "$1"; }

# ---- Healthy paths, default policy -----------------------------------------------------------
start_proxy --metrics 19490
grep -q "listening on 127.0.0.1:$PORT (http, connect, socks5)" "$P_LOG" || fail "start line: $(cat "$P_LOG")"
out=$(pcurl http://www.test/)
[[ $out == "origin 203.0.113.10 host=www.test via=1.1 edge-"* ]] || fail "GET through the proxy: '$out'"
pass "curl -x: absolute-form GET reaches the origin with Host and Via"
# Keepalive both sides: two requests on one client connection, one origin connection.
n=$(in_ns curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' --max-time 10 -x "$PROXY" http://www.test/a http://www.test/b | paste -sd' ')
[ "$n" = "1 0" ] || fail "client keepalive: connects '$n'"
out=$(pcurl http://www.test/c)
[[ $out == *"conn="* ]] || fail "$out"
pass "keepalive: the second request reuses the client connection"
head -c 1048576 /dev/urandom >"$(tmpfile body)"
out=$(pcurl --data-binary @"$(tmpfile body)" http://www.test/upload)
[ "$out" = "got 1048576" ] || fail "1 MiB upload: '$out'"
pass "a 1 MiB upload streams through"
out=$(pcurl "http://[2001:db8::10]/")
[[ $out == "origin 2001:db8::10 "* ]] || fail "IPv6 literal: '$out'"
pass "an IPv6 destination"
# CONNECT to a TLS origin, certificate checked end to end.
out=$(pcurl --cacert "$CERTS/ca.pem" https://www.test/)
[ "$out" = "tls origin sni=www.test" ] || fail "https through CONNECT: '$out' $(cat "$P_LOG")"
log_has "CONNECT www.test:443" || fail "CONNECT not logged: $(cat "$(tmpfile access.log)")"
pass "CONNECT: curl reaches an https origin through the tunnel, certificate verified"
# Other real clients.
out=$(in_ns python3 -c '
import urllib.request
o = urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://127.0.0.1:3128"}))
print(o.open("http://www.test/py", timeout=10).read().decode().strip())')
[[ $out == "origin 203.0.113.10 host=www.test"* ]] || fail "urllib: '$out'"
out=$(in_ns env http_proxy=$PROXY wget -q -O - -T 10 http://www.test/wget)
[[ $out == "origin 203.0.113.10 host=www.test"* ]] || fail "wget: '$out'"
out=$(in_ns python3 - "$CERTS/ca.pem" <<'PY'
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("127.0.0.1", 3128, context=ctx, timeout=10)
c.set_tunnel("www.test", 443)
c.request("GET", "/")
print(c.getresponse().read().decode().strip())
PY
)
[ "$out" = "tls origin sni=www.test" ] || fail "http.client tunnel: '$out'"
pass "Python urllib, wget and Python http.client's CONNECT tunnel"
# SOCKS5 on the same port: the proxy resolves (socks5h), and the client resolves (socks5).
out=$(in_ns curl -s --max-time 10 --socks5-hostname 127.0.0.1:$PORT --cacert "$CERTS/ca.pem" https://www.test/)
[ "$out" = "tls origin sni=www.test" ] || fail "socks5h: '$out'"
out=$(in_ns curl -s --max-time 10 --socks5 127.0.0.1:$PORT --cacert "$CERTS/ca.pem" --resolve www.test:443:203.0.113.10 https://www.test/)
[ "$out" = "tls origin sni=www.test" ] || fail "socks5 with an address: '$out'"
log_has "TCP_TUNNEL/200 .* CONNECT www.test:443" || fail "SOCKS5 not logged: $(cat "$(tmpfile access.log)")"
out=$(in_ns curl -sS --max-time 10 --socks5-hostname 127.0.0.1:$PORT http://www.test/ 2>&1 || true)
[[ $out == *"(2)"* ]] || fail "SOCKS5 to port 80 (tunnels go to 443 only by default): '$out'"
log_has "TCP_DENIED/403 .*CONNECT www.test:80 .*rule=connect-port" || fail "SOCKS5 port denial not logged"
pass "SOCKS5 on the same port: by name and by address; a tunnel to port 80 is refused by default (connect-port)"

# A live tunnel is a flow of `edge conntrack --origin edge`: client -> proxy, origin -> proxy.
in_ns python3 - "$EDGE" "$P_PID" <<'PY' || fail "edge conntrack --origin edge"
import json, socket, subprocess, sys
edge, pid = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
s.sendall(b"CONNECT www.test:443 HTTP/1.1\r\nHost: www.test:443\r\n\r\n")
assert s.recv(4096).startswith(b"HTTP/1.1 200"), "CONNECT"
port = s.getsockname()[1]
flows = json.loads(subprocess.run([edge, "conntrack", "--origin", "edge", "--json"], capture_output=True, check=True).stdout)
mine = [f for f in flows if f["orig"]["sport"] == port]
assert len(mine) == 1, flows
f = mine[0]
assert f["origin"] == f"edge:proxy:{pid}", f
assert f["orig"]["dport"] == 3128 and f["reply"]["src"] == "203.0.113.10" and f["reply"]["sport"] == 443, f
print(f"ok: tunnel {port} -> www.test:443 listed by edge conntrack --origin edge as edge:proxy:{pid}")
PY

# ---- The egress table ----------------------------------------------------------------------
deny_case() {  # deny_case RULE CURL-ARGS...: 403 whose body and log name RULE
  local rule=$1; shift
  local body code
  body=$(in_ns curl -s --max-time 10 -x "$PROXY" -w '\n%{http_code}' "$@")
  code=${body##*$'\n'}
  [ "$code" = 403 ] || fail "$* : status $code, expected 403 ($rule): $body"
  [[ $body == *"denied by rule '$rule'"* ]] || fail "$* : body does not name rule $rule: $body"
  last_log_has "TCP_DENIED/403 .*rule=$rule" || fail "$* : not logged with rule=$rule: $(tail -1 "$(tmpfile access.log)")"
}
deny_case loopback http://loop.test/
deny_case loopback http://127.1/
deny_case loopback http://2130706433/
deny_case loopback http://0x7f000001/
deny_case loopback "http://[::ffff:127.0.0.1]/"
deny_case loopback "http://[::1]/"
deny_case metadata http://169.254.169.254/latest/meta-data/
deny_case link-local http://169.254.1.1/
deny_case link-local "http://[fe80::1]/"
deny_case private http://10.20.0.5/
deny_case private http://priv.test/
deny_case private http://192.168.1.1/
deny_case private "http://[fd00::1]/"
deny_case unspecified http://0.0.0.0/
[ "$(http_raw $PORT 'CONNECT www.test:22 HTTP/1.1\r\nHost: www.test:22\r\n\r\n' | cut -d' ' -f1)" = 403 ] || fail "CONNECT to port 22"
last_log_has "TCP_DENIED/403 .*CONNECT www.test:22 .*rule=connect-port" || fail "CONNECT to port 22 not logged with its rule"
deny_case http-port http://www.test:22/
body=$(pcurl http://loop.test/)
[[ $body == *"--allow-dst 127.0.0.1/32"* ]] || fail "the denial names no flag to allow it: $body"
out=$(pcurl http://mixed.test/)
[[ $out == "origin 203.0.113.10 "* ]] || fail "a name with a denied and an allowed address: '$out'"
pass "egress: every default-denied range in several spellings, ports, a name resolving to loopback; mixed names use the allowed address"
# SOCKS5 denials: reply 2 (curl: "connection not allowed by ruleset"), logged with the rule.
out=$(in_ns curl -sS --max-time 10 --socks5-hostname 127.0.0.1:$PORT https://loop.test/ 2>&1 || true)
[[ $out == *"(2)"* ]] || fail "SOCKS5 to loopback: '$out'"
log_has "TCP_DENIED/403 .*CONNECT loop.test:443 .*rule=loopback" || fail "SOCKS5 denial not logged: $(tail -3 "$(tmpfile access.log)")"
pass "SOCKS5: a denied destination gets reply 2, logged with its rule"
# --metrics: the same records, counted.
metrics=$(in_ns curl -s --max-time 5 http://127.0.0.1:19490/metrics)
metric() { awk -v k="$1" '$1 == k {print $2}' <<<"$metrics"; }
[ "$(metric 'edge_proxy_requests_total{protocol="http",code="2xx"}')" -ge 8 ] || fail "http 2xx count: $metrics"
[ "$(metric 'edge_proxy_requests_total{protocol="connect",code="2xx"}')" -ge 2 ] || fail "connect count: $metrics"
[ "$(metric 'edge_proxy_requests_total{protocol="socks5",code="2xx"}')" -ge 2 ] || fail "socks5 count: $metrics"
[ "$(metric 'edge_proxy_denials_total{rule="loopback"}')" -ge 7 ] || fail "loopback denials: $metrics"
[ "$(metric 'edge_proxy_denials_total{rule="connect-port"}')" -ge 2 ] || fail "connect-port denials: $metrics"
[ "$(metric 'edge_proxy_bytes_total{direction="to_origin"}')" -ge 1048576 ] || fail "bytes to origin: $metrics"
grep -q "metrics at http://127.0.0.1:19490/metrics" "$P_LOG" || fail "metrics start line"
pass "--metrics: requests by protocol and class, denials by rule, bytes"

# ---- edge trace through edge proxy: the verdict names the proxy's rule -----------------------
trace() {  # trace ARGS...: edge trace's exit code and its output
  local rc=0 out
  out=$(in_ns "$EDGE" trace --timeout 5s "$@" 2>&1) || rc=$?
  echo "$rc $out"
}
out=$(trace --proxy $PROXY http://www.test/)
[[ $out == "0 "* ]] || fail "trace through edge proxy, healthy: $out"
out=$(trace --proxy $PROXY http://loop.test/)
[[ $out == "52 "* && $out == *"proxy_denied"* && $out == *"denied by rule 'loopback'"* ]] || fail "trace, denied: $out"
out=$(trace --proxy socks5h://127.0.0.1:$PORT --cacert "$CERTS/ca.pem" https://www.test/)
[[ $out == "0 "* ]] || fail "trace through SOCKS5, healthy: $out"
out=$(trace --proxy socks5h://127.0.0.1:$PORT https://loop.test/)
[[ $out == "52 "* && $out == *"connection not allowed by ruleset"* ]] || fail "trace through SOCKS5, denied: $out"
out=$(trace --proxy socks5h://127.0.0.1:$PORT https://www.test:8443/)
[[ $out == "52 "* ]] || fail "trace through SOCKS5 to a port outside --connect-ports: $out"
pass "edge trace through edge proxy (http and socks5h): healthy paths pass, denials are proxy_denied naming the rule"

# ---- Malformed input: an error each, and the proxy serves on --------------------------------
[ "$(http_raw $PORT 'CONNECT www.test HTTP/1.1\r\nHost: www.test\r\n\r\n' | cut -d' ' -f1)" = 400 ] || fail "CONNECT without a port"
[ "$(http_raw $PORT 'CONNECT :443 HTTP/1.1\r\nHost: x\r\n\r\n' | cut -d' ' -f1)" = 400 ] || fail "CONNECT without a host"
[ "$(http_raw $PORT 'GET / HTTP/1.1\r\nHost: www.test\r\n\r\n' | cut -d' ' -f1)" = 400 ] || fail "origin-form to a forward proxy"
[ "$(http_raw $PORT 'GET ftp://www.test/ HTTP/1.1\r\nHost: www.test\r\n\r\n' | cut -d' ' -f1)" = 400 ] || fail "ftp:// URL"
big=$(head -c 70000 /dev/zero | tr '\0' a)
[ "$(http_raw $PORT "GET http://www.test/ HTTP/1.1\r\nHost: www.test\r\nX-Big: $big\r\n\r\n" | cut -d' ' -f1)" = 431 ] || fail "oversized head"
[ "$(http_raw $PORT '\x04\x01\x00\x50\x7f\x00\x00\x01\x00' | cut -d' ' -f1)" = close ] || fail "SOCKS4"
out=$(in_ns curl -sS --max-time 10 --socks4 127.0.0.1:$PORT http://www.test/ 2>&1 || true)
[[ $out == *"rejected"* || $out == *"Failed"* || $out == *"failed"* ]] || fail "curl --socks4: '$out'"
out=$(in_ns python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
s.sendall(b"\x05\x01\x00")
print(s.recv(2).hex())
s.sendall(b"\x06\x01\x00\x01\x7f\x00\x00\x01\x00\x50")
try: print(s.recv(10).hex() or "closed")
except ConnectionResetError: print("reset")')
[[ $out == 0500* ]] || fail "SOCKS5 bad request version: '$out'"
[ "$(status http://www.test/)" = 200 ] || fail "the proxy stopped serving after malformed input"
pass "malformed CONNECT, origin-form, ftp://, a 70 KB head, SOCKS4 and a bad SOCKS5 request each refused; serving goes on"
stop_proxy

# ---- Allowlist mode ------------------------------------------------------------------------
start_proxy --allow-domain .allowed.test --allow-dst 10.20.0.0/16 --deny-domain evil.allowed.test
[ "$(status http://a.allowed.test/)" = 200 ] || fail "allowlisted subdomain"
[ "$(status http://allowed.test/)" = 200 ] || fail "allowlisted domain itself"
deny_case not-allowlisted http://other.test/
deny_case not-allowlisted http://203.0.113.10/
deny_case deny-domain http://evil.allowed.test/
[ "$(status http://priv.test/)" = 200 ] || fail "--allow-dst lifts the private denial"
deny_case loopback http://loop.test/
pass "allowlist: .domain matches itself and subdomains, others not-allowlisted, --deny-domain wins, --allow-dst lifts private"
stop_proxy

# ---- Who may use it ------------------------------------------------------------------------
out=$(ip netns exec "$ns" "$EDGE" proxy --listen 10.30.0.2:$PORT 2>&1; echo "rc=$?")
[[ $out == *"--allow-src"*"rc=2" ]] || fail "non-loopback listener without a guard: $out"
start_proxy --listen 0.0.0.0:$PORT --allow-src 10.30.0.0/24
[ "$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 10.30.0.2 -x http://10.30.0.2:$PORT http://www.test/)" = 200 ] \
  || fail "--allow-src client"
[ "$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 203.0.113.10 -x http://203.0.113.10:$PORT http://www.test/)" = 403 ] \
  || fail "a client outside --allow-src"
last_log_has "TCP_DENIED/403 .*rule=source" || fail "source denial not logged"
pass "who: a non-loopback --listen needs a guard (exit 2); --allow-src admits its clients, others get 403 rule=source"
stop_proxy
start_proxy --auth 'alice:p@ss:w0rd'
hdrs=$(in_ns curl -s -D - -o /dev/null --max-time 10 -x "$PROXY" http://www.test/)
grep -q '^HTTP/1.1 407' <<<"$hdrs" && grep -qi '^Proxy-Authenticate: Basic realm="edge proxy"' <<<"$hdrs" || fail "407: $hdrs"
[ "$(status --proxy-user alice:wrong http://www.test/)" = 407 ] || fail "a wrong password"
out=$(pcurl --proxy-user 'alice:p@ss:w0rd' http://www.test/)
[[ $out == *"auth= conn="* ]] || fail "with the password (and Proxy-Authorization not passed on): '$out'"
[ "$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 10 -x 'http://alice:p%40ss%3Aw0rd@127.0.0.1:3128' --cacert "$CERTS/ca.pem" https://www.test/)" = 200 ] \
  || fail "CONNECT with credentials in the proxy URL"
out=$(in_ns curl -s --max-time 10 --socks5-hostname 127.0.0.1:$PORT --proxy-user 'alice:p@ss:w0rd' --cacert "$CERTS/ca.pem" https://www.test/)
[ "$out" = "tls origin sni=www.test" ] || fail "SOCKS5 user/password: '$out'"
out=$(in_ns curl -sS --max-time 10 --socks5-hostname 127.0.0.1:$PORT --proxy-user alice:nope https://www.test/ 2>&1 || true)
[[ $out == *"authentication failed"* || $out == *"Authentication failed"* || $out == *"User was rejected"* ]] || fail "SOCKS5 wrong password: '$out'"
out=$(in_ns curl -sS --max-time 10 --socks5-hostname 127.0.0.1:$PORT https://www.test/ 2>&1 || true)
[[ $out == *"authentication"* || $out == *"No authentication method"* || $out == *"method"* ]] || fail "SOCKS5 without credentials: '$out'"
out=$(trace --proxy 'socks5h://alice:nope@127.0.0.1:3128' https://www.test/)
[[ $out == "53 "* && $out == *"refused the user name or password"* ]] || fail "trace through SOCKS5 with a wrong password: $out"
out=$(trace --proxy 'socks5h://alice:p%40ss%3Aw0rd@127.0.0.1:3128' --cacert "$CERTS/ca.pem" https://www.test/)
[[ $out == "0 "* ]] || fail "trace through SOCKS5 with the password: $out"
pass "--auth: 407 with Proxy-Authenticate, a password with ':' and '@', SOCKS5 method 2, refused without it"
stop_proxy

# ---- --parent: a chain of proxies ----------------------------------------------------------
# B: a second edge proxy with a password; A chains to it over HTTP, then over SOCKS5.
bg "$ns" "$EDGE" proxy --listen 127.0.0.1:3129 --threads 1 --auth 'bob:s3:cr@t' --access-log "$(tmpfile parent.log)"
B_PID=$BG_PID
wait_for 10 tcp_listening "$ns" 3129 || fail "the parent edge proxy did not start"
start_proxy --parent 'http://bob:s3%3Acr%40t@127.0.0.1:3129' --no-parent-for other.test
grep -q "parent http://127.0.0.1:3129 (with credentials), not for other.test" "$P_LOG" || fail "parent start line: $(cat "$P_LOG")"
out=$(pcurl http://www.test/chain)
[[ $out == *"via=1.1 edge-"*", 1.1 edge-"* ]] || fail "a chain of two edge proxies (two Via tokens, no loop): '$out'"
grep -q "GET http://www.test/chain bob" "$(tmpfile parent.log)" || fail "the parent did not see the request with its user: $(cat "$(tmpfile parent.log)")"
out=$(pcurl --cacert "$CERTS/ca.pem" https://www.test/)
[ "$out" = "tls origin sni=www.test" ] || fail "CONNECT through the parent: '$out'"
grep -q "CONNECT www.test:443 bob" "$(tmpfile parent.log)" || fail "the parent did not see the CONNECT"
out=$(pcurl http://other.test/direct)
[[ $out == "origin 203.0.113.10 host=other.test via=1.1 edge-"* && $out != *", 1.1 edge-"* ]] || fail "--no-parent-for goes direct: '$out'"
deny_case loopback http://loop.test/
pass "--parent http:// with credentials: absolute-form and CONNECT through a second edge proxy; --no-parent-for direct; own rules first"
stop_proxy
start_proxy --parent 'socks5h://bob:s3%3Acr%40t@127.0.0.1:3129'
out=$(pcurl --cacert "$CERTS/ca.pem" https://www.test/)
[ "$out" = "tls origin sni=www.test" ] || fail "CONNECT through a SOCKS5 parent: '$out'"
grep -q "TCP_TUNNEL/200 .* CONNECT www.test:443 bob" "$(tmpfile parent.log)" || fail "the SOCKS5 parent did not log the tunnel"
stop_proxy
start_proxy --parent 'socks5h://bob:wrong@127.0.0.1:3129'
code=$(status --cacert "$CERTS/ca.pem" https://www.test/ || true)
[ "$code" = 000 ] || fail "a SOCKS5 parent refusing the password: $code"
last_log_has "destination_unavailable@connect" || fail "parent failure not logged: $(tail -1 "$(tmpfile access.log)")"
pass "--parent socks5h:// with user/password; a refused password is a 502 (CONNECT refused)"
stop_proxy
kill -TERM "$B_PID"; wait "$B_PID" || true
tinyproxy_start_auth "$ns" 127.0.0.1 3130 tony 'p4ss'
start_proxy --parent 'http://tony:p4ss@127.0.0.1:3130'
out=$(pcurl http://www.test/tiny)
[[ $out == *"via=1.1 edge-"*"edge-t-proxy"* ]] || fail "through tinyproxy with BasicAuth: '$out'"
stop_proxy
pass "--parent through tinyproxy with BasicAuth"
