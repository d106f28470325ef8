#!/usr/bin/env bash
# Action runs benchmark: what running an action (`POST /act`) costs over the API proxy
# it is built on, and what a field mapping costs over listing records. One run of
# `osmosis serve` (release, fresh SQLite data dir) in front of the mock external API
# of bench/proxy (`osmosis-bench-proxy upstream`: `GET /item`, `GET /records?cursor=N`),
# loaded point by point by bench/http's load generator (a separate process):
#   A  GET  upstream/item                                   (direct)
#   B  GET  /connections/C/proxy/item                       (proxy)
#   C  POST /act {api: {path: "/item"}, connectionId: C}    (inline API request)
#   D  POST /act {key: "item", connectionId: C}             (stored api-request-to-external-app)
#   E  GET  /connections/C/proxy/records?cursor=0           (one page of 100 records, proxied)
#   F  POST /act {key: "list-plain", connectionId: C, input: {cursor: "0"}}   (list-data-records)
#   G  POST /act {key: "list-mapped", ...}                  (the same with a 20-field importValue)
# Checks the answers of C, D, F and G first; counts the `action_run_logs` rows
# afterwards; rewrites the "Action runs" section of BENCHMARKS.md.
#
# F and G are loaded twice, F G G F, and each reported as the two together: the
# database grows by ~140 KB per list run, and the order cancels that drift out of G/F.
#
# Knobs (environment): BENCH_CLIENTS (default "1 16"), BENCH_DURATION and
# BENCH_WARMUP (seconds per load, default 8 and 1), BENCH_POINTS (the points to load
# in order, default "A B C D E F G G F"; the section is only written when A..G all are),
# CARGO_TARGET_DIR, BENCH_RESULTS_OUT (a file to copy the raw points to), BENCH_WRITE=0
# (do not rewrite BENCHMARKS.md), BENCH_KEEP_SERVER=1 (after the points, print the
# server's pid, URLs and tokens and wait, e.g. for `perf record`; ending the server
# ends the script), BENCH_DATA_IN (a folder to put the server's SQLite data dir in,
# default the run's temp dir; /dev/shm takes the disk's fsyncs out), and
# OSMOSIS_SOURCE (the tree to build the server from, default this checkout).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
src="$(cd "${OSMOSIS_SOURCE:-$repo}" && pwd)"
clients="${BENCH_CLIENTS:-1 16}"
duration="${BENCH_DURATION:-8}"
warmup="${BENCH_WARMUP:-1}"
points="${BENCH_POINTS:-A B C D E F G G F}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target}"
source_rev="$(git -C "$src" describe --always --dirty 2>/dev/null || echo "${OSMOSIS_SOURCE_REV:-unknown}")"

(cd "$src" && cargo build --release -p osmosis)
cargo build --release --manifest-path "$src/bench/http/Cargo.toml"
# The mock API with `/records` lives in this checkout's bench/proxy.
cargo build --release --manifest-path "$repo/bench/proxy/Cargo.toml"
osmosis="$CARGO_TARGET_DIR/release/osmosis"
tool="$CARGO_TARGET_DIR/release/osmosis-bench-http"
upstream_bin="$CARGO_TARGET_DIR/release/osmosis-bench-proxy"

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

api_key="bench-api-key-$RANDOM$RANDOM"
up_port="$(free_port)"
upstream="http://127.0.0.1:$up_port"
"$upstream_bin" upstream --listen "127.0.0.1:$up_port" --key "$api_key" 2>"$work/upstream.log" &
up_pid=$!
pids+=("$up_pid")
wait_ready "$upstream" "$up_pid"

key=bench-ws
secret="bench-secret-$RANDOM$RANDOM"
port="$(free_port)"
real="http://127.0.0.1:$port"
# The upstream listens on this machine, which the server may then reach.
OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" OSMOSIS_LOG_FORMAT=json \
  OSMOSIS_OUTBOUND_ALLOW="127.0.0.1/32" \
  "$osmosis" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$work/real.out" 2>"$work/real.log" &
