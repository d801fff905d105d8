"""probes/btf.py: struct field offsets from a BTF blob (a synthetic one, and the
running kernel's where it has one)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cdig.probes.btf import VMLINUX, Btf, BtfError
from cdig.probes.metrics.config import (
    CGROUP_CHAIN,
    TASK_READS,
    Features,
    MetricsConfig,
    cflags,
    cgroup_chain,
    task_reads,
)
from cdig.probes.syscall_table import table


class _Blob:
    """A little BTF writer: types appended in order (ids from 1), names interned."""

    def __init__(self) -> None:
        self.types = b""
        self.strs = b"\0"
        self.n = 0

    def name(self, s: str) -> int:
        if not s:
            return 0
        off = len(self.strs)
        self.strs += s.encode() + b"\0"
        return off

    def add(self, name: str, kind: int, vlen: int, size_or_type: int, extra: bytes = b"",
            kind_flag: bool = False) -> int:
        info = (kind << 24) | vlen | (1 << 31 if kind_flag else 0)
        self.types += struct.pack("<III", self.name(name), info, size_or_type) + extra
        self.n += 1
        return self.n

    def struct(self, name: str, size: int, members: list[tuple[str, int, int]],
               union: bool = False, kind_flag: bool = False) -> int:
        extra = b"".join(struct.pack("<III", self.name(m), t, off) for m, t, off in members)
        return self.add(name, 5 if union else 4, len(members), size, extra, kind_flag)

    def bytes(self) -> bytes:
        hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types),
                          len(self.types), len(self.strs))
        return hdr + self.types + self.strs


def _sample() -> bytes:
    b = _Blob()
    u64 = b.add("unsigned long long", 1, 0, 8, struct.pack("<I", 64))  # 1
    u32 = b.add("unsigned int", 1, 0, 4, struct.pack("<I", 32))  # 2
    fwd = b.add("css_set", 7, 0, 0)  # 3 (a forward declaration, then the struct)
    ptr = b.add("", 2, 0, fwd)  # 4: struct css_set *
    td = b.add("u64", 8, 0, u64)  # 5: typedef
    cst = b.add("", 10, 0, td)  # 6: const u64
    arr = b.add("", 3, 0, 0, struct.pack("<III", u32, u32, 4))  # 7: u32[4]
    inner = b.struct("", 8, [("id", cst, 0)])  # 8: anonymous struct { const u64 id; }
    anon = b.struct("", 8, [("x", u32, 0), ("", inner, 0)], union=True)  # 9
    b.struct("task_struct", 64, [("pid", u32, 0), ("flags", u32, 32), ("cgroups", ptr, 64),
                                 ("words", arr, 128), ("", anon, 256)])  # 10
    # a bitfield (kind_flag: bit offset in the low 24 bits, size in the high 8)
    b.struct("bits", 4, [("a", u32, (3 << 24) | 0), ("b", u32, (5 << 24) | 3)],
             kind_flag=True)  # 11
    return b.bytes()


def test_fields_of_a_synthetic_blob():
    b = Btf(_sample())
    assert b.field("task_struct", "pid") == (0, 4)
    assert b.field("task_struct", "cgroups") == (8, 8)
    assert b.is_pointer("task_struct", "cgroups") and not b.is_pointer("task_struct", "pid")
    assert b.field("task_struct", "words") == (16, 16)
    # through an anonymous union and an anonymous struct in it, typedef and const
    assert b.field("task_struct", "id") == (32, 8)
    assert b.field("task_struct", "x") == (32, 4)
    with pytest.raises(BtfError, match="no field"):
        b.field("task_struct", "nope")
    with pytest.raises(BtfError, match="no struct"):
        b.field("css_set", "dfl_cgrp")  # only forward-declared
    with pytest.raises(BtfError, match="bitfield"):
        b.field("bits", "b")


def test_bad_blobs():
    with pytest.raises(BtfError):
        Btf(b"\0" * 8)
    with pytest.raises(BtfError, match="magic"):
        Btf(b"\0" * 64)
    data = bytearray(_sample())
    struct.pack_into("<I", data, 12, 1 << 20)  # type_len past the end
    with pytest.raises(BtfError, match="out of bounds"):
        Btf(bytes(data))
    with pytest.raises(BtfError, match="cannot read"):
        Btf.kernel(Path("/nonexistent/vmlinux"))


def test_cgroup_chain_needs_every_field():
    assert cgroup_chain(Btf(_sample())) is None  # no css_set, cgroup, kernfs_node


def test_chain_defines():
    t = table()
    f = Features(task_storage=True, cgroup_chain=(2376, 112, 256, 96))
    flags = cflags(MetricsConfig(), f, t, True)
    assert "-DCGROUP_CHAIN" in flags
    for d in ("-DOFF_TASK_CGROUPS=2376", "-DOFF_CSS_SET_DFL_CGRP=112", "-DOFF_CGROUP_KN=256",
              "-DOFF_KERNFS_NODE_ID=96"):
        assert d in flags
    assert "-DCGROUP_CHAIN" not in cflags(MetricsConfig(), Features(task_storage=True), t, True)


@pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF")
def test_running_kernel():
    b = Btf.kernel()
    offs = cgroup_chain(b)
    assert offs is not None
    for (struct_name, field), off in zip(CGROUP_CHAIN, offs, strict=True):
        assert b.field(struct_name, field) == (off, 8)


def test_probe_falls_back_to_the_helper_when_the_chain_is_refused(monkeypatch):
    from cdig.probes.loader import ProbeError
    from cdig.probes.metrics.probe import MetricsProbe

    f = Features(task_storage=True, cgroup_chain=(2376, 112, 256, 96))
    p = MetricsProbe(MetricsConfig(), table(), f, cache=False)
    tried: list[bool] = []

    def compile_once() -> None:
        chain = "-DCGROUP_CHAIN" in p.cflags()
        tried.append(chain)
        if chain:
            raise ProbeError("cannot load the BPF program: R1 invalid mem access")
        raise ProbeError("stop here")  # without the chain (no kernel here: fails too)

    monkeypatch.setattr(p, "_compile", compile_once)
    with pytest.raises(ProbeError, match="stop here"):
        p.load()
    # then without it (and, that failing too, without task storage: the tid hash)
    assert tried == [True, False, False] and p.features.cgroup_chain is None
    assert p.pairing == "hash"


def test_task_reads_need_every_field():
    assert task_reads(Btf(_sample())) is None


@pytest.mark.skipif(not VMLINUX.exists(), reason="no kernel BTF")
def test_task_reads_of_the_running_kernel():
    b = Btf.kernel()
    offs = task_reads(b)
    assert offs is not None
    got = dict(offs)
    assert [got[n] for n in ("TASK_CGROUPS", "CSS_SET_DFL_CGRP", "CGROUP_KN",
                             "KERNFS_NODE_ID")] == list(cgroup_chain(b) or ())
    for name, (struct_name, field), size, _pointer in TASK_READS:
        assert b.field(struct_name, field) == (got[name], size)


def test_syscall_probe_task_read_defines():
    from cdig.probes.syscalls.probe import SyscallProbe

    p = SyscallProbe(pairing="task", self_tgid=1, task_reads=False)
    assert p.task_offsets is None and "-DTASK_READS" not in p.cflags()
    p.task_offsets = (("TASK_PID", 1264), ("TASK_COMM", 1752))
    flags = p.cflags()
    assert "-DTASK_READS" in flags
    assert "-DOFF_TASK_PID=1264" in flags and "-DOFF_TASK_COMM=1752" in flags


def test_syscall_probe_falls_back_to_the_helpers_when_the_reads_are_refused(monkeypatch):
    from cdig.probes.loader import ProbeError
    from cdig.probes.syscalls.probe import SyscallProbe

    p = SyscallProbe(pairing="task", self_tgid=1, task_reads=False, cache=False)
    p.task_offsets = (("TASK_PID", 1264),)
    tried: list[bool] = []

    def load_once() -> None:
        reads = "-DTASK_READS" in p.cflags()
        tried.append(reads)
        if reads:
            raise ProbeError("cannot load the BPF program: R1 invalid mem access")
        raise ProbeError("stop here")  # with the helpers (no kernel here: fails too)

    monkeypatch.setattr(p, "_load", load_once)
    with pytest.raises(ProbeError, match="stop here"):
        p.load()
    assert tried == [True, False] and p.task_offsets is None
