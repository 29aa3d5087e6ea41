#!/usr/bin/env bash
# The demo: installs what is needed, builds Tally, creates a development PKI and the edge's signing key,
# starts tally-central and tally-edge on loopback, sends sample Matomo hits to the edge, waits until
# they are shipped over mutual TLS, and shows what central stored.
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The demo delivers the scheduled report to a local SMTP sink (aiosmtpd, from PyPI).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
scripts/swift-build.sh --product tally-edge
scripts/swift-build.sh --product tally-central
bin="$(swift build --show-bin-path)"

work="${TALLY_DEMO_DIR:-$PWD/demo-data}"
rm -rf "$work"
mkdir -p "$work"
edge_port="${TALLY_DEMO_EDGE_PORT:-18081}"
central_port="${TALLY_DEMO_CENTRAL_PORT:-18443}"
smtp_port="${TALLY_DEMO_SMTP_PORT:-18025}"
token="demo-tracking-token"
token_sha256=$(printf %s "$token" | sha256sum | cut -d' ' -f1)

echo "== Development PKI, GeoIP database and the edge's signing key"
scripts/dev-pki.sh "$work/pki" edge-1
perl scripts/make-test-geoip.pl "$work/geo.mmdb"
public_key=$("$bin/tally-edge" keygen --out "$work/edge-signing.key")
echo "Edge public key: $public_key"

sed -e "s|^data_dir = .*|data_dir = \"$work/central\"|" \
    -e "s|^listen = \"0.0.0.0:8443\"|listen = \"127.0.0.1:$central_port\"|" \
    -e "s|^listen = \"127.0.0.1:8080\"|listen = \"127.0.0.1:0\"|" \
    -e "s|/etc/tally-central/central.crt|$work/pki/central.crt|" \
    -e "s|/etc/tally-central/central.key|$work/pki/central.key|" \
    -e "s|/etc/tally-central/edge-ca.crt|$work/pki/edge-ca.crt|" \
    -e "s|^public_key = .*|public_key = \"$public_key\"|" \
    central/central.example.toml > "$work/central.toml"
cat >> "$work/central.toml" <<TOML

[smtp]
url = "smtp://127.0.0.1:$smtp_port"
from = "tally@example.org"
tls = "none"

[[schedules]]
name = "daily-demo"
sites = [1]
reports = ["summary", "pages", "referrer_types", "countries"]
period = "daily"
send_time = "00:00"
time_zone = "Europe/Berlin"
recipients = ["stakeholders@example.org"]
format = "both"
TOML
sed -e "s|^data_dir = .*|data_dir = \"$work/edge\"|" \
    -e "s|^listen = .*|listen = \"127.0.0.1:$edge_port\"|" \
    -e "s|^# geoip_database = .*|geoip_database = \"$work/geo.mmdb\"|" \
    -e "s|^# \[shipping\]|[shipping]|" \
    -e "s|^# central_url = .*|central_url = \"https://localhost:$central_port/v1/batches\"|" \
    -e "s|^# batch_max_hits = |batch_max_hits = |" \
    -e "s|^# batch_interval_seconds = 5 |batch_interval_seconds = 1 |" \
    -e "s|^# max_backoff_seconds = |max_backoff_seconds = |" \
    -e "s|^# signing_key_file = .*|signing_key_file = \"$work/edge-signing.key\"|" \
    -e "s|^# client_certificate_file = .*|client_certificate_file = \"$work/pki/edge-edge-1.crt\"|" \
    -e "s|^# client_key_file = .*|client_key_file = \"$work/pki/edge-edge-1.key\"|" \
    -e "s|^# central_ca_file = .*|central_ca_file = \"$work/pki/central-ca.crt\"|" \
    -e "s|^# tracking_token_sha256 = .*|tracking_token_sha256 = \"$token_sha256\"|" \
    edge/edge.example.toml > "$work/edge.toml"

echo
echo "== Configuration"
"$bin/tally-central" check-config -c "$work/central.toml"
"$bin/tally-edge" check-config -c "$work/edge.toml" | head -n 4

