"""New and removed cgroups the moment they happen: ``CgroupWatcher`` watches every
directory of one hierarchy with inotify and reports ``CgroupChange``s, so a container's
cgroup is known before its first syscall is filtered (``collector.containers``)."""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import inotify
from .cgroups import V1_PREFERENCE, CgroupLayout, join_path, subdirs

log = logging.getLogger(__name__)


# What a watched cgroup directory reports: children made or removed (mkdir/rmdir,
# which is how every runtime and systemd create cgroups), and its own removal.
_WATCH_MASK = (
    inotify.IN_CREATE
    | inotify.IN_DELETE
    | inotify.IN_MOVED_TO
    | inotify.IN_MOVED_FROM
    | inotify.IN_DELETE_SELF
    | inotify.IN_ONLYDIR
)


@dataclass(frozen=True, slots=True)
class CgroupChange:
    """A cgroup that appeared or went away. Produced by ``CgroupWatcher.read``.

    ``kind`` is ``created``, ``removed`` or ``overflow`` (the kernel's event
    queue overflowed: changes were lost, rescan; id 0 and path "")."""

    kind: str
    id: int
    path: str


class CgroupWatcher:
    """New and removed cgroups of one hierarchy the moment they happen (inotify).

    Every directory of the hierarchy is watched (the cgroup2 mount, or on
    v1-only hosts the v1 hierarchy that places processes), up to
    ``max_watches`` of them: container cgroups appear under parents that no
    fixed list names (``/<containerd namespace>/<id>``, ``/lxc.payload.NAME``,
    ``docker --cgroup-parent``), and nested ones (systemd or docker inside a
    container) below the container's own. A directory made while its parent's
    watch was being added is found by listing the directory right after its
    watch is in place, so nothing created after ``start()`` is missed. Beyond
    ``max_watches`` (fs.inotify.max_user_watches is per user and shared)
    ``complete`` turns False and the caller falls back to rescans.

    One thread calls ``start``/``read``; ``fd`` can go into its ``select``.
    """

    def __init__(self, mountpoint: str, *, mount_root: str = "/", max_watches: int = 16384) -> None:
        self.mountpoint = mountpoint.rstrip("/") or "/"
        self.mount_root = mount_root if mount_root.startswith("/") else "/" + mount_root
        self.max_watches = max_watches
        self.complete = True  # False once a directory could not be watched
        self._ino = inotify.Inotify()
        self._wd: dict[int, tuple[str, str]] = {}  # wd -> (directory, hierarchy path)
        self._by_path: dict[str, int] = {}  # hierarchy path -> wd

    @classmethod
    def for_layout(cls, layout: CgroupLayout, **kwargs: Any) -> CgroupWatcher | None:
        """A watcher of the hierarchy whose ids (or, on v1-only hosts, whose
        paths) place processes; ``None`` without cgroups. Raises ``OSError``
        if inotify is unavailable."""
        m = layout.unified
        if m is None:
            for c in V1_PREFERENCE:
                m = layout.v1_mount(c)
                if m is not None:
                    break
        if m is None:
            return None
        return cls(m.mountpoint, mount_root=m.root, **kwargs)

    @property
    def fd(self) -> int:
        return self._ino.fd

    @property
    def watches(self) -> int:
        return len(self._wd)

    def _watch_tree(self, directory: str, path: str, out: list[CgroupChange]) -> None:
        """Watch ``directory`` and everything below it; report what is there
        below it as created. Watch first, then list: a child made in between
        shows up in the listing or as an event (possibly both: callers treat
        ``created`` idempotently)."""
        stack = [(directory, path)]
        while stack:
            d, p = stack.pop()
            if p not in self._by_path:
                if len(self._wd) >= self.max_watches:
                    if self.complete:
                        log.warning(
                            "watching %d cgroups already; newer ones are found by rescans",
                            len(self._wd),
                        )
                    self.complete = False
                    continue
                try:
                    wd = self._ino.add_watch(d, _WATCH_MASK)
                except OSError as e:
                    if e.errno not in (errno.ENOENT, errno.ENOTDIR):  # vanished: normal
                        log.debug("cannot watch %s: %s", d, e)
                        self.complete = False
                    continue
                self._wd[wd] = (d, p)
                self._by_path[p] = wd
            for ino, full, name in subdirs(d):
                child = join_path(p, name)
                out.append(CgroupChange("created", ino, child))
                stack.append((full, child))

    def start(self) -> list[CgroupChange]:
        """Watch the whole hierarchy; the cgroups there now (``created``), the
        root first. Raises ``OSError`` if the root cannot be watched."""
        st = os.stat(self.mountpoint)
        wd = self._ino.add_watch(self.mountpoint, _WATCH_MASK)  # fails loudly; the rest may not
        self._wd[wd] = (self.mountpoint, self.mount_root)
        self._by_path[self.mount_root] = wd
        out = [CgroupChange("created", st.st_ino, self.mount_root)]
        self._watch_tree(self.mountpoint, self.mount_root, out)
        return out

    def _forget(self, path: str) -> None:
        prefix = path.rstrip("/") + "/"
        for p in [p for p in self._by_path if p == path or p.startswith(prefix)]:
            wd = self._by_path.pop(p)
            self._wd.pop(wd, None)

    def read(self, timeout: float | None = 0.0) -> list[CgroupChange]:
        """Changes that happened since the last call, waiting up to ``timeout``
        seconds for the first one (``None``: until one comes)."""
        out: list[CgroupChange] = []
        for ev in self._ino.read(timeout):
            if ev.mask & inotify.IN_Q_OVERFLOW:
                out.append(CgroupChange("overflow", 0, ""))
                self._watch_tree(self.mountpoint, self.mount_root, out)  # idempotent
                continue
            where = self._wd.get(ev.wd)
            if where is None:
                continue
            d, p = where
            if ev.mask & inotify.IN_IGNORED:  # the directory is gone, so is its watch
                self._wd.pop(ev.wd, None)
                if self._by_path.get(p) == ev.wd:
                    del self._by_path[p]
                continue
            if not ev.mask & inotify.IN_ISDIR or not ev.name:
                continue
            child_dir, child = os.path.join(d, ev.name), join_path(p, ev.name)
            if ev.mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
                try:
                    ino = os.stat(child_dir, follow_symlinks=False).st_ino
                except OSError:
                    continue  # made and removed before we looked
                out.append(CgroupChange("created", ino, child))
                self._watch_tree(child_dir, child, out)
            elif ev.mask & (inotify.IN_DELETE | inotify.IN_MOVED_FROM):
                self._forget(child)
                out.append(CgroupChange("removed", 0, child))
        return out

    def close(self) -> None:
        self._ino.close()
        self._wd.clear()
        self._by_path.clear()


