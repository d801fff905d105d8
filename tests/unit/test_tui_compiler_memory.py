"""cdig top drops the BPF compiler's resident code once its probes are compiled
(tui/compiler_memory.py): only the read-only executable mappings of libLLVM and
libclang, never a writable or another library's."""

from __future__ import annotations

import re
import subprocess
import sys

from cdig.tui.compiler_memory import compiler_mappings

MAPS = """\
7f0000000000-7f0000100000 r--p 00000000 fe:01 11 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
7f0000100000-7f0003000000 r-xp 00100000 fe:01 11 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
7f0003000000-7f0003100000 rw-p 03000000 fe:01 11 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
7f0004000000-7f0005000000 r-xp 00000000 fe:01 12 /usr/lib/llvm-14/lib/libclang-cpp.so.14
7f0006000000-7f0006100000 r-xp 00000000 fe:01 13 /usr/lib/x86_64-linux-gnu/libbcc.so.0.26.0
7f0007000000-7f0007100000 r-xp 00000000 fe:01 14 /opt/libLLVM-14.so.1.d/notes.txt
7f0008000000-7f0008100000 rw-p 00000000 00:00 0
"""


def test_only_the_compilers_executable_mappings():
    assert compiler_mappings(MAPS) == [(0x7F0000100000, 0x7F0003000000),
                                       (0x7F0004000000, 0x7F0005000000)]
    assert compiler_mappings("") == []


# a child process: the code dropped from this one would only be read back
CHILD = r"""
import re
import bcc  # maps libbcc, and with it libLLVM and libclang-cpp (the venv sees bcc)
from cdig.tui.compiler_memory import compiler_mappings, release
def rss():
    n, cur = 0, False
    for line in open("/proc/self/smaps"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            p = line.split()
            cur = p[1] == "r-xp" and len(p) > 5 and re.search(r"lib(LLVM|clang)", p[5])
        elif cur and line.startswith("Rss:"):
            n += int(line.split()[1])
    return n
with open("/proc/self/maps") as f:
    spans = compiler_mappings(f.read())
before = rss()
done = release()
after = rss()
import bcc.libbcc  # still usable: its pages come back from the file
print(len(spans), before, done, after, bool(bcc.libbcc.lib.bpf_module_create_c_from_string))
"""


def test_release_drops_the_resident_compiler_code():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         check=True).stdout.split()
    spans, before, done, after, usable = out
    assert int(spans) >= 2 and int(done) > 0
    assert int(after) < int(before) or int(before) == 0
    assert usable == "True"
    assert re.fullmatch(r"\d+", after)
