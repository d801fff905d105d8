"""Chisels on live data and on a capture of the same run give the same tables.

A gated podman container writes to a file and fails to open another; five live
``cdig trace -c CHISEL --container NAME`` and one ``cdig trace -w`` run at once;
after the workload, each live table (stdout is a file: one table at the end) equals
``cdig trace -r CAPTURE -c CHISEL`` of the capture, and the file's bytes are exact.
memcachelog and spy_syslog live on a loopback exchange, and on its .scap read by cdig
and by sysdig.
"""

from __future__ import annotations

import pytest

from .containers import Workload, require
from .test_capture_live import DATA, live_capture, run, start_with_data_file, stop

pytestmark = pytest.mark.integration

N_WRITES = 300
CHISELS = (("topfiles_bytes",), ("topprocs_file",), ("topprocs_errors",), ("topscalls",),
           ("fdbytes_by", "proc.name"))


def rows(text: str) -> list[str]:
    lines = text.splitlines()
    assert len(lines) >= 2 and lines[1] == "-" * 80, text
    return [lines[0], *sorted(lines[2:])]  # equal values may come in either order


def test_live_chisels_equal_the_same_chisels_on_the_capture(podman_container, tmp_path):
    require("root", "bpf", "bcc", "tracefs", "podman")
    w = Workload().write(N_WRITES, DATA).open(2, "/nonexistent")
    c = start_with_data_file(podman_container, w)
    runs = []
    for i, ch in enumerate(CHISELS):
        d = tmp_path / f"c{i}"
        d.mkdir()
        runs.append(live_capture(d, ["-c", *ch, "--container", c.name]))
    cap = tmp_path / "all.cdig"
    d = tmp_path / "w"
    d.mkdir()
    writer = live_capture(d, ["-w", str(cap), f"container.name={c.name}"])
    c.go()
    assert c.wait(30) == 0
    texts = []
    for p, out, err in [*runs, writer]:
        summary = stop(p, err)
        assert " 0 dropped" in summary, summary
        texts.append(out.read_text())
    for ch, live in zip(CHISELS, texts, strict=False):
        r = run("trace", "-r", str(cap), "-c", *ch)
        assert r.returncode == 0, r.stderr
        assert rows(live) == rows(r.stdout), (ch, live, r.stdout)
    files = rows(texts[0])[1:]
    assert f"{f'{N_WRITES}B':<20}{DATA}" in files, files  # 1 byte a write, exactly
    calls = {ln[20:].strip(): int(ln[:20]) for ln in rows(texts[3])[1:]}
    assert calls["write"] >= N_WRITES and calls["openat"] >= 2
    errors = rows(texts[2])[1:]
    assert len(errors) == 1 and int(errors[0][:20]) >= 2, errors


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def test_live_cpu_and_state_chisels(podman_container, tmp_path):
    """topprocs_cpu live: a container's busy loop gets the share of CPU its
    /proc/PID/stat utime+stime says (the chisel's source, as sysdig's procinfo
    events'); ps and lsof list the container's process and its fds."""
    import os
    import time

    require("root", "bpf", "bcc", "tracefs", "podman")
    w = Workload().getppid(10**9)  # busy until removed
    c = start_with_data_file(podman_container, w)
    state = {}
    for name, words in (("ps", ["-c", "ps", f"container.name={c.name}"]),
                        ("lsof", ["-c", f"lsof proc.pid={c.pid}"])):
        d = tmp_path / name
        d.mkdir()
        state[name] = live_capture(d, words)
    d = tmp_path / "cpu"
    d.mkdir()
    p, out, err = live_capture(d, ["-c", "topprocs_cpu", f"container.name={c.name}"])
    t0, ticks0 = time.monotonic(), _cpu_ticks(c.pid)
    c.go()
    hz = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 60
    while _cpu_ticks(c.pid) - ticks0 < 2 * hz:  # two seconds of CPU, however long it takes
        assert time.monotonic() < deadline, "the busy loop got no CPU"
        time.sleep(0.05)
    share = (_cpu_ticks(c.pid) - ticks0) / hz / (time.monotonic() - t0) * 100
    stop(p, err)
    rows = out.read_text().splitlines()
    assert rows[0].split() == ["CPU%", "Process", "PID"] and rows[1] == "-" * 80, rows
    mine = [r for r in rows[2:] if r[40:].strip() == str(c.pid)]
    assert len(mine) == 1, rows
    got = float(mine[0][:20].strip().rstrip("%"))
    assert abs(got - share) <= max(0.15 * share, 5), (got, share)
    # the filter picks the container's processes: nothing of the host's
    assert all(r[40:].strip() != str(os.getpid()) for r in rows[2:])
    for name in ("ps", "lsof"):
        sp, sout, serr = state[name]
        assert sp.wait(60) == 0, serr.read_text()  # one event was enough
    ps = state["ps"][1].read_text().splitlines()
    assert ps[0].split()[:2] == ["TID", "PID"]
    assert any(r.split()[1] == str(c.pid) for r in ps[1:]), ps
    # its fds from /proc, and only its: the quoted filter is lsof's own
    lsof = state["lsof"][1].read_text().splitlines()
    fds = {r.split()[4] for r in lsof[1:]}
    assert {"0", "1", "2"} <= fds and all(r.split()[1] == str(c.pid) for r in lsof[1:]), lsof


