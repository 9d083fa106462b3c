#!/usr/bin/env bash
# Regenerates the committed default models from the shipped sample data, exactly: the same data,
# configuration and thread count give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
target/release/woolguard train --data data/sample --config training/wool.toml --out models/default
target/release/woolguard train --data data/sample --config training/value.toml --out models/value
target/release/woolguard train --data data/sample --config training/signup.toml --out models/signup
