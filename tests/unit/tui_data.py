"""Deterministic data for the TUI tests: synthetic events and a recorded capture.

``scenario()`` is one second of a small host, as Events (already enriched, as the
pipeline hands them to the sink):

    web  (podman, nginx image, pod prod/web-7d9f)  pid 50 nginx: opens and reads
         /etc/nginx.conf, writes /var/log/access.log, sends on a TCP connection
    db   (podman)                                  pid 80 postgres: writes, then exits
    host                                           pid 60 "[bold red]x\\x1b[2J" (hostile
         name): failed opens (ENOENT); pid 70 curl: connects and sends; an exec by uid 1000
"""

from __future__ import annotations

from factories import TCP, TS_NS, WEB, make_event, make_process

from cdig.collector.events import HOST, Container, Event, EventKind, FdInfo

DB = Container(id="9" * 64, name="db", runtime="podman", image="docker.io/library/postgres:16")
EVIL = "[bold red]x\x1b[2J"
CONF = FdInfo(num=4, type="file", name="/etc/nginx.conf")
LOG = FdInfo(num=5, type="file", name="/var/log/access.log")
DATA = FdInfo(num=6, type="file", name="/var/lib/pg/data")
STEP = 10_000_000  # 10 ms between rounds: 100 rounds = 1 s of capture time

N_ROUNDS = 100


def scenario(rounds: int = N_ROUNDS, db_exits: bool = True) -> list[Event]:
    out: list[Event] = []
    nginx = make_process(pid=50, name="nginx", exe="/usr/sbin/nginx", args=["-g", "daemon off;"],
                         container=WEB)
    pg = make_process(pid=80, name="postgres", exe="/usr/bin/postgres", args=["-D", "/data"],
                      container=DB, uid=65534)
    evil = make_process(pid=60, name=EVIL, exe="/tmp/x", args=["--\x1b[31mred"], uid=0)
    curl = make_process(pid=70, name="curl", exe="/usr/bin/curl", args=["http://10.0.0.1/"],
                        uid=65534)

    def add(**kw) -> None:
        kw.setdefault("tid", kw["pid"])
        out.append(make_event(num=len(out) + 1, **kw))

    for i in range(rounds):
        ts = TS_NS + i * STEP
        add(ts_ns=ts, pid=50, comm="nginx", proc=nginx, container=WEB, type="openat",
            syscall_nr=257, res=4, latency_ns=2000, fd=CONF,
            args={"dirfd": -100, "path": "/etc/nginx.conf", "flags": "O_RDONLY", "mode": 0})
        add(ts_ns=ts + 1, pid=50, comm="nginx", proc=nginx, container=WEB, type="read",
            syscall_nr=0, res=512, latency_ns=4000, fd=CONF, args={"fd": 4, "size": 4096})
        add(ts_ns=ts + 2, pid=50, comm="nginx", proc=nginx, container=WEB, type="write",
            res=128, latency_ns=3000 + i * 100, fd=LOG, args={"fd": 5, "size": 128})
        add(ts_ns=ts + 3, pid=50, comm="nginx", proc=nginx, container=WEB, type="sendto",
            syscall_nr=44, res=1000, latency_ns=5000, fd=TCP, args={"fd": 5, "size": 1000})
        add(ts_ns=ts + 4, pid=60, comm=EVIL, proc=evil, container=HOST, type="openat",
            syscall_nr=257, res=-2, latency_ns=1000, fd=None,
            args={"dirfd": -100, "path": "/nope", "flags": "O_RDONLY", "mode": 0})
        add(ts_ns=ts + 5, pid=70, comm="curl", proc=curl, container=HOST, type="sendto",
            syscall_nr=44, res=200, latency_ns=7000, fd=TCP, uid=65534,
            args={"fd": 5, "size": 200})
        if i < rounds // 2 or not db_exits:
            add(ts_ns=ts + 6, pid=80, comm="postgres", proc=pg, container=DB, type="write",
                res=8192, latency_ns=20000, fd=DATA, uid=65534, args={"fd": 6, "size": 8192})
        if i == 10:
            ls = make_process(pid=90, name="ls", exe="/bin/ls", args=["-l", "/tmp"], uid=65534)
            add(ts_ns=ts + 7, pid=90, comm="ls", proc=ls, container=HOST, type="execve",
                kind=EventKind.EXEC, dir="<", res=0, latency_ns=0, fd=None, uid=65534,
                args={"filename": "/bin/ls"})
        if i == rounds // 2 and db_exits:
            add(ts_ns=ts + 8, pid=80, comm="postgres", proc=pg, container=DB, type="procexit",
                kind=EventKind.EXIT, dir=">", res=0, latency_ns=0, fd=None, uid=65534, args={})
    return out


ACCEPTED = FdInfo(num=7, type="ipv4", name="10.0.0.9:51000->10.0.0.2:5432", l4proto="tcp",
                  cip="10.0.0.9", cport=51000, sip="10.0.0.2", sport=5432,
                  local_is_client=False)
SLOW_MS = (3, 12)  # the two slow writes of postgres, in ms


def more(rounds: int = N_ROUNDS) -> list[Event]:
    """``scenario()`` and what the Threads, Directories, Server ports and Slow file
    I/O views need beyond it: a second nginx thread (tid 51, "nginx-io") reading
    /etc/nginx.conf, postgres (pid 80) receiving on a connection accepted on port
    5432, and two slow writes (3 ms, 12 ms) to /var/lib/pg/data."""
    out = scenario(rounds)
    nginx = next(e.proc for e in out if e.pid == 50)
    pg = next(e.proc for e in out if e.pid == 80)
    ts = out[-1].ts_ns

    def add(**kw) -> None:
        kw.setdefault("tid", kw["pid"])
        out.append(make_event(num=len(out) + 1, **kw))

    for i in range(10):
        add(ts_ns=TS_NS + i * STEP + 9, pid=50, tid=51, comm="nginx-io", proc=nginx,
            container=WEB, type="read", syscall_nr=0, res=2048, latency_ns=3000, fd=CONF,
            args={"fd": 4, "size": 4096})
        add(ts_ns=TS_NS + i * STEP + 9, pid=80, comm="postgres", proc=pg, container=DB,
            type="recvfrom", syscall_nr=45, res=300, latency_ns=6000, fd=ACCEPTED,
            uid=65534, args={"fd": 7, "size": 300})
    for j, ms in enumerate(SLOW_MS):
        add(ts_ns=TS_NS + (20 + j) * STEP + 9, pid=80, comm="postgres", proc=pg,
            container=DB, type="write", res=65536, latency_ns=ms * 1_000_000, fd=DATA,
            uid=65534, args={"fd": 6, "size": 65536})
    out.sort(key=lambda e: e.ts_ns)
    for n, e in enumerate(out):
        e.num = n + 1
    assert out[-1].ts_ns == ts
    return out
