#!/usr/bin/env bash
# Benchmark: `strata build` against tar pipelines on the same store paths,
# side by side in one run (page cache warm for everyone).
#
#   bash tests/bench/build.sh [WORKDIR]
#   RUNS=5 ROWS="none zstd" bash tests/bench/build.sh   # repeat, print the spread
#   STRATA=/path/to/strata bash tests/bench/build.sh      # another binary
#
# The store: a few hundred MB of real files copied into WORKDIR/root/nix/store
# (the Rust toolchain's libraries and binaries, Python's standard library,
# /usr/share/doc), with a closure carrying real NAR hashes (from `nix hash
# path`), as a real Nix export would. Figures:
#   none   strata build --compression none  vs  tar -c | sha256sum, and
#          tar -c > file (the write floor: strata writes its layers too)
#   gzip   strata build (gzip)              vs  tar -c | gzip -6, tar -c | pigz -6
#   zstd   strata build --compression zstd  vs  tar -c | zstd -3 -T0
#   cached strata build again, every layer from the cache, vs the cold build
# strata writes its layers into its cache and streams the docker-archive to
# /dev/null; the tar pipelines write nothing. ROWS picks the figures (default
# "none zstd gzip cached"); RUNS repeats them side by side (default 1), each
# run's ratios printed, then min / median / max of each ratio: on a shared
# machine one run says little. Peak memory is VmHWM (strata)
# and GNU time's maximum RSS (the compressors).
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-${TMPDIR:-/tmp}/strata-bench-build}"
export NIX_CONFIG=$'substituters =\nexperimental-features = nix-command'
target="${CARGO_TARGET_DIR:-target}"

if [ -n "${STRATA:-}" ]; then
    strata="$STRATA" # another build to compare, e.g. main's
else
    cargo build --release -q -p strata-server
    strata="$target/release/strata"
fi

