#!/usr/bin/env bash
# Before and after on one machine in one session: runs the HTTP API benchmark
# (bench/http/run.sh) and the proxy benchmark (bench/proxy/run.sh) on two source
# trees, alternating (HTTP: old, new, new, old, so a drift of the machine during
# the run shows as a difference between the two runs of one tree; proxy: old,
# new), and rewrites the "## Before and after" section of BENCHMARKS.md with the
# real/baseline ratios of each, side by side.
#
#   bench/compare.sh OLD_REV NEW_REV
#
# Each revision is exported with `git archive` to $BENCH_TREES/osmosis-old and
# -new (default under $HOME/.cache) and built in its own target directory
# ($HOME/.cache/osmosis-target-bench-old and -new). Both are kept between runs: an
# archive carries the commit's timestamps, so a tree exported again from the same
# revision is not rebuilt. BENCH_CLIENTS, BENCH_DURATION and BENCH_WARMUP pass
# through.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
old_rev="$(git -C "$repo" rev-parse --short "${1:?old revision}")"
new_rev="$(git -C "$repo" rev-parse --short "${2:?new revision}")"
trees="${BENCH_TREES:-$HOME/.cache/osmosis-bench-trees}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

export_tree() { # rev side
  rm -rf "$trees/osmosis-$2"
  mkdir -p "$trees/osmosis-$2"
  git -C "$repo" archive "$1" | tar -x -C "$trees/osmosis-$2"
}
export_tree "$old_rev" old
export_tree "$new_rev" new

run() { # bench side index
  local rev="$old_rev"
  [ "$2" = new ] && rev="$new_rev"
  CARGO_TARGET_DIR="$HOME/.cache/osmosis-target-bench-$2" OSMOSIS_SOURCE="$trees/osmosis-$2" \
    OSMOSIS_SOURCE_REV="$rev" BENCH_WRITE=0 BENCH_RESULTS_OUT="$work/$1-$2-$3.jsonl" \
    bash "$repo/bench/$1/run.sh" >"$work/$1-$2-$3.log" 2>&1 ||
    { tail -30 "$work/$1-$2-$3.log" >&2; exit 1; }
  echo "$1 $2 ($rev) run $3 done" >&2
}
loadavg="$(cut -d' ' -f1-3 /proc/loadavg)"
run http old 1
run http new 1
run http new 2
run http old 2
run proxy old 1
run proxy new 1
loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 "$repo/bench/compare_report.py" "$repo/BENCHMARKS.md" "$work" "$old_rev" "$new_rev" \
  "$loadavg" "$loadavg_end" "${BENCH_DURATION:-10}"
