#!/usr/bin/env bash
# edge is installable: the Debian package scripts/package.sh builds (from the existing release
# build, into a temporary directory) carries the right control fields and files, and what it
# installs works: the binary runs and names its commit, every man page renders without a groff
# warning, bash completes `edge rp` to `edge rproxy` from the installed completion. And
# `cmake --install` into a temporary prefix installs exactly the expected files.
# Nothing is installed system-wide. Usage: package.sh EDGE_BINARY (in the build tree to package)
set -euo pipefail
EDGE=$(realpath "$1")
BUILD=$(dirname "$EDGE")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Missing tools are a skip on a developer's machine, a failure in CI (scripts/setup.sh installs them).
for tool in cpack dpkg-deb dpkg-shlibdeps man readelf; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (scripts/setup.sh installs it)"
    [ -n "${EDGE_REQUIRE_NETNS:-}" ] && exit 1
    exit 77
  fi
done

tmp=$(mktemp -d /tmp/edge-t-pkg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# What every install holds, relative to its prefix. Nothing else: no static libraries, no tests.
expected_files() {
  cat <<'LIST'
bin/edge
share/bash-completion/completions/edge
share/doc/edge/README.md
share/doc/edge/changelog.gz
share/doc/edge/copyright
share/fish/vendor_completions.d/edge.fish
share/man/man1/edge-conntrack.1.gz
share/man/man1/edge-nat.1.gz
share/man/man1/edge-proxy.1.gz
share/man/man1/edge-rproxy.1.gz
share/man/man1/edge-trace.1.gz
share/man/man1/edge.1.gz
share/zsh/vendor-completions/_edge
LIST
}
# The files (and symlinks) under DIR, relative to it, sorted.
tree_of() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort); }
compare_tree() {
  local what=$1 dir=$2
  if ! diff -u <(expected_files | LC_ALL=C sort) <(tree_of "$dir") >"$tmp/diff"; then
    fail "$what installs other files than expected:"; cat "$tmp/diff"
  else
    echo "ok: $what installs exactly the $(expected_files | wc -l) expected files"
  fi
}

version=$(sed -nE 's/^project\(edge VERSION ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$version" ] || { echo "FAIL: no version in project() of CMakeLists.txt"; exit 1; }

# 1. cmake --install into a temporary prefix.
cmake --install "$BUILD" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install failed"; }
compare_tree "cmake --install" "$tmp/prefix"

# 2. The package, from this build tree.
if ! deb=$(EDGE_BUILD_DIR=$BUILD "$ROOT/scripts/package.sh" --no-build "$tmp/out" 2>"$tmp/package.err" | tail -1) || [ ! -f "$deb" ]; then
  cat "$tmp/package.err"
  echo "FAIL: scripts/package.sh --no-build built no package"
  exit 1
fi
echo "ok: built $(basename "$deb")"
[ "$(basename "$deb")" = "edge_${version}_$(dpkg --print-architecture).deb" ] || fail "package file name $(basename "$deb")"

field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = edge ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), wanted $version"
[ "$(field Section)" = net ] || fail "Section: $(field Section)"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture: $(field Architecture)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends=$(field Depends)
echo "ok: Depends: $depends"
# dpkg-shlibdeps named the libraries edge links (OpenSSL, c-ares and Boost are static, libpcap dlopen'ed).
for lib in libc6 libnetfilter-conntrack3 libmnl0; do
  grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
for lib in libssl3 libc-ares2 libpcap0.8 libstdc++6; do
  grep -qE "(^|, )$lib( |,|$)" <<<"$depends" && fail "Depends names $lib, which edge does not link dynamically: $depends"
