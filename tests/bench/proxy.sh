#!/usr/bin/env bash
# edge proxy against tinyproxy and Squid (one worker, no cache) as forward proxies to the same
# nginx origin, and against HAProxy's TCP relay for tunnels; alternating in one run inside a
# namespace of its own:
#   absolute-form GET requests/s and p99 (wrk, keepalive, 50 connections) for a tiny, a 1 KiB
#   and a 64 KiB body; CONNECT tunnel throughput (iperf3 through a CONNECT tunnel that socat
#   opens; HAProxy's mode tcp behind the same socat) with the proxy's CPU seconds per GB;
#   memory for idle keepalive clients (RSS growth) of edge and Squid.
# Medians of the rounds, with the min-max spread.
# Usage: tests/bench/proxy.sh [EDGE_BINARY] [ROUNDS] [IDLE_CONNS] [SECONDS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
rounds=${2:-3}
idle=${3:-10000}
secs=${4:-4}
source "$here/../integration/lib/harness.sh"
require_netns nginx tinyproxy squid haproxy wrk iperf3 socat python3
source "$here/../integration/lib/nginx_fixture.sh"
source "$here/lib.sh"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export NGINX_WORKER_CONNECTIONS=4096

netns_new ns pbench
# The origin has a public-looking address (edge's default policy denies loopback).
ip -n "$ns" addr add 203.0.113.20/32 dev lo
ORIGIN=203.0.113.20
www=$(tmpfile www); mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/1k"; head -c 65536 /dev/urandom >"$www/64k"
chmod -R a+rX "$www"
NGINX_ADDRS=$ORIGIN nginx_start "$ns" "
  server {
    listen $ORIGIN:80;
    keepalive_requests 1000000;
    location = / { return 200 \"hello from the origin\\n\"; }
    location /f/ { alias $www/; }
  }"
bg "$ns" iperf3 -s -B $ORIGIN -p 19402
wait_for 10 tcp_listening "$ns" 19402 || fail "iperf3 server"

# The proxies, one worker each, no access log, no cache.
scratch=$(tmpfile squid); mkdir -p "$scratch"; chmod 777 "$scratch"
cat >"$scratch/squid.conf" <<CONF
http_port 127.0.0.1:19412
workers 1
cache deny all
cache_mem 8 MB
access_log none
cache_log $scratch/cache.log
pid_filename $scratch/squid.pid
coredump_dir $scratch
max_filedescriptors 65536
shutdown_lifetime 1 seconds
client_persistent_connections on
server_persistent_connections on
acl CONNECT method CONNECT
acl tunnel_ports port 443 19402
http_access deny CONNECT !tunnel_ports
http_access allow localhost
http_access deny all
CONF
bg "$ns" squid -N -f "$scratch/squid.conf"
SQUID_PID=$BG_PID
cat >"$(tmpfile tinyproxy.conf)" <<CONF
Port 19411
Listen 127.0.0.1
Timeout 600
MaxClients 1000
User nobody
Group nogroup
PidFile "$(tmpfile tinyproxy.pid)"
LogFile "$(tmpfile tinyproxy.log)"
LogLevel Critical
Allow 127.0.0.1
ConnectPort 443
ConnectPort 19402
CONF
bg "$ns" tinyproxy -d -c "$(tmpfile tinyproxy.conf)"
TINY_PID=$BG_PID
cat >"$(tmpfile haproxy.cfg)" <<CFG
global
  nbthread 1
defaults
  timeout connect 3s
  timeout client 60s
  timeout server 60s
frontend tcp_in
  mode tcp
  bind 127.0.0.1:19422
  default_backend be_tcp
backend be_tcp
  mode tcp
  server i1 $ORIGIN:19402
CFG
bg "$ns" haproxy -db -f "$(tmpfile haproxy.cfg)"
HAPROXY_PID=$BG_PID
bg "$ns" "$EDGE" proxy --listen 127.0.0.1:19410 --threads 1 --connect-ports 443,19402 --max-conns 100000
EDGE_PID=$BG_PID
for p in 19410 19411 19412 19422; do wait_for 20 tcp_listening "$ns" $p || fail "port $p: $(cat "$BG_LOG")"; done

# Idle keepalive clients first, on fresh processes: each sends one absolute-form GET and waits.
idle_cost() {  # idle_cost PORT PID COUNT: KiB of RSS growth for COUNT idle keepalive clients
  local before after
  before=$(rss "$2")
  in_ns python3 - "$1" "$3" "$2" "$ORIGIN" <<'PY'
import socket, sys, time
port, n, pid, origin = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET http://{origin}/ HTTP/1.1\r\nHost: {origin}\r\n\r\n".encode())
    s.recv(4096)
    socks.append(s)
time.sleep(1)
open(f"/tmp/edge-bench-rss-{pid}", "w").write(open(f"/proc/{pid}/status").read())
PY
  after=$(awk '/VmRSS/ {print $2}' "/tmp/edge-bench-rss-$2"); rm -f "/tmp/edge-bench-rss-$2"
  echo $(( after - before ))
}
squid_worker() {  # Squid -N runs in one process; the kid, if any, is the one that serves
  local kid; kid=$(pgrep -P "$SQUID_PID" squid | head -1 || true)
  echo "${kid:-$SQUID_PID}"
}
mem_edge=$(idle_cost 19410 "$EDGE_PID" "$idle")
mem_squid=$(idle_cost 19412 "$(squid_worker)" "$idle")

# wrk with an absolute URL as the request target, keepalive.
lua_for() {  # lua_for PATH: a wrk script asking for http://ORIGIN/PATH through the proxy
  local f; f=$(tmpfile "wrk.${1//\//_}.lua")
  echo "wrk.headers[\"Host\"] = \"$ORIGIN\"; request = function() return wrk.format(\"GET\", \"http://$ORIGIN$1\") end" >"$f"
  echo "$f"
}
run_wrk() {  # run_wrk PORT CASE: "req/s p99_ms non2xx"
  local path=/
  case $2 in tiny) ;; 1k) path=/f/1k ;; 64k) path=/f/64k ;; esac
  in_ns wrk -t1 -c50 -d"${secs}s" --latency -s "$(lua_for "$path")" "http://127.0.0.1:$1/" | wrk_result
}
cases=(tiny 1k 64k)
for who in edge:19410 tinyproxy:19411 squid:19412; do
  out=$(in_ns curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:${who#*:}" "http://$ORIGIN/f/1k")
  [ "$out" = 200 ] || fail "${who%%:*} does not proxy: $out"
done
for ((r = 0; r < rounds; r++)); do
  for c in "${cases[@]}"; do
    for who in edge:19410 tinyproxy:19411 squid:19412; do
      run_wrk "${who#*:}" "$c" >>"$(tmpfile "http.$c.${who%%:*}")"
    done
  done
done

# Tunnels: socat opens the tunnel (CONNECT through a proxy, or plain TCP to HAProxy) and
# iperf3 runs through it; the proxy's CPU seconds per GB carried.
bg "$ns" socat TCP-LISTEN:19430,bind=127.0.0.1,fork,reuseaddr PROXY:127.0.0.1:$ORIGIN:19402,proxyport=19410
bg "$ns" socat TCP-LISTEN:19431,bind=127.0.0.1,fork,reuseaddr PROXY:127.0.0.1:$ORIGIN:19402,proxyport=19412
bg "$ns" socat TCP-LISTEN:19432,bind=127.0.0.1,fork,reuseaddr TCP:127.0.0.1:19422
for p in 19430 19431 19432; do wait_for 10 tcp_listening "$ns" $p || fail "socat $p"; done
for ((r = 0; r < rounds; r++)); do
  for who in edge:19430:$EDGE_PID squid:19431:$(squid_worker) haproxy:19432:$HAPROXY_PID; do
    IFS=: read -r name port pid <<<"$who"
    before=$(cpu_s "$pid")
    gbps=$(in_ns iperf3 -c 127.0.0.1 -p "$port" -t 3 -J | iperf_result)
    echo "$gbps $(cpu_s "$pid") $before" >>"$(tmpfile "tunnel.$name")"
  done
done

python3 - "$here" "$(tmpfile .)" "$mem_edge" "$mem_squid" "$idle" "$secs" "${cases[@]}" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from summary import http_table, relay_lines
d = sys.argv[2]
me, ms, idle, secs = map(int, sys.argv[3:7])
http_table(d, sys.argv[7:], ["edge", "tinyproxy", "squid"],
           f"absolute-form GET, keepalive, wrk -t1 -c50 -d{secs}s, one worker each; medians of alternating rounds (min-max)")
print(f"idle keepalive memory for {idle} clients: edge {me/1024:.1f} MiB, squid {ms/1024:.1f} MiB; edge/squid {me/max(ms,1):.2f}x")
relay_lines(d, "tunnel", ["edge", "haproxy", "squid"], "tunnel (CONNECT behind socat; haproxy: tcp relay)")
PY
