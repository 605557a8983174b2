#!/usr/bin/env bash
# Benchmark of `runner-mirror sync` on the AWS stores: copies a large asset from the fake
# GitHub into S3 on moto_server (both on loopback) and prints its throughput next to a plain
# boto3 upload of the same file to the same moto server in the same run, and the peak RSS of
# sync (target: under 64 MiB).
#
#   scripts/bench-s3-sync.sh [SIZE_MIB]      (default 200; needs .venv from scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-200}
bytes=$((size_mib * 1024 * 1024))
version=2.317.0
now=2024-06-07T00:00:00Z
python=.venv/bin/python
[ -x .venv/bin/moto_server ] || { echo "bench-s3-sync: run scripts/test.sh first (it installs moto into .venv)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench-s3-sync: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

cargo build --release --locked -p runner-mirror -p e2e-tests --bin runner-mirror --bin fake-github >&2
bin=target/release

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

port=$($python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pids+=($!)
"$bin/fake-github" --listen 127.0.0.1:0 --large-asset "$version:linux-x64:$bytes" >"$work/fake.out" &
pids+=($!)
for _ in $(seq 1 600); do
    grep -q '^api=' "$work/fake.out" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/" && break
    sleep 0.1
done
api=$(sed -n 's/^api=//p' "$work/fake.out")
[ -n "$api" ] || { echo "bench-s3-sync: the fake GitHub did not start" >&2; exit 1; }

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
    RUNNER_MIRROR_TABLE=bench RUNNER_MIRROR_BUCKET=bench
curl -sSfL -o "$work/asset.tar.gz" "$api/actions/runner/releases/download/v$version/actions-runner-linux-x64-$version.tar.gz"

# The table and bucket, one platform for the channel, and the plain upload to compare with.
boto3_secs=$($python - "$work/asset.tar.gz" <<'PY'
import sys, time, boto3
dynamodb = boto3.client("dynamodb")
dynamodb.create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
dynamodb.put_item(TableName="bench", Item={"pk": {"S": "CHANNEL#stable"}, "sk": {"S": "CONFIG"},
    "platforms": {"L": [{"S": "linux-x64"}]}})
s3 = boto3.client("s3")
s3.create_bucket(Bucket="bench")
start = time.monotonic()
s3.upload_file(sys.argv[1], "bench", "plain-upload.tar.gz")
print(f"{time.monotonic() - start:.3f}")
PY
)

/usr/bin/time -v -o "$work/time.txt" \
    "$bin/runner-mirror" sync --github-api "$api" --now "$now" >"$work/sync.out"
grep -q "copied:      runners/v$version/actions-runner-linux-x64-$version.tar.gz" "$work/sync.out" \
    || { echo "bench-s3-sync: sync did not copy the asset" >&2; cat "$work/sync.out" >&2; exit 1; }
sync_secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {
    n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time.txt")
rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")

awk -v mib="$size_mib" -v b="$boto3_secs" -v s="$sync_secs" -v rss="$rss_kib" 'BEGIN {
    printf "asset:                             %d MiB, fake GitHub and moto_server on loopback\n", mib
    printf "boto3 upload_file of the file      %.2f s  %7.1f MiB/s\n", b, mib / b
    printf "runner-mirror sync (S3, DynamoDB)  %.2f s  %7.1f MiB/s  (%.2f of boto3; sync also downloads and hashes)\n", s, mib / s, b / s
    printf "peak RSS of runner-mirror sync:    %.1f MiB (/usr/bin/time -v)\n", rss / 1024
}'
