"""cdig top's exact counters (``tui/counters.py``) over synthetic map contents,
and the views reading them (Pilot). The kernel side is covered live by
``tests/integration/test_tui_tmux.py``; here the reader is a fake with the same
``read()``/``forget()`` as ``TopCounterMaps``."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from factories import WEB, make_event

from cdig.collector.events import HOST
from cdig.probes.syscall_table import table
from cdig.tui.app import make_app
from cdig.tui.counters import CounterReading, KernelCounters
from cdig.tui.feeds import EventFeed

pytestmark = pytest.mark.tui

T = table("x86_64")
NR = {n: T.nr(n) for n in ("write", "openat", "getppid", "read")}
CG_WEB, CG_HOST = 7001, 1


class FakeMaps:
    """The kernel's maps as dicts; ``forget`` deletes like TopCounterMaps."""

    def __init__(self) -> None:
        self.procs: dict[tuple[int, int, int], dict[str, int]] = {}
        self.errors: dict[tuple[int, int, int, int], int] = {}
        self.totals: dict[tuple[int, int], dict[str, int]] = {}
        self.total_errors: dict[tuple[int, int, int], int] = {}
        self.forgotten: list[set[int]] = []

    def add(self, cg: int, tgid: int, name: str, n: int, errno: int = 0, nbytes: int = 0):
        nr = NR[name]
        p = self.procs.setdefault((cg, tgid, nr), {"count": 0, "errors": 0, "file_bytes": 0})
        t = self.totals.setdefault((cg, nr), {"count": 0, "errors": 0, "file_bytes": 0})
        for d in (p, t):
            d["count"] += n
            d["file_bytes"] += nbytes
            if errno:
                d["errors"] += n
        if errno:
            self.errors[(cg, tgid, nr, errno)] = self.errors.get((cg, tgid, nr, errno), 0) + n
            self.total_errors[(cg, nr, errno)] = self.total_errors.get((cg, nr, errno), 0) + n

    def read(self) -> CounterReading:
        from cdig.probes.metrics.maps import MapSnapshot

        return CounterReading.build(self.procs, self.errors, MapSnapshot.build(
            self.totals, self.total_errors, latency=True))

    def forget(self, tgids, reading=None) -> None:
        tg = set(tgids)
        self.forgotten.append(tg)
        self.procs = {k: v for k, v in self.procs.items() if k[1] not in tg}
        self.errors = {k: v for k, v in self.errors.items() if k[1] not in tg}


def counters(maps: FakeMaps, alive: set[int]) -> KernelCounters:
    names = {100: ("nginx", 0), 200: ("cat", 0), 300: ("storm", 0)}
    return KernelCounters(maps, lambda cg: WEB if cg == CG_WEB else HOST, T.name,
                          name_of=names.get, alive=lambda t: t in alive)


def test_sample_sums_exactly_and_retires_a_gone_process_after_one_listing():
    m = FakeMaps()
    m.add(CG_WEB, 100, "write", 4_500_000, nbytes=4_500_000)
    m.add(CG_WEB, 100, "write", 4_500_000, nbytes=4_500_000)  # the second thread: same tgid
    m.add(CG_WEB, 200, "openat", 10, errno=2)
    m.add(CG_HOST, 300, "getppid", 123_456_789)
    alive = {100, 300}
    kc = counters(m, alive)
    t = kc.sample(1)
    assert t.containers[WEB.id][1]["events"] == 9_000_010
    assert t.containers[WEB.id][1]["file_out"] == 9_000_000
    assert t.pids[100].events == 9_000_000 and t.pids[100].file_out == 9_000_000
    assert t.pids[100].name == "nginx" and t.pids[100].container is WEB
    assert t.pids[200].exited and t.pids[200].errors == 10  # gone: listed, marked
    assert t.syscalls["getppid"] == (123_456_789, 0, 0)
    assert t.err_totals == {("openat", "ENOENT", WEB.id): 10}
    assert t.err_detail == {("openat", "ENOENT", 200): 10}
    assert t.events == 123_456_789 + 9_000_010
    t2 = kc.sample(2)  # the next refresh: its rows are deleted from the maps
    assert m.forgotten == [{200}] and 200 not in t2.pids
    # the container's and the errno's totals keep counting it
    assert t2.containers[WEB.id][1]["events"] == 9_000_010
    assert t2.err_totals == {("openat", "ENOENT", WEB.id): 10}
    assert kc.scoped(t2, None, WEB.id) == {"write": (9_000_000, 0, 0)}
    assert kc.scoped(t2, 300, None) == {"getppid": (123_456_789, 0, 0)}


def test_a_process_gone_while_proc_is_read_keeps_its_comm_from_the_kernel(tmp_path):
    """Alive when asked, gone when /proc/PID/comm is read (a 50 ms process at a
    refresh): its name is the kernel's comm of its exec, never "?"."""
    m = FakeMaps()
    m.add(CG_WEB, 400, "getppid", 500)
    reading = m.read()
    reading.comms = {400: "cdigwork"}
    m.read = lambda: reading  # type: ignore[method-assign]
    kc = KernelCounters(m, lambda cg: WEB, T.name, name_of=lambda t: None,
                        alive=lambda t: True, proc_root=str(tmp_path))  # no /proc entry
    assert kc.sample(1).pids[400].name == "cdigwork"


def test_reading_from_dicts_sums_the_totals():
    r = CounterReading.build({(5, 1, 0): {"count": 3, "errors": 1, "time_ns": 30},
                              (5, 2, 0): {"count": 4}})
    assert int(r.totals.syscalls["count"][0]) == 7
    assert int(r.totals.syscalls["lat_sum_ns"][0]) == 30
    assert r.procs.dtype.names[:3] == ("cgroup_id", "tgid", "nr")
    assert np.array_equal(np.sort(r.procs["tgid"]), [1, 2])


