#!/usr/bin/env bash
# `edge trace` against the upper layers broken on purpose: nginx serving expired,
# not-yet-valid, wrong-name, self-signed and incomplete-chain certificates, a TLS server that
# rejects the handshake, plain HTTP where TLS is expected, a server that never answers, nginx
# answering 502/503/504/404, and tinyproxy allowing, denying, asking for credentials and
# failing upstream, chosen through --proxy or the proxy environment variables.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nft python3 nginx tinyproxy socat openssl
source "$here/lib/trace_topology.sh"
source "$here/lib/nginx_fixture.sh"
source "$here/lib/tinyproxy_fixture.sh"
source "$here/lib/trace_expect.sh"
EDGE=$(realpath "$1")

topology_up
resolv_for_client
resolv_for "$TR"  # tinyproxy in r resolves www.test too
bg "$TS" python3 "$here/lib/dns_server.py" 10.99.2.53 53
wait_for 10 udp_listening "$TS" 53 || fail "dns_server.py did not start"
certs_make
CA=$CERTS/ca.pem
nginx_start "$TS" "$(nginx_tls_server 443 good)$(nginx_tls_server 8441 expired)$(nginx_tls_server 8442 notyet)
$(nginx_tls_server 8443 wrongname)$(nginx_tls_server 8444 selfsigned)$(nginx_tls_server 8445 nointer)
$(nginx_status_server 8080 200)$(nginx_status_server 8503 503)$(nginx_status_server 8404 404)
$(nginx_proxy_to 8502 127.0.0.1:9)$(nginx_proxy_to 8504 10.99.2.2:9999)
  server { listen 10.99.2.2:8446 ssl; ssl_reject_handshake on; }"
nft_in "$TS" 'chain in { type filter hook input priority 0; iifname "lo" tcp dport 9999 drop; tcp dport 9999 drop; }'
# A server that accepts and never says a word: TLS and HTTP must time out, not hang.
bg "$TS" socat TCP-LISTEN:8999,bind=10.99.2.2,fork,reuseaddr SYSTEM:'sleep 30'
wait_for 10 tcp_listening "$TS" 8999 || fail "socat did not start"
# A server whose head carries bytes that are not UTF-8 (obs-text) and a C1 control (CSI, U+009B).
printf 'HTTP/1.1 200 OK \xc2\x9b2J\r\nServer: ev\xffil\xc2\x9b2J\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' >"$(tmpfile hostile.http)"
bg "$TS" socat TCP-LISTEN:8998,bind=10.99.2.2,fork,reuseaddr SYSTEM:"cat $(tmpfile hostile.http); sleep 1"
wait_for 10 tcp_listening "$TS" 8998 || fail "socat did not start"

# tls: healthy, then each certificate problem, with the certificate described.
expect_trace - ok 0 -- --cacert "$CA" https://www.test/
evidence 'layer("tls")["evidence"]["certificate"]["days_left"] > 300 and layer("tls")["evidence"]["version"] in ("TLSv1.3", "TLSv1.2")'
evidence 'layer("http")["evidence"]["response"]["status"] == 200'
expect_trace - ok 0 -- --cacert "$CA" tls://www.test:443
evidence 'layer("http")["status"] == "skipped"'
expect_trace - ok 0 -- --cacert "$CA" https://10.99.2.2/
expect_trace tls cert_expired 61 -- --cacert "$CA" https://www.test:8441/
evidence 'layer("tls")["evidence"]["certificate"]["days_left"] < 0 and "expired" in layer("tls")["summary"] and "notAfter 2020-02-01" in layer("tls")["summary"]'
expect_trace tls cert_not_yet_valid 62 -- --cacert "$CA" https://www.test:8442/
expect_trace tls hostname_mismatch 63 -- --cacert "$CA" https://www.test:8443/
evidence '[e["code"] for e in layer("tls")["evidence"]["verify_errors"]] == [62]'
expect_trace tls self_signed 64 -- --cacert "$CA" https://www.test:8444/
expect_trace tls untrusted_chain 65 -- --cacert "$CA" https://www.test:8445/
expect_trace tls untrusted_chain 65 -- https://www.test/
expect_trace tls handshake_failure 66 -- --cacert "$CA" https://www.test:8446/
evidence '"alert" in layer("tls")["summary"]'
expect_trace tls protocol_mismatch 67 -- --cacert "$CA" https://www.test:8080/
expect_trace tls timeout 68 -- --timeout 1s --cacert "$CA" https://www.test:8999/

