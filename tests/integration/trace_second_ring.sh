#!/usr/bin/env bash
# `edge trace`'s second ring: failures that half work. Each fixture is first shown to break a
# plain tool (curl, openssl s_client, getent), then traced; each verdict must come within 3 s
# of the trace's start (a wait: its timeout + 0.5 s).
#   tls   a server that resets or closes during the handshake (tls/reset); openssl s_server
#         and nginx wanting a client certificate (tls/client_cert_required), with --cert/--key
#         sending a good one and a rogue one (handshake_failure naming the refusal)
#   http  --body: a body cut short of its Content-Length, a chunked body without its final
#         chunk (http/truncated_body), whole bodies from nginx and over TLS, --max-body
#         -L: a redirect loop, a chain longer than --follow=N (http/redirect_loop), a chain
#         that ends well, and one whose second hop fails in DNS
#   proxy a 5xx from tinyproxy, edge proxy and Squid read for its reason, in plain words;
#         https:// proxies (TLS to the proxy, checked; its failure is proxy/proxy_tls_error)
#   dual  IPv6 refused or dropped while IPv4 works (warning ipv6_unreachable, and what the
#         fallback costs), IPv4 dropped while IPv6 works (the trace goes on over IPv6), -4/-6
#   tcp   a SNAT to one source port that one connection holds (tcp/nat_exhausted)
#   dns   a UDP answer with TC set from a server that does not serve TCP (dns/truncated); the
#         same name from a server that does; /etc/hosts overriding DNS (warning hosts_override);
#         the name the search list made of a short one
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nft python3 nginx openssl curl tinyproxy
source "$here/lib/trace_topology.sh"
source "$here/lib/nginx_fixture.sh"
source "$here/lib/tinyproxy_fixture.sh"
source "$here/lib/trace_expect.sh"
EDGE=$(realpath "$1")

topology_up
resolv_for_client
bg "$TS" python3 "$here/lib/dns_server.py" 10.99.2.53 53
wait_for 10 udp_listening "$TS" 53 || fail "dns_server.py did not start"
certs_make
CA=$CERTS/ca.pem
S=10.99.2.2

