"""probes/syscall_numbers.py is what scripts/gen_syscall_numbers.py makes from the
kernel's UAPI headers (installed by scripts/setup.sh), byte for byte."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cdig.probes.syscall_numbers import AARCH64, X86_64

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_syscall_numbers.py"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_syscall_numbers", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_table_is_what_the_headers_give():
    gen = _generator()
    assert gen.OUT.read_text() == gen.generate([]), "rerun scripts/gen_syscall_numbers.py"


def test_known_numbers_and_the_unified_block():
    assert X86_64[0] == "read" and X86_64[59] == "execve" and X86_64[257] == "openat"
    assert AARCH64[56] == "openat" and AARCH64[221] == "execve"
    assert "open" not in AARCH64.values()  # asm-generic has openat only
    # 424 and up are shared; the 32-bit-only *_time64 calls (403-423) are not arm64's
    assert all(X86_64[n] == AARCH64[n] for n in X86_64 if n >= 424)
    assert not any(n.endswith("_time64") for n in AARCH64.values())


def test_expressions_are_evaluated_not_guessed():
    gen = _generator()
    assert gen._value("(244 + 1)") == 245 and gen._value("__NR_x") is None
    assert gen._value("__import__('os')") is None
