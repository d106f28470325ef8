#!/usr/bin/env bash
# Flow runs benchmark: Osmosis's flow engine beside n8n (the workflow-engine peer of
# ../shared/peers/n8n), on the same machine in the same run, on the same flow:
# a trigger taking {first, last, email} -> a transform (name = first + ' ' + last,
# email lower-cased) -> a POST of {name, email} to a local sink (sink.cjs, one for
# both engines), every run persisted.
#   n8n:     POST /webhook/bench {first, last, email}; answers when the execution ended.
#   Osmosis: POST /connections/C/flows/bench/run {input: {first, last, email}}, then
#            GET /flow-runs/{id}?wait=30 until the run's state is final (bench/http's
#            `load --flow-run`); a run counts when it `completed`.
# Closed-loop clients at each BENCH_CLIENTS count; runs/s (runs ending in the measured
# time, `--by-completion`), p50 and p99 from start to completion, peak RSS of the
# engine (rss.py) and its CPU time per run. Osmosis runs on a fresh SQLite data dir
# and on a fresh PostgreSQL database, and once more with runs spread over 1,000
# connections. Each engine's first run is checked end to end
# (the sink's answer is the run's output; the sink got {name, email}). Rewrites the
# "Flow runs" section of BENCHMARKS.md.
#
# Knobs (environment): BENCH_CLIENTS (default "1 16 64"), BENCH_DURATION and
# BENCH_WARMUP (seconds per point, default 10 and 2), BENCH_DATABASES (Osmosis's
# databases, default "sqlite postgres"), BENCH_PEER=0 (skip n8n), BENCH_SPREAD=0 (skip
# the points where each client has a connection of its own), BENCH_MANY=0
# (skip the many-connections point), BENCH_MANY_CONNECTIONS and BENCH_MANY_RUNS
# (default 1000 connections, 10 runs each, started by BENCH_MANY_CLIENTS=16 clients),
# BENCH_PG_URL (a database on the PostgreSQL server to use, default
# postgres://127.0.0.1:5432/test: the benchmark creates bench_flows_<random> there
# and drops it at the end), N8N_PEER (the peer's folder, default
# ../shared/peers/n8n beside this checkout), N8N_PEER_DIR (where n8n is installed,
# default $HOME/.cache/peers/n8n), BENCH_WRITE=0 (do not rewrite BENCHMARKS.md),
# BENCH_RESULTS_OUT (a file to copy the raw points to), BENCH_RAW_DIR (where the raw
# points and settings are kept for re-rendering, default $CARGO_TARGET_DIR/bench-flows),
# CARGO_TARGET_DIR, and
# OSMOSIS_SOURCE / OSMOSIS_SOURCE_REV (the tree to build the server and the load
# generator from, default this checkout, as for bench/http/run.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
clients="${BENCH_CLIENTS:-1 16 64}"
duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-2}"
databases="${BENCH_DATABASES:-sqlite postgres}"
peer="${BENCH_PEER:-1}"
many="${BENCH_MANY:-1}"
many_n="${BENCH_MANY_CONNECTIONS:-1000}"
many_runs="${BENCH_MANY_RUNS:-10}"
many_clients="${BENCH_MANY_CLIENTS:-16}"
pg_admin="${BENCH_PG_URL:-postgres://127.0.0.1:5432/test}"
n8n_peer="$(cd "${N8N_PEER:-$repo/../shared/peers/n8n}" 2>/dev/null && pwd || true)"
n8n_dir="${N8N_PEER_DIR:-$HOME/.cache/peers/n8n}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo "${OSMOSIS_SOURCE_REV:-unknown}")"
started="$(date +%s)"

for db in $databases; do
  case "$db" in sqlite | postgres) ;; *) echo "BENCH_DATABASES: unknown database $db (sqlite, postgres)" >&2; exit 2 ;; esac
done
if [ "$peer" != 0 ] && [ ! -f "$n8n_peer/n8n.sh" ]; then
  echo "n8n peer not found (N8N_PEER=${N8N_PEER:-$repo/../shared/peers/n8n}); BENCH_PEER=0 skips it" >&2
  exit 2
