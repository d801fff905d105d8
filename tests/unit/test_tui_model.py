"""The TUI's model, views and host readings, without a screen."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from factories import make_event
from tui_data import N_ROUNDS, scenario

from cdig.collector.aggregate import bucket_upper, latency_bucket, percentile
from cdig.collector.cgroups import CgroupLayout, CgroupMount
from cdig.collector.events import HOST, Container
from cdig.tui.format import human_bytes, human_count, plain, sparkline
from cdig.tui.model import Playback, Restart, TopModel
from cdig.tui.refresher import Refresher, Request
from cdig.tui.resources import CpuSampler, NoResources, Resources
from cdig.tui.views import Scope

pytestmark = pytest.mark.tui


def fed(events=None, filter_text=""):
    m = TopModel(live=False, filter_text=filter_text, speed=0)
    m.begin_run(None)
    for ev in scenario() if events is None else events:
        if m.predicate(ev):
            m.sink(ev)
    m.end_run()
    return m


def test_latency_histogram_bounds():
    for ns in [0, 1, 3, 4, 7, 8, 1000, 123_456, 10**9, 2**40 + 12345]:
        b = latency_bucket(ns)
        assert ns <= bucket_upper(b) <= ns * 1.25 + 1
    h = [0] * 256
    for i in range(1, 101):
        h[latency_bucket(i * 1000)] += 1
    assert 99_000 <= percentile(h, 0.99) <= 99_000 * 1.25


def test_rates_are_per_second_of_the_feed_clock():
    m = fed()
    r = Refresher(m)
    f = r.frame(Request("syscalls"))
    dt = (scenario()[-1].ts_ns - scenario()[0].ts_ns) / 1e9
    write = f.data.meta["write"].values
    assert write["count"] == N_ROUNDS + N_ROUNDS // 2
    assert write["rate"] == pytest.approx(write["count"] / dt)
    f2 = r.frame(Request("syscalls"))  # the clock did not move: the same rates, not zero
    assert f2.data.meta["write"].values["rate"] == pytest.approx(write["rate"])


def test_scopes_project_the_detail():
    m = fed()
    r = Refresher(m)
    web = "3f2a9c1b7d4e" + "0" * 52
    f = r.frame(Request("syscalls", Scope(container=web)))
    assert set(f.data.meta) == {"openat", "read", "write", "sendto"}
    f = r.frame(Request("files", Scope(pid=80)))
    assert set(f.data.meta) == {"/var/lib/pg/data"}
    f = r.frame(Request("errors", Scope(container=web)))
    assert f.data.meta == {}
    f = r.frame(Request("events", Scope(pid=60, failed=True)))
    assert len(f.data.lines) == N_ROUNDS


def test_filter_change_restarts_a_finite_feed_and_keeps_a_bad_one_out():
    m = fed()
    assert m.set_filter("proc.name=") is not None
    assert m.filter.text == "" and not m.restart_pending
    assert m.set_filter("proc.name=curl") is None
    assert m.restart_pending
    with pytest.raises(Restart):
        m.on_batch()


def test_live_filter_change_resets_the_counters():
    m = TopModel(live=True)
    m.begin_run(None)
    for ev in scenario(rounds=5):
        if m.predicate(ev):
            m.sink(ev)
    assert m.agg.events
    g = m.generation
    assert m.set_filter("evt.failed=true") is None
    assert m.agg.events == 0 and m.generation == g + 1 and not m.restart_pending


def test_exits_are_noticed_even_when_filtered_out():
    m = fed(filter_text="proc.name=nginx")
    s = m.snapshot()
    assert "9" * 64 in s.exited_containers
    assert set(s.procs) == {50}  # a filter lists only what matched


def test_playback_gates_on_the_capture_clock():
    clock = [100.0]
    pb = Playback(speed=1.0, paused=True, monotonic=lambda: clock[0])
    pb.gate(1_000)  # the first event sets the position
    pb.step(500)
    pb.gate(1_400)  # within the step: passes
    done = []

    def later():
        try:
            pb.gate(2_000)
            done.append(True)
        except Restart:
            done.append(False)

    import threading

    t = threading.Thread(target=later)
    t.start()
    time.sleep(0.15)
    assert not done  # beyond the position while paused: waits
    pb.abort()
    t.join(2)
    assert done == [False]


def test_formatting_and_untrusted_text():
    assert human_count(12_345) == "12.3k" and human_count(2.5) == "2.5"
    assert human_bytes(2048) == "2.0K"
    assert sparkline([0, 1, 2, 4], 4) == "▁▃▅█"
    assert len(sparkline(list(range(60)), 20)) == 20
    t = plain("[bold]x\x1b[2J\u202e", 40)
    assert t.plain == "[bold]x\\x1b[2J\\u202e" and not t.spans


def test_cpu_sampler_reads_stat_deltas(tmp_path):
    stat = tmp_path / "42" / "stat"
    stat.parent.mkdir()
    clock = [10.0]

    def write(ticks):
        stat.write_text(f"42 (a b) S 1 42 42 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0\n")

    s = CpuSampler(str(tmp_path), monotonic=lambda: clock[0])
    write(100)
    assert s.sample([42, 43]) == {}
    clock[0] += 2.0
    write(100 + os.sysconf("SC_CLK_TCK"))  # one CPU-second in two seconds
    assert s.sample([42]) == {42: pytest.approx(50.0)}


def test_security_reads_namespaces_and_limits(tmp_path):
    proc, cg = tmp_path / "proc", tmp_path / "cg"
    for pid, net, user in ((1, 1, 9), (2, 1, 9), (500, 1, 7)):  # 500 shares net, own user ns
        d = proc / str(pid) / "ns"
        d.mkdir(parents=True)
        for kind in ("net", "pid", "ipc", "uts", "user"):
            ino = {"net": net, "user": user}.get(kind, 100 + pid)
            os.symlink(f"{kind}:[{ino}]", d / kind)
    (cg / "ctr").mkdir(parents=True)
    (cg / "ctr" / "memory.max").write_text("max\n")
    (cg / "ctr" / "memory.current").write_text("4096\n")
    (cg / "ctr" / "cpu.max").write_text("200000 100000\n")
    r = Resources(proc_root=str(proc), layout=CgroupLayout("v2", (CgroupMount(str(cg), 2),)))
    c = Container(id="c" * 64, name="c", runtime="podman", cgroup_path="/ctr")
    row = r.security(c, [500], [0])
    assert row.known and row.shared == ("net",) and row.userns is True and row.root
    assert row.memory_limit is False and row.cpu_limit is True
    assert r.container(c).memory == 4096
    assert r.container(HOST).known is False
    clock = [5.0]
    r = Resources(proc_root=str(proc), layout=CgroupLayout("v2", (CgroupMount(str(cg), 2),)),
                  monotonic=lambda: clock[0])
    (cg / "ctr" / "cpu.stat").write_text("usage_usec 1000000\nuser_usec 1\n")
    assert r.container_cpu([c, HOST]) == {}
    clock[0] += 4.0
    (cg / "ctr" / "cpu.stat").write_text("usage_usec 3000000\nuser_usec 1\n")
    assert r.container_cpu([c, HOST]) == {c.id: pytest.approx(50.0)}


def test_self_cost_counts_bpf_run_time():
    runs = [(1_000_000, 1000)]
    clock = [0.0]
    r = Resources(bpf_stats=lambda: {"p": runs[0]}, monotonic=lambda: clock[0])
    r.self_cost()
    clock[0] = 1.0
    runs[0] = (11_000_000, 3000)
    cost = r.self_cost()
    assert cost.bpf_pct == pytest.approx(1.0) and cost.bpf_runs == 2000
    assert cost.bpf_avg_ns == pytest.approx(5000)
    assert cost.cpu_pct is not None


async def test_thousands_of_rows_update_in_place():
    """2,000 processes: a refresh rewrites the changed cells, keeps the cursor's row."""
    from cdig.tui.app import make_app
    from cdig.tui.feeds import EventFeed
    from cdig.tui.widgets.view_table import ViewTable

    evs = [make_event(num=i + 1, ts_ns=1_000_000_000 + i, pid=1000 + i, tid=1000 + i,
                      comm=f"p{i}") for i in range(2000)]
    feed = EventFeed(evs, live=True)
    app = make_app(feed, auto_refresh=False, start_view="procs", max_rows=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await feed.fed()
        await app.refresh_now()
        await pilot.pause()
        table = app.main.query_one(ViewTable)
        assert table.row_count == 2000
        table.move_cursor(row=10)
        key = table.selected_key()
        feed.push([make_event(num=5000 + i, ts_ns=2_000_000_000 + i, pid=1500, tid=1500,
                              comm="p500") for i in range(50)])
        await feed.fed()
        t0 = time.perf_counter()
        f = await app.refresh_now()
        await pilot.pause()
        took = time.perf_counter() - t0
        assert table.row_count == 2000
        assert f.data.rows[0][0] == "1500"  # the busy one went to the top
        assert table.selected_key() == key  # the cursor followed its row
        assert took < 3.0, took


def test_a_selection_keeps_its_history_while_a_neighbour_floods_the_ring():
    from factories import WEB

    m = TopModel(live=True, ring_size=100)
    m.begin_run(None)
    n = [0]

    def feed(pid, container, count):
        for _ in range(count):
            n[0] += 1
            ev = make_event(num=n[0], ts_ns=1_000_000_000 + n[0], pid=pid, tid=pid,
                            comm=f"p{pid}", container=container)
            if m.predicate(ev):
                m.sink(ev)

    feed(1, WEB, 10)
    feed(2, HOST, 1000)  # the global ring (100) holds none of pid 1's events now
    assert not [e for e in m.ring if e.pid == 1]
    r = Refresher(m)
    f = r.frame(Request("events", Scope(pid=1)))
    assert len(f.data.lines) == 10  # from web's own ring
    feed(2, HOST, 1000)
    feed(1, WEB, 3)
    feed(2, HOST, 1000)
    f = r.frame(Request("events", Scope(pid=1)))
    assert [num for num, _ in f.data.lines][-3:] == [2011, 2012, 2013]
    assert len(f.data.lines) == 13


def test_virt_and_res_from_statm(tmp_path):
    from cdig.tui.resources import PAGE

    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "statm").write_text("1000 250 10 1 0 100 0\n")
    r = Resources(proc_root=str(tmp_path))
    assert r.proc_memory([42, 43]) == {42: (1000 * PAGE, 250 * PAGE)}


