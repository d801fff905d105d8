"""The process and fd tables, driven by synthetic decoded events and a fake /proc."""

import os

import numpy as np
from records import T, ext, record, sockaddr_in

from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.events import HOST, Container
from cdig.collector.fd_names import fd_from_target
from cdig.collector.state import State
from cdig.probes.syscalls import layout

WEB = Container(id="a" * 64, name="web", runtime="podman")


def fake_proc(tmp_path, pid, name="app", ppid=1, argv=(b"app",), fds=None, cwd=None):
    d = tmp_path / str(pid)
    (d / "fd").mkdir(parents=True)
    (d / "status").write_text(f"Name:\t{name}\nPPid:\t{ppid}\nUid:\t1000\t1000\t1000\t1000\n")
    (d / "cmdline").write_bytes(b"\0".join(argv) + b"\0")
    for n, target in (fds or {}).items():
        os.symlink(target, d / "fd" / str(n))
    if cwd:
        os.symlink(cwd, d / "cwd")
    return d


def run(state, *recs):
    small = [r for r in recs if r.dtype == layout.RECORD]
    exts = [r for r in recs if r.dtype == layout.EXT_RECORD]
    batch = RawBatch(np.concatenate(small) if small else np.zeros(0, layout.RECORD),
                     np.concatenate(exts) if exts else np.zeros(0, layout.EXT_RECORD))
    return [state.update(e) for e in Decoder(T, 0).decode(batch)]


def make_state(tmp_path, containers=None):
    containers = containers or {}
    return State(container_of=lambda cg, pid: containers.get(cg, HOST), proc_root=str(tmp_path))


def test_process_seeded_from_proc_before_the_trace(tmp_path):
    fake_proc(tmp_path, 100, name="nginx", ppid=1, argv=(b"nginx", b"-g", b"daemon off;"))
    st = make_state(tmp_path, {7: WEB})
    assert st.seed() == 1
    (ev,) = run(st, record("getppid", pid=100, comm=b"nginx"))
    assert ev.proc.name == "nginx" and ev.proc.args == ["-g", "daemon off;"]
    assert ev.container is WEB and ev.proc.uid == 1000


def test_vanished_process_keeps_what_the_record_says(tmp_path):
    st = make_state(tmp_path)
    (ev,) = run(st, record("getppid", pid=4242, comm=b"shortlived"))
    assert ev.proc.name == "shortlived" and ev.proc.pid == 4242


def test_open_names_fd_until_close(tmp_path):
    fake_proc(tmp_path, 100, cwd="/srv")
    st = make_state(tmp_path)
    evs = run(st,
              ext("openat", ts=1, ret=3, args=(0xFFFFFF9C, 0, 1), str1=b"data/x.log\0"),
              record("write", ts=2, ret=5, args=(3, 0, 5)),
              record("close", ts=3, args=(3,)),
              record("write", ts=4, ret=-9, args=(3, 0, 5)))
    assert evs[0].fd.name == "/srv/data/x.log"  # relative to the cwd from /proc
    assert evs[1].fd.name == "/srv/data/x.log" and evs[1].fd.type == "file"
    assert evs[2].fd.name == "/srv/data/x.log"  # close still names what it closes
    assert evs[3].fd is None  # closed, and /proc has no fd 3


def test_fd_from_proc_when_opened_before_the_trace(tmp_path):
    fake_proc(tmp_path, 100, fds={1: "/dev/null", 4: "pipe:[99]"})
    st = make_state(tmp_path)
    evs = run(st, record("write", ret=1, args=(1, 0, 1)), record("read", ts=2, args=(4, 0, 9)))
    assert evs[0].fd.name == "/dev/null" and evs[0].fd.type == "file"
    assert evs[1].fd.type == "pipe"


