#!/usr/bin/env bash
# The one command that runs every check of runner-mirror; CI runs exactly this (.ci/run).
# It needs the Rust toolchain (cargo, rustfmt, clippy; rustup for the arm64 target), python3
# with venv, crates.io, PyPI and Debian's packages (for shellcheck); the pinned Python tools
# (requirements-test.txt) go into .venv, and the rest is installed, once.
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

echo "== other tools"
# Lambda's arm64 (Graviton) target, for `cargo lambda build --arm64`.
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
fi
if ! command -v shellcheck >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq shellcheck >/dev/null
fi

echo "== format"
cargo fmt --all -- --check
echo "== lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build"
# The end-to-end tests run the real binaries, so build them before testing: the workspace,
# and each function as the Lambda emulator's `cargo run -p <function>` builds it (alone, its
# dependencies have other features than in the workspace's build).
cargo build --workspace --locked
cargo build --locked -p evaluate --bin evaluate
cargo build --locked -p redirect --bin redirect
echo "== infra"
# Informational findings too: the template has none, and should stay so.
.venv/bin/cfn-lint --include-checks I -- infra/template.yaml
.venv/bin/checkov --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml
shellcheck infra/*.sh scripts/*.sh .ci/run
echo "== lambda release build"
# What `sam build` runs for each function: Graviton binaries, cross-compiled with zig.
PATH="$PWD/.venv/bin:$PATH" cargo lambda build --release --arm64 --locked
ls -l target/lambda/evaluate/bootstrap target/lambda/redirect/bootstrap
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
