#!/usr/bin/env bash
# edge rproxy against nginx and HAProxy as reverse proxies to the same nginx backend, one worker
# each, alternating in one run inside a namespace of its own:
#   HTTP keepalive requests/s and p99 latency (wrk) for the bodies users send: a tiny, a 1 KiB
#   (also with 500 connections), a 64 KiB and a 1 MiB response, and a 1 MiB upload; memory for
#   idle keepalive client connections (RSS growth); TCP-mode throughput (iperf3) and CPU
#   seconds per GB against HAProxy's mode tcp. Medians of the rounds, with min-max spread.
# Usage: tests/bench/rproxy.sh [EDGE_BINARY] [ROUNDS] [IDLE_CONNS] [SECONDS]   (root)
# BENCH_CASES="tiny 64k" limits the HTTP cases.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
rounds=${2:-3}
idle=${3:-10000}
secs=${4:-4}
cases=(${BENCH_CASES:-tiny 1k 1k-c500 64k 1m upload-1m})
source "$here/../integration/lib/harness.sh"
require_netns nginx haproxy wrk iperf3 python3
source "$here/../integration/lib/nginx_fixture.sh"
source "$here/lib.sh"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"  # root may raise it: HAProxy wants 2 per connection
export NGINX_WORKER_CONNECTIONS=$(( idle + 1000 ))
# HAProxy reserves two descriptors per connection and refuses to start when the hard limit
# cannot hold maxconn of them: on a machine capped at 20,000 it gets fewer idle clients.
hap_maxconn=$(( idle + 500 < ($(ulimit -Hn) - 100) / 2 ? idle + 500 : ($(ulimit -Hn) - 100) / 2 ))
hap_idle=$(( idle < hap_maxconn - 100 ? idle : hap_maxconn - 100 ))

netns_new ns bench

# The backend: nginx answering a small body at /, files of each size, uploads discarded; and
# an iperf3 server.
www=$(tmpfile www); mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/1k"; head -c 65536 /dev/urandom >"$www/64k"; head -c 1048576 /dev/urandom >"$www/1m"
chmod -R a+rX "$www"
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  server {
    listen 127.0.0.1:19301;
    keepalive_requests 1000000;
    client_max_body_size 0;
    location = / { return 200 \"hello from the backend\\n\"; }
    location /f/ { alias $www/; }
    location /upload { return 200 \"ok\\n\"; }
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
EDGE_TCP_PID=$BG_PID
for p in 19310 19311 19312 19320 19322; do wait_for 10 tcp_listening "$ns" $p || fail "port $p"; done

# Idle keepalive connections: RSS growth of each proxy while $idle clients sit connected
# (first, on fresh processes: memory freed after a load run would blur the growth).
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

# wrk: requests/s and p99 (ms) for one proxy port and case.
upload_lua=$(tmpfile upload.lua)
echo 'wrk.method = "POST"; wrk.body = string.rep("a", 1048576); wrk.headers["Content-Type"] = "application/octet-stream"' >"$upload_lua"
run_wrk() {  # run_wrk PORT CASE
  local path=/ conns=50 script=()
  case $2 in
    tiny) ;;
    1k) path=/f/1k ;;
    1k-c500) path=/f/1k conns=500 ;;
    64k) path=/f/64k ;;
    1m) path=/f/1m ;;
    upload-1m) path=/upload script=(-s "$upload_lua") ;;
  esac
  in_ns wrk -t1 -c"$conns" -d"${secs}s" --latency "${script[@]}" "http://127.0.0.1:$1$path" | wrk_result
}
for c in "${cases[@]}"; do
  for who in edge:19310 nginx:19311 haproxy:19312; do
    out=$(in_ns curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${who#*:}/$( [ "$c" = tiny ] && echo || echo "f/${c%%-*}")")
    case $c in upload-*) ;; *) [[ $out == 200* ]] || fail "$who $c: $out" ;; esac
  done
done
for ((r = 0; r < rounds; r++)); do
  for c in "${cases[@]}"; do
    for who in edge:19310 nginx:19311 haproxy:19312; do
      run_wrk "${who#*:}" "$c" >>"$(tmpfile "http.$c.${who%%:*}")"
    done
  done
done

# TCP mode: iperf3 through edge and through HAProxy's mode tcp, alternating; the proxy's CPU
# seconds (utime+stime from /proc) per GB carried.
for ((r = 0; r < rounds; r++)); do
  for who in edge:19320:$EDGE_TCP_PID haproxy:19322:$HAPROXY_PID; do
    IFS=: read -r name port pid <<<"$who"
    before=$(cpu_s "$pid")
    gbps=$(in_ns iperf3 -c 127.0.0.1 -p "$port" -t 3 -J | iperf_result)
    echo "$gbps $(cpu_s "$pid") $before" >>"$(tmpfile "tcp.$name")"
  done
done

python3 - "$here" "$(tmpfile .)" "$mem_edge" "$mem_nginx" "$mem_haproxy" "$idle" "$hap_idle" "$secs" "${cases[@]}" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from summary import http_table, relay_lines
d = sys.argv[2]
me, mn, mh, idle, hidle, secs = map(int, sys.argv[3:9])
http_table(d, sys.argv[9:], ["edge", "nginx", "haproxy"],
           f"HTTP keepalive, wrk -t1 -d{secs}s, one worker each; medians of alternating rounds (min-max)")
print(f"idle keepalive memory for {idle} connections: edge {me/1024:.1f} MiB, nginx {mn/1024:.1f} MiB, "
      f"haproxy {mh/1024:.1f} MiB (for {hidle}); edge/nginx {me/max(mn,1):.2f}x")
relay_lines(d, "tcp", ["edge", "haproxy"], "TCP mode")
PY
