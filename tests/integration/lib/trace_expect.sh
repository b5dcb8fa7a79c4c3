# expect_trace: runs `edge trace --json` from the client namespace and asserts the verdict's
# layer, cause and exit code, and the shape every trace must have: exactly one failed layer
# (the verdict's), every layer after it not_run. Sourced after harness.sh; needs EDGE and TC.
#
#   expect_trace LAYER CAUSE CODE [ENV=VALUE...] -- TRACE_ARGS...
#   (LAYER "-" and CAUSE "ok" for a passing trace.) The JSON stays in $TRACE_JSON, the time
#   the run took (milliseconds) in $TRACE_MS.
expect_trace() {
  local layer=$1 cause=$2 code=$3 rc=0
  shift 3
  local envs=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  TRACE_JSON=$(tmpfile trace.json)
  local start=$EPOCHREALTIME
  ip netns exec "$TC" env -i PATH="$PATH" "${envs[@]}" "$EDGE" trace --json "$@" >"$TRACE_JSON" 2>"$(tmpfile trace.err)" || rc=$?
  TRACE_MS=$(( (${EPOCHREALTIME/./} - ${start/./}) / 1000 ))
  python3 - "$TRACE_JSON" "$layer" "$cause" "$code" "$rc" <<'PY' || fail "edge trace $*: $(cat "$TRACE_JSON" "$(tmpfile trace.err)")"
import json, sys
path, layer, cause, code, rc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t = json.load(open(path))
v = t["verdict"]
want_layer = None if layer == "-" else layer
assert (v["layer"], v["cause"]) == (want_layer, cause), f"verdict {v['layer']}/{v['cause']}, wanted {want_layer}/{cause}: {v.get('summary')}"
assert rc == code and v["exit_code"] == code, f"exit {rc} (json {v['exit_code']}), wanted {code}"
names = [l["name"] for l in t["layers"]]
assert names == ["proxy-config", "dns", "route", "tcp", "proxy", "tls", "http"], names
failed = [l["name"] for l in t["layers"] if l["status"] == "fail"]
assert failed == ([] if want_layer is None else [want_layer]), f"failed layers: {failed}"
if want_layer:
    after = names[names.index(want_layer) + 1:]
    assert all(l["status"] == "not_run" for l in t["layers"] if l["name"] in after), "layers after the failure must be not_run"
PY
  pass "$(printf '%-40s' "${envs[*]:+${envs[*]} }$*") -> ${layer}/${cause} exit $code: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"]["summary"])' "$TRACE_JSON")"
}

# within SECONDS: the last trace reached its verdict within SECONDS (decimals allowed) of its
# start, counted from before `ip netns exec` to the process's exit.
within() {
  local limit_ms
  limit_ms=$(python3 -c 'import sys; print(int(float(sys.argv[1]) * 1000))' "$1")
  [ "$TRACE_MS" -le "$limit_ms" ] || fail "the verdict took ${TRACE_MS}ms, more than $1 s"
  pass "  verdict after ${TRACE_MS}ms (limit $1 s)"
}

# evidence PYTHON_EXPR: evaluates EXPR over the last trace's JSON (bound to t; layer(name)
# returns a layer) and fails unless it is true.
evidence() {
  python3 - "$TRACE_JSON" "$1" <<'PY' || fail "evidence check failed: $1 in $(cat "$TRACE_JSON")"
import json, sys
t = json.load(open(sys.argv[1]))
layer = lambda n: next(l for l in t["layers"] if l["name"] == n)
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
