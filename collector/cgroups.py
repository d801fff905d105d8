"""Where the cgroup hierarchies are, and which cgroup a BPF cgroup id names.

The platform layer for cgroups, used by ``collector.containers``:

- ``cgroup_layout(proc_root)`` reads ``/proc/self/mountinfo`` and says how the
  host mounts cgroups: ``v2`` (only cgroup2, usually at ``/sys/fs/cgroup``),
  ``hybrid`` (v1 controllers plus cgroup2, e.g. at ``/sys/fs/cgroup/unified``),
  ``v1`` (no cgroup2 mounted) or ``none``.
- ``CgroupIndex`` maps a cgroup-v2 id to the cgroup's path and back. The id is
  what ``bpf_get_current_cgroup_id()`` returns: the inode number of the cgroup's
  directory in the cgroup2 filesystem.
- ``cgroup_of_pid(pid)`` reads ``/proc/PID/cgroup``.
- ``collector.cgroup_watch`` reports cgroups made and removed as they happen.

v1-only hosts: with no cgroup2 hierarchy in use, ``bpf_get_current_cgroup_id()``
returns the id of the (unmounted) default hierarchy's root for every task, so the
id tells nothing. There ``CgroupIndex.for_host()`` returns ``None`` and callers
resolve containers per process from ``/proc/PID/cgroup`` (``cgroup_of_pid``
falls back to a v1 hierarchy's path). Hybrid hosts have the same problem for
processes that a runtime placed in v1 controllers only (their cgroup2 path stays
``/``); ``cgroup_of_pid`` covers them too.

Paths are absolute within the hierarchy ("/" is the root, no trailing slash),
the form ``/proc/PID/cgroup`` uses, independent of where the hierarchy is mounted.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .cgroup_paths import nspawn_machine_name

log = logging.getLogger(__name__)

# v1 controllers that can appear in a cgroup mount's super options. Named
# hierarchies (``name=systemd``) are recognised by their prefix.
_V1_CONTROLLERS = frozenset(
    {
        "blkio", "cpu", "cpuacct", "cpuset", "debug", "devices", "freezer",
        "hugetlb", "memory", "misc", "net_cls", "net_prio", "perf_event",
        "pids", "rdma",
    }
)  # fmt: skip

# Which v1 hierarchy's path stands for a process on hosts where the cgroup2 path
# says nothing. Runtimes create the same path in every controller they use;
# name=systemd and pids are the ones most consistently present; memory last,
# because some supervisors nest it differently (seen on this host).
V1_PREFERENCE = (
    "name=systemd", "pids", "cpu", "cpuacct", "blkio", "devices", "freezer",
    "cpuset", "memory",
)  # fmt: skip

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True, slots=True)
class CgroupMount:
    """One mounted cgroup hierarchy, from a ``/proc/self/mountinfo`` line."""

    mountpoint: str  # where it is mounted, e.g. /sys/fs/cgroup/unified
    version: int  # 1 or 2
    root: str = "/"  # the hierarchy path mounted there ("/" unless a subtree is bind-mounted)
    controllers: tuple[str, ...] = ()  # v1 only: ("cpu", "cpuacct"), ("name=systemd",)


@dataclass(frozen=True, slots=True)
class CgroupLayout:
    """How a host mounts cgroups. Produced by ``cgroup_layout``."""

    mode: str  # "v2", "hybrid", "v1" or "none"
    mounts: tuple[CgroupMount, ...] = ()

    @property
    def unified(self) -> CgroupMount | None:
        """The cgroup2 mount to walk, or ``None`` when cgroup2 is not mounted.

        With several, prefer one that shows the whole hierarchy, then the
        conventional places, then the shortest path.
        """
        v2 = [m for m in self.mounts if m.version == 2]
        if not v2:
            return None

        def rank(m: CgroupMount) -> tuple[int, int, int]:
            usual = {"/sys/fs/cgroup": 0, "/sys/fs/cgroup/unified": 1}.get(m.mountpoint, 2)
            return (m.root != "/", usual, len(m.mountpoint))

        return min(v2, key=rank)

    @property
    def unified_root(self) -> str | None:
        """The cgroup2 mountpoint (a directory path), or ``None``."""
        m = self.unified
        return m.mountpoint if m else None

    def v1_mount(self, controller: str) -> CgroupMount | None:
        """The v1 mount holding ``controller`` (``"memory"``, ``"name=systemd"``);
        with several (a container that also sees the host's hierarchy), one
        that shows the whole hierarchy."""
        found = [m for m in self.mounts if m.version == 1 and controller in m.controllers]
        return min(found, key=lambda m: m.root != "/", default=None)

    @property
    def cgroup_ids_usable(self) -> bool:
        """Whether BPF cgroup ids identify cgroups here (False on v1-only hosts)."""
        return self.unified is not None


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space)."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup mounts in the text of a ``/proc/PID/mountinfo`` file.

    Lines that are not cgroup mounts, or are malformed, are ignored.
    """
    mounts: list[CgroupMount] = []
    for line in text.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        if len(fields) < sep + 3:
            continue
        fstype, super_opts = fields[sep + 1], fields[sep + 3] if len(fields) > sep + 3 else ""
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            mounts.append(CgroupMount(mountpoint=mountpoint, version=2, root=root))
        elif fstype == "cgroup":
            ctrls = tuple(
                o for o in super_opts.split(",") if o in _V1_CONTROLLERS or o.startswith("name=")
            )
            mounts.append(
                CgroupMount(mountpoint=mountpoint, version=1, root=root, controllers=ctrls)
            )
    return mounts


def classify(mounts: list[CgroupMount] | tuple[CgroupMount, ...]) -> str:
    """``v2``, ``hybrid``, ``v1`` or ``none`` for a set of cgroup mounts."""
    has_v1 = any(m.version == 1 for m in mounts)
    has_v2 = any(m.version == 2 for m in mounts)
    if has_v2:
        return "hybrid" if has_v1 else "v2"
    return "v1" if has_v1 else "none"


def cgroup_layout(proc_root: str = "/proc") -> CgroupLayout:
    """How this host mounts cgroups, from ``{proc_root}/self/mountinfo``.

    An unreadable mountinfo gives ``CgroupLayout("none")``.
    """
    try:
        with open(os.path.join(proc_root, "self", "mountinfo"), encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        log.debug("cannot read mountinfo under %s: %s", proc_root, e)
        return CgroupLayout("none")
    mounts = parse_mountinfo(text)
    return CgroupLayout(classify(mounts), tuple(mounts))


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Controller -> path from the text of ``/proc/PID/cgroup``.

    The cgroup2 line (``0::/path``) is under the key ``""``; a v1 line
    ``4:cpu,cpuacct:/path`` gives both ``cpu`` and ``cpuacct``.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if not ctrls:
            out[""] = path
            continue
        for c in ctrls.split(","):
            out[c] = path
    return out


def pick_cgroup_path(by_controller: dict[str, str]) -> str:
    """The one path that places a process, from ``parse_proc_cgroup`` output.

    The cgroup2 path when it is not the root; otherwise (v1-only hosts, or
    hybrid hosts where a runtime used only v1 controllers) the first non-root
    path among the v1 hierarchies in ``V1_PREFERENCE`` order, then any other;
    else ``"/"``.
    """
    v2 = by_controller.get("")
    if v2 and v2 != "/":
        return v2
    for c in V1_PREFERENCE:
        p = by_controller.get(c)
        if p and p != "/":
            return p
    for c, p in sorted(by_controller.items()):
        if c and p and p != "/":
            return p
    return "/"


def cgroup_of_pid(pid: int, proc_root: str = "/proc") -> str | None:
    """The cgroup path that places process ``pid``, or ``None`` if it is gone.

    See ``pick_cgroup_path`` for which hierarchy's path is returned.
    """
    try:
        with open(os.path.join(proc_root, str(pid), "cgroup"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        # ENOENT/ESRCH: the process exited, the normal case for short-lived ones.
        return None
    return pick_cgroup_path(parse_proc_cgroup(text))


def join_path(base: str, name: str) -> str:
    return base + name if base.endswith("/") else base + "/" + name


def subdirs(directory: str) -> list[tuple[int, str, str]]:
    """(inode, path, name) of each directory in ``directory``; nothing for one removed
    or unreadable while we walk, an entry that vanishes between the listing and its
    stat left out."""
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError:
        return []
    out = []
    for e in entries:
        try:
            if not e.is_dir(follow_symlinks=False):
                continue
            out.append((e.stat(follow_symlinks=False).st_ino, e.path, e.name))
        except OSError:
            continue
    return out


class CgroupIndex:
    """cgroup-v2 id <-> path, for one cgroup2 mount.

    The id of a cgroup is the inode number of its directory (``st_ino``), which
    is what ``bpf_get_current_cgroup_id()`` returns. The index walks the tree
    once, then again on a lookup miss (a cgroup created since), at most once per
    ``min_rescan_interval`` seconds so a flood of unknown ids cannot keep it
    rescanning. A full walk also forgets cgroups that were removed.

    ``mountpoint`` is the directory the hierarchy is mounted on; ``mount_root``
    is the hierarchy path mounted there ("/" unless a subtree was bind-mounted,
    e.g. inside a container), so returned paths match ``/proc/PID/cgroup``.
    Thread-safe.
    """

    def __init__(
        self,
        mountpoint: str,
        *,
        mount_root: str = "/",
        min_rescan_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mountpoint = mountpoint.rstrip("/") or "/"
        self.mount_root = mount_root if mount_root.startswith("/") else "/" + mount_root
        self.min_rescan_interval = min_rescan_interval  # seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._by_id: dict[int, str] = {}
        self._by_path: dict[str, int] = {}
        self._last_scan: float | None = None
        self.scans = 0  # number of full walks done; for tests and self-metrics

    @classmethod
    def for_host(
        cls, proc_root: str = "/proc", layout: CgroupLayout | None = None, **kwargs: Any
    ) -> CgroupIndex | None:
        """The index of this host's cgroup2 hierarchy, or ``None`` without one (v1)."""
        layout = layout or cgroup_layout(proc_root)
        m = layout.unified
        if m is None:
            return None
        return cls(m.mountpoint, mount_root=m.root, **kwargs)

    # --- paths -------------------------------------------------------------

    def _dir_of(self, path: str) -> str:
        """The directory of hierarchy path ``path`` under the mountpoint."""
        rel = path
        if self.mount_root != "/":
            if path != self.mount_root and not path.startswith(self.mount_root + "/"):
                raise ValueError(f"{path!r} is outside the mounted subtree {self.mount_root!r}")
            rel = path[len(self.mount_root) :] or "/"
        rel = rel.strip("/")
        return os.path.join(self.mountpoint, rel) if rel else self.mountpoint

    def _walk(self) -> Iterator[tuple[int, str]]:
        """(id, path) of every cgroup, depth first; vanished directories skipped."""
        try:
            root_ino = os.stat(self.mountpoint).st_ino
        except OSError as e:
            log.debug("cannot stat cgroup2 root %s: %s", self.mountpoint, e)
            return
        yield root_ino, self.mount_root
        stack = [(self.mountpoint, self.mount_root)]
        while stack:
            directory, path = stack.pop()
            for ino, full, name in subdirs(directory):
                child = join_path(path, name)
                yield ino, child
                stack.append((full, child))

    # --- public ------------------------------------------------------------

    def refresh(self) -> None:
        """Walk the whole tree now and replace the index."""
        by_id = dict(self._walk())
        by_path = {p: i for i, p in by_id.items()}
        with self._lock:
            self._by_id, self._by_path = by_id, by_path
            self._last_scan = self._clock()
            self.scans += 1

    def _maybe_refresh(self) -> bool:
        """Rescan if the last walk is older than the interval; True if it did."""
        now = self._clock()
        with self._lock:
            due = self._last_scan is None or now - self._last_scan >= self.min_rescan_interval
        if due:
            self.refresh()
        return due

    def path_of(self, cgroup_id: int) -> str | None:
        """The path of cgroup ``cgroup_id``, or ``None`` if no such cgroup (now)."""
        with self._lock:
            p = self._by_id.get(cgroup_id)
        if p is not None or not self._maybe_refresh():
            return p
        with self._lock:
            return self._by_id.get(cgroup_id)

    def peek(self, cgroup_id: int) -> str | None:
        """The path of ``cgroup_id`` if the index holds it now; never walks."""
        with self._lock:
            return self._by_id.get(cgroup_id)

    def add(self, cgroup_id: int, path: str) -> None:
        """Record a cgroup seen to appear (``CgroupWatcher``), without a walk."""
        with self._lock:
            old = self._by_path.get(path)
            if old is not None and old != cgroup_id:
                self._by_id.pop(old, None)  # same name made again: a new cgroup
            self._by_id[cgroup_id] = path
            self._by_path[path] = cgroup_id

    def discard(self, path: str) -> int | None:
        """Forget the cgroup at ``path`` (seen removed); its id, if it was known."""
        with self._lock:
            i = self._by_path.pop(path, None)
            if i is not None and self._by_id.get(i) == path:
                del self._by_id[i]
            return i

    def id_of(self, path: str) -> int | None:
        """The id of the cgroup at ``path``, or ``None`` if it does not exist."""
        path = "/" + path.strip("/")
        with self._lock:
            i = self._by_path.get(path)
        if i is not None:
            return i
        try:
            i = os.stat(self._dir_of(path)).st_ino
        except (OSError, ValueError):
            return None
        with self._lock:
            self._by_path[path] = i
            self._by_id[i] = path
        return i

    @property
    def root_id(self) -> int | None:
        """The id of the hierarchy's root cgroup (1 on a real cgroup2 root)."""
        return self.id_of(self.mount_root)

    def items(self, refresh: bool = False) -> list[tuple[int, str]]:
        """A snapshot of (id, path) pairs; walks the tree first if ``refresh``
        or if it was never walked."""
        if refresh or self._last_scan is None:
            self.refresh()
        with self._lock:
            return list(self._by_id.items())

    def subtree_ids(self, path: str) -> set[int]:
        """Ids of the cgroup at ``path`` and all its descendants, walked now."""
        path = "/" + path.strip("/")
        prefix = path.rstrip("/") + "/"
        return {i for i, p in self.items(refresh=True) if p == path or p.startswith(prefix)}

    def __contains__(self, cgroup_id: object) -> bool:
        with self._lock:
            return cgroup_id in self._by_id


def nspawn_supervised(index: CgroupIndex | None, proc_root: str, payload: str) -> str:
    """The machine name if ``payload`` is the cgroup ``systemd-nspawn --keep-unit``
    made for its container (without machined it splits its own cgroup into
    ``supervisor``, where it stays, and ``payload``); "" if not (yet)."""
    if index is None:
        return ""
    try:
        procs = os.path.join(index._dir_of(payload[: -len("payload")] + "supervisor"),
                             "cgroup.procs")
        with open(procs, encoding="ascii") as f:
            pids = f.read().split()[:8]
    except (OSError, ValueError):
        return ""
    for pid in pids:
        try:
            with open(os.path.join(proc_root, pid, "cmdline"), "rb") as f:
                argv = [os.fsdecode(a) for a in f.read(65536).split(b"\0") if a]
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == "systemd-nspawn":
            return nspawn_machine_name(argv) or payload.rstrip("/").split("/")[-2]
    return ""

