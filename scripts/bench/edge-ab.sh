#!/usr/bin/env bash
# Two builds of the edge side by side, for telling whether a change lowers its latency. The machine's
# speed drifts by a fifth from one ten-second window to the next, more than most changes move the
# p99, so runs one after the other compare phases as much as builds. Here both edges run at once, each
# offered half of RATE by a wrk of its own (-t1 -c32, matomo-mix.lua, the same paced schedule as
# edge.sh), so both see the same phase and together carry the load of one edge.sh latency run.
# Each round swaps which build starts first and which port it gets. Not for changes to how the scheduler
# treats the edge's threads (priority, slices): those act on the other edge too, and favour one side.
#   scripts/bench/edge-ab.sh BIN_DIR_A BIN_DIR_B [ROUNDS] [RATE] [SECONDS]
# BIN_DIR_A and BIN_DIR_B each hold a tally-edge binary (e.g. copies of .build/release before and after
# a change). RATE is the total offered load in requests/s: half of the edge's maximum from edge.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

usage="scripts/bench/edge-ab.sh BIN_DIR_A BIN_DIR_B [ROUNDS] [RATE] [SECONDS]"
if [[ $# -lt 2 ]]; then
    echo "Two build directories are needed, each holding a tally-edge binary (e.g. copies of .build/release): $usage." >&2
    exit 2
fi
for dir in "$1" "$2"; do
    if [[ ! -x "$dir/tally-edge" ]]; then
        echo "$dir holds no tally-edge binary; give directories that each hold one (e.g. copies of .build/release): $usage." >&2
        exit 2
    fi
done
bin_a=$(cd "$1" && pwd); bin_b=$(cd "$2" && pwd)
rounds=${3:-6}
rate=${4:-12000}
seconds=${5:-10}
work="${TALLY_BENCH_DIR:-/tmp/tally-bench-edge-ab}"
ports=(18191 18192)

scripts/install-deps.sh > /dev/null
bench_install wrk
bench="$(release_build tally-bench)/tally-bench"
rm -rf "$work"
mkdir -p "$work"
perl scripts/bench/make-bench-geoip.pl "$work/geo.mmdb"
"$bench" detect --count 5000 --write "$work/user-agents.txt" --write-only
export TALLY_BENCH_USER_AGENTS="$work/user-agents.txt"

# start NAME BIN_DIR PORT → the edge's pid; a fresh buffer each time.
start() {
    rm -rf "$work/$1"
    mkdir -p "$work/$1"
    edge_bench_config "$work/$1.toml" "bench-$1" "$3" "$work/$1" "$work/geo.mmdb"
    "$2/tally-edge" run -c "$work/$1.toml" > /dev/null 2> "$work/$1.log" &
    echo $!
}

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
a_p50=(); a_p99=(); b_p50=(); b_p99=(); b_better=0
for round in $(seq "$rounds"); do
    # Odd rounds start A first on the first port, even rounds B.
    if ((round % 2)); then
        port_a=${ports[0]}; port_b=${ports[1]}
        pids=("$(start a "$bin_a" "$port_a")"); pids+=("$(start b "$bin_b" "$port_b")")
    else
        port_a=${ports[1]}; port_b=${ports[0]}
        pids=("$(start b "$bin_b" "$port_b")"); pids+=("$(start a "$bin_a" "$port_a")")
    fi
    wait_for_port "$port_a"
    wait_for_port "$port_b"
    # Full load on each alone first: the detection cache fills, as on a running edge.
    for port in "$port_a" "$port_b"; do
        TALLY_BENCH_THREADS=2 wrk -t2 -c64 -d6s -s scripts/bench/matomo-mix.lua "http://127.0.0.1:$port/" > /dev/null
    done
    loads=()
    for side in a b; do
        port=$([[ $side == a ]] && echo "$port_a" || echo "$port_b")
        TALLY_BENCH_RATE=$((rate / 2)) TALLY_BENCH_THREADS=1 wrk -t1 -c32 -d"${seconds}s" --latency \
            -s scripts/bench/matomo-mix.lua "http://127.0.0.1:$port/" > "$work/wrk-$side.txt" &
        loads+=($!)
    done
    wait "${loads[@]}"
    for side in a b; do
        read -r _ p50 p99 bad < <(wrk_summary < "$work/wrk-$side.txt")
        if [[ $side == a ]]; then a_p50+=("$p50"); a_p99+=("$p99"); else b_p50+=("$p50"); b_p99+=("$p99"); fi
        if ((bad > 0)); then
            echo "Round $round: build ${side^^} answered $bad requests with a status other than 2xx; its log is $work/$side.log." >&2
        fi
    done
    if awk -v a="${a_p99[-1]}" -v b="${b_p99[-1]}" 'BEGIN { exit !(b < a) }'; then b_better=$((b_better + 1)); fi
    echo "Round $round: A p50 ${a_p50[-1]} p99 ${a_p99[-1]} ms, B p50 ${b_p50[-1]} p99 ${b_p99[-1]} ms." >&2
    # The edges were started in a subshell, so they are not this shell's children: wait for them to go.
    kill "${pids[@]}"
    for pid in "${pids[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
    pids=()
done

cat <<TABLE

Two edges side by side, $rounds rounds of ${seconds} s, each offered $((rate / 2)) req/s (medians; per round, B's p99 was lower in $b_better of $rounds).
A: $bin_a
B: $bin_b
Machine: $(machine)

| Build | p50, ms | p99, ms | p99 per round, ms |
|---|---:|---:|---|
| A | $(median "${a_p50[@]}") | $(median "${a_p99[@]}") | ${a_p99[*]} |
| B | $(median "${b_p50[@]}") | $(median "${b_p99[@]}") | ${b_p99[*]} |
TABLE
