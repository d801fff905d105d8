"""A long live ``cdig top`` stays bounded: hundreds of generations of short-lived
processes, each with its own file, connection and failed open, in containers that
come and go, half of them with an exit the stream dropped, leave the model's
tables (and its traced memory) no larger than they were half way through."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from factories import TS_NS, make_event, make_process

from cdig.collector.events import HOST, Container, EventKind, FdInfo
from cdig.tui import model
from cdig.tui.aging import Ager
from cdig.tui.model import TopModel
from cdig.tui.refresher import Refresher, Request

pytestmark = pytest.mark.tui

JOBS = 20  # short-lived processes per generation (one second of the clock)
S = 1_000_000_000
IDLE_S = 20
GENS = 3 * IDLE_S  # seconds before the first look: the rings are full by then


def container(n: int) -> Container:
    return Container(id=f"{n:064x}", name=f"ci-{n}", runtime="podman")


def generation(g: int) -> list:
    """One second: JOBS processes (a new container every 5 s), each exec'd, opening
    and writing a file of its own, sending on a connection of its own, failing to
    open /nonexistent; the even ones' exits reach the stream, the odd ones' are
    dropped. A long-lived monitor (pid 50) reads /proc/PID/stat of each."""
    c = container(g // 5)
    out = []
    ts = TS_NS + g * S
    mon = make_process(pid=50, name="monitor", container=HOST)

    def add(**kw) -> None:
        kw.setdefault("tid", kw["pid"])
        out.append(make_event(num=0, ts_ns=ts + len(out), **kw))

    for i in range(JOBS):
        pid = 10_000 + g * JOBS + i
        p = make_process(pid=pid, name="job", exe="/bin/job", args=[f"--n={pid}"],
                         container=c)
        f = FdInfo(num=3, type="file", name=f"/tmp/job/{pid}.out")
        sock = FdInfo(num=4, type="ipv4", name=f"10.0.0.1:{pid}->10.0.0.2:80",
                      l4proto="tcp", cip="10.0.0.1", cport=pid, sip="10.0.0.2", sport=80)
        common = dict(pid=pid, comm="job", proc=p, container=c)
        add(kind=EventKind.EXEC, type="execve", res=0, fd=None,
            args={"filename": "/bin/job"}, **common)
        add(type="openat", syscall_nr=257, res=3, fd=f,
            args={"dirfd": -100, "path": f.name, "flags": "O_WRONLY", "mode": 0}, **common)
        add(type="write", res=100, fd=f, args={"fd": 3, "size": 100}, **common)
        add(type="sendto", syscall_nr=44, res=50, fd=sock, args={"fd": 4, "size": 50},
            **common)
        add(type="openat", syscall_nr=257, res=-2, fd=None,
            args={"dirfd": -100, "path": "/nonexistent", "flags": "O_RDONLY", "mode": 0},
            **common)
        if i % 2 == 0:
            add(kind=EventKind.EXIT, type="procexit", dir=">", res=0, fd=None, args={},
                **common)
        stat = FdInfo(num=7, type="file", name=f"/proc/{pid}/stat")
        add(pid=50, comm="monitor", proc=mon, container=HOST, type="read", res=300,
            fd=stat, args={"fd": 7, "size": 1024})
    return out


def sizes(m: TopModel) -> dict[str, int]:
    a = m.agg
    return {
        "alive": len(m.alive), "procinfo": len(m.procinfo), "argv": len(m.argv),
        "pids": len(a.pids), "pid_syscalls": len(a.pid_syscalls),
        "pid_files": len(a.pid_files), "pid_conns": len(a.pid_conns),
        "files": len(a.files), "file_opens": len(a.file_opens), "conns": len(a.conns),
        "err_detail": len(a.err_detail), "err_totals": len(a.err_totals),
        "containers": len(a.containers), "activity": len(m.activity),
        "cont_rings": len(m.cont_rings), "threads": len(m.threads),
        "procs_table": len(a.procs), "users": sum(len(s.extra["commands"])
                                                  for s in a.users.values()),
        "container_pids": sum(len(s.extra["pids"]) for s in a.containers.values()),
    }


def live_memory() -> int:
    """Traced bytes still reachable: cyclic garbage is collected first, since when
    the collector last ran depends on what the tests before this one allocated (in the
    whole suite the end once read 1.108x the half way point with nothing grown)."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_a_long_live_run_stays_bounded(monkeypatch):
    # small event rings, full after a few seconds: what grows after is the tables
    monkeypatch.setattr(model, "CONTAINER_RING", 100)
    monkeypatch.setattr(model, "MAX_CONTAINER_RINGS", 4)
    monkeypatch.setattr(model, "MAX_EXECS", 200)  # and the other bounded lists
    monkeypatch.setattr(model, "MAX_EXITED", 500)
    clock = [TS_NS]
    first = 10_000

    def alive(pid: int) -> bool:  # /proc: the monitor, and the jobs of this second
        return pid == 50 or pid >= first + (clock[0] - TS_NS) // S * JOBS

    m = TopModel(live=True, wall_ns=lambda: clock[0], ring_size=2000)
    m.ager = Ager(alive, idle_s=IDLE_S, sweep_s=2)  # shorter than live's 120 s: a quick test
    r = Refresher(m)
    views = ["procs", "files", "conns", "containers", "errors"]
    half: dict[str, int] = {}
    mem_half = 0
    tracemalloc.start()
    try:
        for g in range(2 * GENS):
            for ev in generation(g):
                if m.predicate(ev):
                    m.sink(ev)
            clock[0] = TS_NS + (g + 1) * S
            r.frame(Request(views[g % len(views)]))
            if g == GENS - 1:
                half, mem_half = sizes(m), live_memory()
        end, mem_end = sizes(m), live_memory()
    finally:
        tracemalloc.stop()
    grown = {k: (half[k], end[k]) for k in end if end[k] > half[k] + JOBS}
    assert not grown, f"tables still growing (half way, at the end): {grown}"
    assert mem_end < mem_half * 1.1, (mem_half, mem_end)
    # and still what the views need: the jobs of the last second are listed
    last = first + (2 * GENS - 1) * JOBS
    assert all(last + i in m.agg.pids for i in range(JOBS))


def test_aging_keeps_what_is_active():
    """A file written every second and a connection in use stay; the minute of
    activity of a container that is still running stays."""
    clock = [TS_NS]
    m = TopModel(live=True, wall_ns=lambda: clock[0])
    m.ager = Ager(lambda pid: True, idle_s=IDLE_S, sweep_s=2)
    r = Refresher(m)
    c = container(1)
    p = make_process(pid=70, name="db", container=c)
    f = FdInfo(num=3, type="file", name="/var/lib/db")
    for g in range(3 * IDLE_S):
        ev = make_event(num=g, ts_ns=TS_NS + g * S, pid=70, tid=70, comm="db", proc=p,
                        container=c, fd=f, res=10, args={"fd": 3, "size": 10})
        if m.predicate(ev):
            m.sink(ev)
        clock[0] = TS_NS + (g + 1) * S
        r.frame(Request("files"))
    a = m.agg
    assert a.files["/var/lib/db"].written == 10 * 3 * IDLE_S
    assert a.pid_files[(70, "/var/lib/db")][1] == 10 * 3 * IDLE_S
    assert c.id in a.containers and c.id in m.activity and 70 in a.pids
