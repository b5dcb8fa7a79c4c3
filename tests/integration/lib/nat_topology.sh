# The client / gateway / server topology edge nat's test and bench use (sourced after the
# harness): sets $cli, $gw, $srv. cli c0 10.0.1.2/24 fd01::2/64, default via the gateway;
# gw g0 10.0.1.1/24 fd01::1/64 and g1 10.0.2.1/24 fd02::1/64; srv s0 10.0.2.2/24 10.0.2.3/24
# fd02::2/64 with no route back to the client (the caller adds one when it wants one).
nat_topology() {
  netns_new cli "${1}cli"
  netns_new gw "${1}gw"
  netns_new srv "${1}srv"
  ip link add "$1-$$-c" netns "$cli" type veth peer name g0 netns "$gw"
  ip link add "$1-$$-s" netns "$srv" type veth peer name g1 netns "$gw"
  ip -n "$cli" link set "$1-$$-c" name c0
  ip -n "$srv" link set "$1-$$-s" name s0
  ip -n "$cli" addr add 10.0.1.2/24 dev c0
  ip -n "$cli" addr add fd01::2/64 dev c0 nodad
  ip -n "$gw" addr add 10.0.1.1/24 dev g0
  ip -n "$gw" addr add fd01::1/64 dev g0 nodad
  ip -n "$gw" addr add 10.0.2.1/24 dev g1
  ip -n "$gw" addr add fd02::1/64 dev g1 nodad
  ip -n "$srv" addr add 10.0.2.2/24 dev s0
  ip -n "$srv" addr add 10.0.2.3/24 dev s0
  ip -n "$srv" addr add fd02::2/64 dev s0 nodad
  local n l
  for n in "$cli" "$gw" "$srv"; do
    for l in $(ip -n "$n" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do ip -n "$n" link set "$l" up; done
  done
  ip -n "$cli" route add default via 10.0.1.1
  ip -n "$cli" -6 route add default via fd01::1
}
