"""``feeds.Paced``: cdig top takes the event stream's batches at most every
``interval_s``, at once when the consumer is behind, and a quit ends its wait."""

from __future__ import annotations

import threading
import time

from cdig.tui.feeds import Paced


class Batches:
    """A source of batches (lists of records), as LiveSource yields them."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.label = "lists"

    def batches(self):
        for n in self.sizes:
            yield [0] * n


def test_small_batches_are_paced() -> None:
    paced = Paced(Batches([1, 1, 1]), interval_s=0.2)
    t0 = time.monotonic()
    got = [len(b) for b in paced.batches()]
    assert got == [1, 1, 1]
    assert time.monotonic() - t0 >= 0.4  # two waits between three batches
    assert paced.label == "lists"  # the source's attributes


def test_full_batches_follow_at_once() -> None:
    paced = Paced(Batches([64, 64, 64, 1]), interval_s=5.0, max_batch=64)
    t0 = time.monotonic()
    it = paced.batches()
    assert [len(next(it)) for _ in range(4)] == [64, 64, 64, 1]
    assert time.monotonic() - t0 < 2.0  # behind: no 5 s waits


def test_wake_ends_the_wait() -> None:
    paced = Paced(Batches([1, 1]), interval_s=30.0)
    it = paced.batches()
    next(it)
    threading.Timer(0.2, paced.wake).start()
    t0 = time.monotonic()
    assert len(next(it)) == 1
    assert time.monotonic() - t0 < 10.0
