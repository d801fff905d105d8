"""Decoding probe records into Events: arguments, strings, ordering, clocks."""

import numpy as np
import pytest
from records import T, ext, record, sockaddr_in, sockaddr_in6

from cdig.collector.decode import Decoder, RawBatch, clone_flags, open_flags, sockaddr
from cdig.collector.events import EventKind
from cdig.probes.syscalls import layout

EMPTY_EV = np.zeros(0, dtype=layout.RECORD)
EMPTY_EXT = np.zeros(0, dtype=layout.EXT_RECORD)


def decode(events=EMPTY_EV, exts=EMPTY_EXT, offset=0):
    return list(Decoder(T, mono_to_wall_ns=offset).decode(RawBatch(events, exts)))


def test_plain_write_record():
    (ev,) = decode(record("write", ret=1, args=(3, 0xDEAD, 1), latency=1234, comm=b"cdigwork"))
    assert ev.type == "write" and ev.dir == "<" and ev.kind is EventKind.SYSCALL
    assert ev.args == {"fd": 3, "size": 1}
    assert ev.res == 1 and ev.latency_ns == 1234 and ev.comm == "cdigwork"
    assert ev.num == 1 and not ev.failed


def test_negative_return_is_failure_and_int_args_are_32_bit_signed():
    # AT_FDCWD arrives as a 32-bit -100 in a 64-bit register: both forms decode
    for dirfd in (0xFFFFFF9C, -100):
        (ev,) = decode(exts=ext("openat", ret=-2, args=(dirfd, 0, 0o2000000 | 1),
                                str1=b"/nope\0"))
        assert ev.args["dirfd"] == -100
        assert ev.args["path"] == "/nope"
        assert ev.args["flags"] == "O_WRONLY|O_CLOEXEC"
        assert ev.failed and ev.res == -2


def test_two_paths_and_merge_order_by_timestamp():
    a = record("write", ts=300, ret=1, args=(1, 0, 1))
    b = record("close", ts=100, args=(4,))
    x = ext("renameat2", ts=200, args=(0xFFFFFF9C, 0, 0xFFFFFF9C), str1=b"/a\0", str2=b"/b\0")
    evs = decode(np.concatenate([a, b]), x)
    assert [e.type for e in evs] == ["close", "renameat2", "write"]
    assert [e.num for e in evs] == [1, 2, 3]
    assert evs[1].args["oldpath"] == "/a" and evs[1].args["newpath"] == "/b"


def test_wall_clock_offset_added():
    (ev,) = decode(record("getppid", ts=5), offset=1_700_000_000_000_000_000)
    assert ev.ts_ns == 1_700_000_000_000_000_005


def test_connect_with_local_address():
    x = ext("connect", ret=0, args=(5, 0, 16), str2=sockaddr_in("127.0.0.1", 8080),
            str1=sockaddr_in("127.0.0.1", 40000), flags=layout.FLAG_LOCAL_ADDR)
    (ev,) = decode(exts=x)
    assert ev.args["addr"] == "127.0.0.1:8080"
    assert ev.args["local"] == "127.0.0.1:40000"


def test_sockaddr_forms():
    assert sockaddr(sockaddr_in6("::1", 443)) == "[::1]:443"
    assert sockaddr(b"\x01\x00/run/x.sock\0") == "/run/x.sock"
    assert sockaddr(b"\x01\x00\0abstract\0") == "@abstract"
    assert sockaddr(b"\x02") == ""  # too short: no crash


def test_execve_enter_argv_and_truncation_marker():
    x = ext("execve", kind=layout.KIND_SYSCALL_ENTER, str1=b"/bin/ls\0",
            str2=b"ls\0-l\0/tmp\0", argc=3)
    (ev,) = decode(exts=x)
    assert ev.dir == ">" and ev.args["filename"] == "/bin/ls"
    assert ev.args["argv"] == ["ls", "-l", "/tmp"]
    x["pad"] = 1
    (ev,) = decode(exts=x)
    assert ev.args["argv"][-1] == "..."


def test_untrusted_bytes_stay_text():
    x = ext("openat", ret=3, args=(0xFFFFFF9C,), str1=b"/tmp/\xff\x1b[31m\0")
    (ev,) = decode(exts=x)
    assert ev.args["path"] == "/tmp/\\xff\x1b[31m"  # invalid UTF-8 escaped, ESC kept as data


def test_sched_records():
    fork = record(kind=layout.KIND_FORK, args=(201, 100))
    exit_ = record(kind=layout.KIND_EXIT, ts=2000, pid=201)
    exe = ext(kind=layout.KIND_EXEC, ts=1500, pid=201, str1=b"/usr/bin/id\0", args=(201,))
    evs = decode(np.concatenate([fork, exit_]), exe)
    assert [e.type for e in evs] == ["procfork", "procexec", "procexit"]
    assert evs[0].args == {"child_tid": 201, "parent_tid": 100}
    assert evs[1].args["filename"] == "/usr/bin/id"


def test_unknown_syscall_number_is_named_not_fatal():
    r = record(None)
    r["nr"] = 1000
    (ev,) = decode(r)
    assert ev.type == "syscall_1000" and set(ev.args) == {"arg0", "arg1", "arg2"}


@pytest.mark.parametrize("flags,text", [(0, "O_RDONLY"), (0o102, "O_RDWR|O_CREAT")])
def test_open_flags(flags, text):
    assert open_flags(flags) == text


def test_clone_flags_with_exit_signal():
    assert clone_flags(0x10000 | 0x100 | 17) == "CLONE_VM|CLONE_THREAD|SIGCHLD"
