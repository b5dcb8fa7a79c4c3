#!/usr/bin/env bash
# `edge conntrack stats` against conntrack-tools: the count is `conntrack -C`'s, the kernel
# counters are `conntrack -S` summed over CPUs, the breakdowns match `conntrack -L`, the top
# source is the one holding most entries, and --warn turns fill into an exit code.
source "$(dirname "$0")/lib/harness.sh"
require_netns conntrack nft python3 ping
EDGE=$(realpath "$1")

netns_new ns stats
netns_track "$ns"
in_ns ping -c2 -W1 127.0.0.1 >/dev/null
ins() { in_ns conntrack -I "$@" -t 300 2>/dev/null || fail "conntrack -I $*"; }
for p in 1 2 3 4 5; do ins -p tcp -s 10.9.9.9 -d 10.0.0.2 --sport 100$p --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED; done
ins -p tcp -s 10.0.0.3 -d 10.0.0.4 --sport 1001 --dport 443 --state TIME_WAIT -u SEEN_REPLY,ASSURED
ins -p tcp -s 10.0.0.5 -d 10.0.0.4 --sport 1002 --dport 443 --state SYN_SENT
ins -p udp -s 10.0.1.5 -d 198.51.100.53 --sport 5000 --dport 53
ins -p udp -s 10.0.1.6 -d 198.51.100.53 --sport 5001 --dport 53 -u SEEN_REPLY,ASSURED
ins -p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1 --dport 2 --state ESTABLISHED -u SEEN_REPLY,ASSURED

stats=$("$EDGE" conntrack stats --netns "$ns" --json)
list=$(in_ns conntrack -L 2>/dev/null)
count=$(in_ns conntrack -C)
S=$(in_ns conntrack -S)
python3 - "$stats" "$list" "$count" "$S" <<'PY' || fail "stats disagree with conntrack-tools"
import json, sys, collections
stats, listing, count, S = json.loads(sys.argv[1]), sys.argv[2].splitlines(), int(sys.argv[3]), sys.argv[4]
problems = []
def check(name, got, want):
    if got != want: problems.append(f"{name}: edge {got!r}, conntrack-tools {want!r}")
    else: print(f"ok: {name} = {got!r}")
check("count (conntrack -C)", stats["count"], count)
check("max (nf_conntrack_max)", stats["max"], int(open("/proc/sys/net/netfilter/nf_conntrack_max").read()))
check("fill_pct", stats["fill_pct"], round(100.0 * count / stats["max"], 2))
assert "fill_pct" in sys.argv[1] and "E" not in sys.argv[1].split('"fill_pct":')[1].split(",")[0], "fill_pct in exponent form"
sums = collections.Counter()
for line in S.splitlines():
    for tok in line.split():
        k, _, v = tok.partition("=")
        if k != "cpu" and v.isdigit(): sums[k] += int(v)
for k in ("found", "invalid", "insert", "insert_failed", "drop", "early_drop", "error", "search_restart", "clash_resolve", "chaintoolong"):
    if k in sums: check(f"kernel.{k} (conntrack -S)", stats["kernel"][k], sums[k])
check("matched", stats["matched"], len(listing))
check("assured", stats["assured"], sum("[ASSURED]" in l for l in listing))
check("unreplied", stats["unreplied"], sum("[UNREPLIED]" in l for l in listing))
check("by_proto", stats["by_proto"], dict(collections.Counter(l.split()[0] for l in listing)))
states = collections.Counter(l.split()[3] for l in listing if l.split()[0] == "tcp")
check("by_state", stats["by_state"], dict(states))
check("top source", stats["top_sources"][0], {"src": "10.9.9.9", "flows": 5})
for p in problems: print("MISMATCH", p)
sys.exit(1 if problems else 0)
PY

# Filters narrow the breakdowns; the count stays the table's.
f=$("$EDGE" conntrack stats --netns "$ns" --json -p udp | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["matched"], s["by_proto"], s["count"])')
[ "$f" = "2 {'udp': 2} $count" ] || fail "stats -p udp: $f"
pass "filters narrow the breakdowns"

# Human output names the pieces.
human=$("$EDGE" conntrack stats --netns "$ns")
for word in "entries" "of $(cat /proc/sys/net/netfilter/nf_conntrack_max)" "assured" "unreplied" "by protocol" "ESTABLISHED 6" "drop" "top sources" "10.9.9.9"; do
  grep -qF -- "$word" <<<"$human" || fail "human stats lack '$word': $human"
done
pass "human stats"

# --warn: above the threshold exits 1 and says why; below exits 0.
rc=0; err=$("$EDGE" conntrack stats --netns "$ns" --warn 0 2>&1 >/dev/null) || rc=$?
[ $rc -eq 1 ] && grep -q "above --warn 0" <<<"$err" || fail "--warn 0 -> $rc: $err"
"$EDGE" conntrack stats --netns "$ns" --warn 100 >/dev/null || fail "--warn 100 should pass"
pass "--warn"