async def test_a_filter_that_hides_a_container_does_not_end_it():
    """Live, db keeps running; a filter on nginx hides it: no "container db exited"
    (the model judged exits from the filtered rows before)."""
    from tui_data import DB

    from cdig.collector.events import EventKind
    from cdig.tui.app import make_app
    from cdig.tui.feeds import EventFeed
    from cdig.tui.widgets.message_line import MessageLine

    evs = scenario(rounds=10, db_exits=False)
    for i, kind in enumerate((EventKind.SYSCALL, EventKind.EXIT)):  # a short-lived one
        evs.append(make_event(num=9000 + i, ts_ns=evs[-1].ts_ns + 1 + i, pid=81, tid=81,
                              comm="psql", container=DB, kind=kind,
                              type="read" if i == 0 else "procexit", fd=None, args={}))
    app = make_app(EventFeed(evs, live=True),
                   auto_refresh=False, start_view="containers")
    async with app.run_test(size=(120, 30)) as pilot:
        await app.feed.fed()
        await app.refresh_now()
        f = await app.refresh_now()
        db = "9" * 64
        assert db in f.data.meta
        app.main.levels[-1].scope = Scope(container=db)  # drilled into db
        assert app.apply_filter("proc.name=nginx") is None
        await asyncio.sleep(0.05)
        f = await app.refresh_now()
        await pilot.pause()
        assert f.gone is None and db not in f.snapshot.exited_containers
        assert "exited" not in app.main.query_one(MessageLine).text


