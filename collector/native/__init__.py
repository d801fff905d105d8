"""Small C kernels for the loops numpy cannot vectorise, compiled at first use.

Walking variable-length records (a .scap block's events: each one's length is in
its own header) and assembling output lines byte by byte are sequential loops: in
numpy they cost a Python step or a gather per record; in C a few ns. Each kernel is
one ``<name>.c`` next to this module, plain C with no Python headers, called
through ctypes on numpy buffers.

``load(name)`` compiles the source with the system C compiler (setup.sh installs
gcc) into the user's cache, ``$CDIG_CACHE_DIR/native/<name>-<hash>.so`` (the
directory the compiled BPF object is kept in, with the same rule: this user's and
writable by no one else, since what it holds is loaded as code), keyed by a hash
of the source, the compiler and its flags. It returns None when there is no
compiler, no usable cache, or ``CDIG_NATIVE=0``: every caller keeps a numpy path,
and the tests check both give the same bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from pathlib import Path
from typing import Any

try:  # the interpreter's own SHA-256: hashlib's loads OpenSSL's (~2 ms of every start)
    from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import sha256

from ...probes.private_cache import default_dir, is_private, private_dir

__all__ = ["CFLAGS", "address", "enabled", "function", "load", "source_path"]

HERE = Path(__file__).resolve().parent
CFLAGS = ["-O2", "-fPIC", "-shared", "-std=c11", "-fvisibility=hidden",
          "-fno-strict-aliasing", "-Wall", "-Werror"]
_loaded: dict[str, ctypes.CDLL | None] = {}


def enabled() -> bool:
    """False when ``CDIG_NATIVE=0`` asks for the numpy paths only."""
    return os.environ.get("CDIG_NATIVE", "1") != "0"


def source_path(name: str) -> Path:
    return HERE / f"{name}.c"


def _compiler() -> str | None:
    return _which(os.environ.get("CC", "cc")) or _which("gcc")


def _which(cmd: str) -> str | None:
    """shutil.which(cmd) of a POSIX system (the first executable file of that name in
    PATH, or cmd itself when it has a directory part), without importing shutil at every
    start (its bz2 and lzma: ~1.3 ms; cdig.cli's help width does the same)."""
    def ok(fn: str) -> bool:
        return os.path.exists(fn) and os.access(fn, os.F_OK | os.X_OK) and \
            not os.path.isdir(fn)

    if os.path.dirname(cmd):
        return cmd if ok(cmd) else None
    path = os.environ.get("PATH", None)
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen: set[str] = set()
    for d in os.fsdecode(path).split(os.pathsep):
        if d not in seen:
            seen.add(d)
            name = os.path.join(d, cmd)
            if ok(name):
                return name
    return None


def _key(source: bytes, cc: str) -> str:
    # the compiler by its file (not `cc --version`: a process spawn at every start)
    real = os.path.realpath(cc)
    try:
        st = os.stat(real)
        ident = f"{real}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        ident = real
    h = sha256(source)
    for part in (ident, " ".join(CFLAGS), os.uname().machine):
        h.update(b"\0\1" + part.encode())
    return str(h.hexdigest())[:24]


def _compile(src: Path, out_dir: Path, target: Path, cc: str) -> bool:
    import subprocess  # here: a start that finds its kernels compiled needs neither
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".so")
    os.close(fd)
    try:
        done = subprocess.run([cc, *CFLAGS, "-o", tmp, str(src)], capture_output=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            return False
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)  # atomic: a concurrent loader sees all of it or none
        return True
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _open(path: Path) -> ctypes.CDLL | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not is_private(st, stat.S_IFREG):
        return None
    try:
        return ctypes.CDLL(str(path))
    except OSError:
        return None  # damaged: compiled again below


def load(name: str) -> ctypes.CDLL | None:
    """The compiled ``<name>.c`` (once per process), or None: use the numpy path."""
    if name in _loaded:
        return _loaded[name]
    lib: ctypes.CDLL | None = None
    cc = _compiler()
    src = source_path(name)
    if enabled() and cc is not None and src.is_file():
        out_dir = default_dir() / "native"
        if private_dir(out_dir, create=True):
            target = out_dir / f"{name}-{_key(src.read_bytes(), cc)}.so"
            lib = _open(target)
            if lib is None and _compile(src, out_dir, target, cc):
                lib = _open(target)
    _loaded[name] = lib
    return lib


def function(lib: ctypes.CDLL, name: str, restype: Any, argtypes: list[Any]) -> Any:
    """``lib.name`` with its C signature set (ctypes reads no headers: without it
    every argument and the result would be a C int)."""
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


def address(a: Any) -> int:
    """Where a numpy array's data starts, for a kernel's pointer argument."""
    return int(a.ctypes.data)

