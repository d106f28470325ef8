#!/usr/bin/env bash
# The read-cache scenario of the hardening issue on one binary: a fresh SQLite data
# dir, one flow with a NAME_CHARS-long name and a META_BYTES `meta`, listed under 60
# then 600 distinct query strings; prints the server's RSS after each stage.
#
# usage: bench/cache/run.sh BINARY NAME_CHARS META_BYTES [extra serve flags]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"
bin="$1" name_chars="$2" meta_bytes="$3"; shift 3
work="$(mktemp -d)"
port="$(free_port)"
OSMOSIS_WORKSPACE_KEY=bench OSMOSIS_WORKSPACE_SECRET=bench-secret-0123456789 \
  OSMOSIS_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --log-format json "$@" \
  >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
wait_ready "http://127.0.0.1:$port" "$pid"
python3 "$here/scenario.py" "http://127.0.0.1:$port" "$pid" bench bench-secret-0123456789 \
  "$name_chars" "$meta_bytes"
