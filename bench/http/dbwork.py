#!/usr/bin/env python3
"""One snapshot of the counters bench/http/multinode.sh turns into work per request.

Prints one JSON object: the CPU time of the Osmosis nodes (pids given), of the
PostgreSQL backends serving the benchmark's database (found by the database name in
their process title) and of PostgreSQL's background processes, the backends'
voluntary context switches (each is a wait for the next message from a node, so
about one per round trip), and, when a database is named, its pg_stat_database,
pg_stat_user_tables and pg_stat_user_indexes counters and the cluster's WAL counters.

Usage: dbwork.py [--pg-url URL --db NAME] [osmosis-pid ...]
"""

import json
import os
import subprocess
import sys

TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum", "logical replication")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def process_cpu_ns(pid):
    """User + system time of a whole process (all threads, alive or exited)."""
    stat = read(f"/proc/{pid}/stat")
    if stat is None:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_NS


def postgres_processes(db):
    """CPU (ns, from schedstat: exact for these single-threaded processes) and
    voluntary context switches of the backends of `db`; CPU of the background ones."""
    backends = {"cpu_ns": 0, "switches": 0, "count": 0}
    background_ns = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        title = read(f"/proc/{pid}/cmdline")
        if not title or not title.startswith("postgres: "):
            continue
        sched = read(f"/proc/{pid}/schedstat")
        cpu = int(sched.split()[0]) if sched else 0
        words = title.replace("\0", " ").split()
        if db and db in words:
            status = read(f"/proc/{pid}/status") or ""
            switches = next(
                (int(l.split()[1]) for l in status.splitlines() if l.startswith("voluntary_ctxt_switches:")),
                0,
            )
            backends["cpu_ns"] += cpu
            backends["switches"] += switches
            backends["count"] += 1
        elif any(b in title for b in BACKGROUND):
            background_ns += cpu
    return backends, background_ns


def psql_json(url, sql):
    out = subprocess.run(["psql", url, "-XAtqc", sql], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip() or "{}")


def main(argv):
    pg_url = db = None
    pids = []
    it = iter(argv)
    for a in it:
        if a == "--pg-url":
            pg_url = next(it)
        elif a == "--db":
            db = next(it)
        else:
            pids.append(a)
    snap = {"nodes_cpu_ns": sum(process_cpu_ns(p) for p in pids)}
    if db:
        backends, background_ns = postgres_processes(db)
        snap["pg_backends"] = backends
        snap["pg_background_cpu_ns"] = background_ns
        snap["pg_database"] = psql_json(
            pg_url,
            "SELECT row_to_json(d) FROM (SELECT xact_commit, xact_rollback, tup_returned, tup_fetched,"
            " tup_inserted, tup_updated, tup_deleted, blks_hit, blks_read"
            f" FROM pg_stat_database WHERE datname = '{db}') d",
        )
        snap["pg_tables"] = psql_json(
            pg_url,
            "SELECT row_to_json(t) FROM (SELECT coalesce(sum(seq_scan), 0) AS seq_scan,"
            " coalesce(sum(seq_tup_read), 0) AS seq_tup_read, coalesce(sum(idx_scan), 0) AS idx_scan,"
            " coalesce(sum(idx_tup_fetch), 0) AS idx_tup_fetch FROM pg_stat_user_tables) t",
        )
        snap["pg_indexes"] = psql_json(
            pg_url,
            "SELECT coalesce(json_object_agg(indexrelname, json_build_object('scans', idx_scan, 'read', idx_tup_read)), '{}')"
            " FROM pg_stat_user_indexes",
        )
        snap["pg_wal"] = psql_json(pg_url, "SELECT row_to_json(w) FROM (SELECT wal_records, wal_bytes::bigint AS wal_bytes, wal_sync FROM pg_stat_wal) w")
    print(json.dumps(snap))


if __name__ == "__main__":
    main(sys.argv[1:])
