#!/usr/bin/env bash
# Benchmark: strata serve's registry against Debian's docker-registry (the
# reference registry, distribution 2.8) and nginx (a static file server:
# the practical ceiling for blobs), side by side in one run, with wrk on
# loopback, on the same image and blob files; and the build API against
# `strata build`.
#
#   bash tests/bench/registry.sh [WORKDIR]
#
# The image: one store path holding 64 MiB of incompressible bytes and a
# small one (so its big layer is a 64 MiB gzip blob), published into
# strata's data dir, then copied into docker-registry with skopeo (gzip
# blobs are copied as they are: same blobs, same digests). Figures:
#   manifest  GET by tag, 64 connections, 5 s: requests/s and p99 latency
#   blob      GET of the 64 MiB blob, 8 connections, 5 s: GB/s
#   memory    strata serve's peak RSS after the load
#   api       POST /api/builds of a built plan -> first byte of image.tar;
#             a cold build through the API against `strata build` of it
# Installs wrk, docker-registry and nginx from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-${TMPDIR:-/tmp}/strata-bench-registry}"
target="${CARGO_TARGET_DIR:-target}"
for pkg in wrk docker-registry nginx skopeo curl; do
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

# The store and its closure (no narHash: strata hashes the paths).
root="$work/root"
big=/nix/store/00000000000000000000000000000001-noise-1.0
small=/nix/store/00000000000000000000000000000002-app-1.0
mkdir -p "$root$big" "$root$small/bin"
head -c $((64 << 20)) /dev/urandom >"$root$big/noise"
echo 'echo app' >"$root$small/bin/app"
cat >"$work/closure.json" <<EOF
[{"path": "$big", "narSize": $((64 << 20)), "references": []},
 {"path": "$small", "narSize": 100, "references": ["$big"]}]
EOF
"$strata" build "$work/closure.json" --store-root "$root" --budget 2 \
    --name bench --tag v1 --cache "$work/data" --publish 2>/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return; sleep 0.1; done; echo "bench: $1 never answered" >&2; exit 1; }

p_strata=$(port)
"$strata" serve --data-dir "$work/data" --store-root "$root" --listen "127.0.0.1:$p_strata" 2>/dev/null &
pids+=($!); strata_pid=$!
wait_for "http://127.0.0.1:$p_strata/v2/"

p_reg=$(port)
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$p_reg}
EOF
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_reg/v2/"
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    "docker://127.0.0.1:$p_strata/bench:v1" "docker://127.0.0.1:$p_reg/bench:v1"

oci='application/vnd.oci.image.manifest.v1+json'
manifest=$(curl -fs -H "Accept: $oci" "http://127.0.0.1:$p_strata/v2/bench/manifests/v1")
blob=$(python3 -c 'import json,sys; m=json.loads(sys.argv[1]); print(max(m["layers"], key=lambda l: l["size"])["digest"])' "$manifest")
hex=${blob#sha256:}

p_nginx=$(port)
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$p_nginx; root $work/data/blobs/sha256; }
}
EOF
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_for "http://127.0.0.1:$p_nginx/$hex"

# wrk's requests/s, p99 and transfer/s from its --latency report.
measure() { # measure CONNECTIONS URL [HEADER]
    local out
    out=$(wrk -t2 -c"$1" -d5s --latency ${3:+-H "$3"} "$2")
    local rps p99 transfer
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    transfer=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
    echo "$rps $p99 $transfer"
}
gbs() { # wrk's Transfer/sec (e.g. 1.23GB, 800.00MB) in GB/s
    awk -v t="$1" 'BEGIN { n = t + 0; if (t ~ /GB/) print n; else if (t ~ /MB/) printf "%.3f\n", n / 1024; else if (t ~ /KB/) printf "%.6f\n", n / 1048576; else printf "%.9f\n", n / 1073741824 }'
}

