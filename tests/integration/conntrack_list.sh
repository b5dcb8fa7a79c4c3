#!/usr/bin/env bash
# `edge conntrack list` against conntrack-tools in a namespace this test fills with real
# traffic (TCP over loopback, UDP, ICMP, ICMPv6) and with `conntrack -I` entries (TCP states,
# SNAT, DNAT, IPv6, marks): the JSON holds exactly the flows `conntrack -L` shows, field by
# field; every filter selects the same flows as the same filter in conntrack-tools; the /proc
# backend agrees with netlink; the human table shows the NAT.
source "$(dirname "$0")/lib/harness.sh"
require_netns conntrack nft python3 curl socat ping
EDGE=$(realpath "$1")
ORACLE="python3 $(dirname "$0")/lib/ct_oracle.py"

netns_new ns list
netns_track "$ns"
in_ns sysctl -qw net.netfilter.nf_conntrack_acct=1

# Real traffic: HTTP over loopback (TIME_WAIT afterwards), an unanswered UDP datagram, pings.
bg "$ns" python3 -m http.server --bind 127.0.0.1 18080 --directory "$(tmpfile .)"
wait_for 10 in_ns curl -fsS -o /dev/null http://127.0.0.1:18080/ || fail "http server did not start"
in_ns curl -fsS -o /dev/null http://127.0.0.1:18080/
echo hello | in_ns socat -u - UDP:127.0.0.1:15353
in_ns ping -c1 -W1 127.0.0.1 >/dev/null
in_ns ping -6 -c1 -W1 ::1 >/dev/null

# Entries of every kind conntrack-tools can insert.
ins() { in_ns conntrack -I "$@" -t 300 2>/dev/null || fail "conntrack -I $*"; }
ins -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED
ins -p tcp -s 10.0.0.3 -d 10.0.0.4 --sport 1001 --dport 443 --state TIME_WAIT -u SEEN_REPLY,ASSURED -m 0x10
ins -p tcp -s 10.0.1.7 -d 192.0.2.9 --sport 2000 --dport 22 --state SYN_SENT -m 0x1234
ins -p udp -s 10.0.1.5 -d 198.51.100.53 --sport 5000 --dport 53 --src-nat 203.0.113.1
ins -p tcp -s 10.0.1.42 -d 203.0.113.1 --sport 40000 --dport 443 --state ESTABLISHED -u SEEN_REPLY,ASSURED --dst-nat 10.0.2.80:8443
ins -p tcp -s 10.0.1.43 -d 198.51.100.80 --sport 40001 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED --src-nat 203.0.113.2
ins -p icmp -s 10.0.0.1 -d 10.0.0.9 --icmp-type 8 --icmp-code 0 --icmp-id 77
ins -p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1 --dport 2 --state ESTABLISHED -u SEEN_REPLY,ASSURED
ins -p udp -s 2001:db8::5 -d 2001:db8::53 --sport 5353 --dport 53

# Field by field: edge's JSON vs conntrack -L parsed by the oracle.
in_ns conntrack -L --src-nat -o id 2>/dev/null | $ORACLE idlist > "$(tmpfile snat)"
in_ns conntrack -L --dst-nat -o id 2>/dev/null | $ORACLE idlist > "$(tmpfile dnat)"
in_ns conntrack -L -o extended,id 2>/dev/null | $ORACLE flows "$(tmpfile snat)" "$(tmpfile dnat)" > "$(tmpfile oracle.json)"
"$EDGE" conntrack list --netns "$ns" --json > "$(tmpfile edge.json)"
$ORACLE compare "$(tmpfile edge.json)" "$(tmpfile oracle.json)" || fail "edge conntrack list --json differs from conntrack -L"
n=$($ORACLE ids < "$(tmpfile edge.json)" | wc -l)
[ "$n" -ge 12 ] || fail "expected at least 12 flows, got $n"
pass "list --json matches conntrack -L field by field ($n flows)"

# The /proc backend sees the same flows (no ids there: compare the tuples).
tuples() { python3 -c 'import json,sys; [print(f["proto"], f["orig"], f["reply"], f["nat"], f["mark"]) for f in json.load(sys.stdin)]' | sort; }
if [ -e /proc/net/nf_conntrack ] || in_ns test -e /proc/net/nf_conntrack; then
  diff <("$EDGE" conntrack list --netns "$ns" --json | tuples) <("$EDGE" conntrack list --netns "$ns" --backend proc --json | tuples) \
    || fail "--backend proc differs from netlink"
  pass "--backend proc agrees with netlink"
