#!/usr/bin/env bash
# Load benchmark of the scorer on loopback: `bash benches/load/run.sh [seconds] [connections]`.
# Starts `woolguard serve` on the sample data and default models, then drives
# POST /v1/candidates/score with wrk (closed loop: each connection sends its next request when
# the last one is answered). wrk shares the machine's cores with the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-15}
conns=${2:-32}
bash scripts/setup.sh wrk
cargo build --release --quiet
port=18080
target/release/woolguard serve --model models/default --signup-model models/signup \
  --data data/sample --api-key bench-key --bind 127.0.0.1:$port >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:$port/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
wrk -t1 -c"$conns" -d"${secs}s" --latency -s benches/load/candidate.lua \
  http://127.0.0.1:$port/v1/candidates/score
