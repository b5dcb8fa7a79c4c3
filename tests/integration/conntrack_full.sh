#!/usr/bin/env bash
# A namespace whose conntrack table is filled to the limit with ASSURED entries (which the
# kernel cannot early-drop): new packets are dropped, `edge conntrack stats` reports the table
# full, `--warn 80` exits 1, and the kernel's drop counter shows the refused packets, as
# `conntrack -S` does. Also: listing the full table streams every entry.
source "$(dirname "$0")/lib/harness.sh"
require_netns conntrack nft python3 ping
EDGE=$(realpath "$1")

netns_new ns full
netns_track "$ns"
# nf_conntrack_max is global and read-only inside a namespace: fill up to the host's value.
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -gt 4194304 ]; then
  # A skip must not pass unnoticed where the run requires these tests (.ci/run).
  [ "${EDGE_REQUIRE_NETNS:-0}" = 1 ] && fail "nf_conntrack_max=$max is too big to fill in a test (EDGE_REQUIRE_NETNS=1: a skip counts as a failure)"
  echo "SKIP: nf_conntrack_max=$max is too big to fill in a test"
  exit 77
fi
python3 -c "
for i in range($max):
    print(f'-I -p tcp -s 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} -d 198.51.100.1 --sport 40000 --dport 443 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED')
" >"$(tmpfile fill)"
rc=0; timeout 300 ip netns exec "$ns" conntrack -R "$(tmpfile fill)" >/dev/null 2>&1 || rc=$?  # the last inserts may fail once full
[ $rc -ne 124 ] || fail "filling the conntrack table took more than 300s"
[ "$(in_ns conntrack -C)" -ge "$max" ] || fail "could not fill the table: $(in_ns conntrack -C) of $max"

# New flows cannot be tracked: every ping is dropped.
if in_ns ping -c3 -W1 -i0.2 127.0.0.1 >/dev/null 2>&1; then fail "ping passed through a full conntrack table"; fi

stats=$("$EDGE" conntrack stats --netns "$ns" --json)
drops=$(in_ns conntrack -S | python3 -c 'import sys; print(sum(int(t.split("=")[1]) for l in sys.stdin for t in l.split() if t.startswith("drop=")))')
python3 - "$stats" "$max" "$drops" <<'PY' || fail "stats of a full table: $stats"
import json, sys
s, mx, drops = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
assert s["count"] == mx and s["max"] == mx, (s["count"], s["max"])
assert s["fill_pct"] == 100.0, s["fill_pct"]
assert s["assured"] == mx and s["unreplied"] == 0, (s["assured"], s["unreplied"])
assert s["kernel"]["drop"] >= 3, s["kernel"]
assert s["kernel"]["drop"] == drops, (s["kernel"]["drop"], drops)
print(f"ok: full table: {s['count']} of {s['max']}, drop={s['kernel']['drop']} (conntrack -S: {drops})")
PY

rc=0; err=$("$EDGE" conntrack stats --netns "$ns" --warn 80 2>&1 >/dev/null) || rc=$?
[ $rc -eq 1 ] || fail "--warn 80 on a full table exited $rc"
grep -q "is 100% full ($max of $max), above --warn 80" <<<"$err" || fail "--warn message: $err"
pass "--warn 80 exits 1: $err"
grep -q "(100% full)" <<<"$("$EDGE" conntrack stats --netns "$ns")" || fail "human stats do not say 100% full"

n=$("$EDGE" conntrack list --netns "$ns" | tail -n +2 | wc -l)
[ "$n" -eq "$max" ] || fail "list printed $n rows of $max"
pass "list streams all $n entries"

# edge nat's status line on this full table: the fill, flagged, and one warning on stderr.
"$EDGE" nat --netns "$ns" dnat -p tcp --port 8080 --to 127.0.0.1:80 --json --interval 200ms >"$(tmpfile nat.out)" 2>"$(tmpfile nat.err)" &
nat_pid=$!
wait_for 20 grep -q conntrack_full "$(tmpfile nat.out)" || { kill "$nat_pid"; fail "edge nat printed no status: $(cat "$(tmpfile nat.err)")"; }
kill -TERM "$nat_pid"
wait "$nat_pid" || fail "edge nat exited $? on SIGTERM"
grep -q '"conntrack_full":true' "$(tmpfile nat.out)" || fail "edge nat status does not flag the full table: $(head -1 "$(tmpfile nat.out)")"
grep -q "edge nat: conntrack table 100% full" "$(tmpfile nat.err)" || fail "edge nat did not warn: $(cat "$(tmpfile nat.err)")"
pass "edge nat's status flags the table past 80% and warns once"
