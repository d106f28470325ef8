"""Renders the `## Incoming webhooks` section of BENCHMARKS.md from bench/events/run.sh's
raw points.

    python3 report.py BENCHMARKS.md RAW_DIR    # writes the section (and prints it)
    python3 report.py - RAW_DIR                # prints it only

RAW_DIR holds results.jsonl (one line per throughput point: `{target (baseline |
osmosis), cpu_ticks, cpu_ticks_drain, hz, rss: {peak_kb}, rows_at_end, drain,
load: <osmosis-bench-http load's line>}`), stored.json (the rows counted against the
requests answered), sent-{fresh,loaded}.json and latency-{fresh,loaded}.json (the
latency phases: send.py's and dbcheck.py's outputs) and meta.json (the run's settings)."""

import datetime
import json
import pathlib
import subprocess
import sys

from benchmarks_md import write_section

# The target: deliveries stored per second at least this share of the
# baseline's requests per second (SQLite, group commit).
TARGET_RATIO = 0.30


def ms(us):
    return f"{us / 1000:.1f} ms" if us >= 10_000 else f"{us / 1000:.2f} ms"


def mb(kb):
    return f"{kb / 1024:.0f} MB" if kb >= 10240 else f"{kb / 1024:.1f} MB"


def cpu_per_request(ticks, hz, n):
    return f"{ticks / hz * 1e6 / n:.0f} µs" if n else "–"


