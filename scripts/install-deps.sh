#!/usr/bin/env bash
# Installs the Debian packages Tally builds, runs and tests with. Safe to run again: packages that are
# already present are skipped, so a warm machine pays nothing.
set -euo pipefail

packages=(
  pkg-config
  libmaxminddb-dev          # GeoIP reader (CMaxMindDB)
  libsqlite3-dev            # buffer and store, through GRDB
  libssl-dev                # TLS
  libcurl4-openssl-dev      # shipping over mutual TLS and SMTP (CCurl)
  zlib1g-dev                # batch compression (CZlib)
  libmaxmind-db-writer-perl # generates the test GeoIP databases
  openssl                   # development PKI
  sqlite3                   # integrity checks in tests, operator inspection
  curl                      # demo and end-to-end tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
