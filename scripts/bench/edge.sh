#!/usr/bin/env bash
# Edge ingest: tally-edge (full privacy pipeline, a GeoIP database of 50,000 networks, durable ack) against
# nginx answering `return 204`, both driven by wrk with the same Matomo pageview mix (matomo-mix.lua),
# alternately, several times. Prints requests/s at full load, p50/p99 latency at half of Tally's maximum
# rate (and, from the edge's own histogram, how long it took to handle those requests once read), tally-edge's
# resident memory idle and at its peak under load, and each server's CPU time per request at full load.
# The edge's HTTP stack with nothing behind it (`tally-bench bare`: the edge listener's connection
# handlers, answering 204) runs in the same rounds: the ceiling of the stack. Before the servers start it
# times a fixed piece of work (`tally-bench steadiness`): how steadily the machine runs, which every
# latency tail measured on it inherits. Last, it says which of SPEC.md's edge targets this run met.
#   scripts/bench/edge.sh [RUNS] [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

runs=${1:-5}
seconds=${2:-10}
connections=${3:-64}
work="${TALLY_BENCH_DIR:-/tmp/tally-bench-edge}"
tally_port=18181
nginx_port=18182
bare_port=18183

scripts/install-deps.sh > /dev/null
bench_install wrk nginx-light
bin="$(release_build tally-edge tally-bench)"

rm -rf "$work"
mkdir -p "$work/edge" "$work/nginx"
echo "Timing a fixed piece of work on the idle machine." >&2
steadiness=$("$bin/tally-bench" steadiness --seconds 5)
perl scripts/bench/make-bench-geoip.pl "$work/geo.mmdb"
# 5,000 distinct user agents from device-detector's fixtures, sent Zipf-weighted (matomo-mix.lua).
"$bin/tally-bench" detect --count 5000 --write "$work/user-agents.txt" --write-only
export TALLY_BENCH_USER_AGENTS="$work/user-agents.txt"

edge_bench_config "$work/edge.toml" bench "$tally_port" "$work/edge" "$work/geo.mmdb"

cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { return 204; }
    }
}
NGINX

start_ns=$(date +%s%N)
"$bin/tally-edge" run -c "$work/edge.toml" 2> "$work/edge.log" &
edge_pid=$!
nginx -c "$work/nginx/nginx.conf" &
nginx_pid=$!
"$bin/tally-bench" bare --port "$bare_port" > /dev/null 2>&1 &
bare_pid=$!
trap 'kill $edge_pid $nginx_pid $bare_pid 2>/dev/null || true; wait 2>/dev/null || true' EXIT
wait_for_port "$tally_port"
startup_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
wait_for_port "$nginx_port"
wait_for_port "$bare_port"
sleep 2
idle_rss=$(rss_mb "$edge_pid")
nginx_idle_rss=$(rss_mb "$nginx_pid")

# wrk PORT CONNECTIONS [RATE] → "requests/s p50_ms p99_ms non_2xx"; RATE paces the load (matomo-mix.lua).
wrk_run() {
    local out
    out=$(TALLY_BENCH_RATE="${3:-}" TALLY_BENCH_THREADS=2 wrk -t2 -c"$2" -d"${seconds}s" --latency -s scripts/bench/matomo-mix.lua "http://127.0.0.1:$1/")
    echo "$out" >> "$work/wrk.log"
    echo "$out" | wrk_summary
}

echo "Warming up the servers." >&2
wrk_run "$nginx_port" "$connections" > /dev/null
wrk_run "$bare_port" "$connections" > /dev/null
wrk_run "$tally_port" "$connections" > /dev/null

# CPU time (user and system, in clock ticks) of a process and its children (nginx's workers).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))
# wrk_timed PORT PID → "requests/s µs-of-server-CPU-per-request non_2xx"
wrk_timed() {
    local before after rps bad
    before=$(cpu_ticks "$2")
    read -r rps _ _ bad < <(wrk_run "$1" "$connections")
    after=$(cpu_ticks "$2")
    echo "$rps $(awk -v t=$((after - before)) -v u="$tick_us" -v r="$rps" -v s="$seconds" 'BEGIN { printf "%.0f", t * u / (r * s) }') $bad"
}

nginx_rps=(); bare_rps=(); tally_rps=(); nginx_cpu=(); bare_cpu=(); tally_cpu=(); tally_bad=0
for run in $(seq "$runs"); do
    read -r rps cpu _ < <(wrk_timed "$nginx_port" "$nginx_pid"); nginx_rps+=("$rps"); nginx_cpu+=("$cpu")
    read -r rps cpu _ < <(wrk_timed "$bare_port" "$bare_pid"); bare_rps+=("$rps"); bare_cpu+=("$cpu")
    read -r rps cpu bad < <(wrk_timed "$tally_port" "$edge_pid"); tally_rps+=("$rps"); tally_cpu+=("$cpu"); tally_bad=$((tally_bad + bad))
    echo "Run $run at full load: nginx ${nginx_rps[-1]} req/s, bare stack ${bare_rps[-1]} req/s, tally-edge ${tally_rps[-1]} req/s." >&2