# http: the status codes a gateway answers with, and a server that never answers.
expect_trace http bad_gateway 71 -- http://www.test:8502/
expect_trace http service_unavailable 72 -- http://www.test:8503/
expect_trace http gateway_timeout 73 -- http://www.test:8504/
evidence 'layer("http")["evidence"]["response"]["first_byte_ms"] >= 900'
expect_trace http http_error 74 -- http://www.test:8404/missing
expect_trace http timeout 75 -- --timeout 1s http://www.test:8999/

# Whatever bytes a server sends, --json is valid UTF-8 JSON (expect_trace parses it strictly)
# and the human output carries no raw control or invalid bytes.
expect_trace - ok 0 -- http://www.test:8998/
evidence 'layer("http")["evidence"]["response"]["headers"]["server"] == "ev\ufffdil\u009b2J"'
human=$(ip netns exec "$TC" "$EDGE" trace http://www.test:8998/ || true)
# Raw 0x9b (C1 CSI, UTF-8 c2 9b) or 0xff would reach the terminal; octal 233 and 377 in od -b.
if od -An -b <<<"$human" | grep -qwE '233|377'; then fail "human trace output carries raw C1/invalid bytes: $human"; fi
grep -qF 'ev\xffil\xc2\x9b2J' <<<"$human" || fail "human output does not show the escaped Server header: $human"
pass "a server's invalid UTF-8 and C1 bytes: valid JSON, escaped human output"

# proxy: tinyproxy in r, picked by --proxy or by the environment.
tinyproxy_start "$TR" 10.99.1.1 3128
P=http://10.99.1.1:3128
expect_trace - ok 0 -- --proxy "$P" --cacert "$CA" https://www.test/
evidence 'layer("tcp")["status"] == "skipped" and layer("proxy")["evidence"]["response"]["status"] == 200'
expect_trace - ok 0 https_proxy="$P" -- --cacert "$CA" https://www.test/
evidence 'layer("proxy-config")["evidence"]["variable"] == "https_proxy"'
expect_trace - ok 0 http_proxy="$P" -- http://www.test:8080/
evidence 'layer("proxy")["status"] == "ok" and layer("http")["evidence"]["response"]["status"] == 200'
expect_trace - ok 0 https_proxy="$P" no_proxy=".test" -- --cacert "$CA" https://www.test/
evidence 'layer("proxy")["status"] == "skipped" and "no_proxy_match" in layer("proxy-config")["evidence"]'
expect_trace proxy proxy_denied 52 -- --proxy "$P" --cacert "$CA" https://www.test:8443/
expect_trace proxy proxy_upstream_error 54 -- --proxy "$P" http://www.test:9/
expect_trace proxy proxy_unreachable 51 -- --proxy http://10.99.1.1:3129 --cacert "$CA" https://www.test/
evidence 'layer("proxy")["evidence"]["tcp_cause"] == "refused"'
expect_trace proxy-config bad_proxy_url 11 https_proxy="http://10.99.1.1:99999" -- https://www.test/
tinyproxy_start_auth "$TR" 10.99.1.1 3130 edge secret
expect_trace proxy proxy_auth_required 53 -- --proxy http://10.99.1.1:3130 --cacert "$CA" https://www.test/
expect_trace proxy proxy_auth_required 53 -- --proxy http://10.99.1.1:3130 http://www.test:8080/
expect_trace - ok 0 -- --proxy http://edge:secret@10.99.1.1:3130 --cacert "$CA" https://www.test/
evidence 'layer("proxy")["evidence"]["credentials_sent"] is True'
expect_trace - ok 0 -- --proxy http://edge:secret@10.99.1.1:3130 http://www.test:8080/
expect_trace proxy proxy_denied 52 -- --proxy "$P" www.test:8080
evidence 'layer("proxy")["evidence"]["request"] == "CONNECT www.test:8080"'

# Through edge rproxy: a healthy path passes; a dead backend behind it is a bad_gateway whose
# Proxy-Status names the cause.
bg "$TS" "$EDGE" rproxy --listen 10.99.2.2:8600 --to 10.99.2.2:8080 --threads 1
bg "$TS" "$EDGE" rproxy --listen 10.99.2.2:8601 --to 10.99.2.2:8609 --threads 1
wait_for 10 tcp_listening "$TS" 8600 && wait_for 10 tcp_listening "$TS" 8601 || fail "edge rproxy did not start"
expect_trace - ok 0 -- http://www.test:8600/
evidence '"1.1 edge" in layer("http")["evidence"]["response"]["headers"].get("via", "")'
expect_trace http bad_gateway 71 -- http://www.test:8601/
evidence 'layer("http")["evidence"]["response"]["headers"]["proxy-status"].startswith("edge; error=connection_refused")'
