# tinyproxy (Debian package tinyproxy-bin) as the forward proxy in `edge trace`'s tests
# (sourced after harness.sh, bash). Config, pid file and log live in the test's scratch
# directory; tinyproxy runs in the foreground (-d) under the harness's bg, so it is killed by PID.
#
#   tinyproxy_start NS ADDR PORT [LINE...]     proxy on ADDR:PORT in NS; Allow 10.99.1.0/24,
#                                              fd99:1::/64, the NS's own addresses (127.0.0.1, ::1);
#                                              CONNECT only to port 443; each LINE is appended to
#                                              the config (e.g. "ConnectPort 8443"); sets
#                                              TINYPROXY_PID, TINYPROXY_LOG
#   tinyproxy_start_auth NS ADDR PORT USER PASS    same with BasicAuth: no credentials -> 407
#   tinyproxy_start_dead_upstream NS ADDR PORT UPSTREAM    chains to an upstream proxy
#                                              (Upstream http UPSTREAM) that tests leave dead
# The other failures need no special config:
#   CONNECT denied   target port outside ConnectPort (e.g. :8443)  -> 403, curl exit 56
#   target dead      CONNECT/GET to a port nothing listens on      -> 500 (not 502/503), exit 56
# Example: tinyproxy_start "$TR" 10.99.1.1 3128
#          ip netns exec "$TC" curl -x http://10.99.1.1:3128 --cacert "$CERTS/ca.pem" \
#            --resolve www.test:443:10.99.2.2 https://www.test/

_tinyproxy_count=0

tinyproxy_start() {
  local ns=$1 addr=$2 port=$3 dir conf line deadline
  shift 3
  _tinyproxy_count=$((_tinyproxy_count + 1))
  dir=$(tmpfile "tinyproxy.$_tinyproxy_count")
  mkdir -p "$dir"
  conf=$dir/tinyproxy.conf
  TINYPROXY_LOG=$dir/tinyproxy.log
  cat >"$conf" <<CONF
Port $port
Listen $addr
Timeout 30
ViaProxyName "edge-t-proxy"
MaxClients 50
PidFile "$dir/tinyproxy.pid"
LogFile "$TINYPROXY_LOG"
LogLevel Info
Allow 10.99.1.0/24
Allow fd99:1::/64
Allow 127.0.0.1
Allow ::1
ConnectPort 443
CONF
  for line in "$@"; do echo "$line" >>"$conf"; done
  bg "$ns" tinyproxy -d -c "$conf"
  TINYPROXY_PID=$BG_PID
  deadline=$(( $(date +%s) + 10 ))
  until [[ $(ip netns exec "$ns" ss -Hltnp "sport = :$port") == *"pid=$TINYPROXY_PID,"* ]]; do
    kill -0 "$TINYPROXY_PID" 2>/dev/null \
      || fail "tinyproxy exited: $(tail -n 5 "$BG_LOG" "$TINYPROXY_LOG" 2>/dev/null)"
    [ "$(date +%s)" -ge "$deadline" ] && fail "tinyproxy: port $port not listening after 10 s"
    sleep 0.05
  done
}

tinyproxy_start_auth() {
  tinyproxy_start "$1" "$2" "$3" "BasicAuth $4 $5"
}

tinyproxy_start_dead_upstream() {
  tinyproxy_start "$1" "$2" "$3" "Upstream http $4"
}
