"""Renders the `## Flow runs` section of BENCHMARKS.md from bench/flows/run.sh's points.

    python3 report.py BENCHMARKS.md results.jsonl osmosis-info.jsonl meta.json

results.jsonl: one line per load point, `{engine, database, kind (single|many),
cpu_ticks, hz, rss: {peak_kb, ...}, load: <osmosis-bench-http load's line>}`;
osmosis-info.jsonl: per database, the rows the runs left; meta.json: the run's
settings. Prints the section and writes it through benchmarks_md.write_section."""

import datetime
import json
import pathlib
import subprocess
import sys

from benchmarks_md import write_section

# Targets (from the issue; reported, not asserted).
SQLITE_X, SQLITE_P99_MS, PG_X, RSS_FRACTION = 50, 20, 25, 0.1


def main():
    path, results, info, meta = sys.argv[1:5]
    rows = [json.loads(l) for l in pathlib.Path(results).read_text().splitlines() if l.strip()]
    infos = [json.loads(l) for l in pathlib.Path(info).read_text().splitlines() if l.strip()]
    m = json.loads(pathlib.Path(meta).read_text())
    section = render(rows, infos, m)
    write_section(path, section)
    print(section)


def ms(us):
    return f"{us / 1000:.1f} ms" if us >= 1000 else f"{us / 1000:.2f} ms"


def mb(kb):
    return f"{kb / 1024:.0f} MB" if kb >= 10240 else f"{kb / 1024:.1f} MB"


def cpu_ms_per_run(r):
    sent = r["load"]["sent"]
    return r["cpu_ticks"] / r["hz"] * 1000 / sent if sent else 0.0


