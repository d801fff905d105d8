"""``cdig trace -w`` on a real container, read back with ``-r``, ``summary``, ``export``.

The container starts (and blocks at its gate) *before* the capture does, so its
process is known only from the capture's snapshot; the replay must still name
its container and command line exactly as the live trace printed them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ..cdig_cli import cdig_command
from .containers import CONTAINER_GATE, CONTAINER_WORKLOAD, WORKLOAD_NAME, Workload, require

pytestmark = pytest.mark.integration

N_WRITES = 300
DATA = "/tmp/cdig-capture-data"
FMT = ("*%evt.num %evt.time %evt.cpu %container.name %container.id %container.image "
       "%proc.name %proc.pid %proc.ppid %proc.cmdline %proc.exe %thread.tid %user.name "
       "%evt.dir %evt.type %evt.res %evt.info %fd.name %fd.type")
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def _running(pid: int) -> bool:
    """The probe is attached (perf/bpf-link fds) and cdig's signal handlers are in."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    m = re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M)
    attached = any("perf_event" in t or "bpf" in t for t in fds)
    return bool(m and int(m.group(1), 16) & SIGTERM_BIT) and attached


def live_capture(tmp_path: Path, args: list[str]) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "live.out", tmp_path / "live.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen([*cdig_command(), "trace", "-M", "60", *args],
                             stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    deadline = time.monotonic() + 45
    while not _running(p.pid):
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            raise AssertionError(f"cdig trace -w did not start:\n{err.read_text()}")
        time.sleep(0.02)
    return p, out, err


def stop(p: subprocess.Popen, err: Path) -> str:
    p.send_signal(signal.SIGINT)
    assert p.wait(60) == 0, err.read_text()
    text = err.read_text()
    assert "Traceback" not in text, text
    return text


def run(*args: str, user: bool = False) -> subprocess.CompletedProcess:
    cmd = [*cdig_command(), *args]
    if user:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def start_with_data_file(podman_container, w: Workload, **kw):
    """The container's shell creates DATA, then execs the gated workload (same pid):
    the process exists, blocked at its gate, before any capture starts."""
    argv = " ".join(w.argv(CONTAINER_WORKLOAD, CONTAINER_GATE))
    return podman_container(script=f"touch {DATA} && exec {argv}", gates=1, **kw)


@pytest.fixture(autouse=True)
def _caps():
    require("root", "bpf", "bcc", "tracefs", "podman")


def test_capture_reads_back_as_printed_live(podman_container, tmp_path):
    w = Workload().write(N_WRITES, DATA).open(3, "/etc/hostname").open(2, "/nonexistent")
    c = start_with_data_file(podman_container, w, labels={"io.kubernetes.pod.name": "web-0"})
    cap = tmp_path / "c.cdig"
    flt = f"container.name={c.name}"
    p, out, err = live_capture(tmp_path, ["-w", str(cap), "-p", FMT, flt])
    c.go()
    assert c.wait(30) == 0
    time.sleep(0.3)
    summary = stop(p, err)
    assert re.search(r"cdig: \d+ events shown, \d+ seen, 0 dropped", summary), summary
    assert (cap.stat().st_mode & 0o777) == 0o600
    live = out.read_text().splitlines()
    writes = [ln for ln in live if f" {DATA} file" in ln and " < write " in ln]
    assert len(writes) == N_WRITES, summary
    # the process started before the capture: container, image and command line known
    assert all(f" {c.name} " in ln and " cdigwork " in ln and f"write {N_WRITES} {DATA}" in ln
               for ln in writes)
    assert any("res=-2(ENOENT)" in ln for ln in live)

    back = run("trace", "-r", str(cap), "-p", FMT, flt)
    assert back.returncode == 0, back.stderr
    assert back.stdout.splitlines() == live

    # reading needs no root: as nobody, a copy it may read gives the same lines
    shared = Path("/tmp") / f"cdig-cap-{os.getpid()}.cdig"
    try:
        shutil.copy(cap, shared)
        denied = run("trace", "-r", str(cap), user=True)
        assert denied.returncode == 1 and denied.stderr.count("\n") == 1
        assert "Permission denied" in denied.stderr or "not permitted" in denied.stderr
        os.chmod(shared, 0o644)
        nobody = run("trace", "-r", str(shared), "-p", FMT, flt, user=True)
        assert nobody.returncode == 0, nobody.stderr
        assert nobody.stdout.splitlines() == live
    finally:
        shared.unlink(missing_ok=True)


def test_summary_exact_for_known_writes(podman_container, tmp_path):
    w = Workload().write(N_WRITES, DATA)
    c = start_with_data_file(podman_container, w)
    cap = tmp_path / "s.cdig"
    p, _, err = live_capture(tmp_path, ["-w", str(cap), f"container.name={c.name}"])
    c.go()
    assert c.wait(30) == 0
    time.sleep(0.3)
    text = stop(p, err)
    assert re.search(r"cdig: \d+ events written to", text), text

    def summary(by: str) -> list[dict]:
        r = run("summary", "-r", str(cap), "--by", by, "--json", "--top", "0")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["rows"]

    files = {r["fd.name"]: r for r in summary("file")}
    assert files[DATA]["written"] == N_WRITES and files[DATA]["ops"] == N_WRITES
    sc = {r["evt.type"]: r for r in summary("syscall")}
    after_go = w.counts(phase="after_go")
    for name in ("write", "openat", "close", "exit_group"):
        assert sc[name]["calls"] == after_go[name], (name, sc[name], after_go)
    (cont,) = summary("container")
    assert cont["container.name"] == c.name and cont["file.written"] == N_WRITES
    procs = summary("proc")
    assert [r["proc.name"] for r in procs] == [WORKLOAD_NAME]

    pq = tmp_path / "s.parquet"
    r = run("export", "-r", str(cap), "-o", str(pq))
    assert r.returncode == 0, r.stderr
    duckdb = pytest.importorskip("duckdb")
    got = duckdb.sql(f"SELECT \"container.name\", count(*) FROM '{pq}' GROUP BY 1").fetchall()
    assert got == [(c.name, cont["events"])]
