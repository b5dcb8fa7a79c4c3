#!/usr/bin/env bash
# Builds edge (the release build in build/) and its Debian package with CPack:
# OUTPUT_DIR/edge_VERSION_ARCH.deb, Depends computed by dpkg-shlibdeps. Then lintian, when it
# is installed. Prints the package's path last.
# Usage: scripts/package.sh [--no-build] [OUTPUT_DIR]   (default OUTPUT_DIR: build/package)
#   --no-build  package the build tree as it is (the caller built it, e.g. CTest after the
#               build); EDGE_BUILD_DIR names that tree (default build/)
# The build and cpack hold the shared build lock (EDGE_BUILD_LOCK, default
# /tmp/edge-build.lock; empty: no lock), so that two builds never share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
out=${1:-build/package}
case $out in /*) ;; *) out=$PWD/$out ;; esac

if [ "$build" -eq 1 ] && [ -z "${EDGE_BUILD_LOCKED:-}" ] && [ -n "${EDGE_BUILD_LOCK-/tmp/edge-build.lock}" ] &&
  command -v flock >/dev/null; then
  export EDGE_BUILD_LOCKED=1
  exec flock "${EDGE_BUILD_LOCK:-/tmp/edge-build.lock}" "$0" "$@"
fi

for tool in cpack dpkg-shlibdeps dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (scripts/setup.sh installs it)" >&2; exit 4; }
done
if [ "$build" -eq 1 ]; then
  scripts/build.sh release
fi
build_dir=${EDGE_BUILD_DIR:-build}
[ "$build" -eq 1 ] && build_dir=build
if [ ! -f "$build_dir/CPackConfig.cmake" ] || [ ! -x "$build_dir/edge" ]; then
  echo "package: $build_dir has no release build; run scripts/build.sh release first" >&2
  exit 4
fi

mkdir -p "$out"
# CPack stages the install under OUTPUT_DIR/_CPack_Packages; only the .deb is kept.
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$out" >"$out/cpack.log" 2>&1 || { cat "$out/cpack.log" >&2; exit 1; }
rm -rf "$out/_CPack_Packages" "$out/cpack.log"
deb=$(ls -t "$out"/edge_*.deb | head -1)

if command -v lintian >/dev/null; then
  # Errors fail the package; warnings are printed. lintian was not available where this was
  # written (it is not in scripts/setup.sh: 7 MB and some 80 Perl packages), so these are the
  # expected findings, not observed ones:
  # - hardening-no-pie (warning): edge links -no-pie on purpose, no start-up relocations
  #   touching every page of data (a memory choice, see CMakeLists.txt).
  # - embedded-library (an error) would appear if lintian recognised the statically linked
  #   OpenSSL or c-ares; that linking is deliberate (each command maps only what it calls),
  #   so the answer would be an override in usr/share/lintian/overrides/edge, not a change.
  # The copyright file, the changelog (changelog.gz: a native version), stripped binary, man
  # pages compressed -9n, directory permissions 0755 are there for lintian's sake.
  lintian --fail-on error "$deb"
else
  echo "package: lintian is not installed; not checked" >&2
fi
echo "$deb"