def test_host_cpu_is_the_machine_less_the_containers(tmp_path):
    stat = tmp_path / "stat"
    clock = [10.0]
    tck = os.sysconf("SC_CLK_TCK")

    def write(user, nice, system):
        stat.write_text(f"cpu  {user} {nice} {system} 9999 0 7 7 0 0 0\ncpu0 1 2 3 4\n")

    r = Resources(proc_root=str(tmp_path), monotonic=lambda: clock[0])
    write(100, 0, 50)
    assert r.host_cpu({}) is None  # the first interval
    clock[0] += 2.0
    write(100 + 2 * tck, 0, 50 + tck)  # 1.5 CPUs busy over the 2 s (irq/idle not counted)
    assert r.host_cpu({"c1": 40.0, "c2": 10.0}) == pytest.approx(100.0)
    clock[0] += 1.0
    write(100 + 2 * tck, 0, 50 + tck)  # idle; a container's figure can run ahead
    assert r.host_cpu({"c1": 5.0}) == 0.0
    stat.unlink()
    assert r.host_cpu({}) is None


class CountingResources(NoResources):
    """A live host whose /proc figures are made up, counting the processes asked."""

    live = True

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    def cpu_percent(self, pids):
        pids = list(pids)
        self.asked.append(pids)
        return {p: float(p) for p in pids}

    def proc_memory(self, pids):
        return {p: (p * 2, p) for p in pids}


def test_processes_view_reads_proc_only_for_the_rows_on_screen():
    m = fed()
    res = CountingResources()
    r = Refresher(m, res)
    f = r.frame(Request("procs", window=(0, 2)))
    assert len(f.data.rows) > 2 and res.asked == [[int(k) for k, _ in f.data.rows[:2]]]
    cols = [c.key for c in f.data.columns]
    first, third = f.data.rows[0][1], f.data.rows[2][1]
    assert first[cols.index("cpu")].plain != "-" and first[cols.index("res")].plain != "-"
    assert third[cols.index("cpu")].plain == "-"  # off screen: not read
    res.asked.clear()
    f = r.frame(Request("procs", sort="cpu", window=(0, 2)))  # sorted by it: all of them
    assert sorted(res.asked[0]) == sorted(f.snapshot.procs)  # every live process
    res.asked.clear()
    r.frame(Request("procs"))  # no window (a test, a screenshot): all of them
    assert sorted(res.asked[0]) == sorted(f.snapshot.procs)
