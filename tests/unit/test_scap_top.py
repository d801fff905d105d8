"""``cdig top -r x.scap``: a sysdig capture through the TUI's views (no root).

The TUI's totals on a real sample capture must equal ``cdig summary``'s, as for
a cdig capture (tests/unit/test_tui_replay.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_replay import replay_frames, summary

pytestmark = pytest.mark.tui
SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "scap" / \
    "run_as_user_0_container.scap"


async def test_scap_replay_totals_equal_summary(capsys):
    frames = await replay_frames(SAMPLE, ["syscalls", "containers"])
    sc = frames["syscalls"].data.meta
    want = {r["evt.type"]: (r["calls"], r["errors"]) for r in summary(capsys, SAMPLE,
                                                                       "syscall")["rows"]}
    assert want and {k: (r.values["count"], r.values["errors"]) for k, r in sc.items()} == want
    cont = summary(capsys, SAMPLE, "container")
    got = {r.values["name"]: r.values["events"] for r in frames["containers"].data.meta.values()
           if r.values["events"]}
    assert got == {r["container.name"]: r["events"] for r in cont["rows"]}
    assert "hopeful_taussig" in got  # the sample's docker container, by its JSON event
