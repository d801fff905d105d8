"""Creating output files that nobody else can read or have prepared.

cdig runs as root and writes what it saw of the whole host (paths, argv,
addresses). Opening an existing path with ``O_TRUNC`` writes into whatever
inode is there: a file another user created first (in /tmp, with
``fs.protected_regular=0``) would receive root's capture and stay readable by
that user, and a hard link would truncate its target. So an output file is
always a new inode of the effective user, mode 0600:

* no file at the path: create it with ``O_EXCL`` (never through a symlink);
* a regular file of the effective user: write a new file next to it (same
  directory, ``O_EXCL``) and rename it over the old one, so the old inode
  (and every other link to it) is left alone;
* anything else (another user's file, a symlink, a FIFO, a device, a
  directory) is refused with one line saying why.
"""

from __future__ import annotations

import errno
import glob
import io
import os
import pwd
import stat
from collections.abc import Sequence
from typing import Any, BinaryIO

from .errors import OneLineError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class OutputRefused(PermissionError, OneLineError):
    """An output path cdig will not write to; ``strerror`` is the one-line reason."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def _user(uid: int) -> str:
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def _refuse(path: str, why: str) -> OutputRefused:
    return OutputRefused(errno.EPERM, why, path)


def check_replaceable(path: str, st: os.stat_result) -> None:
    """Raise OutputRefused unless ``st`` (an lstat of ``path``) is a regular file of
    the effective user, the only kind of existing file cdig replaces."""
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path, "is a symbolic link (cdig does not write through links)")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "exists and is not a regular file")
    me = os.geteuid()
    if st.st_uid != me:
        raise _refuse(path, f"exists and belongs to {_user(st.st_uid)}, not to {_user(me)}: "
                            "remove it or write elsewhere")


class OutputFailed(OneLineError):
    """Writing an output file failed (a full disk, a quota, EIO): one line with how
    much the file holds, instead of an internal error with an errno."""

    def __init__(self, path: str, reason: str, size: int, extra: str = "") -> None:
        super().__init__(path, reason, size)
        self.path, self.reason, self.size, self.extra = path, reason, size, extra

    def __str__(self) -> str:
        return (f"writing {self.path} failed: {self.reason}; {self.size} bytes were written"
                f"{self.extra}")


class GuardedFile(io.BufferedWriter):
    """A buffered output file whose write errors are OutputFailed (see there)."""

    def __init__(self, fd: int, path: str) -> None:
        super().__init__(io.FileIO(fd, "wb", closefd=True))
        self.path = path

    def _failed(self, e: OSError) -> OutputFailed:
        try:
            size = os.fstat(self.fileno()).st_size  # the FileIO's
        except (OSError, ValueError):
            size = 0
        return OutputFailed(self.path, e.strerror or str(e), size)

    def write(self, b: Any) -> int:
        try:
            return super().write(b)
        except OSError as e:
            raise self._failed(e) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as e:
            raise self._failed(e) from None

    def close(self) -> None:
        if self.closed:
            return
        failed: OutputFailed | None = None
        try:
            self.flush()  # while the descriptor is open, to tell the file's size
        except OutputFailed as e:
            failed = e
        try:
            super().close()  # closes the descriptor also when its flush fails again
        except OSError as e:
            failed = failed or OutputFailed(self.path, e.strerror or str(e), 0)
        if failed is not None:
            raise failed


def create_private(path: str) -> tuple[BinaryIO, os.stat_result]:
    """A new file at ``path``, mode 0600, owned by the effective user, open for writing;
    with its fstat (the identity to check before removing it later).

    Raises OutputRefused (see the module docstring) or the OSError of the system."""
    for _ in range(3):
        try:
            fd = os.open(path, _FLAGS, 0o600)
            break
        except FileExistsError:
            try:
                fd = _replace(path)
                break
            except FileNotFoundError:  # removed in between: create it anew
                continue
    else:
        raise FileExistsError(errno.EEXIST, "keeps appearing and disappearing", path)
    try:
        os.fchmod(fd, 0o600)  # the umask may only remove bits; make it exact
        st = os.fstat(fd)
        return GuardedFile(fd, path), st
    except BaseException:
        os.close(fd)
        raise


def _replace(path: str) -> int:
    """A file descriptor of a new file renamed over ``path`` (an own regular file)."""
    check_replaceable(path, os.lstat(path))
    d, base = os.path.split(path)
    for _ in range(100):
        tmp = os.path.join(d, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(tmp, _FLAGS, 0o600)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 48 random bits taken a hundred times
        raise FileExistsError(errno.EEXIST, "cannot create a temporary file", d)
    try:
        # checked again just before: what the rename replaces is only ever
        # unlinked, never written, so a swap in between leaks nothing
        check_replaceable(path, os.lstat(path))
        os.rename(tmp, path)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return fd


def same_file(st: os.stat_result, path: str) -> bool:
    """Whether ``path`` still names the inode ``st`` describes (not through a link)."""
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


def aliases(output: str, inputs: Sequence[str], prefix: bool = False) -> str | None:
    """The input that writing ``output`` would destroy, or None.

    Compared as files, not strings: (st_dev, st_ino) of the output (through
    symlinks) against every input, globs expanded as the reader expands them,
    so a symlink, a hard link or a glob that also matches the output is caught.
    With ``prefix`` (rotation: ``cap`` writes ``cap0``, ``cap.20240101-…``) an
    input whose real path starts with the output's is caught too."""
    paths: list[str] = []
    for spec in inputs:
        if any(ch in spec for ch in "*?[") and not os.path.exists(spec):
            paths += sorted(glob.glob(spec))
        else:
            paths.append(spec)
    try:
        st = os.stat(output)
        out_id: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except OSError:
        out_id = None
    real_out = os.path.realpath(output)
    for p in paths:
        try:
            s = os.stat(p)
            in_id: tuple[int, int] | None = (s.st_dev, s.st_ino)
        except OSError:
            in_id = None  # not there (yet): its name still counts
        real = os.path.realpath(p)
        if (out_id is not None and out_id == in_id) or real == real_out or \
                (prefix and real.startswith(real_out)):
            return p
    return None
