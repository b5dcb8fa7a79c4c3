#!/usr/bin/env bash
# `edge trace` against the lower layers broken on purpose in a client-router-server topology:
# a scripted DNS server answering NXDOMAIN/SERVFAIL/REFUSED/nothing, route types, a missing
# default route, a dead gateway, nft drop and reject variants on the router and in the
# client's own output chain, a closed port, and a full conntrack table. Each scenario asserts
# the verdict's layer, cause and exit code.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns nft python3 nginx conntrack
source "$here/lib/trace_topology.sh"
source "$here/lib/nginx_fixture.sh"
source "$here/lib/trace_expect.sh"
EDGE=$(realpath "$1")

topology_up
resolv_for_client
bg "$TS" python3 "$here/lib/dns_server.py" 10.99.2.53 53
wait_for 10 udp_listening "$TS" 53 || fail "dns_server.py did not start: $(cat "$BG_LOG")"
mkdir -p "$(tmpfile www)" && head -c 300000 /dev/urandom >"$(tmpfile www)/big"
NGINX_ADDRS="10.99.2.2 [fd99:2::2]" nginx_start "$TS" "$(nginx_status_server 8080 200)
  server {
    listen 10.99.2.2:8090;
    root $(tmpfile www);
  }"

# Healthy, by name and by address, both families.
expect_trace - ok 0 -- http://www.test:8080/
evidence 'layer("dns")["evidence"]["system"]["ipv4"] == ["10.99.2.2"] and layer("dns")["evidence"]["system"]["ipv6"] == ["fd99:2::2"]'
evidence 'layer("route")["evidence"]["gateway"] == "10.99.1.1" and layer("route")["evidence"]["interface"] == "c0"'
evidence 'layer("http")["evidence"]["response"]["status"] == 200 and layer("http")["evidence"]["response"]["headers"]["server"].startswith("nginx")'
expect_trace - ok 0 -- -6 http://www.test:8080/
evidence 'layer("tcp")["evidence"]["target"] == "[fd99:2::2]:8080"'
expect_trace - ok 0 -- 10.99.2.2:8080
# IPv4-mapped IPv6 is IPv4 for route, tcp and http (as for curl), not blamed on an IPv6 route.
expect_trace - ok 0 -- http://[::ffff:10.99.2.2]:8080/
evidence 'layer("route")["evidence"]["gateway"] == "10.99.1.1" and layer("tcp")["evidence"]["target"] == "10.99.2.2:8080"'
evidence 'layer("http")["evidence"]["response"]["status"] == 200'
expect_trace - ok 0 -- '[::ffff:10.99.2.2]:8080'
evidence 'layer("tcp")["evidence"]["target"] == "10.99.2.2:8080"'
evidence 'layer("dns")["status"] == "skipped" and layer("http")["status"] == "skipped"'

# dns: the response code getaddrinfo hides.
expect_trace dns nxdomain 21 -- http://nxdomain.test:8080/
evidence '"10.99.2.53" in layer("dns")["summary"]'
expect_trace dns servfail 23 -- http://servfail.test:8080/
expect_trace dns refused 24 -- http://refused.test:8080/
expect_trace dns timeout 25 -- --timeout 1500ms http://timeout.test:8080/
expect_trace dns nodata 22 -- -4 http://v6only.test:8080/
expect_trace dns nodata 22 -- http://nodata.test:8080/

# route: types, a missing default route, a dead gateway.
for type in blackhole:blackhole_route:34 prohibit:prohibit_route:33 unreachable:unreachable_route:32; do
  IFS=: read -r rt cause code <<<"$type"
  ip -n "$TC" route add "$rt" 10.99.2.2/32
  expect_trace route "$cause" "$code" -- http://10.99.2.2:8080/
  ip -n "$TC" route del "$rt" 10.99.2.2/32
done
ip -n "$TC" route del default
expect_trace route no_route 31 -- http://10.99.2.2:8080/
ip -n "$TC" route add default via 10.99.1.66
expect_trace route gateway_unreachable 35 -- --timeout 4s http://10.99.2.2:8080/
evidence 'layer("route")["evidence"]["next_hop"] == "10.99.1.66"'
ip -n "$TC" route replace default via 10.99.1.1

