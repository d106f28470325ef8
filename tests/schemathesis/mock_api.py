"""The external API the seeded connection calls while schemathesis fuzzes: the shape of
the Rust tests' mock (crates/osmosis/tests/it/calls.rs) — key auth, `/me` for the
connector's test, `/revoke` for its disconnect, a paged `/contacts` collection and
`/deals` — and any other path echoes the request, so the proxy, `/act` and operation
runs reach a real answer whatever path the fuzzer sends.

Prints its base URL on the first line of stdout, then serves until killed.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_KEY = "sk-fuzz-5b0e1c7d9a3f"
PAGE = 2

contacts = {str(i): {"id": str(i), "full_name": f"Person {i}", "email": f"p{i}@x.io"} for i in range(1, 6)}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def route(self):
        url = urlsplit(self.path)
        path, query = url.path, {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.body()
        if self.headers.get("x-api-key") != API_KEY:
            return self.answer(401, {"message": "bad key"})
        method = self.command
        if path == "/me":
            return self.answer(200, {"id": "u-1", "name": "Ada"})
        if path == "/revoke":
            return self.answer(204)
        if path == "/contacts" and method == "GET":
            with lock:
                found = [
                    c
                    for c in contacts.values()
                    if query.get("q", "").lower() in c["full_name"].lower()
                    and query.get("email", c["email"]) == c["email"]
                ]
            start = int(query["cursor"]) if query.get("cursor", "").isdigit() else 0
            nxt = str(start + PAGE) if start + PAGE < len(found) else None
            return self.answer(200, {"items": found[start : start + PAGE], "next": nxt})
        if path == "/contacts" and method == "POST":
            with lock:
                new_id = str(len(contacts) + 100)
                contacts[new_id] = {**(body if isinstance(body, dict) else {}), "id": new_id}
            return self.answer(201, {"id": new_id})
        if path.startswith("/contacts/"):
            cid = path.removeprefix("/contacts/")
            with lock:
                if cid not in contacts:
                    return self.answer(404, {"message": "no such contact"})
                if method == "PATCH" and isinstance(body, dict):
                    contacts[cid].update(body)
                if method == "DELETE":
                    # Kept, so that every fuzzed find-by-id of a seeded id still finds it.
                    return self.answer(204)
                return self.answer(200, contacts[cid])
        if path == "/deals":
            return self.answer(200, [{"id": 1, "title": f"deal in {query.get('pipeline', '')}"}])
        return self.answer(200, {"method": method, "path": path, "query": query, "body": body})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = route

    def __getattr__(self, name):
        # Any other method (TRACE, QUERY, …) is refused as an API would: 405, not the
        # 501 http.server answers, which the proxy would pass on as a server error.
        if name.startswith("do_"):
            return lambda: self.answer(405, {"message": f"{self.command} not allowed"})
        raise AttributeError(name)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)
