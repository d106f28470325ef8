#!/usr/bin/env bash
# Runs the sandbox benchmark (crates/sandbox/benches/sandbox.rs) and replaces the
# "JavaScript sandbox" section of BENCHMARKS.md with its summary table.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
# BENCH_WORKSPACE: where to run cargo, when the workspace root does not load.
(cd "${BENCH_WORKSPACE:-$root}" && SANDBOX_BENCH_SUMMARY="$summary" cargo bench -p osmosis-sandbox --bench sandbox)
PYTHONPATH="$root/bench" python3 - "$root/BENCHMARKS.md" "$summary" <<'PY'
import pathlib, subprocess, sys
from benchmarks_md import write_section
path, summary = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_text()
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
section = (
    "## JavaScript sandbox\n\n"
    "`bench/sandbox/run.sh` (criterion bench `crates/sandbox/benches/sandbox.rs`), "
    f"on {cpu or 'this machine'}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores. "
    "Target: cold start under 5 ms.\n\n" + summary.strip() + "\n"
)
write_section(path, section)
PY
