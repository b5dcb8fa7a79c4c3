#!/usr/bin/env bash
# edge nat against its peers, alternating in one run inside namespaces of its own:
#   1. the user engine as a TCP port-forwarder against socat (default, and -b 262144), rinetd and
#      HAProxy (mode tcp, one thread): iperf3 throughput and the forwarder's CPU seconds per GB
#      (socat forks per connection: its reaped children count);
#   2. the user engine as a UDP forwarder against socat: packets/s delivered (iperf3 -u, 64-byte
#      datagrams, unlimited rate; iperf3's control connection goes through a TCP rule beside it);
#   3. the kernel engine: throughput through a gateway namespace with edge's DNAT against plain
#      routing (no NAT) and against the same DNAT written by hand with nft; and how long edge
#      takes to put its rules in place and to remove them (its whole life, each round).
# Medians of the rounds, with the min-max spread, and edge's ratio to each peer per round.
# Usage: tests/bench/nat.sh [EDGE_BINARY] [ROUNDS] [SECONDS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
rounds=${2:-5}
secs=${3:-3}
source "$here/../integration/lib/harness.sh"
require_netns iperf3 socat haproxy python3 nft
source "$here/lib.sh"

# ---- 1, 2: userspace forwarders on one namespace's loopback ----------------------------------
netns_new ns natbench
bg "$ns" iperf3 -s -B 127.0.0.1 -p 19602
wait_for 10 tcp_listening "$ns" 19602 || fail "iperf3 server"
bg "$ns" "$EDGE" nat --engine user --interval 1h dnat --listen 127.0.0.1:19610 -p tcp --to 127.0.0.1:19602 \
  dnat --listen 127.0.0.1:19620 -p tcp --to 127.0.0.1:19602 dnat --listen 127.0.0.1:19620 -p udp --to 127.0.0.1:19602
EDGE_PID=$BG_PID
bg "$ns" socat TCP-LISTEN:19611,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:19602
SOCAT_PID=$BG_PID
bg "$ns" socat -b 262144 TCP-LISTEN:19612,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:19602
SOCAT_B_PID=$BG_PID
cat >"$(tmpfile haproxy.cfg)" <<CFG
global
  maxconn 1000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen fwd
  bind 127.0.0.1:19613
  server s1 127.0.0.1:19602
CFG
bg "$ns" haproxy -db -f "$(tmpfile haproxy.cfg)"
HAPROXY_PID=$BG_PID
peers="socat socat-b256k haproxy"
ports="19610 19611 19612 19613"
RINETD_PID=
if command -v rinetd >/dev/null; then
  echo "127.0.0.1 19614 127.0.0.1 19602" >"$(tmpfile rinetd.conf)"
  bg "$ns" rinetd -f -c "$(tmpfile rinetd.conf)"
  RINETD_PID=$BG_PID peers+=" rinetd" ports+=" 19614"
else
  echo "(rinetd is not installed: not measured)"
fi
# UDP through socat: a TCP and a UDP forwarder on one port (iperf3's control and data).
bg "$ns" socat TCP-LISTEN:19621,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:19602
# -T 2: a forked child ends after 2 s of silence (nothing else would end it once the parent goes).
bg "$ns" socat -T 2 UDP-LISTEN:19621,bind=127.0.0.1,fork,reuseaddr UDP:127.0.0.1:19602
SOCAT_U_PID=$BG_PID
for p in $ports 19620 19621; do wait_for 10 tcp_listening "$ns" $p || fail "port $p: $(cat "$BG_LOG")"; done

