#!/usr/bin/env bash
# HTTP API benchmark: `osmosis serve` (release, fresh SQLite data dir) against a
# baseline on the same router stack (bench/http/src/baseline.rs), both loaded in
# the same run by a separate load-generator process over loopback. Rewrites the
# "HTTP API" section of BENCHMARKS.md.
#
# Knobs (environment): BENCH_CLIENTS (default "1 16 64"), BENCH_DURATION and
# BENCH_WARMUP (seconds per point, default 10 and 1), CARGO_TARGET_DIR, and
# BENCH_RESULTS_OUT (a file to copy the raw points to), BENCH_WRITE=0 (do not
# rewrite BENCHMARKS.md), and OSMOSIS_SOURCE: the tree to build the server and the bench from (default: this
# checkout; point it at a clean export when the checkout holds unfinished edits).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
clients="${BENCH_CLIENTS:-1 16 64}"
duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
# Which server code is measured: the checkout's commit, or OSMOSIS_SOURCE_REV for an export.
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo "${OSMOSIS_SOURCE_REV:-unknown}")"

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
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Resets the peak RSS (VmHWM) to the current RSS, so each point reports its own peak.
reset_peak() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || echo "cannot reset VmHWM of $1; peaks are since start" >&2; }

key=bench-ws
secret="bench-secret-$RANDOM$RANDOM"
real_port="$(free_port)"
real="http://127.0.0.1:$real_port"
OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" OSMOSIS_LOG_FORMAT=json \
  "$osmosis" serve --listen "127.0.0.1:$real_port" --data-dir "$work/real" >"$work/real.out" 2>"$work/real.log" &
real_pid=$!
pids+=("$real_pid")
wait_ready "$real" "$real_pid"
real_idle_kb="$(status_kb "$real_pid" VmRSS)"

admin="$("$tool" token --key "$key" --secret "$secret")"
customer="$("$tool" token --key "$key" --secret "$secret" --customer bench-customer --name "Bench Customer")"
call() { # method path token [body] -> body on stdout; fails on non-2xx
  curl -fsS -X "$1" "$real$2" -H "Authorization: Bearer $3" ${4:+-H 'Content-Type: application/json' --data "$4"}
}
call POST /connectors "$admin" '{"key":"bench-app","name":"Bench App","type":"oauth2"}' >/dev/null
call POST /integrations "$admin" '{"key":"bench","name":"Bench","connectorKey":"bench-app"}' >/dev/null
call GET /integrations/bench "$customer" >"$work/get.json"
call POST /integrations "$admin" '{"key":"bench-capture","name":"Bench capture","connectorKey":"bench-app"}' >"$work/post.json"
# An integration on a shipped connector: its response carries the connector's
# spec and capabilities (about 5 KB), derived from a large connector definition.
call POST /integrations "$admin" '{"key":"bench-hubspot","name":"HubSpot","connectorKey":"hubspot"}' >/dev/null
call GET /integrations/bench-hubspot "$customer" >"$work/get-hubspot.json"

base_port="$(free_port)"
base="http://127.0.0.1:$base_port"
"$tool" baseline --listen "127.0.0.1:$base_port" --data-dir "$work/baseline" \
  --get-json "$work/get.json" --post-json "$work/post.json" 2>"$work/baseline.log" &
base_pid=$!
pids+=("$base_pid")
wait_ready "$base" "$base_pid"
base_idle_kb="$(status_kb "$base_pid" VmRSS)"
# The baseline of the shipped-connector read: the same route answering that
# integration's captured response.
hub_port="$(free_port)"
hub="http://127.0.0.1:$hub_port"
"$tool" baseline --listen "127.0.0.1:$hub_port" --data-dir "$work/baseline-hubspot" \
  --get-json "$work/get-hubspot.json" --post-json "$work/post.json" 2>"$work/baseline-hubspot.log" &
hub_pid=$!
pids+=("$hub_pid")
wait_ready "$hub" "$hub_pid"
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"

results="$work/results.jsonl"
point() { # endpoint server pid url method token body
  reset_peak "$3"
  local line
  line="$("$tool" load --url "$4" --method "$5" ${6:+--token "$6"} ${7:+--body "$7"} \
    --clients "$c" --warmup "$warmup" --duration "$duration")"
  echo "{\"endpoint\":\"$1\",\"server\":\"$2\",\"peak_kb\":$(status_kb "$3" VmHWM),\"load\":$line}" | tee -a "$results"
}
post_body='{"key":"bench-{uniq}","name":"Bench {uniq}","connectorKey":"bench-app"}'
# Reads first, while the workspace holds two integrations; then writes; then reads
# again at the middle client count, now that the writes have grown the table.
for c in $clients; do
  point get real "$real_pid" "$real/integrations/bench" GET "$customer" ""
  point get baseline "$base_pid" "$base/baseline/integration" GET "" ""
  point get-hubspot real "$real_pid" "$real/integrations/bench-hubspot" GET "$customer" ""
  point get-hubspot baseline "$hub_pid" "$hub/baseline/integration" GET "" ""
done
for c in $clients; do
  point post real "$real_pid" "$real/integrations" POST "$admin" "$post_body"
  point post baseline "$base_pid" "$base/baseline/integration" POST "" "$post_body"
