"""The console benchmark's client (bench/console/run.sh).

usage: measure.py seed URL WS_KEY WS_SECRET OUT.json
       measure.py pages URL WS_KEY WS_SECRET SEED.json ROUNDS OUT.json
       measure.py poll URL WS_KEY WS_SECRET PATH SECONDS INTERVAL_S

seed: through the API, a workspace of about 10,000 elements (a connector, 20
integrations, 1,000 customers each with a connection, 4,000 actions, 4,000 flows),
two flows over one connection (one completes, one fails), and a few hundred real
runs of them; writes the ids the pages need.
pages: signs in to the console through its form, then GETs each page ROUNDS times
on one keep-alive connection and, beside each, the API's JSON read of the same
data; prints per page the median and p95 milliseconds of both.
poll: a console session GETting PATH every INTERVAL_S for SECONDS (the "console
open on a run page" load of the API benchmark).
"""

import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=120)


def request(conn, method, path, body=None, headers=None, ok=(200,)):
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body) if not isinstance(body, (bytes, str)) else body
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    payload = r.read()
    if r.status not in ok:
        raise SystemExit(f"{method} {path}: {r.status} {payload[:400]!r}")
    return r, payload


def api(conn, token):
    def call(method, path, body=None):
        _, payload = request(conn, method, path, body, {"Authorization": f"Bearer {token}"})
        return json.loads(payload) if payload else None
    return call


def token(key, secret, claims):
    """An HS256 JWT as the SDK's backend mints them."""
    import base64, hashlib, hmac
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = enc(json.dumps({"iss": key, "exp": int(time.time()) + 7200, **claims}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{enc(sig)}"


def seed(url, key, secret, out):
    conn = connect(url)
    call = api(conn, token(key, secret, {"isAdmin": True}))
    call("POST", "/connectors", {"key": "bench-app", "name": "Bench App", "type": "client-credentials",
                                 "makeApiClient": {"type": "mapping", "mapping": {"baseUri": "http://127.0.0.1:9"}}})
    integrations = [call("POST", "/integrations", {"key": f"app-{i}", "name": f"App {i}", "connectorKey": "bench-app"})["id"]
                    for i in range(20)]
    tokens = [token(key, secret, {"id": f"customer-{i}", "name": f"Customer {i}"}) for i in range(1000)]
    connections = []
    for i, customer_token in enumerate(tokens):
        c = api(conn, customer_token)("POST", "/connections", {"integrationId": integrations[i % len(integrations)],
                                                       "name": f"Connection {i}", "input": {}})
        connections.append(c["id"])
    for i in range(4000):
        call("POST", "/actions", {"key": f"action-{i}", "name": f"Action {i}", "type": "run-javascript",
                                  "config": {"code": "module.exports = async ({input}) => input"}})
    for i in range(4000):
        call("POST", "/flows", {"key": f"flow-{i}", "name": f"Flow {i}", "nodes": {
            "start": {"type": "api-trigger", "links": [{"key": "shape"}]},
            "shape": {"type": "transform-data", "config": {"output": {"i": i}}}}})
    # The flows that run: one completes, one fails (its request goes to a port
    # nothing listens on), both on the first connection's integration.
    first = connections[0]
    call("POST", "/flows", {"key": "bench-ok", "name": "Bench OK", "integrationId": integrations[0], "nodes": {
        "start": {"type": "api-trigger", "links": [{"key": "shape"}]},
        "shape": {"type": "transform-data", "config": {"output": {"name": {"$var": "$.input.start.name"}}}}}})
    call("POST", "/flows", {"key": "bench-fail", "name": "Bench fail", "integrationId": integrations[0], "nodes": {
        "start": {"type": "api-trigger", "links": [{"key": "send"}]},
        "send": {"type": "api-request-to-external-app", "config": {"request": {"method": "POST", "path": "/x"}}}}})
    runs = []
    for i in range(300):
        flow = "bench-fail" if i % 10 == 0 else "bench-ok"
        runs.append(call("POST", f"/connections/{first}/flows/{flow}/run", {"input": {"name": f"n{i}"}})["id"])
    # Wait for the last to end.
    for run in runs[-5:]:
        call("GET", f"/flow-runs/{run}?wait=30")
    done = call("GET", f"/flow-runs/{runs[-1]}")
    json.dump({"connection": first, "integration": integrations[0], "run": runs[-1], "run_state": done["state"],
               "failed_run": runs[0]}, open(out, "w"))


def sign_in(url, key, secret):
    conn = connect(url)
    r, body = request(conn, "GET", "/console/sign-in")
    cookie = next(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
    text = body.decode()
    marker = 'name="csrf" value="'
    csrf = text[text.index(marker) + len(marker):].split('"')[0]
    form = urllib.parse.urlencode({"csrf": csrf, "key": key, "secret": secret})
    r, _ = request(conn, "POST", "/console/sign-in", form,
                   {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, ok=(303,))
    session = next(v.split(";")[0] for k, v in r.getheaders()
                   if k.lower() == "set-cookie" and v.startswith("osmosis_console="))
    return conn, {"Cookie": session}


def timed(conn, path, headers, rounds):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        request(conn, "GET", path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[int(len(times) * 0.95) - 1]}


def pages(url, key, secret, seed_file, rounds, out):
    s = json.load(open(seed_file))
    conn, cookie = sign_in(url, key, secret)
    auth = {"Authorization": f"Bearer {token(key, secret, {'isAdmin': True})}"}
    # (label, console page, the API read of the same data)
    points = [
        ("overview", "/console", "/flow-runs?limit=5"),
        ("integrations", "/console/integrations", "/integrations?limit=50"),
        ("actions, searched", "/console/actions?search=action-39", "/actions?search=action-39&limit=50"),
        ("flows", "/console/flows", "/flows?limit=50"),
        ("customers", "/console/customers", "/customers?limit=50"),
        ("connections", "/console/connections", "/connections?limit=50"),
        ("flow runs", "/console/flow-runs", "/flow-runs?limit=50"),
        ("flow runs, failed", "/console/flow-runs?state=failed", "/flow-runs?state=failed&limit=50"),
        ("a flow run", f"/console/flow-runs/{s['run']}", f"/flow-runs/{s['run']}"),
    ]
    results = []
    for label, page, read in points:
        # Warm both once.
        request(conn, "GET", page, headers=cookie)
        request(conn, "GET", read, headers=auth)
        results.append({"label": label, "page": page, "api": read,
                        "console": timed(conn, page, cookie, rounds), "read": timed(conn, read, auth, rounds)})
    json.dump(results, open(out, "w"))


def poll(url, key, secret, path, seconds, interval):
    conn, cookie = sign_in(url, key, secret)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        t = time.monotonic()
        request(conn, "GET", path, headers=cookie)
        n += 1
        time.sleep(max(0.0, interval - (time.monotonic() - t)))
    print(n)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "seed":
        seed(args[0], args[1], args[2], args[3])
    elif mode == "pages":
        pages(args[0], args[1], args[2], args[3], int(args[4]), args[5])
    elif mode == "poll":
        poll(args[0], args[1], args[2], args[3], float(args[4]), float(args[5]))
    else:
        raise SystemExit(__doc__)
