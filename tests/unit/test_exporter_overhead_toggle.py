"""benchmarks/exporter_overhead.py --toggle: which chunks make a window's figure."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import exporter_overhead as bench


def test_window_figure_takes_only_the_window_s_chunks_low_percentile() -> None:
    # 100 chunks at t = 0..99 ns: 1..100 ns/call in order; a window [40, 89]
    chunks = [(t, float(t + 1)) for t in range(100)]
    # 50 chunks, values 41..90: the 20th percentile is the 11th lowest, 51
    assert bench._window_figure(chunks, 40, 89) == 51.0


def test_window_figure_needs_enough_chunks() -> None:
    chunks = [(t, 1.0) for t in range(100)]
    assert bench._window_figure(chunks, 0, 8) is None  # 9 chunks
    assert bench._window_figure(chunks, 0, 9) == 1.0  # 10 chunks
    assert bench._window_figure(chunks, 5, 5 - 1) is None  # an emptied window (a foreign tracer)


def test_pingpong_loop_prints_round_trips_until_stdin_closes(tmp_path: Path) -> None:
    # the --pingpong loop, built and run as toggle_overhead runs it: one
    # "<monotonic ns> <ns per round trip>" line per chunk, and it ends (with its
    # child) once stdin closes
    import shutil
    import subprocess
    import time

    import pytest

    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed (the benchmark builds its loops with it)")
    src = tmp_path / "pp.c"
    src.write_text(bench.breakdown.PINGPONG_C)
    subprocess.run(["gcc", "-O2", "-o", str(tmp_path / "pp"), str(src)], check=True)
    p = subprocess.Popen([str(tmp_path / "pp")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    time.sleep(0.3)
    assert p.stdin is not None and p.stdout is not None
    p.stdin.close()
    assert p.wait(10) == 0
    out = p.stdout.read()
    lines = [line.split() for line in out.decode().splitlines()]
    assert lines and all(len(f) == 2 and int(f[0]) > 0 and float(f[1]) > 0 for f in lines)


def test_median_interval_is_the_order_statistics_binomial_rule() -> None:
    # n = 5: even (min, max) covers the median with 93.75 % only
    assert bench.median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    # n = 6: (min, max) at 1 - 2/64 = 96.9 %
    assert bench.median_interval([1.61, 1.10, 1.33, 1.41, 0.97, 1.09]) == (0.97, 1.61)
    # n = 12: the 3rd smallest and the 3rd largest (98.1 %)
    xs = [float(x) for x in range(12, 0, -1)]
    assert bench.median_interval(xs) == (3.0, 10.0)
