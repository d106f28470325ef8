#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on OSMOSIS_TEST_PG_URL's host and port.
# Development machines run one on 127.0.0.1:5432 (trust auth, database `test`);
# where none answers, start one from Debian's server binaries in a temporary folder
# as an unprivileged user, so the PostgreSQL suite never silently skips.
set -euo pipefail
url="${OSMOSIS_TEST_PG_URL:-postgres://127.0.0.1:5432/test}"
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  exit 0
fi
echo "no PostgreSQL on 127.0.0.1:5432; starting one"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pgbin="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")"
id -u osmosis-pg >/dev/null 2>&1 || useradd --system --no-create-home osmosis-pg
data="$(mktemp -d /tmp/osmosis-pg.XXXXXX)"
chown osmosis-pg "$data"
su osmosis-pg -s /bin/sh -c "$pgbin/initdb -D $data/db -A trust -U postgres >/dev/null"
su osmosis-pg -s /bin/sh -c "$pgbin/pg_ctl -D $data/db -o '-k $data -h 127.0.0.1 -p 5432' -l $data/log -w start >/dev/null"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE ROLE root SUPERUSER LOGIN" 2>/dev/null || true
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test OWNER root" 2>/dev/null || true
pg_isready -h 127.0.0.1 -p 5432
echo "started PostgreSQL in $data for $url"
