#!/usr/bin/env bash
# Installs what edge needs, builds it, and shows it doing its job with no configuration:
# how full this machine's connection-tracking table is and what is in it, then a layered
# trace to a local web server (every layer passes) and to a closed local port (the verdict
# names the layer). Everything stays on loopback.
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
python3 -m http.server --bind 127.0.0.1 18480 --directory "$dir" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -fsS -o /dev/null http://127.0.0.1:18480/ 2>/dev/null && break; sleep 0.1; done
run build/edge trace http://127.0.0.1:18480/
run build/edge trace 127.0.0.1:1
