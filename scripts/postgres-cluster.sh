#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster from the system binaries (Debian's postgresql-15), for CI
# and for developers who prefer a real server to the embedded one.
#   scripts/postgres-cluster.sh start <dir> <port>   prints the DATABASE_URL on its last line
#   scripts/postgres-cluster.sh stop <dir>
set -euo pipefail

action=${1:?usage: postgres-cluster.sh start|stop <dir> [port]}
dir=${2:?data directory}
port=${3:-55432}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    if [ ! -x "$bin/initdb" ]; then
      echo "postgres-cluster: $bin/initdb not found; installing postgresql-15" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
      groupadd -f postgres && useradd -g postgres postgres
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
    fi
    as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c wal_level=logical -c fsync=off" start >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >&2 || true
    ;;
  *)
    echo "usage: postgres-cluster.sh start|stop <dir> [port]" >&2
    exit 2
    ;;
esac