real_pid=$!
pids+=("$real_pid")
wait_ready "$real" "$real_pid"

admin="$("$tool" token --key "$key" --secret "$secret")"
customer="$("$tool" token --key "$key" --secret "$secret" --customer bench-customer --name "Bench Customer")"
call() { # method path token [body]
  curl -fsS -X "$1" "$real$2" -H "Authorization: Bearer $3" ${4:+-H 'Content-Type: application/json' --data "$4"}
}
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# The API's record fields and the app's names for them (G's importValue renames all 20).
fields='id:recordId first_name:firstName last_name:lastName email:primaryEmail phone:phoneNumber
  company:companyName title:jobTitle street:streetAddress city:cityName zip:postalCode
  country:countryCode website:websiteUrl source:leadSource status:lifecycleStage owner:ownerId
  language:preferredLanguage timezone:timeZone score:leadScore created_at:createdTime updated_at:updatedTime'
import_value="$(python3 -c 'import json,sys
print(json.dumps({app: {"$var": "$." + api} for api, app in (p.split(":") for p in sys.argv[1].split())}))' "$fields")"

# `recordFromApi` maps `$.record`, the API object: the mapping's root `$` is the
# function's whole input (the object's fields spread, plus `record`, `parameters`,
# `input`, `credentials`, `connectorParameters`), not the API object alone.
call POST /connectors "$admin" "{\"key\":\"bench-api\",\"name\":\"Bench API\",\"type\":\"client-credentials\",
  \"makeApiClient\":{\"type\":\"mapping\",\"mapping\":{\"baseUri\":\"$upstream\",
    \"headers\":{\"Authorization\":{\"\$tpl\":{\"template\":\"Bearer {k}\",\"values\":{\"k\":{\"\$var\":\"\$.credentials.apiKey\"}}}}}}},
  \"test\":{\"type\":\"rest-api-mapping\",\"mapping\":{\"path\":\"/item\",\"method\":\"GET\"}},
  \"data\":{\"records\":{\"name\":\"Records\",
    \"list\":{\"type\":\"rest-api-mapping\",\"mapping\":{\"path\":\"/records\",\"method\":\"GET\",
      \"requestMapping\":{\"query\":{\"cursor\":{\"\$var\":\"\$.cursor\"}}},
      \"responseMapping\":{\"records\":{\"\$var\":\"\$.response.data.items\"},\"cursor\":{\"\$var\":\"\$.response.data.next\"}}}},
    \"recordFromApi\":{\"type\":\"mapping\",\"mapping\":{\"id\":{\"\$var\":\"\$.id\"},\"fields\":{\"\$var\":\"\$.record\"}}}}}}" >/dev/null
integration="$(call POST /integrations "$admin" '{"key":"bench","name":"Bench","connectorKey":"bench-api"}' | id_of)"
conn="$(call POST /connections "$customer" "{\"integrationId\":\"$integration\",\"name\":\"Bench\",\"input\":{\"apiKey\":\"$api_key\"}}" | id_of)"
call POST /actions "$admin" '{"key":"item","name":"Item","type":"api-request-to-external-app",
  "config":{"request":{"path":"/item","method":"GET"}}}' >/dev/null
call POST /actions "$admin" '{"key":"list-plain","name":"List plain","type":"list-data-records",
  "config":{"dataSource":{"collectionKey":"records"}}}' >/dev/null
call POST /actions "$admin" "{\"key\":\"list-mapped\",\"name\":\"List mapped\",\"type\":\"list-data-records\",
  \"config\":{\"dataSource\":{\"collectionKey\":\"records\"},\"fieldMapping\":{\"importValue\":$import_value}}}" >/dev/null

# What each point sends.
body_c="{\"api\":{\"path\":\"/item\"},\"connectionId\":\"$conn\"}"
body_d="{\"key\":\"item\",\"connectionId\":\"$conn\"}"
body_f="{\"key\":\"list-plain\",\"connectionId\":\"$conn\",\"input\":{\"cursor\":\"0\"}}"
body_g="{\"key\":\"list-mapped\",\"connectionId\":\"$conn\",\"input\":{\"cursor\":\"0\"}}"

