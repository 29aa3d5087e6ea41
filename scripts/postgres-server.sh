#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server on loopback for tests and demos, and prints the environment
# that points at it. PostgreSQL refuses to run as root, so the server runs as the unprivileged user
# `tally-pg` (created if missing) in a temporary directory; the superuser `tally` has a password.
#   eval "$(scripts/postgres-server.sh start DIR)"   # exports TALLY_TEST_POSTGRES_URL and _PASSWORD_FILE
#   scripts/postgres-server.sh halt DIR     # stops the server, keeping its data (a database outage)
#   scripts/postgres-server.sh resume DIR   # starts it again on the same port
#   scripts/postgres-server.sh stop DIR
set -euo pipefail
action=${1:?start, halt, resume or stop}
dir=${2:?a directory for the server}
bin=/usr/lib/postgresql/15/bin
if [ "$action" = start ] && { [ ! -x "$bin/initdb" ] || ! command -v psql >/dev/null; }; then
  echo "Installing PostgreSQL 15" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 >&2
fi

as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u tally-pg -- "$@"; else "$@"; fi
}

start_server() {
  as_server "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$(cat "$dir/port") -c unix_socket_directories=$dir -c fsync=on -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
}

case "$action" in
  start)
    if [ "$(id -u)" = 0 ] && ! id tally-pg >/dev/null 2>&1; then
      # Another run may create it at the same moment.
      useradd --system --no-create-home --shell /usr/sbin/nologin tally-pg 2>/dev/null || id tally-pg >/dev/null
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown tally-pg "$dir"
    chmod 700 "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$password" > "$dir/password"
    chmod 600 "$dir/password"
    cp "$dir/password" "$dir/pwfile"
    [ "$(id -u)" = 0 ] && chown tally-pg "$dir/pwfile"
    as_server "$bin/initdb" --pgdata="$dir/data" --username=tally --pwfile="$dir/pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free port below the ephemeral range, so that no client connection takes it, now or while the
    # server is halted before a resume.
    port=$("$(dirname "$0")/free-port.py")
    echo "$port" > "$dir/port"
    start_server
    echo "export TALLY_TEST_POSTGRES_URL=postgresql://tally@127.0.0.1:$port/postgres"
    echo "export TALLY_TEST_POSTGRES_PASSWORD_FILE=$dir/password"
    echo "export TALLY_TEST_POSTGRES_DIR=$dir"
    ;;
  halt)
    as_server "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null
    ;;
  resume)
    start_server
    ;;
  stop)
    [ -d "$dir/data" ] && as_server "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|halt|resume|stop DIR" >&2; exit 2
    ;;
esac
