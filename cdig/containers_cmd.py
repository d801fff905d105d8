"""``cdig containers``: the containers running on this host, from /proc and
the runtimes' metadata (no BPF needed).

Every runtime is asked at once (the resolver's parallel lookups) and the table
is printed when they all answered, or after ``METADATA_WAIT_S`` seconds: a
runtime that did not answer by then is named on stderr and its containers are
shown by id, so a hung daemon delays the listing by a second, not forever.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from typing import IO

from .collector.containers import ContainerResolver
from .collector.events import Container
from .collector.formatter import escape_text
from .collector.procfs import list_pids
from .errors import EXIT_OK

METADATA_WAIT_S = 1.0  # seconds


def collect(resolver: ContainerResolver, proc_root: str = "/proc") -> list[tuple[Container, int]]:
    """(container, number of processes) for every container with a process."""
    seen: dict[str, Container] = {}
    counts: Counter[str] = Counter()
    for pid in list_pids(proc_root):
        c = resolver.resolve_pid(pid)
        seen.setdefault(c.id, c)
        counts[c.id] += 1
    return sorted(((seen[i], n) for i, n in counts.items()),
                  key=lambda cn: (cn[0].runtime == "host", cn[0].runtime, cn[0].name))


def unanswered(resolver: ContainerResolver,
               containers: Iterable[Container]) -> list[tuple[str, str, int]]:
    """(runtime, what happened, number of containers) for the runtimes whose
    lookups did not end (``did not answer``) or found nothing (``knew nothing
    about``), from ``resolver.lookup_times()``."""
    by_id: dict[str, tuple[str, float, str]] = {}
    for (runtime, cid), (_, landed, source) in resolver.lookup_times().items():
        by_id[cid] = (runtime, landed, source)
    out: Counter[tuple[str, str]] = Counter()
    for c in containers:
        hit = by_id.get(c.id)
        if hit is None:
            continue  # not a runtime's (lxc, systemd units, host): nothing to ask
        runtime, landed, source = hit
        if not landed:
            out[(c.runtime if c.runtime not in ("unknown", "kubernetes") else runtime,
                 "did not answer")] += 1
        elif not source:
            out[(c.runtime, "knew nothing about")] += 1
    return sorted((rt, what, n) for (rt, what), n in out.items())


def run_containers(args: argparse.Namespace, out: IO[str] | None = None,
                   err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    with ContainerResolver.for_host() as resolver:
        rows = collect(resolver)
        resolver.wait_for_metadata(METADATA_WAIT_S)
        silent = unanswered(resolver, [c for c, _ in rows])
    for runtime, what, n in silent:
        some = f"{n} container{'s' if n != 1 else ''}"
        if what == "did not answer":
            line = f"{runtime} did not answer within {METADATA_WAIT_S:g} s ({some} shown by id)"
        else:
            line = f"{runtime} knew nothing about {some} (shown by id)"
        err.write(f"cdig: {escape_text(line)}\n")
    if args.json:
        for c, n in rows:
            out.write(json.dumps({
                "container.id": c.short_id, "container.full_id": c.id,
                "container.name": c.name, "container.image": c.image,
                "container.type": c.runtime, "k8s.pod.name": c.pod_name,
                "k8s.ns.name": c.pod_namespace, "pids": n}) + "\n")
        return EXIT_OK
    header = ("CONTAINER ID", "NAME", "IMAGE", "RUNTIME", "POD", "PIDS")
    table: list[tuple[str, ...]] = [header] + [
        tuple(escape_text(str(v)) for v in (
            c.short_id, c.name, c.image or "-", c.runtime,
            f"{c.pod_namespace}/{c.pod_name}" if c.pod_name else "-", n))
        for c, n in rows]
    widths = [min(max(len(r[i]) for r in table), 40) for i in range(len(header))]
    for r in table:
        out.write("  ".join(v[:w].ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                  + "\n")
    return EXIT_OK
