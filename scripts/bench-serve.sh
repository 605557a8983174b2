#!/usr/bin/env bash
# Load test of `runner-mirror serve`: wrk (Debian package `wrk`) against the redirect route on
# loopback, 64 connections for 10 s (bounded), after a sync from the fake GitHub. Prints
# requests per second, latency and errors (target: zero errors).
#
#   scripts/bench-serve.sh [DURATION_S] [CONNECTIONS]      (defaults 10 and 64)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "bench-serve: wrk is missing (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked -p runner-mirror -p e2e-tests --bin runner-mirror --bin fake-github >&2
bin=target/release

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/fake-github" --listen 127.0.0.1:0 >"$work/fake.out" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^api=' "$work/fake.out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/^api=//p' "$work/fake.out")
"$bin/runner-mirror" sync --store "$work/store" --github-api "$api" --now 2024-06-07T00:00:00Z >/dev/null 2>&1

"$bin/runner-mirror" serve --store "$work/store" --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
[ -n "$url" ] || { echo "bench-serve: serve did not start" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/stable/linux-x64")" = 302 ] \
    || { echo "bench-serve: /stable/linux-x64 does not redirect" >&2; exit 1; }

echo "wrk -t2 -c$connections -d${duration}s $url/stable/linux-x64 (302 redirects, loopback)"
wrk -t2 -c"$connections" -d"${duration}s" --latency "$url/stable/linux-x64" | tee "$work/wrk.txt"
if grep -q -E 'Non-2xx or 3xx responses|Socket errors' "$work/wrk.txt"; then
    echo "bench-serve: errors during the run" >&2
    exit 1
fi
echo "errors: 0"
