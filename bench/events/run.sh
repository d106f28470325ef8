#!/usr/bin/env bash
# Incoming webhooks benchmark (issue 14, "Events"): how many deliveries to an app
# event type's `globalWebhookUri` Osmosis stores durably per second, beside the
# bare-handler baseline of bench/http in the same run, and how long a delivery takes
# to start the flow run it triggers.
#
#   Throughput: closed-loop clients (bench/http's `osmosis-bench-http load`, no
#     Authorization header) POST the same small JSON body, one distinct value in it
#     per request, to
#       baseline: `POST /baseline/integration` of `osmosis-bench-http baseline` (the
#                 real router plus a bare in-memory route: no auth, no storage);
#       Osmosis:  `POST /webhooks/app-events/<workspace>/<key>` of `osmosis serve`
#                 (fresh SQLite data dir); answered `200 {incomingWebhookId}` only
#                 after the group commit that stored the delivery.
#     The type's `tenantIdFormula` (`$.customer`) names an existing customer, so the
#     background job turns each delivery into an app event while the load runs (the
#     customer's flow has no trigger of this type: no runs). After each Osmosis point
#     the script waits until that backlog is processed (timed) before the next.
#     Afterwards the `incoming_webhooks` rows of the type are counted against the
#     requests answered.
#   Latency: one customer, a connection, an enabled instance of an
#     `app-event-trigger` (`appEventKey` = a second type's key) → `transform-data`
#     flow; BENCH_EVENTS distinct events from BENCH_SENDERS senders at BENCH_RATE/s
#     (send.py); once all runs ended, from the database (dbcheck.py): delivery
#     (`incoming_webhooks.created_ms`) → app event, → run start (`flow_runs.created_ms`),
#     → the run's first node run, → run end (`flow_runs.ended_ms`); checks that every
#     event launched exactly one run and every run completed. Twice: on the fresh
#     database before the throughput points, and again after them, on the database
#     they grew.
# Rewrites the "Incoming webhooks" section of BENCHMARKS.md (report.py).
#
# Knobs (environment): BENCH_CLIENTS (default "16 64"), BENCH_DURATION and
# BENCH_WARMUP (seconds per point, default 10 and 2), BENCH_EVENTS (default 500),
# BENCH_SENDERS (default 4), BENCH_RATE (events/s over all senders, default 100; 0 =
# back to back), BENCH_WRITE=0 (do not rewrite BENCHMARKS.md), BENCH_RAW_DIR (where
# the raw points are kept for re-rendering, default $CARGO_TARGET_DIR/bench-events),
# BENCH_RESULTS_OUT (a file to copy the raw points to), BENCH_DATA_IN (a folder to
# put the server's data dir in, default the run's temp dir; /dev/shm takes the disk's
# fsyncs out), BENCH_KEEP_SERVER=1 (after the throughput points, print the server's
# pid and webhook URL and wait, e.g. for `perf record`; ending the server ends the
# script), CARGO_TARGET_DIR, and OSMOSIS_SOURCE / OSMOSIS_SOURCE_REV (the tree to
# build the server and the load generator from, default this checkout).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
clients="${BENCH_CLIENTS:-16 64}"
duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-2}"
events="${BENCH_EVENTS:-500}"
senders="${BENCH_SENDERS:-4}"
rate="${BENCH_RATE:-100}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo "${OSMOSIS_SOURCE_REV:-unknown}")"
started="$(date +%s)"

(cd "$src" && cargo build --release -p osmosis)
cargo build --release --manifest-path "$src/bench/http/Cargo.toml"
osmosis="$CARGO_TARGET_DIR/release/osmosis"
tool="$CARGO_TARGET_DIR/release/osmosis-bench-http"

work="$(mktemp -d)"
data="$(mktemp -d -p "${BENCH_DATA_IN:-$work}")"
data_fs="$( (findmnt -n -o FSTYPE --target "$data" 2>/dev/null || stat -f -c %T "$data") | tail -n1)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$data" "$work"
}
trap cleanup EXIT

. "$repo/bench/lib.sh"
results="$work/results.jsonl"
: >"$results"

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