fi

(cd "$src" && cargo build --release -p osmosis)
cargo build --release --manifest-path "$src/bench/http/Cargo.toml"
osmosis="$CARGO_TARGET_DIR/release/osmosis"
tool="$CARGO_TARGET_DIR/release/osmosis-bench-http"

work="$(mktemp -d)"
pg_db=""
pids=()
groups=()
cleanup() {
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$pg_db" ]; then
    psql "$pg_admin" -XAtqc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || echo "could not drop database $pg_db" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

. "$repo/bench/lib.sh"
results="$work/results.jsonl"
: >"$results"
# The run's input, as the peer's post.lua sends it.
input='{"first":"Ada","last":"Lovelace","email":"ADA@Example.com"}'
# What both engines must send the sink (n8n: JSON.stringify({name, email})).
expected_sink_body='{"name":"Ada Lovelace","email":"ada@example.com"}'

tree_cpu_ticks() { # utime + stime of PID and its descendants
  python3 - "$1" <<'PY'
import os, sys
root, by_parent, stat = int(sys.argv[1]), {}, {}
for d in filter(str.isdigit, os.listdir("/proc")):
    try:
        s = open(f"/proc/{d}/stat").read()
    except OSError:
        continue
    f = s[s.rindex(")") + 2:].split()
    by_parent.setdefault(int(f[1]), []).append(int(d))
    stat[int(d)] = int(f[11]) + int(f[12])
todo, total = [root], 0
while todo:
    p = todo.pop(); total += stat.get(p, 0); todo += by_parent.get(p, [])
print(total)
PY
}
# point ENGINE DATABASE KIND PID load-args...: one load of the generator while rss.py
# samples the engine PID's tree; appends one JSON line to $results.
point() {
  local engine="$1" database="$2" kind="$3" pid="$4" line rss_pid cpu0 cpu1 rc=0
  shift 4
  python3 "$here/rss.py" "$pid" "$work/rss.json" &
  rss_pid=$!
  sleep 0.2
  cpu0="$(tree_cpu_ticks "$pid")"
  line="$("$tool" load "$@" 2>"$work/load.err")" || rc=$?
  cpu1="$(tree_cpu_ticks "$pid")"
  kill -TERM "$rss_pid"
  wait "$rss_pid" || true
  if [ -z "$line" ]; then
    echo "the load generator failed ($engine $database $kind):" >&2
    cat "$work/load.err" >&2
    exit 1
  fi
  if [ "$rc" != 0 ]; then sed 's/^/  /' "$work/load.err" >&2; fi
  echo "{\"engine\":\"$engine\",\"database\":\"$database\",\"kind\":\"$kind\",\"cpu_ticks\":$((cpu1 - cpu0)),\"hz\":$(getconf CLK_TCK),\"rss\":$(cat "$work/rss.json"),\"load\":$line}" | tee -a "$results"
}

# The sink both engines post to (the peer's sink.cjs: counts requests, answers
# {ok, n, echo: body length}).
sink_port="$(free_port)"
sink_script="${n8n_peer:+$n8n_peer/sink.cjs}"
if [ -z "$sink_script" ] || [ ! -f "$sink_script" ]; then
  echo "the sink (sink.cjs of the n8n peer) is not found; N8N_PEER names its folder" >&2
  exit 2
fi
node "$sink_script" "$sink_port" >"$work/sink.out" 2>&1 &
sink_pid=$!
pids+=("$sink_pid")
for _ in $(seq 1 100); do
  curl -fsS -X POST "http://127.0.0.1:$sink_port/sink" -d '{}' >/dev/null 2>&1 && break
  sleep 0.1
done
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------- n8n
n8n_version="" n8n_executions=""
if [ "$peer" != 0 ]; then
  if [ ! -x "$n8n_dir/node_modules/.bin/n8n" ] || ! ls "$n8n_dir"/node_modules/sqlite3/build/Release/node_sqlite3.node >/dev/null 2>&1; then
    echo "installing n8n into $n8n_dir (once; npm registry)" >&2
    N8N_PEER_DIR="$n8n_dir" "$n8n_peer/n8n.sh" install >"$work/n8n-install.log" 2>&1 || {
      tail -30 "$work/n8n-install.log" >&2
      exit 1
    }
  fi
  n8n_version="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$n8n_dir/node_modules/n8n/package.json")"
  # A fresh user folder (n8n's SQLite database) per run, as Osmosis gets a fresh data
  # dir; the workflow imported and activated with the environment n8n.sh start uses.
  rm -rf "$n8n_dir/home"
  mkdir -p "$n8n_dir/home"
  n8n_cli() {
    (cd "$n8n_dir" && N8N_EXPRESSION_ENGINE=legacy N8N_RUNNERS_ENABLED=false N8N_DIAGNOSTICS_ENABLED=false \
      N8N_USER_FOLDER="$n8n_dir/home" npx n8n "$@") >>"$work/n8n-cli.log" 2>&1
  }
  n8n_cli import:workflow --input="$n8n_peer/workflow.json" || { tail -30 "$work/n8n-cli.log" >&2; exit 1; }
  n8n_cli update:workflow --id=osmbench0000001 --active=true || { tail -30 "$work/n8n-cli.log" >&2; exit 1; }
  n8n_port="$(free_port)"
  # Its own process group (npx -> sh -> node): the cleanup ends the whole group.
  SINK_PORT="$sink_port" N8N_BLOCK_ENV_ACCESS_IN_NODE=false N8N_PEER_DIR="$n8n_dir" \
    setsid "$n8n_peer/n8n.sh" start "$n8n_port" >"$work/n8n.log" 2>&1 &
  n8n_launcher=$!
  groups+=("$n8n_launcher")
  n8n_url="http://127.0.0.1:$n8n_port/webhook/bench"
  # Ready when the webhook answers (n8n's /healthz answers before the workflow is active).
  for _ in $(seq 1 240); do
    kill -0 "$n8n_launcher" 2>/dev/null || { echo "n8n exited during start" >&2; tail -30 "$work/n8n.log" >&2; exit 1; }
    code="$(curl -sS -o "$work/n8n-check.json" -w '%{http_code}' -X POST "$n8n_url" -H 'Content-Type: application/json' --data "$input" 2>/dev/null || true)"
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  [ "$code" = 200 ] || { echo "n8n's webhook did not answer 200 in 120 s" >&2; tail -30 "$work/n8n.log" >&2; exit 1; }
  # The node process running n8n (under npx and sh): what is measured.
  n8n_pid="$(python3 - "$n8n_launcher" <<'PY'
