#!/usr/bin/env bash
# Regenerates the committed default models exactly: the same generated history (200,000 members,
# seed 7, default difficulty), configuration and thread count give the same bytes. The history
# is generated into a temporary folder and removed afterwards; nothing large is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
target/release/woolguard generate --members 200000 --seed 7 --out "$data/g200" >/dev/null
for m in default:wool value:value signup:signup; do
  target/release/woolguard train --data "$data/g200" --config "training/${m#*:}.toml" \
    --out "models/${m%%:*}"
done
