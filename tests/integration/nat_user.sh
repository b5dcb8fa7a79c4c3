#!/usr/bin/env bash
# `edge nat --engine user`, the rootless port-forwarder, run by an unprivileged user:
#   - as `nobody` with no capability, inside a namespace of the test's own: TCP forwarding (a
#     name as --to), 1 MiB both ways intact (sha256), a --listen port range onto one port, UDP
#     both ways, two UDP clients each getting only their own replies, a 65507-byte datagram
#     intact, --to-source (the server sees 127.0.0.2), `edge conntrack --origin edge` listing a
#     live forwarded flow, `edge nat status` listing the instance, a UDP session expiring after
#     --udp-timeout 1s (flows_now back to 0), SIGTERM: exit 0 and no listener left;
#   - --max-flows 2: the third flow refused (TCP closed at once, UDP dropped), each refusal
#     counted in the --json status line, a client admitted again once a slot is free;
#   - start failures: a --listen port already taken (TCP and UDP) and an unresolvable --to exit
#     1 naming them;
#   - `unshare -Urn` as nobody (a user namespace of its own, as a user would run it): forwarding
#     and `edge conntrack --origin edge` work there too.
# Traffic stays on the namespace's loopback.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/harness.sh"
require_netns python3 setpriv runuser unshare ss
EDGE=$(realpath "$1")
# nobody must reach the binary, and a fresh clone may sit in a 0700 directory (mktemp -d, as CI
# does): run a copy from a directory anyone can enter.
nobody_bin=$(mktemp -d /tmp/edge-t-bin.XXXXXX)
on_exit "rm -rf '$nobody_bin'"
chmod 755 "$nobody_bin"
cp "$EDGE" "$nobody_bin/edge"
EDGE=$nobody_bin/edge
cp "$here/lib/nat_peers.py" "$nobody_bin/"  # nobody runs it too (under unshare)
PEERS=$nobody_bin/nat_peers.py

netns_new ns natuser
ip -n "$ns" addr add 127.0.0.2/32 dev lo
netns_etc "$ns" hosts <<<$'127.0.0.1 localhost\n127.0.0.1 echo.test'
netns_etc "$ns" resolv.conf <<<$'nameserver 127.0.0.1\noptions timeout:1 attempts:1'

# The servers, as root; edge and its clients talk to them over the namespace's loopback.
bg "$ns" python3 "$PEERS" serve 19500 19501 19502
wait_for 10 tcp_listening "$ns" 19502 || fail "test servers did not start: $(cat "$BG_LOG")"

# nobody, no capability (not even inherited or bounding), in the test's namespace.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"; }
peer() { in_ns python3 "$PEERS" "$@"; }
# status_field LOG FIELD: FIELD of the last --json status line edge printed.
status_field() { python3 -c 'import json,sys; print(json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])[sys.argv[2]])' "$1" "$2"; }
status_is() { [ "$(status_field "$1" "$2")" = "$3" ]; }
start_edge() {  # start_edge PORT_TO_WAIT_FOR ARGS...: edge nat as nobody; E_PID, E_LOG
  local port=$1; shift
  bg "$ns" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$EDGE" nat --engine user "$@"
  E_PID=$BG_PID E_LOG=$BG_LOG
  wait_for 10 tcp_listening "$ns" "$port" || fail "edge nat did not start: $(cat "$E_LOG")"
}
stop_edge() {  # SIGTERM: exit 0, and none of its ports is still open
  kill -TERM "$E_PID"
  local rc=0; wait "$E_PID" || rc=$?
  [ "$rc" = 0 ] || fail "edge nat exited $rc on SIGTERM: $(cat "$E_LOG")"
  for p in "$@"; do
    [ -z "$(in_ns ss -Hltun "sport = :$p")" ] || fail "port $p still open after SIGTERM: $(in_ns ss -Hltun "sport = :$p")"
  done
}

# ---- Forwarding, as nobody ----------------------------------------------------------------
start_edge 18081 --json --interval 200ms --udp-timeout 1s \
  dnat --listen 18080 -p tcp --to echo.test:19500 \
  dnat --listen 127.0.0.1:18090-18091 -p tcp --to 127.0.0.1:19500 \
  dnat --listen 18053 -p udp --to 127.0.0.1:19501 \
  dnat --listen 18081 -p tcp --to 127.0.0.1:19502 --to-source 127.0.0.2 \
  dnat --listen 18082 -p tcp --to 127.0.0.1:19599
