#!/usr/bin/env bash
# edge nat's kernel engine against the same DNAT written by hand with nft, on a client /
# gateway / server namespace topology of its own: iperf3 throughput through the gateway (the
# kernel forwards either way; this measures what edge's rules add: the mark, the counting
# chains), and how long the rules take to be in place and to go. Alternating rounds, edge
# started and stopped each round (its whole life), the nft table loaded and deleted likewise.
# Medians with the min-max spread.
# Usage: tests/bench/nat_kernel.sh [EDGE_BINARY] [ROUNDS] [SECONDS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
rounds=${2:-5}
secs=${3:-3}
source "$here/../integration/lib/harness.sh"
require_netns iperf3 nft python3
source "$here/lib.sh"

netns_new cli nkcli
netns_new gw nkgw
netns_new srv nksrv
ip link add "nk-$$-c" netns "$cli" type veth peer name g0 netns "$gw"
ip link add "nk-$$-s" netns "$srv" type veth peer name g1 netns "$gw"
ip -n "$cli" link set "nk-$$-c" name c0
ip -n "$srv" link set "nk-$$-s" name s0
ip -n "$cli" addr add 10.0.1.2/24 dev c0
ip -n "$gw" addr add 10.0.1.1/24 dev g0
ip -n "$gw" addr add 10.0.2.1/24 dev g1
ip -n "$srv" addr add 10.0.2.2/24 dev s0
for n in "$cli" "$gw" "$srv"; do for l in $(ip -n "$n" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do ip -n "$n" link set "$l" up; done; done
ip -n "$cli" route add default via 10.0.1.1
ip -n "$srv" route add default via 10.0.2.1
ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1
bg "$srv" iperf3 -s -p 5201
wait_for 10 tcp_listening "$srv" 5201 || fail "iperf3 server"

now_ms() { date +%s%3N; }
for ((r = 0; r < rounds; r++)); do
  # edge: from launch to its rules loaded, the transfer, then SIGTERM to exit (table and flows gone).
  t0=$(now_ms)
  bg "$gw" "$EDGE" nat --interval 1h dnat -p tcp --port 8080 --to 10.0.2.2:5201
  pid=$BG_PID
  wait_for 10 grep -q 'flows marked' "$BG_LOG" || fail "edge nat: $(cat "$BG_LOG")"
  t1=$(now_ms)
  gbps=$(ip netns exec "$cli" iperf3 -c 10.0.1.1 -p 8080 -t "$secs" -J | iperf_result)
  t2=$(now_ms)
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  t3=$(now_ms)
  echo "${gbps%% *} $((t1 - t0)) $((t3 - t2))" >>"$(tmpfile edge)"

  # By hand: the same DNAT in a plain table, loaded and deleted with nft.
  t0=$(now_ms)
  ip netns exec "$gw" nft -f - <<NFT
table ip edge-t-plain {
  chain pre {
    type nat hook prerouting priority dstnat;
    tcp dport 8080 dnat to 10.0.2.2:5201
  }
}
NFT
  t1=$(now_ms)
  gbps=$(ip netns exec "$cli" iperf3 -c 10.0.1.1 -p 8080 -t "$secs" -J | iperf_result)
  t2=$(now_ms)
  ip netns exec "$gw" nft delete table ip edge-t-plain
  t3=$(now_ms)
  echo "${gbps%% *} $((t1 - t0)) $((t3 - t2))" >>"$(tmpfile plain)"
done

python3 - "$(tmpfile edge)" "$(tmpfile plain)" "$rounds" "$secs" <<'PY'
import statistics, sys
rows = {n: [list(map(float, l.split())) for l in open(p)] for n, p in (("edge nat", sys.argv[1]), ("nft by hand", sys.argv[2]))}
print(f"DNAT through a gateway namespace, {sys.argv[3]} alternating rounds of iperf3 -t {sys.argv[4]}, one stream")
print(f"{'':12} {'Gbit/s median (min-max)':>26} {'rules in place ms':>18} {'rules gone ms':>14}")
for name, rs in rows.items():
    g = [r[0] for r in rs]
    print(f"{name:12} {statistics.median(g):>12.2f} ({min(g):.2f}-{max(g):.2f})      {statistics.median([r[1] for r in rs]):>12.0f} {statistics.median([r[2] for r in rs]):>14.0f}")
ratios = [e[0] / p[0] for e, p in zip(rows["edge nat"], rows["nft by hand"])]
print(f"edge/nft throughput per round: median {statistics.median(ratios):.2f}x (min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
PY
