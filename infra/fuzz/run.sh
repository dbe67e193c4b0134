#!/usr/bin/env bash
# Builds the cargo-fuzz targets of fuzz/ and runs each in turn (not part of CI).
#
#   infra/fuzz/run.sh [SECONDS] [RUNS]      # per target: at most SECONDS (default 60),
#                                           # stopping earlier after RUNS executions
#   TARGETS="host form" infra/fuzz/run.sh 30
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# Everything runs under `nice -n 19` with one libFuzzer job and one worker, so a
# shared machine keeps its CPU for other work. The corpus of each target grows in
# fuzz/corpus/<target>/ (seeded from fuzz/seeds/<target>/), crashes land in
# fuzz/artifacts/<target>/, the libFuzzer log in fuzz/target/logs/<target>.log.
# Set SPORTELLO_FUZZ_KNOWN=1 to stop skipping the known finding (see fuzz/RESULTS.md).
set -euo pipefail

SECONDS_PER_TARGET=${1:-60}
RUNS=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/fuzz
ALL="host identifiers formats form multipart workflow saml_response"
TARGETS=${TARGETS:-$ALL}
TRIPLE=$(rustc +nightly -vV | sed -n 's/^host: //p')
# No sanitizer: the code fuzzed is safe Rust (overflow checks and debug assertions
# are on with -a); libxml2/xmlsec are the system's, uninstrumented either way.
BUILD_FLAGS=(-a -s none)

cd "$FUZZ"
# `cargo fuzz build` takes one target or none (= all of them).
for t in $TARGETS; do
    nice -n 19 cargo +nightly fuzz build "${BUILD_FLAGS[@]}" "$t"
done

mkdir -p "$FUZZ/target/logs"
summary=()
for t in $TARGETS; do
    mkdir -p "$FUZZ/corpus/$t" "$FUZZ/artifacts/$t"
    log=$FUZZ/target/logs/$t.log
    work=$FUZZ/target/logs/$t.d
    rm -rf "$work" && mkdir -p "$work"
    args=(-max_total_time="$SECONDS_PER_TARGET" -jobs=1 -workers=1 -print_final_stats=1
        -artifact_prefix="$FUZZ/artifacts/$t/" -timeout=10 -rss_limit_mb=2048)
    [ -n "$RUNS" ] && args+=(-runs="$RUNS")
    [ -f "$FUZZ/dict/$t.dict" ] && args+=(-dict="$FUZZ/dict/$t.dict")
    echo "== $t: ${SECONDS_PER_TARGET}s${RUNS:+ or $RUNS runs}"
    start=$(date +%s)
    # With -jobs, libFuzzer writes the job's output to fuzz-0.log in its directory.
    (cd "$work" && nice -n 19 "$FUZZ/target/$TRIPLE/release/$t" "${args[@]}" \
        "$FUZZ/corpus/$t" "$FUZZ/seeds/$t") >"$log" 2>&1 || true
    cat "$work"/fuzz-*.log >>"$log" 2>/dev/null || true
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "$FUZZ/corpus/$t" -type f | wc -l)
    crashes=$(find "$FUZZ/artifacts/$t" -type f | wc -l)
    summary+=("$(printf '%-14s %12s execs %6ss  corpus %5s  artifacts %s' "$t" "${execs:-?}" "$took" "$corpus" "$crashes")")
done

echo
echo "target          executions      time  corpus       artifacts"
printf '%s\n' "${summary[@]}"
