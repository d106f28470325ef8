#!/usr/bin/env bash
# Runs the README's quick start exactly as written: the shell block between
# `<!-- quickstart:begin -->` and `<!-- quickstart:end -->`, in a fresh folder, with
# `osmosis` being the binary under test (OSMOSIS_BIN; the README's own alias runs
# `cargo run --release`, which CI does not build). Then checks what each step
# printed, so the README cannot drift from what Osmosis does.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${OSMOSIS_BIN:?set OSMOSIS_BIN to the osmosis binary}"
work="$(mktemp -d)"
block="$work/quickstart.sh"
awk '/<!-- quickstart:begin -->/{on=1; next} /<!-- quickstart:end -->/{on=0} on' "$root/README.md" |
  sed -e '/^```/d' >"$block"
[ -s "$block" ] || { echo "no quick start block in README.md" >&2; exit 1; }
if curl -fsS -o /dev/null http://127.0.0.1:8080/health 2>/dev/null; then
  echo "something already answers on 127.0.0.1:8080, which the quick start uses" >&2
  exit 1
fi

group=""
cleanup() {
  # The block starts the server in the background, in the block's own process
  # group: end the group (the server drains and exits on SIGTERM).
  if [ -n "$group" ]; then
    kill -TERM -- "-$group" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
{
  # `osmosis` as the README's reader has it, pointed at the binary under test.
  echo "osmosis() { \"$bin\" \"\$@\"; }"
  echo "set -euo pipefail"
  cat "$block"
} >"$work/run.sh"
echo "--- the quick start, as README.md has it:"
cat "$block"
echo "---"
setsid bash "$work/run.sh" >"$work/out.txt" 2>"$work/err.txt" &
group=$!
status=0
wait "$group" || status=$?
if [ "$status" != 0 ]; then
  echo "the quick start failed (exit $status):" >&2
  cat "$work/out.txt" "$work/err.txt" >&2
  exit 1
fi
cat "$work/out.txt"
python3 "$root/tests/quickstart/check.py" "$work/out.txt"
echo "quick start: every step printed what the README says"
