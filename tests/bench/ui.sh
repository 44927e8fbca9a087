#!/bin/sh
# The web UI's benchmark (issue 14, part 5), in headless Chromium: closures
# of about 500, 5,000 and 20,000 paths from Debian's package graph
# (../shared/bench, or STRATA_BENCH_DATA), opened by address; time to the
# first plan and drawing, replan after a budget change with each
# algorithm, the longest main-thread task, the same planning call natively
# and in wasm, and the bundle's gzipped size. Prints figures; asserts none.
#
#   tests/bench/ui.sh
set -eu
cd "$(dirname "$0")/../.."
data=${STRATA_BENCH_DATA:-../shared/bench}
target=${CARGO_TARGET_DIR:-target}
out=$target/tmp/ui-bench
mkdir -p "$out"
python3 tests/bench/closures.py "$data" "$out" 500 5000 20000
cargo run -q -p xtask -- web
# The server in release, as users run it (a debug build compresses the
# bundle and the closures on the fly ten times slower).
cargo build -q --release -p strata-server
cargo run -q --release -p xtask -- plan-times 100 "$out/500.json" "$out/5000.json" "$out/20000.json" > "$out/native.json"
STRATA_BENCH_CLOSURES=$(cd "$out" && pwd) STRATA_BENCH_NATIVE=$(cd "$out" && pwd)/native.json \
  cargo test -q --release -p strata-tests --test ui -- --ignored --nocapture --test-threads 1 benchmark_large_closures 2>&1 |
  sed -n '/^Strata UI benchmark/,$p'
