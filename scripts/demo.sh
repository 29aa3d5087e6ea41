#!/usr/bin/env bash
# The demo: installs what is needed, builds tally-edge, starts it on loopback with the example
# configuration (and a generated GeoIP database), sends sample Matomo hits, and shows the edge's status.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build --product tally-edge
bin="$(swift build --show-bin-path)/tally-edge"

work="${TALLY_DEMO_DIR:-$PWD/demo-data}"
rm -rf "$work"
mkdir -p "$work"
perl scripts/make-test-geoip.pl "$work/geo.mmdb"
port="${TALLY_DEMO_PORT:-18081}"
sed -e "s|^data_dir = .*|data_dir = \"$work/edge\"|" \
    -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
    -e "s|^# geoip_database = .*|geoip_database = \"$work/geo.mmdb\"|" \
    edge/edge.example.toml > "$work/edge.toml"

"$bin" check-config -c "$work/edge.toml" | head -n 4
"$bin" run -c "$work/edge.toml" 2> "$work/edge.log" &
edge_pid=$!
trap 'kill "$edge_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break
  sleep 0.1
done

chrome='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
iphone='Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'
hit() { # ip user-agent query [extra curl args]
  local ip=$1 ua=$2 query=$3; shift 3
  curl -s -o /dev/null -w "%{http_code} " -A "$ua" -H "X-Forwarded-For: $ip" "$@" "http://127.0.0.1:$port/matomo.php?$query"
}
echo
echo "Sending sample hits (HTTP status of each):"
hit 203.0.113.77 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F&action_name=Home&urlref=https%3A%2F%2Fwww.google.com%2F&res=1920x1080'
hit 203.0.113.77 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fpricing%3Fgclid%3Dabc&action_name=Pricing'
hit 198.51.100.23 "$iphone" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Futm_campaign%3Dlaunch%26utm_source%3Dnewsletter&action_name=Home'
hit 198.51.100.23 "$iphone" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F&e_c=Video&e_a=Play&e_n=Intro'
hit 2001:db8:1:2::77 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fsearch&search=privacy&search_count=4'
hit 192.0.2.10 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F' -H 'DNT: 1'
hit 192.0.2.11 'curl/8.0' 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F'
hit 192.0.2.12 "$chrome" 'idsite=7&rec=1'
echo
echo
"$bin" status -c "$work/edge.toml"
echo
echo "One request explained (tally-edge explain):"
"$bin" explain -c "$work/edge.toml" --ip 203.0.113.77 --header "User-Agent: $chrome" \
  --url '/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fpricing%3Fgclid%3Dabc&uid=alice'
echo
echo "Buffer: $work/edge/buffer.sqlite   (sqlite3 it: SELECT payload FROM hits;)"
kill -TERM "$edge_pid"
wait "$edge_pid"
trap - EXIT
