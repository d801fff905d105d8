"""The row take the .scap reader uses (batch.take_records): whole RECORD rows equal
numpy's field-by-field take."""

from __future__ import annotations

import numpy as np

from cdig.collector.batch import take_records
from cdig.probes.syscalls import layout


def _records(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=n * layout.RECORD.itemsize, dtype=np.uint8)
    return raw.view(layout.RECORD)


def test_take_rows_equals_fancy_index_field_by_field():
    rec = _records(1000)
    rows = np.random.default_rng(8).permutation(1000)[:700]
    got = take_records(rec, rows)
    want = rec[rows]
    assert got.dtype == layout.RECORD and len(got) == 700
    for name in layout.RECORD.names:
        assert np.array_equal(got[name], want[name]), name


def test_take_rows_is_a_copy():
    rec = _records(10)
    got = take_records(rec, np.arange(10))
    got["pid"][:] = 12345
    assert not (rec["pid"] == 12345).all()


def test_take_rows_of_no_rows():
    got = take_records(_records(5), np.array([], dtype=np.int64))
    assert got.dtype == layout.RECORD and len(got) == 0


def _columns(rows: list[tuple[int, bytes | None]]):
    """Columns of records (nr, string or None), as the per-event path appends them."""
    from cdig.collector.scap.columns import Columns

    c = Columns()
    for i, (nr, s) in enumerate(rows):
        for name, v in (("ts", 100 + i), ("lat", i), ("cg", 7), ("ret", -i), ("pid", 5),
                        ("tid", 6), ("uid", 0), ("gid", 0), ("nr", nr), ("kind", i % 2),
                        ("flags", 0), ("cpu", 1), ("comm", b"x"), ("num", 10 + i),
                        ("shown", bool(i % 3)), ("key", 8 * i)):
            getattr(c, name).append(v)
        c.args.append((i, 0, 0, 0, 0, 0))
        if s is not None:
            c.ext_row.append(i)
            for name, v in (("s1", s), ("s2", b""), ("l1", len(s) + 1), ("l2", 0),
                            ("argc", 0), ("pad", 0)):
                getattr(c, name).append(v)
    return c


def test_keep_only_is_the_columns_of_the_kept_records():
    rows = [(i, b"/p%d" % i if i % 4 in (1, 2) else None) for i in range(12)]
    keep = [i % 3 != 0 for i in range(12)]
    got = _columns(rows)
    got.keep_only(keep)
    want = _columns([r for r, k in zip(rows, keep, strict=True) if k])
    want.num = [n for n, k in zip(_columns(rows).num, keep, strict=True) if k]
    want.ts = [t for t, k in zip(_columns(rows).ts, keep, strict=True) if k]
    for name in ("lat", "ret", "args", "kind", "shown", "key"):
        setattr(want, name, [v for v, k in zip(getattr(_columns(rows), name), keep,
                                               strict=True) if k])
    assert len(got) == sum(keep)
    assert vars(got) == vars(want)
    (b1, s1), (b2, s2) = got.to_batch(), want.to_batch()
    for part in ("events", "ext", "order", "num"):
        assert np.array_equal(getattr(b1, part), getattr(b2, part)), part
    assert np.array_equal(s1, s2)
