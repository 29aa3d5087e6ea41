#!/usr/bin/env bash
# The cluster demo: a throwaway PostgreSQL 15 (initdb in a temporary directory, run as an unprivileged
# user), two tally-central nodes on that one database, HAProxy in TCP mode in front of their ingest ports,
# and two edges shipping through it. Sends hits to both edges, stops one node while they ship, and prints
# the report each node answers (the same one).
#   scripts/demo-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh   # includes haproxy
scripts/swift-build.sh --product tally-edge
scripts/swift-build.sh --product tally-central
bin="$(swift build --show-bin-path)"

work="${TALLY_DEMO_DIR:-$PWD/demo-cluster-data}"
rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/postgres-server.sh stop "$work/postgres"
}
trap cleanup EXIT

echo "== PostgreSQL 15 in $work/postgres (user tally-pg)"
eval "$(scripts/postgres-server.sh start "$work/postgres")"
echo "Database: $TALLY_TEST_POSTGRES_URL"

echo "== Development PKI and the edges' signing keys"
scripts/dev-pki.sh "$work/pki" edge-1 edge-2 > /dev/null
edges=""
for edge in edge-1 edge-2; do
  key=$("$bin/tally-edge" keygen --out "$work/$edge-signing.key")
  edges+=$'\n'"[[edges]]"$'\n'"id = \"$edge\""$'\n'"public_key = \"$key\""$'\n'
done

# Seven distinct ports below the kernel's ephemeral range, so no connection made meanwhile takes one.
mapfile -t ports < <(scripts/free-port.py 7)
[ ${#ports[@]} = 7 ] || exit 1
proxy_port=${ports[0]}
declare -A ingest_port api_port
ingest_port[a]=${ports[1]} api_port[a]=${ports[2]} ingest_port[b]=${ports[3]} api_port[b]=${ports[4]}
for node in a b; do
  cat > "$work/central-$node.toml" <<TOML
data_dir = "$work/central-$node"
[ingest]
listen = "127.0.0.1:${ingest_port[$node]}"
certificate_file = "$work/pki/central.crt"
key_file = "$work/pki/central.key"
edge_ca_file = "$work/pki/edge-ca.crt"
[api]
listen = "127.0.0.1:${api_port[$node]}"
[store]
url = "$TALLY_TEST_POSTGRES_URL"
password_file = "$TALLY_TEST_POSTGRES_PASSWORD_FILE"
[aggregation]
interval_seconds = 1
lease_seconds = 10
$edges
[[sites]]
id = 1
name = "Example"
time_zone = "UTC"
TOML
done
scripts/haproxy-config.sh "$proxy_port" "${ingest_port[a]}" "${ingest_port[b]}" > "$work/haproxy.cfg"
declare -A edge_port
edge_port[edge-1]=${ports[5]} edge_port[edge-2]=${ports[6]}
for edge in edge-1 edge-2; do
  cat > "$work/$edge.toml" <<TOML
edge_id = "$edge"
listen = "127.0.0.1:${edge_port[$edge]}"
data_dir = "$work/$edge"
trusted_proxies = ["127.0.0.1"]
[shipping]
central_url = "https://localhost:$proxy_port/v1/batches"
batch_max_hits = 20
batch_interval_seconds = 1
max_backoff_seconds = 1
signing_key_file = "$work/$edge-signing.key"
client_certificate_file = "$work/pki/edge-$edge.crt"
client_key_file = "$work/pki/edge-$edge.key"
central_ca_file = "$work/pki/central-ca.crt"
[[sites]]
id = 1
TOML
done

echo "== Two central nodes, HAProxy on 127.0.0.1:$proxy_port, two edges"
declare -A node_pid
for node in a b; do
  "$bin/tally-central" run -c "$work/central-$node.toml" 2> "$work/central-$node.log" &
  node_pid[$node]=$!
  pids+=($!)
done
haproxy -f "$work/haproxy.cfg" -db 2> "$work/haproxy.log" &
pids+=($!)
for edge in edge-1 edge-2; do
  "$bin/tally-edge" run -c "$work/$edge.toml" 2> "$work/$edge.log" &
  pids+=($!)
done
for edge in edge-1 edge-2; do
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:${edge_port[$edge]}/healthz" > /dev/null 2>&1 && break
    sleep 0.1
  done
done

send() { # edge count label
  local edge=$1 count=$2 label=$3
  for i in $(seq 1 "$count"); do
    curl -s -o /dev/null -A 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0' \
      -H "X-Forwarded-For: 203.0.113.$((i % 50 + 1))" \
      "http://127.0.0.1:${edge_port[$edge]}/matomo.php?idsite=1&rec=1&url=https%3A%2F%2Fexample.com%2F$label%2F$((i % 7))&action_name=$label"
  done
}
echo "Sending 200 hits to each edge; node a is stopped (kill -9) half-way"
send edge-1 100 docs & first=$!
send edge-2 100 pricing & second=$!
wait "$first" "$second"
kill -9 "${node_pid[a]}"
wait "${node_pid[a]}" 2>/dev/null || true
echo "Node a killed; the edges keep shipping through HAProxy to node b"
send edge-1 100 blog & first=$!
send edge-2 100 home & second=$!
wait "$first" "$second"
echo "Restarting node a"
"$bin/tally-central" run -c "$work/central-a.toml" 2>> "$work/central-a.log" &
node_pid[a]=$!
pids+=($!)

echo "== Waiting until both edges have shipped everything and the day is aggregated"
psql_db() { PGPASSWORD=$(cat "$TALLY_TEST_POSTGRES_PASSWORD_FILE") psql "$TALLY_TEST_POSTGRES_URL" -qAt -c "$1"; }
for _ in $(seq 1 300); do
  buffered=0
  for edge in edge-1 edge-2; do
    n=$("$bin/tally-edge" status -c "$work/$edge.toml" | awk '/^Buffered hits:/ {print $3}')
    buffered=$((buffered + ${n:-1}))
  done
  [ "$buffered" = 0 ] && [ "$(psql_db 'SELECT COUNT(*) FROM dirty_days')" = 0 ] && break
  sleep 0.2
done
echo "Stored in PostgreSQL: $(psql_db 'SELECT COUNT(*) FROM hits') hits in $(psql_db 'SELECT COUNT(*) FROM batches') batches"
psql_db "SELECT '  ' || edge_id || ': ' || COUNT(*) || ' batches, ' || SUM(hit_count) || ' hits' FROM batches GROUP BY edge_id ORDER BY edge_id"
echo
for node in a b; do
  echo "== Today's report, answered by node $node"
  "$bin/tally-central" report -c "$work/central-$node.toml" --site 1 --report summary,pages --period day --date today --limit 8 > "$work/report-$node.txt"
  if [ "$node" = a ]; then cat "$work/report-a.txt"; else
    cmp -s "$work/report-a.txt" "$work/report-b.txt" && echo "(the same as node a's)" || cat "$work/report-b.txt"
  fi
done
echo
echo "Files: $work (configurations, logs; the database is removed on exit)"
