"""Loads BPF programs: bcc's compile + load, or an object from ``objcache`` (the
syscall probe's compiled object, kept between starts, loaded with bpf(2)); with
``objload`` (which compiles for the cache), the only modules that import bcc.

Each probe is a folder (``syscalls/``, ``metrics/``): its C (``program.bpf.c`` and
``record.h``, configured with ``-D`` defines as bcc's syscount does, never by
editing the C text, so ``cdig probe --dump-bpf`` shows exactly what is compiled),
the numpy mirror of its records (``layout.py``) and its ``probe.py``. This module
holds what they share: loading, and folding the compiler's and verifier's output
into one ``ProbeError`` line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from . import objcache, objload


class ProbeError(Exception):
    """The probe could not be built, loaded or attached. The message is one line."""


def probe_dir(probe: str) -> resources.abc.Traversable:
    """A probe's folder (its program.bpf.c and record.h) in the installed package."""
    return resources.files(__package__) / probe


def dump(probe: str, cflags: list[str], source: str) -> str:
    """The program as bcc will compile it: defines, then header, then source."""
    defines = "\n".join("#define " + f[2:].replace("=", " ", 1) for f in cflags)
    header = (probe_dir(probe) / "record.h").read_text()
    return (f"/* cflags */\n{defines}\n\n/* {probe}/record.h */\n{header}\n"
            f"/* {probe}/program.bpf.c */\n{source}")


def _loaded_or_raise(failed: Exception | None, diagnostics: str) -> None:
    """After a compile or load: a failure as one ProbeError line with clang's or the
    verifier's reason; else what they printed, passed on to stderr."""
    if failed is not None:
        raise ProbeError(
            f"cannot load the BPF program: {_load_reason(failed, diagnostics)}"
        ) from None
    if diagnostics.strip():
        os.write(2, diagnostics.encode())


def compile_bpf(probe: str, source: str, cflags: list[str]) -> Any:  # a bcc.BPF (untyped)
    """Compile and load ``source`` with bcc (the probe's folder on the include path).

    bcc prints compiler and verifier diagnostics on fd 2 itself; they are
    captured and folded into one ProbeError line. Warnings of a successful
    load stay visible.
    """
    try:
        from bcc import BPF  # only here: replay and unit tests need no bcc
    except ImportError as e:
        raise ProbeError(
            f"the bcc Python module is not importable ({e}); run scripts/setup.sh"
        ) from None
    failed: Exception | None = None
    bpf = None
    with resources.as_file(probe_dir(probe)) as inc, _stderr_captured() as diagnostics:
        try:
            # bcc wants bytes for the text (a str is converted with a DeprecationWarning);
            # its cflags are the exception: it encodes each itself and takes str only
            bpf = BPF(text=source.encode(), cflags=[f"-I{inc}", *cflags])
        except Exception as e:  # bcc raises bare Exception for compile/load failures
            failed = e
    _loaded_or_raise(failed, diagnostics[0])
    return bpf


class LoadedProgram(Protocol):
    """A loaded program: its maps' and programs' fds by name; ``close`` detaches."""

    prog_fds: dict[str, int]

    def map_fd(self, name: str) -> int: ...

    def close(self) -> None: ...


class _Cached:
    """An ``objload.LoadedObject`` (the usual way: loaded with bpf(2), no bcc)."""

    def __init__(self, obj: objload.LoadedObject) -> None:
        self.obj = obj
        self.prog_fds = obj.prog_fds

    def map_fd(self, name: str) -> int:
        return self.obj.map_fds[name]

    def close(self) -> None:
        self.obj.close()


class _Bcc:
    """A bcc.BPF (compiled, loaded and attached by bcc: the object could not be cached)."""

    def __init__(self, bpf: Any) -> None:
        self.bpf = bpf
        self.prog_fds = {str(n.decode() if isinstance(n, bytes) else n): f.fd
                         for n, f in bpf.funcs.items()}

    def map_fd(self, name: str) -> int:
        return int(self.bpf[name.encode()].map_fd)  # bytes, as bcc wants its names

    def close(self) -> None:
        self.bpf.cleanup()


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what is written to file descriptor 2 meanwhile (bcc, clang and
    libbpf print their diagnostics there, not through Python), so a failed
    load is reported as one line instead of a screenful. Yields a list that
    holds the text once the block has ended."""
    out: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield out
            finally:
                os.dup2(saved, 2)
                tmp.seek(0)
                out.append(tmp.read(1 << 20).decode("utf-8", "replace"))
    finally:
        os.close(saved)


def _load_reason(e: BaseException, diagnostics: str) -> str:
    """One line saying why bcc could not load the program."""
    lines = [ln.strip() for ln in diagnostics.splitlines() if ln.strip()]
    text = " ".join([*lines, str(e)])
    if "Operation not permitted" in text or "Permission denied" in text:
        return ("the kernel refused (Operation not permitted): BPF needs root with "
                "CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN")
    detail = next((ln for ln in lines if "error" in ln.lower()), None)
    return f"{one_line(e)}: {detail}" if detail else one_line(e)


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__


def load_probe(probe: str, source: str, cflags: Callable[[int | None], list[str]],
               self_tgid: int | None, cache: objcache.ObjectCache | None
               ) -> tuple[LoadedProgram, str]:
    """A probe's program loaded and attached: through ``objcache`` (compiled once,
    kept, loaded with bpf(2); ``cflags(SENTINEL_TGID)`` compiles it with the
    sentinel where ``self_tgid`` is patched in; None: the program has no
    SELF_TGID), else through bcc alone if the
    object holds what objcache does not relocate. Also says which ("cache",
    "compiled" or "bcc"). Raises ProbeError with one line."""
    with resources.as_file(probe_dir(probe)) as inc, _stderr_captured() as diagnostics:
        failed: Exception | None = None
        obj: LoadedProgram | None = None
        how = "bcc"
        try:
            loaded, how = objcache.load_cached(source, cflags(objload.SENTINEL_TGID),
                                               self_tgid, Path(inc), cache)
            obj = _Cached(loaded)
        except objload.Uncacheable:
            failed = None
        except objload.LoadError as e:
            failed = e
    _loaded_or_raise(failed, diagnostics[0])
    if obj is None:
        obj, how = _Bcc(compile_bpf(probe, source, cflags(None))), "bcc"
    return obj, how
