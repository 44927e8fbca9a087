#!/usr/bin/env bash
# The first command: builds everything (the strata binary, the web UI for
# wasm32 into web/dist, and with Debian's Nix the nix/tests packages whose
# closures the server offers as something real to build), then runs
# `strata serve`: the UI at http://127.0.0.1:8080/, the build API under
# /api/, the registry under /v2/ (extra arguments go to `strata serve`,
# e.g. --listen 0.0.0.0:8080). One line a step; the tools' own output goes
# to target/start.log.
set -euo pipefail
cd "$(dirname "$0")/.."

# Where cargo puts things: .ci/run and others set CARGO_TARGET_DIR.
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
log="$target/start.log"
: >"$log"

step() {
    local what=$1 start=$SECONDS
    shift
    printf 'strata: %s ... ' "$what" >&2
    if "$@" >>"$log" 2>&1; then
        echo "done ($((SECONDS - start)) s)" >&2
    else
        echo "failed; the last lines of $log:" >&2
        tail -n 25 "$log" >&2
        exit 1
    fi
}

step "checking the wasm32 Rust target and Nix" bash scripts/setup.sh run
step "building strata (release)" cargo build --release -p strata-server --bin strata
step "building the web UI (wasm32)" cargo run -q -p xtask -- web
examples=(--examples examples/fleet/rev2)
if command -v nix-build >/dev/null 2>&1; then
    mkdir -p "$target/examples"
    # No binary cache is needed (the packages are built from scratch), so
    # none is asked: this works offline too.
    step "building the example packages with Nix (nix/tests)" env NIX_CONFIG="substituters =" \
        nix-build nix/closure-graph.nix --arg paths '[ (import ./nix/tests {}).hello ]' \
        -o "$target/examples/hello.json"
    examples=(--examples "$target/examples" "${examples[@]}")
fi
strata="$target/release/strata"
echo "strata: the binary is $strata; put it on PATH, or run cargo install --path server" >&2
exec "$strata" serve --ui web/dist "${examples[@]}" "$@"
