#!/usr/bin/env bash
# PostgreSQL and several nodes, in one run: `osmosis serve` (release) on SQLite with
# one node, then on a fresh PostgreSQL database with one node, then three nodes on
# that same database; GET /integrations/{key} (customer token) and POST /integrations
# (admin token) at 16 and 64 clients each, the clients dealt round-robin over the
# nodes. On PostgreSQL it also reads the database work per request (pg_stat_database,
# pg_stat_user_tables, the CPU time and round trips of the database's backends, see
# dbwork.py) and counts the statements of one GET and one POST from the server's own
# sqlx log. Rewrites the "PostgreSQL and several nodes" section of BENCHMARKS.md.
#
# Knobs (environment): BENCH_CLIENTS (default "16 64"), BENCH_DURATION and
# BENCH_WARMUP (seconds per point, default 6 and 1), BENCH_POOL_SIZE (each node's
# --database-pool-size, default 16), BENCH_SEED (integrations created before the
# first point of each database, default 1000), BENCH_PG_URL (a database on the server to use,
# default postgres://127.0.0.1:5432/test: the benchmark creates its own database
# there and drops it at the end), CARGO_TARGET_DIR, and OSMOSIS_SOURCE /
# OSMOSIS_SOURCE_REV as for run.sh.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
clients="${BENCH_CLIENTS:-16 64}"
duration="${BENCH_DURATION:-6}"
warmup="${BENCH_WARMUP:-1}"
pool="${BENCH_POOL_SIZE:-16}"
pg_admin="${BENCH_PG_URL:-postgres://127.0.0.1:5432/test}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo "${OSMOSIS_SOURCE_REV:-unknown}")"

(cd "$src" && cargo build --release -p osmosis)
cargo build --release --manifest-path "$src/bench/http/Cargo.toml"
osmosis="$CARGO_TARGET_DIR/release/osmosis"
tool="$CARGO_TARGET_DIR/release/osmosis-bench-http"
started="$(date +%s)"

work="$(mktemp -d)"
db="osmosis_bench_$$_$RANDOM"
pg_url="${pg_admin%/*}/$db"
declare -A node_pid=()
cleanup() {
  for pid in "${node_pid[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg_admin" -XAtqc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || echo "could not drop database $db" >&2
  rm -rf "$work"
}
trap cleanup EXIT

. "$repo/bench/lib.sh"

key=bench-ws
secret="bench-secret-$RANDOM$RANDOM"
admin="$("$tool" token --key "$key" --secret "$secret")"
customer="$("$tool" token --key "$key" --secret "$secret" --customer bench-customer --name "Bench Customer")"

start_node() { # name database-args... ; sets node_url[name]
  local name="$1" port
  shift
  port="$(free_port)"
  OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" OSMOSIS_LOG_FORMAT=json \
    "$osmosis" serve --listen "127.0.0.1:$port" --database-pool-size "$pool" "$@" \
    >"$work/$name.out" 2>"$work/$name.log" &
  node_pid[$name]=$!
  node_url[$name]="http://127.0.0.1:$port"
  wait_ready "${node_url[$name]}" "${node_pid[$name]}"
}
declare -A node_url=()
stop_node() {
  kill -TERM "${node_pid[$1]}"
  wait "${node_pid[$1]}" || true
  unset "node_pid[$1]" "node_url[$1]"
}
call() { # url method path token [body]; fails on non-2xx
  curl -fsS -X "$2" "$1$3" -H "Authorization: Bearer $4" ${5:+-H 'Content-Type: application/json' --data "$5"}
}
setup() { # url: a connector and the integration the GETs read
  call "$1" POST /connectors "$admin" '{"key":"bench-app","name":"Bench App","type":"oauth2"}' >/dev/null
  call "$1" POST /integrations "$admin" '{"key":"bench","name":"Bench","connectorKey":"bench-app"}' >/dev/null
  call "$1" GET /integrations/bench "$customer" >/dev/null
}
count_sql="SELECT count(*) FROM elements WHERE element_type = 'integration'"
integrations() { # how many integrations the configuration's database holds now
  if [ -n "${node_db:-}" ]; then psql "$node_db" -XAtqc "$count_sql"
  else python3 -c 'import sqlite3, sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute(sys.argv[2]).fetchone()[0])' "$work/sqlite/osmosis.db" "$count_sql"; fi
}

