"""benchmarks/replay_engine.py: both slots of an A/B measured alike."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import replay_engine as bench


def test_each_slot_first_and_second_equally_often() -> None:
    other = Path("/other")
    order = bench.slot_order(other)
    assert sorted(map(str, order)) == ["/other", "/other", "None", "None"]
    firsts = [order[i] for i in range(0, len(order), 2)]
    assert firsts.count(None) == firsts.count(other) == 1


def test_one_slot_alone() -> None:
    assert bench.slot_order(None) == [None]