# curl_fails CODE CURL_ARGS...: curl, from the client, exits with CODE (the fixture really breaks).
curl_fails() {
  local want=$1 rc=0 err
  shift
  err=$(ip netns exec "$TC" curl -sS -o /dev/null --max-time 5 "$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || fail "curl $* exited $rc, expected $want: $err"
  pass "curl $* fails: exit $rc ($err)"
}

# ---- tls/reset: a hang-up under the handshake, with and without an RST.
bg "$TS" python3 "$here/lib/bad_server.py" $S 8460 reset
bg "$TS" python3 "$here/lib/bad_server.py" $S 8461 close
wait_for 10 tcp_listening "$TS" 8460 && wait_for 10 tcp_listening "$TS" 8461 || fail "bad_server.py did not start"
curl_fails 35 --cacert "$CA" https://www.test:8460/
curl_fails 35 --cacert "$CA" https://www.test:8461/
expect_trace tls reset 69 -- --cacert "$CA" https://www.test:8460/
within 3
evidence 'layer("tls")["evidence"]["connection"] == "reset" and layer("tls")["evidence"]["server_spoke"] is False'
evidence '"reset by the peer" in t["verdict"]["summary"] and "SNI www.test" in t["verdict"]["summary"]'
expect_trace tls reset 69 -- --cacert "$CA" tls://www.test:8461
within 3
evidence 'layer("tls")["evidence"]["connection"] == "closed" and "closed by the peer" in t["verdict"]["summary"]'

# ---- tls/client_cert_required: openssl s_server insisting on a client certificate (-Verify),
# TLS 1.3 (alert certificate_required, after the client's handshake) and TLS 1.2 (handshake
# failure after the CertificateRequest).
for v in 13:8450 12:8451; do
  IFS=: read -r ver port <<<"$v"
  bg "$TS" openssl s_server -quiet -www -verify_return_error -Verify 1 -CAfile "$CA" \
    -cert "$CERTS/good.pem" -cert_chain "$CERTS/inter.pem" -key "$CERTS/good.key" \
    "$([ "$ver" = 12 ] && echo -tls1_2 || echo -tls1_3)" -accept "$S:$port"
  wait_for 10 tcp_listening "$TS" "$port" || fail "openssl s_server did not start"
done
curl_fails 56 --cacert "$CA" https://www.test:8450/
curl_fails 35 --cacert "$CA" https://www.test:8451/
ip netns exec "$TC" curl -sS -o /dev/null --cacert "$CA" --cert "$CERTS/client.pem" --key "$CERTS/client.key" https://www.test:8450/ \
  || fail "curl with the client certificate fails"
curl_fails 56 --cacert "$CA" --cert "$CERTS/rogue.pem" --key "$CERTS/rogue.key" https://www.test:8450/
expect_trace tls client_cert_required 60 -- --cacert "$CA" https://www.test:8450/
within 3
evidence 'layer("tls")["evidence"]["alert_code"] == 116 and layer("tls")["evidence"]["client_certificate"] == {"requested": True, "sent": False, "file": None}'
evidence '"--cert" in t["verdict"]["summary"] and "certificate required" in layer("tls")["evidence"]["alert_received"]'
expect_trace tls client_cert_required 60 -- --cacert "$CA" tls://www.test:8451
within 3
evidence 'layer("tls")["evidence"]["alert_code"] == 40 and layer("tls")["evidence"]["client_certificate"]["requested"] is True'
expect_trace - ok 0 -- --cacert "$CA" --cert "$CERTS/client.pem" --key "$CERTS/client.key" https://www.test:8450/
within 3
evidence 'layer("tls")["evidence"]["client_certificate"]["sent"] is True and "client certificate accepted" in layer("tls")["summary"]'
expect_trace - ok 0 -- --cacert "$CA" --cert "$CERTS/client.pem" --key "$CERTS/client.key" tls://www.test:8451
expect_trace tls handshake_failure 66 -- --cacert "$CA" --cert "$CERTS/rogue.pem" --key "$CERTS/rogue.key" https://www.test:8450/
within 3
evidence '"rejected the client certificate" in t["verdict"]["summary"] and "alert" in t["verdict"]["summary"]'
expect_trace tls handshake_failure 66 -- --cacert "$CA" --cert "$CERTS/rogue.pem" --key "$CERTS/rogue.key" https://www.test:8451/
evidence 'layer("tls")["evidence"]["alert_received"] != "" and "rejected the client certificate" in t["verdict"]["summary"]'
# A server that asks without insisting (s_server -verify) is not a failure without a certificate.
bg "$TS" openssl s_server -quiet -www -verify 1 -CAfile "$CA" -cert "$CERTS/good.pem" -cert_chain "$CERTS/inter.pem" \
  -key "$CERTS/good.key" -accept "$S:8452"
wait_for 10 tcp_listening "$TS" 8452 || fail "openssl s_server did not start"
expect_trace - ok 0 -- --cacert "$CA" https://www.test:8452/
evidence 'layer("tls")["evidence"]["client_certificate"] == {"requested": True, "sent": False, "file": None}'

# ---- http/truncated_body (--body): a body shorter than its Content-Length, a chunked body
# without its final chunk; the healthy counterparts pass and say how much arrived.
bg "$TS" python3 "$here/lib/bad_server.py" $S 8470 short
bg "$TS" python3 "$here/lib/bad_server.py" $S 8471 chunked
bg "$TS" python3 "$here/lib/bad_server.py" $S 8472 whole
bg "$TS" python3 "$here/lib/bad_server.py" $S 8473 stall
for port in 8470 8471 8472 8473; do wait_for 10 tcp_listening "$TS" $port || fail "bad_server.py did not start on $port"; done
mkdir -p "$(tmpfile www)" && head -c 300000 /dev/urandom >"$(tmpfile www)/big"
NGINX_ADDRS=$S nginx_start "$TS" "  server {
    listen $S:8090;
    root $(tmpfile www);
  }
  server {
    listen $S:8493 ssl;
    ssl_certificate $CERTS/good.pem;
    ssl_certificate_key $CERTS/good.key;
    root $(tmpfile www);
  }
  server {
    listen $S:8494 ssl;
    ssl_certificate $CERTS/good.pem;
    ssl_certificate_key $CERTS/good.key;
    ssl_client_certificate $CA;
    ssl_verify_client on;
    location / { return 200 \"ok\n\"; }
  }"
curl_fails 18 http://www.test:8470/
curl_fails 18 http://www.test:8471/
expect_trace http truncated_body 78 -- --body http://www.test:8470/
within 3
evidence 'layer("http")["evidence"]["body"]["bytes"] == 40000 and layer("http")["evidence"]["body"]["content_length"] == 100000'
evidence '"40000 of its 100000 bytes" in t["verdict"]["summary"]'
expect_trace http truncated_body 78 -- --max-body 1M http://www.test:8471/
within 3
evidence 'layer("http")["evidence"]["body"]["bytes"] == 3000 and layer("http")["evidence"]["body"]["chunked"] is True'
evidence '"without its final chunk" in t["verdict"]["summary"]'
# A body that stops without ending is a wait, not a truncation: http/timeout after --timeout.
curl_fails 28 --max-time 2 http://www.test:8473/
expect_trace http timeout 75 -- --body --timeout 1s http://www.test:8473/
within 1.5
evidence '"stalled after 40000 bytes" in t["verdict"]["summary"] and layer("http")["evidence"]["body"]["complete"] is False'
# Without --body the head alone passes: the truncation is invisible (as it is to curl -I).
expect_trace - ok 0 -- http://www.test:8470/
evidence '"body" not in layer("http")["evidence"]'
expect_trace - ok 0 -- --body http://www.test:8472/
evidence 'layer("http")["evidence"]["body"]["bytes"] == 100000 and layer("http")["evidence"]["body"]["complete"] is True'
expect_trace - ok 0 -- --body http://www.test:8090/big
evidence 'layer("http")["evidence"]["body"]["bytes"] == 300000 and "body of 300000 bytes" in layer("http")["summary"]'
expect_trace - ok 0 -- --body --cacert "$CA" https://www.test:8493/big
evidence 'layer("http")["evidence"]["body"]["bytes"] == 300000'
expect_trace - ok 0 -- --max-body 64K http://www.test:8090/big
evidence 'layer("http")["evidence"]["body"]["capped"] is True and layer("http")["evidence"]["body"]["bytes"] < 300000'

# ---- tls/client_cert_required from nginx (ssl_verify_client on): it completes the handshake
# without a certificate and answers 400 "No required SSL certificate was sent".
curl_fails 22 -f --cacert "$CA" https://www.test:8494/
ip netns exec "$TC" curl -s --cacert "$CA" https://www.test:8494/ | grep -q "No required SSL certificate was sent" \
  || fail "nginx does not say it wants a client certificate"
expect_trace tls client_cert_required 60 -- --cacert "$CA" https://www.test:8494/
within 3
evidence 'layer("tls")["evidence"]["server_said"] == "400 Bad Request: No required SSL certificate was sent"'
evidence 'layer("tls")["evidence"]["client_certificate"]["requested"] is True and layer("http")["status"] == "not_run"'
expect_trace - ok 0 -- --cacert "$CA" --cert "$CERTS/client.pem" --key "$CERTS/client.key" https://www.test:8494/
within 3
evidence 'layer("http")["evidence"]["response"]["status"] == 200'
curl_fails 22 -f --cacert "$CA" --cert "$CERTS/rogue.pem" --key "$CERTS/rogue.key" https://www.test:8494/
expect_trace tls handshake_failure 66 -- --cacert "$CA" --cert "$CERTS/rogue.pem" --key "$CERTS/rogue.key" https://www.test:8494/
within 3
evidence '"rejected the client certificate" in t["verdict"]["summary"] and "The SSL certificate error" in t["verdict"]["summary"]'

# ---- http/redirect_loop (-L): /loop/1 -> 2 -> 3 -> 1; /hop/1 -> 2 -> 3 -> 4 (200); /away ->
# a name that does not resolve.
bg "$TS" python3 "$here/lib/bad_server.py" $S 8480 redirect
wait_for 10 tcp_listening "$TS" 8480 || fail "bad_server.py did not start on 8480"
curl_fails 47 -L http://www.test:8480/loop/1
curl_fails 47 -L --max-redirs 2 http://www.test:8480/hop/1
expect_trace http redirect_loop 79 -- -L http://www.test:8480/loop/1
within 3
evidence 'layer("http")["evidence"]["chain"] == ["http://www.test:8480/loop/%d" % i for i in (1, 2, 3, 1)]'
evidence '[h["status"] for h in t["redirects"]] == [302, 302] and t["final_target"] == "http://www.test:8480/loop/3"'
evidence '"visited before" in t["verdict"]["summary"]'
expect_trace http redirect_loop 79 -- --follow=2 http://www.test:8480/hop/1
within 3
evidence '"more than 2 redirects" in t["verdict"]["summary"] and len(t["redirects"]) == 2'
expect_trace - ok 0 -- -L http://www.test:8480/hop/1
within 3
evidence 't["final_target"] == "http://www.test:8480/hop/4" and layer("http")["evidence"]["response"]["status"] == 200'
evidence '[h["location"] for h in t["redirects"]] == ["http://www.test:8480/hop/%d" % i for i in (2, 3, 4)]'
evidence 'all(l["status"] != "fail" for h in t["redirects"] for l in h["layers"])'
# The second hop fails in another layer: that is the verdict.
expect_trace dns nxdomain 21 -- -L http://www.test:8480/away
within 3
evidence 't["final_target"] == "http://nxdomain.test:8080/" and t["redirects"][0]["status"] == 302'
# Without -L a redirect is a passing http layer, as before.
expect_trace - ok 0 -- http://www.test:8480/loop/1
evidence 'layer("http")["evidence"]["response"]["status"] == 302 and "redirects" not in t'
human=$(ip netns exec "$TC" "$EDGE" trace -L http://www.test:8480/hop/1 || true)
grep -qF "redirect 1: http://www.test:8480/hop/1 -> 302 -> http://www.test:8480/hop/2" <<<"$human" \
  || fail "the human output does not list the redirects: $human"
pass "human output lists each redirect hop"

# ---- proxy 5xx in plain words: tinyproxy, edge proxy and Squid in r, asked for a port where
# nothing listens (8999), and edge proxy for a name that does not exist.
resolv_for "$TR"
tinyproxy_start "$TR" 10.99.1.1 3128 "ConnectPort 8493"
bg "$TR" "$EDGE" proxy --listen 10.99.1.1:3140 --allow-src 10.99.1.0/24 --allow-dst 10.99.0.0/16 --threads 1
# Squid is not in scripts/setup.sh (Debian's package starts a system daemon on :3128): its
# case runs where it is installed; its X-Squid-Error words are also unit-tested.
have_squid=0
if command -v squid >/dev/null; then
  have_squid=1
  squid_dir=$(tmpfile squid); mkdir -p "$squid_dir"; chmod 777 "$squid_dir"
  cat >"$squid_dir/squid.conf" <<CONF
http_port 10.99.1.1:3150
workers 1
cache deny all
access_log none
cache_log $squid_dir/cache.log
pid_filename $squid_dir/squid.pid
coredump_dir $squid_dir
shutdown_lifetime 1 seconds
dns_nameservers 10.99.2.53
connect_timeout 2 seconds
acl clients src 10.99.1.0/24
http_access allow clients
http_access deny all
CONF
  bg "$TR" squid -N -f "$squid_dir/squid.conf"
else
  echo "note: squid is not installed: its case is skipped (the unit test covers its words)"
fi
for port in 3140 $([ "$have_squid" = 1 ] && echo 3150); do wait_for 20 tcp_listening "$TR" $port || fail "proxy on $port did not start: $(cat "$BG_LOG")"; done
# proxy_says PROXY URL HEADER: curl through PROXY gets a 5xx for URL that carries HEADER.
proxy_says() {
  local head
  head=$(ip netns exec "$TC" curl -s -o /dev/null -D - --max-time 5 -x "$1" "$2") || true
  [[ $head =~ ^HTTP/1\.[01]\ 5 ]] && grep -qi "^$3" <<<"$head" || fail "curl -x $1 $2: no 5xx with $3: $head"
  pass "curl -x $1 $2: $(head -1 <<<"$head" | tr -d '\r'), $(grep -i "^$3" <<<"$head" | tr -d '\r')"
}
# proxy_case PROXY URL HEADER WORDS: curl sees it first (proxy_says); then edge trace blames
# the proxy layer (54) within 3 s, its verdict saying WORDS.
proxy_case() {
  proxy_says "$1" "$2" "$3"
  expect_trace proxy proxy_upstream_error 54 -- --proxy "$1" "$2"
  within 3
  WORDS=$4 evidence '__import__("os").environ["WORDS"] in t["verdict"]["summary"] and layer("proxy")["evidence"]["reason"] in t["verdict"]["summary"]'
}
proxy_case http://10.99.1.1:3128 http://www.test:8999/ "Server: tinyproxy" \
  "the proxy could not connect to www.test:8999 (tinyproxy: Unable to connect)"
proxy_case http://10.99.1.1:3140 http://www.test:8999/ "Proxy-Status: edge; error=connection_refused" \
  "www.test:8999 refused the proxy's connection (Proxy-Status connection_refused)"
proxy_case http://10.99.1.1:3140 http://nxdomain.test:8080/ "Proxy-Status: edge; error=" \
  "the proxy could not resolve the name of nxdomain.test:8080"
# (Squid 5.7 here answers a name that does not exist with ERR_READ_ERROR, not ERR_DNS_FAIL:
# the ERR_DNS_FAIL words are covered by the unit test only.)
if [ "$have_squid" = 1 ]; then
  proxy_case http://10.99.1.1:3150 http://www.test:8999/ "X-Squid-Error: ERR_CONNECT_FAIL" \
    "the proxy could not connect to www.test:8999 (Squid ERR_CONNECT_FAIL)"
  expect_trace - ok 0 -- --proxy http://10.99.1.1:3150 http://10.99.2.2:8090/big
  evidence '"reason" not in layer("proxy")["evidence"]'
fi

# ---- https:// proxies: socat terminating TLS in front of tinyproxy, with a good certificate
# (3443) and an expired one (3444); edge proxy spoken to as https:// is not TLS.
for v in 3443:proxy 3444:expired; do
  IFS=: read -r port cert <<<"$v"
  bg "$TR" socat "OPENSSL-LISTEN:$port,bind=10.99.1.1,reuseaddr,fork,verify=0,cert=$CERTS/$cert.pem,key=$CERTS/$cert.key" TCP:10.99.1.1:3128
  wait_for 10 tcp_listening "$TR" "$port" || fail "socat did not start on $port"
done
ip netns exec "$TC" curl -sS -o /dev/null --proxy https://10.99.1.1:3443 --proxy-cacert "$CA" --cacert "$CA" https://www.test:8493/big \
  || fail "curl cannot go through the https:// proxy"
curl_fails 60 --proxy https://10.99.1.1:3444 --proxy-cacert "$CA" --cacert "$CA" https://www.test:8493/big
curl_fails 35 --proxy https://10.99.1.1:3140 --proxy-cacert "$CA" --cacert "$CA" https://www.test:8493/big
expect_trace - ok 0 -- --proxy https://10.99.1.1:3443 --cacert "$CA" https://www.test:8493/big
within 3
evidence '"proxy.test" in layer("proxy")["evidence"]["tls"]["certificate"]["subject"] and layer("proxy")["evidence"]["response"]["status"] == 200'
evidence 'layer("tls")["status"] == "ok" and layer("http")["evidence"]["response"]["status"] == 200'
expect_trace - ok 0 -- --proxy https://10.99.1.1:3443 --cacert "$CA" --body http://www.test:8090/big
evidence '"over TLS" in layer("proxy")["summary"] and layer("http")["evidence"]["body"]["bytes"] == 300000'
expect_trace proxy proxy_tls_error 56 -- --proxy https://10.99.1.1:3444 --cacert "$CA" https://www.test:8493/big
within 3
evidence 'layer("proxy")["evidence"]["tls_cause"] == "cert_expired" and "TLS to the proxy 10.99.1.1:3444 failed: certificate expired" in t["verdict"]["summary"]'
expect_trace proxy proxy_tls_error 56 -- --proxy https://10.99.1.1:3140 --cacert "$CA" https://www.test:8493/big
within 3
evidence 'layer("proxy")["evidence"]["tls_cause"] == "protocol_mismatch"'

# ---- dns/truncated: dns_server.py on 10.99.2.54 serves UDP only; truncated.* answers TC.
ip -n "$TS" addr add 10.99.2.54/24 dev s0
bg "$TS" python3 "$here/lib/dns_server.py" 10.99.2.54 53 --no-tcp
wait_for 10 grep -q "10.99.2.54 port 53 (udp only)" "$BG_LOG" || fail "dns_server.py --no-tcp did not start: $(cat "$BG_LOG")"
resolv_for_client /dev/stdin <<<$'nameserver 10.99.2.54\noptions timeout:1 attempts:1'
if ip netns exec "$TC" getent ahosts truncated.test; then fail "getent resolved truncated.test through a server without TCP"; fi
ip netns exec "$TC" getent ahosts www.test >/dev/null || fail "getent cannot resolve www.test through 10.99.2.54"
ip netns exec "$TC" python3 -c 'import socket; socket.create_connection(("10.99.2.54", 53), timeout=2)' 2>/dev/null \
  && fail "10.99.2.54 accepts TCP on port 53"
pass "getent fails for truncated.test through 10.99.2.54 (UDP only), and 53/tcp is refused there"
expect_trace dns truncated 26 -- http://truncated.test:8090/big
within 3
evidence 'any(s.get("truncated") and s["server"] == "10.99.2.54" and "error" in s for s in layer("dns")["evidence"]["servers"])'
evidence '"truncated (TC)" in t["verdict"]["summary"] and "10.99.2.54 port 53" in t["verdict"]["summary"]'
resolv_for_client
ip netns exec "$TC" getent ahosts truncated.test >/dev/null || fail "getent cannot resolve truncated.test through 10.99.2.53 (TCP served)"
expect_trace - ok 0 -- http://truncated.test:8090/big
within 3
evidence 'any(s.get("truncated") and s["rcode"] == "NOERROR" and s["answers"] == ["10.99.2.2"] for s in layer("dns")["evidence"]["servers"])'

# ---- dual stack: without -4/-6 a name with both families is tried the way a happy-eyeballs
# client does; a family that fails while the other works is a warning, and -4/-6 make that
# family's failure the verdict. nginx on 8095 serves both families, 8090 only IPv4.
NGINX_ADDRS="$S [fd99:2::2]" nginx_start "$TS" "$(nginx_status_server 8095 200)"
curl_fails 7 -6 http://www.test:8090/big
ip netns exec "$TC" curl -sS -o /dev/null http://www.test:8090/big || fail "curl (happy eyeballs) cannot fetch over IPv4"
expect_trace - ok 0 -- http://www.test:8090/big
within 3
evidence 't["verdict"]["warnings"] == ["ipv6_unreachable"] and layer("tcp")["evidence"]["families"]["ipv6"]["cause"] == "refused"'
evidence 'layer("tcp")["evidence"]["families"]["fallback_ms"] < 250 and layer("tcp")["evidence"]["target"] == "10.99.2.2:8090"'
human=$(ip netns exec "$TC" "$EDGE" trace http://www.test:8090/big || true)
grep -qE "^WARN ipv6_unreachable: IPv6 fd99:2::2 fails .* falls back to IPv4 after [0-9]+ms" <<<"$human" || fail "no WARN line for IPv6: $human"
pass "human output: WARN ipv6_unreachable"
# IPv6 dropped silently on the router: the client loses its attempt delay (250 ms).
nft_in "$TR" 'chain fw { type filter hook forward priority 0; ip6 daddr fd99:2::2 tcp dport 8095 drop; }'
curl_fails 28 -6 --max-time 2 http://www.test:8095/
ip netns exec "$TC" curl -sS -o /dev/null http://www.test:8095/ || fail "curl (happy eyeballs) cannot fall back to IPv4"
expect_trace - ok 0 -- http://www.test:8095/
within 3
evidence 't["verdict"]["warnings"] == ["ipv6_unreachable"] and layer("tcp")["evidence"]["families"]["ipv6"]["cause"] == "timeout"'
evidence 'layer("tcp")["evidence"]["families"]["fallback_ms"] == 250'
expect_trace tcp timeout 46 -- -6 --timeout 1s http://www.test:8095/
within 1.5
nft_clear "$TR"
# IPv4 dropped, IPv6 works: the trace goes on over IPv6 once IPv4 has had its --timeout.
nft_in "$TR" 'chain fw { type filter hook forward priority 0; ip daddr 10.99.2.2 tcp dport 8095 drop; }'
curl_fails 28 -4 --max-time 2 http://www.test:8095/
expect_trace - ok 0 -- --timeout 1s http://www.test:8095/
within 1.5
evidence 't["verdict"]["warnings"] == ["ipv4_unreachable"] and layer("tcp")["evidence"]["target"] == "[fd99:2::2]:8095"'
evidence 'layer("route")["evidence"]["destination"] == "fd99:2::2" and layer("http")["evidence"]["response"]["status"] == 200'
evidence 'layer("tcp")["evidence"]["families"]["ipv4"]["cause"] == "timeout"'
expect_trace tcp timeout 46 -- -4 --timeout 1s http://www.test:8095/
within 1.5
nft_clear "$TR"

# ---- tcp/nat_exhausted: this host SNATs 10.99.2.2:8095 to one source port, and one
# connection holds it; the next SYN gets no tuple (conntrack insert_failed) and dies here.
nft_in "$TC" 'chain post { type nat hook postrouting priority srcnat; ip daddr 10.99.2.2 tcp dport 8095 snat ip to 10.99.1.2:40000; }'
bg "$TC" python3 -c 'import socket, time; s = socket.create_connection(("10.99.2.2", 8095)); print("held", s.getsockname(), flush=True); time.sleep(120)'
wait_for 10 grep -q held "$BG_LOG" || fail "the connection holding the NAT tuple did not open: $(cat "$BG_LOG")"
[ -n "$(ip netns exec "$TS" ss -Htn "src 10.99.2.2:8095 dst 10.99.1.2:40000")" ] || fail "the held connection is not SNATed to port 40000"
curl_fails 28 --max-time 2 http://10.99.2.2:8095/
expect_trace tcp nat_exhausted 40 -- --timeout 1s http://10.99.2.2:8095/
within 1.5
evidence 'layer("tcp")["evidence"]["conntrack_insert_failed_during_probe"] > 0 and "no free tuple" in t["verdict"]["summary"]'
nft_clear "$TC"
expect_trace - ok 0 -- http://10.99.2.2:8095/

# ---- dns evidence: where the answer came from. /etc/hosts disagreeing with the nameservers is
# a warning (hosts_override), not a failure; the search list's name is reported.
netns_etc "$TC" hosts <<<$'127.0.0.1 localhost\n10.99.2.53 www.test'
[ "$(ip netns exec "$TC" getent ahostsv4 www.test | awk 'NR==1{print $1}')" = 10.99.2.53 ] || fail "getent does not use the hosts entry"
expect_trace - ok 0 -- www.test:53
within 3
evidence 't["verdict"]["warnings"] == ["hosts_override"] and layer("dns")["evidence"]["system"]["source"] == "/etc/hosts"'
evidence 'layer("dns")["evidence"]["system"]["hosts"] == ["10.99.2.53"] and layer("tcp")["evidence"]["target"] == "10.99.2.53:53"'
human=$(ip netns exec "$TC" "$EDGE" trace www.test:53 || true)
grep -qF "WARN hosts_override: /etc/hosts says www.test is 10.99.2.53, but the nameserver 10.99.2.53 says 10.99.2.2" <<<"$human" \
  || fail "no WARN line for the hosts override: $human"
pass "human output: WARN hosts_override"
netns_etc "$TC" hosts <<<$'127.0.0.1 localhost\n10.99.2.2 www.test'
expect_trace - ok 0 -- http://www.test:8090/big
evidence 't["verdict"]["warnings"] == [] and layer("dns")["evidence"]["system"]["source"] == "/etc/hosts"'
netns_etc "$TC" hosts <<<'127.0.0.1 localhost'
resolv_for_client /dev/stdin <<<$'nameserver 10.99.2.53\nsearch corp.test\noptions ndots:1 timeout:1 attempts:1'
ip netns exec "$TC" getent ahostsv4 api >/dev/null || fail "getent cannot resolve api through the search list"
expect_trace - ok 0 -- http://api:8095/
within 3
evidence 'layer("dns")["evidence"]["system"]["name"] == "api.corp.test" and "resolved as api.corp.test" in layer("dns")["summary"]'
evidence 'layer("dns")["evidence"]["system"]["source"] == "dns" and t["verdict"]["warnings"] == []'
resolv_for_client
