#!/usr/bin/env bash
# Central ingest: signed, compressed batches of realistic hits posted to tally-central over mutual TLS,
# against a plain program (plain-insert.py) inserting the same rows into SQLite in transactions of the same
# size with the same settings (WAL, synchronous = FULL). Alternately, several times; prints hits/s.
#   scripts/bench/central-ingest.sh [RUNS] [HITS] [BATCH_SIZE] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

runs=${1:-5}
hits=${2:-200000}
batch_size=${3:-1000}
connections=${4:-2}
work="${TALLY_BENCH_DIR:-/tmp/tally-bench-central}"
port=18443

scripts/install-deps.sh > /dev/null
bin="$(release_build tally-central tally-edge tally-bench)"

rm -rf "$work"
mkdir -p "$work"
scripts/dev-pki.sh "$work/pki" edge-1 > /dev/null
public_key=$("$bin/tally-edge" keygen --out "$work/edge-signing.key")
"$bin/tally-bench" batches --out "$work/batches" --hits "$hits" --batch-size "$batch_size" --signing-key "$work/edge-signing.key" >&2
hits=$(wc -l < "$work/batches/hits.jsonl")

central_config "$work" "$port" "$public_key"

plain=(); tally=()
for run in $(seq "$runs"); do
    rm -f "$work"/plain.sqlite*
    seconds=$(python3 scripts/bench/plain-insert.py "$work/batches/hits.jsonl" "$work/plain.sqlite" "$batch_size")
    plain+=("$(awk -v n="$hits" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')")

    rm -rf "$work/central"
    "$bin/tally-central" run -c "$work/central.toml" 2>> "$work/central.log" &
    central_pid=$!
    wait_for_port "$port"
    seconds=$("$bin/tally-bench" post --dir "$work/batches" --url "https://localhost:$port/v1/batches" \
        --certificate "$work/pki/edge-edge-1.crt" --key "$work/pki/edge-edge-1.key" --ca "$work/pki/central-ca.crt" \
        --connections "$connections")
    kill -TERM "$central_pid"
    wait "$central_pid" || true
    stored=$(sqlite3 "$work/central/central.sqlite" "SELECT COUNT(*) FROM hits")
    [[ "$stored" == "$hits" ]] || { echo "Central stored $stored hits, not $hits." >&2; exit 1; }
    tally+=("$(awk -v n="$hits" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')")
    echo "Run $run: plain SQLite ${plain[-1]} hits/s, tally-central ${tally[-1]} hits/s." >&2
done

plain_rate=$(median "${plain[@]}")
tally_rate=$(median "${tally[@]}")
cat <<TABLE

Central ingest of $hits hits in batches of $batch_size, $runs alternating runs (medians).
Machine: $(machine)

| Measure | plain SQLite inserts | tally-central over mTLS ($connections connections) | ratio |
|---|---:|---:|---:|
| Hits stored per second | $plain_rate | $tally_rate | $(ratio "$tally_rate" "$plain_rate")× |
TABLE