wait_for 10 udp_listening "$ns" 18053 || fail "no UDP listener: $(cat "$E_LOG")"
[ "$(awk '/^Uid:/ {print $3}' "/proc/$E_PID/status")" = 65534 ] || fail "edge does not run as nobody"
[ "$(awk '/^CapEff:/ {print $2}' "/proc/$E_PID/status")" = 0000000000000000 ] || fail "edge has capabilities"
grep -q "edge nat: user engine: .*18080" "$E_LOG" || fail "no rule line: $(cat "$E_LOG")"
grep -q "UDP sessions end after 1s" "$E_LOG" || fail "the UDP timeout in effect is not said: $(cat "$E_LOG")"
pass "starts as nobody without capabilities; says its rules and the UDP timeout"
st=$(in_ns setpriv --reuid=65534 --regid=65534 --clear-groups -- "$EDGE" nat status --json 2>"$(tmpfile status.err)")
[ ! -s "$(tmpfile status.err)" ] || fail "edge nat status (unprivileged) wrote to stderr: $(cat "$(tmpfile status.err)")"
echo "$st" | python3 -c '
import json, sys
i = [x for x in json.load(sys.stdin)["instances"] if x["pid"] == int(sys.argv[1])]
sys.exit(0 if i and i[0]["engine"] == "user" and len(i[0]["rules"]) == 5 else 1)' "$E_PID" || fail "edge nat status: $st"
pass "edge nat status lists the instance (user engine, its 5 rules)"

[ "$(peer echo 18080 ping)" = ping ] || fail "TCP echo through edge"
[ "$(peer echo6 18080 ping6)" = ping6 ] || fail "TCP echo from an IPv6 client through edge"
pass "TCP forwarded (--to a name; IPv4 and IPv6 clients)"
out=$(peer sha 18080); [ "$out" = same ] || fail "1 MiB through edge: $out"
pass "1 MiB both ways intact (sha256)"
[ "$(peer echo 18091 range)" = range ] || fail "the second port of a --listen range"
pass "a --listen port range forwards to one --to port"
[ "$(peer who 18081)" = "peer 127.0.0.2" ] || fail "--to-source: the server saw $(peer who 18081)"
pass "--to-source: the server sees 127.0.0.2"

[ "$(peer refused 18082)" = closed ] || fail "a connection to a closed target port was not closed"
wait_for 3 grep -q "tcp 18082: 127.0.0.1:19599 refused the connection" "$E_LOG" || fail "a refusing target is not reported: $(cat "$E_LOG")"
pass "a target that refuses: the client's connection closes, and stderr says why"

[ "$(peer udp 18053 hello)" = hello ] || fail "UDP echo through edge"
pass "UDP both ways"
[ "$(peer udp_two 18053)" = own ] || fail "two UDP clients got each other's replies"
pass "two UDP clients each get their own replies"
out=$(peer udp 18053 x 65507); [ "$out" = "65507 same" ] || fail "a 65507-byte datagram: $out"
pass "a 65507-byte datagram passes intact both ways"

# A live flow in edge conntrack, read by the same unprivileged user.
hold_log=$(tmpfile hold.log)
ip netns exec "$ns" python3 "$PEERS" hold 18080 8 >"$hold_log" &
hold_pid=$!
wait_for 5 grep -q held "$hold_log" || fail "held connection"
listing=$(in_ns setpriv --reuid=65534 --regid=65534 --clear-groups -- "$EDGE" conntrack list --origin edge --json)
echo "$listing" | python3 -c '
import json, sys
flows = json.loads(sys.stdin.read())
ok = any(f["proto"] == "tcp" and f["orig"]["dport"] == 18080 and f["reply"]["sport"] == 19500 for f in flows)
sys.exit(0 if ok else 1)' || fail "edge conntrack --origin edge does not list the forwarded flow: $listing"
kill "$hold_pid" 2>/dev/null; wait "$hold_pid" 2>/dev/null || true
pass "edge conntrack --origin edge lists a live forwarded flow"

# Every flow gone (TCP closed, UDP idle for --udp-timeout): flows_now back to 0.
wait_for 6 status_is "$E_LOG" flows_now 0 || fail "flows did not end: $(grep '^{' "$E_LOG" | tail -3)"
pass "UDP sessions expire after --udp-timeout 1s (flows_now 0)"
stop_edge 18080 18081 18082 18090 18091 18053
pass "SIGTERM: exit 0, no listener left"

# ---- --max-flows 2 ------------------------------------------------------------------------
start_edge 18180 --json --interval 200ms --max-flows 2 --udp-timeout 30s \
  dnat --listen 18180 -p tcp --to 127.0.0.1:19500 dnat --listen 18153 -p udp --to 127.0.0.1:19501