done
# Every package named is a real one (installed here, since the binary built here links it).
for pkg in $(sed -E 's/\([^)]*\)//g; s/[,|]/ /g' <<<"$depends"); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || fail "Depends names $pkg, not an installed package"
done
grep -q 'libpcap0.8' <<<"$(field Recommends)" || fail "Recommends lacks libpcap0.8 (edge trace --capture loads it)"
for word in conntrack trace rproxy proxy nat CAP_NET_ADMIN CAP_NET_RAW; do
  grep -qw -- "$word" <<<"$(field Description)" || fail "Description does not mention $word"
done
long=$(field Description | awk 'length > 80' | head -1)
[ -z "$long" ] || fail "Description line over 80 columns: $long"

# 3. The package's files: the same list as cmake --install, under /usr.
dpkg-deb -x "$deb" "$tmp/root"
compare_tree "the package (/usr)" "$tmp/root/usr"
[ "$(find "$tmp/root" -mindepth 1 -maxdepth 1)" = "$tmp/root/usr" ] || fail "the package installs outside /usr: $(ls "$tmp/root")"

# 4. The packaged binary runs, is stripped, and names the same version and commit as the build.
bin=$tmp/root/usr/bin/edge
if out=$("$bin" --version); then
  if grep -qE "^edge ${version//./\\.} \(([0-9a-f]{7,}(-dirty)?|unknown)\)$" <<<"$out"; then
    echo "ok: $out"
  else
    fail "edge --version printed '$out'"
  fi
  [ "$out" = "$("$EDGE" --version)" ] || fail "packaged '$out' differs from the build's '$("$EDGE" --version)'"
else
  fail "the packaged edge --version failed"
fi
"$bin" --version --verbose | grep -qE '^  OpenSSL +[0-9]' || fail "edge --version --verbose lists no OpenSSL"
readelf -S "$bin" | grep -q '\.debug_info' && fail "the packaged binary is not stripped"

# 5. Every man page of the source tree is packaged and renders without warnings.
before=$failures
for src in "$ROOT"/man/*.1; do
  page=$tmp/root/usr/share/man/man1/$(basename "$src").gz
  [ -f "$page" ] || { fail "$(basename "$src") is not packaged"; continue; }
  warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -l --warnings=all -E UTF-8 "$page" 2>&1 >/dev/null) || fail "man -l $(basename "$page") failed"
  if [ -n "$warnings" ]; then
    fail "man -l $(basename "$page") warns:"; echo "$warnings" | head -20
  fi
  zgrep -q "^\.TH .*\"edge $version\"" "$page" || fail "$(basename "$page"): .TH does not name edge $version"
done
[ "$failures" -eq "$before" ] && echo "ok: $(ls "$ROOT"/man/*.1 | wc -l) man pages render without warnings"

# 6. bash completes `edge rp` to `edge rproxy` from the packaged file. With bash-completion,
# through its loader (which finds the file by its installed path); without, by sourcing it.
completed=$(HOME=$tmp XDG_DATA_DIRS=$tmp/root/usr/share bash --norc --noprofile -c '
  if [ -f /usr/share/bash-completion/bash_completion ]; then
    . /usr/share/bash-completion/bash_completion
    __load_completion edge || { echo "bash-completion did not find the edge completion"; exit 1; }
  else
    . "$1"
  fi
  spec=$(complete -p edge) || exit 1
  fn=$(sed -nE "s/.*-F ([^ ]+) .*/\1/p" <<<"$spec")
  COMP_WORDS=(edge rp) COMP_CWORD=1 COMP_LINE="edge rp" COMP_POINT=7
  "$fn" edge rp edge
  printf "%s\n" "${COMPREPLY[@]}"' bash "$tmp/root/usr/share/bash-completion/completions/edge" 2>&1) || true
if [ "$completed" = rproxy ]; then
  echo "ok: bash completes 'edge rp' to 'edge rproxy'$([ -f /usr/share/bash-completion/bash_completion ] && echo ' (via bash-completion)')"
else
  fail "bash completion of 'edge rp' gave: $completed"
fi

if [ "$failures" -ne 0 ]; then
  echo "package: $failures problem(s)"
  exit 1
fi
echo "package: all checks passed"
