#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build, then under CTest the unit
# tests, CLI and docs checks and the network-namespace integration tests (root); then the unit
# tests again under ASan+UBSan, then every parser's libFuzzer target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
scripts/build.sh release
ctest --test-dir build --output-on-failure || status=1
scripts/build.sh asan
ctest --test-dir build-asan --output-on-failure -R '^unit$' || status=1
scripts/build.sh fuzz
ctest --test-dir build-fuzz --output-on-failure || status=1
[ "$status" -eq 0 ] && echo "edge: all test suites passed" || echo "edge: some tests FAILED (see above)"
exit "$status"