# Correctness first: the proxied answers are the API's own, and each action answers
# {output, actionRunId} with the output the row claims to measure.
cmp <(curl -fsS "$upstream/item" -H "Authorization: Bearer $api_key") <(call GET "/connections/$conn/proxy/item" "$customer")
cmp <(curl -fsS "$upstream/records?cursor=0" -H "Authorization: Bearer $api_key") \
  <(call GET "/connections/$conn/proxy/records?cursor=0" "$customer")
curl -fsS "$upstream/item" -H "Authorization: Bearer $api_key" >"$work/item.json"
curl -fsS "$upstream/records?cursor=0" -H "Authorization: Bearer $api_key" >"$work/page0.json"
call POST /act "$customer" "$body_c" >"$work/c.json"
call POST /act "$customer" "$body_d" >"$work/d.json"
call POST /act "$customer" "$body_f" >"$work/f.json"
call POST /act "$customer" "$body_g" >"$work/g.json"
call POST /act "$customer" "{\"key\":\"list-mapped\",\"connectionId\":\"$conn\",\"input\":{\"cursor\":\"9900\"}}" >"$work/g-last.json"
checks=5
python3 - "$work" "$fields" <<'PY'
import json, pathlib, sys
work, fields = pathlib.Path(sys.argv[1]), [p.split(":") for p in sys.argv[2].split()]
load = lambda name: json.loads((work / name).read_text())
item, page = load("item.json"), load("page0.json")
for point in "cd":
    a = load(f"{point}.json")
    assert isinstance(a.get("actionRunId"), str) and a["actionRunId"], (point, a)
    assert a["output"] == item, (point, "output is not the API's /item", a)
f, g, last = load("f.json"), load("g.json"), load("g-last.json")
for name, a in (("f", f), ("g", g)):
    out = a["output"]
    assert isinstance(a.get("actionRunId"), str), (name, a)
    assert len(out["records"]) == 100 and out["cursor"] == "100", (name, out.get("cursor"), len(out["records"]))
    assert [r["id"] for r in out["records"]] == [r["id"] for r in page["items"]], name
assert f["output"]["records"][0]["fields"] == page["items"][0], f["output"]["records"][0]
first = g["output"]["records"][0]["fields"]
assert sorted(first) == sorted(app for _, app in fields) and len(first) == 20, ("G's first record's fields", list(first))
assert all(len(r["fields"]) == 20 for r in g["output"]["records"])
for i, r in enumerate(g["output"]["records"]):
    assert r["fields"] == {app: page["items"][i][api] for api, app in fields}, (i, r)
assert len(last["output"]["records"]) == 100 and "cursor" not in last["output"], "the last page has no cursor"
print(f"checked: C and D output /item; F and G list 100 records, cursor \"100\"; G's records carry the 20 mapped fields ({', '.join(list(first)[:4])}, ...); the last page has no cursor")
PY

loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
results="$work/results.jsonl"
point() { # kind method url token [body]
  local line
  line="$("$tool" load --url "$3" --method "$2" --token "$4" ${5:+--body "$5"} --clients "$c" --warmup "$warmup" --duration "$duration")"
  echo "{\"kind\":\"$1\",\"load\":$line}" | tee -a "$results"
}
for c in $clients; do
  for p in $points; do
    case "$p" in
      A) point A GET "$upstream/item" "$api_key" ;;
      B) point B GET "$real/connections/$conn/proxy/item" "$customer" ;;
      C) point C POST "$real/act" "$customer" "$body_c" ;;
      D) point D POST "$real/act" "$customer" "$body_d" ;;
      E) point E GET "$real/connections/$conn/proxy/records?cursor=0" "$customer" ;;
      F) point F POST "$real/act" "$customer" "$body_f" ;;
      G) point G POST "$real/act" "$customer" "$body_g" ;;
      *) echo "unknown point $p (A..G)" >&2; exit 1 ;;
    esac
  done
