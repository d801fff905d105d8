"""csysdig's tools in cdig top, driven by Pilot: F8 actions (on a real child
process), F7 legend, Ctrl+F incremental search, the row text filter."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest
from factories import WEB, make_event
from tui_data import scenario

from cdig.tui.actions import ACTIONS, Target, applicable, lsof_lines, run_action
from cdig.tui.app import make_app
from cdig.tui.feeds import EventFeed
from cdig.tui.screens.actions import ActionMenu, ConfirmLine, TextPopup
from cdig.tui.views import VIEWS
from cdig.tui.widgets.message_line import MessageLine
from cdig.tui.widgets.search_bar import SearchBar
from cdig.tui.widgets.view_table import ViewTable

pytestmark = pytest.mark.tui


async def settle(app, pilot, *keys):
    if keys:
        await pilot.press(*keys)
    await pilot.pause()
    f = await app.refresh_now()
    await pilot.pause()
    return f


def child_events(pid: int, n: int = 20):
    return [make_event(num=i + 1, ts_ns=1_000_000_000 + i * 1000, pid=pid, tid=pid,
                       comm="victim", container=WEB) for i in range(n)]


async def test_f8_kill_9_ends_the_selected_process_after_confirmation():
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        app = make_app(EventFeed(child_events(victim.pid), live=True), auto_refresh=False,
                       start_view="procs")
        async with app.run_test(size=(120, 30)) as pilot:
            await app.feed.fed()
            f = await settle(app, pilot)
            assert app.main.query_one(ViewTable).selected_key() == str(victim.pid)
            await pilot.press("f8")
            await pilot.pause()
            assert isinstance(app.screen, ActionMenu)
            assert [a.key for a in app.screen.actions] == ["k", "9", "+", "-", "l", "b"]
            await pilot.press("9")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmLine)
            assert f"victim ({victim.pid})" in app.screen.question
            await pilot.press("n")  # anything but y: nothing happens
            await pilot.pause()
            assert victim.poll() is None
            assert "cancelled" in app.main.query_one(MessageLine).text
            await pilot.press("f8", "9")
            await pilot.pause()
            await pilot.press("y")
            await pilot.pause()
            assert victim.wait(5) == -9
            assert f"sent SIGKILL to victim ({victim.pid})" in \
                app.main.query_one(MessageLine).text
            await pilot.press("f8", "l")  # lsof: cdig's fd table (none known here)
            await pilot.pause()
            assert isinstance(app.screen, TextPopup)
            await pilot.press("escape")
            assert f.data.rows
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_actions_on_gone_processes_and_renice():
    t = Target("x (1)", 1, None)
    assert [a.key for a in applicable(t)] == ["k", "9", "+", "-", "l"]  # no container
    kill9 = next(a for a in ACTIONS if a.key == "9")

    def gone(pid, sig):
        raise ProcessLookupError

    assert run_action(kill9, t, kill=gone) == "kill -9 (SIGKILL): x (1) is gone"
    p = subprocess.Popen(["sleep", "30"])
    try:
        up = next(a for a in ACTIONS if a.key == "+")
        # the child inherits this process's nice (not 0 under `nice make test`)
        was = os.getpriority(os.PRIO_PROCESS, p.pid)
        line = run_action(up, Target(f"sleep ({p.pid})", p.pid))
        assert line.endswith(f"nice {was} -> {was + 1}"), line
        assert os.getpriority(os.PRIO_PROCESS, p.pid) == was + 1
    finally:
        p.kill()
        p.wait()
    from cdig.collector.events import FdInfo

    assert lsof_lines({3: FdInfo(num=3, type="file", name="/etc/x")}) == [
        "    3  file       /etc/x"]


async def test_actions_are_refused_in_a_replay():
    app = make_app(EventFeed(scenario()), speed=0, auto_refresh=False, start_view="procs")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.wait_ended()
        await settle(app, pilot, "f8")
        assert app.screen is app.main
        assert "only live" in app.main.query_one(MessageLine).text


@pytest.mark.parametrize("view", [v for v in VIEWS if v != "events"])
def test_every_column_has_a_legend(view):
    missing = [c.key for c in VIEWS[view].columns if not VIEWS[view].legend.get(c.key)]
    assert not missing, (view, missing)


async def test_f7_legend_says_cpu_is_of_one_core():
    app = make_app(EventFeed(scenario()), speed=0, auto_refresh=False, start_view="procs")
    async with app.run_test(size=(120, 30)) as pilot:
        await app.wait_ended()
        await settle(app, pilot, "f7")
        assert isinstance(app.screen, TextPopup)
        text = "\n".join(app.screen.lines)
        assert "CPU%" in text and "% of ONE core" in text and "SYSCALLS" in text
        await pilot.press("f7")
        await pilot.pause()
        assert app.screen is app.main


async def test_ctrl_f_finds_rows_as_you_type_and_backslash_keeps_matching_rows():
    evs = [make_event(num=i + 1, ts_ns=1_000_000_000 + i * 1000, pid=1000 + i % 50,
                      tid=1000 + i % 50, comm=f"proc{i % 50:02d}") for i in range(500)]
    app = make_app(EventFeed(evs), speed=0, auto_refresh=False, start_view="procs")
    async with app.run_test(size=(120, 24)) as pilot:
        await app.wait_ended()
        await settle(app, pilot)
        table = app.main.query_one(ViewTable)
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert app.main.query_one(SearchBar).display
        await pilot.press(*"proc4")  # the first row with proc4…
        await pilot.pause()
        first = table.selected_key()
        assert app.main.last_frame.data.meta[first].values["name"].startswith("proc4")
        await pilot.press(*"7")  # …then proc47
        await pilot.pause()
        assert table.selected_key() == "1047"
        await pilot.press("enter")
        await pilot.pause()
        assert not app.main.query_one(SearchBar).display and table.selected_key() == "1047"
        await pilot.press("ctrl+f", "ctrl+u", *"nothing-like-it")
        await pilot.pause()
        assert "not found" in app.main.query_one(MessageLine).text
        await pilot.press("escape")
        await pilot.press("backslash", *"proc1", "enter")
        await pilot.pause()
        await asyncio.sleep(0.05)
        f = await settle(app, pilot)
        names = sorted(r.values["name"] for r in f.data.meta.values())
        assert names == [f"proc1{i}" for i in range(10)]
        assert "rows containing" in str(app.main.query_one("#crumb").render())
        await pilot.press("backslash", "ctrl+u", "enter")
        await pilot.pause()
        f = await settle(app, pilot)
        assert len(f.data.rows) == 50
        time.sleep(0)


def test_shell_in_a_container_is_its_runtimes_exec(monkeypatch):
    """b: podman's or docker's exec of /bin/sh in the container; for another
    runtime, nsenter into the selected process's namespaces; else nothing."""
    from cdig.collector.events import Container
    from cdig.tui import actions

    monkeypatch.setattr(actions.shutil, "which", lambda name: f"/usr/bin/{name}")
    pod = Container(id="a" * 64, name="web", runtime="podman")
    dock = Container(id="b" * 64, name="db", runtime="docker")
    cri = Container(id="c" * 64, name="k", runtime="containerd")
    assert actions.shell_command(pod, 5) == ["podman", "exec", "-it", "a" * 64, "/bin/sh"]
    assert actions.shell_command(dock, 5) == ["docker", "exec", "-it", "b" * 64, "/bin/sh"]
    assert actions.shell_command(cri, 5) == ["nsenter", "-t", "5", "-a", "/bin/sh"]
    assert actions.shell_command(cri, None) is None
    assert [a.key for a in applicable(Target("web", None, pod))] == ["b"]  # a container
    assert [a.key for a in applicable(Target("sh (5)", 5, pod))] == \
        ["k", "9", "+", "-", "l", "b"]  # a process in it
