#!/usr/bin/env bash
# `edge trace`'s second ring: failures that half work. Each fixture is first shown to break a
# plain tool (curl, openssl s_client, getent), then traced; each verdict must come within 3 s
# of the trace's start (a wait: its timeout + 0.5 s).
#   tls   a server that resets or closes during the handshake (tls/reset); openssl s_server
#         and nginx wanting a client certificate (tls/client_cert_required), with --cert/--key
#         sending a good one and a rogue one (handshake_failure naming the refusal)
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nft python3 nginx openssl curl
source "$here/lib/trace_topology.sh"
source "$here/lib/nginx_fixture.sh"
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
