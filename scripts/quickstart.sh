#!/usr/bin/env bash
# The main job on the shipped sample data: check it, summarise it, then generate a fresh history
# with the same generator and check that too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
wg=target/release/woolguard

echo "== validate data/sample"
$wg validate data/sample
echo "== stats data/sample"
$wg stats data/sample
echo "== generate 20,000 members into data/gen, then validate"
$wg generate --members 20000 --seed 7 --out data/gen
$wg validate data/gen