def test_dup_copies_and_socket_connect_names_both_ends(tmp_path):
    st = make_state(tmp_path)
    evs = run(st,
              ext("openat", ts=1, ret=3, args=(0xFFFFFF9C,), str1=b"/etc/hosts\0"),
              record("dup2", ts=2, ret=9, args=(3, 9)),
              record("read", ts=3, ret=1, args=(9, 0, 1)),
              record("socket", ts=4, ret=5, args=(2, 1, 0)),
              ext("connect", ts=5, ret=0, args=(5, 0, 16), str2=sockaddr_in("127.0.0.1", 8080),
                  str1=sockaddr_in("127.0.0.1", 40000), flags=layout.FLAG_LOCAL_ADDR),
              record("write", ts=6, ret=3, args=(5, 0, 3)))
    assert evs[2].fd.name == "/etc/hosts" and evs[2].fd.num == 9
    fd = evs[5].fd
    assert fd.type == "ipv4" and fd.l4proto == "tcp"
    assert (fd.cip, fd.cport, fd.sip, fd.sport) == ("127.0.0.1", 40000, "127.0.0.1", 8080)
    assert fd.name == "127.0.0.1:40000->127.0.0.1:8080"
    assert (fd.lport, fd.rport) == (40000, 8080)


def test_accept_makes_server_side_fd(tmp_path):
    st = make_state(tmp_path)
    evs = run(st,
              record("socket", ts=1, ret=3, args=(2, 1, 0)),
              ext("bind", ts=2, ret=0, args=(3, 0, 16), str2=sockaddr_in("127.0.0.1", 8080)),
              ext("accept4", ts=3, ret=4, args=(3, 0, 0), str2=sockaddr_in("127.0.0.1", 51000)),
              record("read", ts=4, ret=3, args=(4, 0, 10)))
    fd = evs[3].fd
    assert not fd.local_is_client and fd.sport == 8080 and fd.cport == 51000
    assert fd.name == "127.0.0.1:51000->127.0.0.1:8080"


def test_bind_to_port_0_takes_the_port_from_proc_and_accepts_name_it(tmp_path):
    """A test server's bind(("127.0.0.1", 0)): the kernel's port, read from /proc
    after the bind, is the server end of every accepted socket (was 127.0.0.1:0)."""
    fake_proc(tmp_path, 100, fds={3: "socket:[600]"})
    _net_tcp(tmp_path, 100, ("127.0.0.1", 39591, "0.0.0.0", 0, 600))
    st = make_state(tmp_path)
    evs = run(st,
              record("socket", ts=1, ret=3, args=(2, 1, 0)),
              ext("bind", ts=2, ret=0, args=(3, 0, 16), str2=sockaddr_in("127.0.0.1", 0)),
              ext("accept4", ts=3, ret=4, args=(3, 0, 0), str2=sockaddr_in("127.0.0.1", 51000)),
              record("read", ts=4, ret=3, args=(4, 0, 10)))
    assert evs[1].fd.name == "127.0.0.1:39591"
    assert evs[3].fd.name == "127.0.0.1:51000->127.0.0.1:39591"
    assert (evs[3].fd.sport, evs[3].fd.cport) == (39591, 51000)


def test_accept_on_an_unknown_listener_names_the_server_end_from_proc(tmp_path):
    """The listener's /proc line is gone (closed, or opened before the trace by a
    process whose fd table was not read in time): the accepted socket's own line."""
    fake_proc(tmp_path, 100, fds={4: "socket:[601]"})
    _net_tcp(tmp_path, 100, ("127.0.0.1", 8080, "127.0.0.1", 51000, 601))
    st = make_state(tmp_path)
    (ev, rd) = run(st, ext("accept4", ts=3, ret=4, args=(3, 0, 0),
                           str2=sockaddr_in("127.0.0.1", 51000)),
                   record("read", ts=4, ret=3, args=(4, 0, 10)))
    assert ev.fd.name == rd.fd.name == "127.0.0.1:51000->127.0.0.1:8080"
    assert not ev.fd.local_is_client and ev.fd.l4proto == "tcp"


