#!/usr/bin/env bash
# Central on PostgreSQL, three measures, each against a plain baseline on the same server in the same run:
#  1. Ingest: signed batches posted over mutual TLS to one tally-central node, and to two nodes at once
#     (half of the batches each), against a plain COPY by psql of the same rows into the same table.
#  2. Aggregation of the synthetic 10-million-hit store (tally-bench generate, moved with migrate-store):
#     `tally-central aggregate` of all days and of one dirty day, against plain GROUP BY queries for the
#     same report rows (aggregation-baseline.sql in PostgreSQL's dialect).
#  3. Report latency: a month's pages report for one site over the API, on PostgreSQL and on SQLite,
#     against the plain SQL query that sums the same daily rows.
# The PostgreSQL 15 server is a throwaway one (scripts/postgres-server.sh), with its default settings.
#   scripts/bench/postgres.sh [RUNS] [INGEST_HITS] [AGGREGATION_HITS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

runs=${1:-3}
ingest_hits=${2:-200000}
aggregation_hits=${3:-10000000}
batch_size=1000
days=90
last_day=2026-11-22
first_day=$(date -u -d "$last_day - $((days - 1)) days" +%F)
dirty_day=2026-10-15
work="${TALLY_BENCH_DIR:-/tmp/tally-bench-postgres}"
port_a=18443; port_b=18444; api_port=18480

scripts/install-deps.sh > /dev/null
bin="$(release_build tally-central tally-edge tally-bench)"

