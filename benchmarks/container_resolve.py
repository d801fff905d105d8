#!/usr/bin/env python3
"""How soon a new container is named: cgroup made -> metadata landed.

For each runtime (podman, runc, docker, containerd via ctr, LXC) this starts
``--runs`` containers of the test image, each running the gated ``cdigwork``
workload, with ``ContainerResolver(watch=True)`` running, and records on one
monotonic clock:

- ``cgroup``: the container's cgroup directory appears (an independent
  ``CgroupWatcher`` of this script, inotify),
- ``exec``: the workload program runs in it (a task of the cgroup whose comm
  is ``cdigwork``: the container's first syscall of its own program follows
  immediately; polled every ``--poll-ms``),
- ``named``: ``resolver.pending(cgroup id)`` turns False with the runtime's
  name on the container (polled the same way),
- ``landed``: the resolver's own record of when the lookup ended
  (``lookup_times``).

Printed per runtime: medians (and max) of named-cgroup, exec-cgroup and
named-exec (negative: named before the program started). Needs root and the
runtimes; dockerd/containerd are started like the tests do.

    sudo .venv/bin/python benchmarks/container_resolve.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchlib import unmet_needs

from cdig.collector.cgroup_watch import CgroupWatcher
from cdig.collector.cgroups import cgroup_layout
from cdig.collector.containers import ContainerResolver
from tests.integration import containers as h


class Births:
    """Every cgroup created, with the time this process saw it (own watcher)."""

    def __init__(self) -> None:
        w = CgroupWatcher.for_layout(cgroup_layout())
        if w is None:
            raise SystemExit("no cgroup hierarchy to watch")
        self.w = w
        self.w.start()
        self.seen: dict[str, float] = {}
        self.ids: dict[str, int] = {}
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop:
            for ch in self.w.read(0.2):
                if ch.kind == "created":
                    self.seen.setdefault(ch.path, time.monotonic())
                    self.ids[ch.path] = ch.id

    def close(self) -> None:
        self._stop = True
        self._t.join(1)
        self.w.close()


def _comm_in(path: str, mount: str) -> bool:
    try:
        with open(os.path.join(mount, path.lstrip("/"), "cgroup.procs")) as f:
            pids = f.read().split()
    except OSError:
        return False
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == h.WORKLOAD_NAME:
                    return True
        except OSError:
            continue
    return False


def one_run(
    kind: str, make, resolver: ContainerResolver, births: Births, mount: str, poll: float
) -> dict[str, float] | None:
    c = make()
    errors: list[BaseException] = []

    def launch() -> None:
        try:
            c.start(gates=1)
        except BaseException as e:  # reported below
            errors.append(e)

    t0 = time.monotonic()
    th = threading.Thread(target=launch)
    th.start()
    t_exec = t_named = None
    path = None
    deadline = t0 + 60
    try:
        while time.monotonic() < deadline:
            if path is None and c.pid:
                path = c.cgroup
            # before the runtime's CLI returns, the cgroup is one born since t0:
            # the one whose container gets this (unique) name, or runs cdigwork
            cands = [path] if path else [p for p, t in list(births.seen.items()) if t >= t0]
            for p in cands:
                if t_exec is None and p in births.seen and _comm_in(p, mount):
                    t_exec = time.monotonic()
                cgid = births.ids.get(p)
                if t_named is None and cgid is not None and not resolver.pending(cgid):
                    if resolver.resolve(cgid).name == c.name:
                        t_named = time.monotonic()
            if t_exec and t_named and not th.is_alive():
                break
            time.sleep(poll)
        th.join(60)
        if errors:
            raise errors[0]
        if path is None or path not in births.seen or not (t_exec and t_named):
            print(
                f"  {kind}: incomplete run (path={path}, exec={t_exec}, named={t_named})",
                file=sys.stderr,
            )
            return None
        t_cg = births.seen[path]
        key = (resolver.resolve(births.ids[path]).runtime, getattr(c, "id", c.name))
        started, landed, source = resolver.lookup_times().get(key, (0.0, 0.0, ""))
        return {
            "named": t_named - t_cg,
            "exec": t_exec - t_cg,
            "named_minus_exec": t_named - t_exec,
            "landed": (landed - t_cg) if landed else float("nan"),
            "source": source,
        }
    finally:
        c.go()
        try:
            c.wait(30)
        except Exception:  # removal below is what matters
            pass
        c.remove()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--runtimes", default="podman,runc,docker,containerd,lxc")
    ap.add_argument("--poll-ms", type=float, default=1.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lacking = unmet_needs()
    if lacking:
        raise SystemExit(lacking)
    work = Path(tempfile.mkdtemp(prefix="cdig-resolve-"))
    wl = h.build_workload(work / "cdigwork")
    rootfs = h.build_rootfs(work / "rootfs", wl)
    kinds = args.runtimes.split(",")
    makers = {}
    n = iter(range(10**6))
    w = h.Workload().getppid(1)
    if "podman" in kinds:
        img = h.ensure_podman_image(rootfs, work)
        makers["podman"] = lambda: h.PodmanContainer(
            img, work / f"c{next(n)}", w, name=h.unique_name("bench")
        )
    if "runc" in kinds:
        makers["runc"] = lambda: h.RuncContainer(
            rootfs, work / f"c{next(n)}", w, name=h.unique_name("bench")
        )
    if "docker" in kinds or "containerd" in kinds:
        reason = h.ensure_dockerd()
        if reason:
            raise SystemExit(reason)
        dimg = h.ensure_docker_image(rootfs, work)
        if "docker" in kinds:
            makers["docker"] = lambda: h.DockerContainer(
                dimg, work / f"c{next(n)}", w, name=h.unique_name("bench")
            )
        if "containerd" in kinds:
            cimg = h.ensure_ctr_image("k8s.io", dimg)
            makers["containerd"] = lambda: h.CtrContainer(
                cimg,
                work / f"c{next(n)}",
                w,
                name=h.unique_name("bench"),
                labels={"io.kubernetes.pod.name": "bench-0"},
            )
    if "lxc" in kinds:
        makers["lxc"] = lambda: h.LxcContainer(
            wl, work / f"c{next(n)}", w, name=h.unique_name("bench")
        )
    layout = cgroup_layout()
    mount = layout.unified_root
    if mount is None:
        raise SystemExit("needs cgroup2 (ids) for this benchmark")
    births = Births()
    resolver = ContainerResolver.for_host(watch=True)
    results: dict[str, list[dict]] = {}
    try:
        for kind, make in makers.items():
            rows = []
            for _ in range(args.runs):
                r = one_run(kind, make, resolver, births, mount, args.poll_ms / 1000)
                if r:
                    rows.append(r)
            results[kind] = rows
    finally:
        resolver.close()
        births.close()
        h.sweep_leftovers(all_of_mine=True)
    ms = lambda xs: f"{statistics.median(xs) * 1000:8.1f} ({max(xs) * 1000:7.1f})"  # noqa: E731
    print(
        f"{'runtime':<11} {'runs':>4}  {'named-cgroup ms':>18}  {'exec-cgroup ms':>18}  "
        f"{'named-exec ms':>18}  source",
        file=sys.stderr,
    )
    for kind, rows in results.items():
        if not rows:
            print(f"{kind:<11} {0:>4}  (no complete run)", file=sys.stderr)
            continue
        srcs = sorted({r["source"] for r in rows})
        print(
            f"{kind:<11} {len(rows):>4}  {ms([r['named'] for r in rows]):>18}  "
            f"{ms([r['exec'] for r in rows]):>18}  "
            f"{ms([r['named_minus_exec'] for r in rows]):>18}  {','.join(srcs)}",
            file=sys.stderr,
        )
    print(
        "(medians, max in parentheses; named-exec < 0: named before the program ran)",
        file=sys.stderr,
    )
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