# ------------------------------------------------------------------ the server
key=bench-ws
secret="bench-secret-$RANDOM$RANDOM"
port="$(free_port)"
url="http://127.0.0.1:$port"
OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" OSMOSIS_LOG_FORMAT=json \
  OSMOSIS_OUTBOUND_ALLOW="127.0.0.1/32" \
  "$osmosis" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$work/osmosis.out" 2>"$work/osmosis.log" &
pid=$!
pids+=("$pid")
wait_ready "$url" "$pid"
db="$data/osmosis.db"

admin="$("$tool" token --key "$key" --secret "$secret")"
customer_id=bench-customer
customer="$("$tool" token --key "$key" --secret "$secret" --customer "$customer_id" --name "Bench Customer")"
call() { # method path token [body] -> body on stdout; fails on non-2xx
  curl -fsS -X "$1" "$url$2" -H "Authorization: Bearer $3" ${4:+-H 'Content-Type: application/json' --data "$4"}
}
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# A connector (client-credentials; its base URI is never called: the flow makes no
# external request), an integration, and the customer's connection (its first
# request with the customer token creates the customer the formula names).
call POST /connectors "$admin" '{"key":"bench-app","name":"Bench app","type":"client-credentials",
  "makeApiClient":{"type":"mapping","mapping":{"baseUri":"http://127.0.0.1:9/unused"}}}' >/dev/null
integration="$(call POST /integrations "$admin" '{"key":"bench","name":"Bench","connectorKey":"bench-app"}' | field id)"
conn="$(call POST /connections "$customer" "{\"integrationId\":\"$integration\",\"name\":\"Bench\",\"input\":{}}" | field id)"
# Two app event types, both attributing an event to the customer its `customer` names:
# the throughput points' and the latency phase's (the only one a flow triggers on).
formula='{"$var":"$.customer"}'
call POST /app-event-types "$admin" "{\"key\":\"bench-load\",\"name\":\"Bench load\",\"tenantIdFormula\":$formula}" >"$work/type-load.json"
call POST /app-event-types "$admin" "{\"key\":\"bench-latency\",\"name\":\"Bench latency\",\"tenantIdFormula\":$formula}" >"$work/type-latency.json"
load_type="$(field id <"$work/type-load.json")"
latency_type="$(field id <"$work/type-latency.json")"
path_of() { python3 -c 'import json,sys,urllib.parse; print(urllib.parse.urlsplit(json.load(open(sys.argv[1]))["globalWebhookUri"]).path)' "$1"; }
load_url="$url$(path_of "$work/type-load.json")"
latency_url="$url$(path_of "$work/type-latency.json")"
call POST /flows "$admin" "{\"key\":\"on-event\",\"name\":\"On event\",\"integrationId\":\"$integration\",\"nodes\":{
  \"event\":{\"type\":\"app-event-trigger\",\"config\":{\"appEventKey\":\"bench-latency\"},\"links\":[{\"key\":\"out\"}]},
  \"out\":{\"type\":\"transform-data\",\"config\":{\"output\":{\"seq\":{\"\$var\":\"\$.input.event.payload.seq\"}}}}}}" >/dev/null
call GET "/connections/$conn/flows/on-event?autoCreate=true" "$customer" >"$work/instance.json"
instance="$(field id <"$work/instance.json")"

