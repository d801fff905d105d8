"""The integration harness itself: workload syscall contract, podman and runc
containers (labels, cgroups, gate, exit codes), teardown and the CI rule."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration import containers
from tests.integration.containers import (
    CONTAINER_GATE_DIR,
    NAME_PREFIX,
    SHELL_GATE,
    WORKLOAD_NAME,
    Workload,
    cgroup2_mountpoint,
    ensure_podman_image,
    require,
    rootfs_hash,
    sweep_leftovers,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STRACE_LINE = re.compile(r"^(\d+)\s+([a-z_0-9]+)\(")


def strace_calls(path: Path) -> list[tuple[int, str]]:
    """(pid, syscall) in the order strace -f -o printed their starts."""
    out = []
    for line in path.read_text().splitlines():
        m = STRACE_LINE.match(line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def strace_summary(path: Path) -> Counter:
    """Counts from an `strace -c` table (the `calls` column)."""
    counts: Counter = Counter()
    for line in path.read_text().splitlines():
        parts = line.split()
        # % time  seconds  usecs/call  calls  [errors]  syscall
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return counts


PORT = 18000 + os.getpid() % 1000

WORKLOADS = {
    "write": Workload().write(7),
    "open-existing": Workload().open(3, "/etc/hostname"),
    "open-missing": Workload().open(4, "/nonexistent/cdig"),
    "getppid": Workload().getppid(25),
    "tcp": Workload().listen(PORT).connect(3, PORT).accept(3),
    "connect-refused": Workload().connect(2, PORT + 1),
    "fork": Workload().fork(3),
    "sleep-name": Workload().name("cdigother").sleep(5),
    "exec": Workload().write(2).exec("@BIN@").getppid(2),
    "exit": Workload().write(1).exit(42),
    "mixed": Workload().write(3).open(2, "/dev/null").getppid(4).exit(3),
}


def _bind(w: Workload, binary: Path) -> Workload:
    """Replace the @BIN@ placeholder of exec steps with the host binary."""
    out = Workload()
    out.steps = [tuple(str(binary) if a == "@BIN@" else a for a in s) for s in w.steps]
    return out


# --------------------------------------------------------------------------
# the workload program (host, strace)


@pytest.mark.parametrize("mode", sorted(WORKLOADS))
def test_workload_syscalls_match_claim_exactly(mode, workload_bin, tmp_path):
    require("strace", "gcc")
    w = _bind(WORKLOADS[mode], workload_bin)
    argv = w.argv(str(workload_bin))
    # the ordered trace
    trace = tmp_path / "trace"
    r = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), *argv], capture_output=True, timeout=30
    )
    assert r.returncode == w.exit_code, r.stderr
    calls = strace_calls(trace)
    assert Counter(name for _, name in calls) == w.counts(gated=False)
    if "fork" not in mode:  # one process: the exact order too
        assert [name for _, name in calls] == w.syscalls(gated=False)
    # and the summary table of `strace -f -c`
    summary = tmp_path / "summary"
    r = subprocess.run(
        ["strace", "-f", "-c", "-o", str(summary), *argv], capture_output=True, timeout=30
    )
    assert r.returncode == w.exit_code
    # strace -c tallies a syscall when it returns: exit_group never does
    want = w.counts(gated=False)
    del want["exit_group"]
    assert strace_summary(summary) == want


def test_gated_host_workload_under_strace(host_workload, tmp_path):
    require("strace")
    w = Workload().write(5).getppid(2)
    trace = tmp_path / "trace"
    h = host_workload(w, wrapper=["strace", "-f", "-qq", "-o", str(trace)])
    # blocked at the gate: nothing of the work happened yet
    assert [n for _, n in strace_calls(trace)] == ["execve", "openat", "read"]  # read blocks
    h.go()
    assert h.wait(10) == 0
    assert [n for _, n in strace_calls(trace)] == w.syscalls(gated=True)
    assert w.syscalls(gated=True, phase="after_go") == w.syscalls(gated=True)[3:]


def test_workload_rejects_bad_argv(workload_bin):
    r = subprocess.run([str(workload_bin), "write", "x", "/dev/null"], capture_output=True)
    assert r.returncode == 125 and b"bad argument: x" in r.stderr
    r = subprocess.run([str(workload_bin), "frobnicate"], capture_output=True)
    assert r.returncode == 125
    r = subprocess.run([str(workload_bin)], capture_output=True)
    assert r.returncode == 0


def test_workload_builder_contract():
    w = Workload().write(2).fork(1).exit(9)
    assert w.argv("/x", gate="/g") == [
        "/x",
        "gate",
        "/g",
        "write",
        "2",
        "/dev/null",
        "fork",
        "1",
        "exit",
        "9",
    ]
    assert w.syscalls(gated=True) == [
        "execve",
        "openat",
        "read",
        "close",
        "openat",
        "write",
        "write",
        "close",
        "fork",
        "exit_group",
        "wait4",
        "exit_group",
    ]
    assert w.syscalls(phase="after_go")[0] == "close"
    assert w.exit_code == 9
    with pytest.raises(ValueError):
        w.write(1)  # nothing after exit
    with pytest.raises(ValueError):
        Workload().name("a-name-longer-than-15")


# --------------------------------------------------------------------------
# containers


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _attach_strace(pid: int, out: Path) -> subprocess.Popen:
    p = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", str(out), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        if re.search(r"^TracerPid:\s*[1-9]", status, re.M):
            return p
        time.sleep(0.01)
    p.kill()
    raise TimeoutError("strace did not attach")


def _check_container(c, expected_cgroup: str, trace: Path) -> None:
    """Idle at the gate → strace attached → go → exact syscalls, exit code."""
    w = c.workload
    assert c.pid and _comm(c.pid) == WORKLOAD_NAME
    assert c.cgroup == expected_cgroup
    assert c.pids() == [c.pid]
    root = cgroup2_mountpoint()
    if root is not None:
        assert c.cgroup_id == os.stat(root / expected_cgroup.lstrip("/")).st_ino
    assert c.pid in c.gate.waiting()
    out = c.gate.dir / "out"
    assert out.read_bytes() == b""  # nothing written before go()
    tracer = _attach_strace(c.pid, trace)
    c.go()
    assert c.wait(15) == w.exit_code
    tracer.wait(10)
    assert out.read_bytes() == b"x" * 4
    names = [n for _, n in strace_calls(trace)]
    # the attached tracer sees the gate's read return, then exactly the claim
    assert names[0] == "read"
    assert names[1:] == w.syscalls(phase="after_go")


def test_podman_container_labels_cgroup_gate_exit(podman_container, tmp_path):
    require("strace")
    w = Workload().write(4, f"{CONTAINER_GATE_DIR}/out").getppid(3).exit(7)
    labels = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop"}
    c = podman_container(w, labels=labels, start=False)
    (c.gate.dir / "out").write_bytes(b"")
    c.start()
    assert re.fullmatch(r"[0-9a-f]{64}", c.id)
    assert c.name.startswith(NAME_PREFIX)
    info = c.inspect()
    assert info["Id"] == c.id and info["State"]["Pid"] == c.pid
    for k, v in labels.items():
        assert info["Config"]["Labels"][k] == v
    assert info["Config"]["Labels"][containers.OWNER_LABEL] == str(os.getpid())
    _check_container(c, f"/libpod_parent/libpod-{c.id}", tmp_path / "trace")
    assert c.logs() == ""


def test_runc_container_cgroup_gate_exit(runc_container, tmp_path):
    require("strace")
    w = Workload().write(4, f"{CONTAINER_GATE_DIR}/out").open(2, "/etc/passwd").exit(5)
    c = runc_container(w, annotations={"io.kubernetes.pod.name": "db-1"}, start=False)
    (c.gate.dir / "out").write_bytes(b"")
    c.start()
    st = c.state()
    assert st["status"] == "running" and st["pid"] == c.pid and st["id"] == c.name
    assert st["annotations"]["io.kubernetes.pod.name"] == "db-1"
    _check_container(c, f"/{c.name}", tmp_path / "trace")
    assert c.state() is None  # foreground `runc run` deleted it at exit


@pytest.mark.parametrize("runtime", ["podman", "runc"])
def test_shell_script_waits_for_go(runtime, podman_container, runc_container):
    make = podman_container if runtime == "podman" else runc_container
    c = make(script=f"echo before; {SHELL_GATE}; echo after $CDIG_GATE; exit 3", gates=1)
    time.sleep(0.2)
    assert "after" not in c.logs()
    c.go()
    assert c.wait(15) == 3
    assert c.logs().split() == ["before", "after", "/cdig-gate/go"]


@pytest.mark.parametrize("runtime", ["podman", "runc"])
def test_ungated_and_failing_containers(runtime, podman_container, runc_container):
    make = podman_container if runtime == "podman" else runc_container
    c = make(Workload().getppid(1).exit(17), gated=False)
    assert c.wait(15) == 17
    c = make(script="echo oops >&2; exit 1")
    assert c.wait(15) == 1
    assert "oops" in c.logs()
    with pytest.raises(RuntimeError, match="stopped before reaching its gate"):
        make(script="exit 2", gates=1)


def test_podman_image_is_reused(podman_image, busybox_rootfs, tmp_path):
    before = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", podman_image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    t = time.monotonic()
    assert ensure_podman_image(busybox_rootfs, tmp_path, podman_image) == podman_image
    assert time.monotonic() - t < 2
    after = subprocess.run(
        [
            "podman",
            "image",
            "inspect",
            "--format",
            '{{.Id}} {{index .Labels "' + containers.HASH_LABEL + '"}}',
            podman_image,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert after.split() == [before.strip(), rootfs_hash()]


# --------------------------------------------------------------------------
# teardown: nothing survives a failing test, nor a killed session

INNER = textwrap.dedent("""
    import os, time
    from pathlib import Path
    from tests.integration.containers import Workload

    NAMES = Path(os.environ["CDIG_INNER_NAMES"])

    def test_fails(podman_container, runc_container):
        a = podman_container(Workload().write(1))
        b = runc_container(Workload().write(1))
        NAMES.write_text(a.name + " " + b.name)
        if os.environ.get("CDIG_INNER_HANG"):
            time.sleep(600)
        assert False, "deliberate failure"
