"""Peak memory of an engine during one load point.

    python3 rss.py PID OUT.json   # samples until SIGTERM, then writes OUT.json

At start it resets the peak RSS (VmHWM) of PID and of every process under it
(`/proc/<pid>/clear_refs` 5, root or the same user), then every 50 ms sums VmRSS
over PID and its descendants (n8n's node process has none unless task runners are
on; `osmosis serve` is one process). On SIGTERM it writes
`{"peak_kb", "hwm_kb", "tree_peak_kb", "processes"}`: `hwm_kb` the VmHWM of PID's
tree read at the end (exact for one process), `tree_peak_kb` the largest sampled
sum, `peak_kb` the larger of the two."""

import json
import os
import signal
import sys
import time


def children(pid):
    """PID and its descendants, from /proc/*/stat's ppid."""
    by_parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ')'.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        by_parent.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(by_parent.get(p, []))
    return out


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    root, out = int(sys.argv[1]), sys.argv[2]
    for p in children(root):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError as e:
            print(f"cannot reset VmHWM of {p}: {e}; its peak is since it started", file=sys.stderr)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    tree_peak, seen = 0, set()
    while not stop:
        procs = children(root)
        seen.update(procs)
        tree_peak = max(tree_peak, sum(status_kb(p, "VmRSS") for p in procs))
        time.sleep(0.05)
    procs = children(root)
    hwm = sum(status_kb(p, "VmHWM") for p in procs)
    with open(out, "w") as f:
        json.dump({"peak_kb": max(hwm, tree_peak), "hwm_kb": hwm, "tree_peak_kb": tree_peak,
                   "processes": len(seen)}, f)


if __name__ == "__main__":
    main()
