#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the replica benchmark, never a system-wide
# one: `pg.sh start DIR PORT` creates a cluster in DIR (when empty) and starts it on 127.0.0.1:PORT
# with its socket in DIR; `pg.sh stop DIR` stops it (fast shutdown), `pg.sh kill DIR` stops it at
# once (immediate shutdown, as a crash would), `pg.sh bin` prints the server's binary folder.
# Connect with postgres://postgres@127.0.0.1:PORT/postgres (trust, loopback only). As root the
# server runs as the `postgres` user Debian's package creates. `scripts/setup.sh` installs the
# package where absent.
set -euo pipefail

bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
    return
  fi
  echo "pg.sh: no PostgreSQL server binaries (initdb); run scripts/setup.sh" >&2
  exit 2
}

# Runs a server binary as an unprivileged user when we are root (PostgreSQL refuses root).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd="${1:-}"
case "$cmd" in
  bin) bindir ;;
  start)
    dir="${2:?pg.sh start DIR PORT}"
    port="${3:?pg.sh start DIR PORT}"
    bin="$(bindir)"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      # The server's user must reach the folder: its parent (often a private temp folder) is
      # made traversable, not readable.
      chmod a+x "$(dirname "$dir")"
      chown postgres "$dir"
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null
    ;;
  stop|kill)
    dir="${2:?pg.sh $cmd DIR}"
    bin="$(bindir)"
    mode=fast
    [ "$cmd" = kill ] && mode=immediate
    if [ -f "$dir/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: pg.sh start DIR PORT | stop DIR | kill DIR | bin" >&2
    exit 2
    ;;
esac
