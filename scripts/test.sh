#!/usr/bin/env bash
# The tests, exactly what CI runs: set-up, the Rust tests (unit and integration, release build),
# then the HTTP contract checked by schemathesis against the real binary's own OpenAPI
# description (scripts/schemathesis.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --release
# The integration tests built the release binary (target/release/woolguard) that this checks.
bash scripts/schemathesis.sh
