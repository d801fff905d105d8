"""SVG snapshots of cdig top's main views (pytest-textual-snapshot).

Deterministic: synthetic events (``tui_data.scenario``), replay mode (rates over
the events' own clock, no host readings), refreshes driven by the test, times in
UTC. Regenerate after an intended change with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import time

import pytest
from tui_data import scenario

from cdig.collector.fields import clear_time_cache
from cdig.tui.app import make_app
from cdig.tui.feeds import EventFeed

pytestmark = pytest.mark.tui
SIZE = (100, 24)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    clear_time_cache()
    yield
    monkeypatch.undo()
    time.tzset()
    clear_time_cache()


def app_at(view: str):
    return make_app(EventFeed(scenario(), label="scenario"), speed=0, auto_refresh=False,
                    start_view=view)


def steps(*keys: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await app.wait_ended()
        await app.refresh_now()
        await pilot.pause()
        for k in keys:
            await pilot.press(k)
            await app.refresh_now()
            await pilot.pause()
    return run_before


@pytest.mark.parametrize("view", ["containers", "procs", "syscalls", "errors", "files",
                                  "events", "security", "tree"])
def test_view_snapshot(snap_compare, view):
    assert snap_compare(app_at(view), terminal_size=SIZE, run_before=steps())


def test_drilled_into_a_container(snap_compare):
    assert snap_compare(app_at("containers"), terminal_size=SIZE, run_before=steps("enter"))


def test_bad_filter_snapshot(snap_compare):
    assert snap_compare(app_at("procs"), terminal_size=(80, 24),
                        run_before=steps("slash", *"proc.name ~ x", "enter"))


def test_help_snapshot(snap_compare):
    assert snap_compare(app_at("containers"), terminal_size=(100, 30),
                        run_before=steps("question_mark"))


def test_pids_are_exact_snapshot(snap_compare):
    """Neighbouring PIDs above 10,000 read apart (the count formatter made both 24.1k)."""
    from factories import make_event

    evs = [make_event(num=i + 1, ts_ns=1_000_000_000 + i * 1000, pid=pid, tid=pid,
                      comm=name)
           for i, (pid, name) in enumerate([(24101, "worker"), (24149, "worker"),
                                            (10500, "sh"), (10501, "sh")] * 5)]
    app = make_app(EventFeed(evs, label="pids"), speed=0, auto_refresh=False,
                   start_view="procs")

    async def check(pilot) -> None:
        await steps()(pilot)
        cells = {k: c[0].plain for k, c in pilot.app.last_frame.data.rows}
        assert cells == {"24101": "24101", "24149": "24149", "10500": "10500",
                         "10501": "10501"}

    assert snap_compare(app, terminal_size=SIZE, run_before=check)


def test_legend_snapshot(snap_compare):
    assert snap_compare(app_at("containers"), terminal_size=(110, 30),
                        run_before=steps("f7"))


def test_errors_drilled_to_syscalls_snapshot(snap_compare):
    assert snap_compare(app_at("errors"), terminal_size=SIZE, run_before=steps("enter"))


def test_processes_of_a_syscall_snapshot(snap_compare):
    assert snap_compare(app_at("syscalls"), terminal_size=SIZE, run_before=steps("enter"))


@pytest.mark.parametrize("view", ["threads", "dirs", "ports", "slowio"])
def test_more_views_snapshot(snap_compare, view):
    """Threads, Directories, Server ports, Slow file I/O over ``tui_data.more()``."""
    from tui_data import more

    app = make_app(EventFeed(more(), label="more"), speed=0, auto_refresh=False,
                   start_view=view)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps())


def test_slow_io_legend_snapshot(snap_compare):
    assert snap_compare(app_at("slowio"), terminal_size=(110, 30), run_before=steps("f7"))


def test_spectrogram_snapshot(snap_compare):
    """F12 over the kernel's latency histograms: three refreshes, a second apart on a
    test clock, each adding calls at ~1 us and a few at ~1 ms."""
    from test_tui_counters import CG_WEB, NR, FakeMaps, counters

    m = FakeMaps()
    m.add(CG_WEB, 100, "write", 10)
    clock = [1_704_164_645_000_000_000]
    app = make_app(EventFeed([], live=True), auto_refresh=False, start_view="containers",
                   counters=counters(m, {100}))
    app.model.wall_ns = lambda: clock[0]
    app.model.since_wall = clock[0]

    async def run_before(pilot) -> None:
        await pilot.press("f12")
        for i in range(4):
            m.totals[(CG_WEB, NR["write"])]["lat_slots"] = {4: 10 + 1000 * i, 9: 5 * i}
            m.totals[(CG_WEB, NR["write"])]["count"] = 10 + 1005 * i
            clock[0] += 1_000_000_000
            await app.refresh_now()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 24), run_before=run_before)
