#!/usr/bin/env bash
# `edge nat`'s kernel engine on a three-namespace topology this test builds: client (cli),
# gateway (gw, where edge runs) and server (srv). The server has no route back to the client at
# first, so only SNAT makes replies work. Proves: SNAT/masquerade (the server sees the
# gateway's address; conntrack shows the translation and this instance's mark), DNAT TCP and
# UDP, a port range mapped one to one, hairpin, IPv6; after SIGINT, SIGTERM and SIGKILL no edge
# table is left; after SIGINT/SIGTERM no conntrack entry with its mark and ip_forward is back;
# two instances never touch each other's table or flows; a UDP flow that predates a DNAT rule
# (or a killed instance's rule) follows the new rule; --dry-run loads with nft -c -f -.
source "$(dirname "$0")/lib/harness.sh"
require_netns nft conntrack socat python3
EDGE=$(realpath "$1")

source "$(dirname "$0")/lib/nat_topology.sh"
nat_topology e
ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
netns_track "$gw"

# Servers: TCP answers with the address it sees the client as; UDP answers with its own name.
bg "$srv" socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo peer=$SOCAT_PEERADDR'
bg "$srv" socat TCP-LISTEN:81,fork,reuseaddr SYSTEM:'echo port=$SOCAT_PEERPORT'
bg "$srv" socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=1 SYSTEM:'echo peer=$SOCAT_PEERADDR'
bg "$srv" socat UDP-RECVFROM:7000,bind=10.0.2.2,fork SYSTEM:'echo udp=7000'
bg "$srv" socat UDP-RECVFROM:7001,bind=10.0.2.2,fork SYSTEM:'echo udp=7001'
bg "$srv" socat UDP-RECVFROM:53,bind=10.0.2.2,fork SYSTEM:'echo server=A'
bg "$srv" socat UDP-RECVFROM:53,bind=10.0.2.3,fork SYSTEM:'echo server=B'
wait_for 10 tcp_listening "$srv" 80 || fail "server did not start"
wait_for 10 udp_listening "$srv" 53 || fail "udp server did not start"

tcp_get() { ip netns exec "$1" timeout 3 socat -T2 - "TCP:$2" </dev/null 2>/dev/null || true; }
udp_ask() { echo q | ip netns exec "$1" timeout 3 socat -T1 - "UDP:$2${3:+,sourceport=$3}" 2>/dev/null || true; }
edge_tables() { ip netns exec "$gw" nft list tables | grep -c 'edge_' || true; }
marked() { ip netns exec "$gw" conntrack -L -m "$1" 2>/dev/null | grep -c . || true; }
fwd() { ip netns exec "$gw" sysctl -n net.ipv4.ip_forward; }

# start_edge ARGS...: edge nat in gw, waits for its table; EDGE_PID, EDGE_LOG, MARK.
# (Lines edge prints after its start line, the sweeps' and warnings', are waited for too.)
start_edge() {
  bg "$gw" "$EDGE" nat "$@" --json
  EDGE_PID=$BG_PID EDGE_LOG=$BG_LOG
  wait_for 10 grep -q 'flows marked' "$EDGE_LOG" || { cat "$EDGE_LOG"; fail "edge nat $* did not start"; }
  MARK=$(grep -o 'flows marked 0x[0-9a-f]*' "$EDGE_LOG" | awk '{print $3}')
}
stop_edge() {  # SIGNAL: waits for the exit and checks the status
  kill "-$1" "$EDGE_PID"
  local rc=0
  wait "$EDGE_PID" || rc=$?
  if [ "$1" != KILL ] && [ "$rc" != 0 ]; then cat "$EDGE_LOG"; fail "edge nat exited $rc on SIG$1"; fi
}

# --dry-run: loadable by nft, and changes nothing.
ip netns exec "$gw" "$EDGE" nat snat --out g1 dnat -p udp --port 9000-9001 --to 10.0.2.2:7000-7001 --hairpin --dry-run >"$(tmpfile dry.nft)"
ip netns exec "$gw" nft -c -f "$(tmpfile dry.nft)" || fail "--dry-run output does not load with nft -c"
grep -q '^# iptables -t nat -A POSTROUTING -o g1 -j MASQUERADE' "$(tmpfile dry.nft)" || fail "--dry-run lacks the iptables equivalent"
[ "$(edge_tables)" = 0 ] || fail "--dry-run loaded a table"
pass "--dry-run prints a ruleset nft accepts, and the iptables equivalent; nothing loaded"

