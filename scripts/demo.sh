#!/usr/bin/env bash
# Installs what edge needs, builds it, and shows it doing its job with no configuration:
# how full this machine's connection-tracking table is, and what is in it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
run() { echo; echo "\$ $*"; "$@"; }
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
run "${sudo_cmd[@]}" build/edge conntrack stats
run "${sudo_cmd[@]}" build/edge conntrack list --limit 20
