#!/usr/bin/env bash
# Configures and builds edge in build/ (RelWithDebInfo, Ninja, ccache when present).
# Usage: scripts/build.sh [asan|fuzz]   (default: the release build the tests and demo use)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
case "${1:-release}" in
  release) cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
           cmake --build build -j "$jobs" ;;
  asan)    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEDGE_SANITIZE=ON >/dev/null
           cmake --build build-asan -j "$jobs" --target edge_unit_tests ;;
  fuzz)    CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGE_FUZZ=ON \
             -DEDGE_FUZZ_SECONDS="${EDGE_FUZZ_SECONDS:-20}" >/dev/null
           cmake --build build-fuzz -j "$jobs" ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
