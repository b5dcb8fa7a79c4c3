#!/usr/bin/env bash
# edge conntrack list (table and --json) against conntrack -L on the same 200,000-entry table,
# alternating in one run: median wall time and peak RSS of each, and the ratios edge/peer.
# Usage: tests/bench/conntrack.sh [EDGE_BINARY] [ENTRIES] [ROUNDS]     (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
entries=${2:-200000}
rounds=${3:-7}
source "$here/../integration/lib/harness.sh"
require_netns conntrack python3
[ -x /usr/bin/time ] || fail "needs /usr/bin/time (Debian package 'time')"

netns_new ns bench
python3 -c "
import random
random.seed(7)
states = ['ESTABLISHED'] * 8 + ['TIME_WAIT', 'SYN_SENT']
for i in range($entries):
    a, b = i >> 16 & 255, i >> 8 & 255
    if i % 10 == 9:
        print(f'-I -p udp -s 10.{a}.{b}.{i & 255} -d 198.51.100.{i % 200 + 1} --sport {1024 + i % 60000} --dport 53 -t 3600 --src-nat 203.0.113.1')
    else:
        print(f'-I -p tcp -s 10.{a}.{b}.{i & 255} -d 192.0.2.{i % 250 + 1} --sport {1024 + i % 60000} --dport 443 --state {states[i % 10]} -t 3600 -u SEEN_REPLY,ASSURED')
" >"$(tmpfile load)"
ip netns exec "$ns" conntrack -R "$(tmpfile load)" >/dev/null 2>&1 || true
loaded=$(ip netns exec "$ns" conntrack -C)
echo "table: $loaded entries in namespace $ns; $rounds rounds, alternating"

# measure NAME CMD...: appends "seconds maxrss_kb" for one run to $tmp/NAME
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$(tmpfile t)" ip netns exec "$ns" "$@" >/dev/null 2>"$(tmpfile err)" || { cat "$(tmpfile err)"; fail "$name failed"; }
  cat "$(tmpfile t)" >>"$(tmpfile "$name")"
}
for ((r = 0; r < rounds; r++)); do
  measure conntrack conntrack -L
  measure edge "$EDGE" conntrack list
  measure edge_json "$EDGE" conntrack list --json
done
# Sanity: the three print the same number of flows.
c=$(ip netns exec "$ns" conntrack -L 2>/dev/null | wc -l)
e=$(ip netns exec "$ns" "$EDGE" conntrack list | tail -n +2 | wc -l)
[ "$c" = "$e" ] || fail "conntrack -L printed $c flows, edge $e"

python3 - "$(tmpfile conntrack)" "$(tmpfile edge)" "$(tmpfile edge_json)" <<'PY'
import statistics, sys
def load(p):
    rows = [tuple(map(float, l.split())) for l in open(p)]
    return statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
peer_t, peer_m = load(sys.argv[1])
print(f"{'command':<32} {'median s':>9} {'peak RSS':>10} {'time ratio':>11} {'mem ratio':>10}")
print(f"{'conntrack -L':<32} {peer_t:9.3f} {peer_m/1024:8.1f}MB {'1.00':>11} {'1.00':>10}")
for name, path in (("edge conntrack list", sys.argv[2]), ("edge conntrack list --json", sys.argv[3])):
    t, m = load(path)
    print(f"{name:<32} {t:9.3f} {m/1024:8.1f}MB {t/peer_t:10.2f}x {m/peer_m:9.2f}x")
PY