# One event end to end: stored, turned into an event of the customer, one run of
# the instance with input {payload: event}, completed, output from the payload.
check_body='{"customer":"bench-customer","seq":-1,"check":true}'
curl -fsS -X POST "$latency_url" -H 'Content-Type: application/json' --data "$check_body" >"$work/check-answer.json"
check_id="$(field incomingWebhookId <"$work/check-answer.json")"
echo "{\"ids\":[\"$check_id\"]}" >"$work/check-sent.json"
python3 "$here/dbcheck.py" latency "$db" "$work/check-sent.json" 30 "$work/check-latency.json" >/dev/null
run_id="$(python3 -c 'import json, sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print(json.loads(c.execute("SELECT launched_flow_run_ids FROM app_events WHERE incoming_webhook_id = ?", (sys.argv[2],)).fetchone()[0])[0])' "$db" "$check_id")"
call GET "/flow-runs/$run_id?wait=30" "$admin" >"$work/check-run.json"
call GET "/flow-runs/$run_id/output" "$admin" >"$work/check-output.json"
python3 - "$work" "$check_body" "$instance" "$(cat "$work/check-latency.json")" <<'PY'
import json, pathlib, sys
work, body, instance, lat = pathlib.Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
run, output = json.loads((work / "check-run.json").read_text()), json.loads((work / "check-output.json").read_text())
assert lat["problems"] == 0 and lat["counts"]["runs_completed"] == 1, ("the check event did not run once to completion", lat)
assert run["state"] == "completed", run
assert run["connectionFlowId"] == instance, (run["connectionFlowId"], instance)
assert run["input"] == {"payload": body}, ("the run's input is not {payload: event}", run["input"])
assert output == {"seq": -1}, ("the run's output is not from the payload", output)
print(f"checked: a delivery to the global webhook became one event of the customer and one run of its instance "
      f"(input {json.dumps(run['input'])}, output {json.dumps(output)}), {lat['to_run_start_ms']['max']} ms from delivery to run start")
PY

# ---------------------------------------------------------------- the baseline
# Answers what the webhook answers, captured, from memory.
curl -fsS -X POST "$load_url" -H 'Content-Type: application/json' --data '{"customer":"bench-customer","warm":true}' >"$work/post.json"
base_port="$(free_port)"
base="http://127.0.0.1:$base_port"
"$tool" baseline --listen "127.0.0.1:$base_port" --data-dir "$work/baseline" \
  --get-json "$work/post.json" --post-json "$work/post.json" 2>"$work/baseline.log" &
base_pid=$!
pids+=("$base_pid")
wait_ready "$base" "$base_pid"
python3 "$here/dbcheck.py" drain "$db" 30 >/dev/null
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"

# point TARGET PID URL: one load of the generator while rss.py samples PID; appends
# one JSON line to $results. For Osmosis, then waits until the deliveries are
# processed, and counts that time and the CPU it took.
body='{"customer":"bench-customer","order":"{uniq}","amount":42,"currency":"EUR"}'
point() {
  local target="$1" pid="$2" target_url="$3" line rss_pid cpu0 cpu1 cpu2 rc=0 backlog='null' drain='null'
  python3 "$repo/bench/flows/rss.py" "$pid" "$work/rss.json" &
  rss_pid=$!
  sleep 0.2
  cpu0="$(tree_cpu_ticks "$pid")"
  line="$("$tool" load --url "$target_url" --method POST --body "$body" \
    --clients "$c" --warmup "$warmup" --duration "$duration" 2>"$work/load.err")" || rc=$?
  cpu1="$(tree_cpu_ticks "$pid")"
  if [ "$target" = osmosis ]; then
    backlog="$(python3 "$here/dbcheck.py" rows "$db" "$load_type")"
    drain="$(python3 "$here/dbcheck.py" drain "$db" 600)"
  fi
  cpu2="$(tree_cpu_ticks "$pid")"
  kill -TERM "$rss_pid"
  wait "$rss_pid" || true
  if [ -z "$line" ]; then
    echo "the load generator failed ($target, $c clients):" >&2
    cat "$work/load.err" >&2
    exit 1
  fi
  if [ "$rc" != 0 ]; then sed 's/^/  /' "$work/load.err" >&2; fi
  echo "{\"target\":\"$target\",\"cpu_ticks\":$((cpu1 - cpu0)),\"cpu_ticks_drain\":$((cpu2 - cpu1)),\"hz\":$(getconf CLK_TCK),\"rss\":$(cat "$work/rss.json"),\"rows_at_end\":$backlog,\"drain\":$drain,\"load\":$line}" | tee -a "$results"
}

