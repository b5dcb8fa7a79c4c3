#!/usr/bin/env bash
# Heap allocations per request of `edge rproxy` in steady state (keepalive both sides), counted
# by an LD_PRELOAD shim (alloc_count.c) in front of glibc's malloc: warm up, then count over a
# wrk run for each body size. Fails when any case exceeds its budget: the request path is meant
# to allocate nothing once a thread is warm (header fields on a per-thread pool, per-request state
# in the connection, Asio's frame recycling for the small coroutines).
# Usage: tests/bench/rproxy_allocs.sh [EDGE_BINARY] [CONNECTIONS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
conns=${2:-50}
source "$here/../integration/lib/harness.sh"
require_netns nginx wrk cc python3
source "$here/../integration/lib/nginx_fixture.sh"
budget=0.1  # allocations per request, each case

netns_new ns allocs
cc -O2 -shared -fPIC -o "$(tmpfile alloc_count.so)" "$here/alloc_count.c"
www=$(tmpfile www); mkdir -p "$www"
head -c 1024 /dev/urandom >"$www/1k"; head -c 65536 /dev/urandom >"$www/64k"
chmod -R a+rX "$www"
NGINX_ADDRS=127.0.0.1 nginx_start "$ns" "
  server {
    listen 127.0.0.1:19401;
    keepalive_requests 1000000;
    location = / { return 200 \"hello from the backend\\n\"; }
    location /f/ { alias $www/; }
  }"
counts=$(tmpfile count)
bg "$ns" env ALLOC_COUNT_OUT="$counts" LD_PRELOAD="$(tmpfile alloc_count.so)" "$EDGE" rproxy --listen 127.0.0.1:19400 --to 127.0.0.1:19401 --threads 1
EDGE_PID=$BG_PID
wait_for 10 tcp_listening "$ns" 19400 || fail "edge did not start: $(cat "$BG_LOG")"
count() { rm -f "$counts"; kill -USR2 "$EDGE_PID"; wait_for 5 test -s "$counts"; cat "$counts"; }

status=0
for path in / /f/1k /f/64k; do
  in_ns wrk -t1 -c"$conns" -d1s "http://127.0.0.1:19400$path" >/dev/null  # warm: pools and caches fill
  before=$(count)
  n=$(in_ns wrk -t1 -c"$conns" -d2s "http://127.0.0.1:19400$path" | awk '/requests in/ {print $1}')
  after=$(count)
  per=$(python3 -c "print(f'{($after - $before) / $n:.3f}')")
  verdict=ok
  python3 -c "import sys; sys.exit(0 if $per <= $budget else 1)" || { verdict="OVER BUDGET ($budget)"; status=1; }
  printf '%-8s %8d requests, %7d allocations, %s per request  %s\n' "$path" "$n" "$((after - before))" "$per" "$verdict"
done
exit "$status"
