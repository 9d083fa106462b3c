#!/usr/bin/env bash
# The main job on the shipped sample data and the committed default model:
#   validate the sample → retrain the default model from its training history (200,000 generated
#   members, seed 7) and check it is the committed one, byte for byte → generate a fresh history
#   the model has never seen (seed 11) → evaluate the default
#   model on it → score every member → explain the riskiest one → tiers, RFM segments and the
#   Pareto figure of the new history.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
wg=target/release/woolguard
work=target/quickstart
mkdir -p "$work"

echo "== validate data/sample"
$wg validate data/sample
echo "== train the default model again on its training history (200,000 members, seed 7)"
rm -rf "$work/g200"
$wg generate --members 200000 --seed 7 --out "$work/g200" >/dev/null
$wg train --data "$work/g200" --config training/wool.toml --out "$work/default"
rm -rf "$work/g200"
if cmp -s "$work/default" models/default; then
  echo "retrained model is identical to models/default"
else
  echo "retrained model differs from models/default (regenerate it with scripts/train-default.sh)"
fi
echo "== generate 20,000 members the model has never seen into data/gen"
rm -rf data/gen
$wg generate --members 20000 --seed 11 --out data/gen
echo "== evaluate models/default on data/gen"
$wg evaluate --model models/default --data data/gen
echo "== score every member of data/gen"
$wg score --model models/default --data data/gen --out "$work/scores.parquet"
$wg score --model models/default --data data/gen --out "$work/scores.csv"
top=$(awk -F, 'NR > 1 && $3 > best { best = $3; id = $1 } END { print id }' "$work/scores.csv")
echo "== explain the riskiest member, $top"
$wg explain --model models/default --data data/gen --member "$top"
echo "== tiers, RFM segments and the Pareto figure of data/gen as of 2025-01-01"
$wg segment --data data/gen --as-of 2025-01-01 --out "$work/segments.parquet"
echo "== diagnostics by tier, channel, campaign and segment, with flags"
$wg diagnose --data data/gen --model models/default
echo "== an audience: silver and above, champions or loyal, the wool dropped"
$wg audience --data data/gen --model models/default \
  --select "tier >= silver and segment in [champions, loyal]" --drop reject --out "$work/audience.parquet"
echo "== the HTML report"
$wg report --data data/gen --model models/default --out "$work/report.html"
echo "report: $work/report.html"