fi

# Every filter agrees with the same filter in conntrack-tools.
check_filter() {  # check_filter "EDGE FLAGS" "CONNTRACK FLAGS"
  local want got
  want=$(in_ns conntrack -L $2 -o id 2>/dev/null | $ORACLE idlist)
  got=$("$EDGE" conntrack list --netns "$ns" --json $1 | $ORACLE ids)
  [ "$want" = "$got" ] || fail "edge $1 selected [$got], conntrack -L $2 selected [$want]"
  [ -n "$got" ] || fail "filter $1 selected nothing: the test proves nothing"
  pass "filter '$1' = conntrack '$2' ($(wc -l <<<"$got") flows)"
}
check_filter "-p tcp" "-p tcp"
check_filter "-p udp" "-p udp"
check_filter "-p icmp" "-p icmp"
check_filter "--proto icmpv6" "-p icmpv6"
check_filter "-s 10.0.1.0/24" "-s 10.0.1.0/24"
check_filter "-d 203.0.113.1" "-d 203.0.113.1"
check_filter "-s 2001:db8::/32" "-s 2001:db8::/32"
check_filter "-p tcp --dport 443" "-p tcp --dport 443"
check_filter "-p tcp --sport 40000" "-p tcp --sport 40000"
check_filter "--state TIME_WAIT" "-p tcp --state TIME_WAIT"
check_filter "--state ESTABLISHED" "-p tcp --state ESTABLISHED"
check_filter "--mark 0x10" "-m 0x10"
check_filter "--mark 0x34/0xff" "-m 0x34/0xff"
check_filter "--nat snat" "--src-nat"
check_filter "--nat dnat" "--dst-nat"
check_filter "--nat any" "--any-nat"
check_filter "--family ipv6" "-f ipv6"

# A port range (conntrack-tools has none): 40000-40001 holds exactly the two NAT'd TCP flows.
got=$("$EDGE" conntrack list --netns "$ns" --json --sport 40000-40001 | python3 -c 'import json,sys; print(sorted(f["orig"]["sport"] for f in json.load(sys.stdin)))')
[ "$got" = "[40000, 40001]" ] || fail "--sport 40000-40001 gave $got"
pass "port range filter"

# --limit and --sort
[ "$("$EDGE" conntrack list --netns "$ns" --json --limit 3 | $ORACLE ids | wc -l)" = 3 ] || fail "--limit 3"
first=$("$EDGE" conntrack list --netns "$ns" --json --sort timeout | python3 -c 'import json,sys; t=[f["timeout"] for f in json.load(sys.stdin)]; print(t==sorted(t), len(t))')
[ "$first" = "True $n" ] || fail "--sort timeout is not ascending: $first"
top=$("$EDGE" conntrack list --netns "$ns" --json --sort bytes --limit 1 | python3 -c 'import json,sys; f=json.load(sys.stdin)[0]; print(f["proto"])')
[ "$top" = tcp ] || fail "--sort bytes: the heaviest flow should be the HTTP connection, got $top"
pass "--limit, --sort"

# The human table: a header, aligned columns, the NAT spelled out.
table=$("$EDGE" conntrack list --netns "$ns" --nat any)
head -1 <<<"$table" | grep -qE '^PROTO +STATE +FLOW +NAT +TIMEOUT +MARK +PKTS +BYTES +FLAGS$' || fail "header: $(head -1 <<<"$table")"
grep -qE 'udp +- +10\.0\.1\.5:5000 -> 198\.51\.100\.53:53 +SNAT 10\.0\.1\.5 -> 203\.0\.113\.1 ' <<<"$table" || fail "SNAT row missing: $table"
grep -qE 'tcp +ESTABLISHED +10\.0\.1\.42:40000 -> 203\.0\.113\.1:443 +DNAT :443 -> 10\.0\.2\.80:8443 ' <<<"$table" || fail "DNAT row missing: $table"
[ "$(wc -l <<<"$table")" = 4 ] || fail "--nat any should print 3 rows and a header: $table"
pass "human table"
