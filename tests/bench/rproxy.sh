#!/usr/bin/env bash
# edge rproxy against nginx and HAProxy as reverse proxies to the same nginx backend, one worker
# each, alternating in one run inside a namespace of its own:
#   HTTP keepalive requests/s and p99 latency (wrk), memory for idle keepalive client
#   connections (RSS growth), and TCP-mode throughput (iperf3) against HAProxy's mode tcp.
# Usage: tests/bench/rproxy.sh [EDGE_BINARY] [ROUNDS] [IDLE_CONNS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
rounds=${2:-3}
idle=${3:-10000}
source "$here/../integration/lib/harness.sh"
require_netns nginx haproxy wrk iperf3 python3
source "$here/../integration/lib/nginx_fixture.sh"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # root may raise it: HAProxy wants 2 per connection
export NGINX_WORKER_CONNECTIONS=$(( idle + 1000 ))
# HAProxy reserves two descriptors per connection and refuses to start when the hard limit
# cannot hold maxconn of them: on a machine capped at 20,000 it gets fewer idle clients.
hap_maxconn=$(( idle + 500 < ($(ulimit -Hn) - 100) / 2 ? idle + 500 : ($(ulimit -Hn) - 100) / 2 ))
hap_idle=$(( idle < hap_maxconn - 100 ? idle : hap_maxconn - 100 ))

netns_new ns bench
in_ns() { ip netns exec "$ns" "$@"; }

# The backend: nginx answering a small body, and an iperf3 server.
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  server {
    listen 127.0.0.1:19301;
    keepalive_requests 1000000;
    location / { return 200 \"hello from the backend\\n\"; }
  }"
bg "$ns" iperf3 -s -B 127.0.0.1 -p 19302
wait_for 10 tcp_listening "$ns" 19302 || fail "iperf3 server"

# The three proxies, one worker each.
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  upstream be { server 127.0.0.1:19301; keepalive 32; }
  server {
    listen 127.0.0.1:19311;
    keepalive_requests 1000000;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }"
NGINX_PROXY_PID=$NGINX_PID
cat >"$(tmpfile haproxy.cfg)" <<CFG
global
  nbthread 1
  maxconn $hap_maxconn
defaults
  timeout connect 3s
  timeout client 60s
  timeout server 60s
frontend http_in
  mode http
  bind 127.0.0.1:19312
  default_backend be_http
backend be_http
  mode http
  http-reuse always
  server b1 127.0.0.1:19301
frontend tcp_in
  mode tcp
  bind 127.0.0.1:19322
  default_backend be_tcp
backend be_tcp
  mode tcp
  server i1 127.0.0.1:19302
CFG
bg "$ns" haproxy -db -f "$(tmpfile haproxy.cfg)"
HAPROXY_PID=$BG_PID
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19310 --to 127.0.0.1:19301 --threads 1 --max-conns 100000
EDGE_PID=$BG_PID
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19320 --mode tcp --to 127.0.0.1:19302 --threads 1
for p in 19310 19311 19312 19320 19322; do wait_for 10 tcp_listening "$ns" $p || fail "port $p"; done

# wrk: requests/s and p99 (ms) for one proxy port.
run_wrk() {
  in_ns wrk -t1 -c50 -d5s --latency "http://127.0.0.1:$1/" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(rps, p99)'
}
for ((r = 0; r < rounds; r++)); do
  for who in edge:19310 nginx:19311 haproxy:19312; do
    run_wrk "${who#*:}" >>"$(tmpfile "http.${who%%:*}")"
  done
done

# Idle keepalive connections: RSS growth of each proxy while $idle clients sit connected.
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
idle_cost() {  # idle_cost PORT PID COUNT: KiB of RSS growth for COUNT idle connections
  local before after
  before=$(rss "$2")
  in_ns python3 - "$1" "$3" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if i % 2 == 0:  # half have sent one request and wait with the connection kept alive
        s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
        s.recv(4096)
    socks.append(s)
time.sleep(1)
open(f"/tmp/edge-bench-rss-{sys.argv[3]}", "w").write(open(f"/proc/{sys.argv[3]}/status").read())
PY
  after=$(awk '/VmRSS/ {print $2}' "/tmp/edge-bench-rss-$2"); rm -f "/tmp/edge-bench-rss-$2"
  echo $(( after - before ))
}
mem_edge=$(idle_cost 19310 "$EDGE_PID" "$idle")
mem_nginx=$(idle_cost 19311 "$NGINX_PROXY_PID" "$idle")
mem_haproxy=$(idle_cost 19312 "$HAPROXY_PID" "$hap_idle")

# TCP mode: iperf3 through edge and through HAProxy's mode tcp, alternating.
for ((r = 0; r < rounds; r++)); do
  for who in edge:19320 haproxy:19322; do
    in_ns iperf3 -c 127.0.0.1 -p "${who#*:}" -t 3 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9)' \
      >>"$(tmpfile "tcp.${who%%:*}")"
  done
done

python3 - "$(tmpfile http.edge)" "$(tmpfile http.nginx)" "$(tmpfile http.haproxy)" "$(tmpfile tcp.edge)" "$(tmpfile tcp.haproxy)" \
  "$mem_edge" "$mem_nginx" "$mem_haproxy" "$idle" "$hap_idle" <<'PY'
import statistics as st, sys
def rows(p): return [list(map(float, l.split())) for l in open(p)]
e, n, h = (rows(p) for p in sys.argv[1:4])
med = lambda rs, i: st.median(r[i] for r in rs)
print(f"HTTP keepalive, wrk -t1 -c50 -d5s, one worker each, median of {len(e)} alternating rounds")
print(f"{'proxy':<10} {'req/s':>10} {'p99 ms':>8}")
for name, rs in (("edge", e), ("nginx", n), ("haproxy", h)):
    print(f"{name:<10} {med(rs, 0):>10.0f} {med(rs, 1):>8.2f}")
print(f"ratios: req/s edge/nginx {med(e,0)/med(n,0):.2f}x, edge/haproxy {med(e,0)/med(h,0):.2f}x; "
      f"p99 edge/nginx {med(e,1)/med(n,1):.2f}x")
me, mn, mh, idle, hidle = map(int, sys.argv[6:11])
print(f"idle keepalive memory for {idle} connections: edge {me/1024:.1f} MiB, nginx {mn/1024:.1f} MiB, "
      f"haproxy {mh/1024:.1f} MiB (for {hidle}); edge/nginx {me/max(mn,1):.2f}x")
te = [float(l) for l in open(sys.argv[4])]; th = [float(l) for l in open(sys.argv[5])]
print(f"TCP mode iperf3: edge {st.median(te):.2f} Gbit/s, haproxy {st.median(th):.2f} Gbit/s, edge/haproxy {st.median(te)/st.median(th):.2f}x")
PY
