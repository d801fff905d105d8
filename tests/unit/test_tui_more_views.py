"""The Threads, Directories, Server ports and Slow file I/O views (csysdig's views
of those names), driven by Pilot over ``tui_data.more()``: known figures, Enter on
a row, the F7 legend of every column."""

from __future__ import annotations

import asyncio

import pytest
from tui_data import N_ROUNDS, SLOW_MS, more

from cdig.tui.app import make_app
from cdig.tui.feeds import EventFeed
from cdig.tui.views import VIEWS, legend_lines, server_port
from cdig.tui.widgets.view_table import ViewTable

pytestmark = pytest.mark.tui
SIZE = (120, 30)


def app_at(view: str):
    return make_app(EventFeed(more(), label="more"), speed=0, auto_refresh=False,
                    start_view=view)


async def ready(app, pilot):
    await app.wait_ended()
    f = await app.refresh_now()
    await pilot.pause()
    return f


async def enter_on(app, pilot, key: str):
    """Enter on the row ``key`` of the table shown; the frame after it."""
    rows = [k for k, _ in app.main.last_frame.data.rows]
    app.main.query_one(ViewTable).move_cursor(row=rows.index(key))
    await pilot.pause()
    await pilot.press("enter")
    f = await app.refresh_now()
    await pilot.pause()
    return f


def cells(frame) -> dict[str, dict[str, str]]:
    cols = [c.key for c in frame.data.columns]
    return {k: dict(zip(cols, (c.plain for c in cs), strict=True)) for k, cs in frame.data.rows}


async def test_threads_one_row_per_thread():
    app = app_at("threads")
    async with app.run_test(size=SIZE) as pilot:
        f = await ready(app, pilot)
        rows = cells(f)
        assert set(rows) == {"50", "51", "60", "70", "80", "90"}
        assert rows["51"]["pid"] == "50" and rows["51"]["name"] == "nginx-io"
        assert rows["51"]["events"] == "10" and rows["50"]["events"] == str(4 * N_ROUNDS)
        assert rows["80"]["state"] == "exit"  # postgres exited: marked
        evil = f.data.meta["60"].values  # every call of it fails
        assert evil["err"] == evil["sc"] > 0
        f = await enter_on(app, pilot, "51")  # its process's syscalls
        assert f.data.view == "syscalls" and app.main.level.scope.pid == 50


async def test_a_thread_that_exited_is_listed_for_one_interval():
    app = make_app(EventFeed(more(), live=True), auto_refresh=False, start_view="threads")
    async with app.run_test(size=SIZE) as pilot:
        await app.feed.fed()
        f = await app.refresh_now()
        assert cells(f)["80"]["state"] == "exit"
        await asyncio.sleep(0.05)
        f = await app.refresh_now()  # the next interval: postgres's thread is gone
        assert "80" not in cells(f) and "51" in cells(f)
        await pilot.pause()


async def test_directories_sum_their_files():
    app = app_at("dirs")
    async with app.run_test(size=SIZE) as pilot:
        f = await ready(app, pilot)
        rows = {k: f.data.meta[k].values for k in f.data.meta}
        assert set(rows) == {"/etc", "/var/log", "/var/lib/pg"}
        assert rows["/etc"]["read"] == N_ROUNDS * 512 + 10 * 2048
        assert rows["/var/lib/pg"]["written"] == N_ROUNDS // 2 * 8192 + len(SLOW_MS) * 65536
        assert rows["/var/log"]["files"] == 1 and rows["/etc"]["opens"] == N_ROUNDS
        f = await enter_on(app, pilot, "/var/lib/pg")
        assert f.data.view == "files" and [k for k, _ in f.data.rows] == ["/var/lib/pg/data"]
        assert "in /var/lib/pg" in f.data.totals


async def test_server_ports_group_connections_by_the_server_end():
    app = app_at("ports")
    async with app.run_test(size=SIZE) as pilot:
        f = await ready(app, pilot)
        rows = {k: f.data.meta[k].values for k in f.data.meta}
        assert set(rows) == {"tcp/8080", "tcp/5432"}
        assert rows["tcp/5432"]["in"] == 10 * 300 and rows["tcp/5432"]["proc"] == "postgres"
        assert rows["tcp/8080"]["out"] == N_ROUNDS * (1000 + 200)
        f = await enter_on(app, pilot, "tcp/5432")
        assert f.data.view == "conns"
        assert [k for k, _ in f.data.rows] == ["tcp/10.0.0.9:51000->10.0.0.2:5432"]


async def test_slow_file_io_lists_only_calls_of_a_millisecond_or_more():
    app = app_at("slowio")
    async with app.run_test(size=SIZE) as pilot:
        f = await ready(app, pilot)
        got = [f.data.meta[k].values for k, _ in f.data.rows]
        assert [v["latency"] for v in got] == [ms * 1_000_000 for ms in reversed(SLOW_MS)]
        assert {(v["pid"], v["path"], v["bytes"]) for v in got} == {
            (80, "/var/lib/pg/data", 65536)}
        assert [c["latency"] for c in cells(f).values()] == ["12.00ms", "3.00ms"]
        f = await enter_on(app, pilot, f.data.rows[0][0])  # dig: its events on that file
        assert f.data.view == "events" and f.data.lines
        assert all("/var/lib/pg/data" in line for _, line in f.data.lines)


@pytest.mark.parametrize("view", ["threads", "dirs", "ports", "slowio"])
def test_f7_legend_explains_every_column(view):
    lines = legend_lines(view)
    for c in VIEWS[view].columns:
        assert VIEWS[view].legend.get(c.key), (view, c.key)
        assert any(ln.strip().startswith(c.label) and len(ln.split()) > 1 for ln in lines)


@pytest.mark.parametrize("name, port", [
    ("10.0.0.9:51000->10.0.0.2:5432", 5432), ("::1:40000->::1:8080", 8080),
    ("/run/x.sock", None), ("pipe:[123]", None), ("1.2.3.4:5->6.7.8.9:", None)])
def test_server_port_of_a_socket_name(name, port):
    assert server_port(name) == port
