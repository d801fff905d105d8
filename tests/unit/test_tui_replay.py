"""cdig top -r: a recorded capture through the same views (no root).

The capture is recorded in a fixture with the capture writer (``test_capture.
live_capture`` over ``test_summary.workload``'s records: known figures), then
replayed through ``ReplayFeed``; the TUI's totals must equal ``cdig summary``'s.
"""

from __future__ import annotations

import json

import pytest
from test_capture import batches, live_capture
from test_summary import N_ENOENT, N_WRITES, workload

from cdig.cli import main
from cdig.tui.app import make_app
from cdig.tui.feeds import ReplayFeed
from cdig.tui.widgets.message_line import MessageLine

pytestmark = pytest.mark.tui
SIZE = (110, 30)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    p = tmp_path_factory.mktemp("tui") / "w.cdig"
    live_capture(p, workload(), flush_rows=100, name_late=False)
    return p


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    p = tmp_path_factory.mktemp("tui") / "m.cdig"
    live_capture(p, batches(n_batches=6, per=40), flush_rows=30)
    return p


def summary(capsys, path, by):
    assert main(["summary", "-r", str(path), "--by", by, "--json", "--top", "0"]) == 0
    return json.loads(capsys.readouterr().out)


async def replay_frames(path, views, filter_text=""):
    app = make_app(ReplayFeed([str(path)]), speed=0, auto_refresh=False,
                   filter_text=filter_text, start_view=views[0])
    out = {}
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_ended()
        for v in views:
            app.main.action_view(v)
            out[v] = await app.refresh_now()
            await pilot.pause()
    return out


@pytest.mark.parametrize("path_fixture", ["capture", "mixed"])
async def test_replay_totals_equal_summary(request, capsys, path_fixture):
    path = request.getfixturevalue(path_fixture)
    frames = await replay_frames(path, ["syscalls", "containers", "files", "procs"])
    sc = frames["syscalls"].data.meta
    want = {r["evt.type"]: (r["calls"], r["errors"]) for r in summary(capsys, path,
                                                                       "syscall")["rows"]}
    assert {k: (r.values["count"], r.values["errors"]) for k, r in sc.items()} == want
    cont = summary(capsys, path, "container")
    assert frames["containers"].events == cont["events"]
    got = {r.values["name"]: r.values["events"] for r in frames["containers"].data.meta.values()
           if r.values["events"]}
    assert got == {r["container.name"]: r["events"] for r in cont["rows"]}
    files = {k: (r.values["read"], r.values["written"])
             for k, r in frames["files"].data.meta.items() if r.values["ops"]}
    assert files == {r["fd.name"]: (r["read"], r["written"])
                     for r in summary(capsys, path, "file")["rows"]}
    if path_fixture == "capture":
        assert sc["write"].values["count"] == N_WRITES + 3
        assert sc["openat"].values["errors"] == N_ENOENT


async def test_replay_with_a_filter_matches_summary_with_it(capture, capsys):
    frames = await replay_frames(capture, ["procs"], filter_text="container.name=web")
    rows = [r.values for r in frames["procs"].data.meta.values()]
    assert [(r["pid"], r["name"], r["events"]) for r in rows] == [(50, "server", N_WRITES + 2)]
    assert main(["summary", "-r", str(capture), "--by", "proc", "--json",
                 "container.name=web"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["rows"][0]["events"] == N_WRITES + 2


async def test_a_truncated_capture_says_so_in_the_ui(mixed, tmp_path):
    cut = tmp_path / "cut.cdig"
    data = mixed.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    app = make_app(ReplayFeed([str(cut)]), speed=0, auto_refresh=False, start_view="syscalls")
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_ended()
        f = await app.refresh_now()
        await pilot.pause()
        assert any("truncated" in n for n in f.notes)
        assert "truncated" in app.main.query_one(MessageLine).text
        assert f.data.rows  # what was before the cut is shown
        assert "end of capture" in f.header.plain


async def test_replay_header_shows_drops_while_capturing(capture):
    app = make_app(ReplayFeed([str(capture)]), speed=0, auto_refresh=False)
    async with app.run_test(size=SIZE):
        await app.wait_ended()
        f = await app.refresh_now()
        assert f.drops == 3 and "dropped 3 while capturing" in f.header.plain


async def test_a_damaged_capture_is_reported_once(tmp_path, capture):
    """What `cdig top -r` exits 3 for: each damaged file's loss, once, though a
    filter change reads the capture again."""
    cut = tmp_path / "cut.cdig"
    data = capture.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    feed = ReplayFeed([str(cut)])
    app = make_app(feed, speed=0, auto_refresh=False)
    async with app.run_test(size=SIZE) as pilot:
        await app.wait_ended()
        assert app.apply_filter("evt.type=write") is None
        await pilot.pause()
        await app.wait_ended()
    assert len(feed.losses) == 1 and feed.losses[0].startswith("capture truncated after ")
