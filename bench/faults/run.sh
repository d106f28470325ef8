#!/usr/bin/env bash
# Idle and slow clients, before and after the connection timeouts, in one run:
# `osmosis serve` (release, fresh SQLite data dir) built from FAULTS_BEFORE and from
# this checkout's HEAD, each attacked in turn by `osmosis-bench-faults slow-clients`
# (src/slow_clients.rs: FAULTS_IDLE idle connections and FAULTS_SLOWLORIS slowloris
# clients, a /health prober on new connections every 20 ms, the server's RSS).
# Prints the table and rewrites the "Faults: idle and slow clients" section of
# BENCHMARKS.md.
#
# Knobs (environment): FAULTS_BEFORE (a commit; default: the parent of the commit
# that added crates/api/src/server.rs, the serve loop with the timeouts), FAULTS_AFTER
# (a commit; default HEAD), FAULTS_IDLE (10000),
# FAULTS_SLOWLORIS (1000), FAULTS_HEADER_TIMEOUT (5 s), FAULTS_ATTACK (15 s),
# FAULTS_RSS_CEILING_MB (4000: the server without timeouts grows with every
# connection; the attack stops opening more past this), CARGO_TARGET_DIR.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
idle="${FAULTS_IDLE:-10000}"
slowloris="${FAULTS_SLOWLORIS:-1000}"
timeout="${FAULTS_HEADER_TIMEOUT:-5}"
attack="${FAULTS_ATTACK:-15}"
ceiling="${FAULTS_RSS_CEILING_MB:-4000}"
before="${FAULTS_BEFORE:-}"
if [ -z "$before" ]; then
  first="$(git -C "$repo" log --diff-filter=A --format=%H -- crates/api/src/server.rs | tail -1)"
  [ -n "$first" ] || { echo "no commit added crates/api/src/server.rs: set FAULTS_BEFORE" >&2; exit 1; }
  before="$first^"
fi
before="$(git -C "$repo" rev-parse --short "$before")"
# Default: the checkout's last commit (uncommitted edits are not measured).
after="$(git -C "$repo" rev-parse --short "${FAULTS_AFTER:-HEAD}")"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$repo/bench/lib.sh"

# The bench tool first, then each commit's release binary, built from a clean export
# of the commit (so edits in the checkout during the long builds change nothing) and
# kept per commit under the target dir.
cargo build --release --quiet --manifest-path "$repo/bench/faults/Cargo.toml"
cp "$CARGO_TARGET_DIR/release/osmosis-bench-faults" "$work/tool"
tool="$work/tool"
bins="$CARGO_TARGET_DIR/faults-bins"
mkdir -p "$bins"
for rev in "$before" "$after"; do
  [ -x "$bins/osmosis-$rev" ] && continue
  mkdir "$work/src-$rev"
  git -C "$repo" archive "$rev" | tar -x -C "$work/src-$rev"
  (cd "$work/src-$rev" && cargo build --release --quiet -p osmosis)
  cp "$CARGO_TARGET_DIR/release/osmosis" "$bins/osmosis-$rev"
done

results="$work/results.jsonl"
attack_one() { # label rev
  local port url pid
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  # Settings the binary before the change does not know are ignored by it (clap
  # reads only the variables of its own flags).
  OSMOSIS_WORKSPACE_KEY=faults OSMOSIS_WORKSPACE_SECRET="faults-$RANDOM$RANDOM" RUST_LOG=warn \
    OSMOSIS_HEADER_TIMEOUT_SECS="$timeout" OSMOSIS_MAX_CONNECTIONS=19000 \
    "$bins/osmosis-$2" serve --listen "127.0.0.1:$port" --data-dir "$work/$1" >"$work/$1.out" 2>"$work/$1.log" &
  pid=$!
  pids+=("$pid")
  wait_ready "$url" "$pid"
  line="$("$tool" slow-clients --addr "127.0.0.1:$port" --pid "$pid" --idle "$idle" --slowloris "$slowloris" \
    --header-timeout-secs "$timeout" --attack-secs "$attack" --rss-ceiling-mb "$ceiling")"
  echo "{\"label\":\"$1\",\"rev\":\"$2\",\"report\":$line}" | tee -a "$results"
  kill -TERM "$pid"
  wait "$pid" || true
}
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
attack_one before "$before"
attack_one after "$after"
loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"