results="$work/results.jsonl"
snapshot() { # settle-seconds [--pg-url URL --db NAME]: the counters dbwork.py reads
  sleep "$1"
  shift
  python3 "$here/dbwork.py" "$@" "${node_pid[@]}"
}
# A PostgreSQL 15 backend that goes idle less than a second after its last
# statistics flush holds its counters for PGSTAT_IDLE_INTERVAL (10 s) before
# publishing them, so the snapshot after a point waits that long.
stats_settle() { if [ $# -gt 0 ]; then echo 11; else echo 0.5; fi; }
post_body='{"key":"bench-{uniq}","name":"Bench {uniq}","connectorKey":"bench-app"}'
analyze() { # PostgreSQL only: fresh statistics, as autovacuum keeps them within a minute
  if [ -n "${node_db:-}" ]; then psql "$node_db" -XAtqc "ANALYZE elements"; fi
}
seed() { # url: BENCH_SEED integrations, so that lookups run on a table of some size
  "$tool" load --url "$1/integrations" --method POST --token "$admin" \
    --body '{"key":"seed-{uniq}","name":"Seed {uniq}","connectorKey":"bench-app"}' \
    --clients 4 --warmup 0 --duration 120 --max-requests "$seed_n" >/dev/null
}
point() { # config endpoint clients snapshot-args...: one measured point, all nodes loaded
  local config="$1" ep="$2" c="$3" count before after line method path token body args=()
  shift 3
  if [ "$ep" = get ]; then method=GET path=/integrations/bench token="$customer" body=""
  else method=POST path=/integrations token="$admin" body="$post_body"; fi
  for n in "${!node_url[@]}"; do args+=(--url "${node_url[$n]}$path"); done
  count="$(integrations)"
  before="$(snapshot 0.2 "$@")"
  line="$("$tool" load "${args[@]}" --method "$method" --token "$token" ${body:+--body "$body"} \
    --clients "$c" --warmup "$warmup" --duration "$duration")"
  after="$(snapshot "$(stats_settle "$@")" "$@")"
  echo "{\"config\":\"$config\",\"nodes\":${#node_url[@]},\"endpoint\":\"$ep\",\"integrations\":$count,\"load\":$line,\"before\":$before,\"after\":$after}" >>"$results"
  echo "$config $ep $c: $line"
}
run_config() { # config snapshot-args...: GETs, then POSTs, at each client count
  local config="$1" ep c
  shift
  for ep in get post; do
    for c in $clients; do
      analyze
      point "$config" "$ep" "$c" "$@"
    done
  done
}
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
seed_n="${BENCH_SEED:-1000}"

# 1. SQLite, one node (reads answered from the node's cache).
start_node n1 --data-dir "$work/sqlite"
setup "${node_url[n1]}"
seed "${node_url[n1]}"
run_config sqlite-1
stop_node n1

# 2. PostgreSQL, a fresh database, one node.
psql "$pg_admin" -XAtqc "CREATE DATABASE $db" >/dev/null
pg_version="$(psql "$pg_admin" -XAtqc 'SHOW server_version')"
pg_settings="$(psql "$pg_admin" -XAtqc "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections', 'autovacuum_naptime')")"
node_db="$pg_url"
pg_snap=(--pg-url "$pg_url" --db "$db")
start_node n1 --database "$pg_url"
setup "${node_url[n1]}"
seed "${node_url[n1]}"
# The seeded table before any ANALYZE (a new database after a bulk load, until
# autovacuum's first pass): the plans PostgreSQL picks without statistics.
point pg-1-unanalyzed get "$(echo $clients | awk '{ print $1 }')" "${pg_snap[@]}"
analyze

# Statements per request, from the server's own log: a probe node on the same
# database logging every sqlx statement (not loaded; its log is read, then it
# stops). strace, when present, counts the backends' system calls meanwhile.
probe_port="$(free_port)"
OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" OSMOSIS_LOG_FORMAT=json RUST_LOG=warn,sqlx::query=debug \
  "$osmosis" serve --listen "127.0.0.1:$probe_port" --database "$pg_url" --database-pool-size "$pool" \
  >/dev/null 2>"$work/probe.log" &
node_pid[probe]=$!
wait_ready "http://127.0.0.1:$probe_port" "${node_pid[probe]}"
probe_n=50
probe() { # endpoint method path token [body]
  local from strace_pid="" i
  # Warm-up calls: the pool opens its connections (strace sees only backends that
  # exist when it attaches) and prepares its statements.
  for i in $(seq 1 20); do call "http://127.0.0.1:$probe_port" "$2" "$3" "$4" ${5:+"${5//\{uniq\}/probe-warm-$1-$i}"} >/dev/null; done
  from="$(wc -l <"$work/probe.log")"
  : >"$work/strace-$1.txt"
  if command -v strace >/dev/null; then
    strace -c -o "$work/strace-$1.txt" $(pgrep -f "^postgres: .* $db " | sed 's/^/-p /') 2>/dev/null &
    strace_pid=$!
    sleep 0.5
  fi
  for i in $(seq 1 "$probe_n"); do
    call "http://127.0.0.1:$probe_port" "$2" "$3" "$4" ${5:+"${5//\{uniq\}/probe-$1-$i}"} >/dev/null
  done
  if [ -n "$strace_pid" ]; then kill -INT "$strace_pid"; wait "$strace_pid" || true; fi
  tail -n "+$((from + 1))" "$work/probe.log" | python3 "$here/multinode_probe.py" "$1" "$probe_n" "$work/strace-$1.txt" >>"$work/probe.jsonl"
}
probe get GET /integrations/bench "$customer"
probe post POST /integrations "$admin" "$post_body"
stop_node probe
cat "$work/probe.jsonl"

run_config pg-1 "${pg_snap[@]}"

# 3. Three nodes on that same database.
start_node n2 --database "$pg_url"
start_node n3 --database "$pg_url"
run_config pg-3 "${pg_snap[@]}"
loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"
elapsed=$(($(date +%s) - started))

# The raw points stay for re-rendering the section (multinode_report.py takes them as they are).
raw="${BENCH_RAW_DIR:-$CARGO_TARGET_DIR/bench-multinode}"
report_args=("$loadavg" "$loadavg_end" "$duration" "$warmup" "$clients" "$pool" "$source_rev" "$pg_version" "$pg_settings" "$elapsed" "$seed_n")
mkdir -p "$raw" && cp "$results" "$work/probe.jsonl" "$raw/" && printf '%s\n' "${report_args[@]}" >"$raw/report-args"
python3 "$here/multinode_report.py" "$repo/BENCHMARKS.md" "$results" "$work/probe.jsonl" "${report_args[@]}"
