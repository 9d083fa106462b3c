#!/usr/bin/env bash
# Fixed-rate load benchmark of POST /v1/candidates/score: woolguard against the Python peer
# (benches/peer/serve.py, FastAPI + LightGBM), same tool, same rates, same run.
#
#   bash benches/load/run.sh [--secs 15] [--rates 250,500,1000,2000,5000,10000,15000,20000]
#                            [--conns 64] [--peer-workers 2] [--check 400]
#
# Both servers score the sample data (data/sample) with models/signup on loopback. For each rate,
# interleaved (woolguard, then the peer, so drifting machine load hits both alike), oha holds
# that request rate for --secs and measures latency from each request's scheduled send time
# (--latency-correction: coordinated omission corrected, so a server that falls behind shows
# its queue in p99). Then one closed-loop run each (--conns connections, no rate: throughput at
# saturation). Every request is benches/load/candidate.json (not recorded). oha runs on the same
# 2 cores as the server it drives. The peer must first agree with woolguard on --check
# candidates (benches/peer/check.py), or nothing is timed.
# Installs what it needs (oha via cargo, the peer's Python packages via pip); stops the servers
# it starts on any exit. Raw oha JSON is kept under ${CARGO_TARGET_DIR:-target}/load/.
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=15
rates=250,500,1000,2000,5000,10000,15000,20000
conns=64
peer_workers=2
check=400
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) secs=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --peer-workers) peer_workers=$2; shift 2 ;;
    --check) check=$2; shift 2 ;;
    *) echo "run.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

# --- what it needs -------------------------------------------------------------------------
bash scripts/setup.sh curl
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null 2>&1; then
  echo "run.sh: installing oha (cargo install: 15-25 minutes on one job, once)"
  tmp_target=$(mktemp -d)
  CARGO_TARGET_DIR=$tmp_target cargo install --quiet --locked oha
  rm -rf "$tmp_target"
fi
if ! python3 -c 'import fastapi, uvicorn, uvloop, httptools, lightgbm, pandas, pyarrow' 2>/dev/null; then
  echo "run.sh: installing the peer's Python packages"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    fastapi 'uvicorn[standard]' lightgbm pandas pyarrow
fi
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/woolguard"
out="${CARGO_TARGET_DIR:-target}/load/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

# --- the two servers, each in its own process group (uvicorn forks its workers) ------------
key=bench-key
wg_port=18080
peer_port=18090
pids=()
stop() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT
trap "exit 130" INT TERM # through the EXIT trap
setsid "$bin" serve --model models/default --signup-model models/signup --data data/sample \
  --api-key $key --bind 127.0.0.1:$wg_port >"$out/woolguard.log" 2>&1 &
pids+=($!)
wg_group=$!
setsid python3 benches/peer/serve.py --data data/sample --model models/signup --api-key $key \
  --bind 127.0.0.1:$peer_port --workers "$peer_workers" >"$out/peer.log" 2>&1 &
pids+=($!)
peer_group=$!
for port in $wg_port $peer_port; do
  for _ in $(seq 1 300); do
    curl -sf http://127.0.0.1:$port/healthz >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -sf http://127.0.0.1:$port/healthz >/dev/null || {
    echo "run.sh: no server on port $port; its log:" >&2; cat "$out"/*.log >&2; exit 1; }
done
python3 benches/peer/check.py data/sample http://127.0.0.1:$wg_port http://127.0.0.1:$peer_port \
  $key --n "$check"

# --- the runs ------------------------------------------------------------------------------
# CPU time (clock ticks) of every process in a process group: a server's own cost per request,
# which other jobs on the machine slow down less than they slow its latency.
cpu_ticks() {
  local group=$1 total=0 line f
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue # a process may end meanwhile
    set -- ${line##*) } # after "pid (comm) ": state ppid pgrp ... utime (12) stime (13)
    [ "$3" = "$group" ] && total=$((total + ${12} + ${13}))
  done
  echo $total
}
load() { # name port file [oha args...]
  local name=$1 port=$2 file=$3 group=$wg_group before
  shift 3
  [ "$name" = peer ] && group=$peer_group
  before=$(cpu_ticks "$group")
  # -w: requests in flight at the deadline are waited for, not counted as errors.
  oha --no-tui --output-format json -w -m POST -H 'content-type: application/json' \
    -H "x-api-key: $key" -D benches/load/candidate.json "$@" \
    "http://127.0.0.1:$port/v1/candidates/score" >"$out/$file.json"
  echo "$file $(cut -d' ' -f1 /proc/loadavg)" >>"$out/loadavg.txt" # others' jobs share the cores
  echo "$file $(($(cpu_ticks "$group") - before)) $(getconf CLK_TCK)" >>"$out/cpu.txt"
  sleep 2 # let a backlog drain before the next run
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min), $(nproc) cores"
for name in woolguard peer; do # warm-up: first connections, allocators, lazy imports
  port=$wg_port; [ $name = peer ] && port=$peer_port
  load $name $port warmup-$name -z 3s -c "$conns" -q 500 --latency-correction
done
for rate in ${rates//,/ }; do
  for name in woolguard peer; do
    port=$wg_port; [ $name = peer ] && port=$peer_port
    echo "run.sh: $name at $rate req/s for ${secs}s"
    load $name $port "rate-$rate-$name" -z "${secs}s" -c "$conns" -q "$rate" --latency-correction
  done
done
for name in woolguard peer; do
  port=$wg_port; [ $name = peer ] && port=$peer_port
  echo "run.sh: $name closed loop, $conns connections, ${secs}s"
  load $name $port "closed-$name" -z "${secs}s" -c "$conns"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
python3 benches/load/table.py "$out" --peer-workers "$peer_workers" --conns "$conns"
