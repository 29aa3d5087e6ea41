#!/usr/bin/env bash
# Installs the Debian packages Tally builds, runs and tests with. Safe to run again: packages that are
# already present are skipped, so a warm machine pays nothing.
set -euo pipefail

packages=(
  pkg-config
  libmaxminddb-dev          # GeoIP reader (CMaxMindDB)
  libjemalloc-dev           # tally-edge's allocator (CJemalloc)
  libsqlite3-dev            # buffer and store, through GRDB
  libssl-dev                # TLS
  libcurl4-openssl-dev      # shipping over mutual TLS and SMTP (CCurl)
  zlib1g-dev                # batch compression (CZlib)
  libmaxmind-db-writer-perl # generates the test GeoIP databases
  openssl                   # development PKI
  sqlite3                   # integrity checks in tests, operator inspection
  curl                      # demo and end-to-end tests
  ruby-referer-parser       # Snowplow's referer database: search engines, social networks, webmail (referrer_database)
  ruby                      # runs that package's own reader, which the referrer tests compare Tally with
  haproxy                   # the load balancer in front of several central nodes (demo-cluster.sh, cluster test)
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

# The detection databases from PyPI, pinned, in a known place (edge.toml's device_database and
# crawler_patterns default to it): Matomo's device-detector regexes and fixtures, and the
# crawler-user-agents list. Only their data is used; --no-deps keeps their Python dependencies out.
pypi_target=/usr/local/share/tally/pypi
pinned=(device-detector==6.5.1 crawler-user-agents==1.67.0)
for spec in "${pinned[@]}"; do
  name=${spec%%==*}; version=${spec##*==}
  if [ ! -d "$pypi_target/${name//-/_}-$version.dist-info" ]; then
    echo "Installing $spec into $pypi_target"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --upgrade --target "$pypi_target" "$spec"
  fi
done
