"""Grows a stopped server's SQLite database to N flow runs by copying the runs it
has (each copy a new id, its node runs copied with it), spread over the last seven
days: what a workspace holds after a week of runs, without a week of running.

usage: multiply_runs.py DB N
"""

import sqlite3
import sys
import time

db, target = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
have = c.execute("SELECT count(*) FROM flow_runs").fetchone()[0]
now = int(time.time() * 1000)
week = 7 * 24 * 3600 * 1000
copy = 0
while have < target:
    copy += 1
    n = min(have, target - have)
    # Copy i of run r: id r-c<copy>, created somewhere in the last week.
    c.execute(f"""
        INSERT INTO flow_runs (id, workspace_id, customer_id, integration_id, connection_id,
            connection_flow_id, integration_flow_id, universal_flow_id, state, created_ms, ended_ms,
            stop_requested, attempts, record)
        SELECT id || '-c{copy}', workspace_id, customer_id, integration_id, connection_id,
            connection_flow_id, integration_flow_id, universal_flow_id, state,
            {now} - (((seq * 7919 + {copy} * 104729) * 2654435761) % {week}), ended_ms, stop_requested, attempts,
            json_set(record, '$.id', id || '-c{copy}')
        FROM flow_runs WHERE id NOT LIKE '%-c%' LIMIT {n}""")
    c.execute(f"""
        INSERT INTO flow_node_runs (workspace_id, run_id, id, node_key, status, created_ms, record)
        SELECT n.workspace_id, n.run_id || '-c{copy}', n.id, n.node_key, n.status, n.created_ms, n.record
        FROM flow_node_runs n WHERE n.run_id NOT LIKE '%-c%' AND n.run_id || '-c{copy}' IN (SELECT id FROM flow_runs WHERE id LIKE '%-c{copy}')""")
    c.commit()
    have = c.execute("SELECT count(*) FROM flow_runs").fetchone()[0]
print(have, c.execute("SELECT count(*) FROM flow_node_runs").fetchone()[0])