class WatchThread:
    """A ``CgroupWatcher`` read on its own thread: ``on_change`` for every cgroup
    made or removed, ``tick`` after each wake-up (it returns True to be woken
    again within ``fast`` seconds, else within ``slow``). ``close`` stops it."""

    def __init__(self, watcher: CgroupWatcher, on_change: Callable[[CgroupChange], None],
                 tick: Callable[[], bool], *, fast: float = 0.01, slow: float = 1.0,
                 name: str = "cdig-cgroup-watch") -> None:
        self.watcher = watcher
        self._on_change, self._tick = on_change, tick
        self._fast, self._slow = fast, slow
        self._wake = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)  # written by close()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        timeout = self._slow
        while True:
            try:
                ready, _, _ = select.select([self.watcher.fd, self._wake[0]], [], [], timeout)
                if self._wake[0] in ready or self._stop:
                    return
                if self.watcher.fd in ready:
                    for ch in self.watcher.read(0):
                        self._on_change(ch)
                timeout = self._fast if self._tick() else self._slow
            except Exception:  # keep watching; a bug is logged, not fatal
                log.exception("cgroup watcher")
                timeout = self._slow

    def close(self) -> None:
        """Stop the thread, then the watcher. Idempotent."""
        if self._stop:
            return
        self._stop = True
        os.write(self._wake[1], b"x")
        self._thread.join(timeout=2.0)
        os.close(self._wake[0])
        os.close(self._wake[1])
        self.watcher.close()