mkdir -p "$work"
rm -rf "$work/ingest" "$work/nodes"
mkdir -p "$work/ingest" "$work/nodes"
[[ -f "$work/pki/central.crt" ]] || scripts/dev-pki.sh "$work/pki" edge-1 > /dev/null
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; scripts/postgres-server.sh stop "$work/pg"' EXIT
scripts/postgres-server.sh stop "$work/pg"
eval "$(scripts/postgres-server.sh start "$work/pg")"
server=${TALLY_TEST_POSTGRES_URL%/*}
export PGOPTIONS="-c client_min_messages=warning" PGPASSWORD; PGPASSWORD=$(cat "$TALLY_TEST_POSTGRES_PASSWORD_FILE")
psql_on() { local db=$1; shift; psql "$server/$db" -qAt -v ON_ERROR_STOP=1 "$@"; }
fresh_db() { psql_on postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"; }

# node_config DIR PORT DATABASE: a central configuration on the PostgreSQL database.
node_config() {
    ln -sfn "$work/pki" "$1/pki"
    central_config "$1" "$2" "${3:-}"
    printf '\n[store]\nurl = "%s/%s"\npassword_file = "%s"\n' "$server" "$4" "$TALLY_TEST_POSTGRES_PASSWORD_FILE" >> "$1/central.toml"
}
post() { # DIR PORT
    "$bin/tally-bench" post --dir "$1" --url "https://localhost:$2/v1/batches" --certificate "$work/pki/edge-edge-1.crt" \
        --key "$work/pki/edge-edge-1.key" --ca "$work/pki/central-ca.crt" --connections 2
}

echo "== 1. Ingest of $ingest_hits hits in batches of $batch_size" >&2
public_key=$("$bin/tally-edge" keygen --out "$work/ingest/edge-signing.key")
"$bin/tally-bench" batches --out "$work/ingest/batches" --hits "$ingest_hits" --batch-size "$batch_size" --signing-key "$work/ingest/edge-signing.key" >&2
ingest_hits=$(wc -l < "$work/ingest/batches/hits.jsonl")
mkdir -p "$work/ingest/half-a" "$work/ingest/half-b"
n=0
for file in "$work"/ingest/batches/*.tlyb; do
    ln -sf "$file" "$work/ingest/half-$([[ $((n % 2)) == 0 ]] && echo a || echo b)/"
    n=$((n + 1))
done
for node in a b; do
    mkdir -p "$work/nodes/$node"
    node_config "$work/nodes/$node" "$([[ $node == a ]] && echo $port_a || echo $port_b)" "$public_key" ingest
done
start_node() { # NAME
    "$bin/tally-central" run -c "$work/nodes/$1/central.toml" 2>> "$work/nodes/$1.log" &
    pids+=($!)
    wait_for_port "$([[ $1 == a ]] && echo $port_a || echo $port_b)"
}
stop_nodes() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
check_stored() {
    local stored; stored=$(psql_on ingest -c "SELECT COUNT(*) FROM hits")
    [[ "$stored" == "$ingest_hits" ]] || { echo "The database holds $stored hits, not $ingest_hits." >&2; exit 1; }
}
copy_rate=(); one_rate=(); two_rate=(); pg_cpu=(); nodes_cpu=(); all_cpu=(); wall=()
for run in $(seq "$runs"); do
    fresh_db ingest
    start_node a
    s=$(post "$work/ingest/batches" "$port_a")
    stop_nodes; check_stored
    one_rate+=("$(awk -v n="$ingest_hits" -v s="$s" 'BEGIN { printf "%.0f", n / s }')")

    # The same rows, as stored, copied back in by psql with one COPY into the same (partitioned) table.
    psql_on ingest -c "\\copy (SELECT * FROM hits) TO '$work/ingest/rows.tsv'"
    psql_on ingest -c "TRUNCATE hits" -c "CHECKPOINT"
    s=$(seconds psql_on ingest -c "\\copy hits FROM '$work/ingest/rows.tsv'")
    check_stored
    copy_rate+=("$(awk -v n="$ingest_hits" -v s="$s" 'BEGIN { printf "%.0f", n / s }')")

    fresh_db ingest
    start_node a; start_node b
    # Where the CPU goes while two nodes ingest: PostgreSQL's processes, the nodes, and the rest (the
    # load generators) — on a machine whose cores they all share, this says what the limit is.
    pg_before=$(cpu_seconds $(pgrep -u tally-pg)); nodes_before=$(cpu_seconds "${pids[@]}"); all_before=$(machine_cpu_seconds)
    start=$(date +%s.%N)
    post "$work/ingest/half-a" "$port_a" > /dev/null & first=$!
    post "$work/ingest/half-b" "$port_b" > /dev/null & second=$!
    wait "$first" "$second"
    end=$(date +%s.%N)
    pg_cpu+=("$(awk -v a="$pg_before" -v b="$(cpu_seconds $(pgrep -u tally-pg))" 'BEGIN { printf "%.2f", b - a }')")
    nodes_cpu+=("$(awk -v a="$nodes_before" -v b="$(cpu_seconds "${pids[@]}")" 'BEGIN { printf "%.2f", b - a }')")
    all_cpu+=("$(awk -v a="$all_before" -v b="$(machine_cpu_seconds)" 'BEGIN { printf "%.2f", b - a }')")
    wall+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')")
    stop_nodes; check_stored
    two_rate+=("$(awk -v n="$ingest_hits" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')")
    echo "Run $run: psql COPY ${copy_rate[-1]} hits/s, one node ${one_rate[-1]} hits/s, two nodes ${two_rate[-1]} hits/s." >&2
done

echo "== 2. Aggregation of about $aggregation_hits hits over $days days and 5 sites" >&2
# The synthetic SQLite store is kept between runs of this script (generating it takes minutes).
agg="$work/aggregation"
mkdir -p "$agg"
[[ -f "$agg/pki/central.crt" ]] || cp -r "$work/pki" "$agg/pki"
central_config "$agg" 18479
store="$agg/central/central.sqlite"
synthetic_store "$agg" "$aggregation_hits" "$days" "$last_day"
fresh_db aggregation
s=$(seconds "$bin/tally-central" migrate-store -c "$agg/central.toml" --to "$server/aggregation" --password-file "$TALLY_TEST_POSTGRES_PASSWORD_FILE")
echo "migrate-store copied the store into PostgreSQL in $s s." >&2
mkdir -p "$agg/pg"
cp "$agg/central.toml" "$agg/pg/central.toml"
sed -i "s|^data_dir = .*|data_dir = \"$agg/pg/data\"|" "$agg/pg/central.toml"
printf '\n[store]\nurl = "%s/aggregation"\npassword_file = "%s"\n' "$server" "$TALLY_TEST_POSTGRES_PASSWORD_FILE" >> "$agg/pg/central.toml"
stored=$(psql_on aggregation -c "SELECT COUNT(*) FROM hits")
psql_on aggregation -c "VACUUM ANALYZE hits"
# aggregation-baseline.sql's queries in PostgreSQL's dialect: typed columns, FILTER for SQLite's
# boolean sum, to_char for strftime.
baseline() {
    sed -e '/^PRAGMA/d' -e "s/WHERE_HITS/$1/" \
        -e 's/CREATE TABLE base_rows (site_id, day, report, label, hits, visitors)/CREATE TABLE base_rows (site_id BIGINT, day BIGINT, report TEXT, label TEXT, hits BIGINT, visitors BIGINT)/' \
        -e "s/SUM(kind = 'pageview')/COUNT(*) FILTER (WHERE kind = 'pageview')/" \
        -e "s|strftime('%H', ts / 1000, 'unixepoch')|to_char(to_timestamp(ts / 1000) AT TIME ZONE 'UTC', 'HH24')|" \
        scripts/bench/aggregation-baseline.sql | psql_on aggregation
}
day_start=$(( $(date -u -d "$dirty_day" +%s) * 1000 ))
one_day="site_id = 3 AND ts >= $day_start AND ts < $((day_start + 86400000))"
seconds baseline "$one_day" > /dev/null
seconds "$bin/tally-central" aggregate -c "$agg/pg/central.toml" --site 3 --from "$dirty_day" --to "$dirty_day" > /dev/null
full_plain=(); full_tally=(); day_plain=(); day_tally=()
for run in $(seq "$runs"); do
    day_plain+=("$(seconds baseline "$one_day")")
    day_tally+=("$(seconds "$bin/tally-central" aggregate -c "$agg/pg/central.toml" --site 3 --from "$dirty_day" --to "$dirty_day")")
    if [[ $run == 1 ]]; then
        full_plain+=("$(seconds baseline TRUE)")
        full_tally+=("$(seconds "$bin/tally-central" aggregate -c "$agg/pg/central.toml" --from "$first_day" --to "$last_day")")
        # Both must have counted the same pageviews per site over all days.
        plain_check=$(psql_on aggregation -c "SELECT site_id, SUM(hits) FROM base_rows WHERE report = 'summary' GROUP BY site_id ORDER BY site_id")
        tally_check=$(psql_on aggregation -c "SELECT site_id, SUM(pageviews) FROM daily_rows WHERE report = 'summary' GROUP BY site_id ORDER BY site_id")
    fi
    echo "Run $run: one day ${day_plain[-1]} s plain, ${day_tally[-1]} s Tally${full_plain:+; full ${full_plain[-1]} s plain, ${full_tally[-1]} s Tally}." >&2
done
[[ "$plain_check" == "$tally_check" ]] && same="yes" || same="NO (plain: ${plain_check//$'\n'/; } — Tally: ${tally_check//$'\n'/; })"

echo "== 3. Report latency: October's pages report for site 1" >&2
month_sql="SELECT label, SUM(pageviews) FROM daily_rows WHERE site_id = 1 AND report = 'pages' AND day >= '2026-10-01' AND day <= '2026-10-31' GROUP BY label ORDER BY 2 DESC, label LIMIT 100"
latency() { # CONFIG → median and worst of 20 requests, in ms
    local config=$1 token times=()
    sed -i "s|^listen = \"127.0.0.1:0\"|listen = \"127.0.0.1:$api_port\"|" "$config"
    token=$("$bin/tally-central" token create -c "$config" --name bench --sites all | tail -n 1)
    "$bin/tally-central" run -c "$config" 2>> "$work/latency.log" &
    pids+=($!)
    wait_for_port "$api_port"
    for _ in $(seq 22); do
        times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$api_port/api/v1/reports/pages?site=1&period=month&date=2026-10-15&format=csv")")
    done
    stop_nodes
    times=("${times[@]:2}")  # the first two warm the caches
    printf '%s %s\n' "$(median "${times[@]}" | awk '{ printf "%.1f", $1 * 1000 }')" "$(printf '%s\n' "${times[@]}" | sort -g | tail -n 1 | awk '{ printf "%.1f", $1 * 1000 }')"
}
# Both stores aggregated first, so the requests measure reading a month, not aggregating it.
"$bin/tally-central" aggregate -c "$agg/central.toml" --from "$first_day" --to "$last_day" > /dev/null
sqlite_latency=$(latency "$agg/central.toml")
pg_latency=$(latency "$agg/pg/central.toml")
sqlite_plain=$( { for _ in $(seq 5); do echo ".timer on"; echo "$month_sql;"; done; } | sqlite3 "$store" | awk '/^Run Time/ { printf "%.1f\n", $4 * 1000 }' | sort -g | sed -n 3p)
pg_plain=$( { echo '\timing on'; for _ in $(seq 5); do echo "$month_sql;"; done; } | psql_on aggregation | awk '/^Time:/ { print $2 }' | sort -g | sed -n 3p)

cp=$(median "${copy_rate[@]}"); o=$(median "${one_rate[@]}"); t=$(median "${two_rate[@]}")
mid=$(for i in "${!two_rate[@]}"; do echo "${two_rate[$i]} $i"; done | sort -g | awk -v n="${#two_rate[@]}" 'NR == int((n + 1) / 2) { print $2 }')
dp=$(median "${day_plain[@]}"); dt=$(median "${day_tally[@]}")
cat <<TABLE

Central on PostgreSQL 15 (a throwaway server with default settings, on the same machine), $runs alternating runs (medians).
Machine: $(machine)

| Measure | plain baseline | tally-central | ratio |
|---|---:|---:|---:|
| Ingest of $ingest_hits hits, hits/s: psql COPY vs one node over mTLS | $cp | $o | $(ratio "$o" "$cp")× |
| Ingest, hits/s: one node vs two nodes (half the batches each) | $o | $t | $(ratio "$t" "$o")× |
| Aggregation of $stored hits, all $((days * 5)) site-days, s (1 run) | ${full_plain[0]} | ${full_tally[0]} | $(ratio "${full_tally[0]}" "${full_plain[0]}")× |
| One dirty day (site 3, $dirty_day), s | $dp | $dt | $(ratio "$dt" "$dp")× |

While two nodes ingested (median run: ${wall[$mid]} s on $(nproc) cores, ${all_cpu[$mid]} CPU-seconds used in all),
PostgreSQL's processes used ${pg_cpu[$mid]} CPU-seconds, the two nodes ${nodes_cpu[$mid]}, everything else (the load
generators) the rest.

Same pageviews per site from both aggregations: $same.

October's pages report for site 1 (of $stored hits), over the API as CSV, median and worst of 20 requests,
against the plain query that sums the same daily rows (median of 5):

| Store | plain query, ms | tally-central API, median ms | worst ms |
|---|---:|---:|---:|
| SQLite | $sqlite_plain | ${sqlite_latency% *} | ${sqlite_latency#* } |
| PostgreSQL | $pg_plain | ${pg_latency% *} | ${pg_latency#* } |
TABLE
