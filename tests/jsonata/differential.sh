#!/usr/bin/env bash
# Re-runs every case of corpus.jsonl through the official SDK's $jsonata formula
# (the differential oracle) and fails if any stored expectation no longer matches it.
# Needs node, the SDK installed in tests/sdk/node_modules, and SDK_ORACLE naming the
# SDK oracle script (scripts/test.sh sets it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export TZ=UTC
export SDK_NODE_MODULES="${SDK_NODE_MODULES:-$here/../sdk/node_modules}"
: "${SDK_ORACLE:?set SDK_ORACLE to the SDK oracle script (sdk-oracle.js; scripts/test.sh uses ../shared/tools/sdk-oracle.js beside the clone)}"
[ -f "$SDK_ORACLE" ] || { echo "SDK_ORACLE=$SDK_ORACLE: no such file" >&2; exit 1; }
export SDK_ORACLE
exec node "$here/corpus.js" check
