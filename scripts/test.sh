#!/usr/bin/env bash
# Runs every test of Osmosis: lint, Rust tests on SQLite and on PostgreSQL, the SDK
# compatibility suite, the connect flow in headless Chromium, the README's quick start,
# the runtime and JSONata differential tests against the SDK, and schemathesis against
# /openapi.json. Needs what .ci/run installs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/osmosis-target}"
export OSMOSIS_TEST_PG_URL="${OSMOSIS_TEST_PG_URL:-postgres://127.0.0.1:5432/test}"
bin="$CARGO_TARGET_DIR/debug/osmosis"
# The SDK oracle script of the differential tests (tests/runtime, tests/jsonata), which
# read it from SDK_ORACLE only. By default it is the one in shared/, beside the clone.
export SDK_ORACLE="${SDK_ORACLE:-$root/../shared/tools/sdk-oracle.js}"

step() { printf '\n==> %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "build"
cargo build --workspace --all-targets --quiet

step "Rust tests on SQLite"
OSMOSIS_TEST_DATABASE=sqlite cargo nextest run --workspace --no-fail-fast

step "Rust tests on PostgreSQL (every crate over the store)"
bash scripts/ensure-postgres.sh
# Every test that can reach a database: those of the store and of each crate built
# on it (the engine, the API, the binary), on PostgreSQL this time. The other
# crates never open a store, so the SQLite pass already ran all they have.
OSMOSIS_TEST_DATABASE=postgres cargo nextest run --workspace -E 'rdeps(osmosis-store)' --no-fail-fast

step "SDK compatibility suite (SQLite)"
(cd tests/sdk && OSMOSIS_BIN="$bin" npm test)

step "SDK compatibility suite (PostgreSQL)"
(cd tests/sdk && OSMOSIS_BIN="$bin" OSMOSIS_TEST_DATABASE_URL="$OSMOSIS_TEST_PG_URL" npm test)

step "connect flow in headless Chromium (SDK browser bundle, mock OAuth provider)"
(cd tests/browser && OSMOSIS_BIN="$bin" npm test)

step "the README's quick start, as written"
OSMOSIS_BIN="$bin" bash tests/quickstart/run.sh

step "runtime differential test against the SDK"
OSMOSIS_RUNTIME_EVAL="$bin runtime eval" bash tests/runtime/differential.sh

step "JSONata corpus against the SDK"
bash tests/jsonata/differential.sh

step "schemathesis against /openapi.json"
OSMOSIS_BIN="$bin" bash tests/schemathesis/run.sh

echo
echo "all test stages passed"
