#!/usr/bin/env bash
# Benchmark of `runner-mirror sync` on the embedded store: copies a large asset from the fake
# GitHub (loopback only) and prints its throughput next to curl's on the same URL in the same
# run, and the peak RSS of sync (targets: RSS under 64 MiB, throughput at least 0.8 of curl's).
#
#   scripts/bench-sync.sh [SIZE_MIB]      (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-200}
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
cleanup() {
    if [ -n "$fake_pid" ]; then kill "$fake_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/fake-github" --listen 127.0.0.1:0 --large-asset "$version:linux-x64:$bytes" >"$work/fake.out" &
fake_pid=$!
for _ in $(seq 1 600); do
    grep -q '^api=' "$work/fake.out" 2>/dev/null && break
    sleep 0.1
done
api=$(sed -n 's/^api=//p' "$work/fake.out")
[ -n "$api" ] || { echo "bench-sync: the fake GitHub did not start" >&2; exit 1; }
url="$api/actions/runner/releases/download/v$version/actions-runner-linux-x64-$version.tar.gz"

# curl: the same URL, following the same redirect, into /dev/null.
curl_secs=$(curl -sSfL -o /dev/null -w '%{time_total}' "$url")

# The same copy by hand, as durable as sync's: curl to a file, sha256sum it, fsync it.
copy_start=$(date +%s.%N)
curl -sSfL -o "$work/by-hand.tar.gz" "$url"
sha256sum "$work/by-hand.tar.gz" >/dev/null
sync "$work/by-hand.tar.gz"
copy_secs=$(awk -v a="$(date +%s.%N)" -v b="$copy_start" 'BEGIN {print a - b}')
rm -f "$work/by-hand.tar.gz"

# sync: one platform, so that the large asset is the whole copy. Once with the store on this
# disk, where the durable write is the floor, and once in RAM (/dev/shm, where there is one),
# which leaves the copy itself: download, hash, write.
run_sync() { # STORE_DIR -> "seconds peak_rss_kib"
    mkdir -p "$1/config"
    echo '{"platforms": ["linux-x64"]}' >"$1/config/stable.json"
    /usr/bin/time -v -o "$work/time.txt" \
        "$bin/runner-mirror" sync --store "$1" --github-api "$api" --now "$now" >"$work/sync.out"
    local copied
    copied=$(stat -c %s "$1/runners/v$version/actions-runner-linux-x64-$version.tar.gz")
    [ "$copied" -eq "$bytes" ] || { echo "bench-sync: copied $copied bytes, expected $bytes" >&2; exit 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%s ", s }
        /Maximum resident set size/ { print $2 }' "$work/time.txt"
}
read -r sync_secs rss_kib < <(run_sync "$work/store")
ram_secs=0
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    ram=$(mktemp -d /dev/shm/bench-sync.XXXXXX)
    read -r ram_secs _ < <(run_sync "$ram")
    rm -rf "$ram"
fi

awk -v mib="$size_mib" -v c="$curl_secs" -v h="$copy_secs" -v s="$sync_secs" -v r="$ram_secs" -v rss="$rss_kib" 'BEGIN {
    printf "asset:                           %d MiB over loopback\n", mib
    printf "curl -o /dev/null                %.2f s  %7.1f MiB/s\n", c, mib / c
    printf "curl -o FILE, sha256sum, sync    %.2f s  %7.1f MiB/s\n", h, mib / h
    printf "runner-mirror sync               %.2f s  %7.1f MiB/s  (%.2f of curl -o /dev/null, %.2f of the copy by hand)\n", s, mib / s, c / s, h / s
    if (r > 0) printf "runner-mirror sync, store in RAM %.2f s  %7.1f MiB/s  (%.2f of curl -o /dev/null)\n", r, mib / r, c / r
    printf "peak RSS of runner-mirror sync:  %.1f MiB (/usr/bin/time -v)\n", rss / 1024
}'
