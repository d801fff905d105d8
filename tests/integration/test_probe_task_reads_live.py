"""The syscall probe's task reads, live: with ``TASK_READS`` the records' ids,
cgroup, uid/gid and comm come from loads through the BTF-typed task pointer
(``probes/syscalls/program.bpf.c``: ``cur_task``) instead of the helpers. Both
probes are loaded at once and see the same calls of a child that renames its
threads (prctl, short names after long ones, names cut at 15 bytes, a byte
that is not ASCII, another thread's name through /proc), forks a grandchild
that changes its uid and gid and execs, and exits: every record of theirs carries the
same values in both, comm byte for byte (its padding too), and the same
arguments (with TASK_PT_REGS sys_enter reads them through bpf_task_pt_regs), in
every exit record and, with enter events, every enter record.

Needs root, BPF, bcc and the kernel's BTF: a failure, not a skip, when CI=true
(a kernel without BTF skips: the probe then uses the helpers anyway).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import Counter

import numpy as np
import pytest

from cdig.probes.btf import VMLINUX
from cdig.probes.syscall_table import table
from cdig.probes.syscalls import layout
from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

from .containers import require

pytestmark = pytest.mark.integration

NAMES = [b"x", b"tr15-padded-cut", b"tr-longer-than-sixteen", b"ab", b"tr\xffz", b"t"]
CALLS = 200


def _name(libc: ctypes.CDLL, name: bytes) -> None:
    libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME


def _workload(report_w: int) -> None:
    """The child: threads renamed every CALLS calls, one renamed by another
    thread through /proc, a grandchild that changes uid and gid."""
    libc = ctypes.CDLL(None)
    _name(libc, b"tr-main")

    def renamed(k: int) -> None:
        for n in NAMES + [b"tr%d" % k]:
            _name(libc, n)
            for _ in range(CALLS):
                os.getppid()

    threads = [threading.Thread(target=renamed, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    go, done = threading.Event(), threading.Event()

    def spin() -> None:
        _name(libc, b"tr-spin")
        go.set()
        while not done.is_set():
            os.getppid()

    t = threading.Thread(target=spin)
    t.start()
    go.wait()
    with open(f"/proc/self/task/{t.native_id}/comm", "w") as f:
        f.write("tr-renamed")
    for _ in range(CALLS):
        os.getppid()
    done.set()
    t.join()
    pid = os.fork()
    if pid == 0:
        _name(libc, b"tr-creds")
        os.setresgid(4321, 4321, 4321)
        os.setresuid(1234, 1234, 1234)
        for _ in range(CALLS):
            os.getppid()
        try:
            os.execv("/bin/true", ["true"])  # an execve's enter record and an exec record
        finally:
            os._exit(1)
    os.write(report_w, str(pid).encode())
    os.waitpid(pid, 0)


def _key(rec: np.ndarray) -> Counter:
    """Per record what both probes must agree on (not their clocks or CPUs)."""
    comm = np.ascontiguousarray(rec["comm"]).view(np.uint8).reshape(len(rec), -1)
    rows = zip(rec["tid"].tolist(), rec["pid"].tolist(), rec["nr"].tolist(),
               rec["kind"].tolist(), rec["ret"].tolist(), rec["uid"].tolist(),
               rec["gid"].tolist(), rec["cgroup_id"].tolist(), map(bytes, comm),
               map(tuple, rec["args"].tolist()), strict=True)
    return Counter(rows)


@pytest.mark.parametrize("enter_events", [False, True])
def test_task_reads_give_the_helpers_values(enter_events: bool) -> None:
    require("root", "bpf", "bcc", "tracefs")
    if not VMLINUX.exists():
        pytest.skip("no kernel BTF: the probe reads through the helpers")
    # self_tgid 0: this process and its children are traced
    probes = [SyscallProbe(ProbeConfig(enter_events=enter_events), pairing="task", self_tgid=0,
                           task_reads=reads, cache=False) for reads in (True, False)]
    try:
        for p in probes:
            p.load()
        assert probes[0].task_offsets is not None, "the task reads were refused"
        assert probes[1].task_offsets is None
        got: list[list[np.ndarray]] = [[], []]
        stop = threading.Event()

        def drain() -> None:  # every process is traced: keep the rings from filling
            while True:
                n = 0
                for p, out in zip(probes, got, strict=True):
                    small, ext, _io = p.rings
                    for recs in (small.drain()["rec"], ext.drain()["rec"]["ev"]):
                        n += len(recs)
                        out.append(recs.copy())
                if not n:
                    if stop.is_set():
                        return
                    stop.wait(0.01)

        t = threading.Thread(target=drain)
        t.start()
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _workload(report_w)
                code = 0
            finally:
                os._exit(code)
        os.close(report_w)
        assert os.waitpid(pid, 0)[1] == 0
        grandchild = int(os.read(report_r, 64))
        os.close(report_r)
        stop.set()
        t.join()
        for p in probes:
            stats = p.stats()
            assert stats["dropped_ring"] == stats["dropped_ext"] == 0, stats
    finally:
        stop.set()
        for p in probes:
            p.close()
    reads, helpers = (recs[np.isin(recs["pid"], [pid, grandchild])]
                      for recs in (np.concatenate(g) for g in got))
    assert len(reads) > 3 * CALLS * (len(NAMES) + 1)  # the renamed threads alone
    assert _key(reads) == _key(helpers)
    # and the values are the ones set: names as the kernel keeps them, ids changed
    comms = set(np.char.rstrip(reads["comm"], b"\0").tolist())
    assert {b"x", b"tr15-padded-cut", b"tr-longer-than-", b"ab", b"tr\xffz", b"t",
            b"tr-renamed", b"tr-creds"} <= comms
    creds = reads[(reads["pid"] == grandchild) & (reads["nr"] == table().nr("getppid"))
                  & (reads["kind"] == layout.KIND_SYSCALL)]
    assert len(creds) == CALLS and set(creds["uid"].tolist()) == {1234}
    assert set(creds["gid"].tolist()) == {4321}
    assert set(reads[reads["pid"] == pid]["uid"].tolist()) == {os.getuid()}
    assert layout.RECORD.itemsize == 120
