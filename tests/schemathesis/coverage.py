"""Says which operations of the document schemathesis brought to success: at least
one positive case answered 2xx (and so checked against the response schema, as
run.sh runs every check on every response), in any phase. An operation without one
was only ever answered with errors: its success path and success schema went
untested.

usage: coverage.py DOCUMENT.json REPORT.json EXPECTED_WITHOUT
REPORT is schemathesis's `--report json`. EXPECTED_WITHOUT lists the operations
known to have no success (`METHOD /path  # why`); the run fails when another
operation had none, or when a listed one did (the list must not go stale).
"""

import json
import sys

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def operations(document):
    with open(document) as f:
        paths = json.load(f)["paths"]
    return sorted(f"{m.upper()} {p}" for p, item in paths.items() for m in item if m in METHODS)


def succeeded(report):
    """Operations with an accepted (2xx) positive case in some phase."""
    with open(report) as f:
        rates = json.load(f)["valid_rates"]
    return {label for label, phases in rates.items() if any(p["accepted"] for p in phases.values())}


def expected_without(path):
    out = {}
    with open(path) as lines:
        for line in lines:
            label, _, why = line.partition("#")
            if label.strip():
                out[label.strip()] = why.strip()
    return out


def main():
    document, report, expected = sys.argv[1:4]
    ops = operations(document)
    ok = succeeded(report)
    without = [label for label in ops if label not in ok]
    allowed = expected_without(expected)
    print(f"operations that answered a positive case with 2xx: {len(ops) - len(without)}/{len(ops)}")
    failed = False
    for label in without:
        if label in allowed:
            print(f"  none, as expected: {label} ({allowed[label]})")
        else:
            print(f"FAIL: {label} never answered a positive case with 2xx: seed it (seed.py), or fix the API")
            failed = True
    for label in allowed:
        if label not in ops:
            print(f"FAIL: {expected} lists {label}, which is not an operation of the document")
            failed = True
        elif label in ok:
            print(f"FAIL: {label} answers 2xx now: drop it from {expected}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
