#!/usr/bin/env bash
# Differential test of the Osmosis runtime against @membranehq/sdk.
#   tests/runtime/differential.sh                 hand-written cases + 20,000 generated (seed 1)
#   SEED=random COUNT=1000000 tests/runtime/differential.sh   a large random run
# OSMOSIS_RUNTIME_EVAL: the evaluator command (reads oracle JSONL on stdin).
# SDK_ORACLE: the SDK oracle script (required; scripts/test.sh sets it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
eval_cmd="${OSMOSIS_RUNTIME_EVAL:-cargo run -q --release -p osmosis-runtime --example oracle_eval}"
sdk_modules="${SDK_NODE_MODULES:-$root/tests/sdk/node_modules}"
oracle="${SDK_ORACLE:?set SDK_ORACLE to the SDK oracle script (sdk-oracle.js; scripts/test.sh uses ../shared/tools/sdk-oracle.js beside the clone)}"
[ -f "$oracle" ] || { echo "SDK_ORACLE=$oracle: no such file" >&2; exit 1; }
seed="${SEED:-1}"
count="${COUNT:-20000}"
if [ "$seed" = random ]; then seed=$(( (RANDOM << 15) | RANDOM )); fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat "$here"/cases/*.jsonl > "$work/cases.jsonl"
node "$here/generate.js" --seed "$seed" --count "$count" >> "$work/cases.jsonl"
echo "seed $seed, $(wc -l < "$work/cases.jsonl") cases"

TZ=UTC NODE_PATH="$sdk_modules" node "$oracle" < "$work/cases.jsonl" > "$work/sdk.jsonl"
(cd "$root" && $eval_cmd) < "$work/cases.jsonl" > "$work/osmosis.jsonl"
if [ -n "${KEEP:-}" ]; then cp "$work"/*.jsonl "$KEEP"/; fi
node "$here/compare.js" "$work/cases.jsonl" "$work/sdk.jsonl" "$work/osmosis.jsonl"
