"""The numpy mirrors in probes/syscalls/layout.py agree with the C structs in record.h."""

import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

from cdig.collector.decode import io_data
from cdig.probes.kernel_filter import KernelFilter
from cdig.probes.syscalls import layout
from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

FIELDS = ["ts_ns", "latency_ns", "cgroup_id", "ret", "args", "pid", "tid", "uid", "gid", "nr",
          "kind", "flags", "cpu", "comm"]
EXT_FIELDS = ["len1", "len2", "argc", "pad", "str1", "str2"]

PROGRAM = """
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "record.h"
int main(void) {
    printf("size %zu %zu\\n", sizeof(struct cdig_event), sizeof(struct cdig_event_ext));
%s
    return 0;
}
"""


def test_dtype_matches_c_offsets(tmp_path):
    if not shutil.which("gcc"):
        pytest.fail("gcc is needed to check the C layout")  # installed by scripts/setup.sh
    lines = [f'    printf("{f} %zu\\n", offsetof(struct cdig_event, {f}));' for f in FIELDS]
    lines += [f'    printf("x.{f} %zu\\n", offsetof(struct cdig_event_ext, {f}));'
              for f in EXT_FIELDS]
    src = tmp_path / "layout.c"
    src.write_text(PROGRAM.replace("%s", "\n".join(lines), 1))
    bpf_dir = resources.files("cdig.probes") / "syscalls"
    with resources.as_file(bpf_dir) as d:
        subprocess.run(["gcc", f"-I{d}", "-o", str(tmp_path / "layout"), str(src)], check=True)
    out = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    got = dict(line.split(" ", 1) for line in out if line)
    assert got["size"] == f"{layout.RECORD.itemsize} {layout.EXT_RECORD.itemsize}"
    for f in FIELDS:
        assert int(got[f]) == layout.RECORD.fields[f][1], f
    for f in EXT_FIELDS:
        assert int(got["x." + f]) == layout.EXT_RECORD.fields[f][1], f


def test_slots_are_8_byte_aligned_and_hold_the_header():
    for slot, rec in ((layout.EVENT_SLOT, layout.RECORD), (layout.EXT_SLOT, layout.EXT_RECORD)):
        assert slot.itemsize % 8 == 0
        assert slot.itemsize >= rec.itemsize + layout.RINGBUF_HDR
    assert layout.EVENT_SLOT.itemsize == 128


def test_dump_bpf_shows_pushdown_defines_without_root():
    p = SyscallProbe(ProbeConfig(filter=KernelFilter(pids=frozenset({1}),
                                                     syscalls=frozenset({"write"}),
                                                     failed_only=True)), self_tgid=42)
    text = p.dump()
    for define in ("#define FILTER_PID", "#define FILTER_SYSCALL", "#define FILTER_FAILED",
                   "#define SELF_TGID 42", "TRACEPOINT_PROBE(raw_syscalls, sys_enter)"):
        assert define in text
    assert "#define FILTER_CGROUP" not in text


def test_sysinfo_marks_state_syscalls_and_wanted_ones():
    p = SyscallProbe(ProbeConfig(filter=KernelFilter(syscalls=frozenset({"write"}))))
    info = p.sysinfo()
    t = p.table
    assert info[t.nr("write")]["flags"] & layout.SYS_WANT
    assert not info[t.nr("read")]["flags"] & (layout.SYS_WANT | layout.SYS_STATE)
    assert info[t.nr("close")]["flags"] & layout.SYS_STATE  # always passes: names fds
    assert info[t.nr("openat")]["str1_arg"] == 1
    assert info[t.nr("accept4")]["flags"] & layout.SYS_ADDRP
    assert info[t.nr("execve")]["flags"] & layout.SYS_ARGV


IO_PROGRAM = """
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "record.h"
int main(void) {
    printf("%zu %zu %zu\\n", sizeof(struct cdig_event_io), offsetof(struct cdig_event_io, len),
           offsetof(struct cdig_event_io, data));
    return 0;
}
"""


@pytest.mark.parametrize("snaplen", [0, 1, 80, 256, 768])
def test_io_record_matches_c_for_its_snaplen(tmp_path, snaplen):
    if not shutil.which("gcc"):
        pytest.fail("gcc is needed to check the C layout")
    src = tmp_path / "io.c"
    src.write_text(IO_PROGRAM)
    with resources.as_file(resources.files("cdig.probes") / "syscalls") as d:
        subprocess.run(["gcc", f"-I{d}", f"-DSNAPLEN={snaplen}", "-o", str(tmp_path / "io"),
                        str(src)], check=True)
    size, len_off, data_off = map(int, subprocess.run(
        [str(tmp_path / "io")], capture_output=True, text=True, check=True).stdout.split())
    rec = layout.io_record(snaplen)
    assert size == rec.itemsize == 128 + layout.io_data_len(snaplen)
    assert len_off == rec.fields["len"][1] == layout.EXT_RECORD.fields["len1"][1]
    assert data_off == rec.fields["data"][1] == layout.STR1_OFFSET
    assert layout.slot_dtype(rec).itemsize % 8 == 0


def test_io_records_become_the_ext_records_of_the_same_calls():
    slot = layout.slot_dtype(layout.io_record(80))
    io = np.zeros(3, dtype=slot)
    raw = io.view(np.uint8).reshape(3, slot.itemsize)
    raw[:, layout.RINGBUF_HDR:] = 0xEE  # what a ring holds before the probe writes
    rec = io["rec"]
    for i, (data, n) in enumerate([(b"hello\n", 6), (b"", 0), (b"x" * 80, 80)]):
        rec["ev"]["ts_ns"][i] = 100 + i
        rec["ev"]["nr"][i] = 1
        rec["ev"]["flags"][i] = layout.FLAG_IO_DATA
        rec["len"][i] = n
        rec["pad"][i] = 0
        off = layout.RINGBUF_HDR + layout.STR1_OFFSET
        raw[i, off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
    rec["ev"]["ret"] = [6, 0, 100]
    ext = layout.io_as_ext(io)
    assert ext.dtype == layout.EXT_SLOT
    x = ext["rec"]
    assert x["ev"]["ts_ns"].tolist() == [100, 101, 102]
    assert x["ev"]["ret"].tolist() == [6, 0, 100]
    assert (x["ev"]["flags"] == layout.FLAG_IO_DATA).all()
    assert x["len1"].tolist() == [6, 0, 80]
    assert x["len2"].tolist() == x["argc"].tolist() == x["pad"].tolist() == [0, 0, 0]
    assert io_data(x[0]) == b"hello\n" and io_data(x[1]) == b"" and io_data(x[2]) == b"x" * 80
    assert len(layout.io_as_ext(io[:0])) == 0
