"""The read-cache growth scenario of the hardening issue, against a running server.

Creates one flow with a long name and a large `meta` document, then lists flows under
distinct query strings (`?search=` of different substrings of the name, so every
list finds the flow) and prints the server's RSS after each stage as JSON lines.

usage: scenario.py URL PID WORKSPACE_KEY SECRET NAME_CHARS META_BYTES
"""

import base64, hashlib, hmac, json, random, sys, time, urllib.parse, urllib.request

url, pid, ws_key, secret = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
name_chars, meta_bytes = int(sys.argv[5]), int(sys.argv[6])
STAGES = (60, 600)
# Stop listing when the server passes this, so a run cannot exhaust a shared machine.
RSS_CAP_MB = 5000


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def admin_token():
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"iss": ws_key, "isAdmin": True, "exp": int(time.time()) + 3600}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + admin_token())
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def rss_mb():
    time.sleep(0.5)
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def report(stage, **extra):
    print(json.dumps({"stage": stage, "rss_mb": round(rss_mb(), 1), **extra}), flush=True)


random.seed(7)
name = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(name_chars))
report("started")
call("POST", "/flows", {"key": "big", "name": name, "meta": {"blob": "m" * meta_bytes}})
report("created", name_chars=name_chars, meta_bytes=meta_bytes)
listed = 0
for stage in STAGES:
    while listed < stage:
        search = name[listed : listed + 12]
        page = call("GET", "/flows?search=" + urllib.parse.quote(search))
        assert len(page["items"]) == 1, search
        listed += 1
        if listed % 20 == 0 and rss_mb() > RSS_CAP_MB:
            report(f"stopped at {listed} lists: over {RSS_CAP_MB} MB")
            sys.exit(0)
    report(f"listed under {stage} query strings")