def test_fork_exec_exit_lifecycle(tmp_path):
    fake_proc(tmp_path, 100, name="sh", argv=(b"sh",))
    st = make_state(tmp_path, {7: WEB})
    st.seed()
    evs = run(st,
              record(kind=layout.KIND_FORK, ts=1, pid=100, args=(200, 100)),
              record("getppid", ts=2, pid=200, comm=b"sh"),
              ext("execve", kind=layout.KIND_SYSCALL_ENTER, ts=3, pid=200, comm=b"sh",
                  str1=b"/bin/id\0", str2=b"id\0-u\0", argc=2),
              ext(kind=layout.KIND_EXEC, ts=4, pid=200, comm=b"id", str1=b"/bin/id\0",
                  args=(200,)),
              record("getuid", ts=5, pid=200, comm=b"id"),
              record(kind=layout.KIND_EXIT, ts=6, pid=200, comm=b"id"))
    child = evs[1].proc
    assert child.ppid == 100 and child.container is WEB  # known from the fork, not /proc
    assert evs[4].proc.name == "id" and evs[4].proc.exe == "/bin/id"
    assert evs[4].proc.args == ["-u"] and evs[4].proc.cmdline == "id -u"
    assert st.procs[200].exited and evs[5].proc.exited
    # as of each event: the exec replaced the process, the fork's child keeps its name
    assert child.name == "sh" and evs[5].proc is evs[4].proc
    # evicted after the grace period
    run(st, record("getppid", ts=6 + st.exit_grace_ns + 1, pid=100))
    assert 200 not in st.procs


def test_tables_are_bounded(tmp_path):
    st = State(proc_root=str(tmp_path), max_procs=10, max_fds_per_proc=4)
    run(st, *[record("getppid", ts=i, pid=1000 + i) for i in range(25)])
    assert len(st.procs) == 10
    run(st, *[ext("openat", ts=100 + i, ret=10 + i, args=(0xFFFFFF9C,), str1=b"/x\0", pid=1)
              for i in range(9)])
    assert len(st.fds[1]) == 4


def test_fd_from_target_kinds(tmp_path):
    assert fd_from_target(1, 3, str(tmp_path), "/").type == "directory"
    assert fd_from_target(1, 3, "anon_inode:[eventfd]", "/").type == "event"
    assert fd_from_target(1, 3, "socket:[123]", str(tmp_path)).type == "unix"


# -- non-blocking connect (EINPROGRESS) -------------------------------------------


def _net_tcp(tmp_path, pid, *lines):
    """A /proc/PID/net/tcp with one line per (local ip, lport, remote ip, rport, inode)."""
    def hexip(ip):
        return "".join(f"{b:02X}" for b in reversed(bytes(int(x) for x in ip.split("."))))
    rows = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
            "   uid  timeout inode"]
    for i, (lip, lport, rip, rport, inode) in enumerate(lines):
        rows.append(f"   {i}: {hexip(lip)}:{lport:04X} {hexip(rip)}:{rport:04X} 02 "
                    f"00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0 0 0")
    net = tmp_path / str(pid) / "net"
    net.mkdir(parents=True, exist_ok=True)
    (net / "tcp").write_text("\n".join(rows) + "\n")


def _nb_connect(local: bytes | None = None, port: int = 8080, ret: int = -115, ts: int = 2):
    kw = dict(str1=local, flags=layout.FLAG_LOCAL_ADDR) if local is not None else {}
    return ext("connect", ts=ts, ret=ret, args=(5, 0, 16), str2=sockaddr_in("10.1.2.3", port),
               **kw)


