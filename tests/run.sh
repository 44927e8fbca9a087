#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh test
# setup.sh installed every real tool (Nix, podman, skopeo, umoci); with CI
# set, a test that finds one missing fails instead of skipping quietly
# (tests/src/lib.rs, `require`).
export CI=1

step() { echo; echo "==> $*" >&2; "$@"; }
step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
step cargo clippy -p strata-web -p strata-planner-wasm --target wasm32-unknown-unknown -- -D warnings
# The image and UI tests (tests/) run the strata binary from the target
# dir; the UI tests need the built UI in web/dist (the planner, its JS API
# and the Leptos app for wasm32, glued by wasm-bindgen).
step cargo build -p strata-server --bin strata
step cargo run -q -p xtask -- web
step cargo test --workspace
echo; echo "all checks passed" >&2
