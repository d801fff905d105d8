"""benchmarks/benchlib.py: the parts of running a benchmark its scripts share
(what the host lacks, the report's first line, a C loop built, a child tracer
that reports as JSON, the signal that stops it) and the scripts that use them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import benchlib  # noqa: E402 - after the path
import io_enter_cost  # noqa: E402
import probe_overhead  # noqa: E402

# a child as the benchmarks' drains are: ready line, counts until SIGINT, report
CHILD = r"""
import json, signal, sys, time
stop = []
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
print(json.dumps({"ready": True, "pairing": "task"}), flush=True)
n = 0
while not stop:
    n += 1
    time.sleep(0.001)
print("not json: ignored")
print(json.dumps({"records": n, "stopped": True}), flush=True)
"""


def test_unmet_needs_names_what_is_missing() -> None:
    assert benchlib.unmet_needs(root=False, tools=["sh"]) is None
    assert (benchlib.unmet_needs(root=False, tools=["sh", "cdig-no-such-tool"])
            == "needs cdig-no-such-tool")
    as_root = benchlib.unmet_needs(tools=["cdig-no-such-tool"])
    assert as_root == ("needs cdig-no-such-tool" if os.geteuid() == 0
                       else "needs root and cdig-no-such-tool")


def test_host_header_names_kernel_cpus_load_and_revision() -> None:
    line = benchlib.host_header(REPO)
    rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert line.startswith(f"kernel {os.uname().release}, {os.cpu_count()} CPUs; load average ")
    assert line.endswith(f" at start; git {rev}")


def test_compile_c_builds_a_program_that_runs(tmp_path: Path) -> None:
    src = '#include <stdio.h>\nint main(void) { printf("%d\\n", 6 * 7); return 0; }\n'
    binary = benchlib.compile_c(src, tmp_path / "cdigloop.v1")
    assert binary == tmp_path / "cdigloop.v1"
    assert (tmp_path / "cdigloop.v1.c").read_text() == src  # a dot in the name is kept
    assert subprocess.run([str(binary)], capture_output=True, text=True).stdout == "42\n"
    with pytest.raises(subprocess.CalledProcessError):
        benchlib.compile_c("int main(void) { return }", tmp_path / "broken")


@pytest.fixture
def handlers() -> Iterator[None]:
    """pytest's own SIGINT and SIGTERM handlers back after the test."""
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, saved[0])
    signal.signal(signal.SIGTERM, saved[1])


def test_stop_signal_notes_sigint_and_sigterm(handlers: None) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        stop = benchlib.StopSignal()
        assert not stop.set
        signal.raise_signal(sig)  # the handler runs before the next bytecode
        assert stop.set


def test_drain_until_stopped_waits_by_what_it_read_and_drains_once_after_stop(
        handlers: None) -> None:
    stop = benchlib.StopSignal()
    reads = iter([5000, 3, 0, 7, 0])
    calls: list[str] = []

    def drain() -> int:
        n = next(reads)
        calls.append(f"drain {n}")
        if n == 7:  # a signal while the rings are read: this drain and one more
            signal.raise_signal(signal.SIGTERM)
        return n

    benchlib.drain_until_stopped(drain, lambda s: calls.append(f"wait {s}"), stop)
    assert calls == ["drain 5000", "drain 3", "wait 0.005", "drain 0", "wait 0.1",
                     "drain 7", "wait 0.005", "drain 0"]


def test_json_child_yields_ready_then_keeps_the_last_report() -> None:
    child = benchlib.JsonChild([sys.executable, "-c", CHILD])
    with child.running() as ready:
        assert ready == {"ready": True, "pairing": "task"}
        assert child.result == {}
    # the last JSON line (a SIGINT at once may find no loop done: records 0)
    assert child.result["stopped"] is True and set(child.result) == {"records", "stopped"}


def test_json_child_that_does_not_start_says_why() -> None:
    child = benchlib.JsonChild([sys.executable, "-c", "import sys; sys.exit('no BPF here')"])
    with pytest.raises(benchlib.BenchError, match="did not start: no BPF here"):
        with child.running():
            pytest.fail("the block ran")
    assert child.result == {}


def test_the_drains_are_json_children_with_their_flags() -> None:
    io = io_enter_cost.Drain(80, True, "/old")
    assert isinstance(io, benchlib.JsonChild)
    assert io.argv[1:] == [str(REPO / "benchmarks" / "io_enter_cost.py"), "--child",
                           "--snaplen", "80", "--enter", "--tree", "/old"]
    assert io_enter_cost.Drain(0, False).argv[2:] == ["--child", "--snaplen", "0"]
    po = probe_overhead.Drain("hash", "cdigppid1", "--wakeup-ns", "0")
    assert isinstance(po, benchlib.JsonChild)
    assert po.argv[1:] == [str(REPO / "benchmarks" / "probe_overhead.py"), "--child", "hash",
                           "--comm", "cdigppid1", "--wakeup-ns", "0"]
