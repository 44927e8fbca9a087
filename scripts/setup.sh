#!/usr/bin/env bash
# Installs what building and testing Strata needs, idempotently: each step
# checks first and does nothing when its tool is already there.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

# The planner also builds for the browser.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown
fi

# Debian packages the tests drive (python3 runs shared/bench/pullsim.py).
missing=()
have python3 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
