#!/usr/bin/env bash
# The first command: builds everything and runs Strata on its embedded
# default (today: `strata plan` on the bundled example closure).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release --workspace
cargo build --release -p strata-planner --target wasm32-unknown-unknown
# Where cargo put it: .ci/run and others set CARGO_TARGET_DIR.
exec "${CARGO_TARGET_DIR:-target}/release/strata" plan --format table "$@"