# SNAT (masquerade): without it the server cannot answer; with it, it sees the gateway.
[ -z "$(tcp_get "$cli" 10.0.2.2:80)" ] || fail "traffic passed before any rule (forwarding off)"
start_edge snat --out g1
[ "$(fwd)" = 1 ] || fail "ip_forward not turned on"
out=$(tcp_get "$cli" 10.0.2.2:80)
[ "$out" = "peer=10.0.2.1" ] || fail "SNAT: server saw '$out', expected the gateway 10.0.2.1"
ip netns exec "$gw" conntrack -L -p tcp --dport 80 -m "$MARK" 2>/dev/null | grep -q 'src=10.0.2.2 dst=10.0.2.1' || fail "conntrack shows no SNAT entry with mark $MARK"
out=$(tcp_get "$cli" '[fd02::2]:80')
[ "$out" = "peer=[fd02:0000:0000:0000:0000:0000:0000:0001]" ] || fail "NAT66 (snat covers both families): server saw '$out'"
[ "$(ip netns exec "$gw" sysctl -n net.ipv6.conf.all.forwarding)" = 1 ] || fail "ipv6 forwarding not turned on"
"$EDGE" nat status --json >"$(tmpfile status.json)"
python3 - "$(tmpfile status.json)" "$EDGE_PID" <<'PY' || fail "edge nat status does not list the instance"
import json, sys
d = json.load(open(sys.argv[1]))
assert any(i["pid"] == int(sys.argv[2]) and i["engine"] == "kernel" and "snat out g1 -> masquerade" in i["rules"] for i in d["instances"]), d
PY
stop_edge INT
[ "$(edge_tables)" = 0 ] || fail "a table is left after SIGINT"
[ "$(marked "$MARK")" = 0 ] || fail "conntrack entries with mark $MARK left after SIGINT"
[ "$(fwd)" = 0 ] || fail "ip_forward not put back to 0 after SIGINT"
[ "$(ip netns exec "$gw" sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] || fail "ipv6 forwarding not put back after SIGINT"
[ -z "$(tcp_get "$cli" 10.0.2.2:80)" ] || fail "SNAT still works after edge exited"
pass "snat/masquerade (IPv4 and IPv6): the server sees the gateway; SIGINT removes table, marked flows, forwarding"

# SNAT to an explicit source address and port range.
ip -n "$gw" addr add 10.0.2.9/24 dev g1
start_edge snat --out g1 --src 10.0.1.0/24 --to-source 10.0.2.9:20000-20100
out=$(tcp_get "$cli" 10.0.2.2:80)
[ "$out" = "peer=10.0.2.9" ] || fail "--to-source: server saw '$out'"
port=$(tcp_get "$cli" 10.0.2.2:81)
port=${port#port=}
[ "$port" -ge 20000 ] && [ "$port" -le 20100 ] || fail "--to-source port $port outside 20000-20100"
stop_edge TERM
[ "$(edge_tables)" = 0 ] && [ "$(marked "$MARK")" = 0 ] || fail "SIGTERM left a table or marked flows"
pass "snat --to-source ADDR:PORT-PORT (source port $port); SIGTERM cleans up"

# DNAT needs the server to route back to the client through the gateway.
ip -n "$srv" route add default via 10.0.2.1
ip -n "$srv" -6 route add default via fd02::1

start_edge dnat -p tcp --port 8080 --to 10.0.2.2:80 dnat -p udp --port 9000-9001 --to 10.0.2.2:7000-7001 dnat -p tcp --port 8080 --to '[fd02::2]:80'
out=$(tcp_get "$cli" 10.0.1.1:8080)
[ "$out" = "peer=10.0.1.2" ] || fail "DNAT tcp: got '$out'"
[ "$(udp_ask "$cli" 10.0.1.1:9000)" = "udp=7000" ] || fail "DNAT udp range: 9000 did not reach 7000"
[ "$(udp_ask "$cli" 10.0.1.1:9001)" = "udp=7001" ] || fail "DNAT udp range: 9001 did not reach 7001 (one to one)"
out=$(tcp_get "$cli" '[fd01::1]:8080')
[[ "$out" == "peer=[fd01:0000:0000:0000:0000:0000:0000:0002]" ]] || fail "DNAT IPv6: got '$out'"
grep -q '"flows_total":[1-9]' "$EDGE_LOG" || sleep 1.5
grep -q '"flows_total":[1-9]' "$EDGE_LOG" || fail "status line never counted a flow: $(tail -2 "$EDGE_LOG")"
stop_edge TERM
[ "$(edge_tables)" = 0 ] && [ "$(marked "$MARK")" = 0 ] || fail "SIGTERM left a table or marked flows"
pass "dnat tcp, udp range 9000-9001 -> 7000-7001 one to one, IPv6 [fd02::2]:80; status counts flows"

# Hairpin: the server itself uses the gateway's public address. Without --hairpin its reply goes
# straight back (wrong source), with it the gateway SNATs and the exchange works.
start_edge dnat -p tcp --port 8080 --to 10.0.2.2:80
[ -z "$(tcp_get "$srv" 10.0.1.1:8080)" ] || fail "hairpin worked without --hairpin (the test proves nothing)"
stop_edge TERM
start_edge dnat -p tcp --port 8080 --to 10.0.2.2:80 --hairpin
out=$(tcp_get "$srv" 10.0.1.1:8080)
[ "$out" = "peer=10.0.2.1" ] || fail "hairpin: got '$out'"
stop_edge TERM
pass "--hairpin: a client on the target's subnet reaches it through the public address"

# A UDP flow that began before the rule (unanswered, so tracked) follows the new DNAT rule.
ip netns exec "$cli" python3 - <<'PY' >"$(tmpfile udp_before)" &
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.2", 45000)); s.settimeout(0.3)
seen = []
for _ in range(40):
    s.sendto(b"q", ("10.0.1.1", 5300))
    try:
        seen.append(s.recv(100).decode().strip())
    except socket.timeout:
        pass
print(" ".join(seen))
PY
UDP_CLIENT=$!
sleep 1
ip netns exec "$gw" conntrack -L -p udp --dport 5300 2>/dev/null | grep -q 'sport=45000' || fail "the early UDP flow is not tracked"
start_edge dnat -p udp --port 5300 --to 10.0.2.3:53
wait_for 5 grep -q 'began before the dnat rules' "$EDGE_LOG" || fail "the pre-existing UDP entry was not deleted"
wait "$UDP_CLIENT"
grep -q 'server=B' "$(tmpfile udp_before)" || fail "the early UDP flow never reached the new rule's target: $(cat "$(tmpfile udp_before)")"
stop_edge TERM
pass "a UDP flow that predates the dnat rule is deleted and follows it"

# SIGKILL: the kernel drops the owned table; the marked flow stays until the next start
# sweeps it (then the same client's packets reach the new target); flush restores forwarding.
start_edge dnat -p udp --port 5300 --to 10.0.2.2:53
[ "$(udp_ask "$cli" 10.0.1.1:5300 46000)" = "server=A" ] || fail "DNAT to A failed"
OLD_MARK=$MARK
stop_edge KILL
sleep 0.3
[ "$(edge_tables)" = 0 ] || fail "a table is left after SIGKILL"
[ "$(marked "$OLD_MARK")" -ge 1 ] || fail "expected the killed instance's flow to remain (nothing can run on SIGKILL)"
[ "$(fwd)" = 1 ] || fail "forwarding expected still on after SIGKILL"
start_edge dnat -p udp --port 5300 --to 10.0.2.3:53
wait_for 5 grep -q 'left by an edge nat that was killed' "$EDGE_LOG" || fail "the killed instance's flows were not swept"
[ "$(marked "$OLD_MARK")" = 0 ] || fail "the killed instance's mark is still in conntrack"
[ "$(udp_ask "$cli" 10.0.1.1:5300 46000)" = "server=B" ] || fail "after restart with --to B the same UDP flow still reached A"
stop_edge TERM
[ "$(fwd)" = 0 ] || fail "forwarding not put back after the restart's clean exit"
start_edge snat --out g1
stop_edge KILL
[ "$(fwd)" = 1 ] || fail "forwarding expected on after SIGKILL"
ip netns exec "$gw" "$EDGE" nat flush 2>"$(tmpfile flush.err)" || fail "edge nat flush failed: $(cat "$(tmpfile flush.err)")"
[ "$(fwd)" = 0 ] || fail "edge nat flush did not put forwarding back"
pass "SIGKILL: table gone at once; marks swept and forwarding restored by the next start or flush"

# Two instances side by side: stopping one leaves the other's table and flows.
start_edge snat --out g1
A_PID=$EDGE_PID A_LOG=$EDGE_LOG A_MARK=$MARK
start_edge dnat -p tcp --port 8080 --to 10.0.2.2:80
B_PID=$EDGE_PID B_MARK=$MARK
[ "$(edge_tables)" = 2 ] || fail "expected two edge tables"
ip netns exec "$cli" socat -T5 - TCP:10.0.1.1:8080 </dev/null >/dev/null 2>&1 &
sleep 0.5
[ "$(marked "$B_MARK")" -ge 1 ] || fail "B's flow is not marked"
"$EDGE" nat status --json >"$(tmpfile status2.json)"
python3 - "$(tmpfile status2.json)" "$B_PID" <<'PY' || fail "edge nat status does not count B's live flow"
import json, sys
d = json.load(open(sys.argv[1]))
b = [i for i in d["instances"] if i["pid"] == int(sys.argv[2])]
assert b and b[0]["flows_now"] >= 1, d
PY
EDGE_PID=$A_PID EDGE_LOG=$A_LOG
stop_edge TERM
[ "$(edge_tables)" = 1 ] || fail "stopping A removed B's table"
[ "$(marked "$B_MARK")" -ge 1 ] || fail "stopping A deleted B's flows"
[ "$(fwd)" = 1 ] || fail "stopping A turned forwarding off under B"
[ "$(tcp_get "$cli" 10.0.1.1:8080)" = "peer=10.0.1.2" ] || fail "B stopped working when A exited"
EDGE_PID=$B_PID
stop_edge TERM
[ "$(edge_tables)" = 0 ] && [ "$(fwd)" = 0 ] || fail "after both exited: tables or forwarding left"
pass "two instances: each removes only its own table and flows; forwarding goes back after the last"

# Another table's forward chain with policy drop wins over edge's accept: the start says so.
ip netns exec "$gw" nft add table inet edge-t-fw
ip netns exec "$gw" nft add chain inet edge-t-fw forward_drop '{ type filter hook forward priority 0; policy drop; }'
start_edge snat --out g1
wait_for 5 grep -q 'WARNING: table inet edge-t-fw drops forwarded traffic by default' "$EDGE_LOG" || fail "no warning about another table's forward drop policy"
[ -z "$(tcp_get "$cli" 10.0.2.2:80)" ] || fail "traffic passed a forward drop policy (the warning would be wrong)"
stop_edge TERM
ip netns exec "$gw" nft delete table inet edge-t-fw
pass "a forward drop policy in another table is named at start"

# --persist outlives edge; flush removes it.
"$EDGE" nat --netns "$gw" snat --out g1 --persist 2>"$(tmpfile persist.err)" || fail "--persist failed: $(cat "$(tmpfile persist.err)")"
ip netns exec "$gw" nft list tables | grep -q edge_persist_ || fail "--persist left no table"
[ "$(tcp_get "$cli" 10.0.2.2:80)" = "peer=10.0.2.1" ] || fail "persisted snat does not work"
ip netns exec "$gw" "$EDGE" nat flush 2>/dev/null
[ "$(edge_tables)" = 0 ] || fail "flush left a persisted table"
pass "--persist loads a table that stays; edge nat flush removes it"

# Bad input: exit 2 before anything is loaded.
for bad in "snat --out nosuch0" "dnat -p tcp --port 0 --to 10.0.2.2" "dnat -p tcp --port 90-80 --to 10.0.2.2" \
           "dnat -p tcp --port 80 --dst 10.0.1.1 --to fd02::2" "dnat -p sctp --port 80 --to 10.0.2.2" \
           "dnat -p tcp --port 80-81 --to 10.0.2.2:90-92" "snat --out g1 --src 10.0.0.0/8 --to-source fd02::1"; do
  rc=0
  ip netns exec "$gw" "$EDGE" nat $bad 2>"$(tmpfile bad.err)" || rc=$?
  [ "$rc" = 2 ] || fail "'edge nat $bad' exited $rc, expected 2"
  [ "$(wc -l <"$(tmpfile bad.err)")" = 1 ] || fail "'edge nat $bad' printed more than one line"
done
[ "$(edge_tables)" = 0 ] || fail "a bad rule loaded a table"
pass "bad input exits 2 with one line, nothing loaded"

# Without CAP_NET_ADMIN: kernel rules exit 3 naming the capability, and dnat suggests the user engine.
rc=0
ip netns exec "$gw" setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all "$EDGE" nat snat --out g1 2>"$(tmpfile np.err)" || rc=$?
[ "$rc" = 3 ] && grep -q CAP_NET_ADMIN "$(tmpfile np.err)" || fail "unprivileged snat: exit $rc, $(cat "$(tmpfile np.err)")"
rc=0
ip netns exec "$gw" setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all "$EDGE" nat dnat -p tcp --port 80 --to 10.0.2.2 2>"$(tmpfile np.err)" || rc=$?
[ "$rc" = 3 ] && grep -q -- '--engine user --listen' "$(tmpfile np.err)" || fail "unprivileged dnat: exit $rc, $(cat "$(tmpfile np.err)")"
pass "without CAP_NET_ADMIN: exit 3 naming the capability; dnat suggests --engine user --listen"
