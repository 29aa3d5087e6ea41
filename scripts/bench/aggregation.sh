#!/usr/bin/env bash
# Aggregation: tally-central's daily aggregation of synthetic hits (10 million over 90 days and 5 sites by
# default), the full run and one dirty day, against plain SQLite GROUP BY queries for the same report rows
# (aggregation-baseline.sql) on the same table. Alternately, several times; prints seconds and ratios,
# and checks that both counted the same pageviews.
#   scripts/bench/aggregation.sh [RUNS] [HITS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

runs=${1:-3}
hits=${2:-10000000}
days=90
last_day=2026-11-22
first_day=$(date -u -d "$last_day - $((days - 1)) days" +%F)
dirty_day=2026-10-15
work="${TALLY_BENCH_DIR:-/tmp/tally-bench-aggregation}"

scripts/install-deps.sh > /dev/null
bin="$(release_build tally-central tally-bench)"

mkdir -p "$work"
[[ -f "$work/pki/central.crt" ]] || scripts/dev-pki.sh "$work/pki" edge-1 > /dev/null
central_config "$work" 0

# The synthetic store is kept between runs of this script (generating it takes minutes); --hits decides.
store="$work/central/central.sqlite"
synthetic_store "$work" "$hits" "$days" "$last_day"
stored=$(sqlite3 "$store" "SELECT COUNT(*) FROM hits")

baseline() { sed "s/WHERE_HITS/$1/" scripts/bench/aggregation-baseline.sql | sqlite3 "$store"; }
day_start=$(( $(date -u -d "$dirty_day" +%s) * 1000 ))
one_day="site_id = 3 AND ts >= $day_start AND ts < $((day_start + 86400000))"

echo "Warming up: one one-day run of each." >&2
seconds baseline "$one_day" > /dev/null
seconds "$bin/tally-central" aggregate -c "$work/central.toml" --site 3 --from "$dirty_day" --to "$dirty_day" > /dev/null

full_plain=(); full_tally=(); day_plain=(); day_tally=()
for run in $(seq "$runs"); do
    day_plain+=("$(seconds baseline "$one_day")")
    day_tally+=("$(seconds "$bin/tally-central" aggregate -c "$work/central.toml" --site 3 --from "$dirty_day" --to "$dirty_day")")
    full_plain+=("$(seconds baseline 1)")
    full_tally+=("$(seconds "$bin/tally-central" aggregate -c "$work/central.toml" --from "$first_day" --to "$last_day")")
    echo "Run $run: full ${full_plain[-1]} s plain, ${full_tally[-1]} s Tally; one day ${day_plain[-1]} s plain, ${day_tally[-1]} s Tally." >&2
done

# Both must have counted the same pageviews per site over all days (the last full runs' tables).
plain_check=$(sqlite3 "$store" "SELECT site_id, SUM(hits) FROM base_rows WHERE report = 'summary' GROUP BY site_id ORDER BY site_id")
tally_check=$(sqlite3 "$store" "SELECT site_id, SUM(pageviews) FROM daily_rows WHERE report = 'summary' GROUP BY site_id ORDER BY site_id")
[[ "$plain_check" == "$tally_check" ]] && same="yes" || same="NO (plain: ${plain_check//$'\n'/; } — Tally: ${tally_check//$'\n'/; })"

fp=$(median "${full_plain[@]}"); ft=$(median "${full_tally[@]}"); dp=$(median "${day_plain[@]}"); dt=$(median "${day_tally[@]}")
cat <<TABLE

Aggregation of $stored hits over $days days and 5 sites, $runs alternating runs (medians, wall-clock seconds).
Machine: $(machine)

| Measure | plain SQLite queries | tally-central aggregate | ratio |
|---|---:|---:|---:|
| Full aggregation (all $((days * 5)) site-days), s | $fp | $ft | $(ratio "$ft" "$fp")× |
| One dirty day (site 3, $dirty_day), s | $dp | $dt | $(ratio "$dt" "$dp")× |

Same pageviews per site from both: $same.
TABLE