""")


def _inner_pytest(tmp_path: Path, hang: bool) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "test_inner.py").write_text(INNER)
    names = tmp_path / "names"
    env = dict(os.environ, CDIG_INNER_NAMES=str(names), PYTHONPATH=str(REPO))
    env.pop("CDIG_INNER_HANG", None)
    if hang:
        env["CDIG_INNER_HANG"] = "1"
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.integration.conftest",
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return p, names


def _exists(names: list[str]) -> list[str]:
    ps = subprocess.run(
        ["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    rl = subprocess.run(
        ["runc", "list", "-q"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [n for n in names if n in ps or n in rl]


def test_failing_test_leaves_no_containers(tmp_path, podman_image):
    require("root", "podman", "runc")
    p, names = _inner_pytest(tmp_path, hang=False)
    out, _ = p.communicate(timeout=45)
    assert p.returncode == 1 and "deliberate failure" in out, out
    made = names.read_text().split()
    assert len(made) == 2 and all(n.startswith(NAME_PREFIX) for n in made)
    assert _exists(made) == []


def test_killed_session_is_swept_by_the_next(tmp_path, podman_image):
    require("root", "podman", "runc")
    p, names = _inner_pytest(tmp_path, hang=True)
    deadline = time.monotonic() + 30
    while not (names.exists() and names.read_text()):
        assert p.poll() is None, p.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    made = names.read_text().split()
    os.kill(p.pid, signal.SIGKILL)  # no teardown at all
    p.wait(10)
    assert sorted(_exists(made)) == sorted(made)
    removed = sweep_leftovers()
    assert {r.split(":", 1)[1] for r in removed} >= set(made)
    assert _exists(made) == []


# --------------------------------------------------------------------------
# require(): skip locally, fail in CI


def test_require_skips_or_fails(monkeypatch):
    monkeypatch.setitem(containers.CAPABILITIES, "unobtainium", lambda: "not on this planet")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="unobtainium: not on this planet"):
        require("root", "unobtainium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="unobtainium.*CI=true"):
        require("unobtainium")
    require("root")  # present: no exception
    with pytest.raises(ValueError, match="unknown capability"):
        require("no-such-thing")
