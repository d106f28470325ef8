"""Writes the "## Before and after" section of BENCHMARKS.md from bench/compare.sh's
raw points: for each endpoint and client count, the real/baseline throughput ratio
of the old and the new tree (each the mean of its runs, with the spread between
its runs), and new over old."""

import datetime
import json
import pathlib
import subprocess
import sys

from benchmarks_md import write_section

path, work, old_rev, new_rev, loadavg, loadavg_end, duration = sys.argv[1:]
work = pathlib.Path(work)


def points(bench, side):
    out = []
    for f in sorted(work.glob(f"{bench}-{side}-*.jsonl")):
        out.append([json.loads(l) for l in f.read_text().splitlines() if l.strip()])
    return out


def http_ratios(run):
    """(endpoint, clients) -> real req/s / baseline req/s, in one run."""
    by = {(r["endpoint"], r["server"], r["load"]["clients"]): r["load"] for r in run}
    return {
        (ep, c): by[(ep, "real", c)]["rps"] / by[(ep, "baseline", c)]["rps"]
        for (ep, server, c) in by
        if server == "real"
    }


def proxy_ratios(run):
    """clients -> proxied req/s / direct req/s, and the added p50 in ms."""
    by = {(r["kind"], r["load"]["clients"]): r["load"] for r in run}
    return {
        c: (
            by[("proxy", c)]["rps"] / by[("direct", c)]["rps"],
            (by[("proxy", c)]["p50_us"] - by[("direct", c)]["p50_us"]) / 1000,
        )
        for (kind, c) in by
        if kind == "proxy"
    }


def mean(xs):
    return sum(xs) / len(xs)


labels = {
    "get": "`GET /integrations/{key}`",
    "get-hubspot": "`GET /integrations/{key}`, shipped HubSpot connector",
    "post": "`POST /integrations`",
    "get-grown": "`GET /integrations/{key}` on the grown table",
}
old_runs = [http_ratios(r) for r in points("http", "old")]
new_runs = [http_ratios(r) for r in points("http", "new")]
rows = [
    "| endpoint | clients | old real/baseline | new real/baseline | new / old |",
    "|---|---:|---:|---:|---:|",
]
order = {k: i for i, k in enumerate(labels)}
for key in sorted(old_runs[0], key=lambda k: (order.get(k[0], 9), k[1])):
    if not all(key in r for r in old_runs + new_runs):
        continue
    o = [r[key] for r in old_runs]
    n = [r[key] for r in new_runs]
    spread = lambda xs: f" ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else ""
    rows.append(
        f"| {labels.get(key[0], key[0])} | {key[1]} | {mean(o):.2f}{spread(o)} | {mean(n):.2f}{spread(n)} | {mean(n) / mean(o):.2f} |"
    )

proxy_old = [proxy_ratios(r) for r in points("proxy", "old")]
proxy_new = [proxy_ratios(r) for r in points("proxy", "new")]
proxy_rows = [
    "| clients | old proxied/direct | new proxied/direct | new / old | old added p50 | new added p50 |",
    "|---:|---:|---:|---:|---:|---:|",
]
if proxy_old and proxy_new:
    for c in sorted(proxy_old[0]):
        o, n = proxy_old[0][c], proxy_new[0][c]
        proxy_rows.append(
            f"| {c} | {o[0]:.2f} | {n[0]:.2f} | {n[0] / o[0]:.2f} | {o[1]:.3f} ms | {n[1]:.3f} ms |"
        )

cpu = subprocess.run(
    ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
    capture_output=True,
    text=True,
).stdout.strip()
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
section = f"""## Before and after

`bench/compare.sh {old_rev} {new_rev}` on {datetime.date.today().isoformat()}, {cpu or 'unknown CPU'}, {nproc} cores (load average {loadavg} at start, {loadavg_end} at the end).
Both trees measured on this machine in one session, each against its own baseline in the same run (see the sections above for what the baseline is): the HTTP benchmark ran old, new, new, old ({duration} s per point; ratios are the mean of a tree's two runs, the range between them in brackets, so drift during the session shows), then the proxy benchmark old, new.
A "new / old" near 1.00 is no change; the spread between a tree's own two runs is the noise to read it against.

{chr(10).join(rows)}

API proxy (proxied against direct calls of the same mock API, in the same run):

{chr(10).join(proxy_rows)}
"""
write_section(path, section)
print(section)