echo "registry benchmark, $(nproc) cores, wrk on loopback (5 s a run)"
printf '%-28s %12s %10s\n' "manifest GET by tag (c=64)" "req/s" "p99"
for name in strata docker-registry; do
    p=$p_strata; [ $name = strata ] || p=$p_reg
    read -r rps p99 _ < <(measure 64 "http://127.0.0.1:$p/v2/bench/manifests/v1" "Accept: $oci")
    printf '%-28s %12s %10s\n' "$name" "$rps" "$p99"
    eval "rps_${name//-/_}=$rps"
done
printf '%-28s %12s\n' "64 MiB blob GET (c=8)" "GB/s"
for name in strata docker-registry nginx; do
    case $name in
    strata) url="http://127.0.0.1:$p_strata/v2/bench/blobs/$blob" ;;
    docker-registry) url="http://127.0.0.1:$p_reg/v2/bench/blobs/$blob" ;;
    nginx) url="http://127.0.0.1:$p_nginx/$hex" ;;
    esac
    read -r _ _ transfer < <(measure 8 "$url")
    printf '%-28s %12s\n' "$name" "$(gbs "$transfer")"
    eval "gbs_${name//-/_}=$(gbs "$transfer")"
done
peak=$(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$strata_pid/status")
echo "strata serve peak RSS after the load: $peak"
awk -v a="$rps_strata" -v b="$rps_docker_registry" 'BEGIN { printf "manifests: strata %.2fx docker-registry\n", a / b }'
awk -v a="$gbs_strata" -v b="$gbs_nginx" 'BEGIN { printf "blobs: strata %.2fx nginx\n", a / b }'

# The build API: a plan built before, asked again -> first byte of its
# image.tar; then a cold build (fresh data dir) against strata build.
request=$(python3 -c 'import json,sys; print(json.dumps({"closure": json.load(open(sys.argv[1])), "budget": 2, "name": "bench", "tag": "api"}))' "$work/closure.json")
id=$(curl -fs -X POST --data-binary "$request" "http://127.0.0.1:$p_strata/api/builds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$p_strata/api/builds/$id" | grep -q '"state":"done"' && break
    sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$p_strata/api/builds/$id/image.tar"
# One curl, two requests on one connection: the POST's whole time plus the
# GET's time to its first byte (no process start-up in the figure).
times=$(curl -fs -o /dev/null -w '%{time_total} ' -X POST --data-binary "$request" \
    "http://127.0.0.1:$p_strata/api/builds" \
    --next -fs -o /dev/null -w '%{time_starttransfer}' "http://127.0.0.1:$p_strata/api/builds/$id/image.tar")
awk -v t="$times" 'BEGIN { split(t, x, " "); printf "cached plan: POST to the first byte of image.tar %.1f ms (goal < 50)\n", (x[1] + x[2]) * 1000 }'

kill "$strata_pid"
p_cold=$(port)
"$strata" serve --data-dir "$work/cold" --store-root "$root" --listen "127.0.0.1:$p_cold" 2>/dev/null &
pids+=($!)
wait_for "http://127.0.0.1:$p_cold/v2/"
start=$(date +%s%N)
id=$(curl -fs -X POST --data-binary "$request" "http://127.0.0.1:$p_cold/api/builds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# The event stream ends with the final status: no polling delay.
curl -fsN -o /dev/null "http://127.0.0.1:$p_cold/api/builds/$id/events"
api_ns=$(($(date +%s%N) - start))
start=$(date +%s%N)
"$strata" build "$work/closure.json" --store-root "$root" --budget 2 \
    --name bench --tag api --cache "$work/cli-cache" --publish 2>/dev/null
cli_ns=$(($(date +%s%N) - start))
awk -v a="$api_ns" -v c="$cli_ns" 'BEGIN { printf "cold build: API %.0f ms, strata build %.0f ms: the API at %.2fx the throughput of the CLI\n", a / 1e6, c / 1e6, c / a }'