def test_einprogress_connect_is_named_with_its_tuple(tmp_path):
    """The record carries the local end (the handshake finished inside connect)."""
    st = make_state(tmp_path)
    evs = run(st,
              record("socket", ts=1, ret=5, args=(2, 1 | 0o4000, 0)),
              _nb_connect(sockaddr_in("10.0.0.9", 41000)),
              record("getsockopt", ts=3, ret=0, args=(5, 1, 4)),
              record("write", ts=4, ret=3, args=(5, 0, 3)),
              record("read", ts=5, ret=2, args=(5, 0, 9)))
    assert evs[1].res == -115
    for ev in evs[1:]:
        fd = ev.fd
        assert (fd.cip, fd.cport, fd.sip, fd.sport) == ("10.0.0.9", 41000, "10.1.2.3", 8080), ev
        assert fd.name == "10.0.0.9:41000->10.1.2.3:8080" and fd.local_is_client
        assert (fd.type, fd.l4proto) == ("ipv4", "tcp")
    assert evs[0].fd.name == ""  # the socket() event keeps the name it had then


def test_einprogress_connect_takes_the_local_port_from_proc(tmp_path):
    """SYN_SENT gave the local address without the port: /proc has the port."""
    fake_proc(tmp_path, 100, fds={5: "socket:[777]"})
    _net_tcp(tmp_path, 100, ("10.0.0.9", 41001, "10.1.2.3", 8080, 777))
    st = make_state(tmp_path)
    evs = run(st,
              record("socket", ts=1, ret=5, args=(2, 1, 0)),
              _nb_connect(sockaddr_in("10.0.0.9", 0)),
              record("write", ts=3, ret=3, args=(5, 0, 3)))
    for ev in evs[1:]:
        assert ev.fd.name == "10.0.0.9:41001->10.1.2.3:8080"
        assert (ev.fd.lport, ev.fd.rport) == (41001, 8080)


def test_proc_line_of_another_peer_is_not_taken(tmp_path):
    """The fd was reused before the record was read: /proc describes another socket."""
    fake_proc(tmp_path, 100, fds={5: "socket:[778]"})
    _net_tcp(tmp_path, 100, ("10.0.0.9", 41002, "10.9.9.9", 443, 778))
    st = make_state(tmp_path)
    evs = run(st, record("socket", ts=1, ret=5, args=(2, 1, 0)),
              _nb_connect(sockaddr_in("10.0.0.9", 0)))
    fd = evs[1].fd
    assert (fd.cip, fd.cport, fd.sip, fd.sport) == ("10.0.0.9", 0, "10.1.2.3", 8080)


def test_failed_connect_names_nothing_but_pending_and_repeated_ones_do(tmp_path):
    st = make_state(tmp_path)
    evs = run(st,
              record("socket", ts=1, ret=5, args=(2, 1, 0)),
              _nb_connect(ret=-111, ts=2),  # ECONNREFUSED: never connected
              _nb_connect(sockaddr_in("10.0.0.9", 41003), ts=3),  # EINPROGRESS
              _nb_connect(ret=-114, ts=4),  # EALREADY: still connecting
              _nb_connect(ret=0, ts=5),  # completion check: connected, no SYN_SENT again
              _nb_connect(ret=-106, ts=6),  # EISCONN
              record("write", ts=7, ret=1, args=(5, 0, 1)))
    assert evs[1].fd.name == "" and evs[1].fd.sip == ""
    for ev in evs[2:]:
        assert ev.fd.name == "10.0.0.9:41003->10.1.2.3:8080", ev


def test_reconnect_to_another_peer_forgets_the_old_local_end(tmp_path):
    st = make_state(tmp_path)
    evs = run(st,
              record("socket", ts=1, ret=5, args=(2, 2, 0)),  # UDP
              _nb_connect(sockaddr_in("10.0.0.9", 5000), ret=0, ts=2),
              _nb_connect(None, port=53, ret=0, ts=3))  # no local end, /proc knows nothing
    assert evs[1].fd.name == "10.0.0.9:5000->10.1.2.3:8080"
    assert evs[2].fd.name == "10.1.2.3:53" and evs[2].fd.cport == 0