done
loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${BENCH_KEEP_SERVER:-0}" = 1 ]; then
  echo "server pid $real_pid at $real, upstream $upstream, connection $conn" >&2
  echo "customer token: $customer" >&2
  echo "bodies: C $body_c | D $body_d | F $body_f | G $body_g" >&2
  wait "$real_pid" || true
fi

# Every run answered wrote its log row before answering: the rows are the checks
# plus every request the action points sent (warm-up included).
db="$data/osmosis.db"
runs="$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("SELECT count(*) FROM action_run_logs").fetchone()[0])' "$db")"
sent="$(python3 -c 'import json, sys
print(sum(json.loads(l)["load"]["sent"] for l in open(sys.argv[1]) if json.loads(l)["kind"] in "CDFG"))' "$results")"
db_mb="$(du -cm "$db"* | tail -1 | cut -f1)"
log_errors="$(grep -c 'could not record an action run' "$work/real.log" || true)"
dropped="$(grep -c 'logs are being dropped' "$work/real.log" || true)"
echo "action_run_logs: $runs rows ($checks from the checks + $sent requests sent by C, D, F, G); database with WAL $db_mb MB; $log_errors run logs not recorded; $dropped external-log queue-full warnings"

# For bench/compare.sh: keep the raw points, and leave BENCHMARKS.md alone.
if [ -n "${BENCH_RESULTS_OUT:-}" ]; then cp "$results" "$BENCH_RESULTS_OUT"; fi
if [ "${BENCH_WRITE:-1}" = 0 ]; then exit 0; fi
if [ "$(printf '%s\n' $points | sort -u | tr -d '\n')" != ABCDEFG ]; then
  echo "BENCH_POINTS=\"$points\": not all points measured, BENCHMARKS.md left alone" >&2
  exit 0
fi

PYTHONPATH="$repo/bench" python3 - "$repo/BENCHMARKS.md" "$results" "$loadavg" "$loadavg_end" "$duration" "$warmup" \
  "$clients" "$source_rev" "$runs" "$sent" "$checks" "$db_mb" "$log_errors" "$dropped" "$data_fs" <<'PY'
import datetime, json, pathlib, subprocess, sys
from benchmarks_md import write_section
(path, results, loadavg, loadavg_end, duration, warmup, clients, source_rev,
 runs, sent, checks, db_mb, log_errors, dropped, data_fs) = sys.argv[1:]
rows = [json.loads(l) for l in pathlib.Path(results).read_text().splitlines() if l.strip()]
# A point loaded more than once (F and G): its requests over its seconds; p50 and p99
# the mean of the loads'.
groups = {}
for r in rows:
    groups.setdefault((r["kind"], r["load"]["clients"]), []).append(r["load"])
by = {k: {"rps": sum(l["requests"] for l in ls) / sum(l["seconds"] for l in ls),
          "p50_us": sum(l["p50_us"] for l in ls) / len(ls),
          "p99_us": sum(l["p99_us"] for l in ls) / len(ls), "n": len(ls)}
      for k, ls in groups.items()}
cs = sorted({k[1] for k in by})
order = [r["kind"] for r in rows if r["load"]["clients"] == cs[0]]
ms = lambda us: f"{us / 1000:.2f} ms"
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
what = {
    "A": "direct: `GET /item` of the mock API",
    "B": "proxy: `GET /connections/C/proxy/item`",
    "C": "`POST /act {api: {path: \"/item\"}, connectionId}`",
    "D": "`POST /act {key: \"item\", connectionId}` (stored `api-request-to-external-app`)",
    "E": "proxy: `GET /connections/C/proxy/records?cursor=0` (100 records)",
    "F": "`POST /act {key: \"list-plain\", ..., input: {cursor: \"0\"}}` (`list-data-records`)",
    "G": "`POST /act {key: \"list-mapped\", ...}` (the same + 20-field `importValue`)",
}
head = "| | what | " + " | ".join(f"{c} cl. req/s | p50 | p99" for c in cs) + " |"
lines = [head, "|---|---|" + "---:|---:|---:|" * len(cs)]
for k in "ABCDEFG":
    cells = " | ".join(f"{by[(k, c)]['rps']:,.0f} | {ms(by[(k, c)]['p50_us'])} | {ms(by[(k, c)]['p99_us'])}" for c in cs)
    lines.append(f"| {k} | {what[k]} | {cells} |")