python3 scripts/smtp-sink.py "$smtp_port" "$work/mail" > /dev/null &
sink_pid=$!
"$bin/tally-central" run -c "$work/central.toml" 2> "$work/central.log" &
central_pid=$!
"$bin/tally-edge" run -c "$work/edge.toml" 2> "$work/edge.log" &
edge_pid=$!
trap 'kill "$edge_pid" "$central_pid" "$sink_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$edge_port/healthz" > /dev/null 2>&1 && break
  sleep 0.1
done

chrome='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
iphone='Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'
hit() { # ip user-agent query [extra curl args]
  local ip=$1 ua=$2 query=$3; shift 3
  curl -s -o /dev/null -w "%{http_code} " -A "$ua" -H "X-Forwarded-For: $ip" "$@" "http://127.0.0.1:$edge_port/matomo.php?$query"
}
echo
echo "== Sending sample hits to the edge (HTTP status of each)"
hit 203.0.113.77 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F&action_name=Home&urlref=https%3A%2F%2Fwww.google.com%2F&res=1920x1080'
hit 203.0.113.77 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fpricing%3Fgclid%3Dabc&action_name=Pricing'
hit 198.51.100.23 "$iphone" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Futm_campaign%3Dlaunch%26utm_source%3Dnewsletter&action_name=Home'
hit 198.51.100.23 "$iphone" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F&e_c=Video&e_a=Play&e_n=Intro'
hit 2001:db8:1:2::77 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fsearch&search=privacy&search_count=4'
hit 192.0.2.10 "$chrome" 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F' -H 'DNT: 1'
hit 192.0.2.11 'curl/8.0' 'idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F'
hit 192.0.2.12 "$chrome" 'idsite=7&rec=1'
# Yesterday's visits (Matomo's cdt, which needs the site's token_auth when older than a day), for the
# daily e-mail report below: yesterday in the schedule's time zone, which is not UTC's yesterday
# around midnight.
yesterday=$(TZ=Europe/Berlin date -d 'yesterday 11:00' +%s)
hit 203.0.113.80 "$chrome" "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F&action_name=Home&cdt=$yesterday&token_auth=$token"
hit 203.0.113.80 "$chrome" "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fdocs&action_name=Docs&cdt=$((yesterday + 60))&token_auth=$token"
hit 198.51.100.40 "$iphone" "idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F%3Futm_campaign%3Dlaunch&cdt=$((yesterday + 300))&token_auth=$token"
echo
echo
echo "== Waiting for the edge to ship"
for _ in $(seq 1 100); do
  "$bin/tally-edge" status -c "$work/edge.toml" | grep -q '^Buffered hits:   0 ' && break
  sleep 0.2
done
"$bin/tally-edge" status -c "$work/edge.toml"
echo
stored=$(sqlite3 "$work/central/central.sqlite" "SELECT COUNT(*) FROM hits")
batches=$(sqlite3 "$work/central/central.sqlite" "SELECT COUNT(*) FROM batches")
echo "== Central stored $stored hits in $batches signed batch(es) from edge-1"
echo
echo "One request explained (tally-edge explain):"
"$bin/tally-edge" explain -c "$work/edge.toml" --ip 203.0.113.77 --header "User-Agent: $chrome" \
  --url '/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2Fpricing%3Fgclid%3Dabc&uid=alice' | head -n 13
echo
echo "== Today's report for the demo site (tally-central report)"
"$bin/tally-central" report -c "$work/central.toml" --site 1 --report summary,pages,referrer_types,countries,browsers --period day --date today
echo
echo "== Yesterday's report by e-mail (tally-central send-reports) to the local SMTP sink"
"$bin/tally-central" send-reports -c "$work/central.toml" --schedule daily-demo
sleep 0.5
mail=$(ls -t "$work"/mail/*.eml | head -n 1)
python3 - "$mail" <<'PY'
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
print(f"Subject: {m['Subject']}\nTo: {m['To']}\nAttachments: {', '.join(p.get_filename() for p in m.iter_attachments())}\n")
print(m.get_body(('plain',)).get_content())
PY
echo "Read the whole message: $mail"
kill -TERM "$edge_pid" "$central_pid" "$sink_pid"
wait "$edge_pid" "$central_pid" "$sink_pid" 2>/dev/null || true
trap - EXIT
echo
echo "Files: $work (central.sqlite, buffer.sqlite, mail/, logs)"
