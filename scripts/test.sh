#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the package and its tests, runs them.
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The batch tests check batches with an independent reader (scripts/verify-batch.py).
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install --quiet cryptography
# The report tests check CSV and text output with Python's csv module and wcwidth.
python3 -c 'import wcwidth' 2>/dev/null || python3 -m pip install --quiet wcwidth
# The mail tests deliver to a real SMTP server (scripts/smtp-sink.py).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
# The Matomo Reporting API tests drive central with matomo-cli (its CLI and Prometheus exporter). It
# declares Python 3.12 or later but runs unchanged on Debian 12's 3.11.
python3 -c 'import matomo_cli' 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore --ignore-requires-python matomo-cli==0.1.11
# ... and matomo-api, a Python wrapper of the Reporting API.
python3 -c 'import matomo_api' 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore matomo-api==1.0b5
# docs/openapi.yaml is checked against the running API with openapi-core (scripts/check-openapi.py).
python3 -c 'import openapi_core, yaml' 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore openapi-core==0.23.1 pyyaml

scripts/swift-build.sh --build-tests
# The store tests run on SQLite and on PostgreSQL: a throwaway PostgreSQL 15 server for this run, as an
# unprivileged user in a temporary directory (scripts/postgres-server.sh), stopped and removed at the end.
postgres_dir=$(mktemp -d /tmp/tally-test-postgres.XXXXXX)
trap 'scripts/postgres-server.sh stop "$postgres_dir"' EXIT
eval "$(scripts/postgres-server.sh start "$postgres_dir")"
# Tests start real tally-edge processes from the build folder, so build first, then run without rebuilding.
swift test --skip-build --parallel
# Every parser of untrusted input, fuzzed from the committed seed corpus for a fixed number of inputs.
scripts/fuzz.sh
