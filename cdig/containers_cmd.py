"""``cdig containers``: the containers running on this host, from /proc and
the runtimes' metadata (no BPF needed)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from .cli import EXIT_OK


def collect(resolver, proc_root: str = "/proc") -> list[tuple[object, int]]:
    """(container, number of processes) for every container with a process."""
    from cdig.collector.procfs import list_pids

    seen: dict[str, object] = {}
    counts: Counter[str] = Counter()
    for pid in list_pids(proc_root):
        c = resolver.resolve_pid(pid)
        seen.setdefault(c.id, c)
        counts[c.id] += 1
    return sorted(((seen[i], n) for i, n in counts.items()),
                  key=lambda cn: (cn[0].runtime == "host", cn[0].runtime, cn[0].name))


def run_containers(args: argparse.Namespace, out=None) -> int:
    from cdig.collector.containers import ContainerResolver
    from cdig.collector.formatter import escape_text

    out = out or sys.stdout
    with ContainerResolver.for_host() as resolver:
        rows = collect(resolver)
    if args.json:
        for c, n in rows:
            out.write(json.dumps({
                "container.id": c.short_id, "container.full_id": c.id,
                "container.name": c.name, "container.image": c.image,
                "container.type": c.runtime, "k8s.pod.name": c.pod_name,
                "k8s.ns.name": c.pod_namespace, "pids": n}) + "\n")
        return EXIT_OK
    header = ("CONTAINER ID", "NAME", "IMAGE", "RUNTIME", "POD", "PIDS")
    table = [header] + [
        tuple(escape_text(str(v)) for v in (
            c.short_id, c.name, c.image or "-", c.runtime,
            f"{c.pod_namespace}/{c.pod_name}" if c.pod_name else "-", n))
        for c, n in rows]
    widths = [min(max(len(r[i]) for r in table), 40) for i in range(len(header))]
    for r in table:
        out.write("  ".join(v[:w].ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                  + "\n")
    return EXIT_OK
