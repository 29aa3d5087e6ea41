#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the package and its tests, runs them.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

swift build --build-tests
# Tests start real tally-edge processes from the build folder, so build first, then run without rebuilding.
swift test --skip-build --parallel
