"""The syscall probe's compiled bytecode, cached on disk (loaded by ``objload``).

bcc compiles the C with clang at every start: 1.8 of the 2.25 s from ``cdig trace``
to its first event on the reference machine, where loading the same bytecode into
the kernel takes 20 ms. Compiled once, the object is kept (keyed by a hash of
everything that goes into it) and later starts load it with bpf(2) directly
(``probes/objload.py``). The first start compiles (in a child process,
``objcompile``: the compiler's memory is never this process's), stores the object,
and loads it the same way, so a cold and a warm start run the same loader. The
cache directory must belong to the user and be writable by no one else (what it
holds runs in the kernel); otherwise it is not used. No bcc import in this
process, warm start or cold (only the child imports it).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import stat
import tempfile
from pathlib import Path

from .objcompile import compile_in_child
from .objload import (
    FORMAT,
    SENTINEL_TGID,
    CompiledObject,
    LoadedObject,
    LoadError,
    load_object,
)
from .private_cache import default_dir, is_private, private_dir


def _bcc_version() -> str:
    spec = importlib.util.find_spec("bcc")  # without importing it (0.15 s)
    if spec is None or spec.origin is None:
        return ""
    try:
        return (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return spec.origin


class ObjectCache:
    """Compiled objects in ``root/bpf/<key>.json``, key = the hash of what goes in
    (one per set of options: ring sizes, pushdown; the oldest beyond ``keep`` go)."""

    keep = 64

    def __init__(self, root: Path | None = None) -> None:
        self.dir = (root if root is not None else default_dir()) / "bpf"

    @staticmethod
    def key(source: str, cflags: list[str], include_dir: Path) -> str:
        h = hashlib.sha256()
        u = os.uname()
        parts: list[str] = [str(FORMAT), source, "\0".join(cflags), u.release, u.version,
                            u.machine, _bcc_version()]
        for sub in ("build", "source"):  # the kernel headers bcc compiles against
            parts.append(os.path.realpath(f"/lib/modules/{u.release}/{sub}"))
        for f in sorted(include_dir.glob("*.h")):  # the headers the C includes
            if f.is_file():
                parts += [f.name, f.read_text(errors="replace")]
        for p in parts:
            h.update(p.encode())
            h.update(b"\0\1")
        return h.hexdigest()

    def _usable_dir(self, create: bool) -> bool:
        return private_dir(self.dir, create)

    def get(self, key: str) -> CompiledObject | None:
        if not self._usable_dir(create=False):
            return None
        try:
            fd = os.open(self.dir / f"{key}.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not is_private(os.fstat(fd), stat.S_IFREG):
                return None
            with os.fdopen(os.dup(fd), encoding="utf-8") as f:
                return CompiledObject.from_json(f.read())
        except (OSError, ValueError, KeyError, TypeError):
            return None  # damaged: compiled again, and replaced
        finally:
            os.close(fd)

    def put(self, key: str, obj: CompiledObject) -> bool:
        """Store ``obj`` (atomically; False if the directory is not private)."""
        if not self._usable_dir(create=True):
            return False
        try:
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(obj.to_json())
            os.replace(tmp, self.dir / f"{key}.json")
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False
        self._prune()
        return True

    def _prune(self) -> None:
        try:
            entries = sorted(self.dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
        except OSError:
            return
        for old in entries[:max(0, len(entries) - self.keep)]:
            with contextlib.suppress(OSError):
                old.unlink()

    def drop(self, key: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.dir / f"{key}.json")


def load_cached(source: str, cflags: list[str], self_tgid: int | None, include_dir: Path,
                cache: ObjectCache | None) -> tuple[LoadedObject, str]:
    """The probe loaded from the cache, else compiled (and cached); and which
    (``"cache"``/``"compiled"``). ``cflags`` define SELF_TGID as ``SENTINEL_TGID``;
    ``self_tgid`` None: a program without SELF_TGID."""
    key = ObjectCache.key(source, cflags, include_dir) if cache is not None else ""
    if cache is not None:
        obj = cache.get(key)
        if obj is not None:
            try:
                return load_object(obj, self_tgid or 0), "cache"
            except LoadError:
                cache.drop(key)  # stale for this kernel after all: compile again
    # in a child process: the compiler's ~190 MB never become this process's
    obj = compile_in_child(source, [f"-I{include_dir}", *cflags],
                           None if self_tgid is None else SENTINEL_TGID)
    if cache is not None:
        cache.put(key, obj)
    return load_object(obj, self_tgid or 0), "compiled"


__all__ = ["ObjectCache", "load_cached"]