udp_pps() {  # iperf3 -J (UDP) on stdin: datagrams the server received per second
  python3 -c 'import json,sys; s=json.load(sys.stdin)["end"]["sum"]; print((s["packets"] - s["lost_packets"]) / s["seconds"])'
}
for ((r = 0; r < rounds; r++)); do
  for who in edge:19610:$EDGE_PID socat:19611:$SOCAT_PID socat-b256k:19612:$SOCAT_B_PID haproxy:19613:$HAPROXY_PID ${RINETD_PID:+rinetd:19614:$RINETD_PID}; do
    IFS=: read -r name port pid <<<"$who"
    before=$(cpu_tree_s "$pid")
    gbps=$(in_ns iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -J | iperf_result)
    sleep 0.2  # socat's child exits and is reaped: its CPU time joins the parent's
    echo "$gbps $(cpu_tree_s "$pid") $before" >>"$(tmpfile "fwd.$name")"
  done
  for who in edge:19620 socat:19621; do
    IFS=: read -r name port <<<"$who"
    in_ns iperf3 -c 127.0.0.1 -p "$port" -u -b 0 -l 64 -t "$secs" -J | udp_pps >>"$(tmpfile "udp.$name")"
    sleep 0.3
  done
done

# ---- 3: the kernel engine on a client / gateway / server topology ---------------------------
source "$here/../integration/lib/nat_topology.sh"
nat_topology nk
ip -n "$srv" route add default via 10.0.2.1
ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1
bg "$srv" iperf3 -s -p 5201
wait_for 10 tcp_listening "$srv" 5201 || fail "iperf3 server"
through() { ip netns exec "$cli" iperf3 -c "$1" -p "$2" -t "$secs" -J | iperf_result; }
now_ms() { date +%s%3N; }

for ((r = 0; r < rounds; r++)); do
  # Plain routing: the client reaches the server's own address; no NAT rule anywhere.
  gbps=$(through 10.0.2.2 5201)
  echo "${gbps%% *} 0 0" >>"$(tmpfile k.routing)"

  # edge: from launch to its rules loaded, the transfer, then SIGTERM to exit (table and flows gone).
  t0=$(now_ms)
  bg "$gw" "$EDGE" nat --interval 1h dnat -p tcp --port 8080 --to 10.0.2.2:5201
  pid=$BG_PID
  wait_for 10 grep -q 'flows marked' "$BG_LOG" || fail "edge nat: $(cat "$BG_LOG")"
  t1=$(now_ms)
  gbps=$(through 10.0.1.1 8080)
  t2=$(now_ms)
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  t3=$(now_ms)
  echo "${gbps%% *} $((t1 - t0)) $((t3 - t2))" >>"$(tmpfile k.edge)"

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
  gbps=$(through 10.0.1.1 8080)
  t2=$(now_ms)
  ip netns exec "$gw" nft delete table ip edge-t-plain
  t3=$(now_ms)
  echo "${gbps%% *} $((t1 - t0)) $((t3 - t2))" >>"$(tmpfile k.nft)"
done

python3 - "$here" "$(tmpfile .)" "$rounds" "$secs" "$peers" <<'PY'
import statistics as st, sys
sys.path.insert(0, sys.argv[1])
from summary import relay_lines, rows, spread
d, rounds, secs, peers = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split()
relay_lines(d, "fwd", ["edge"] + peers, f"user engine, TCP port-forward, {rounds} alternating rounds of iperf3 -t {secs}, one stream;")
u = {w: [x[0] for x in rows(d, f"udp.{w}")] for w in ("edge", "socat")}
print(f"user engine, UDP 64-byte datagrams delivered/s: " + ", ".join(f"{w} {st.median(v):.0f} ({spread(v)})" for w, v in u.items()) +
      f"; edge/socat {st.median(a / b for a, b in zip(u['edge'], u['socat'])):.2f}x")
k = {w: rows(d, f"k.{w}") for w in ("edge", "routing", "nft")}
g = lambda w: [x[0] for x in k[w]]
print(f"kernel engine, TCP through the gateway, Gbit/s: " + ", ".join(f"{w} {st.median(g(w)):.2f} ({spread(g(w), '.2f')})" for w in k) +
      f"; edge/routing {st.median(a / b for a, b in zip(g('edge'), g('routing'))):.2f}x, edge/nft {st.median(a / b for a, b in zip(g('edge'), g('nft'))):.2f}x")
print(f"kernel engine, ms to rules in place / gone: edge {st.median(x[1] for x in k['edge']):.0f} / {st.median(x[2] for x in k['edge']):.0f} "
      f"(process start and exit, sweeps included), nft -f {st.median(x[1] for x in k['nft']):.0f} / {st.median(x[2] for x in k['nft']):.0f}")
PY