def test_execve_exit_carries_the_new_image_as_sysdig(tmp_path):
    """sysdig's execve exit has exe, args, tid, pid, ptid, cwd, comm: from the new process."""
    fake_proc(tmp_path, 100, name="sh", argv=(b"sh",))
    st = make_state(tmp_path)
    st.seed()
    fake_proc(tmp_path, 200, name="cat", argv=(b"cat",), cwd="/srv")  # /proc after the exec
    evs = run(st,
              record(kind=layout.KIND_FORK, ts=1, pid=100, args=(200, 100)),
              ext("execve", kind=layout.KIND_SYSCALL_ENTER, ts=2, pid=200, comm=b"sh",
                  str1=b"/bin/cat\0", str2=b"cat\0/dev/null\0", argc=2),
              ext(kind=layout.KIND_EXEC, ts=3, pid=200, comm=b"cat", str1=b"/bin/cat\0",
                  args=(200,)),
              record("execve", ts=4, pid=200, comm=b"cat", args=(0x1000, 0x2000)),
              record("execve", ts=5, pid=200, comm=b"cat", ret=-2, args=(0x1000, 0x2000)))
    exit_ = evs[3]
    assert exit_.args == {"exe": "/bin/cat", "args": ["/dev/null"], "tid": "200(cat)",
                          "pid": "200(cat)", "ptid": "100(sh)", "cwd": "/srv", "comm": "cat"}
    assert evs[4].args == {"filename": "", "argv": []}  # a failed exec: no new image


def test_connected_sockets_are_read_from_proc_once(tmp_path):
    """/proc/PID/net/tcp is slow to read (the kernel walks its whole hash): one read
    serves every connected socket in it; an unconnected one is read again."""
    from cdig.collector.procfs import socket_tuple

    _net_tcp(tmp_path, 100, ("10.0.0.9", 41010, "10.1.2.3", 443, 901),
             ("10.0.0.9", 41011, "10.1.2.3", 443, 902), ("0.0.0.0", 8080, "0.0.0.0", 0, 903))
    root = str(tmp_path)
    assert socket_tuple(100, 901, root) == ("tcp", "10.0.0.9", 41010, "10.1.2.3", 443)
    _net_tcp(tmp_path, 100, ("0.0.0.0", 8080, "0.0.0.0", 1, 903))  # 901, 902 gone from it
    assert socket_tuple(100, 902, root) == ("tcp", "10.0.0.9", 41011, "10.1.2.3", 443)
    assert socket_tuple(100, 903, root) == ("tcp", "0.0.0.0", 8080, "0.0.0.0", 1)  # re-read


def test_forked_child_is_dated_by_its_fork_not_its_first_event_seen(tmp_path):
    # a filter or a replay prune may hide a child's first syscalls: its start (and so
    # proc.duration at exit) is the fork's time, whichever event of it comes first
    fake_proc(tmp_path, 100, name="sh", argv=(b"sh",))
    st = make_state(tmp_path)
    st.seed()
    evs = run(st, record(kind=layout.KIND_FORK, ts=1_000, pid=100, args=(200, 100)),
              record("getuid", ts=9_000, pid=200, comm=b"sh"))
    assert evs[1].proc.start_ns == evs[0].ts_ns < evs[1].ts_ns
    # and a capture's snapshot keeps a fork whose child has not run yet
    st2 = make_state(tmp_path)
    run(st2, record(kind=layout.KIND_FORK, ts=1_000, pid=100, args=(300, 100)))
    st3 = make_state(tmp_path)
    st3.restore(st2.snapshot(lambda c: 0), lambda k: HOST)
    (ev,) = run(st3, record("getuid", ts=5_000, pid=300, comm=b"sh"))
    assert ev.proc.start_ns < ev.ts_ns and ev.proc.ppid == 100
