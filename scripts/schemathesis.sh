#!/usr/bin/env bash
# The HTTP contract checked against its own description: starts the real binary on a loopback
# port (a tenant with a state folder, so every route works), then runs schemathesis (from PyPI)
# with every check against /v1/openapi.json, seeded and bounded. Fails on any 5xx or any answer
# the description does not allow. Called by scripts/test.sh; needs the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release/woolguard
examples="${SCHEMATHESIS_EXAMPLES:-80}"
if ! command -v st >/dev/null 2>&1; then
  echo "schemathesis: not installed; run bash scripts/setup.sh first (it installs it from PyPI)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" state init --data data/sample --state "$work/state" --tenant brand-a >/dev/null
cat > "$work/serve.toml" <<TOML
bind = "127.0.0.1:0"
admin_key = "admin-secret"
state = "$work/state"
refresh_secs = 0

[[tenants]]
name = "brand-a"
api_keys = ["key-a"]
model = "models/default"
signup_model = "models/signup"
TOML
"$bin" serve --config "$work/serve.toml" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 1 120); do
  grep -q "listening on" "$work/out" 2>/dev/null && break
  sleep 0.5
done
addr="$(sed -n 's/^listening on //p' "$work/out" | head -1)"
if [ -z "$addr" ]; then
  echo "schemathesis: the scorer did not start" >&2
  cat "$work/log" >&2
  exit 1
fi
echo "schemathesis: scorer on $addr, $examples examples per operation"
# From the work folder, so that schemathesis's own files stay out of the repository.
config="$(pwd)/scripts/schemathesis.toml"
cd "$work"
st --config-file "$config" run "http://$addr/v1/openapi.json" \
  --checks all \
  --seed 20261204 \
  --max-examples "$examples" \
  --generation-database none \
  --no-color \
  -H "x-api-key: key-a" \
  -H "x-admin-key: admin-secret" \
  "$@"
