#!/usr/bin/env bash
# edge nat's user engine against socat as TCP port-forwarders (socat default, and with
# -b 262144, its larger copy buffer), alternating in one run inside a namespace of its own:
# iperf3 throughput through each to the same iperf3 server, and the forwarder's CPU seconds per
# GB carried (socat forks per connection: its reaped children count). Medians of the rounds,
# with the min-max spread, and edge's ratio to each per round.
# Usage: tests/bench/nat_user.sh [EDGE_BINARY] [ROUNDS] [SECONDS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
rounds=${2:-5}
secs=${3:-3}
source "$here/../integration/lib/harness.sh"
require_netns iperf3 socat python3
source "$here/lib.sh"

netns_new ns natbench
bg "$ns" iperf3 -s -B 127.0.0.1 -p 19602
wait_for 10 tcp_listening "$ns" 19602 || fail "iperf3 server"
bg "$ns" "$EDGE" nat --engine user --interval 1h dnat --listen 127.0.0.1:19610 -p tcp --to 127.0.0.1:19602
EDGE_PID=$BG_PID
bg "$ns" socat TCP-LISTEN:19611,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:19602
SOCAT_PID=$BG_PID
bg "$ns" socat -b 262144 TCP-LISTEN:19612,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:19602
SOCAT_B_PID=$BG_PID
for p in 19610 19611 19612; do wait_for 10 tcp_listening "$ns" $p || fail "port $p: $(cat "$BG_LOG")"; done

for ((r = 0; r < rounds; r++)); do
  for who in edge:19610:$EDGE_PID socat:19611:$SOCAT_PID socat-b256k:19612:$SOCAT_B_PID; do
    IFS=: read -r name port pid <<<"$who"
    before=$(cpu_tree_s "$pid")
    gbps=$(in_ns iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -J | iperf_result)
    sleep 0.2  # socat's child exits and is reaped: its CPU time joins the parent's
    echo "$gbps $(cpu_tree_s "$pid") $before" >>"$(tmpfile "fwd.$name")"
  done
done

python3 - "$here" "$(tmpfile .)" "$rounds" "$secs" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from summary import relay_lines
relay_lines(sys.argv[2], "fwd", ["edge", "socat", "socat-b256k"],
            f"TCP port-forward, {sys.argv[3]} alternating rounds of iperf3 -t {sys.argv[4]}, one stream;")
PY
