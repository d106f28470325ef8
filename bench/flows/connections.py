"""Creates N connections of the bench integration, one customer each, in parallel.

    python3 connections.py BASE_URL WS_KEY WS_SECRET INTEGRATION_ID N OUT_IDS [THREADS]

Each customer's token is minted here as the SDK mints them (HS256, `iss` = the
workspace key, `id`, `name`, `exp`); `POST /connections` as that customer creates
the customer on first sight and its connection (no test request: the connector has
none). THREADS workers (default 16) each keep one keep-alive connection to the
server. Writes the connection ids to OUT_IDS, one a line, in customer order, and
prints how long it took."""

import base64
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(key, secret, customer):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"iss": key, "id": customer, "name": customer,
                           "exp": int(time.time()) + 3600}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def main():
    base, key, secret, integration, n, out = sys.argv[1:7]
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 16
    n = int(n)
    url = urllib.parse.urlsplit(base)
    ids = [None] * n
    errors = []
    next_i = iter(range(n))
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        while True:
            with lock:
                i = next(next_i, None)
            if i is None or errors:
                break
            customer = f"bench-many-{i:05d}"
            body = json.dumps({"integrationId": integration, "name": f"Bench {i}",
                               "input": {"apiKey": f"key-{i}"}})
            conn.request("POST", "/connections", body, {
                "Authorization": f"Bearer {token(key, secret, customer)}",
                "Content-Type": "application/json"})
            r = conn.getresponse()
            answer = r.read()
            if r.status // 100 != 2:
                errors.append(f"{customer}: {r.status} {answer[:300]!r}")
                break
            ids[i] = json.loads(answer)["id"]
        conn.close()

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        sys.exit(f"creating connections failed: {errors[0]}")
    if len(set(ids)) != n:
        sys.exit("creating connections answered duplicate ids")
    with open(out, "w") as f:
        f.write("\n".join(ids) + "\n")
    print(f"{n} connections of {n} customers created in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
