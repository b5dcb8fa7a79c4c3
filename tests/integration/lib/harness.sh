# Shared helpers for edge's integration tests (sourced, bash). Every namespace a test makes is
# named edge-t-<pid>-<name>, registered for cleanup, and removed on any exit, failure included;
# every process a test starts is stopped by PID on exit (TERM, then KILL).
set -euo pipefail

EDGE_T_ID="edge-t-$$"
_edge_t_namespaces=()
_edge_t_pids=()
_edge_t_tmp=$(mktemp -d /tmp/edge-t.XXXXXX)
_edge_t_on_exit=()

# on_exit CMD: runs the eval'd CMD on exit, before processes and namespaces go (latest first).
on_exit() { _edge_t_on_exit+=("$1"); }

_edge_t_cleanup() {
  local rc=$?
  local i
  for (( i=${#_edge_t_on_exit[@]}-1; i>=0; i-- )); do eval "${_edge_t_on_exit[i]}" || true; done
  # TERM first, so edge processes remove what they made (control sockets); KILL what is left.
  for pid in "${_edge_t_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${_edge_t_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${_edge_t_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${_edge_t_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${_edge_t_namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$_edge_t_tmp"
  exit "$rc"
}
trap _edge_t_cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
tmpfile() { echo "$_edge_t_tmp/$1"; }

# Exit 77 (CTest: skipped) without root, or fail when EDGE_REQUIRE_NETNS=1 says it must run.
require_netns() {
  local why=""
  if [ "$(id -u)" -ne 0 ]; then why="needs root for network namespaces"
  elif ! ip netns add "$EDGE_T_ID-probe" 2>/dev/null; then why="cannot create network namespaces here"
  else ip netns del "$EDGE_T_ID-probe"
  fi
  for tool in "$@"; do command -v "$tool" >/dev/null || why="${why:+$why; }needs $tool"; done
  if [ -n "$why" ]; then
    if [ "${EDGE_REQUIRE_NETNS:-0}" = 1 ]; then fail "$why (EDGE_REQUIRE_NETNS=1: a skip counts as a failure)"; fi
    echo "SKIP: $why"
    exit 77
  fi
}

# netns_new VAR NAME: creates edge-t-<pid>-NAME with loopback up and stores its name in VAR.
# (Not `ns=$(netns_new ...)`: a subshell could not register the namespace for cleanup.)
netns_new() {
  local _name="$EDGE_T_ID-$2"
  _edge_t_namespaces+=("$_name")
  ip netns add "$_name"
  ip -n "$_name" link set lo up
  printf -v "$1" '%s' "$_name"
}

# netns_etc NS FILE: writes stdin to /etc/netns/NS/FILE, which `ip netns exec NS` bind-mounts
# over /etc/FILE for commands started after this call (hosts, resolv.conf). Removed on exit.
netns_etc() {
  if [ ! -d /etc/netns ]; then
    mkdir -p /etc/netns
    on_exit "rmdir /etc/netns 2>/dev/null"
  fi
  if [ ! -d "/etc/netns/$1" ]; then
    mkdir -p "/etc/netns/$1"
    on_exit "rm -rf '/etc/netns/$1'"
  fi
  cat >"/etc/netns/$1/$2"
}

# Makes conntrack track traffic in the namespace: the kernel registers conntrack hooks only
# once a rule needs them.
netns_track() {
  ip netns exec "$1" nft -f - <<NFT
table inet edge-t-track {
  chain out { type filter hook output priority 0; ct state new counter; }
  chain in { type filter hook input priority 0; ct state new counter; }
}
NFT
}

# bg NS CMD...: starts CMD in the namespace in the background, remembers its PID; its output
# goes to a log in the test's scratch directory ($BG_LOG).
bg() {
  local ns=$1; shift
  BG_LOG="$_edge_t_tmp/bg.${#_edge_t_pids[@]}.log"
  ip netns exec "$ns" "$@" >"$BG_LOG" 2>&1 &
  _edge_t_pids+=($!)
  BG_PID=$!
}

# tcp_listening NS PORT / udp_listening NS PORT: something in NS listens on PORT (for wait_for).
tcp_listening() { [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ]; }
udp_listening() { [ -n "$(ip netns exec "$1" ss -Hlun "sport = :$2")" ]; }

# wait_for SECONDS CMD...: retries CMD until it succeeds or time runs out.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# in_ns CMD...: runs CMD in the test's main namespace, "$ns" (set by `netns_new ns NAME`).
in_ns() { ip netns exec "$ns" "$@"; }

# http_raw PORT BYTES: sends BYTES (Python escapes: \r \n \x16) to 127.0.0.1:PORT in the test's
# namespace and prints "STATUS MS": the answer's status code (or "close") and how long it took.
http_raw() {
  in_ns python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
start = time.monotonic()
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk: break
        data += chunk
except (socket.timeout, ConnectionResetError):
    pass
ms = int((time.monotonic() - start) * 1000)
line = data.split(b"\r\n")[0].decode("latin-1")
print((line.split(" ")[1] if line.startswith("HTTP/") else "close"), ms)
PY
}
