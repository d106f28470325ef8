"""Sends N distinct app events to a webhook URL from a few senders at a set rate.

    python3 send.py URL N SENDERS RATE CUSTOMER OUT.json

Event i is `{"customer": CUSTOMER, "seq": i, "run": <random>}`: every payload is
distinct (identical payloads within 5 minutes would be one event), and the type's
`tenantIdFormula` (`$.customer`) names the customer. SENDERS threads, each on its
own keep-alive connection, send events i = s, s + SENDERS, ...; RATE is the total
rate in events/s (event i is due at i / RATE s after the start; a sender that falls
behind sends at once), 0 sends back to back. No Authorization header.

Writes OUT.json: `{sent, failures, failure_sample, seconds, rate, ids, http_p50_ms,
http_p99_ms}`, `ids` the answered `incomingWebhookId`s in event order."""

import http.client
import json
import random
import sys
import threading
import time
import urllib.parse


def main():
    url, n, senders, rate, customer, out = sys.argv[1:7]
    n, senders, rate = int(n), int(senders), float(rate)
    u = urllib.parse.urlsplit(url)
    run = random.randrange(1 << 30)
    ids = [None] * n
    latencies = [None] * n
    failures = []
    start = time.monotonic() + 0.1

    def sender(s):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for i in range(s, n, senders):
            if rate > 0:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            body = json.dumps({"customer": customer, "seq": i, "run": run})
            t0 = time.monotonic()
            try:
                conn.request("POST", u.path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"event {i}: {e}")
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                continue
            latencies[i] = time.monotonic() - t0
            if resp.status != 200:
                failures.append(f"event {i}: {resp.status} {data[:200]!r}")
                continue
            ids[i] = json.loads(data)["incomingWebhookId"]
        conn.close()

    threads = [threading.Thread(target=sender, args=(s,)) for s in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    lat = sorted(x for x in latencies if x is not None)
    pct = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2) if lat else None
    result = {
        "sent": n,
        "failures": len(failures),
        "failure_sample": failures[:3],
        "seconds": seconds,
        "rate": n / seconds if seconds > 0 else 0,
        "target_rate": rate,
        "senders": senders,
        "ids": [i for i in ids if i is not None],
        "http_p50_ms": pct(0.50),
        "http_p99_ms": pct(0.99),
    }
    with open(out, "w") as f:
        json.dump(result, f)
    print(f"sent {n} events from {senders} senders in {seconds:.1f} s ({result['rate']:.0f}/s); "
          f"{len(failures)} failed; answer p50 {result['http_p50_ms']} ms, p99 {result['http_p99_ms']} ms")
    if failures:
        print("\n".join(failures[:3]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
