#!/usr/bin/env python3
"""Reads what one endpoint's probe requests did in the database (bench/http/multinode.sh):
the statements in the probe node's sqlx log (JSON lines on stdin, target
`sqlx::query`), grouped by statement shape, and the PostgreSQL backends' system
calls from `strace -c` (when it ran). Prints one JSON line.

Usage: multinode_probe.py ENDPOINT REQUESTS STRACE_FILE < probe.log
"""

import collections
import json
import re
import sys

endpoint, requests, strace_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def shape(sql):
    """`SELECT FROM elements WHERE workspace_id, element_type, key …`: what a statement does, without its column list or values."""
    sql = " ".join(sql.split())
    verb = sql.split(" ", 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", sql, re.I)
    where = re.search(r"\bWHERE\s+(.*?)(?:\s+ORDER BY\s+(.*?))?(?:\s+LIMIT\b.*)?$", sql, re.I)
    out = f"{verb} {table.group(1) if table else '?'}"
    if where:
        columns = re.findall(r"(\w+)\s*(?:=|>|<|IS\b|<>)", where.group(1))
        out += " WHERE " + ", ".join(dict.fromkeys(columns))
        if where.group(2):
            out += f" ORDER BY {where.group(2)}"
    if re.search(r"\bLIMIT\b", sql, re.I):
        out += " LIMIT"
    return out


kinds = collections.Counter()
for line in sys.stdin:
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("target") != "sqlx::query":
        continue
    fields = event.get("fields", {})
    kinds[shape(str(fields.get("db.statement") or fields.get("summary") or ""))] += 1

syscalls = {}
try:
    for line in open(strace_file, encoding="utf-8"):
        parts = line.split()
        # "% time  seconds  usecs/call  calls  [errors]  syscall"
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            syscalls[parts[-1]] = int(parts[3])
except OSError:
    pass

print(json.dumps({"endpoint": endpoint, "requests": requests, "statements": sum(kinds.values()), "kinds": kinds, "syscalls": syscalls}))
