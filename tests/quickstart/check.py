"""Checks what the README's quick start printed, step by step (tests/quickstart/run.sh)."""
import json
import sys

lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
answers = []
for line in lines:
    try:
        answers.append(json.loads(line))
    except json.JSONDecodeError:
        sys.exit(f"a step printed something that is not JSON: {line!r}")


def step(n, what, ok):
    if not ok:
        sys.exit(f"step {n} ({what}) printed {json.dumps(answers[n])}")


if len(answers) != 7:
    sys.exit(f"expected 7 answers, got {len(answers)}: {answers}")
ws, integration, action, connection, created, listed, runs = answers
step(0, "workspace create", ws.get("key") == "my-app" and ws.get("secret"))
step(1, "integration", integration.get("key") == "crm" and integration.get("connectorId"))
step(2, "action", action.get("key") == "list-contacts" and action.get("type") == "list-data-records")
step(3, "connection", connection.get("id") and not connection.get("disconnected"))
step(4, "the API request", created.get("actionRunId") and created["output"].get("email") == "ada@example.com")
records = listed.get("output", {}).get("records", [])
step(5, "the action", listed.get("actionRunId") and [r.get("name") for r in records] == ["Ada Lovelace"])
step(6, "run logs", len(runs.get("items", [])) == 2 and all(r["status"] == "success" for r in runs["items"]))
# Nothing the steps printed carries the workspace secret but its own creation.
secret = ws["secret"]
if any(secret in json.dumps(a) for a in answers[1:]):
    sys.exit("the workspace secret appears in an API answer")
