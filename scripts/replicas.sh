#!/usr/bin/env bash
# Replicas of one tenant on one PostgreSQL, behind nginx: what README's "Replicas" section runs.
#
#   bash scripts/replicas.sh up [--replicas 3] [--store postgres://…] [--data data/sample]
#                               [--port 8080] [--no-lb]
#   bash scripts/replicas.sh down
#
# `up` builds the release binary, starts a throwaway PostgreSQL cluster (scripts/pg.sh, in
# target/replicas/pg on 127.0.0.1:55432) unless --store names one, starts the replicas on ports
# 8081, 8082, … (tenant `default`, API key `key-a`, admin key `adm`, the shipped models, the
# sample history) and nginx on --port in front of them (installed from Debian's packages where
# absent). Logs and pids go to target/replicas/. `down` stops what `up` started.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${CARGO_TARGET_DIR:-target}/replicas"
mkdir -p "$work"
work="$(cd "$work" && pwd)"

cmd="${1:-}"
shift || true
replicas=3
store=""
data=data/sample
port=8080
lb=1
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --no-lb) lb=0; shift ;;
    *) echo "replicas.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done

down() {
  for f in "$work"/replica-*.pid; do
    [ -f "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  if [ -f "$work/nginx.pid" ]; then
    kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -f "$work/nginx.pid"
  fi
  bash scripts/pg.sh stop "$work/pg"
}

case "$cmd" in
  down) down; exit 0 ;;
  up) ;;
  *) echo "usage: replicas.sh up [--replicas N] [--store URL] [--data DIR] [--port P] [--no-lb] | down" >&2; exit 2 ;;
esac

down
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/woolguard"
if [ -z "$store" ]; then
  bash scripts/pg.sh start "$work/pg" 55432
  store="postgres://postgres@127.0.0.1:55432/postgres"
fi
upstream=""
for i in $(seq 1 "$replicas"); do
  p=$((8080 + i))
  WOOLGUARD_STORE="$store" "$bin" serve --bind "127.0.0.1:$p" --model models/default \
    --signup-model models/signup --data "$data" --api-key key-a --admin-key adm \
    --refresh-secs 0 >"$work/replica-$i.log" 2>&1 &
  echo $! >"$work/replica-$i.pid"
  upstream="$upstream    server 127.0.0.1:$p max_fails=1 fail_timeout=2s;\n"
done
for i in $(seq 1 "$replicas"); do
  p=$((8080 + i))
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs "http://127.0.0.1:$p/readyz" >/dev/null || { echo "replica $i did not start: $work/replica-$i.log" >&2; exit 1; }
  echo "replica $i: http://127.0.0.1:$p"
done
if [ "$lb" = 1 ]; then
  if ! command -v nginx >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
  fi
  printf "pid %s/nginx.pid;\nerror_log %s/nginx.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path %s/nginx-body;\n  upstream woolguard {\n%b    keepalive 32;\n  }\n  server {\n    listen 127.0.0.1:%s;\n    client_max_body_size 64m;\n    location / {\n      proxy_pass http://woolguard;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_next_upstream error timeout;\n    }\n  }\n}\n" \
    "$work" "$work" "$work" "$upstream" "$port" >"$work/nginx.conf"
  nginx -c "$work/nginx.conf"
  echo "load balancer: http://127.0.0.1:$port (nginx, $work/nginx.conf)"
fi
echo "store: $store"