def render(raw):
    raw = pathlib.Path(raw)
    rows = [json.loads(l) for l in (raw / "results.jsonl").read_text().splitlines() if l.strip()]
    stored = json.loads((raw / "stored.json").read_text())
    m = json.loads((raw / "meta.json").read_text())
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    by = {(r["target"], r["load"]["clients"]): r for r in rows}
    clients = sorted({c for _, c in by})

    table = ["| target | clients | req/s | p50 | p99 | peak RSS | CPU per request | Osmosis / baseline |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    verdicts, drains = [], []
    for c in clients:
        b, o = by.get(("baseline", c)), by.get(("osmosis", c))
        for name, r in (("baseline: `POST /baseline/integration` (bare route, no auth, no storage)", b),
                        ("Osmosis: `POST /webhooks/app-events/{ws}/{key}` (stored, SQLite)", o)):
            if not r:
                continue
            load = r["load"]
            ratio = ""
            if r is o and b and b["load"]["rps"]:
                ratio = f"{load['rps'] / b['load']['rps']:.2f}"
            fails = f" ({load['failures']} failed)" if load["failures"] else ""
            table.append(f"| {name} | {c} | {load['rps']:,.0f}{fails} | {ms(load['p50_us'])} | {ms(load['p99_us'])} | "
                         f"{mb(r['rss']['peak_kb'])} | {cpu_per_request(r['cpu_ticks'], r['hz'], load['sent'])} | {ratio} |")
        if b and o and b["load"]["rps"]:
            x = o["load"]["rps"] / b["load"]["rps"]
            verdicts.append(f"{c} clients: {o['load']['rps']:,.0f} / {b['load']['rps']:,.0f} req/s = {x:.2f} "
                            f"(**{'met' if x >= TARGET_RATIO else 'not met'}**)")
        if o:
            d, end = o["drain"], o["rows_at_end"]
            pending = end["by_status"].get("received", 0)
            full = (o["cpu_ticks"] + o["cpu_ticks_drain"]) / o["hz"] * 1e6 / o["load"]["sent"] if o["load"]["sent"] else 0
            drains.append(f"at {c} clients, {pending:,} of the {o['load']['sent']:,} deliveries sent were still `received` when the load "
                          f"ended and were processed {d['seconds']:.1f} s later{'' if d['drained'] else ' (**not drained**)'}; "
                          f"the server's CPU over the load and that tail, per delivery: {full:.0f} µs")

    lats = {}
    for label in ("fresh", "loaded"):
        if (raw / f"latency-{label}.json").exists():
            lats[label] = (json.loads((raw / f"sent-{label}.json").read_text()),
                           json.loads((raw / f"latency-{label}.json").read_text()))
    phase = {"fresh": "fresh database, before the throughput points",
             "loaded": f"after the throughput points ({int(m.get('stored_before_late', 0)):,} deliveries stored)"}

    def cell(s):
        return f"{s['p50']} / {s['p99']} / {s['max']} ms" if s else "–"

    lat_table = ["| from the delivery's `incoming_webhooks.created_ms` to (p50 / p99 / max) | "
                 + " | ".join(phase[k] for k in lats) + " |",
                 "|---|" + "---:|" * len(lats)]
    for key, label in (("to_event_ms", "its app event (`app_events.created_ms`)"),
                       ("to_run_start_ms", "**its run's start** (`flow_runs.created_ms`, the run's `startTime`)"),
                       ("to_first_node_ms", "its run's first node run written (the trigger node ended)"),
                       ("to_run_end_ms", "its run's end (`flow_runs.ended_ms`)")):
        lat_table.append(f"| {label} | " + " | ".join(cell(l[key]) for _, l in lats.values()) + " |")
    lat_table.append("| the webhook's answer (send.py, p50 / p99) | "
                     + " | ".join(f"{s['http_p50_ms']} / {s['http_p99_ms']} ms" for s, _ in lats.values()) + " |")
    checks, starts = [], []
    for k, (s_, l) in lats.items():
        counts = l["counts"]
        ok = (l["problems"] == 0 and l["settled"] and counts["events"] == counts["deliveries"] == len(s_["ids"])
              and counts["runs"] == counts["runs_completed"] == counts["events"])
        checks.append(f"{phase[k][0].upper()}{phase[k][1:]}: {counts['deliveries']:,} deliveries, {counts['events']:,} events, {counts['runs']:,} runs, "
                      f"{counts['runs_completed']:,} completed, sent at {s_['rate']:.0f}/s: "
                      + ("**every event launched exactly one run, and every run completed**" if ok else
                         "**NOT every event launched exactly one completed run**: " + "; ".join(l["problem_sample"])))
        st = l["to_run_start_ms"] or {}
        starts.append(f"{phase[k]} p50 {st.get('p50', '–')} ms, p99 {st.get('p99', '–')} ms")
    first = next(iter(lats.values()))[0] if lats else {"senders": m["senders"]}
    rate = f"{float(m['rate']):g} events/s in all" if float(m["rate"]) > 0 else "back to back"

    section = f"""## Incoming webhooks

`bench/events/run.sh` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {m['loadavg']} at start, {m['loadavg_end']} at the end: the machine is shared, so absolute figures move between runs; compare within one run), {m['elapsed']} s in all.
`osmosis serve` at `{m['source_rev']}` (release, fresh SQLite data dir on {m['data_fs']}, WAL, `synchronous=FULL`) beside the baseline of `bench/http` in the same run (`osmosis-bench-http baseline`: the same `osmosis_api::router` and runtime with one more route answering a captured `{{"incomingWebhookId": …}}` from memory, without auth or storage).
Throughput: bench/http's load generator (`osmosis-bench-http load`, a separate single-threaded process), N closed-loop keep-alive HTTP/1.1 clients over loopback, {m['warmup']} s warm-up then {m['duration']} s measured per point, baseline then Osmosis at each client count; every request `POST`s `{m['body']}` (`{{uniq}}` a value distinct per request, so no two deliveries are duplicates) with no `Authorization` header; latency from send to last byte. Osmosis answers `200 {{"incomingWebhookId": …}}` only after the group commit (many deliveries per transaction) that stored the delivery and the job that will process it. The type's `tenantIdFormula` (`{{"$var": "$.customer"}}`) names an existing customer, so while the load runs the background job turns each delivery into an app event of that customer (whose one flow instance has no trigger of this type: no runs); the server's CPU and the throughput include that work. Peak RSS: the server's VmHWM, reset before each point, or its largest sampled VmRSS (`bench/flows/rss.py`). CPU per request: the server's user + system time during the load (warm-up included) per request sent.
Stored: {stored['rows']:,} `incoming_webhooks` rows of the load's type for {stored['answered']:,} requests answered ({stored['failures']} failed): **{'every answered delivery is stored' if stored['ok'] else 'answered deliveries are MISSING'}**; by status at the end {json.dumps(stored['by_status'])}. Afterwards {'; '.join(drains)}.

{chr(10).join(table)}

Target (from the issue; not asserted): deliveries stored per second ≥ {TARGET_RATIO:.0%} of the baseline's throughput on SQLite with group commit. Measured: {'; '.join(verdicts)}.

Delivery → flow run: a second app event type, and one customer with a connection and an enabled instance of an `app-event-trigger` (`appEventKey` = that type) → `transform-data` flow. {m['events']} distinct events (`{{"customer", "seq", "run"}}`) from {m['senders']} senders at {rate} (send.py), no `Authorization` header, once on the fresh database before the throughput points and once after them; then, once every run ended, from the database (millisecond timestamps; join `app_events.incoming_webhook_id` → `launched_flow_run_ids` → `flow_runs.id`). {'; '.join(checks)}. The job worker of `osmosis serve` is woken by each delivery it stores (its 1 s poll is the fallback); one claim of a type's job settles up to 500 deliveries in one transaction, then dispatches their events and writes how each went in one more.

{chr(10).join(lat_table)}

Delivery → run start: **{'; '.join(starts)}**. Database at the end: {m['db_size']}; {m['log_problems']} warnings/errors in the server's log.

Where the time goes (profile and query plans of this run's code): `bench/events/README.md`.

Command: `CARGO_TARGET_DIR=... bench/events/run.sh` (BENCH_CLIENTS="{m['clients']}" BENCH_DURATION={m['duration']} BENCH_WARMUP={m['warmup']} BENCH_EVENTS={m['events']} BENCH_SENDERS={m['senders']} BENCH_RATE={m['rate']}).
"""
    return section


def main():
    path, raw = sys.argv[1:3]
    section = render(raw)
    if path != "-":
        write_section(path, section)
    print(section)


if __name__ == "__main__":
    main()