def render(rows, infos, m):
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    by = {(r["engine"], r["database"], r["kind"], r["load"]["clients"]): r for r in rows}
    n8n = {k[3]: r for k, r in by.items() if k[0] == "n8n"}
    dbs = [d for d in m["databases"].split() if any(k[0] == "osmosis" and k[1] == d for k in by)]
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

    # The points.
    table = ["| engine | database | connections | clients | runs/s | p50 | p99 | peak RSS | CPU per run | measured runs (failed) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    kind_order = {"spread": 0, "single": 1, "many": 2}
    order = sorted(by.items(), key=lambda kv: (kv[0][0] != "n8n", kv[0][1] != "sqlite", kind_order.get(kv[0][2], 3), kv[0][3]))
    for (engine, database, kind, clients), r in order:
        load = r["load"]
        conns = load.get("urls", 1) if kind in ("many", "spread") else 1
        name = f"n8n {m['n8n_version']}" if engine == "n8n" else "Osmosis"
        if load["requests"]:
            p50, p99 = ms(load["p50_us"]), ms(load["p99_us"])
        else:  # no run ended in the measured time
            p50 = p99 = "–"
        table.append(
            f"| {name} | {label[database]} | {conns:,} | {clients} | {load['rps']:,.1f} | {p50} | "
            f"{p99} | {mb(r['rss']['peak_kb'])} | {cpu_ms_per_run(r):.2f} ms | "
            f"{load['requests']:,} ({load['failures']}) |")

    # Ratios against n8n, at each client count both measured. n8n's clients are
    # independent requests; the like-for-like Osmosis point gives each client a
    # connection of its own (`spread`), since runs of one connection run one at a
    # time by design. Without it, the one-connection point.
    def like(d, c):
        return by.get(("osmosis", d, "spread", c)) or by.get(("osmosis", d, "single", c))

    ratios, verdicts = [], []
    n8n_peak = max((r["rss"]["peak_kb"] for r in n8n.values()), default=None)
    if n8n:
        cs = sorted(n8n)
        ratios = ["| Osmosis / n8n | " + " | ".join(f"runs/s at {c} cl." for c in cs) + " | peak RSS (largest of the one-connection points) |",
                  "|---|" + "---:|" * (len(cs) + 1)]
        for d in dbs:
            cells = []
            for c in cs:
                o = like(d, c)
                cells.append(f"{o['load']['rps'] / n8n[c]['load']['rps']:,.1f}×" if o and n8n[c]["load"]["rps"]
                             else "n8n ended no run" if o else "–")
            o_peak = max((r["rss"]["peak_kb"] for k, r in by.items() if k[:3] == ("osmosis", d, "single")), default=0)
            ratios.append(f"| {label[d]} | " + " | ".join(cells) + f" | {o_peak / n8n_peak:.3f} ({mb(o_peak)} / {mb(n8n_peak)}) |")

    def at16(d):
        return like(d, 16), n8n.get(16)

    o, p = at16("sqlite")
    if o and p:
        x = o["load"]["rps"] / p["load"]["rps"]
        p99 = o["load"]["p99_us"] / 1000
        ok = x >= SQLITE_X and p99 < SQLITE_P99_MS
        verdicts.append(f"SQLite at 16 clients: {x:,.1f}× n8n's runs/s (target ≥ {SQLITE_X}×), p99 {p99:.1f} ms "
                        f"(target < {SQLITE_P99_MS} ms): **{'met' if ok else 'not met'}**")
    else:
        verdicts.append("SQLite at 16 clients: not measured in this run")
    o, p = at16("postgres")
    if o and p:
        x = o["load"]["rps"] / p["load"]["rps"]
        verdicts.append(f"PostgreSQL at 16 clients: {x:,.1f}× n8n's runs/s (target ≥ {PG_X}×; p99 "
                        f"{o['load']['p99_us'] / 1000:.1f} ms): **{'met' if x >= PG_X else 'not met'}**")
    else:
        verdicts.append("PostgreSQL at 16 clients: not measured in this run")
    single_peaks = [r["rss"]["peak_kb"] for k, r in by.items() if k[0] == "osmosis" and k[2] == "single"]
    if n8n_peak and single_peaks:
        worst = max(single_peaks)
        f = worst / n8n_peak
        verdicts.append(f"peak RSS on the same load (one connection): Osmosis's largest {mb(worst)} is {f:.3f} of n8n's "
                        f"{mb(n8n_peak)} (target < {RSS_FRACTION}): **{'met' if f < RSS_FRACTION else 'not met'}**")
    many_peaks = [r["rss"]["peak_kb"] for k, r in by.items() if k[0] == "osmosis" and k[2] == "many"]
    if n8n_peak and many_peaks:
        verdicts.append(f"with {m['many_n']} connections Osmosis peaked at {mb(max(many_peaks))}, "
                        f"{max(many_peaks) / n8n_peak:.3f} of n8n's one-connection peak (n8n has no such point)")
    for d in dbs:
        mc = int(m["many_clients"])
        many, single = by.get(("osmosis", d, "many", mc)), by.get(("osmosis", d, "single", mc))
        if many and single:
            x = many["load"]["rps"] / single["load"]["rps"]
            verdicts.append(f"{label[d]}, {many['load']['urls']:,} connections vs one at {mc} clients: "
                            f"{x:.2f}× the runs/s (per-connection ordering should not cost throughput: "
                            f"**{'no loss' if x >= 0.95 else 'a loss'}**)")

    persisted = []
    for i in infos:
        persisted.append(f"{label[i['database']]}: `flow_runs` by state {i['runs_by_state']}, {i['node_runs']} node runs, "
                         f"database {i['db_size']}, runs per connection of the many point, its warm run included (min:max) {i['many_spread']}, "
                         f"{i['log_problems']} warnings/errors in the server's log")
    if m.get("n8n_executions"):
        persisted.append(f"n8n: {m['n8n_executions']} executions in its SQLite database")
    started_runs = sum(r["load"]["sent"] for r in rows)

    peer_line = (f"n8n {m['n8n_version']} (the peer of `../shared/peers/n8n`: npm install, SQLite, executions saved, legacy expression "
                 f"engine, no task runners; a fresh user folder and database per run, the workflow imported and activated) "
                 f"answers `POST /webhook/bench` when the execution ended; its peak RSS is its node process's (the npx/sh launchers "
                 f"left out)." if m.get("peer") != "0" else "n8n was skipped (`BENCH_PEER=0`).")
    pg = f" and on a fresh PostgreSQL {m['pg_version']} database" if m.get("pg_version") else ""
    many = (f" The many-connections point: {m['many_n']} connections of {m['many_n']} customers (created in parallel, "
            f"`connections.py`), one unmeasured run on each first (its first run makes a connection's flow instance), then "
            f"{m['many_runs']} runs each started by {m['many_clients']} clients, run n on connection n mod {m['many_n']}; runs/s "
            f"is over the time until the last run completed." if m.get("many") != "0" else "")
    counting = ("a run counts when it ended in the measured time (`--by-completion`)"
                if m.get("counting", "completion") == "completion" else
                "a run counts when it started after the warm-up and ended in the measured time (so a point whose latency "
                "nears the measured time undercounts)")
    section = f"""## Flow runs

`bench/flows/run.sh` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {m['loadavg']} at start, {m['loadavg_end']} at the end: the machine is shared), {m['elapsed']} s in all.
The same flow on both engines, one after the other in the same run: a trigger taking `{{"first":"Ada","last":"Lovelace","email":"ADA@Example.com"}}` → a transform (name = first + ' ' + last, email lower-cased) → a `POST` of `{{name, email}}` to one local sink (the peer's `sink.cjs`), every run persisted.
{peer_line}
Osmosis at `{m['source_rev']}` (release, `osmosis serve` on a fresh SQLite data dir{pg}): an `api-trigger` → `transform-data` (`$concat` of first and last, `$jsonata` `$lowercase(input.trigger.email)`) → `api-request-to-external-app` (`POST /sink` through a connection of a client-credentials connector whose base URI is the sink); a run is `POST /connections/C/flows/bench/run {{input}}` then `GET /flow-runs/{{id}}?wait=30` until its state is final, counted when it `completed`.{many}
Load: bench/http's load generator (`osmosis-bench-http load`, `--flow-run` for Osmosis; a separate single-threaded process), N closed-loop keep-alive clients over loopback, {m['warmup']} s warm-up then {m['duration']} s measured per point; {counting}; latency from sending the start to the answer that the run ended. Peak RSS: the engine's VmHWM, reset before each point, or the largest sampled VmRSS of its process tree (`rss.py`). CPU per run: the engine's user + system time over the point (warm-up included) per run started.
Checked first: n8n's webhook answers the sink's answer to a 49-byte body; an Osmosis run completes, its output (`GET /flow-runs/{{id}}/output`) is the sink's answer, and the post node's log shows the sink got `{{"name":"Ada Lovelace","email":"ada@example.com"}}`, as n8n sends it. Afterwards: {'; '.join(persisted)}; the sink {m['sink']} requests ({started_runs:,} runs started by the loads, plus the checks and the warm pass).
The engine, the sink (node) and the load generator share the {nproc} cores.

{chr(10).join(table)}

{chr(10).join(ratios)}

Targets (from the issue; not asserted): at 16 clients on SQLite ≥ {SQLITE_X}× n8n's runs/s with p99 < {SQLITE_P99_MS} ms; on PostgreSQL ≥ {PG_X}×; peak RSS under {RSS_FRACTION:g} of n8n's. Measured: {'; '.join(verdicts)}.

Command: `CARGO_TARGET_DIR=... bench/flows/run.sh` (BENCH_CLIENTS="{m['clients']}" BENCH_DURATION={m['duration']} BENCH_WARMUP={m['warmup']} BENCH_DATABASES="{m['databases']}"{'' if m.get('peer') != '0' else ' BENCH_PEER=0'}{'' if m.get('many') != '0' else ' BENCH_MANY=0'}).
"""
    return section


if __name__ == "__main__":
    main()
