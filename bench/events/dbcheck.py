"""What the incoming-webhook benchmark reads from the server's SQLite database
(opened read-only beside the running server; WAL lets it read while it writes).

    python3 dbcheck.py rows DB TARGET_ID
        the target's `incoming_webhooks` rows by status, as JSON
    python3 dbcheck.py drain DB TIMEOUT
        waits until nothing is pending: no delivery `received`, no app event
        `created`, no flow run `queued` or `running`; prints {seconds, drained, left}
    python3 dbcheck.py latency DB SENT.json TIMEOUT OUT.json
        waits until every delivery of SENT.json (send.py's `ids`) is settled, its
        event dispatched and its runs ended, then checks each made one event that
        launched exactly one run that completed, and writes the latencies (ms) from
        the delivery's `incoming_webhooks.created_ms` to: its app event's
        `created_ms`, its run's `flow_runs.created_ms` (the run's start: its
        `startTime`), the run's first node run (`flow_node_runs.created_ms`, written
        when the trigger node ended: the run is executing) and `flow_runs.ended_ms`."""

import json
import sqlite3
import sys
import time


def connect(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    c.execute("PRAGMA query_only = 1")
    return c


def rows(db, target):
    c = connect(db)
    by = dict(c.execute("SELECT status, count(*) FROM incoming_webhooks WHERE target_id = ? GROUP BY status", (target,)))
    print(json.dumps({"total": sum(by.values()), "by_status": by}))


def pending(c):
    return {
        "deliveries": c.execute("SELECT count(*) FROM incoming_webhooks WHERE status = 'received'").fetchone()[0],
        "events": c.execute("SELECT count(*) FROM app_events WHERE status = 'created'").fetchone()[0],
        "runs": c.execute("SELECT count(*) FROM flow_runs WHERE state IN ('queued', 'running')").fetchone()[0],
    }


def drain(db, timeout):
    c = connect(db)
    t0 = time.monotonic()
    while True:
        left = pending(c)
        if not any(left.values()):
            print(json.dumps({"seconds": round(time.monotonic() - t0, 2), "drained": True, "left": left}))
            return
        if time.monotonic() - t0 > timeout:
            print(json.dumps({"seconds": round(time.monotonic() - t0, 2), "drained": False, "left": left}))
            return
        time.sleep(0.1)


def stats(values):
    v = sorted(values)
    if not v:
        return None
    at = lambda q: v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))]  # nearest rank
    return {"n": len(v), "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": v[-1], "min": v[0],
            "mean": round(sum(v) / len(v), 1)}


def latency(db, sent_path, timeout, out):
    ids = json.load(open(sent_path))["ids"]
    c = connect(db)
    marks = ",".join("?" * len(ids))
    t0 = time.monotonic()
    while True:
        deliveries = c.execute(
            f"SELECT id, created_ms, processed_ms, status, error FROM incoming_webhooks WHERE id IN ({marks})", ids).fetchall()
        events = c.execute(
            f"SELECT incoming_webhook_id, id, created_ms, status, error, launched_flow_run_ids FROM app_events "
            f"WHERE incoming_webhook_id IN ({marks})", ids).fetchall()
        run_ids = [r for e in events for r in json.loads(e[5] or "[]")]
        runs = {}
        for i in range(0, len(run_ids), 500):
            chunk = run_ids[i:i + 500]
            for r in c.execute(f"SELECT id, created_ms, ended_ms, state FROM flow_runs WHERE id IN ({','.join('?' * len(chunk))})", chunk):
                runs[r[0]] = r
        settled = (len(deliveries) == len(ids) and all(d[3] != "received" for d in deliveries)
                   and all(e[3] != "created" for e in events)
                   and all(r in runs and runs[r][3] not in ("queued", "running") for r in run_ids))
        if settled or time.monotonic() - t0 > timeout:
            break
        time.sleep(0.2)
    waited = round(time.monotonic() - t0, 2)
    first_node = {}
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i:i + 500]
        for run_id, ms in c.execute(f"SELECT run_id, min(created_ms) FROM flow_node_runs WHERE run_id IN ({','.join('?' * len(chunk))}) GROUP BY run_id", chunk):
            first_node[run_id] = ms

    problems = []
    if len(deliveries) != len(ids):
        problems.append(f"{len(ids) - len(deliveries)} answered deliveries are not in incoming_webhooks")
    by_delivery = {}
    for e in events:
        by_delivery.setdefault(e[0], []).append(e)
    to_event, to_start, to_exec, to_end = [], [], [], []
    counts = {"deliveries": len(deliveries), "events": len(events), "runs": len(run_ids),
              "runs_completed": sum(1 for r in runs.values() if r[3] == "completed")}
    for d_id, created, processed, status, error in deliveries:
        evs = by_delivery.get(d_id, [])
        if status != "success":
            problems.append(f"delivery {d_id} is {status}: {error}")
        if len(evs) != 1:
            problems.append(f"delivery {d_id} made {len(evs)} events")
            continue
        _, e_id, e_created, e_status, e_error, launched = evs[0]
        launched = json.loads(launched or "[]")
        if e_status != "success" or len(launched) != 1:
            problems.append(f"event {e_id} is {e_status} ({e_error}) and launched {len(launched)} runs")
            continue
        run = runs.get(launched[0])
        if run is None or run[3] != "completed":
            problems.append(f"run {launched[0]} of event {e_id} is {run[3] if run else 'missing'}")
            continue
        to_event.append(e_created - created)
        to_start.append(run[1] - created)
        if launched[0] in first_node:
            to_exec.append(first_node[launched[0]] - created)
        to_end.append(run[2] - created)
    result = {
        "waited_s": waited, "settled": settled, "counts": counts, "problems": len(problems),
        "problem_sample": problems[:5],
        "to_event_ms": stats(to_event), "to_run_start_ms": stats(to_start),
        "to_first_node_ms": stats(to_exec), "to_run_end_ms": stats(to_end),
    }
    with open(out, "w") as f:
        json.dump(result, f)
    print(json.dumps(result))


def main():
    cmd = sys.argv[1]
    if cmd == "rows":
        rows(sys.argv[2], sys.argv[3])
    elif cmd == "drain":
        drain(sys.argv[2], float(sys.argv[3]))
    elif cmd == "latency":
        latency(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
