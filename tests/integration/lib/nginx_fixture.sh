# nginx instances for `edge trace`'s tests (sourced after harness.sh, bash): TLS servers with
# good and broken certificates, fixed status codes, and reverse proxies that produce real
# 502/504s. Everything nginx writes (pid, error log, temp files) stays in the test's scratch
# directory; nginx runs in one process (master_process off), so the harness's kill by PID
# leaves no worker behind.
#
#   certs_make                         runs make_certs.sh into $(tmpfile certs), sets CERTS
#   nginx_start NS CONF_BODY           starts nginx in NS with CONF_BODY inside http { }, waits
#                                      until every `listen` port in it accepts (NGINX_PID, NGINX_LOG)
#   nginx_tls_server PORT CERTNAME     server block: TLS with $CERTS/CERTNAME.pem/.key, 200 "ok"
#   nginx_status_server PORT CODE      server block: plain HTTP, `return CODE`
#   nginx_proxy_to PORT UPSTREAM       server block: plain HTTP, proxy_pass http://UPSTREAM with
#                                      1 s connect/read timeouts (refused -> 502, no answer -> 504)
# Server blocks listen on each address in NGINX_ADDRS (default: 10.99.2.2 and [fd99:2::2]);
# set it before calling them for a server elsewhere (e.g. NGINX_ADDRS=10.99.1.1 in r).
# Example:
#   certs_make
#   nginx_start "$TS" "$(nginx_tls_server 8443 good)$(nginx_tls_server 8444 expired)"

NGINX_ADDRS=${NGINX_ADDRS:-"10.99.2.2 [fd99:2::2]"}
_nginx_count=0

certs_make() {
  CERTS=$(tmpfile certs)
  bash "$(dirname "${BASH_SOURCE[0]}")/make_certs.sh" "$CERTS" >"$(tmpfile make_certs.log)" \
    || fail "make_certs.sh failed: $(cat "$(tmpfile make_certs.log)")"
}

_nginx_listens() {  # _nginx_listens PORT ARGS: one `listen` line per address in NGINX_ADDRS
  local a
  for a in $NGINX_ADDRS; do echo "    listen $a:$1${2:+ $2};"; done
}

nginx_tls_server() {
  # (Runs in $(...), where fail could not stop the test: a bad directive fails nginx_start.)
  [ -n "${CERTS:-}" ] || { echo "edge_t_run_certs_make_before_nginx_tls_server;"; return 1; }
  cat <<CONF
  server {
$(_nginx_listens "$1" ssl)
    server_name www.test;
    ssl_certificate $CERTS/$2.pem;
    ssl_certificate_key $CERTS/$2.key;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
CONF
}

nginx_status_server() {
  cat <<CONF
  server {
$(_nginx_listens "$1")
    location / { return $2; }
  }
CONF
}

nginx_proxy_to() {
  cat <<CONF
  server {
$(_nginx_listens "$1")
    location / {
      proxy_pass http://$2;
      proxy_connect_timeout 1s;
      proxy_read_timeout 1s;
      proxy_next_upstream off;
    }
  }
CONF
}

_nginx_port_listens() {  # _nginx_port_listens NS PORT PID: PID itself listens on PORT
  [[ $(ip netns exec "$1" ss -Hltnp "sport = :$2") == *"pid=$3,"* ]]
}

nginx_start() {
  local ns=$1 body=$2 prefix conf ports port deadline
  _nginx_count=$((_nginx_count + 1))
  prefix=$(tmpfile "nginx.$_nginx_count")
  mkdir -p "$prefix"
  conf=$prefix/nginx.conf
  cat >"$conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log info;
events { worker_connections ${NGINX_WORKER_CONNECTIONS:-256}; }
worker_rlimit_nofile $(( ${NGINX_WORKER_CONNECTIONS:-256} * 2 + 64 ));
http {
  access_log off;
  client_body_temp_path $prefix/body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
$body
}
CONF
  ports=$(sed -n 's/^ *listen \([^ ;]*\).*/\1/p' <<<"$body" | sed 's/.*://' | sort -u)
  [ -n "$ports" ] || fail "nginx_start: no listen directive in: $body"
  ip netns exec "$ns" nginx -t -q -c "$conf" -p "$prefix" -e "$prefix/error.log" \
    >"$prefix/config-test.log" 2>&1 || fail "nginx config: $(cat "$prefix/config-test.log")"
  bg "$ns" nginx -c "$conf" -p "$prefix" -e "$prefix/error.log"
  NGINX_PID=$BG_PID NGINX_LOG=$prefix/error.log
  deadline=$(( $(date +%s) + 10 ))
  for port in $ports; do
    until _nginx_port_listens "$ns" "$port" "$NGINX_PID"; do
      kill -0 "$NGINX_PID" 2>/dev/null \
        || fail "nginx exited: $(tail -n 5 "$BG_LOG" 2>/dev/null)"
      [ "$(date +%s)" -ge "$deadline" ] && fail "nginx: port $port not listening after 10 s"
      sleep 0.05
    done
  done
}
