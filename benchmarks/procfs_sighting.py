"""The cost of reading /proc at a process's first sighting: ``procfs.read_proc``
(name, parent, exe, argv, uid and the extras sysdig's fields need: session, tty,
pid namespace ids, login uid, environment, cgroups, limits, memory, fds) against
the part cdig read before the extras (status, cmdline, exe), over every process
of this host, median of N rounds.

    .venv/bin/python benchmarks/procfs_sighting.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from cdig.collector import procfs


def names_only(pid: int) -> object:
    """What read_proc read before the extras: status, cmdline, the exe link."""
    base = f"/proc/{pid}"
    status = procfs._read(f"{base}/status")
    if status is None:
        return None
    cmdline = procfs._read(f"{base}/cmdline")
    try:
        exe = os.readlink(f"{base}/exe")
    except OSError:
        exe = ""
    return status, cmdline, exe


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    pids = procfs.list_pids()
    per: dict[str, list[float]] = {"names only": [], "read_proc": []}
    for _ in range(rounds):
        for label, fn in (("names only", names_only), ("read_proc", procfs.read_proc)):
            t = time.perf_counter()
            for pid in pids:
                fn(pid)
            per[label].append((time.perf_counter() - t) / len(pids) * 1e6)
    for label, xs in per.items():
        print(f"{label:>10}: {statistics.median(xs):7.0f} us a process (median of {rounds}, "
              f"{len(pids)} processes)")
    ratio = statistics.median(per["read_proc"]) / statistics.median(per["names only"])
    print(f"ratio {ratio:.1f}x")


if __name__ == "__main__":
    main()
