"""Seeds a workspace of N integrations x M integration-level elements through the API,
then times (a) `GET /export` to a completed job plus the zip's download, (b) reading
the same elements through the list API, page by page, (c) `POST /import` of that zip
into a fresh workspace (every element created) and (d) into the workspace it came from
(every element unchanged), each to a completed job; prints one JSON line.

usage: measure.py URL ADMIN_TOKEN SERVER_PID INTEGRATIONS PER_INTEGRATION ROUNDS FRESH_TOKEN...
(one admin token of an empty workspace per round)
"""

import http.client
import io
import json
import sys
import time
import urllib.parse
import zipfile

url, token, pid, integrations, per, rounds = sys.argv[1:7]
pid, integrations, per, rounds = int(pid), int(integrations), int(per), int(rounds)
fresh_tokens = sys.argv[7:]
if len(fresh_tokens) < rounds:
    raise SystemExit(f"one fresh workspace token per round: {rounds} rounds, {len(fresh_tokens)} tokens")
host = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
HEADERS = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def call(method, path, body=None, raw=False, headers=None):
    if isinstance(body, (bytes, bytearray)):
        data = body
    else:
        data = json.dumps(body) if body is not None else None
    conn.request(method, path, body=data, headers=headers or HEADERS)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"{method} {path}: {r.status} {data[:500]!r}")
    return data if raw else json.loads(data)


def hwm_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def reset_hwm():
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


# A mix of the types an integration carries: actions, flows, data sources, field mappings.
KINDS = [
    ("actions", lambda k: {"type": "run-javascript", "config": {"code": f"module.exports = async ({{input}}) => ({{k: '{k}', input}})"},
                           "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}}}),
    ("flows", lambda k: {"nodes": {"start": {"type": "api-trigger", "links": [{"key": "shape"}]},
                                   "shape": {"type": "transform-data", "config": {"output": {"k": k, "in": {"$var": "$.input.start"}}}}}}),
    ("data-sources", lambda k: {"collectionKey": "contacts", "pullUpdatesIntervalSeconds": 600}),
    ("field-mappings", lambda k: {"appSchema": {"type": "object", "properties": {"name": {"type": "string"}, "email": {"type": "string"}}},
                                  "importValue": {"name": {"$var": "$.name"}, "email": {"$var": "$.email"}}, "direction": "import"}),
]

started = time.monotonic()
connector = call("POST", "/connectors", {"key": "bench-app", "name": "Bench app", "type": "client-credentials",
                                          "makeApiClient": {"type": "mapping", "mapping": {"baseUri": "http://127.0.0.1:9/unused"}}})
elements = 0
for i in range(integrations):
    integration = call("POST", "/integrations", {"key": f"int-{i:03}", "name": f"Integration {i}", "connectorId": connector["id"]})
    elements += 1
    for j in range(per):
        kind, body = KINDS[j % len(KINDS)]
        key = f"{kind[:-1]}-{j:02}"
        call("POST", f"/{kind}", {"key": key, "name": f"{kind} {j}", "integrationId": integration["id"], **body(key)})
        elements += 1
seed_s = time.monotonic() - started

# Reading every element of the workspace through the list API: each type, every page.
def read_all():
    count = 0
    for path in ["/connectors", "/integrations", *[f"/{k}" for k, _ in KINDS]]:
        cursor = None
        while True:
            q = "?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = call("GET", path + q)
            count += len(page["items"])
            cursor = page.get("cursor")
            if not cursor or not page["items"]:
                break
    return count


def export():
    job = call("GET", "/export")
    while job["status"] == "running":
        time.sleep(0.01)
        job = call("GET", f"/background-jobs/{job['id']}")
    if job["status"] != "completed":
        raise SystemExit(f"export failed: {job}")
    path = urllib.parse.urlsplit(job["result"]["downloadUrl"]).path
    return call("GET", path, raw=True)


def import_zip(zip_bytes, admin):
    """`POST /import` of the zip (raw body) with `admin`, polled to a completed job;
    answers the report."""
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/zip"}
    job = call("POST", "/import", zip_bytes, headers=headers)
    auth = {"Authorization": f"Bearer {admin}"}
    while job["status"] == "running":
        time.sleep(0.01)
        job = call("GET", f"/background-jobs/{job['id']}", headers=auth)
    if job["status"] != "completed":
        raise SystemExit(f"import failed: {json.dumps(job)[:2000]}")
    return job["result"]


results = []
for round_no in range(rounds):
    reset_hwm()
    before_kb = hwm_kb()
    t = time.monotonic()
    read = read_all()
    list_s = time.monotonic() - t
    list_hwm = hwm_kb()
    reset_hwm()
    t = time.monotonic()
    zip_bytes = export()
    export_s = time.monotonic() - t
    export_hwm = hwm_kb()
    files = len(zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist())
    reset_hwm()
    t = time.monotonic()
    report = import_zip(zip_bytes, fresh_tokens[round_no])
    import_fresh_s = time.monotonic() - t
    import_fresh_hwm = hwm_kb()
    created = sum(1 for c in report["changes"] if c["change"] == "create")
    reset_hwm()
    t = time.monotonic()
    report = import_zip(zip_bytes, token)
    import_same_s = time.monotonic() - t
    import_same_hwm = hwm_kb()
    if report["changes"]:
        raise SystemExit(f"re-importing the workspace's own export changed {len(report['changes'])} elements")
    results.append({"list_s": list_s, "export_s": export_s, "read": read, "files": files,
                    "zip_bytes": len(zip_bytes), "rss_before_kb": before_kb,
                    "list_hwm_kb": list_hwm, "export_hwm_kb": export_hwm,
                    "import_fresh_s": import_fresh_s, "import_fresh_hwm_kb": import_fresh_hwm,
                    "created": created, "import_same_s": import_same_s,
                    "import_same_hwm_kb": import_same_hwm, "unchanged": report["unchanged"]})

print(json.dumps({"integrations": integrations, "per_integration": per, "elements": elements,
                  "seed_s": seed_s, "rounds": results}))
