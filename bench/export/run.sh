#!/usr/bin/env bash
# Workspace export and import benchmark (issue "config as code"): a workspace of
# BENCH_INTEGRATIONS integrations x BENCH_PER integration-level elements (actions,
# flows, data sources, field mappings in turn) on a fresh SQLite `osmosis serve`
# (release), then in each of BENCH_ROUNDS rounds:
#   list:   every element read through the list API (`GET /<type>?limit=1000`, every
#           page of every type): what a client reading the workspace spends;
#   export: `GET /export` until the background job completes, and the zip's download;
#   import into a fresh workspace: `POST /import` of that zip until its job
#           completes, every element created;
#   import again: the same zip into the workspace it came from, every element
#           unchanged (what a push of files nobody edited costs).
# All timed from the client (measure.py, one keep-alive connection); the server's
# peak RSS during each (VmHWM, reset before). Rewrites the "Workspace export and
# import" section of BENCHMARKS.md unless BENCH_WRITE=0. Knobs: BENCH_INTEGRATIONS
# (100), BENCH_PER (50), BENCH_ROUNDS (3), CARGO_TARGET_DIR, OSMOSIS_SOURCE (the
# tree to build, default this checkout).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
integrations="${BENCH_INTEGRATIONS:-100}"
per="${BENCH_PER:-50}"
rounds="${BENCH_ROUNDS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)"

(cd "$src" && cargo build --release -p osmosis)
osmosis="$CARGO_TARGET_DIR/release/osmosis"

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
OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" RUST_LOG=warn \
  "$osmosis" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/osmosis.out" 2>"$work/osmosis.log" &
pid=$!
pids+=("$pid")
wait_ready "$url" "$pid"
admin="$(OSMOSIS_WORKSPACE_SECRET="$secret" "$osmosis" token --workspace "$key" --admin --data-dir "$work/data")"

# An empty workspace per round to import into (made beside the running server,
# as an operator would).
fresh=()
for i in $(seq 1 "$rounds"); do
  "$osmosis" workspace create --name "Import $i" --key "bench-import-$i" --secret "$secret-$i" --data-dir "$work/data" >/dev/null
  fresh+=("$(OSMOSIS_WORKSPACE_SECRET="$secret-$i" "$osmosis" token --workspace "bench-import-$i" --admin --data-dir "$work/data")")
done

python3 "$here/measure.py" "$url" "$admin" "$pid" "$integrations" "$per" "$rounds" "${fresh[@]}" >"$work/result.json"
cat "$work/result.json"

python3 - "$work/result.json" "$repo/BENCHMARKS.md" "$source_rev" "${BENCH_WRITE:-1}" <<'PY'
import json, os, statistics, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(sys.argv[2]), "bench"))
from benchmarks_md import write_section
r = json.load(open(sys.argv[1]))
rounds = r["rounds"]
med = lambda k: statistics.median(x[k] for x in rounds)
cpu = os.cpu_count()
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
load = open("/proc/loadavg").read().split()[:3]
rows = "\n".join(
    f"| {i + 1} | {x['read']:,} | {x['list_s'] * 1000:,.0f} ms | {x['list_hwm_kb'] / 1024:.0f} MB "
    f"| {x['files']:,} | {x['zip_bytes'] / 1024:,.0f} KiB | {x['export_s'] * 1000:,.0f} ms | {x['export_hwm_kb'] / 1024:.0f} MB "
    f"| {x['export_s'] / x['list_s']:.2f} |"
    for i, x in enumerate(rounds))
import_rows = "\n".join(
    f"| {i + 1} | {x['created']:,} | {x['import_fresh_s'] * 1000:,.0f} ms | {x['import_fresh_hwm_kb'] / 1024:.0f} MB "
    f"| {x['import_fresh_s'] / x['list_s']:.2f} "
    f"| {x['unchanged']:,} | {x['import_same_s'] * 1000:,.0f} ms | {x['import_same_hwm_kb'] / 1024:.0f} MB "
    f"| {x['import_same_s'] / x['list_s']:.2f} |"
    for i, x in enumerate(rounds))
section = f"""## Workspace export and import

`bench/export/run.sh` on {model}, {cpu} cores (load average {' '.join(load)} at the end), `osmosis serve` at `{sys.argv[3]}` (release, fresh SQLite data dir).
A workspace of {r['integrations']} integrations × {r['per_integration']} integration-level elements each (actions, flows, data sources and field mappings in turn; {r['elements']:,} elements with the integrations and the connector), seeded through the API in {r['seed_s']:.1f} s.
Each round, from one keep-alive client (`bench/export/measure.py`): **list** reads every element through the list API (`GET /<type>?limit=1000`, every page of each type); **export** is `GET /export` polled until the background job completes, plus the zip's download; **import (fresh)** is `POST /import` of that zip into an empty workspace, polled until its job completes (every element created, in one transaction); **import (again)** the same zip into the workspace it came from (every element unchanged, nothing written). Peak RSS: the server's VmHWM, reset before each.

| round | elements listed | list | peak RSS | files exported | zip | export | peak RSS | export / list |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

Median: list {med('list_s') * 1000:,.0f} ms, export {med('export_s') * 1000:,.0f} ms — the export takes {med('export_s') / med('list_s'):.2f}× the time of reading the same elements through the API, and writes them as YAML into a deflated zip.

| round | created | import (fresh) | peak RSS | fresh / list | unchanged | import (again) | peak RSS | again / list |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{import_rows}

Median: import into a fresh workspace {med('import_fresh_s') * 1000:,.0f} ms ({med('import_fresh_s') / med('list_s'):.1f}× the list), the same zip again {med('import_same_s') * 1000:,.0f} ms ({med('import_same_s') / med('list_s'):.1f}× the list). An import runs every element through the same checks as the API's writes, staged in memory, then writes what changed in one transaction.
"""
print(section)
if sys.argv[4] != "0":
    write_section(sys.argv[2], section)
PY