async def test_views_show_the_kernel_counts_not_the_stream():
    """The stream delivered 3 events of web's 9,000,010 syscalls: the views show
    9,000,010, exactly, and say how much of it the stream carried."""
    m = FakeMaps()
    m.add(CG_WEB, 100, "write", 9_000_000, nbytes=9_000_000)
    m.add(CG_WEB, 200, "openat", 10, errno=2)
    kc = counters(m, {100})
    evs = [make_event(num=i + 1, ts_ns=1_000_000_000 + i, pid=100, tid=100, comm="nginx",
                      container=WEB) for i in range(3)]
    app = make_app(EventFeed(evs, live=True), auto_refresh=False, start_view="containers",
                   counters=kc)
    async with app.run_test(size=(160, 30)) as pilot:
        await app.feed.fed()
        f = await app.refresh_now()
        await pilot.pause()
        web = f.data.meta[WEB.id].values
        assert web["events"] == 9_000_010
        cells = dict(f.data.rows)[WEB.id]
        assert "9000010" in [c.plain for c in cells]
        assert "exact" in f.header.plain and "exact (kernel counters)" in f.data.totals
        m.add(CG_WEB, 100, "write", 1000)
        await asyncio.sleep(0.05)
        f = await app.refresh_now()
        stream = f.data.meta[WEB.id].values["stream"]
        assert stream == 0.0  # 1,000 syscalls in the interval, no event of them
        await pilot.press("1")
        f = await app.refresh_now()
        await pilot.pause()
        assert f.data.meta["100"].values["events"] == 9_001_000
        await pilot.press("4")
        f = await app.refresh_now()
        await pilot.pause()
        assert [(k, r.values["count"]) for k, r in f.data.meta.items()] == [("ENOENT", 10)]
        # a filter needs events: the views say where their counts come from
        assert app.apply_filter("proc.name=nginx") is None
        await asyncio.sleep(0.05)
        await pilot.press("1")
        f = await app.refresh_now()
        assert "from the event stream (filtered)" in f.data.totals
        assert "100" not in f.data.meta  # no event of it since the filter
        assert app.apply_filter("") is None
        await asyncio.sleep(0.05)
        f = await app.refresh_now()
        assert f.data.meta["100"].values["events"] == 9_001_000  # kept across filters


async def test_f12_spectrogram_draws_the_kernel_histogram_per_refresh():
    m = FakeMaps()
    m.add(CG_WEB, 100, "write", 10)
    kc = counters(m, {100})
    app = make_app(EventFeed([], live=True), auto_refresh=False, start_view="containers",
                   counters=kc)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.press("f12")
        f = await app.refresh_now()
        assert app.main.view == "spectro" and "filling" in f.data.totals
        for slots in ({4: 10}, {4: 1010, 9: 5}):  # +1000 at ~1us, +5 at ~1ms
            m.totals[(CG_WEB, NR["write"])]["lat_slots"] = slots
            await asyncio.sleep(0.02)
            f = await app.refresh_now()
        await pilot.pause()
        rows = [r.values for r in f.data.meta.values()]
        newest = max(rows, key=lambda v: v["ts"])
        assert newest["calls"] == 1005
        assert newest["b4"] == 4 and 0 < newest["b9"] < newest["b4"] and newest["b0"] == 0


class NarrowingFeed(EventFeed):
    """A live feed that records what the app asks the kernel to send."""

    def __init__(self, events) -> None:
        super().__init__(events, live=True)
        self.wants: list[frozenset[str] | None] = []

    def want_syscalls(self, names):
        self.wants.append(names)
        return True


async def test_the_stream_is_narrowed_while_the_kernel_counts():
    """With the kernel's counters and no filter, only the syscalls that need events
    reach the stream (a getppid storm stays in the kernel); a filter, the Live
    events view or Threads widen it to every syscall, and leaving them narrows it
    again."""
    from cdig.tui.app import STREAM_SYSCALLS

    m = FakeMaps()
    m.add(CG_WEB, 100, "write", 10)
    feed = NarrowingFeed([make_event(num=1, pid=100, tid=100, container=WEB)])
    app = make_app(feed, auto_refresh=False, counters=counters(m, {100}))
    async with app.run_test(size=(100, 30)) as pilot:
        await asyncio.sleep(0.05)

        async def frame(*keys):
            if keys:
                await pilot.press(*keys)
            app._narrow_stream(app.main.view)  # what each refresh does first
            f = await app.refresh_now()
            await pilot.pause()
            return f

        f = await frame()
        assert feed.wants == [STREAM_SYSCALLS] and "stream: I/O, net, exec" in f.header.plain
        assert "getppid" not in STREAM_SYSCALLS and {"read", "sendto", "openat"} <= \
            STREAM_SYSCALLS
        await frame("8")  # Live events: every syscall
        assert feed.wants[-1] is None
        f = await frame("2")  # back: narrowed again
        assert feed.wants[-1] == STREAM_SYSCALLS and len(feed.wants) == 3
        assert app.apply_filter("proc.name=nginx") is None
        f = await frame()
        assert feed.wants[-1] is None and "stream: I/O" not in f.header.plain
        await frame()
        assert len(feed.wants) == 4  # asked once per change, not per refresh


async def test_full_stream_never_narrows():
    feed = NarrowingFeed([make_event(num=1, pid=100, tid=100, container=WEB)])
    app = make_app(feed, auto_refresh=False, counters=counters(FakeMaps(), {100}),
                   full_stream=True)
    async with app.run_test(size=(100, 30)) as pilot:
        app._narrow_stream("containers")
        await app.refresh_now()
        await pilot.pause()
        assert feed.wants == []
