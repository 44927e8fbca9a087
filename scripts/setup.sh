#!/usr/bin/env bash
# Installs what Strata needs, idempotently: each step checks first and does
# nothing when its tool is already there.
#
#   scripts/setup.sh run    what building and running needs (scripts/start.sh):
#                           the wasm32 Rust target, and Debian's Nix (nix-bin)
#                           to build the example packages the server offers
#                           (root or sudo; without them, a note and no Nix)
#   scripts/setup.sh test   also what the tests drive (tests/run.sh): Debian's
#                           Nix, skopeo, umoci, podman, runc, busybox-static,
#                           docker-registry (what strata push pushes into),
#                           pigz, curl, Chromium and chromedriver (root or
#                           sudo), and schemathesis from PyPI in a venv
#                           (${XDG_CACHE_HOME:-~/.cache}/strata/venv)
set -euo pipefail

mode="${1:-test}"
case "$mode" in
    run | test) ;;
    *) echo "usage: scripts/setup.sh run|test" >&2; exit 2 ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }

# The planner also builds for the browser (the web UI).
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown
fi

sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
can_install() { [ -z "$sudo" ] || sudo -n true 2>/dev/null; }

if [ "$mode" = run ]; then
    if ! have nix-build; then
        if can_install; then
            echo "setup: installing nix-bin" >&2
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nix-bin
        else
            echo "setup: no Nix and no root to install it (apt-get install nix-bin): the server will have no example to build" >&2
        fi
    fi
    exit 0
fi

# Debian packages the tests drive (python3 runs the optional benchmark
# kit; the image tests use real Nix, skopeo, umoci, podman with runc, and
# Debian's static busybox as the program inside test images; pigz is the
# image benchmark's peer; docker-registry is what strata push pushes
# into; Chromium runs the UI tests).
missing=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
have python3 || missing+=(python3)
have curl || missing+=(curl)
have nix-build || missing+=(nix-bin)
have skopeo || missing+=(skopeo)
have docker-registry || missing+=(docker-registry)
have umoci || missing+=(umoci)
have podman || missing+=(podman)
have runc || missing+=(runc)
have pigz || missing+=(pigz)
installed busybox-static || missing+=(busybox-static)
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# schemathesis (PyPI) checks the API against its OpenAPI document
# (tests/tests/openapi.rs), from a venv of its own.
venv="${STRATA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/strata/venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "setup: installing schemathesis into $venv" >&2
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        $sudo apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q "schemathesis==4.*"
fi
