"""Where cdig keeps what it compiled (the syscall probe's object, collector/native's
kernels), and the rule for using it: the directory and its parent are this
user's and writable by no one else, since what they hold is loaded as code.
No imports beyond the standard library: the .scap read path reaches it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["default_dir", "is_private", "private_dir"]


def default_dir() -> Path:
    """``$CDIG_CACHE_DIR``, else ``$XDG_CACHE_HOME/cdig``, else ``~/.cache/cdig``."""
    env = os.environ.get("CDIG_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cdig"


def is_private(st: os.stat_result, kind: int) -> bool:
    """Of this user, of the kind asked, and writable by no one else."""
    return (st.st_uid == os.geteuid() and stat.S_IFMT(st.st_mode) == kind
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def private_dir(path: Path, create: bool) -> bool:
    """``path`` and its parent are this user's and writable by no one else (made so
    when ``create``): what a cache there holds is loaded as code."""
    for d in (path.parent, path):
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            if not create:
                return False
            try:
                # the directories above (~/.cache on a fresh account) as XDG makes them
                os.makedirs(d.parent, 0o700, exist_ok=True)
                os.mkdir(d, 0o700)
            except OSError:
                return False
            st = os.lstat(d)
        except OSError:
            return False
        if not is_private(st, stat.S_IFDIR):
            return False
    return True
