#!/usr/bin/env python3
"""Writes the "PostgreSQL and several nodes" section of BENCHMARKS.md from the
results of bench/http/multinode.sh (one JSON line per point, with the dbwork.py
snapshots taken before and after it) and the statement counts of its probe."""

import datetime
import json
import pathlib
import subprocess
import sys

# bench/benchmarks_md.py, beside this script's folder.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks_md import write_section  # noqa: E402

(path, results, probes, loadavg, loadavg_end, duration, warmup, clients, pool, source_rev,
 pg_version, pg_settings, elapsed, seed_n) = sys.argv[1:]
all_rows = [json.loads(l) for l in pathlib.Path(results).read_text().splitlines() if l.strip()]
# The point on the never-analyzed database is reported on its own, not in the tables.
unanalyzed = next((r for r in all_rows if r["config"] == "pg-1-unanalyzed"), None)
rows = [r for r in all_rows if r["config"] != "pg-1-unanalyzed"]
probe = {p["endpoint"]: p for p in map(json.loads, pathlib.Path(probes).read_text().splitlines())}
by = {(r["config"], r["endpoint"], r["load"]["clients"]): r for r in rows}

NAMES = {"sqlite-1": "SQLite, 1 node", "pg-1": "PostgreSQL, 1 node", "pg-3": "PostgreSQL, 3 nodes"}
ENDPOINTS = {"get": "`GET /integrations/{key}`", "post": "`POST /integrations`"}
ms = lambda us: f"{us / 1000:.2f} ms"


def delta(r, *keys):
    a, b = r["after"], r["before"]
    for k in keys:
        a, b = a.get(k, {}) if isinstance(a, dict) else 0, b.get(k, {}) if isinstance(b, dict) else 0
    return (a or 0) - (b or 0)


def per_request(r):
    """Work per request over the point (warm-up included: `sent` counts it too)."""
    n = r["load"]["sent"]
    w = {"nodes_cpu_us": delta(r, "nodes_cpu_ns") / n / 1000}
    if "pg_backends" in r["after"]:
        w.update(
            pg_cpu_us=delta(r, "pg_backends", "cpu_ns") / n / 1000,
            pg_bg_cpu_us=delta(r, "pg_background_cpu_ns") / n / 1000,
            round_trips=delta(r, "pg_backends", "switches") / n,
            xacts=(delta(r, "pg_database", "xact_commit") + delta(r, "pg_database", "xact_rollback")) / n,
            tup_fetched=delta(r, "pg_database", "tup_fetched") / n,
            tup_returned=delta(r, "pg_database", "tup_returned") / n,
            blks_hit=delta(r, "pg_database", "blks_hit") / n,
            blks_read=delta(r, "pg_database", "blks_read") / n,
            idx_scan=delta(r, "pg_tables", "idx_scan") / n,
            seq_scan=delta(r, "pg_tables", "seq_scan") / n,
            wal_bytes=delta(r, "pg_wal", "wal_bytes") / n,
            backends=r["after"]["pg_backends"]["count"],
        )
    return w


# Throughput and latency.
table = [
    "| configuration | endpoint | clients | integrations | req/s | p50 | p99 | req/s vs SQLite 1 node | req/s vs PG 1 node | p99 < 10 ms |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
]
never_lower, p99_misses = [], []
for ep in ENDPOINTS:
    for config in NAMES:
        for r in (r for r in rows if r["config"] == config and r["endpoint"] == ep):
            l, c = r["load"], r["load"]["clients"]
            vs_sqlite = l["rps"] / by[("sqlite-1", ep, c)]["load"]["rps"]
            vs_pg1 = ""
            if config == "pg-3":
                ratio = l["rps"] / by[("pg-1", ep, c)]["load"]["rps"]
                vs_pg1 = f"{ratio:.2f}"
                never_lower.append((ep, c, ratio))
            if l["p99_us"] >= 10_000:
                p99_misses.append(f"{NAMES[config]} {ep.upper()} at {c} clients ({ms(l['p99_us'])})")
            table.append(
                f"| {NAMES[config]} | {ENDPOINTS[ep]} | {c} | {r['integrations']} | {l['rps']:.0f} | {ms(l['p50_us'])} | {ms(l['p99_us'])} "
                f"| {vs_sqlite:.2f} | {vs_pg1} | {'yes' if l['p99_us'] < 10_000 else 'no'} |"
            )

