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
cargo test --workspace --locked