# A memcached-like exchange on loopback: a server thread answers each command of a
# client in the same process, which waits at its gate (a line on stdin) first.
MEMCACHED = r'''
import socket, sys, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 11211))
srv.listen(1)
print("ready", flush=True)
sys.stdin.readline()
def serve():
    c, _ = srv.accept()
    while d := c.recv(4096):
        c.sendall(b"VALUE foo 0 5\r\nhello\r\nEND\r\n" if d.startswith(b"get") else b"OK\r\n")
t = threading.Thread(target=serve)
t.start()
cl = socket.create_connection(("127.0.0.1", 11211))
for cmd in (b"get foo\r\n", b"set bar 0 0 5\r\nhello\r\n", b"set num 0 0 42 noreply\r\n",
            b"gets a b\r\n", b"delete foo\r\n"):
    cl.sendall(cmd)
    cl.recv(4096)
cl.close()
t.join()
'''


def test_memcachelog_live_and_on_its_scap_as_sysdig(tmp_path):
    """memcachelog live, and on a .scap of the same run read by cdig and by the real
    sysdig 0.29.3: the same lines (sysdig's quirks: a get's key ends with the CR LF's
    two dots, a set whose data follows has size 0)."""
    import shutil
    import subprocess
    import sys

    require("root", "bpf", "bcc", "tracefs")
    app = subprocess.Popen([sys.executable, "-c", MEMCACHED], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None and app.stdout.readline() == "ready\n"
        d1, d2 = tmp_path / "live", tmp_path / "w"
        d1.mkdir()
        d2.mkdir()
        cap = tmp_path / "mc.scap"
        live = live_capture(d1, ["-c", "memcachelog", f"proc.pid={app.pid}"])
        writer = live_capture(d2, ["-w", str(cap), f"proc.pid={app.pid}"])
        assert app.stdin is not None
        app.stdin.write("go\n")
        app.stdin.close()
        assert app.wait(30) == 0
    finally:
        app.kill()
    for p, _, err in (live, writer):
        assert " 0 dropped" in stop(p, err)
    mine = live[1].read_text().splitlines()
    assert [ln.split(" ", 2)[2] for ln in mine] == [
        "method=get size=0B key=foo..", "method=set size=0B key=bar",
        "method=set size=42B key=num", "method=gets size=0B key=a"]
    r = run("trace", "-r", str(cap), "-c", "memcachelog")
    assert r.returncode == 0, r.stderr
    # the live trace and the writer each took the wall clock's offset at their start:
    # the same lines, times a few microseconds apart
    assert [ln.split(" ", 2)[2] for ln in r.stdout.splitlines()] == \
        [ln.split(" ", 2)[2] for ln in mine]
    sd = subprocess.run([shutil.which("sysdig") or "sysdig", "-r", str(cap), "-c",
                         "memcachelog"], capture_output=True, text=True, timeout=60)
    assert sd.returncode == 0 and sd.stdout.splitlines() == r.stdout.splitlines(), sd.stderr


# Messages to a syslog socket (a path ending in /dev/log) sent with sendto, as the
# real sysdig's decoder names the fd at the tuple each one carries: valid priorities,
# invalid ones (nil), an overlong one, an empty message, control bytes, newlines.
SYSLOG = r'''
import socket, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
srv.bind(path)
print("ready", flush=True)
sys.stdin.readline()
cl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in (b"<13>Dec  2 10:00:00 app[12]: hello", b"<12>a warning\n", b"<11>err \x1b[31m\x07",
          b"<191>local7 debug", b"<200>too big", b"<x>no", b"<>empty", b"<13", b"<13>",
          b"plain text", b"<0012>lead zero", b"<-1>minus one", b"<99999999999999999999>huge",
          b"<13>two\nlines", b"<13>nul\x00after"):
    cl.sendto(m, path)
    srv.recv(4096)
'''


def test_spy_syslog_live_and_on_its_scap_as_sysdig(tmp_path):
    """spy_syslog live equals spy_syslog on a .scap of the same run, and the real
    sysdig 0.29.3's on that file, line for line: cdig prints a message's printable
    ASCII, tabs and newlines where sysdig writes its raw bytes (ESC, BEL, NUL here)."""
    import shutil
    import subprocess
    import sys

    require("root", "bpf", "bcc", "tracefs")
    (tmp_path / "dev").mkdir()
    app = subprocess.Popen([sys.executable, "-c", SYSLOG, str(tmp_path / "dev" / "log")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None and app.stdout.readline() == "ready\n"
        d1, d2 = tmp_path / "live", tmp_path / "w"
        d1.mkdir()
        d2.mkdir()
        cap = tmp_path / "syslog.scap"
        live = live_capture(d1, ["-c", "spy_syslog", f"proc.pid={app.pid}"])
        writer = live_capture(d2, ["-w", str(cap), f"proc.pid={app.pid}"])
        assert app.stdin is not None
        app.stdin.write("go\n")
        app.stdin.close()
        assert app.wait(30) == 0
    finally:
        app.kill()
    for p, _, err in (live, writer):
        assert " 0 dropped" in stop(p, err)
    mine = live[1].read_text()
    who = mine.split(" ")[1]  # the interpreter's name, then its pid
    assert who.endswith(f"[{app.pid}]"), who
    assert mine.split("\n") == [
        f"user.notice {who} Dec  2 10:00:00 app[12]: hello", f"user.warn {who} a warning",
        "", f"user.err {who} err [31m", f"local7.debug {who} local7 debug",
        f"<NA>.emerg {who} too big", *[f"nil.nil {who} nil"] * 3, f"user.notice {who} ",
        f"nil.nil {who} nil", f"user.warn {who} lead zero", f"nil.nil {who} nil",
        f"<NA>.debug {who} 9999>huge", f"user.notice {who} two", "lines",
        f"user.notice {who} nulafter", ""]
    r = run("trace", "-r", str(cap), "-c", "spy_syslog")
    assert r.returncode == 0 and r.stdout == mine, r.stderr
    sd = subprocess.run([shutil.which("sysdig") or "sysdig", "-r", str(cap), "-c",
                         "spy_syslog"], capture_output=True, timeout=60)
    assert sd.returncode == 0, sd.stderr
    raw = sd.stdout.decode()
    assert raw.replace("\x1b", "").replace("\x07", "").replace("\x00", "") == mine