PYTHONPATH="$repo/bench" python3 - "$repo/BENCHMARKS.md" "$results" "$loadavg" "$loadavg_end" <<'PY'
import datetime, json, pathlib, subprocess, sys
from benchmarks_md import write_section
path, results, loadavg, loadavg_end = sys.argv[1:]
runs = {r["label"]: r for r in map(json.loads, pathlib.Path(results).read_text().splitlines())}
b, a = runs["before"]["report"], runs["after"]["report"]
plan = a["plan"]
mb = lambda kb: "–" if kb is None else f"{kb / 1024:.0f} MB"
def closed(r, kind):
    t = r[kind]
    note = f" (+{t['skipped']} not opened: RSS ceiling)" if t["skipped"] else ""
    return f"{t['closed_by_server']} of {t['opened']}{note}"
def latest(r, kind):
    m = r[kind]["close_after_max_ms"]
    return "–" if m is None else f"{m / 1000:.1f} s"
def per_conn(r):
    s, p, n = r["rss_kb"]["start"], r["rss_kb"]["peak"], r["peak_open"]
    return "–" if not n else f"{(p - s) / n:.0f} kB"
rows = [
    ("idle sockets closed by the server within timeout + 3 s", closed(b, "idle"), closed(a, "idle")),
    ("slowloris sockets closed by the server within timeout + 3 s", closed(b, "slowloris"), closed(a, "slowloris")),
    ("latest close after connect (idle / slowloris)", f"{latest(b, 'idle')} / {latest(b, 'slowloris')}", f"{latest(a, 'idle')} / {latest(a, 'slowloris')}"),
    ("attack sockets open at once, at most", str(b["peak_open"]), str(a["peak_open"])),
    ("attack length (waves)", f"{b['attack_s']:.0f} s ({b['waves']})", f"{a['attack_s']:.0f} s ({a['waves']})"),
    ("`/health` before the attack: p50 / p99", f"{b['probes_quiet']['p50_ms']:.2f} / {b['probes_quiet']['p99_ms']:.2f} ms", f"{a['probes_quiet']['p50_ms']:.2f} / {a['probes_quiet']['p99_ms']:.2f} ms"),
    ("`/health` during the attack: probes (failed)", f"{b['probes_attack']['count']} ({b['probes_attack']['failed']})", f"{a['probes_attack']['count']} ({a['probes_attack']['failed']})"),
    ("`/health` during the attack: p50 / p99 / max", *(f"{r['probes_attack']['p50_ms']:.2f} / {r['probes_attack']['p99_ms']:.2f} / {r['probes_attack']['max_ms']:.0f} ms" for r in (b, a))),
    ("server RSS: start / peak / 5 s after", *(f"{mb(r['rss_kb']['start'])} / {mb(r['rss_kb']['peak'])} / {mb(r['rss_kb']['end'])}" for r in (b, a))),
    ("RSS added at the peak, per attack socket open at once", per_conn(b), per_conn(a)),
]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
table = "\n".join(
    [f"| | before (`{runs['before']['rev']}`) | after (`{runs['after']['rev']}`) |", "|---|---:|---:|"]
    + [f"| {name} | {x} | {y} |" for name, x, y in rows]
)
section = f"""## Faults: idle and slow clients

`bench/faults/run.sh` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {loadavg} at start, {loadavg_end} at the end: the machine is shared).
`osmosis serve` (release, fresh SQLite data dir) before the connection timeouts and after, one after the other in the same run, each attacked by `osmosis-bench-faults slow-clients` (bench/faults/src/slow_clients.rs, a separate process): {plan['idle']} idle connections (connect, send nothing) and {plan['slowloris']} slowloris clients (a request line and `Host`, then one header byte a second, never finishing), opened 128 connects at a time, in waves until {plan['attack_for_s']:.0f} s have passed; each socket waits at most the header timeout ({plan['header_timeout_s']:.0f} s, `OSMOSIS_HEADER_TIMEOUT_SECS`) plus 3 s for the server to close it, and is then closed by the client. A prober opens a new connection for a `GET /health` every {plan['probe_every_ms']:.0f} ms on its own thread, on schedule whatever earlier probes are doing; latency from connect to the end of the answer, a probe without a `200` within 5 s counts as failed. RSS is the server's VmRSS: just before the attack, its maximum during it (sampled every 100 ms), and {plan['settle_s']:.0f} s after the last wave.

{table}

The CI test `crates/osmosis/tests/it/faults_slow_clients.rs` runs the same attack against the debug build and asserts the after column's properties (every socket closed by the server, `/health` p99 under 50 ms with no failed probe, peak RSS and RSS afterwards under the bounds it states); `OSMOSIS_FAULTS_LONG=1` runs its 10-minute variant.

Command: `CARGO_TARGET_DIR=... bench/faults/run.sh` (FAULTS_IDLE={plan['idle']} FAULTS_SLOWLORIS={plan['slowloris']} FAULTS_HEADER_TIMEOUT={plan['header_timeout_s']:.0f} FAULTS_ATTACK={plan['attack_for_s']:.0f}).
"""
write_section(path, section)
print(section)
PY