done
integrations="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("SELECT count(*) FROM elements WHERE element_type = ?", ("integration",)).fetchone()[0])' "$work/real/osmosis.db")"
c="$(echo $clients | awk '{ print $(int((NF + 1) / 2)) }')"
point get-grown real "$real_pid" "$real/integrations/bench" GET "$customer" ""
point get-grown baseline "$base_pid" "$base/baseline/integration" GET "" ""
loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# For bench/compare.sh: keep the raw points, and leave BENCHMARKS.md alone.
if [ -n "${BENCH_RESULTS_OUT:-}" ]; then cp "$results" "$BENCH_RESULTS_OUT"; fi
if [ "${BENCH_WRITE:-1}" = 0 ]; then exit 0; fi

PYTHONPATH="$repo/bench" python3 - "$repo/BENCHMARKS.md" "$results" "$real_idle_kb" "$base_idle_kb" "$loadavg" "$duration" "$warmup" "$clients" "$integrations" "$loadavg_end" "$source_rev" <<'PY'
import datetime, json, pathlib, subprocess, sys
from benchmarks_md import write_section
path, results, real_idle, base_idle, loadavg, duration, warmup, clients, integrations, loadavg_end, source_rev = sys.argv[1:]
rows = [json.loads(l) for l in pathlib.Path(results).read_text().splitlines() if l.strip()]
by = {(r["endpoint"], r["server"], r["load"]["clients"]): r for r in rows}
mb = lambda kb: f"{int(kb) / 1024:.1f} MB"
ms = lambda us: f"{us / 1000:.2f} ms"
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
lines = [
    "| clients | endpoint | req/s | p50 | p99 | baseline req/s | baseline p99 | req/s ratio | p99 ratio | server peak RSS |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
labels = {
    "get": "`GET /integrations/{key}` (customer token)",
    "post": "`POST /integrations` (admin token)",
    "get-grown": f"`GET /integrations/{{key}}` after the POSTs ({integrations} integrations)",
    "get-hubspot": "`GET /integrations/{key}` on the shipped HubSpot connector (customer token)",
}
targets = {"get": [], "p99": []}
for r in rows:
    if r["server"] != "real":
        continue
    ep, c = r["endpoint"], r["load"]["clients"]
    b = by[(ep, "baseline", c)]
    rl, bl = r["load"], b["load"]
    ratio, p99_ratio = rl["rps"] / bl["rps"], rl["p99_us"] / bl["p99_us"]
    lines.append(
        f"| {c} | {labels[ep]} | {rl['rps']:.0f} | {ms(rl['p50_us'])} | {ms(rl['p99_us'])} | {bl['rps']:.0f} | {ms(bl['p99_us'])} "
        f"| {ratio:.2f} | {p99_ratio:.1f} | {mb(r['peak_kb'])} |"
    )
    if ep == "get":
        targets["get"].append(f"{ratio:.2f} at {c}")
    if c == 16 and ep != "get-grown":
        targets["p99"].append(f"{ep.upper()} {ms(rl['p99_us'])}")
peak = max(int(r["peak_kb"]) for r in rows if r["server"] == "real")
base_peak = max(int(r["peak_kb"]) for r in rows if r["server"] == "baseline")
section = f"""## HTTP API

`bench/http/run.sh` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {loadavg} at start, {loadavg_end} at the end: the machine is shared, so absolute figures move between runs; the interleaved baseline is there to compare against).
`osmosis serve` at `{source_rev}` (release, fresh SQLite data dir) against a baseline in the same run: the same `osmosis_api::router` (CORS, body limit, multi-threaded tokio runtime) with one more route answering the real server's captured JSON from memory, without auth or storage (`bench/http/src/baseline.rs`).
Load: a separate single-threaded process (`osmosis-bench-http load`), N closed-loop keep-alive HTTP/1.1 clients over loopback, {warmup} s warm-up then {duration} s measured per point; latency from send to last byte.
Every real request carries a freshly verified HS256 JWT: a customer token for GET (customer resolved per request), an admin token for POST (each POST creates a new integration bound to a connector).
Reads run first (2 integrations in the workspace), then writes, then reads again on the grown table. Ratios are real / baseline. Peak RSS is the server's VmHWM during the point (reset to the current RSS before each point, so it includes memory the allocator still holds from earlier points).

{chr(10).join(lines)}

Idle RSS after start: {mb(real_idle)} (baseline server: {mb(base_idle)}). Peak RSS over the run: {mb(peak)} (baseline server: {mb(base_peak)}).

Targets (from the issue; not asserted): reads at least 0.50 of baseline throughput (measured: {', '.join(targets['get'])} clients); p99 under 5 ms at 16 clients (measured: {', '.join(targets['p99'])}); idle RSS under 30 MB (measured: {mb(real_idle)}).

Where the time goes (profile of this code): `bench/http/README.md`.

Command: `CARGO_TARGET_DIR=... bench/http/run.sh` (BENCH_CLIENTS="{clients}" BENCH_DURATION={duration} BENCH_WARMUP={warmup}; OSMOSIS_SOURCE may name a clean export of the commit to measure).
"""
write_section(path, section)
print(section)
PY
