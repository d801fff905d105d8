"""Where the cdig CLI is, for the tests and benchmarks that run it as a program."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def cdig_command() -> list[str]:
    """The console script installed next to this interpreter (the real CLI, as a
    user runs it), else the one on PATH, else ``python -m cdig``."""
    script = Path(sys.executable).with_name("cdig")
    if script.exists():
        return [str(script)]
    found = shutil.which("cdig")
    return [found] if found else [sys.executable, "-m", "cdig"]
