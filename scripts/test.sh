#!/usr/bin/env bash
# The one command that runs every check of runner-mirror; CI runs exactly this (.ci/run).
# It needs the Rust toolchain (cargo, rustfmt, clippy), python3 with venv, crates.io and PyPI;
# the pinned Python tools (requirements-test.txt) go into .venv, once.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== python tools"
# Installed once; later runs find every pin satisfied and need no network.
if ! .venv/bin/python - requirements-test.txt 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, pinned = line.split("==")
        if version(name.split("[")[0]) != pinned:
            sys.exit(1)
PY
then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi

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
