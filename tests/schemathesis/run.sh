#!/usr/bin/env bash
# Fuzzes every operation of /openapi.json with schemathesis against a fresh server:
# no 5xx, and every response must match the document (status, content type, schema).
# The server is seeded first (seed.py: elements of every type, a connection to a mock
# API, mock_api.py) and schemathesis fuzzes a copy of the document whose selector
# parameters take the seeded ids, so success responses are checked too; coverage.py
# then fails the stage if an operation never answered a positive case with 2xx,
# unless no-success.txt says why it cannot.
# Bounded by MAX_EXAMPLES per operation (default 12) so it finishes in a few minutes.
# One worker: with two, hypothesis parses lambda sources with `ast.parse` from both
# threads at once, which CPython 3.11 (the venv's) can fail with "SystemError: AST
# constructor recursion depth mismatch" — a "Runtime Error" of the run, not of the API
# (two runs in three over the 454 operations; one worker took 209 s, two 242 s).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${OSMOSIS_BIN:?set OSMOSIS_BIN to the osmosis binary}"
st="${SCHEMATHESIS:-schemathesis}"
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key=fuzz-ws
secret="fuzz-secret-$RANDOM$RANDOM"
python3 "$here/mock_api.py" >"$data/mock.url" 2>"$data/mock.log" &
mock=$!
# The mock API listens on this machine, which outbound calls may then reach.
OSMOSIS_WORKSPACE_KEY="$key" OSMOSIS_WORKSPACE_SECRET="$secret" RUST_LOG=warn \
  OSMOSIS_OUTBOUND_ALLOW="127.0.0.0/8,::1" \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>"$data/server.log" &
pid=$!
trap 'kill $pid $mock 2>/dev/null; wait $pid $mock 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do [ -s "$data/mock.url" ] && break; sleep 0.1; done
token="$(node "$here/token.js" "$key" "$secret")"
customer="$(python3 "$here/seed.py" "http://127.0.0.1:$port" "$token" "$(head -1 "$data/mock.url")" "$data/openapi.json")"
OSMOSIS_CUSTOMER_TOKEN="$(node "$here/token.js" "$key" "$secret" "$customer")"
export OSMOSIS_CUSTOMER_TOKEN
status=0
"$st" --config-file "$here/schemathesis.toml" run "$data/openapi.json" \
  --url "http://127.0.0.1:$port" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${MAX_EXAMPLES:-12}" \
  --generation-deterministic \
  --workers 1 \
  --phases examples,coverage,fuzzing \
  --suppress-health-check all \
  --report json --report-json-path "$data/report.json" \
  --no-color || status=$?
python3 "$here/coverage.py" "$data/openapi.json" "$data/report.json" "$here/no-success.txt" || status=1
if grep -q "panicked" "$data/server.log"; then
  echo "the server panicked during fuzzing:"; grep -B2 -A10 panicked "$data/server.log"; exit 1
fi
exit $status