# Database work per request (PostgreSQL points) and node CPU per request (all).
work = [
    "| configuration | endpoint | clients | transactions | index scans | tuples fetched | buffer hits | WAL bytes | backend waits | PG backend CPU | PG background CPU | Osmosis nodes CPU | most-read index (entries) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
]
def index_reads(r):
    """(entries read, scans) per request sent, by index, for the indexes the point used."""
    n, after, before = r["load"]["sent"], r["after"].get("pg_indexes", {}), r["before"].get("pg_indexes", {})
    out = {}
    for name, v in after.items():
        b = before.get(name, {"scans": 0, "read": 0})
        scans, read = (v["scans"] - b["scans"]) / n, (v["read"] - b["read"]) / n
        if scans >= 0.01:
            out[name] = (read, scans)
    return out


def index_use(r):
    used = sorted(index_reads(r).items(), key=lambda kv: -kv[1][0])
    return ", ".join(f"`{name}` {scans:.2f} scans reading {read:.0f} entries" for name, (read, scans) in used) or "none"


def top_index(r):
    used = index_reads(r)
    if not used:
        return ""
    name, (read, _) = max(used.items(), key=lambda kv: kv[1][0])
    return f"`{name}` {read:.0f}"


per = {}
for r in rows:
    w = per_request(r)
    per[(r["config"], r["endpoint"], r["load"]["clients"])] = w
    if "pg_cpu_us" not in w:
        work.append(
            f"| {NAMES[r['config']]} | {ENDPOINTS[r['endpoint']]} | {r['load']['clients']} | | | | | | | | | {w['nodes_cpu_us']:.0f} µs | |"
        )
        continue
    work.append(
        f"| {NAMES[r['config']]} | {ENDPOINTS[r['endpoint']]} | {r['load']['clients']} | {w['xacts']:.2f} | {w['idx_scan']:.2f} "
        f"| {w['tup_fetched']:.1f} | {w['blks_hit']:.1f} | {w['wal_bytes']:.0f} | {w['round_trips']:.2f} "
        f"| {w['pg_cpu_us']:.0f} µs | {w['pg_bg_cpu_us']:.0f} µs | {w['nodes_cpu_us']:.0f} µs | {top_index(r)} |"
    )


def probe_lines(p):
    kinds = sorted(p["kinds"].items(), key=lambda kv: -kv[1])
    return "; ".join(f"`{k}` ×{v / p['requests']:.2f}" for k, v in kinds)


def probe_syscalls(p):
    sc, n = p.get("syscalls") or {}, p["requests"]
    if not sc:
        return "(strace not available)"
    names = ["sendto", "recvfrom", "epoll_wait", "lseek", "fdatasync", "pwrite64"]
    return ", ".join(f"{name} {sc.get(name, 0) / n:.1f}" for name in names)


# The estimate: PostgreSQL CPU per request (backends plus background processes), taken
# from the most loaded PostgreSQL point of each endpoint (three nodes, most clients).
top = max(int(c) for c in clients.split())
est = {}
for ep in ENDPOINTS:
    w = per[("pg-3", ep, top)]
    db_us = w["pg_cpu_us"] + w["pg_bg_cpu_us"]
    est[ep] = {
        "db_us": db_us,
        "node_us": w["nodes_cpu_us"],
        "per_core": 1e6 / db_us,
        "node_cores_per_db_core": db_us and w["nodes_cpu_us"] / db_us,
        "primary_8": 0.7 * 8 * 1e6 / db_us,
        "primary_16": 0.7 * 16 * 1e6 / db_us,
        "measured": by[("pg-3", ep, top)]["load"]["rps"],
    }
g, p = est["get"], est["post"]
# A read-heavy mix: nine reads per write.
mix_db_us = 0.9 * g["db_us"] + 0.1 * p["db_us"]
mix_node_us = 0.9 * g["node_us"] + 0.1 * p["node_us"]
mix_rate = 0.7 * 8e6 / mix_db_us
mix_node_cores = mix_rate * mix_node_us / 1e6

nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
walks = [(r, name, read) for r in rows for name, (read, _) in index_reads(r).items() if read > 100]
pkey_text = ""
if walks:
    pkey_text = ("Plans that read far more index entries than rows returned (see the last column below): "
        + "; ".join(f"{NAMES[r['config']]} {r['endpoint'].upper()} at {r['load']['clients']} clients reads {read:.0f} entries of `{name}` per request on {r['integrations']} integrations" for r, name, read in walks)
        + ". Every lookup ends in `AND seq > $n ORDER BY seq LIMIT $m`, so PostgreSQL may walk an index in `seq` order (the primary key) and filter, which reads the whole table when nothing matches (a GET looks up the customer's connection to the integration, and there is none). Which plan it picks changes with the table's statistics. ")
