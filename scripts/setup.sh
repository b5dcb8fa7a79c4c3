#!/usr/bin/env bash
# Installs everything edge needs to build and test on Debian 12: compilers, libraries, the
# real peers the integration tests drive, and what packaging and its test use (dpkg-dev for
# dpkg-shlibdeps, man-db to render the pages, bash-completion to load the completion). Idempotent: when everything is present it returns at once.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  libcli11-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libfmt-dev doctest-dev libpcap-dev libssl-dev
  libnftables-dev libnetfilter-conntrack-dev libmnl-dev libc-ares-dev libidn2-dev
  conntrack nftables iproute2 iputils-ping curl nginx-light socat iperf3 wrk haproxy procps python3 python3-websockets time
  tinyproxy-bin openssl
  dpkg-dev man-db bash-completion
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's package starts a system nginx on :80; edge's tests start their own instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  "${sudo_cmd[@]}" systemctl stop nginx || true
fi
