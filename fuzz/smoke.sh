#!/bin/sh
# CI smoke of kslink's fuzz targets: builds every target of fuzz/ with cargo-fuzz (libFuzzer,
# AddressSanitizer, debug assertions) and runs each for a few seconds, starting from the
# committed corpus and regressions. Exits non-zero on any finding (a crash, a timeout, an
# out-of-memory); libFuzzer leaves the input under fuzz/artifacts/TARGET/.
#
# Stable Rust: cargo-fuzz needs nightly flags, which RUSTC_BOOTSTRAP=1 allows.
# SECONDS_PER_TARGET (default 10) sets the time of each run.
set -eu

cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_TARGET:-10}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cargo fuzz build -O -a
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
    echo "fuzz smoke: $target, ${seconds}s"
    mkdir -p "$scratch/$target"
    set -- "$scratch/$target" "fuzz/corpus/$target"
    [ -d "fuzz/regressions/$target" ] && set -- "$@" "fuzz/regressions/$target"
    # The scratch directory comes first: new inputs go there, not into the committed corpus.
    cargo fuzz run -O -a "$target" "$@" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        2>"$scratch/$target.log" || {
        tail -n 40 "$scratch/$target.log"
        echo "fuzz smoke: $target found a failure (input under fuzz/artifacts/$target/)" >&2
        exit 1
    }
    grep -E 'stat::number_of_executed_units' "$scratch/$target.log" || true
done
echo "fuzz smoke: no findings"
