#!/usr/bin/env bash
# `edge conntrack watch`: a flow's new and destroy events arrive, filtered; --count and
# --timeout stop it; SIGINT stops it cleanly; when the kernel drops events (a stopped reader
# with a small buffer), edge reports exactly how many were lost and keeps going.
source "$(dirname "$0")/lib/harness.sh"
require_netns conntrack python3
EDGE=$(realpath "$1")

netns_new ns watch
# Ready when a NETLINK_NETFILTER (12) socket subscribed to the conntrack groups exists.
subscribed() { in_ns awk '$2 == 12 && $4 != "00000000" { found = 1 } END { exit !found }' /proc/net/netlink; }

# new + destroy of one flow, with a filter that hides another.
out=$(tmpfile events.json)
"$EDGE" conntrack watch --netns "$ns" --json -p tcp --dport 8080 --count 2 --timeout 20s >"$out" &
pid=$!; _edge_t_pids+=($pid)
wait_for 10 subscribed || fail "watch never subscribed"
in_ns conntrack -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 9090 --state ESTABLISHED -t 60 2>/dev/null
in_ns conntrack -I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 2 --dport 8080 --state ESTABLISHED -t 60 2>/dev/null
in_ns conntrack -D -p tcp --dport 8080 2>/dev/null >/dev/null
wait "$pid" || fail "watch exited $?"
python3 - "$out" <<'PY' || fail "events: $(cat "$out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert [e["event"] for e in ev] == ["new", "destroy"], ev
assert all(e["orig"]["dport"] == 8080 and e["orig"]["sport"] == 2 and e["proto"] == "tcp" for e in ev), ev
assert ev[0]["state"] == "ESTABLISHED" and "time" in ev[0], ev
PY
pass "new and destroy events, filtered, --count stops"

# Human lines.
"$EDGE" conntrack watch --netns "$ns" --event new --count 1 --timeout 20s >"$out" &
pid=$!; _edge_t_pids+=($pid)
wait_for 10 subscribed || fail "watch never subscribed"
in_ns conntrack -I -p udp -s 10.0.0.7 -d 10.0.0.8 --sport 53 --dport 53 -t 60 2>/dev/null
wait "$pid" || fail "watch exited $?"
grep -qE '^[0-9T:.-]+Z new +udp +- +10\.0\.0\.7:53 -> 10\.0\.0\.8:53  timeout ' "$out" || fail "human event line: $(cat "$out")"
pass "human event line"

# --timeout with no events: exits 0 on time.
start=$(date +%s%N)
"$EDGE" conntrack watch --netns "$ns" -p sctp --timeout 1s >/dev/null || fail "--timeout should exit 0"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 900 ] && [ $ms -lt 5000 ] || fail "--timeout 1s took ${ms}ms"
pass "--timeout 1s took ${ms}ms"

# 0 is "no limit", as --help says, for both: --count 0 still runs until --timeout (1.5s, a
# decimal), and --timeout 0 waits for the event --count asks for.
start=$(date +%s%N)
"$EDGE" conntrack watch --netns "$ns" -p sctp --count 0 --timeout 1.5s >/dev/null || fail "--count 0 --timeout 1.5s should exit 0"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 1400 ] && [ $ms -lt 5000 ] || fail "--count 0 --timeout 1.5s took ${ms}ms"
pass "--count 0 is no limit: ran ${ms}ms until --timeout 1.5s"
out=$(tmpfile zero.txt)
timeout 20 "$EDGE" conntrack watch --netns "$ns" -p udp --dport 5353 --event new --count 1 --timeout 0 >"$out" &
pid=$!; _edge_t_pids+=($pid)
wait_for 10 subscribed || fail "watch never subscribed"
sleep 0.3
kill -0 "$pid" 2>/dev/null || fail "--timeout 0 exited before any event: $(cat "$out")"
in_ns conntrack -I -p udp -s 10.0.0.9 -d 10.0.0.10 --sport 5353 --dport 5353 -t 30 2>/dev/null
wait "$pid" || fail "watch --timeout 0 exited $?"
grep -q "10.0.0.9:5353" "$out" || fail "--timeout 0: no event printed: $(cat "$out")"
pass "--timeout 0 is no limit: waited for the event"

# Lost events are counted exactly: received + lost = inserted.
n=400
python3 -c "
for i in range($n): print(f'-I -p tcp -s 10.1.{i // 250}.{i % 250 + 1} -d 10.2.0.1 --sport 1000 --dport 80 --state ESTABLISHED -t 60')
" >"$(tmpfile burst)"
"$EDGE" conntrack watch --netns "$ns" --json --event new --buffer 4K -d 10.2.0.1 >"$out" 2>"$(tmpfile err)" &
pid=$!; _edge_t_pids+=($pid)
wait_for 10 subscribed || fail "watch never subscribed"
kill -STOP $pid
in_ns conntrack -R "$(tmpfile burst)" >/dev/null 2>&1 || fail "conntrack -R"
kill -CONT $pid
in_ns conntrack -I -p tcp -s 10.3.0.1 -d 10.2.0.1 --sport 1 --dport 80 --state ESTABLISHED -t 60 2>/dev/null
wait_for 10 grep -q '"10.3.0.1"' "$out" || fail "watch stopped after losing events: $(cat "$(tmpfile err)")"
kill -INT $pid
wait $pid || fail "SIGINT should exit 0, got $?"
python3 - "$out" "$(tmpfile err)" $((n + 1)) <<'PY' || fail "lost-event accounting"
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
received = sum(1 for l in lines if l["event"] == "new")
lost_json = sum(l["count"] for l in lines if l["event"] == "lost")
lost_text = sum(int(m) for m in re.findall(r"dropped (\d+) conntrack events", open(sys.argv[2]).read()))
print(f"received {received}, lost {lost_json} (stderr says {lost_text}), inserted {sys.argv[3]}")
assert lost_json > 0, "the burst should overflow a 4K buffer"
assert lost_json == lost_text
assert received + lost_json == int(sys.argv[3])
PY
pass "lost events counted exactly; watching went on; SIGINT exits 0"
