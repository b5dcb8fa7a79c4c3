# The three-namespace topology `edge trace`'s tests break in many ways (sourced after
# harness.sh, bash): client c --veth-- router r --veth-- server s, dual stack, plus helpers to
# load nft rules into one namespace and to point the client's resolver at the scripted DNS
# server (dns_server.py) on 10.99.2.53.
#
#   c  c0 10.99.1.2/24 fd99:1::2/64   default via 10.99.1.1 / fd99:1::1
#   r  r0 10.99.1.1/24 fd99:1::1/64   forwarding on (v4 and v6)
#      r1 10.99.2.1/24 fd99:2::1/64
#   s  s0 10.99.2.2/24 10.99.2.53/24 fd99:2::2/64   default via 10.99.2.1 / fd99:2::1
#
# ICMP error rate limits are off in r and s so repeated probes get every answer. The veth
# interfaces are created inside the namespaces, so their names never meet the host's.

# The addresses, for the tests that source this file.
# shellcheck disable=SC2034
TOPO_C4=10.99.1.2 TOPO_R4C=10.99.1.1 TOPO_R4S=10.99.2.1 TOPO_S4=10.99.2.2 TOPO_DNS4=10.99.2.53
# shellcheck disable=SC2034
TOPO_C6=fd99:1::2 TOPO_R6C=fd99:1::1 TOPO_R6S=fd99:2::1 TOPO_S6=fd99:2::2

# topology_up: creates the namespaces (names in TC, TR, TS) and wires them as above.
topology_up() {
  netns_new TC c
  netns_new TR r
  netns_new TS s
  local ns
  for ns in "$TC" "$TR" "$TS"; do
    # No DAD for the link-local addresses either: while r1's is tentative the router sends no
    # neighbour solicitation for a forwarded packet, and the first v6 packet c -> s waits 1-2 s.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done
  # Distinct ifindexes: a veth whose ifindex equals its peer's (both 2 in fresh namespaces)
  # gets its carrier-up through the kernel's delayed linkwatch path (up to 1 s), and until then
  # IPv6 is not configured on it (the first neighbour solicitation goes unanswered).
  ip link add c0 index 10 netns "$TC" type veth peer name r0 index 11 netns "$TR"
  ip link add r1 index 12 netns "$TR" type veth peer name s0 index 13 netns "$TS"

  ip -n "$TC" addr add 10.99.1.2/24 dev c0
  ip -n "$TC" addr add fd99:1::2/64 dev c0 nodad
  ip -n "$TR" addr add 10.99.1.1/24 dev r0
  ip -n "$TR" addr add fd99:1::1/64 dev r0 nodad
  ip -n "$TR" addr add 10.99.2.1/24 dev r1
  ip -n "$TR" addr add fd99:2::1/64 dev r1 nodad
  ip -n "$TS" addr add 10.99.2.2/24 dev s0
  ip -n "$TS" addr add 10.99.2.53/24 dev s0
  ip -n "$TS" addr add fd99:2::2/64 dev s0 nodad
  ip netns exec "$TR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  for ns in "$TR" "$TS"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
  done
  ip -n "$TC" link set c0 up
  ip -n "$TR" link set r0 up
  ip -n "$TR" link set r1 up
  ip -n "$TS" link set s0 up

  ip -n "$TC" route add default via 10.99.1.1
  ip -n "$TC" -6 route add default via fd99:1::1
  ip -n "$TS" route add default via 10.99.2.1
  ip -n "$TS" -6 route add default via fd99:2::1

  # Ready when both families get through end to end (leaves neighbour entries behind).
  wait_for 5 ip netns exec "$TC" ping -c1 -W2 10.99.2.2 || fail "topology: no IPv4 path c -> s"
  wait_for 5 ip netns exec "$TC" ping -6 -c1 -W2 fd99:2::2 || fail "topology: no IPv6 path c -> s"
}

# nft_in NS 'RULESET': adds chains/rules (nft -f syntax, the body of a table) to table
# `inet edge-t-f` in NS; calls accumulate. E.g.
#   nft_in "$TR" 'chain fw { type filter hook forward priority 0; tcp dport 8443 drop; }'
# (`fwd` is an nft keyword: name chains fw, in, out. Put each chain on its own line.)
nft_in() {
  ip netns exec "$1" nft -f - <<NFT
table inet edge-t-f {
$2
}
NFT
}

# nft_clear NS: removes table inet edge-t-f from NS (no error when it does not exist).
nft_clear() {
  ip netns exec "$1" nft delete table inet edge-t-f 2>/dev/null || true
}

# resolv_for NS [FILE]: writes /etc/netns/NS/resolv.conf, which `ip netns exec NS` bind-mounts
# over /etc/resolv.conf (for commands started after this call): FILE's content, or by default
# `nameserver 10.99.2.53` and `options timeout:1 attempts:1`. Removed on exit. Without it a
# namespace uses the host's resolv.conf, whose servers these namespaces cannot reach.
resolv_for() {
  if [ $# -ge 2 ]; then
    netns_etc "$1" resolv.conf <"$2"
  else
    netns_etc "$1" resolv.conf <<<$'nameserver 10.99.2.53\noptions timeout:1 attempts:1'
  fi
}

# resolv_for_client [FILE]: resolv_for "$TC" [FILE].
resolv_for_client() { resolv_for "$TC" "$@"; }
