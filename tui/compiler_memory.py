"""Giving back the memory that compiling the BPF programs left behind.

A probe's C is compiled in a child process (``probes/objcompile.py``), so this
is only for bcc's own path (``loader.compile_bpf``: an object that ``objcache``
cannot keep), which compiles with clang/LLVM inside this process, once, at start.
Afterwards the compiler's code stays resident (~70 MB of libLLVM's and
libclang-cpp's executable pages, counted in cdig top's RSS) and the heap it freed
stays in malloc's arenas; neither is used again while cdig top runs.

``release()`` drops them: ``madvise(MADV_DONTNEED)`` on the compiler libraries'
read-only executable mappings (private and never written: the kernel reads a page
back from the file if it is ever run again; writable or relocated mappings are
left alone) and ``malloc_trim(0)`` for the free heap. MADV_PAGEOUT would be the
gentler call, but it skips pages other processes map too (any other bcc user).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re

MADV_DONTNEED = 4
# the libraries only the compile runs (libbcc itself keeps working: map and
# table calls go through it)
COMPILER_LIBS = re.compile(r"/lib(LLVM|clang)[^/]*\.so[^/]*$")


def compiler_mappings(maps_text: str) -> list[tuple[int, int]]:
    """(start, end) of the compiler libraries' executable mappings in a
    ``/proc/PID/maps`` text: ``r-xp`` only (read-only, private, executable)."""
    out = []
    for line in maps_text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) < 6 or parts[1] != "r-xp" or not COMPILER_LIBS.search(parts[5]):
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        out.append((start, end))
    return out


def release(maps_path: str = "/proc/self/maps") -> int:
    """Drop the compiler's resident code and trim malloc's free heap; the bytes
    of code mappings advised (0 where there is nothing to do or no libc)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return 0
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        with open(maps_path) as f:
            spans = compiler_mappings(f.read())
    except OSError:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    done = 0
    for start, end in spans:
        if libc.madvise(start, end - start, MADV_DONTNEED) == 0:
            done += end - start
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
    return done
