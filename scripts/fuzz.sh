#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/README.md) and runs each for a fixed number of inputs, grown from
# the committed seed corpus with a fixed seed, so a run is repeatable. A trap, a broken promise or a hang
# fails the script; the input that caused it is kept in .build-fuzz/findings/<target>/.
#   scripts/fuzz.sh [target ...]        targets: query bulk beacon hit batch toml (default: all)
#   TALLY_FUZZ_RUNS=N                    inputs per target (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(query bulk beacon hit batch toml)
runs=${TALLY_FUZZ_RUNS:-20000}

echo "Building the fuzz targets (.build-fuzz)…"
TALLY_FUZZ=1 scripts/swift-build.sh --scratch-path .build-fuzz --sanitize=fuzzer --product tally-fuzz
fuzzer=.build-fuzz/debug/tally-fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seeds that already exist elsewhere in the project are derived here rather than copied into the
# corpus: the batch test vector, its two records, and the example configurations.
derive_seeds() {
    local target=$1 dir=$2
    case $target in
    batch)
        python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read().strip()))' \
            Tests/TallyCoreTests/Fixtures/batch-v1.hex >"$dir/batch-v1"
        ;;
    hit)
        python3 - Tests/TallyCoreTests/Fixtures/batch-v1.hex "$dir" <<'PY'
import struct, sys, zlib
data = bytes.fromhex(open(sys.argv[1]).read().strip())
header = struct.unpack(">H", data[5:7])[0]
length = struct.unpack(">I", data[7 + header:11 + header])[0]
body = zlib.decompress(data[11 + header:11 + header + length])
for n, line in enumerate(body.splitlines()):
    open(f"{sys.argv[2]}/batch-v1-record-{n}", "wb").write(line)
PY
        ;;
    toml)
        cp edge/edge.example.toml "$dir/edge.example.toml"
        cp central/central.example.toml "$dir/central.example.toml"
        ;;
    esac
}

failed=()
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    findings=".build-fuzz/findings/$target"
    mkdir -p "$corpus" "$findings"
    if [ -d "Fuzz/Corpus/$target" ]; then cp Fuzz/Corpus/"$target"/* "$corpus"/; fi
    derive_seeds "$target" "$corpus"
    log="$work/$target.log"
    # -timeout: an input that runs for a minute is a hang (a normal one takes well under a millisecond).
    # Swift's own backtracer would catch the crash before libFuzzer saves the input.
    # Hashing is seeded per process unless made deterministic, which would make runs differ.
    if SWIFT_DETERMINISTIC_HASHING=1 SWIFT_BACKTRACE=enable=no TALLY_FUZZ_TARGET=$target "$fuzzer" -seed=1 -runs="$runs" -max_len=4096 -timeout=60 \
        -rss_limit_mb=2048 -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" >"$log" 2>&1; then
        coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz $target: $runs inputs, ${coverage:-cov: ?}, no finding"
    else
        echo "fuzz $target: FAILED; the input is in $findings/"
        tail -n 40 "$log"
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "Fuzzing found failures in: ${failed[*]}" >&2
    exit 1
fi