done
nginx_max=$(median "${nginx_rps[@]}")
bare_max=$(median "${bare_rps[@]}")
tally_max=$(median "${tally_rps[@]}")
load_rss=$(peak_rss_mb "$edge_pid")

# Half of Tally's maximum rate, offered to both on a fixed schedule.
target=$(awk -v r="$tally_max" 'BEGIN { printf "%d", r / 2 }')
metrics_url="http://127.0.0.1:$tally_port/metrics"
python3 scripts/bench/handling-time.py snapshot "$metrics_url" > "$work/metrics-before-paced"
n_p50=(); n_p99=(); n_rate=(); t_p50=(); t_p99=(); t_rate=()
for run in $(seq "$runs"); do
    read -r rps p50 p99 _ < <(wrk_run "$nginx_port" "$connections" "$target"); n_rate+=("$rps"); n_p50+=("$p50"); n_p99+=("$p99")
    read -r rps p50 p99 bad < <(wrk_run "$tally_port" "$connections" "$target"); t_rate+=("$rps"); t_p50+=("$p50"); t_p99+=("$p99"); tally_bad=$((tally_bad + bad))
    echo "Run $run at half rate: nginx p99 ${n_p99[-1]} ms, tally-edge p99 ${t_p99[-1]} ms." >&2
done
handling=$(python3 scripts/bench/handling-time.py since "$work/metrics-before-paced" "$metrics_url")
buffered=$("$bin/tally-edge" status -c "$work/edge.toml" | awk '/^Buffered hits:/ { print $3 }')
read -r sync_p50 sync_p99 sync_max < <(python3 scripts/bench/fsync-latency.py "$work/edge")

throughput=$(ratio "$tally_max" "$nginx_max")
p99=$(median "${t_p99[@]}")

cat <<TABLE

Edge ingest, $runs alternating runs of ${seconds} s each (medians); wrk -t2, keep-alive.
Machine: $(machine)

| Measure | nginx \`return 204\` | tally-edge | ratio |
|---|---:|---:|---:|
| Requests/s at full load ($connections connections) | $nginx_max | $tally_max | ${throughput}× |
| Requests/s of the edge's HTTP stack with nothing behind it | $nginx_max | $bare_max | $(ratio "$bare_max" "$nginx_max")× |
| Server CPU per request at full load, µs (bare stack: $(median "${bare_cpu[@]}")) | $(median "${nginx_cpu[@]}") | $(median "${tally_cpu[@]}") | |
| Achieved rate when offered $target req/s (half of Tally's max), req/s | $(median "${n_rate[@]}") | $(median "${t_rate[@]}") | |
| p50 latency at the paced rate, ms | $(median "${n_p50[@]}") | $(median "${t_p50[@]}") | |
| p99 latency at the paced rate, ms | $(median "${n_p99[@]}") | $p99 | |
| Resident memory idle, MB | $nginx_idle_rss | $idle_rss | |
| Resident memory, peak under load, MB | $(peak_rss_mb "$nginx_pid") | $load_rss | |
| Start-up to listening (detection databases loaded), ms | | $startup_ms | |

The edge's own handling time of the paced requests (from the tracking controller to the answer, commit
included; wrk's figures add the wait to be read and wrk's own scheduling): $handling.
A fixed memory-bound piece of work, timed on the idle machine before the servers started (repetitions
without a context switch): $steadiness.
User agents: $(wc -l < "$work/user-agents.txt") distinct ones from device-detector's fixtures, Zipf-weighted.
tally-edge answered $tally_bad requests with a status other than 2xx and holds $buffered hits in its buffer.
The disk under the buffer, idle: fdatasync of an 8 KiB append p50 $sync_p50 ms, p99 $sync_p99 ms, max $sync_max ms.
TABLE

# SPEC.md's edge targets, judged on this run's medians: a target is met on this machine or not, and a
# run elsewhere says nothing about it.
verdict() { awk -v v="$1" -v op="$2" -v limit="$3" 'BEGIN { ok = (op == ">=") ? v >= limit : v <= limit; print ok ? "met" : "NOT MET" }'; }
cat <<TARGETS

Against SPEC.md's edge targets on this machine (medians of this run):
- throughput ${throughput}× nginx, floor 0.25× (goal 0.5×): $(verdict "$throughput" ">=" 0.25)
- p99 ${p99} ms at half the maximum rate, at most 5 ms: $(verdict "$p99" "<=" 5)
- resident memory idle ${idle_rss} MB, at most 50 MB: $(verdict "$idle_rss" "<=" 50)
- resident memory at its peak under load ${load_rss} MB, at most 150 MB: $(verdict "$load_rss" "<=" 150)
- start-up ${startup_ms} ms with the detection databases loaded, at most 2,000 ms: $(verdict "$startup_ms" "<=" 2000)
TARGETS
