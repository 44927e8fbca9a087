#!/usr/bin/env bash
# The first command: builds everything (the strata binary, and the web UI
# for wasm32 into web/dist), shows a plan of the bundled example closure,
# then serves the UI at http://127.0.0.1:8080/ (extra arguments go to
# `strata serve`, e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release -p strata-server --bin strata
cargo run -q -p xtask -- web
# Where cargo put it: .ci/run and others set CARGO_TARGET_DIR.
strata="${CARGO_TARGET_DIR:-target}/release/strata"
"$strata" plan --format table
exec "$strata" serve --ui web/dist "$@"