import os, sys
root = int(sys.argv[1]); kids = {}
for d in filter(str.isdigit, os.listdir("/proc")):
    try:
        s = open(f"/proc/{d}/stat").read(); cmd = open(f"/proc/{d}/cmdline").read().split("\0")
    except OSError:
        continue
    kids.setdefault(int(s[s.rindex(")") + 2:].split()[1]), []).append((int(d), cmd))
todo = [root]
while todo:
    for pid, cmd in kids.get(todo.pop(), []):
        if cmd[0].endswith("node") and any(a.endswith("/.bin/n8n") or a.endswith("/bin/n8n") for a in cmd[1:]):
            print(pid); sys.exit()
        todo.append(pid)
sys.exit("n8n's node process not found")
PY
)"
  python3 - "$work/n8n-check.json" "$expected_sink_body" <<'PY'
import json, sys
answer, expected = json.load(open(sys.argv[1])), sys.argv[2]
assert answer.get("ok") is True and answer.get("echo") == len(expected), ("n8n's answer is not the sink's for {name, email}", answer)
print(f"checked n8n: POST /webhook/bench answered the sink's answer {answer} (a {len(expected)}-byte body: {expected})")
PY
  for c in $clients; do
    point n8n sqlite single "$n8n_pid" --url "$n8n_url" --method POST --body "$input" \
      --clients "$c" --warmup "$warmup" --duration "$duration" --by-completion
  done
  kill -TERM -- "-$n8n_launcher" 2>/dev/null || true
  wait "$n8n_launcher" 2>/dev/null || true
  # Executions are saved (the workflow's saveDataSuccessExecution: all).
  n8n_executions="$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(db.execute("SELECT count(*) FROM execution_entity").fetchone()[0])' "$n8n_dir/home/.n8n/database.sqlite" 2>/dev/null || echo unknown)"
  echo "n8n executions saved: $n8n_executions"
