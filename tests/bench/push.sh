#!/usr/bin/env bash
# Benchmark: `strata push` into Debian's docker-registry (distribution
# 2.8, the reference registry) on loopback, against `skopeo copy
# docker-archive:... docker://...` of the same image into the same kind of
# registry, side by side in one run.
#
#   bash tests/bench/push.sh [WORKDIR]
#
# The image: four store paths of 48, 32, 16 and 8 MiB of incompressible
# bytes and a small one (five gzip layers, ~104 MiB), built once by
# `strata build` into a docker-archive. Figures:
#   warm   a push of an image the registry already has: requests and
#          bytes sent, from strata's summary and the registry's access log
#          (goal: one request per blob, no layer bytes)
#   cold   a push into an empty registry: MB/s of strata push and of
#          skopeo copy from the same archive, best of 3 each, a fresh
#          registry each run (goal: strata >= 1.0x skopeo)
# Installs docker-registry, skopeo and curl from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-${TMPDIR:-/tmp}/strata-bench-push}"
target="${CARGO_TARGET_DIR:-target}"
for pkg in docker-registry skopeo curl; do
    if ! command -v "$pkg" >/dev/null 2>&1; then
        echo "bench: installing $pkg" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
    fi
done
cargo build --release -q -p strata-server
strata="$(realpath "$target/release/strata")"
rm -rf "$work"; mkdir -p "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

root="$work/root"
closure="["
i=1
for mib in 48 32 16 8; do
    p=/nix/store/0000000000000000000000000000000$i-noise$i-1.0
    mkdir -p "$root$p"
    head -c $((mib << 20)) /dev/urandom >"$root$p/noise"
    closure+="{\"path\": \"$p\", \"narSize\": $((mib << 20)), \"references\": []},"
    refs+="\"$p\","
    i=$((i + 1))
done
app=/nix/store/00000000000000000000000000000009-app-1.0
mkdir -p "$root$app/bin"; echo 'echo app' >"$root$app/bin/app"
closure+="{\"path\": \"$app\", \"narSize\": 100, \"references\": [${refs%,}]}]"
echo "$closure" >"$work/closure.json"
"$strata" build "$work/closure.json" --store-root "$root" --budget 5 \
    --name bench --tag v1 --cache "$work/cache" -o "$work/image.tar" 2>/dev/null
bytes=$(stat -c %s "$work/image.tar")

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
registry() { # registry NAME: starts a fresh one; sets $addr and $log
    local p; p=$(port)
    addr="127.0.0.1:$p"; log="$work/$1.log"
    cat >"$work/$1.yml" <<EOY
version: 0.1
log: {level: info}
storage: {filesystem: {rootdirectory: $work/$1}}
http: {addr: $addr}
EOY
    docker-registry serve "$work/$1.yml" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do curl -fs -o /dev/null "http://$addr/v2/" && return; sleep 0.1; done
    echo "bench: docker-registry never answered on $addr" >&2; exit 1
}
requests() { grep -c '" [0-9][0-9][0-9] ' "$1" || true; }
uploads() { grep -cE '"(PUT|PATCH) /v2/[^ ]*/blobs/uploads/' "$1" || true; }
now() { date +%s%N; }

echo "push benchmark, $(nproc) cores, loopback; image: 5 layers, $((bytes >> 20)) MiB (docker-archive)"

# Warm: the image is there; push it again.
registry warm
"$strata" push "$work/image.tar" "docker://$addr/bench:v1" --tls-verify=false --cache "$work/push-cache" 2>/dev/null
skopeo copy -q --dest-tls-verify=false "docker-archive:$work/image.tar" "docker://$addr/peer:v1"
before=$(requests "$log"); before_up=$(uploads "$log")
summary=$("$strata" push "$work/image.tar" "docker://$addr/bench:v1" --tls-verify=false --cache "$work/push-cache" 2>&1 | tail -1)
strata_requests=$(($(requests "$log") - before)); strata_uploads=$(($(uploads "$log") - before_up))
before=$(requests "$log"); before_up=$(uploads "$log")
skopeo copy -q --dest-tls-verify=false "docker-archive:$work/image.tar" "docker://$addr/peer:v1"
skopeo_requests=$(($(requests "$log") - before)); skopeo_uploads=$(($(uploads "$log") - before_up))
echo "warm push (6 blobs already there):"
echo "  $summary"
echo "  strata: $strata_requests requests in the registry's log, $strata_uploads blob uploads"
echo "  skopeo: $skopeo_requests requests in the registry's log, $skopeo_uploads blob uploads"

# Cold: a fresh registry each run; best of 3.
best_strata=0; best_skopeo=0
for run in 1 2 3; do
    registry "cold-strata-$run"
    rm -rf "$work/push-cache-$run"
    start=$(now)
    "$strata" push "$work/image.tar" "docker://$addr/bench:v1" --tls-verify=false --cache "$work/push-cache-$run" 2>/dev/null
    ns=$(($(now) - start))
    [ "$best_strata" -eq 0 ] || [ "$ns" -lt "$best_strata" ] && best_strata=$ns
    registry "cold-skopeo-$run"
    start=$(now)
    skopeo copy -q --dest-tls-verify=false "docker-archive:$work/image.tar" "docker://$addr/bench:v1"
    ns=$(($(now) - start))
    [ "$best_skopeo" -eq 0 ] || [ "$ns" -lt "$best_skopeo" ] && best_skopeo=$ns
done
awk -v b="$bytes" -v s="$best_strata" -v k="$best_skopeo" 'BEGIN {
    printf "cold push (best of 3):  strata push %.0f ms (%.0f MB/s)   skopeo copy %.0f ms (%.0f MB/s)   strata %.2fx skopeo\n",
        s / 1e6, b / (s / 1e9) / 1e6, k / 1e6, b / (k / 1e9) / 1e6, k / s }'