cpu_parts = []
for ep in ENDPOINTS:
    for c in clients.split():
        a, b = per.get(("pg-1", ep, int(c))), per.get(("pg-3", ep, int(c)))
        if a and b:
            ta, tb = a["nodes_cpu_us"] + a["pg_cpu_us"], b["nodes_cpu_us"] + b["pg_cpu_us"]
            cpu_parts.append(f"{ep.upper()} {c}: {ta:.0f} → {tb:.0f} µs ({tb / ta:.2f})")
cpu_text = (f"The PostgreSQL points are CPU-bound (nodes, backends and the load generator share {nproc} cores), so throughput tracks the CPU time a request costs nodes and backends together; one node → three nodes: "
    + ", ".join(cpu_parts) + f" (three nodes keep {3 * int(pool)} backend connections instead of {pool} busy on the same {nproc} cores). ")
littles_text = ("p99 under 10 ms cannot hold here at high concurrency: with N closed-loop clients the mean latency is N / throughput, so it stays under 10 ms only above "
    + " and ".join(f"{int(c) * 100:,} req/s at {c} clients" for c in clients.split()) + ".")
unanalyzed_text = ""
if unanalyzed:
    u, c = unanalyzed, unanalyzed["load"]["clients"]
    a = by[("pg-1", "get", c)]
    wu, wa = per_request(u), per_request(a)
    unanalyzed_text = (
        f"\n**A new database before its first ANALYZE.** Each PostgreSQL point runs after `ANALYZE elements` (autovacuum does it within a minute or so of a bulk change; the points add thousands of rows in seconds). "
        f"Measured once without it, right after the {seed_n} seed integrations were created on the fresh database: GET at {c} clients on one node "
        f"{u['load']['rps']:.0f} req/s, p99 {ms(u['load']['p99_us'])}, {wu['tup_fetched']:.0f} tuples fetched and {wu['pg_cpu_us']:.0f} µs of backend CPU per request, "
        f"against {a['load']['rps']:.0f} req/s, p99 {ms(a['load']['p99_us'])}, {wa['tup_fetched']:.0f} tuples and {wa['pg_cpu_us']:.0f} µs once analyzed "
        f"(ratio {u['load']['rps'] / a['load']['rps']:.2f}). Index use per request without statistics: {index_use(u)}; analyzed: {index_use(a)}."
    )
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
lower = [f"{e.upper()} at {c} clients ({x:.2f})" for e, c, x in never_lower if x < 1.0]
section = f"""## PostgreSQL and several nodes

`bench/http/multinode.sh` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {loadavg} at start, {loadavg_end} at the end; the machine is shared with other people's builds, so compare within one run), {elapsed} s in all.
`osmosis serve` at `{source_rev}` (release) in three configurations, one after the other in the same run: SQLite with one node (fresh data dir); PostgreSQL {pg_version} ({pg_settings}) with one node on a fresh database; then three nodes on that same database (each `--database postgres://… --database-pool-size {pool}`, `OSMOSIS_WORKSPACE_KEY/SECRET` set). Nodes, PostgreSQL and the load generator all share the machine's {nproc} cores, so three nodes cannot add CPU here: the target is that adding nodes never lowers throughput.
Load: `osmosis-bench-http load`, one single-threaded process, N closed-loop keep-alive HTTP/1.1 clients over loopback, dealt round-robin over the nodes (client i to node i mod n); {warmup} s warm-up then {duration} s measured per point. `GET /integrations/{{key}}` carries a customer token (the customer is resolved per request), `POST /integrations` an admin token (each POST creates an integration bound to a connector).
**Where reads go:** on SQLite, Osmosis answers element reads from a node-local cache (one node owns the file, so a write invalidates it in-process); on PostgreSQL there is no such cache (another node may have written), so every read goes to the database the nodes share. Each database first gets {seed_n} integrations (so lookups run on a table of some size); each configuration then runs GETs, then POSTs; the three-node points run on the database the one-node POSTs have grown (integrations at the start of each point in the table), which can only count against three nodes. Before each PostgreSQL point `ANALYZE elements` refreshes the planner's statistics, as autovacuum would within about a minute (the points add thousands of rows in seconds).

{chr(10).join(table)}

{pkey_text}{cpu_text}{littles_text}

Targets (from the issue; not asserted): adding nodes never lowers throughput — three PostgreSQL nodes against one: {', '.join(f'{e.upper()} {c} clients {x:.2f}' for e, c, x in never_lower)} ({'met' if not lower else 'not met for ' + ', '.join(lower)}); p99 under 10 ms — {'met everywhere' if not p99_misses else 'missed by ' + ', '.join(p99_misses)}.

### Database work per request

Per request sent (warm-up included), from before/after snapshots of each point (`bench/http/dbwork.py`): transactions (`xact_commit` + `xact_rollback` of `pg_stat_database`; each statement outside a transaction is one), index scans (`pg_stat_user_tables`), tuples fetched and buffer hits (`pg_stat_database`), WAL bytes (`pg_stat_wal`, the whole cluster), backend waits (voluntary context switches of the database's backends: about one per round trip with a node, plus waits for locks and WAL flushes), CPU of the database's backends (`/proc/<pid>/schedstat`), of PostgreSQL's background processes (WAL writer, checkpointer, background writer, autovacuum; the whole cluster) and of the Osmosis nodes (`/proc/<pid>/stat`). `pg_stat_statements` is not loaded on this server (it needs `shared_preload_libraries`), so statements are counted from the server's own sqlx log instead: a probe node on the same database, logging `sqlx::query` at debug, answered {probe['get']['requests']} GETs and {probe['post']['requests']} POSTs.

{chr(10).join(work)}

Statements per request (probe): GET {probe['get']['statements'] / probe['get']['requests']:.2f} — {probe_lines(probe['get'])}. POST {probe['post']['statements'] / probe['post']['requests']:.2f} — {probe_lines(probe['post'])}.
Per statement sqlx 0.8 makes two exchanges with the backend: the statement, and a ping when it gives the connection back (always, in `return_to_pool`); Osmosis turns off the third, the ping before each acquire (`test_before_acquire(false)`, since `ec9d044`); hence about 8 backend waits per GET (4 statements) and 8 per POST (3 statements and the WAL flush). System calls of the backends per request meanwhile (`strace -c` on the backends open after 20 warm-up calls; each `sendto` answers one message exchange, `lseek` is mostly the planner sizing `elements` and its indexes, `fdatasync` the commit's WAL flush): GET {probe_syscalls(probe['get'])}; POST {probe_syscalls(probe['post'])}.
{unanalyzed_text}

### How far one PostgreSQL primary carries the nodes

PostgreSQL CPU per request at the most loaded point (three nodes, {top} clients; backends plus background processes): GET {g['db_us']:.0f} µs, POST {p['db_us']:.0f} µs, against {g['node_us']:.0f} µs and {p['node_us']:.0f} µs on the Osmosis nodes. So one core of the primary serves about {g['per_core']:.0f} GET/s or {p['per_core']:.0f} POST/s, and it keeps up with about {g['node_cores_per_db_core']:.1f} node cores of GET traffic ({p['node_cores_per_db_core']:.1f} of POST traffic). At 70 % CPU, a typical 8-core primary carries about {g['primary_8']:,.0f} GET/s or {p['primary_8']:,.0f} POST/s ({g['primary_16']:,.0f} / {p['primary_16']:,.0f} on 16 cores); for a read-heavy mix of nine GETs to one POST ({mix_db_us:.0f} µs of database CPU and {mix_node_us:.0f} µs of node CPU per request) about {mix_rate:,.0f} req/s on 8 cores, which is the work of about {mix_node_cores:.1f} node cores at full use ({mix_node_cores / 2:.1f} two-core nodes): {'the primary needs more CPU per request than the nodes that send it' if mix_db_us > mix_node_us else 'the nodes need more CPU per request than the primary'}. Beyond that, reads need read replicas (or a node-side cache that PostgreSQL invalidates, e.g. by LISTEN/NOTIFY), and writes beyond one primary's WAL and CPU a distributed PostgreSQL. Writes may meet another limit before CPU: each POST is its own transaction and waits for its WAL flush (`synchronous_commit=on`; one `fdatasync` per POST in the probe), so on a disk with slow flushes write throughput is bounded by the flush rate times the commits that share one. These figures come from a primary sharing {nproc} cores with the nodes and the load generator (context switches and cache misses of that contention included): read them as an order of magnitude, not a sizing.

Command: `CARGO_TARGET_DIR=... bench/http/multinode.sh` (BENCH_CLIENTS="{clients}" BENCH_DURATION={duration} BENCH_WARMUP={warmup} BENCH_POOL_SIZE={pool}; BENCH_PG_URL names the server, default `postgres://127.0.0.1:5432/test`, on which a database of its own is created and dropped).
"""
write_section(path, section)
print(section)