fi

# ------------------------------------------------------------------------ Osmosis
key=bench-ws
secret="bench-secret-$RANDOM$RANDOM"
admin="$("$tool" token --key "$key" --secret "$secret")"
customer="$("$tool" token --key "$key" --secret "$secret" --customer bench-customer --name "Bench Customer")"
flow_body="{\"input\":$input}"
pg_version=""
: >"$work/osmosis-info.jsonl"

osmosis_half() { # database
  local database="$1" port url pid data db_args=() integration conn id c
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  data="$work/osmosis-$database"
  mkdir -m 700 "$data"
  if [ "$database" = postgres ]; then
    pg_db="bench_flows_$$_$RANDOM"
    psql "$pg_admin" -XAtqc "CREATE DATABASE $pg_db" >/dev/null
    pg_version="$(psql "$pg_admin" -XAtqc 'SHOW server_version')"
    db_args=(--database "${pg_admin%/*}/$pg_db")
  fi
  OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" OSMOSIS_LOG_FORMAT=json \
    OSMOSIS_OUTBOUND_ALLOW="127.0.0.1/32" \
    "$osmosis" serve --listen "127.0.0.1:$port" --data-dir "$data" "${db_args[@]}" \
    >"$work/osmosis-$database.out" 2>"$work/osmosis-$database.log" &
  pid=$!
  pids+=("$pid")
  wait_ready "$url" "$pid"
  call() { # method path token [body]
    curl -fsS -X "$1" "$url$2" -H "Authorization: Bearer $3" ${4:+-H 'Content-Type: application/json' --data "$4"}
  }
  id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

  # The sink as an external app: a client-credentials connector whose API client
  # has the sink as base URI and sends the connection's API key in a header.
  call POST /connectors "$admin" "{\"key\":\"bench-sink\",\"name\":\"Bench sink\",\"type\":\"client-credentials\",
    \"makeApiClient\":{\"type\":\"mapping\",\"mapping\":{\"baseUri\":\"http://127.0.0.1:$sink_port\",
      \"headers\":{\"X-Api-Key\":{\"\$var\":\"\$.credentials.apiKey\"}}}}}" >/dev/null
  integration="$(call POST /integrations "$admin" '{"key":"bench","name":"Bench","connectorKey":"bench-sink"}' | id_of)"
  conn="$(call POST /connections "$customer" "{\"integrationId\":\"$integration\",\"name\":\"Bench\",\"input\":{\"apiKey\":\"bench-key\"}}" | id_of)"
  # The flow of workflow.json: name = first + ' ' + last ($concat), email lower-cased
  # ($jsonata's $lowercase), POST {name, email} to the sink's /sink.
  call POST /flows "$admin" "{\"key\":\"bench\",\"name\":\"Bench\",\"integrationId\":\"$integration\",\"nodes\":{
    \"trigger\":{\"type\":\"api-trigger\",\"links\":[{\"key\":\"transform\"}]},
    \"transform\":{\"type\":\"transform-data\",\"config\":{\"output\":{
      \"name\":{\"\$concat\":{\"values\":[{\"\$var\":\"\$.input.trigger.first\"},{\"\$var\":\"\$.input.trigger.last\"}],\"delimiter\":\" \"}},
      \"email\":{\"\$jsonata\":\"\$lowercase(input.trigger.email)\"}}},\"links\":[{\"key\":\"post\"}]},
    \"post\":{\"type\":\"api-request-to-external-app\",\"config\":{\"request\":{\"method\":\"POST\",\"path\":\"/sink\",
      \"data\":{\"\$var\":\"\$.input.transform\"}}}}}}" >/dev/null

  # One run end to end: it completes, its output is the sink's answer, and the
  # post node's log shows the sink got {name, email} as n8n sends them.
  call POST "/connections/$conn/flows/bench/run" "$admin" "$flow_body" >"$work/run.json"
  id="$(id_of <"$work/run.json")"
  call GET "/flow-runs/$id?wait=30" "$admin" >"$work/run-final.json"
  call GET "/flow-runs/$id/output" "$admin" >"$work/run-output.json"
  call GET "/flow-runs/$id/nodes/post/runs" "$admin" >"$work/run-post.json"
  python3 - "$work" "$expected_sink_body" "$database" <<'PY'
import json, pathlib, sys
work, expected, database = pathlib.Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
load = lambda n: json.loads((work / n).read_text())
started, final, output, post = load("run.json"), load("run-final.json"), load("run-output.json"), load("run-post.json")
assert started.get("state") in ("queued", "running", "completed"), started
assert final.get("state") == "completed", ("the check run did not complete", final)
assert all(final["nodes"][k]["runs"] == 1 for k in ("trigger", "transform", "post")), final["nodes"]
assert output.get("ok") is True and output.get("echo") == len(json.dumps(expected, separators=(",", ":"))), ("the run's output is not the sink's answer", output)
logs = post["items"][0]["logs"]
sent = next(l["data"]["request"] for l in logs if l.get("type") == "api-request")
assert sent["method"] == "POST" and sent["url"].endswith("/sink"), sent
assert sent["body"] == expected, ("the sink did not get {name, email} as n8n sends it", sent["body"])
print(f"checked Osmosis ({database}): run {started['id']} {started['state']} -> completed; output {output}; the sink got {json.dumps(sent['body'])}")
PY

  for c in $clients; do
    point osmosis "$database" single "$pid" --flow-run --url "$url/connections/$conn/flows/bench/run" \
      --token "$admin" --body "$flow_body" --clients "$c" --warmup "$warmup" --duration "$duration" --by-completion
  done

  # Each client on a connection of its own (customers 1..N), the like-for-like
  # point for n8n's independent requests: runs of one connection run one at a time.
  if [ "${BENCH_SPREAD:-1}" != 0 ]; then
    local most
    most="$(printf '%s\n' $clients | sort -n | tail -1)"
    python3 "$here/connections.py" "$url" "$key" "$secret" "$integration" "$most" "$work/spread-ids"
    sed "s|.*|$url/connections/&/flows/bench/run|" "$work/spread-ids" >"$work/spread-urls"
    "$tool" load --flow-run --url-file "$work/spread-urls" --token "$admin" --body "$flow_body" \
      --clients 4 --warmup 0 --duration 600 --max-requests "$most" >/dev/null
    for c in $clients; do
      head -n "$c" "$work/spread-urls" >"$work/spread-urls-$c"
      point osmosis "$database" spread "$pid" --flow-run --url-file "$work/spread-urls-$c" \
        --token "$admin" --body "$flow_body" --clients "$c" --warmup "$warmup" --duration "$duration" --by-completion
    done
  fi

  if [ "$many" != 0 ]; then
    python3 "$here/connections.py" "$url" "$key" "$secret" "$integration" "$many_n" "$work/many-ids"
    sed "s|.*|$url/connections/&/flows/bench/run|" "$work/many-ids" >"$work/many-urls"
    # One run on each connection first (not measured): each connection's flow
    # instance is made by its first run.
    "$tool" load --flow-run --url-file "$work/many-urls" --token "$admin" --body "$flow_body" \
      --clients "$many_clients" --warmup 0 --duration 600 --max-requests "$many_n" >/dev/null
    point osmosis "$database" many "$pid" --flow-run --url-file "$work/many-urls" --token "$admin" \
      --body "$flow_body" --clients "$many_clients" --warmup 0 --duration 600 \
      --max-requests "$((many_n * many_runs))"
  fi

  # Every run is persisted: the rows of flow_runs and their states, and how the
  # many point's runs spread over its connections.
  local q_runs="SELECT state || ':' || count(*) FROM flow_runs GROUP BY state ORDER BY state"
  local others="'$conn'"
  [ -f "$work/spread-ids" ] && others="$others$(sed "s/.*/,'&'/" "$work/spread-ids" | tr -d '\n')"
  local q_spread="SELECT coalesce(min(n), 0) || ':' || coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM flow_runs WHERE connection_id NOT IN ($others) GROUP BY connection_id) t"
  local q_nodes="SELECT count(*) FROM flow_node_runs"
  sql() {
    if [ "$database" = postgres ]; then
      psql "${pg_admin%/*}/$pg_db" -XAtqc "$1" | paste -sd' '
    else
      python3 -c 'import sqlite3, sys
print(" ".join(str(r[0]) for r in sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute(sys.argv[2])))' "$data/osmosis.db" "$1"
    fi
  }
  local rows spread problems db_size
  rows="$(sql "$q_runs")"
  spread="$(sql "$q_spread")"
  problems="$(grep -c '"level":"\(WARN\|ERROR\)"' "$work/osmosis-$database.log" || true)"
  if [ "$database" = postgres ]; then
    db_size="$(psql "${pg_admin%/*}/$pg_db" -XAtqc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
  else
    db_size="$(du -ch "$data/osmosis.db"* | tail -1 | cut -f1)B"
  fi
  echo "Osmosis ($database): flow_runs by state $rows; node runs $(sql "$q_nodes"); the many point's runs per connection (min:max) $spread; database $db_size; $problems warnings/errors logged"
  grep '"level":"\(WARN\|ERROR\)"' "$work/osmosis-$database.log" >"$work/osmosis-$database-warnings.log" || true
  head -5 "$work/osmosis-$database-warnings.log" >&2
  python3 -c 'import json, sys; print(json.dumps(dict(zip(["database", "runs_by_state", "node_runs", "many_spread", "db_size", "log_problems"], sys.argv[1:]))))' \
    "$database" "$rows" "$(sql "$q_nodes")" "$spread" "$db_size" "$problems" >>"$work/osmosis-info.jsonl"
  kill -TERM "$pid"
  wait "$pid" || true
  if [ "$database" = postgres ]; then
    psql "$pg_admin" -XAtqc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
    pg_db=""
  fi
}
for database in $databases; do osmosis_half "$database"; done

loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -TERM "$sink_pid"
wait "$sink_pid" 2>/dev/null || true
sink_count="$(grep -o 'received [0-9]*' "$work/sink.out" || echo "received unknown")"
elapsed=$(($(date +%s) - started))

python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[0::2], a[1::2]))))' \
  loadavg "$loadavg" loadavg_end "$loadavg_end" duration "$duration" warmup "$warmup" clients "$clients" \
  databases "$databases" source_rev "$source_rev" pg_version "$pg_version" n8n_version "$n8n_version" \
  n8n_executions "$n8n_executions" sink "$sink_count" elapsed "$elapsed" many "$many" many_n "$many_n" \
  many_runs "$many_runs" many_clients "$many_clients" peer "$peer" counting completion >"$work/meta.json"
# The raw points stay for re-rendering the section:
#   PYTHONPATH=bench python3 bench/flows/report.py BENCHMARKS.md $raw/results.jsonl $raw/osmosis-info.jsonl $raw/meta.json
raw="${BENCH_RAW_DIR:-$CARGO_TARGET_DIR/bench-flows}"
mkdir -p "$raw" && cp "$results" "$work/osmosis-info.jsonl" "$work/meta.json" "$work"/osmosis-*-warnings.log "$raw/"
if [ -n "${BENCH_RESULTS_OUT:-}" ]; then cp "$results" "$BENCH_RESULTS_OUT"; fi
if [ "${BENCH_WRITE:-1}" = 0 ]; then exit 0; fi
PYTHONPATH="$repo/bench" python3 "$here/report.py" "$repo/BENCHMARKS.md" "$results" "$work/osmosis-info.jsonl" "$work/meta.json"