toolchain="$(rustc --print sysroot)"
store="$work/root/nix/store"
if [ ! -f "$work/closure.json" ]; then
    echo "bench: copying the store paths into $store" >&2
    rm -rf "$work"; mkdir -p "$store"
    add() { # add NAME SOURCE...
        local dir="$store/$(printf '%032d' "${#entries[@]}")-$1"; shift
        mkdir -p "$dir"; cp -a "$@" "$dir/"
        entries+=("$dir")
    }
    entries=()
    add rustc-driver-1.0 "$toolchain"/lib/librustc_driver-*.so
    add llvm-22 "$toolchain"/lib/libLLVM.so*
    add rust-std-1.0 "$toolchain/lib/rustlib"
    add rust-bin-1.0 "$toolchain/bin"
    add python-3.11 /usr/lib/python3.11
    add docs-1.0 /usr/share/doc
    {
        echo '['
        sep=''
        for dir in "${entries[@]}"; do
            path="/nix/store/${dir##*/}"
            hash="$(nix hash path --type sha256 --base32 "$dir")"
            size="$(nix-store --dump "$dir" | wc -c)"
            printf '%s{"path":"%s","narHash":"sha256:%s","narSize":%s,"references":[]}\n' "$sep" "$path" "$hash" "$size"
            sep=','
        done
        echo ']'
    } > "$work/closure.json"
fi
bytes=$(du -sb "$store" | cut -f1)
calc() { awk "BEGIN { printf \"%$1\", $2 }"; }
mib() { calc .1f "$1 / 1048576"; }
echo "store: $(mib "$bytes") MiB in $(find "$store" | wc -l) files, $(ls "$store" | wc -l) store paths; $(nproc) cores"

# Warm the page cache for everyone.
tar -cf - -C "$work/root" nix > /dev/null

now() { date +%s.%N; }
secs() { calc .3f "$2 - $1"; }
timed() { # timed VAR CMD... : seconds into VAR
    local t0 t1; t0=$(now); "${@:2}"; t1=$(now); printf -v "$1" '%.3f' "$(secs "$t0" "$t1")"
}
rss() { # peak RSS in MiB of a command (GNU time), output discarded
    /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'
}
strata_build() { # strata_build CACHE COMPRESSION
    "$strata" build "$work/closure.json" --store-root "$work/root" --cache "$1" \
        --compression "$2" --no-progress --timings -o - 2> "$work/strata.err" > /dev/null
    grep -o 'peak [0-9.]* [KMG]iB' "$work/strata.err" | tail -1 > "$work/strata.peak"
}

rows="${ROWS:-none zstd gzip cached}"
runs="${RUNS:-1}"
has() { [[ " $rows " == *" $1 "* ]]; }
t_tar_sha=- t_tar_file=- t_none=- t_tar_zstd=- t_zstd=- t_tar_gzip=- t_tar_pigz=- t_gzip=- t_cached=-
p_none= p_zstd= p_gzip= p_cached=
rate() { [ "$1" = - ] && echo - || calc .0f "$bytes / 1048576 / $1"; }
ratio() { calc .2f "$1 / $2"; }
r_none_file=() r_zstd=()
for run in $(seq "$runs"); do
    rm -rf "$work/cache-none" "$work/cache-gzip" "$work/cache-zstd"
    if has none; then
        timed t_tar_sha bash -c "tar -cf - -C '$work/root' nix | sha256sum > /dev/null"
        timed t_tar_file bash -c "tar -cf - -C '$work/root' nix > '$work/floor.tar'"; rm -f "$work/floor.tar"
        timed t_none strata_build "$work/cache-none" none; p_none=$(cat "$work/strata.peak")
        r_none_file+=("$(ratio "$t_none" "$t_tar_file")")
    fi
    if has zstd; then
        timed t_tar_zstd bash -c "tar -cf - -C '$work/root' nix | zstd -q -3 -T0 > /dev/null"
        timed t_zstd strata_build "$work/cache-zstd" zstd; p_zstd=$(cat "$work/strata.peak")
        r_zstd+=("$(ratio "$t_tar_zstd" "$t_zstd")")
    fi
    if has gzip; then
        timed t_tar_gzip bash -c "tar -cf - -C '$work/root' nix | gzip -6 > /dev/null"
        timed t_tar_pigz bash -c "tar -cf - -C '$work/root' nix | pigz -6 > /dev/null"
        timed t_gzip strata_build "$work/cache-gzip" gzip; p_gzip=$(cat "$work/strata.peak")
        if has cached; then
            timed t_cached strata_build "$work/cache-gzip" gzip; p_cached=$(cat "$work/strata.peak")
        fi
    fi
    if [ "$runs" -gt 1 ]; then
        line="run $run:"
        has none && line="$line none ${t_none}s = ${r_none_file[-1]}x tar > file (${t_tar_file}s);"
        has zstd && line="$line zstd ${t_zstd}s = ${r_zstd[-1]}x the throughput of zstd -T0 (${t_tar_zstd}s);"
        echo "$line load $(cut -d' ' -f1 /proc/loadavg)"
    fi
done

echo
printf '%-34s %8s %10s %s\n' "run" "seconds" "MiB/s" "peak memory"
row() { printf '%-34s %8s %10s %s\n' "$1" "$2" "$(rate "$2")" "$3"; }
if has none; then
    row "tar | sha256sum" "$t_tar_sha" ""
    row "tar > file (write floor)" "$t_tar_file" ""
    row "strata build --compression none" "$t_none" "${p_none#peak }"
fi
if has zstd; then
    row "tar | zstd -3 -T0" "$t_tar_zstd" ""
    row "strata build --compression zstd" "$t_zstd" "${p_zstd#peak }"
fi
if has gzip; then
    rss_pigz=$(rss bash -c "tar -cf - -C '$work/root' nix | pigz -6")
    row "tar | gzip -6" "$t_tar_gzip" ""
    row "tar | pigz -6" "$t_tar_pigz" "pigz ${rss_pigz} MiB"
    row "strata build (gzip)" "$t_gzip" "${p_gzip#peak }"
    has cached && row "strata build (gzip), all cached" "$t_cached" "${p_cached#peak }"
fi
echo
spread() { # spread VALUES...: min / median / max
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
if has none; then
    echo "none:   strata at $(ratio "$t_tar_sha" "$t_none")x the throughput of tar | sha256sum (goal >= 0.80); $(ratio "$t_none" "$t_tar_file")x the time of tar > file (goal <= 1.5)"
    [ "$runs" -gt 1 ] && echo "        x the time of tar > file over $runs runs, min / median / max: $(spread "${r_none_file[@]}")"
fi
if has zstd; then
    echo "zstd:   strata at $(ratio "$t_tar_zstd" "$t_zstd")x the throughput of tar | zstd -3 -T0 (goal >= 1.00)"
    [ "$runs" -gt 1 ] && echo "        x the throughput of zstd -T0 over $runs runs, min / median / max: $(spread "${r_zstd[@]}")"
fi
if has gzip; then
    gz_strata=$(du -sb "$work/cache-gzip/blobs" | cut -f1)
    gz_pigz=$(tar -cf - -C "$work/root" nix | pigz -6 | wc -c)
    echo "gzip:   strata at $(ratio "$t_tar_pigz" "$t_gzip")x the throughput of tar | pigz -6 (goal >= 1.00), $(ratio "$t_tar_gzip" "$t_gzip")x of tar | gzip -6"
    has cached && echo "cached: rebuild takes $(calc .1f "100 * $t_cached / $t_gzip")% of the cold gzip build (goal < 5%)"
    echo "size:   strata gzip layers $(mib "$gz_strata") MiB, pigz -6 $(mib "$gz_pigz") MiB"
fi
