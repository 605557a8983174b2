#!/usr/bin/env bash
# The one command that runs every check of runner-mirror; CI runs exactly this (.ci/run).
# It needs only the Rust toolchain (cargo, rustfmt, clippy) and crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build"
# The end-to-end tests run the real binaries, so build them before testing.
cargo build --workspace --locked
echo "== test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary, doc-tests last).
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
