#!/usr/bin/env bash
# Runs kiln's fuzz targets for a bounded time each and prints what they did.
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS_PER_TARGET=60] [WORKERS=1] [TARGETS="onnx plan value"]
#
# BUILD_DIR is a build configured with `CC=clang cmake -DKILN_FUZZ=ON` (fuzz_* and the kiln CLI built in it).
# Seeds are generated here, never committed: the ONNX node-test models, their .pb files, and plans built with the
# kiln CLI from a sample of the models, all from the vendored tarball; plus the regression inputs kept under
# tests/malformed/fuzz/<target>/. Corpora grow in BUILD_DIR/fuzz/corpus/<target>/ across runs.
#
# WORKERS=1: one process per target that stops at the first finding (CI). WORKERS>1: libFuzzer's fork mode with that
# many workers, which keeps going after a finding and collects every crashing input (long local runs).
# Exit status: 0 when no target found anything; 1 otherwise. Findings are in BUILD_DIR/fuzz/artifacts/<target>/.
set -euo pipefail

build=${1:?usage: run_fuzz.sh BUILD_DIR [SECONDS] [WORKERS] [TARGETS]}
seconds=${2:-60}
workers=${3:-1}
targets=${4:-onnx plan value}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "$build" && pwd)
work=$build/fuzz
mkdir -p "$work"

for t in $targets; do
    [[ -x $build/tests/fuzz/fuzz_$t ]] || { echo "run_fuzz: $build/tests/fuzz/fuzz_$t missing (configure with CC=clang -DKILN_FUZZ=ON and build it)" >&2; exit 2; }
done

# --- seeds -------------------------------------------------------------------------------------------------------
nodes=$build/node-tests/node
if [[ ! -d $nodes ]]; then
    nodes=$work/node-tests/node
    if [[ ! -d $nodes ]]; then
        mkdir -p "$work/node-tests"
        tar -xJf "$root/tests/data/onnx-node-tests-1.23.tar.xz" -C "$work/node-tests"
    fi
fi
seeds=$work/seeds
if [[ ! -f $seeds/.done ]]; then
    rm -rf "$seeds"
    mkdir -p "$seeds/onnx" "$seeds/value" "$seeds/plan"
    i=0
    for d in "$nodes"/test_*/; do
        name=$(basename "$d")
        m=$d/model.onnx
        [[ -f $m ]] || continue
        if (($(stat -c %s "$m") <= 65536)); then cp "$m" "$seeds/onnx/$name.onnx"; fi
        for pb in "$d"/test_data_set_0/*.pb; do
            [[ -f $pb ]] && (($(stat -c %s "$pb") <= 16384)) && cp "$pb" "$seeds/value/${name}__$(basename "$pb")"
        done
        # Every 8th model becomes a plan seed (only those kiln can build).
        if ((i++ % 8 == 0)); then
            "$build/kiln" build "$m" -o "$seeds/plan/$name.plan" >/dev/null 2>&1 || rm -f "$seeds/plan/$name.plan"
        fi
    done
    touch "$seeds/.done"
fi

# --- runs --------------------------------------------------------------------------------------------------------
# Allocations above 1 GiB fail (NULL, which kiln must report as out of memory) instead of ending the run; the RSS
# limit still catches real growth.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export KILN_NUM_THREADS=${KILN_NUM_THREADS:-1}
found=0
summary=()
for t in $targets; do
    corpus=$work/corpus/$t
    art=$work/artifacts/$t
    mkdir -p "$corpus" "$art"
    log=$work/fuzz_$t.log
    # -timeout: a hang is a unit running past 60 s. Legitimate units get near 25 s under ASan + UBSan + coverage
    # (a plan mutated into a pooling over millions of padded rows: ~1e9 window steps), so 25 s was too tight.
    args=(-max_total_time="$seconds" -timeout=60 -rss_limit_mb=3072 -malloc_limit_mb=2048 -max_len=65536
          -print_final_stats=1 -artifact_prefix="$art/")
    if ((workers > 1)); then
        args+=(-fork="$workers" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    echo "=== run_fuzz: fuzz_$t for ${seconds}s ($workers worker(s)), log $log"
    set +e
    "$build/tests/fuzz/fuzz_$t" "${args[@]}" "$corpus" "$seeds/$t" "$root/tests/malformed/fuzz/$t" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n1)
    if [[ -z $execs ]]; then # fork mode: the last status line carries the count
        execs=$(grep -E '^#[0-9]+' "$log" | tail -n1 | sed -nE 's/^#([0-9]+).*/\1/p')
    fi
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
    n_art=$(find "$art" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    line="fuzz_$t: ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus $(find "$corpus" -type f | wc -l) files, findings $n_art, exit $rc"
    summary+=("$line")
    echo "$line"
    if ((rc != 0 || n_art > 0)); then
        found=1
        grep -E 'ERROR: |runtime error|fuzz invariant failed|SUMMARY' "$log" | head -n 20 || true
        ls "$art"
    fi
done
echo "=== run_fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$found"
