#!/usr/bin/env bash
# Time to a verdict for three silent failures, edge trace (defaults) against curl (defaults),
# in one run: a SYN dropped by the router, a DNS server that never answers, a TLS handshake
# that stalls. curl is capped at CAP seconds so the run stays bounded; a capped run prints
# ">CAP". Usage: tests/bench/trace.sh [EDGE_BINARY] [CAP_SECONDS]   (root)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
EDGE=$(realpath "${1:-$here/../../build/edge}")
CAP=${2:-60}
source "$here/../integration/lib/harness.sh"
require_netns nft python3 curl socat
source "$here/../integration/lib/trace_topology.sh"

topology_up
resolv_for_client
bg "$TS" python3 "$here/../integration/lib/dns_server.py" 10.99.2.53 53
bg "$TS" socat TCP-LISTEN:8999,bind=10.99.2.2,fork,reuseaddr SYSTEM:'sleep 600'
nft_in "$TR" 'chain fw { type filter hook forward priority 0; tcp dport 86 drop; }'
wait_for 10 udp_listening "$TS" 53 && wait_for 10 tcp_listening "$TS" 8999 || fail "fixtures did not start"

# seconds CMD...: wall time of CMD in the client namespace, capped at CAP (prints ">CAP").
seconds() {
  local start end rc=0
  start=$(date +%s.%N)
  timeout "$CAP" ip netns exec "$TC" "$@" >/dev/null 2>&1 || rc=$?
  end=$(date +%s.%N)
  if [ "$rc" -eq 124 ]; then echo ">$CAP"; else python3 -c "print(f'{$end - $start:.2f}')"; fi
}

printf '%-26s %10s %10s %8s\n' "failure" "edge (s)" "curl (s)" "ratio"
while IFS='|' read -r name url; do
  e=$(seconds "$EDGE" trace "$url")
  c=$(seconds curl -sS -o /dev/null "$url")
  ratio=$(python3 -c "
e, c = '$e', '$c'
cap = c.startswith('>')
c = float(c.lstrip('>')); e = float(e.lstrip('>'))
print(('<' if cap else '') + f'{e / c:.3f}')")
  printf '%-26s %10s %10s %8s\n' "$name" "$e" "$c" "$ratio"
done <<'CASES'
dropped SYN (router)|http://10.99.2.2:86/
silent DNS server|http://timeout.test/
stalled TLS handshake|https://10.99.2.2:8999/
CASES
