#!/usr/bin/env bash
# Smoke run of every fuzz target: builds them on stable Rust (`cargo fuzz build -s none`), runs
# each from its committed seeds, prints the executions per target, and fails on any crash,
# timeout or out-of-memory. Installs cargo-fuzz if it is missing.
#
#   fuzz/smoke.sh                 # every target: a fixed seed and a fixed number of inputs
#   FUZZ_SECONDS=300 fuzz/smoke.sh timestamp detector_spec   # real fuzzing, random seed
#
# The default run is deterministic (libFuzzer's -seed=1 and a -runs count per target, sized to
# a few seconds each on a 2-core machine), so the test command does not pass or fail by luck;
# FUZZ_SECONDS switches to time-boxed runs with a random seed, for finding new crashes.
#
# New inputs the runs find go to target/smoke-corpus/ (not to the seeds); a crashing input is
# saved under artifacts/<target>/ and named in the output.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
seconds="${FUZZ_SECONDS:-}"
# Fuzz builds use their own compiler flags (coverage instrumentation): sharing the workspace's
# target directory would only make both rebuild everything.
export CARGO_TARGET_DIR="$here/target"
export CARGO_TERM_COLOR=never

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# `-s none`: no sanitizer, so no `-Zsanitizer` flag and no nightly toolchain. Rust code is
# memory safe without one; what the targets look for is panics, broken invariants (asserted in
# the targets), integer overflow (debug assertions are on in fuzz builds), hangs and runaway
# memory.
echo "building the fuzz targets"
cargo fuzz build -s none

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Inputs per target in the deterministic run: the structured targets run a detector or a
# monitor through hundreds of operations per input, the parsers take microseconds.
runs_for() {
    case "$1" in
        detector_stream | monitor_stream | snapshot_mutate) echo 1500 ;;
        score_csv | case_files) echo 20000 ;;
        *) echo 60000 ;;
    esac
}

failed=()
printf '\n%-20s %12s %10s\n' target executions exec/s
for t in "${targets[@]}"; do
    scratch="$here/target/smoke-corpus/$t"
    log="$here/target/smoke-logs/$t.log"
    rm -rf "$scratch"
    mkdir -p "$scratch" "$(dirname "$log")" "$here/artifacts/$t"
    if [ -n "$seconds" ]; then
        budget=(-max_total_time="$seconds")
    else
        budget=(-seed=1 -runs="$(runs_for "$t")" -max_total_time=120)
    fi
    status=0
    cargo fuzz run -s none "$t" "$scratch" "corpus/$t" -- \
        "${budget[@]}" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$t/" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    printf '%-20s %12s %10s\n' "$t" "${runs:-?}" "${rate:-?}"
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "--- $t failed (exit $status); the end of its log ($log):"
        tail -n 40 "$log"
        echo "---"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke run failed: ${failed[*]}"
    exit 1
fi
echo "fuzz smoke run: ${#targets[@]} targets, no crash"
