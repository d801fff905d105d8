"""ContainerHold: the stream waits, in order, while a new container is named."""

import numpy as np
from records import T, record

from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.hold import ContainerHold
from cdig.probes.syscalls import layout


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def batch(dec, cgroup, n=3):
    recs = np.concatenate([record("write", ret=1, args=(1, 0, 1), cgroup=cgroup, ts=i)
                           for i in range(n)])
    return dec.batch(RawBatch(recs, np.zeros(0, layout.EXT_RECORD)))


def test_batches_wait_in_order_until_the_name_lands():
    dec, pending = Decoder(T, 0), {9}
    hold = ContainerHold(lambda cg: cg in pending, timeout_s=2.0, clock=Clock())
    a = batch(dec, 7)
    assert hold.admit(a) == [a]  # nothing pending: straight through
    b, c = batch(dec, 9), batch(dec, 7)
    assert hold.admit(b) == [] and hold.admit(c) == []  # the host's rows wait too: order
    pending.clear()  # the runtime answered
    empty = dec.batch(RawBatch(np.zeros(0, layout.RECORD), np.zeros(0, layout.EXT_RECORD)))
    assert hold.admit(empty) == [b, c]
    assert hold.released_early == 0 and hold.held_batches == 2


def test_timeout_lets_them_pass_with_the_id_only():
    dec, clock = Decoder(T, 0), Clock()
    hold = ContainerHold(lambda cg: cg == 9, timeout_s=0.5, clock=clock)
    b = batch(dec, 9)
    assert hold.admit(b) == []
    clock.t = 0.6
    c = batch(dec, 9)
    assert hold.admit(c) == [b, c]
    assert hold.released_early == 2 and hold.max_held_s == 0.6
    assert hold.admit(batch(dec, 9)) != []  # given up on: not held again


def test_bounded_by_rows():
    dec = Decoder(T, 0)
    hold = ContainerHold(lambda cg: True, timeout_s=60, max_rows=5, clock=Clock())
    assert hold.admit(batch(dec, 9)) == []
    assert len(hold.admit(batch(dec, 9))) == 2  # 6 rows held > 5: released
