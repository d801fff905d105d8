"""What /proc says at a process's first sighting (the /proc-derived fields), read
from this test's own process and checked against what the kernel says through
other doors (os.getsid, getrlimit …)."""

from __future__ import annotations

import os
import resource
import time

from cdig.collector import procfs
from cdig.collector.capture.journal import _info_from_json, _info_json


def test_read_proc_extras_of_this_process():
    info = procfs.read_proc(os.getpid())
    assert info is not None
    assert info.sid == os.getsid(0)
    assert info.pgid == os.getpgrp()
    assert info.gid == os.getgid()
    assert info.nthreads is not None and info.nthreads >= 1
    assert info.cwd == os.getcwd()
    assert info.env is not None and f"PATH={os.environ['PATH']}" in info.env
    assert info.fdlimit == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert info.nfds is not None and info.nfds >= 3  # stdin, stdout, stderr at least
    with open("/proc/self/loginuid") as f:
        assert info.loginuid == int(f.read())
    with open("/proc/self/status") as f:
        nspid = next(ln for ln in f if ln.startswith("NSpid:")).split()
    assert info.vpid == int(nspid[-1])
    assert info.start_ns is not None
    assert 0 < time.time_ns() - info.start_ns < 24 * 3600 * 10**9  # started today
    assert info.vmrss is not None and info.vmrss > 1000  # a Python process: > 1 MB
    assert info.vmsize is not None and info.vmsize >= info.vmrss
    assert info.cgroups and "=" in info.cgroups
    assert info.pfminor is not None and info.pfminor > 0
    assert info.exe_writable is (os.getuid() == 0 or os.access(os.path.realpath(
        f"/proc/{os.getpid()}/exe"), os.W_OK))


def test_stat_with_a_name_holding_spaces_and_parens(tmp_path):
    """The comm in /proc/PID/stat may hold ') ': the fields are read after the last ')'."""
    pid_dir = tmp_path / "42"
    pid_dir.mkdir()
    (pid_dir / "status").write_text("Name:\ta) b\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t5\t5\t5\t5\n"
                                    "NSpid:\t42\t7\nThreads:\t3\n")
    rest = " ".join(["S", "1", "40", "41", "34817"] + ["0"] * 2 + ["11", "0", "12"] +
                    ["0"] * 9 + ["100"])
    (pid_dir / "stat").write_text(f"42 (a) b) {rest}\n")
    (tmp_path / "stat").write_text("cpu 1\nbtime 1700000000\n")
    info = procfs.read_proc(42, str(tmp_path))
    assert info is not None
    assert (info.pgid, info.sid, info.tty, info.pfminor, info.pfmajor) == (40, 41, 34817, 11, 12)
    assert info.start_ns == 1_700_000_000 * 10**9 + 100 * 10**9 // os.sysconf("SC_CLK_TCK")
    assert (info.vpid, info.nthreads, info.gid) == (7, 3, 5)
    assert info.env is None and info.loginuid is None  # files absent: unknown


def test_journal_keeps_the_extras():
    info = procfs.read_proc(os.getpid())
    assert info is not None
    back = _info_from_json(info.pid, _info_json(info))
    assert back == info
    old = _info_from_json(5, [1, "sh", "/bin/sh", ["sh"], 0])  # a capture from before
    assert old is not None and old.sid is None and old.name == "sh"


def test_environment_is_bounded(tmp_path):
    pid_dir = tmp_path / "43"
    pid_dir.mkdir()
    (pid_dir / "status").write_text("Name:\tx\nPPid:\t1\nUid:\t0\t0\t0\t0\n")
    (pid_dir / "environ").write_bytes(b"".join(b"V%d=%s\0" % (i, b"x" * 90) for i in range(100)))
    info = procfs.read_proc(43, str(tmp_path))
    assert info is not None and info.env is not None
    assert len("\0".join(info.env)) <= procfs.MAX_ENV  # the last entry may be cut
    assert info.env[0] == "V0=" + "x" * 90 and len(info.env) < 100