h1=$(tmpfile h1.log) h2=$(tmpfile h2.log)
ip netns exec "$ns" python3 "$PEERS" hold 18180 20 >"$h1" & h1_pid=$!
ip netns exec "$ns" python3 "$PEERS" hold 18180 20 >"$h2" & h2_pid=$!
wait_for 5 grep -q held "$h1" && wait_for 5 grep -q held "$h2" || fail "two flows under --max-flows 2"
[ "$(peer refused 18180)" = closed ] || fail "the third TCP connection was not closed"
[ "$(peer udp 18153 third)" = silence ] || fail "a UDP client over --max-flows got an answer"
wait_for 3 status_is "$E_LOG" refused 2 || fail "refusals not counted: $(grep '^{' "$E_LOG" | tail -1)"
kill -0 "$E_PID" || fail "edge died at --max-flows"
pass "--max-flows 2: the third flow refused (TCP closed, UDP dropped), each counted (refused 2)"
kill "$h1_pid"; wait "$h1_pid" 2>/dev/null || true
wait_for 3 status_is "$E_LOG" flows_now 1 || fail "a closed flow did not free its slot"
[ "$(peer udp 18153 again)" = again ] || fail "a UDP client is not admitted once a slot is free"
pass "a slot freed: a new client is admitted"
stop_edge 18180 18153  # with a TCP connection and a UDP session still open
kill "$h2_pid"; wait "$h2_pid" 2>/dev/null || true
pass "SIGTERM with flows open: exit 0, no listener left"

# ---- Start failures -----------------------------------------------------------------------
expect_exit1() {  # expect_exit1 WORDS ARGS...: edge nat ARGS exits 1 and says WORDS
  local words=$1; shift
  local rc=0 out
  out=$(in_ns setpriv --reuid=65534 --regid=65534 --clear-groups -- timeout 15 "$EDGE" nat --engine user "$@" 2>&1) || rc=$?
  [ "$rc" = 1 ] || fail "edge nat $* exited $rc, not 1: $out"
  echo "$out" | grep -q -- "$words" || fail "edge nat $*: no '$words' in: $out"
}
expect_exit1 "19502: the address is already in use" dnat --listen 18081 -p tcp --to 127.0.0.1:19500 dnat --listen 19502 -p tcp --to 127.0.0.1:19500
expect_exit1 "19501/udp: the address is already in use" dnat --listen 19501 -p udp --to 127.0.0.1:19500
expect_exit1 "nosuch.invalid: the name does not resolve" dnat --listen 18280 -p tcp --to nosuch.invalid:80
[ -z "$(in_ns ss -Hltn "sport = :18081")" ] || fail "a failed start left a listener"
pass "a port in use (TCP, UDP) and an unresolvable --to: exit 1 naming them"

# ---- unshare -Urn as nobody: a user namespace and network namespace of its own ------------
inner=$(cat <<'INNER'
set -euo pipefail
EDGE=$1 PEERS=$2
ip link set lo up
python3 "$PEERS" serve 19500 19501 19502 & srv=$!
"$EDGE" nat dnat --engine user --listen 18080 -p tcp --to 127.0.0.1:19500 >/dev/null 2>&1 & e=$!
trap 'kill $srv $e 2>/dev/null || true' EXIT
for _ in $(seq 50); do python3 "$PEERS" echo 18080 x >/dev/null 2>&1 && break; sleep 0.1; done
echo "echo: $(python3 "$PEERS" echo 18080 userns)"
python3 "$PEERS" hold 18080 5 >/dev/null & h=$!
sleep 0.5
"$EDGE" conntrack list --origin edge | grep -c ':18080' | sed 's/^/flows: /'
kill $h
kill -TERM $e; wait $e; echo "exit: $?"
INNER
)
out=$(runuser -u nobody -- timeout 30 unshare -Urn bash -s "$EDGE" "$PEERS" <<<"$inner" 2>&1) || fail "unshare -Urn: $out"
echo "$out" | grep -q "echo: userns" || fail "unshare -Urn: no forwarding: $out"
echo "$out" | grep -q "flows: 1" || fail "unshare -Urn: edge conntrack does not see the flow: $out"
echo "$out" | grep -q "exit: 0" || fail "unshare -Urn: SIGTERM did not exit 0: $out"
pass "unshare -Urn as nobody: forwarding, edge conntrack --origin edge, SIGTERM"
