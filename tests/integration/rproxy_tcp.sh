#!/usr/bin/env bash
# `edge rproxy --mode tcp`: bytes both ways intact through the relay, the end of stream passed
# on in each direction (half-close), a refusing backend skipped, an idle tunnel closed after
# --idle-timeout.
here=$(dirname "$0")
source "$here/lib/harness.sh"
require_netns socat python3
EDGE=$(realpath "$1")

netns_new ns tcp
bg "$ns" socat TCP-LISTEN:19201,bind=127.0.0.1,fork,reuseaddr EXEC:cat
wait_for 10 tcp_listening "$ns" 19201 || fail "echo backend"
bg "$ns" "$EDGE" rproxy --listen 127.0.0.1:19200 --mode tcp --to 127.0.0.1:19209 --to 127.0.0.1:19201 --idle-timeout 1s --threads 2
RP=$BG_PID
wait_for 10 tcp_listening "$ns" 19200 || fail "edge rproxy --mode tcp did not start: $(cat "$BG_LOG")"

# 20 MiB through the echo and back, then half-close: the echo's EOF must come back to us.
for i in 1 2 3; do
  in_ns python3 - <<'PY' || fail "tcp relay round trip $i"
import hashlib, os, socket, threading
data = os.urandom(20 << 20)
s = socket.create_connection(("127.0.0.1", 19200), timeout=10)
got = bytearray()
def reader():
    while True:
        chunk = s.recv(1 << 16)
        if not chunk: break
        got.extend(chunk)
t = threading.Thread(target=reader); t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)        # our end of stream must reach the backend...
t.join(10)
assert not t.is_alive(), "no EOF came back: half-close was not relayed"
assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), f"{len(got)} bytes back of {len(data)}"
PY
done
pass "20 MiB round trips intact, half-close relayed both ways, refusing backend skipped"

# An idle tunnel is closed after --idle-timeout.
in_ns python3 - <<'PY' || fail "idle timeout"
import socket, time
s = socket.create_connection(("127.0.0.1", 19200), timeout=5)
start = time.time()
assert s.recv(1) == b"", "expected EOF"
took = time.time() - start
assert 0.8 < took < 3, took
print(f"ok: idle tunnel closed after {took:.1f}s")
PY
kill -TERM "$RP"; wait "$RP" || fail "exit $? on SIGTERM"
pass "SIGTERM exits 0"
