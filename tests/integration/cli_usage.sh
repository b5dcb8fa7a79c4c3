#!/usr/bin/env bash
# Bad input exits 2 with one line naming the flag and the value; unbuilt commands exit 4;
# without privilege, exit 3 with the capability named. None of these start anything.
set -euo pipefail
EDGE=$(realpath "$1")
failures=0

# expect CODE PATTERN ARGS...: runs edge ARGS, checks the exit code and that stderr matches.
expect() {
  local code=$1 pattern=$2; shift 2
  local err rc=0
  err=$("$EDGE" "$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pattern" <<<"$err"; then
    echo "FAIL: edge $* -> exit $rc, stderr: $err (wanted exit $code and /$pattern/)"
    failures=$((failures + 1))
  elif [ "$code" -eq 2 ] && [ "$(wc -l <<<"$err")" -ne 1 ]; then
    echo "FAIL: edge $* -> usage error is not one line: $err"
    failures=$((failures + 1))
  else
    echo "ok: edge $* -> $code: $err"
  fi
}

expect 2 "^edge: --src: '10.0.0.0/33' has prefix length 33.*0-32" conntrack list --src 10.0.0.0/33
expect 2 "^edge: --dst: 'nothing' is not a CIDR" conntrack -d nothing
expect 2 "^edge: --dport: '70000' port 70000 is out of range \(1-65535\)" conntrack list --dport 70000
expect 2 "^edge: --sport: '9-1' is an empty range" conntrack list --sport 9-1
expect 2 "^edge: --state: 'OPEN' is not a TCP state \(expected NONE, .*ESTABLISHED" conntrack list --state OPEN
expect 2 "^edge: --proto: 'tcpp' is not a protocol \(expected tcp, udp" conntrack stats -p tcpp
expect 2 "^edge: --mark: '0xzz' is not a mark" conntrack watch --mark 0xzz
expect 2 "^edge: --nat: 'masq' is not a NAT kind \(expected snat, dnat or any\)" conntrack --nat masq
expect 2 "^edge: --sort: 'size' is not a sort field" conntrack list --sort size
expect 2 "^edge: --warn: '120' is not a percentage \(expected 0-100" conntrack stats --warn 120
expect 2 "^edge: --timeout: '5x' is not a duration|expected a duration" conntrack watch --timeout 5x
expect 2 "^edge: --event: 'created' is not a list of events" conntrack watch --event created
expect 2 "^edge: --buffer: '1' is out of range" conntrack watch --buffer 1
expect 2 "^edge: --limit: 'ten' is not a count" conntrack list --limit ten
expect 2 "^edge: --backend: 'kernel' is not a backend" conntrack list --backend kernel
expect 2 "^edge: --netns: 'edge-t-none-$$' names no network namespace" conntrack list --netns "edge-t-none-$$"
expect 2 "^edge: unknown command 'conntrak'; did you mean 'conntrack'\?" conntrak list
expect 2 "^edge: unknown command 'stat'; did you mean 'stats'\?" conntrack stat
expect 2 "^edge: " conntrack list --no-such-flag
expect 2 "^edge: .*--limit" conntrack list --limit
expect 2 "^edge: --sort: applies to 'edge conntrack list', not 'stats'" conntrack --sort bytes stats
expect 2 "^edge: --reverse: applies to 'edge conntrack list', not 'watch'" conntrack --reverse watch
expect 2 "^edge: --reverse: needs --sort FIELD" conntrack list --reverse
expect 2 "^edge: TARGET: 'example.com' is missing the port \(a HOST:PORT target needs one; or write a URL" trace example.com
expect 2 "^edge: TARGET: 'ftp://x/' has scheme 'ftp' \(expected http, https or tls\)" trace ftp://x/
expect 2 "^edge: TARGET: 'http://h:70000/' port 70000 is out of range" trace http://h:70000/
expect 2 "^edge: --timeout: '0s' is out of range" trace --timeout 0s http://h/
expect 2 "^edge: --proxy: 'http://p:99999' is not a usable proxy URL" trace --proxy http://p:99999 http://h/
expect 2 "^edge: -4 and -6: choose one family" trace -4 -6 http://h/
expect 2 "^edge: --cacert: '/nonexistent' is not a readable file" trace --cacert /nonexistent https://h/
expect 2 "^edge: --cert and --key: give both or neither" trace --cert /etc/hostname https://h/
expect 2 "^edge: --cert /etc/hostname holds no usable PEM certificate" trace --cert /etc/hostname --key /etc/hostname https://h/
expect 2 "^edge: --max-body: 'abc' is not a size" trace --max-body abc http://h/
expect 2 "^edge: --max-body: '0' must be more than 0" trace --max-body 0 http://h/
expect 2 "^edge: --follow: '99' is out of range \(0-50\)" trace --follow=99 http://h/
expect 2 "^edge: .*target" trace
expect 2 "^edge: --to: '10.0.0.1:99999' port 99999 is out of range \(1-65535\)" rproxy --listen 8080 --to 10.0.0.1:99999
expect 2 "^edge: --listen: 'x' (is not a port|is missing the port)" rproxy --listen x --to 127.0.0.1:1
expect 2 "^edge: --mode: 'udp' is not a mode \(expected http or tcp\)" rproxy --listen 8080 --to 127.0.0.1:1 --mode udp
expect 2 "^edge: --lb: 'fastest' is not a balancing policy" rproxy --listen 8080 --to 127.0.0.1:1 --lb fastest
expect 2 "^edge: --connect-timeout: 'soon' " rproxy --listen 8080 --to 127.0.0.1:1 --connect-timeout soon
expect 2 "^edge: --trust-proxy: '10.0.0.0/40' " rproxy --listen 8080 --to 127.0.0.1:1 --trust-proxy 10.0.0.0/40
expect 2 "^edge: --to is required|^edge: .*--to" rproxy --listen 8080
expect 2 "^edge: --log-format: 'xml' is not a log format \(expected combined or json\)" rproxy --listen 8080 --to 127.0.0.1:1 --log-format xml
expect 2 "^edge: --metrics: 'x' (is not a port|is missing the port)" rproxy --listen 8080 --to 127.0.0.1:1 --metrics x
expect 2 "^edge: --tls-key: .* needs --tls-cert" rproxy --listen 8080 --to 127.0.0.1:1 --tls-key k.pem
expect 2 "^edge: --upstream-insecure: needs --upstream-tls" rproxy --listen 8080 --to 127.0.0.1:1 --upstream-insecure
# Hostile input: control bytes in an echoed value are escaped, long values cut (one place).
expect 2 "^edge: --src: '\\\\e\]0;x\\\\x07' is not a CIDR" conntrack list --src $'\e]0;x\a'
expect 2 "^edge: --dport: 'a\\\\nb' is not a port" conntrack list --dport $'a\nb'
expect 2 "^edge: --sort: 'x{64}\.\.\.\(3000 bytes\)' is not a sort field" conntrack list --sort "$(printf 'x%.0s' $(seq 3000))"
expect 2 "^edge: TARGET: 'http://\\\\e\[2J/' " trace $'http://\e[2J/'
expect 2 "^edge: The following argument was not expected: \\\\e\]0;t\\\\x07" trace http://h/ $'\e]0;t\a'
# trace targets: one host rule, before anything is probed.
expect 2 "^edge: TARGET: 'http://127.0.0.1%41:8080/' has a percent-encoded host name" trace http://127.0.0.1%41:8080/
expect 2 "^edge: TARGET: 'http://localhost%00x:8080/' has a percent-encoded host name" trace http://localhost%00x:8080/
expect 2 "^edge: TARGET: 'http://a\.\.b/' has an empty label" trace http://a..b/
expect 2 "^edge: TARGET: '.*' has a host name label longer than 63 bytes" trace "http://$(printf 'a%.0s' $(seq 64)).test/"
expect 2 "^edge: TARGET: '.*' has a host name longer than 253 bytes" trace "http://$(printf 'abcdefghi.%.0s' $(seq 26))test/"
expect 2 "^edge: TARGET: 'http://127\.1/' looks like an IPv4 address" trace http://127.1/
expect 2 "^edge: TARGET: 'tls://host' is missing the port" trace tls://host
expect 2 "^edge: TARGET: 'host\.test' is missing the port" trace host.test
expect 2 "^edge: TARGET: '.*' is not a valid international name" trace $'http://\xe2\x98\x83.example/'
# Ports, URLs where HOST:PORT belongs, durations.
expect 2 "^edge: --to: 'h' is missing the port" rproxy --listen 8080 --to h
expect 2 "^edge: --to: 'http://h:80' is a URL; this flag takes HOST:PORT" rproxy --listen 8080 --to http://h:80
expect 2 "^edge: --timeout: '1h1h' repeats or reorders unit 'h'" conntrack watch --timeout 1h1h
expect 2 "^edge: --timeout: '1\.5ms' is finer than a millisecond" trace --timeout 1.5ms http://h/
expect 2 "^edge: --timeout: '0' is out of range \(10ms-10m\)" trace --timeout 0 http://h/
# Extra arguments in the order given; the bare command and unknown flags show the short usage.
expect 2 "^edge: The following arguments were not expected: b c d$" trace http://h/ b c d
expect 2 "^edge: The following arguments were not expected: x y$" conntrack list x y
expect 2 "^edge: unknown command 'nope'; run 'edge help'" help nope

# usage_check RC STREAM ARGS...: edge ARGS exits RC and prints the short usage on STREAM.
usage_check() {
  local want_rc=$1 stream=$2; shift 2
  local out err rc=0 errfile
  errfile=$(mktemp /tmp/edge-t-usage.XXXXXX)
  out=$("$EDGE" "$@" 2>"$errfile") || rc=$?
  err=$(cat "$errfile"); rm -f "$errfile"
  local text=$out; [ "$stream" = stderr ] && text=$err
  if [ "$rc" -ne "$want_rc" ] || ! grep -q "^usage: edge COMMAND" <<<"$text" || ! grep -q "edge COMMAND --help" <<<"$text" ||
     ! grep -qE "^  trace +Which layer" <<<"$text" || ! grep -qE "^  conntrack " <<<"$text"; then
    echo "FAIL: edge $* -> exit $rc, $stream: $text"; failures=$((failures + 1))
  else
    echo "ok: edge $* -> $rc, short usage on $stream"
  fi
}
usage_check 2 stderr
usage_check 2 stderr --bogus
usage_check 0 stdout help
grep -q "^edge: unknown flag '--bogus'" <<<"$("$EDGE" --bogus 2>&1)" || { echo "FAIL: edge --bogus does not name the flag"; failures=$((failures + 1)); }
for path in trace "conntrack" "conntrack list" "conntrack watch" rproxy proxy; do
  # shellcheck disable=SC2086
  if [ "$("$EDGE" help $path 2>&1)" = "$("$EDGE" $path --help 2>&1)" ] && "$EDGE" help $path >/dev/null 2>&1; then
    echo "ok: edge help $path = edge $path --help, exit 0"
  else
    echo "FAIL: edge help $path differs from --help or failed"; failures=$((failures + 1))
  fi
done

expect 2 "^edge: --port: .0. port 0 is out of range" nat dnat -p tcp --port 0 --to 10.0.0.1
expect 2 "^edge: --to: .10.0.0.1. is IPv4, but the rule is IPv6" nat dnat -p tcp --port 80 --to 10.0.0.1 -6
expect 2 "^edge: --engine: .bogus. is not an engine" nat --engine bogus dnat -p tcp --port 80 --to 10.0.0.1
expect 2 "^edge: --to: .10.0.0.1:80-82. maps 2 ports onto 3" nat dnat -p tcp --port 80-81 --to 10.0.0.1:80-82
# edge proxy: every value checked before a socket is opened, one line naming flag and value.
expect 2 "^edge: --allow-dst: '10.0.0.0/33'" proxy --allow-dst 10.0.0.0/33
expect 2 "^edge: --connect-ports: '70000'" proxy --connect-ports 443,70000
expect 2 "^edge: --allow-domain: '\*.example.com'" proxy --allow-domain '*.example.com'
expect 2 "^edge: --log-format: 'csv'" proxy --log-format csv
expect 2 "^edge: --auth: .*USER:PASSWORD" proxy --auth nocolon
expect 2 "^edge: --auth-file: '/nonexistent/htpasswd' cannot be read" proxy --auth-file /nonexistent/htpasswd
expect 2 "^edge: --listen 0.0.0.0:3128: a proxy on a non-loopback address needs --allow-src" proxy --listen 0.0.0.0:3128
# edge VERSION (COMMIT): the commit abbreviated, "-dirty" for uncommitted changes, "unknown" outside git.
version_re='^edge [0-9]+\.[0-9]+\.[0-9]+ \(([0-9a-f]{7,}(-dirty)?|unknown)\)$'
out=$("$EDGE" --version) && grep -qE "$version_re" <<<"$out" || { echo "FAIL: --version printed '$out'"; failures=$((failures + 1)); }
# --verbose adds one line per library; the first line stays the same.
out=$("$EDGE" --version --verbose) && [ "$(head -1 <<<"$out")" = "$("$EDGE" --version)" ] &&
  grep -qE '^  OpenSSL +[0-9]' <<<"$out" && grep -qE '^  c-ares +[0-9]' <<<"$out" && grep -qE '^  Boost +[0-9]' <<<"$out" &&
  grep -qE '^  libnetfilter_conntrack +[0-9]' <<<"$out" && grep -qE '^  libpcap +' <<<"$out" ||
  { echo "FAIL: --version --verbose printed '$out'"; failures=$((failures + 1)); }
expect 2 "^edge: --verbose: only with --version" --verbose
expect 2 "^edge: --verbose: only with --version" --verbose conntrack
"$EDGE" conntrack list --help | grep -q -- "--dport" || { echo "FAIL: conntrack list --help lacks --dport"; failures=$((failures + 1)); }

# Without CAP_NET_ADMIN: exit 3, naming the capability. Needs root to become 'nobody'.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  dir=$(mktemp -d /tmp/edge-t-bin.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  cp "$EDGE" "$dir/edge" && chmod 755 "$dir" "$dir/edge"
  EDGE_AS_ROOT=$EDGE
  EDGE="setpriv --reuid=65534 --regid=65534 --clear-groups $dir/edge"
  for sub in list stats watch; do
    rc=0
    err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/edge" conntrack $sub 2>&1 >/dev/null) || rc=$?
    if [ $rc -ne 3 ] || ! grep -q "CAP_NET_ADMIN" <<<"$err"; then
      echo "FAIL: unprivileged conntrack $sub -> exit $rc: $err"; failures=$((failures + 1))
    else
      echo "ok: unprivileged conntrack $sub -> 3: $err"
    fi
  done
  EDGE=$EDGE_AS_ROOT
  # A failed command prints nothing on stdout: not "[]" (no flows) nor a table header. Both as
  # 'nobody' and as root without capabilities.
  for who in nobody nocaps; do
    if [ $who = nobody ]; then run=(setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/edge")
    else run=(setpriv --inh-caps=-all --bounding-set=-all "$dir/edge"); fi
    for args in "list" "list --json" "list --json --sort bytes" "stats --json" "watch --json --timeout 1s"; do
      rc=0
      # shellcheck disable=SC2086
      out=$("${run[@]}" conntrack $args 2>/dev/null) || rc=$?
      if [ $rc -ne 3 ] || [ -n "$out" ]; then
        echo "FAIL: $who: conntrack $args -> exit $rc, stdout '$out' (wanted exit 3, nothing)"; failures=$((failures + 1))
      else
        echo "ok: $who: conntrack $args -> 3, stdout empty"
      fi
    done
  done
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
