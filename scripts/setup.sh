#!/usr/bin/env bash
# Installs what the build needs and is missing; quiet and quick when everything is present.
# Both README commands (quick start and tests) and .ci/run call it.
set -euo pipefail

here="$(dirname "$0")"
# CMake >= 3.28, clang and libclang for building LightGBM (the `gbm` feature, on by default).
bash "$here/setup-lightgbm.sh"

need_apt=()
# Debian's chromium for the report's headless-browser test (tests/it/report.rs), which fails
# under CI without it; only when no chromium binary is on PATH.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  need_apt+=(chromium)
fi
# Debian's PostgreSQL server for the shared-store tests (tests/it/replicas.rs), which start
# throwaway clusters of their own through scripts/pg.sh; only when no server binaries are found.
if ! bash "$here/pg.sh" bin >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
# Further Debian packages a caller names; each is installed only when absent.
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# schemathesis (PyPI) for the HTTP contract test (scripts/schemathesis.sh), when absent.
if ! command -v st >/dev/null 2>&1; then
  echo "setup: installing schemathesis from PyPI"
  python3 -m pip install -q "schemathesis>=4.3,<5"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not on PATH; install the Rust toolchain (rustup) first" >&2
  exit 1
fi
