#!/usr/bin/env bash
# Start the PostgreSQL and Redis servers the tests use, if they are not running,
# and create what the tests need. Idempotent; safe to run before every test run.
set -euo pipefail

need_root_for() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "services: $1 is not running and starting it needs root; start it and retry" >&2
    exit 1
  fi
}

apt_install() {
  need_root_for "$1"
  echo "services: installing $*" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  need_root_for PostgreSQL
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.2
  done
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "services: PostgreSQL did not start" >&2; exit 1; }
}

ensure_test_database() {
  if ! psql -h 127.0.0.1 -U postgres -d test -Atc "select 1" >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null \
      || su postgres -c "createdb test"
  fi
}

start_redis() {
  # Needed even with a Redis running: each pytest-xdist worker starts one of its own.
  command -v redis-server >/dev/null || apt_install redis-server
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "services: Redis did not start" >&2; exit 1; }
}

start_postgres
ensure_test_database
start_redis
echo "services: PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 are up" >&2
