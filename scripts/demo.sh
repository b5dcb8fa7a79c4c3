#!/usr/bin/env bash
# Installs what edge needs, builds it, and shows it doing its jobs with no configuration, all
# on loopback: how full this machine's connection-tracking table is and what is in it; a
# local web server with `edge rproxy` in front of it, a request through and its flow in
# `edge conntrack --origin all`; `edge trace`
# through that proxy (every layer passes), to a proxy whose backend is down (the verdict
# names the layer and Proxy-Status the cause), and to a closed port; then `edge nat` forwarding
# a port inside a network namespace of its own, its flow in conntrack, and its rules gone with it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
run() { echo; echo "\$ $*"; "$@" || echo "(exit $?)"; }

run "${sudo_cmd[@]}" build/edge conntrack stats
run "${sudo_cmd[@]}" build/edge conntrack list --limit 20

dir=$(mktemp -d)
echo "hello from the backend" >"$dir/index.txt"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
python3 -m http.server --bind 127.0.0.1 18480 --directory "$dir" >/dev/null 2>&1 & pids+=($!)
# The backend first (python takes a moment to start), then the proxies in front of it.
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:18480/ 2>/dev/null && break; sleep 0.1; done
build/edge rproxy --listen 127.0.0.1:18481 --to 127.0.0.1:18480 --threads 1 --access-log - & pids+=($!)
build/edge rproxy --listen 127.0.0.1:18482 --to 127.0.0.1:18489 --threads 1 2>/dev/null & pids+=($!)
for _ in $(seq 50); do curl -fsS -o /dev/null http://127.0.0.1:18481/index.txt 2>/dev/null && break; sleep 0.1; done

run curl -si http://127.0.0.1:18481/index.txt
# A client that stays connected: its flow through the proxy is live, and listed beside the
# kernel's in the same shape.
python3 -c 'import socket, time
s = socket.create_connection(("127.0.0.1", 18481)); s.sendall(b"GET /index.txt HTTP/1.1\r\nHost: demo\r\n\r\n"); s.recv(4096); time.sleep(5)' & pids+=($!)
sleep 0.5
run "${sudo_cmd[@]}" build/edge conntrack list --origin all --dport 18481
run build/edge trace --proxy none http://127.0.0.1:18481/index.txt
run build/edge trace --proxy none http://127.0.0.1:18482/
run build/edge trace --proxy none 127.0.0.1:1

# edge nat, in a namespace made for the demo (the machine's own ruleset is not touched): a
# port forward to a web server, its flow in conntrack with edge's mark, and after Ctrl-C
# (SIGINT) no table left.
ns=edge-t-demo-$$
"${sudo_cmd[@]}" ip netns add "$ns"
trap 'kill "${pids[@]}" 2>/dev/null; "${sudo_cmd[@]}" ip netns del "$ns" 2>/dev/null; rm -rf "$dir"' EXIT
"${sudo_cmd[@]}" ip -n "$ns" link set lo up
"${sudo_cmd[@]}" ip netns exec "$ns" python3 -m http.server --bind 127.0.0.1 80 --directory "$dir" >/dev/null 2>&1 & pids+=($!)
run build/edge nat dnat -p tcp --port 8080 --to 127.0.0.1:80 --dry-run
"${sudo_cmd[@]}" build/edge nat --netns "$ns" dnat -p tcp --port 8080 --to 127.0.0.1:80 --interval 2s & nat_pid=$!
for _ in $(seq 50); do "${sudo_cmd[@]}" ip netns exec "$ns" curl -fsS -o /dev/null http://127.0.0.1:8080/index.txt 2>/dev/null && break; sleep 0.1; done
run "${sudo_cmd[@]}" ip netns exec "$ns" curl -s http://127.0.0.1:8080/index.txt
run "${sudo_cmd[@]}" build/edge conntrack list --netns "$ns" --nat dnat
run "${sudo_cmd[@]}" build/edge nat status
"${sudo_cmd[@]}" kill -INT "$nat_pid"; wait "$nat_pid" || true
run "${sudo_cmd[@]}" ip netns exec "$ns" nft list ruleset
echo "(empty: the table went with edge nat)"
