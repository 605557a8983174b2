#!/usr/bin/env bash
# Benchmark of `runner-mirror sync` on the embedded store: copies a large asset from the fake
# GitHub (loopback only) and prints its throughput next to curl's on the same URL in the same
# run, and the peak RSS of sync (targets: RSS under 64 MiB, throughput at least 0.8 of curl's).
#
#   scripts/bench-sync.sh [SIZE_MIB [RUNS [LINK...]]]
#
# SIZE_MIB (default 200) is the asset; RUNS (default 3) how often each of curl and sync runs per
# link, alternating, figures being medians; each LINK is `unpaced` (as fast as loopback and the
# CPU allow) or a rate in MiB/s at which the fake GitHub paces downloads, as a network link
# would (default: unpaced 500 100).
#
# Unpaced, everything is CPU: the fake generates the body on one of the cores, and sync hashes
# every byte with SHA-256 (about 1.8 GB/s on one core here) where curl -o /dev/null only copies,
# so the ratio says how fast this machine hashes rather than how well sync keeps up with a
# download. Paced, sync must keep up with the link, which is what the target is about.
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-200}
runs=${2:-3}
links=("${@:3}")
[ ${#links[@]} -gt 0 ] || links=(unpaced 500 100)
bytes=$((size_mib * 1024 * 1024))
version=2.317.0
now=2024-06-07T00:00:00Z

for tool in curl /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-sync: $tool is missing (apt-get install curl time)" >&2; exit 1; }
done

cargo build --release --locked -p runner-mirror -p e2e-tests --bin runner-mirror --bin fake-github >&2
bin=target/release

work=$(mktemp -d)
fake_pid=
stop_fake() {
    if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true; fi
    fake_pid=
}
cleanup() {
    stop_fake
    rm -rf "$work"
}
trap cleanup EXIT

start_fake() { # LINK -> sets fake_pid and url
    local pace=()
    [ "$1" = unpaced ] || pace=(--download-rate "$1MiB")
    "$bin/fake-github" --listen 127.0.0.1:0 --large-asset "$version:linux-x64:$bytes" "${pace[@]}" >"$work/fake.out" &
    fake_pid=$!
    local api=
    for _ in $(seq 1 600); do
        api=$(sed -n 's/^api=//p' "$work/fake.out" 2>/dev/null)
        [ -n "$api" ] && break
        sleep 0.1
    done
    [ -n "$api" ] || { echo "bench-sync: the fake GitHub did not start" >&2; exit 1; }
    fake_api=$api
    url="$api/actions/runner/releases/download/v$version/actions-runner-linux-x64-$version.tar.gz"
}

# Seconds of one curl into /dev/null, following the redirect as sync does.
run_curl() { curl -sSfL -o /dev/null -w '%{time_total}\n' "$url"; }

# One sync of a fresh store in STORE_DIR (one platform, so the large asset is the whole copy):
# "whole_run_seconds copy_seconds peak_rss_kib". The copy's seconds are sync's own log line,
# from asking for the asset until it is verified and renamed into place.
run_sync() {
    rm -rf "$1"
    mkdir -p "$1/config"
    echo '{"platforms": ["linux-x64"]}' >"$1/config/stable.json"
    /usr/bin/time -v -o "$work/time.txt" \
        "$bin/runner-mirror" sync --store "$1" --github-api "$fake_api" --now "$now" \
        >"$work/sync.out" 2>"$work/sync.err"
    local copied
    copied=$(stat -c %s "$1/runners/v$version/actions-runner-linux-x64-$version.tar.gz")
    [ "$copied" -eq "$bytes" ] || { echo "bench-sync: copied $copied bytes, expected $bytes" >&2; exit 1; }
    local copy_secs
    copy_secs=$(sed -n 's/.* copied key=.* seconds=\([0-9.]*\).*/\1/p' "$work/sync.err")
    [ -n "$copy_secs" ] || { echo "bench-sync: sync logged no copy:" >&2; cat "$work/sync.err" >&2; exit 1; }
    awk -F': ' -v copy="$copy_secs" '/Elapsed \(wall clock\)/ {
        n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%s %s ", s, copy }
        /Maximum resident set size/ { print $2 }' "$work/time.txt"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf 'asset: %d MiB over loopback; medians of %d runs each, curl and sync alternating\n\n' "$size_mib" "$runs"
printf '%-11s %-22s %-30s %-30s\n' link "curl -o /dev/null" "sync, whole run" "sync, the copy alone"
peak_rss=0
for link in "${links[@]}"; do
    start_fake "$link"
    run_curl >/dev/null # the first request warms the fake up; it is not measured
    : >"$work/curl.txt"
    : >"$work/sync.txt"
    for _ in $(seq 1 "$runs"); do
        run_curl >>"$work/curl.txt"
        run_sync "$work/store" >>"$work/sync.txt"
    done
    curl_secs=$(median <"$work/curl.txt")
    whole_secs=$(cut -d' ' -f1 "$work/sync.txt" | median)
    copy_secs=$(cut -d' ' -f2 "$work/sync.txt" | median)
    rss=$(cut -d' ' -f3 "$work/sync.txt" | sort -g | tail -1)
    [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
    label=$link
    [ "$link" = unpaced ] || label="$link MiB/s"
    awk -v l="$label" -v mib="$size_mib" -v c="$curl_secs" -v w="$whole_secs" -v k="$copy_secs" 'BEGIN {
        printf "%-11s %5.2f s %7.1f MiB/s     %5.2f s %7.1f MiB/s (%.2f)   %5.2f s %7.1f MiB/s (%.2f)\n",
            l, c, mib / c, w, mib / w, c / w, k, mib / k, c / k }'
    if [ "$link" = unpaced ]; then
        # The same copy by hand, as durable as sync's: curl to a file, sha256sum it, fsync it.
        start=$(date +%s.%N)
        curl -sSfL -o "$work/by-hand.tar.gz" "$url"
        sha256sum "$work/by-hand.tar.gz" >/dev/null
        sync "$work/by-hand.tar.gz"
        by_hand=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {print a - b}')
        rm -f "$work/by-hand.tar.gz"
        # The least a verified download costs with standard tools: hash while it streams,
        # store nothing. Unpaced, this is the reference that hashes as sync does.
        hashed=0
        if command -v openssl >/dev/null; then
            start=$(date +%s.%N)
            curl -sSfL "$url" | openssl dgst -sha256 >/dev/null
            hashed=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {print a - b}')
        fi
        # With the store in RAM (/dev/shm, where there is one) the disk is out of the picture.
        ram=
        if [ -d /dev/shm ] && [ -w /dev/shm ]; then
            ram=$(mktemp -d /dev/shm/bench-sync.XXXXXX)
            read -r ram_secs _ _ < <(run_sync "$ram/store")
            rm -rf "$ram"
        fi
        awk -v mib="$size_mib" -v h="$by_hand" -v o="$hashed" -v w="$whole_secs" -v k="$copy_secs" -v r="${ram_secs:-0}" 'BEGIN {
            printf "            curl -o FILE, sha256sum, sync:     %5.2f s %7.1f MiB/s (sync, whole run: %.1fx faster)\n", h, mib / h, h / w
            if (o > 0) printf "            curl | openssl dgst (no store):    %5.2f s %7.1f MiB/s (sync, the copy alone: %.2f of it)\n", o, mib / o, o / k
            if (r > 0) printf "            sync, whole run, store in RAM:     %5.2f s %7.1f MiB/s\n", r, mib / r }'
    fi
    stop_fake
done
printf '\n(ratios are of curl -o /dev/null; target at least 0.80)\n'
awk -v rss="$peak_rss" 'BEGIN { printf "peak RSS of runner-mirror sync: %.1f MiB (/usr/bin/time -v; target under 64 MiB)\n", rss / 1024 }'
