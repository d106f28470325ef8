#!/usr/bin/env bash
# Console benchmark: how long the console's heaviest pages take on a workspace of
# about 10,000 elements and 100,000 flow runs, beside the API's JSON read of the
# same data in the same run; and what a console left open costs the API.
#
#   1. `osmosis serve` (release, fresh SQLite data dir) is seeded through the API
#      (measure.py seed: a connector, 20 integrations, 1,000 customers with a
#      connection each, 4,000 actions, 4,000 flows, 300 real runs of two flows, one
#      in ten failing), stopped, and its runs copied to BENCH_RUNS (100,000) spread
#      over a week (multiply_runs.py); then started again on that database.
#   2. Pages: a console session signs in through the form and GETs each page
#      BENCH_ROUNDS times on one keep-alive connection, each beside the API read of
#      the same data with an admin token (times from the client over loopback: an
#      upper bound of the server's time).
#   3. Cost to the API: bench/http's load generator on `GET /integrations/{key}`
#      (customer token, BENCH_CLIENTS clients, BENCH_DURATION s) without, with,
#      with and without a console session fetching a run's page every 100 ms.
# Rewrites the "Console" section of BENCHMARKS.md unless BENCH_WRITE=0.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
runs="${BENCH_RUNS:-100000}"
rounds="${BENCH_ROUNDS:-30}"
clients="${BENCH_CLIENTS:-16}"
duration="${BENCH_DURATION:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)"

(cd "$src" && cargo build --release -p osmosis)
cargo build --release --manifest-path "$src/bench/http/Cargo.toml"
osmosis="$CARGO_TARGET_DIR/release/osmosis"
tool="$CARGO_TARGET_DIR/release/osmosis-bench-http"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$repo/bench/lib.sh"

key=bench-ws
secret="bench-secret-$RANDOM$RANDOM"
port="$(free_port)"
url="http://127.0.0.1:$port"
start() {
  OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" RUST_LOG=warn \
    "$osmosis" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >>"$work/osmosis.out" 2>>"$work/osmosis.log" &
  pid=$!
  pids+=("$pid")
  wait_ready "$url" "$pid"
}

start
started=$(date +%s)
python3 "$here/measure.py" seed "$url" "$key" "$secret" "$work/seed.json"
seed_s=$(( $(date +%s) - started ))
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
counts="$(python3 "$here/multiply_runs.py" "$work/data/osmosis.db" "$runs")"
elements="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM elements WHERE archived_at IS NULL").fetchone()[0])' "$work/data/osmosis.db")"
start

python3 "$here/measure.py" pages "$url" "$key" "$secret" "$work/seed.json" "$rounds" "$work/pages.json"

customer="$("$tool" token --key "$key" --secret "$secret" --customer customer-0 --name "Customer 0")"
run="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"])' "$work/seed.json")"
load() { # label
  local line
  line="$("$tool" load --url "$url/integrations/app-0" --method GET --token "$customer" \
    --clients "$clients" --warmup 1 --duration "$duration")"
  echo "{\"label\":\"$1\",\"load\":$line}" >>"$work/cost.jsonl"
}
with_console() {
  python3 "$here/measure.py" poll "$url" "$key" "$secret" "/console/flow-runs/$run" "$((duration + 3))" 0.1 >"$work/polls-$1" &
  local poller=$!
  sleep 1
  load with
  wait "$poller"
}
load without
with_console 1
with_console 2
load without

python3 - "$work/pages.json" "$work/cost.jsonl" "$repo/BENCHMARKS.md" "$source_rev" "${BENCH_WRITE:-1}" \
  "$elements" "$counts" "$seed_s" "$clients" "$duration" "$rounds" "$(cat "$work"/polls-1)" <<'PY'
import json, os, statistics, sys
sys.path.insert(0, os.path.join(os.path.dirname(sys.argv[3]), "bench"))
from benchmarks_md import write_section
pages = json.load(open(sys.argv[1]))
cost = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
md, rev, write, elements, counts, seed_s, clients, duration, rounds, polls = sys.argv[3:]
runs, node_runs = counts.split()
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
load = open("/proc/loadavg").read().split()[:3]
rows = "\n".join(
    f"| {p['label']} | `{p['page']}` | {p['console']['median_ms']:.1f} ms | {p['console']['p95_ms']:.1f} ms "
    f"| `{p['api']}` | {p['read']['median_ms']:.1f} ms | {p['console']['median_ms'] / p['read']['median_ms']:.2f} |"
    for p in pages)
worst = max(pages, key=lambda p: p["console"]["p95_ms"])
rps = lambda label: [c["load"]["rps"] for c in cost if c["label"] == label]
p99 = lambda label: [c["load"]["p99_us"] / 1000 for c in cost if c["label"] == label]
without, with_ = rps("without"), rps("with")
ratio = statistics.mean(with_) / statistics.mean(without)
section = f"""## Console

`bench/console/run.sh` on {model}, {os.cpu_count()} cores (load average {' '.join(load)} at the end), `osmosis serve` at `{rev}` (release, SQLite).
The workspace: {int(elements):,} live elements (a connector, 20 integrations, 1,000 customers with a connection each, 4,000 actions, 4,000 flows and the shipped catalog), seeded through the API in {seed_s} s, and {int(runs):,} flow runs with {int(node_runs):,} node runs (300 real runs of two flows, one in ten failing, copied over the last week by `bench/console/multiply_runs.py`).
Each page {rounds} times from one signed-in keep-alive client, beside the API's JSON read of the same data with an admin token, alternating; times from the client over loopback (an upper bound of the server's).

| page | path | median | p95 | API read beside it | its median | page / API |
|---|---|---:|---:|---|---:|---:|
{rows}

The slowest page at p95: {worst['label']}, {worst['console']['p95_ms']:.1f} ms (target: every page under 100 ms of server time).

What a console left open costs the API: `GET /integrations/{{key}}` with a customer token, {clients} closed-loop clients for {duration} s (bench/http's load generator), without and with a console session fetching a flow run's page every 100 ms ({polls} pages in one run), in the order without, with, with, without.

| | req/s (each run) | p99 (each run) |
|---|---|---|
| without the console | {', '.join(f'{x:,.0f}' for x in without)} | {', '.join(f'{x:.2f} ms' for x in p99('without'))} |
| with the console polling | {', '.join(f'{x:,.0f}' for x in with_)} | {', '.join(f'{x:.2f} ms' for x in p99('with'))} |

With / without: {ratio:.2f} of the throughput.
"""
print(section)
if write != "0":
    write_section(md, section)
PY
