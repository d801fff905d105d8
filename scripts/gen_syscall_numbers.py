#!/usr/bin/env python3
"""Regenerate ``probes/syscall_numbers.py`` from the kernel's UAPI headers.

Sources (Debian's linux-headers packages, which scripts/setup.sh installs):

* x86_64: ``arch/x86/include/generated/uapi/asm/unistd_64.h`` of the
  ``linux-headers-<ver>-amd64`` tree — one ``#define __NR_name N`` per syscall;
* aarch64: ``arch/arm64/include/uapi/asm/unistd.h`` of the ``-common`` tree,
  which sets its ``__ARCH_WANT_*`` switches and includes
  ``include/uapi/asm-generic/unistd.h`` — evaluated by the C preprocessor with
  ``__BITS_PER_LONG=64``, so the ``__NR3264_*`` names resolve as on arm64.

Both are run through ``cpp -dM`` (the macros as the compiler sees them), then
every ``__NR_<name>`` is expanded by a second cpp pass to an integer. Numbers
from 424 up are the same on every architecture (the kernel's unified table since
5.1): they are written once, as ``_UNIFIED``.

Run:  .venv/bin/python scripts/gen_syscall_numbers.py [--headers DIR...] [--check]
(``--check``: exit 1 if the committed file differs from what the headers give).
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "probes" / "syscall_numbers.py"
UNIFIED_FROM = 424
_NOT_SYSCALLS = {"syscalls", "arch_specific_syscall"}  # counters and bases, not calls


def find_headers(dirs: list[str]) -> tuple[Path, Path]:
    """(the amd64 tree with generated headers, the common tree with arch/arm64)."""
    cands = [Path(d) for d in dirs] or \
        [Path(p) for p in sorted(glob.glob("/usr/src/linux-headers-*"))]
    x86_h = "arch/x86/include/generated/uapi/asm/unistd_64.h"
    amd = next((d for d in cands if (d / x86_h).exists()), None)
    common = next((d for d in cands if (d / "arch/arm64/include/uapi/asm/unistd.h").exists()),
                  None)
    if amd is None or common is None:
        sys.exit("gen_syscall_numbers: no linux-headers tree with the x86_64 and arm64 UAPI "
                 "headers (apt install linux-headers-amd64, or pass --headers)")
    return amd, common


def _cpp(source: str, includes: list[Path], defines: dict[str, str], macros: bool) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".h", delete=False) as f:
        f.write(source)
    try:
        cmd = ["cpp", "-P", "-nostdinc", *(f"-I{p}" for p in includes),
               *(f"-D{k}={v}" for k, v in defines.items())]
        cmd += ["-dM", f.name] if macros else [f.name]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)


def _value(expr: str) -> int | None:
    """An integer expression of literals, + and - (what the headers' macros expand to);
    None for anything else."""
    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Constant) and type(n.value) is int:
            return n.value
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)):
            a, b = ev(n.left), ev(n.right)
            return a + b if isinstance(n.op, ast.Add) else a - b
        raise ValueError(expr)

    try:
        return ev(ast.parse(expr.strip(), mode="eval").body)
    except (SyntaxError, ValueError):
        return None


def numbers(include: str, includes: list[Path], defines: dict[str, str]) -> dict[int, str]:
    """``{nr: name}`` of every ``__NR_name`` the header defines under ``defines``."""
    text = _cpp(f"#include <{include}>\n", includes, defines, macros=True)
    names = sorted({m.group(1) for m in re.finditer(r"^#define __NR_(\w+)\s", text, re.M)}
                   - _NOT_SYSCALLS)
    probe = f"#include <{include}>\n" + "".join(f"{n} = __NR_{n}\n" for n in names)
    out: dict[int, str] = {}
    for line in _cpp(probe, includes, defines, macros=False).splitlines():
        name, sep, expr = line.partition(" = ")
        if not sep or name not in names:
            continue
        nr = _value(expr)
        if nr is None:  # an arch macro we do not evaluate: say so, do not guess
            sys.exit(f"gen_syscall_numbers: __NR_{name} expands to {expr!r}")
        if nr in out:
            sys.exit(f"gen_syscall_numbers: {nr} is both {out[nr]} and {name}")
        out[nr] = name
    return dict(sorted(out.items()))


def render(x86: dict[int, str], arm: dict[int, str]) -> str:
    unified = {nr: n for nr, n in x86.items() if nr >= UNIFIED_FROM}
    if {nr: n for nr, n in arm.items() if nr >= UNIFIED_FROM} != unified:
        sys.exit("gen_syscall_numbers: the numbers from 424 up differ between the arches")

    def table(name: str, rows: dict[int, str], doc: str) -> str:
        body = "".join(f"    {nr}: {n!r},\n".replace("'", '"') for nr, n in rows.items())
        return f"# {doc}\n{name}: dict[int, str] = {{\n{body}}}\n"

    own_x86 = {nr: n for nr, n in x86.items() if nr < UNIFIED_FROM}
    own_arm = {nr: n for nr, n in arm.items() if nr < UNIFIED_FROM}
    return (
        '"""Syscall numbers per architecture.\n\n'
        "Generated by ``scripts/gen_syscall_numbers.py`` from the Linux UAPI headers\n"
        "(``asm/unistd_64.h`` for x86_64, ``asm-generic/unistd.h`` as arm64 configures it\n"
        "for aarch64) so that decoding works without bcc or kernel headers, e.g. when\n"
        "reading a capture on a laptop. Do not edit: rerun the script.\n"
        '"""\n\n'
        + table("_UNIFIED", unified, f"{UNIFIED_FROM} and up: the same number on every "
                "architecture") + "\n"
        + table("_X86_64", own_x86, "x86_64 below 424") + "\n"
        + table("_AARCH64", own_arm, "aarch64 below 424 (asm-generic)") + "\n"
        + "X86_64: dict[int, str] = {**_X86_64, **_UNIFIED}\n"
        + "AARCH64: dict[int, str] = {**_AARCH64, **_UNIFIED}\n"
    )


def generate(dirs: list[str]) -> str:
    amd, common = find_headers(dirs)
    x86 = numbers("asm/unistd_64.h", [amd / "arch/x86/include/generated/uapi"], {})
    arm = numbers("asm/unistd.h", [common / "arch/arm64/include/uapi", common / "include/uapi"],
                  {"__BITS_PER_LONG": "64"})
    return render(x86, arm)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--headers", nargs="*", default=[], help="linux-headers trees to use")
    ap.add_argument("--check", action="store_true", help="compare with the committed file")
    a = ap.parse_args()
    text = generate(a.headers)
    if a.check:
        same = OUT.read_text() == text
        print(f"{OUT.name}: {'matches' if same else 'differs from'} the headers")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