# tcp: an RST, the reject variants (and who sent them), silent drops remote and local.
expect_trace tcp refused 41 -- 10.99.2.2:81
evidence '"icmp" not in layer("tcp")["evidence"]'
nft_in "$TR" 'chain fw { type filter hook forward priority 0;
  tcp dport 82 reject
  tcp dport 83 reject with icmp type admin-prohibited
  tcp dport 84 reject with icmp type host-unreachable
  tcp dport 85 reject with icmp type net-unreachable
  tcp dport 86 drop
  meta nfproto ipv6 tcp dport 87 reject with icmpv6 type admin-prohibited
}'
expect_trace tcp port_unreachable 42 -- 10.99.2.2:82
evidence 'layer("tcp")["evidence"]["icmp"]["from"] == "10.99.1.1" and layer("tcp")["evidence"]["icmp"]["code"] == 3'
expect_trace tcp admin_prohibited 43 -- 10.99.2.2:83
expect_trace tcp host_unreachable 44 -- 10.99.2.2:84
expect_trace tcp net_unreachable 45 -- 10.99.2.2:85
expect_trace tcp timeout 46 -- --timeout 1s 10.99.2.2:86
evidence 'layer("tcp")["evidence"].get("syn_left_host") is True'
# --hops: the router answers for TTL 1, then silence: packets die after 10.99.1.1.
expect_trace tcp timeout 46 -- --timeout 1s --hops 10.99.2.2:86
evidence '[(h["ttl"], h["from"], h["what"]) for h in layer("tcp")["evidence"]["hops"]] == [(1, "10.99.1.1", "time_exceeded"), (2, None, "no_answer"), (3, None, "no_answer"), (4, None, "no_answer")]'
human=$(ip netns exec "$TC" "$EDGE" trace --timeout 1s --hops 10.99.2.2:86) || true  # exits 46, as asserted above
grep -q "packets die after hop 1 (10.99.1.1)" <<<"$human" || fail "--hops human line: $human"
expect_trace - ok 0 -- --hops http://10.99.2.2:8080/
evidence '[(h["ttl"], h["from"], h["what"]) for h in layer("tcp")["evidence"]["hops"]] == [(1, "10.99.1.1", "time_exceeded"), (2, "10.99.2.2", "reached")]'
# --capture: the probe's packets, as a pcap file with the SYN, the answer and the request.
expect_trace - ok 0 -- --capture "$(tmpfile probe.pcap)" http://10.99.2.2:8080/
evidence 't["capture"]["packets"] >= 6'
python3 - "$(tmpfile probe.pcap)" <<'PY' || fail "--capture did not write a pcap file"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert struct.unpack("<I", data[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d), "pcap magic"
n, off = 0, 24
while off + 16 <= len(data):
    incl = struct.unpack("<IIII", data[off:off + 16])[2]
    off += 16 + incl
    n += 1
assert n >= 6, n
print(f"ok: pcap holds {n} packets")
PY
expect_trace tcp admin_prohibited 43 -- -6 http://www.test:87/
evidence 'layer("tcp")["evidence"]["icmp"]["from"] == "fd99:1::1"'
nft_in "$TS" 'chain in { type filter hook input priority 0; tcp dport 88 reject with icmp type admin-prohibited; }'
expect_trace tcp admin_prohibited 43 -- 10.99.2.2:88
evidence 'layer("tcp")["evidence"]["icmp"]["from"] == "10.99.2.2"'
nft_in "$TC" 'chain out { type filter hook output priority 0; tcp dport 89 drop; }'
expect_trace tcp local_drop 47 -- --timeout 1s 10.99.2.2:89
evidence 'layer("tcp")["evidence"]["syn_left_host"] is False'

# --mtu: the router's link toward the client has a 1000-byte MTU and its ICMP "fragmentation
# needed" is filtered (the classic blackhole): the response stalls, and arrives whole when the
# MSS is clamped.
expect_trace - ok 0 -- --mtu http://10.99.2.2:8090/big
evidence 'layer("http")["evidence"]["mtu"]["first_attempt"]["bytes"] == 300000'
ip -n "$TR" link set r0 mtu 1000
nft_in "$TR" 'chain out { type filter hook output priority 0; icmp type destination-unreachable icmp code frag-needed drop; }'
expect_trace http mtu_blackhole 77 -- --mtu --timeout 1s http://10.99.2.2:8090/big
evidence 'layer("http")["evidence"]["mtu"]["retry"] == {"bytes": 300000, "complete": True} and layer("http")["evidence"]["mtu"]["retry_mss"] == 536'
ip -n "$TR" link set r0 mtu 1500

# A full conntrack table on the client: the SYN is dropped by this host's conntrack.
# The fill is bounded in count (nf_conntrack_max is the host's, up to 4M entries) and in time.
netns_track "$TC"
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -gt 4194304 ]; then
  [ "${EDGE_REQUIRE_NETNS:-0}" = 1 ] && fail "nf_conntrack_max=$max is too big to fill in a test (EDGE_REQUIRE_NETNS=1)"
  echo "skip: conntrack_full scenario: nf_conntrack_max=$max is too big to fill in a test"
else
  python3 -c "
for i in range($max):
    print(f'-I -p tcp -s 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} -d 198.51.100.1 --sport 40000 --dport 443 --state ESTABLISHED -t 600 -u SEEN_REPLY,ASSURED')
" >"$(tmpfile fill)"
  rc=0; timeout 300 ip netns exec "$TC" conntrack -R "$(tmpfile fill)" >/dev/null 2>&1 || rc=$?
  [ $rc -ne 124 ] || fail "filling the conntrack table took more than 300s"
  expect_trace tcp conntrack_full 48 -- --timeout 1s 10.99.2.2:8080
  evidence 'layer("tcp")["evidence"]["conntrack_drops_during_probe"] >= 1'
  timeout 120 ip netns exec "$TC" conntrack -F >/dev/null 2>&1 || true
fi