# latency LABEL: BENCH_EVENTS distinct events to the latency type's webhook, then,
# once their runs ended, the latencies from the database (latency-LABEL.json).
latency() {
  python3 "$here/send.py" "$latency_url" "$events" "$senders" "$rate" "$customer_id" "$work/sent-$1.json"
  python3 "$here/dbcheck.py" latency "$db" "$work/sent-$1.json" 300 "$work/latency-$1.json" >/dev/null
  python3 - "$work/latency-$1.json" "$1" "$(python3 "$here/dbcheck.py" rows "$db" "$load_type")" <<'PY'
import json, sys
l, label, rows = json.load(open(sys.argv[1])), sys.argv[2], json.loads(sys.argv[3])
print(f"latency ({label}, {rows['total']} deliveries of the load's type stored before): {l['counts']}; waited {l['waited_s']} s for the runs; {l['problems']} problems {l['problem_sample']}")
for k in ("to_event_ms", "to_run_start_ms", "to_first_node_ms", "to_run_end_ms"):
    print(f"  delivery -> {k[3:-3]}: {l[k]}")
PY
}

# ------------------------------------------------------- latency, fresh database
latency fresh

# ------------------------------------------------------------------ throughput
rows_before="$(python3 "$here/dbcheck.py" rows "$db" "$load_type")"
for c in $clients; do
  point baseline "$base_pid" "$base/baseline/integration"
  point osmosis "$pid" "$load_url"
done
rows_after="$(python3 "$here/dbcheck.py" rows "$db" "$load_type")"
python3 - "$results" "$rows_before" "$rows_after" >"$work/stored.json" <<'PY'
import json, sys
points = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
before, after = json.loads(sys.argv[2]), json.loads(sys.argv[3])
sent = sum(p["load"]["sent"] for p in points if p["target"] == "osmosis")
failures = sum(p["load"]["failures"] for p in points if p["target"] == "osmosis")
rows = after["total"] - before["total"]
print(json.dumps({"answered": sent, "failures": failures, "rows": rows, "by_status": after["by_status"],
                  "ok": rows >= sent and failures == 0}))
PY
cat "$work/stored.json"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if s["ok"] else "answered deliveries are missing from incoming_webhooks")' "$work/stored.json"

if [ "${BENCH_KEEP_SERVER:-0}" = 1 ]; then
  echo "server pid $pid; webhook $load_url; body $body; baseline $base/baseline/integration (pid $base_pid)"
  echo "the script waits until the server ends"
  wait "$pid" || true
  exit 0
fi

# --------------------------------------- latency again, after the throughput points
# The same on the database the throughput points grew: what a delivery waits for
# once the server holds many earlier (settled) deliveries and events.
stored_before_late="$(python3 "$here/dbcheck.py" rows "$db" "$load_type" | field total)"
latency loaded

loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"
problems="$(grep -c '"level":"\(WARN\|ERROR\)"' "$work/osmosis.log" || true)"
grep '"level":"\(WARN\|ERROR\)"' "$work/osmosis.log" | head -5 >&2 || true
db_size="$(du -ch "$db"* | tail -1 | cut -f1)B"
kill -TERM "$pid"
wait "$pid" || true
elapsed=$(($(date +%s) - started))

python3 -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[0::2], a[1::2]))))' \
  loadavg "$loadavg" loadavg_end "$loadavg_end" duration "$duration" warmup "$warmup" clients "$clients" \
  source_rev "$source_rev" elapsed "$elapsed" events "$events" senders "$senders" rate "$rate" \
  data_fs "$data_fs" db_size "$db_size" log_problems "$problems" body "$body" \
  stored_before_late "$stored_before_late" >"$work/meta.json"
# The raw points stay for re-rendering the section:
#   PYTHONPATH=bench python3 bench/events/report.py BENCHMARKS.md $raw
raw="${BENCH_RAW_DIR:-$CARGO_TARGET_DIR/bench-events}"
mkdir -p "$raw" && cp "$results" "$work/stored.json" "$work"/sent-*.json "$work"/latency-*.json "$work/meta.json" "$raw/"
if [ -n "${BENCH_RESULTS_OUT:-}" ]; then cp "$results" "$BENCH_RESULTS_OUT"; fi
if [ "${BENCH_WRITE:-1}" = 0 ]; then
  PYTHONPATH="$repo/bench" python3 "$here/report.py" - "$raw"
  exit 0
fi
PYTHONPATH="$repo/bench" python3 "$here/report.py" "$repo/BENCHMARKS.md" "$raw"
