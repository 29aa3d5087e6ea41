# Shared by the benchmark scripts: package installation, medians, process memory, the machine's description.
# Sourced, not run.

# Installs the Debian packages named, updating the package lists once if any is missing.
bench_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
    fi
}

# Builds the products named as deployments build them (release, the Swift runtime linked in, as edge/README.md
# and central/README.md say) and prints the directory that holds them. Stops with the build's log if it fails.
release_build() {
    local product
    for product in "$@"; do
        swift build -c release --static-swift-stdlib --product "$product" > /tmp/tally-bench-build.log 2>&1 \
            || { cat /tmp/tally-bench-build.log >&2; exit 1; }
    done
    swift build -c release --static-swift-stdlib --show-bin-path
}

# The median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Resident memory of a process and of its children, in MB: current (VmRSS) or peak (VmHWM).
rss_mb() { proc_mb VmRSS "$@"; }
peak_rss_mb() { proc_mb VmHWM "$@"; }
proc_mb() {
    local field=$1 total=0 pid
    shift
    for pid in "$@" $(pgrep -P "$1" 2>/dev/null || true); do
        total=$((total + $(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    awk -v kb="$total" 'BEGIN { printf "%.1f", kb / 1024 }'
}

# Waits until something listens on 127.0.0.1:PORT (at most 30 s).
wait_for_port() {
    for _ in $(seq 300); do
        (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "Nothing listens on 127.0.0.1:$1 after 30 s." >&2
    return 1
}

# One line about the machine, for the results table.
machine() {
    local cpu memory
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    memory=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "$cpu, $(nproc) cores, $memory RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r), $(swift --version 2>&1 | head -n 1)"
}

# wrk_summary < WRK_OUTPUT → "requests/s p50_ms p99_ms non_2xx" from wrk's --latency output.
wrk_summary() {
    awk '
        function ms(v) { if (v ~ /us$/) return v * 0.001; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $5 }
        END { printf "%s %.3f %.3f %d\n", rps, p50, p99, bad }'
}

# edge_bench_config FILE EDGE_ID PORT DATA_DIR GEOIP: the edge benchmarks' configuration, durable ack, no
# shipping, one site; the buffer may grow through the whole run.
edge_bench_config() {
    cat > "$1" <<TOML
edge_id = "$2"
listen = "127.0.0.1:$3"
data_dir = "$4"
log_level = "warning"
trusted_proxies = ["127.0.0.1"]
geoip_database = "$5"

[buffer]
ack = "durable"
max_buffer_bytes = 68719476736

[[sites]]
id = 1
name = "Bench"
domains = ["example.com"]
time_zone = "Europe/Berlin"
TOML
}

# Writes WORK/central.toml: data in WORK/central, ingest on PORT with the dev PKI in WORK/pki, five sites
# in UTC, and edge-1 registered when its PUBLIC_KEY is given.
central_config() {
    local work=$1 port=$2 public_key=${3:-}
    cat > "$work/central.toml" <<TOML
data_dir = "$work/central"
log_level = "warning"

[ingest]
listen = "127.0.0.1:$port"
certificate_file = "$work/pki/central.crt"
key_file = "$work/pki/central.key"
edge_ca_file = "$work/pki/edge-ca.crt"

[api]
listen = "127.0.0.1:0"
TOML
    [[ -z "$public_key" ]] || printf '\n[[edges]]\nid = "edge-1"\npublic_key = "%s"\n' "$public_key" >> "$work/central.toml"
    for site in 1 2 3 4 5; do printf '\n[[sites]]\nid = %d\nname = "Site %d"\ntime_zone = "UTC"\n' "$site" "$site" >> "$work/central.toml"; done
}

# synthetic_store WORK HITS DAYS LAST_DAY: WORK/central/central.sqlite with about HITS synthetic hits over
# DAYS days ending LAST_DAY and 5 sites (tally-bench generate, $bin), kept between runs (generating it
# takes minutes) until the hits asked for or the generator change.
synthetic_store() {
    local work=$1 hits=$2 days=$3 last_day=$4 stamp
    stamp="$hits $days $last_day $(sha256sum < Sources/tally-bench/SyntheticHits.swift)"
    [[ "$(cat "$work/generated" 2>/dev/null)" == "$stamp" ]] && return 0
    rm -rf "$work/central" "$work/generated"
    mkdir -p "$work/central"
    "$bin/tally-bench" generate --store "$work/central/central.sqlite" --hits "$hits" --days "$days" --sites 5 --last-day "$last_day" >&2
    echo "$stamp" > "$work/generated"
}

# seconds COMMAND…: runs it (its output to $work/last.out, the caller's work directory) and prints the wall-clock seconds.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" > "$work/last.out"
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

# CPU seconds (user + system) the given processes have used so far.
cpu_seconds() {
    local ticks=0 pid
    for pid in "$@"; do [[ -r /proc/$pid/stat ]] && ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat"))); done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# CPU seconds all processes of the machine have used so far (busy time in /proc/stat).
machine_cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8) / hz }' /proc/stat
}