ratios = [  # (name, numerator, denominator, target or None, what)
    ("C/B", "C", "B", 0.5, "inline API request action vs proxy"),
    ("D/B", "D", "B", 0.5, "stored API request action vs proxy"),
    ("B/A", "B", "A", 0.5, "proxy vs direct"),
    ("G/F", "G", "F", 0.8, "list with 20-field mapping vs without"),
    ("F/E", "F", "E", None, "list-data-records action vs proxied page"),
]
rl = ["| ratio (throughput) | " + " | ".join(f"{c} cl." for c in cs) + " | target | met |", "|---|" + "---:|" * len(cs) + "---|---|"]
verdict = []
for name, n, d, target, about in ratios:
    vals = [by[(n, c)]["rps"] / by[(d, c)]["rps"] for c in cs]
    met = "–" if target is None else ("yes" if all(v >= target for v in vals) else
                                      "no" if not any(v >= target for v in vals) else
                                      "at " + ", ".join(f"{c} cl." for c, v in zip(cs, vals) if v >= target) + " only")
    rl.append(f"| {name}: {about} | " + " | ".join(f"{v:.2f}" for v in vals) + f" | {'≥ ' + str(target) if target else 'none'} | {met} |")
    if target is not None:
        verdict.append(f"{name} {'/'.join(f'{v:.2f}' for v in vals)} ({'met' if met == 'yes' else 'not met' if met == 'no' else 'met ' + met})")
section = f"""## Action runs

`bench/actions/run.sh` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {loadavg} at start, {loadavg_end} at the end: the machine is shared).
`osmosis serve` at `{source_rev}` (release, fresh SQLite data dir on {data_fs}) in front of the mock external API of bench/proxy (`osmosis-bench-proxy upstream`: a fixed ~1 KB `GET /item`; `GET /records?cursor=N`, pages of 100 records of 20 fields, ~44 KB), one connection C of a customer, customer token on every request.
Load: bench/http's load generator (a separate single-threaded process), N closed-loop keep-alive HTTP/1.1 clients over loopback, {warmup} s warm-up then {duration} s measured per load, the points one after the other at each client count in the order {' '.join(order)} (a point loaded twice is reported as both loads together: requests over seconds, p50 and p99 averaged; the database grows with every list run, and the F G G F order cancels that drift out of G/F); latency from send to last byte.
Each action run resolves the action (D, F, G) and the connection, reads the customer, runs the type through the same connection client as the proxy, and inserts its run log row (input, output, trace) into `action_run_logs` before answering: {runs} rows after the run ({checks} from the answers checked first + {sent} requests sent by C, D, F, G; {log_errors} not recorded), database and WAL {db_mb} MB. The proxy rows queue an external API log instead (written in batches; {dropped} queue-full warnings). Before measuring, the script checks that C and D output the API's `/item`, that F and G list the 100 records of page 0 with cursor `"100"`, and that every record of G carries exactly the 20 renamed fields.
The upstream, the server and the load generator share the {nproc} cores.

{chr(10).join(lines)}

{chr(10).join(rl)}

Targets (from the issue; not asserted): an action run keeps at least 50 % of the proxy's throughput (C/B, D/B ≥ 0.5), the proxy at least 0.5 of direct (B/A), the field mapping costs under 20 % (G/F ≥ 0.8). Measured: {'; '.join(verdict)}. Where the time goes: bench/actions/README.md.

Command: `CARGO_TARGET_DIR=... bench/actions/run.sh` (BENCH_CLIENTS="{clients}" BENCH_DURATION={duration} BENCH_WARMUP={warmup}).
"""
write_section(path, section)
print(section)
PY
