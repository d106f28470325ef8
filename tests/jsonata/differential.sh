#!/usr/bin/env bash
# Re-runs every case of corpus.jsonl through the official SDK's $jsonata formula
# (the differential oracle) and fails if any stored expectation no longer matches it.
# Needs node and the SDK installed in tests/sdk/node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export TZ=UTC
export SDK_NODE_MODULES="${SDK_NODE_MODULES:-$here/../sdk/node_modules}"
export ORACLE="${ORACLE:-$here/../../../shared/tools/sdk-oracle.js}"
[ -f "$ORACLE" ] || ORACLE=/work/shared/tools/sdk-oracle.js
exec node "$here/corpus.js" check
