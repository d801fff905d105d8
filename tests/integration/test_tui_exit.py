"""cdig top gives the terminal back however it ends, and says when a capture was
damaged (issue 11 item 3).

Each test runs the real ``cdig top -r`` in a tmux pane (a real terminal), waits
until the app has the terminal (alternate screen, mouse tracking on), ends it one
way — q, SIGTERM, SIGHUP, SIGKILL, a real SIGBUS (a mapped file that shrinks
under a read), an exception inside the app, the capture truncated while it is
replayed — and reads the pane's modes from tmux: out of the alternate screen,
mouse tracking off, the shell back with the expected exit status.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .containers import require
from .test_tui_tmux import CDIG, TMUX, H, W, screen, tmux, wait_for

pytestmark = pytest.mark.integration

CAPTURE = Path(__file__).parent.parent / "fixtures" / "golden" / "host.cdig"  # 6 s of a host

# the app with one fault injected at its third frame (test-only: the command's own
# code is run unchanged, from cdig.cli.main)
FAULT = textwrap.dedent("""
    import mmap, os, sys, tempfile
    from cdig.tui.screens.main import MainScreen

    show, frames = MainScreen.show_frame, [0]

    def faulty(self, frame):
        frames[0] += 1
        if frames[0] == 3:
            if sys.argv[1] == "raise":
                raise RuntimeError("injected fault <b>[red]x[/red]</b>")
            fd, path = tempfile.mkstemp()  # sigbus: a mapping whose file shrinks
            os.write(fd, b"x" * 8192)
            m = mmap.mmap(fd, 8192)
            os.ftruncate(fd, 0)
            m[4096]  # the kernel sends SIGBUS here
        return show(self, frame)

    MainScreen.show_frame = faulty
    from cdig.cli import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.fixture
def pane(tmp_path):
    require("tmux")
    name = f"cdigexit{int(time.time() * 1000) % 10**8}"
    shutil.copyfile(CAPTURE, tmp_path / "c.cdig")  # short names: no command line wraps
    (tmp_path / "fault.py").write_text(FAULT)
    tmux("new-session", "-d", "-s", name, "-x", str(W), "-y", str(H), "-c", str(tmp_path),
         "env", "PS1=READY$ ",
         "TERM=xterm-256color", "bash", "--norc", "--noprofile")
    try:
        yield name
    finally:
        subprocess.run([*TMUX, "kill-session", "-t", name], capture_output=True)


def modes(pane: str) -> str:
    """'alternate-screen mouse-tracking' of the pane: '1 1' while cdig top runs."""
    return tmux("display-message", "-p", "-t", pane, "#{alternate_on} #{mouse_any_flag}").strip()


def wait_modes(pane: str, want: str, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if modes(pane) == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: the pane's modes are {modes(pane)!r}, not {want!r}; "
                         f"the screen:\n{screen(pane)}")


def start(pane: str, argv: str) -> int:
    """Run ``argv`` in the pane; wait until the app shows frames; its pid."""
    tmux("send-keys", "-t", pane, f"{argv}; echo CDIG_EXIT=$?", "Enter")
    wait_modes(pane, "1 1", "cdig top taking the terminal")
    wait_for(pane, lambda s: "t+" in s and "cdig top" in s, 20, "the first frames")
    shell = tmux("display-message", "-p", "-t", pane, "#{pane_pid}").strip()
    pid = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True,
                         check=True).stdout.split()
    assert len(pid) == 1, pid  # the command (its terminal guard is its own child)
    return int(pid[0])


def ended(pane: str, code: int) -> str:
    """Wait for the shell's report of exit status ``code``; the terminal restored."""
    text = wait_for(pane, lambda s: f"CDIG_EXIT={code}" in s, 20, f"exit status {code}")
    wait_modes(pane, "0 0", "the terminal given back")
    assert text.rstrip().splitlines()[-1].startswith("READY$"), text
    return text


def after_command(text: str) -> list[str]:
    """The lines cdig printed once the screen was given back (the command lines
    are short: nothing wraps)."""
    rows = [ln for ln in text.splitlines() if ln.strip()]
    i = max(i for i, ln in enumerate(rows) if ln.endswith("CDIG_EXIT=$?"))
    j = next(k for k in range(i, len(rows)) if rows[k].startswith("CDIG_EXIT="))
    return rows[i + 1 : j]


@pytest.mark.parametrize("sig, code", [("TERM", 143), ("HUP", 129), ("INT", 130)])
def test_a_signal_gives_the_terminal_back(pane, sig, code):
    pid = start(pane, f"{CDIG} top -r c.cdig --speed 0.1")  # cdig top ends itself
    subprocess.run(["kill", f"-{sig}", str(pid)], check=True)
    assert after_command(ended(pane, code)) == []  # no traceback


def test_sigkill_gives_the_terminal_back(pane, tmp_path):
    """SIGKILL wakes the terminal guard (its pipe closes) and the shell (its child
    exited) at once. The guard, real-time, usually writes first; when the shell wins,
    its "Killed" line and prompt land in the alternate screen the guard then leaves
    (tui/terminal_guard.py), so those lines are not what is asserted. What the user
    gets either way is: the modes given back, the shell's status 137, and a shell
    that answers on the main screen."""
    pid = start(pane, f"{CDIG} top -r c.cdig --speed 0.1; echo $? > status")
    subprocess.run(["kill", "-KILL", str(pid)], check=True)
    wait_modes(pane, "0 0", "the terminal given back")
    status = tmp_path / "status"
    deadline = time.monotonic() + 20
    while not (status.exists() and status.read_text().endswith("\n")):
        assert time.monotonic() < deadline, "the shell wrote no exit status"
        time.sleep(0.1)
    assert status.read_text() == "137\n"
    tmux("send-keys", "-t", pane, "echo ANSWERS", "Enter")
    text = wait_for(pane, lambda s: "\nANSWERS" in s, 20, "the shell answering")
    assert text.rstrip().splitlines()[-1] == "READY$", text
    assert "Traceback" not in text, text


def test_a_real_sigbus_gives_the_terminal_back(pane):
    start(pane, f"{sys.executable} fault.py sigbus top -r c.cdig --speed 0.1 -d 300")
    assert after_command(ended(pane, 135)) == ["Bus error"]  # it died of it


def test_an_exception_in_the_app_is_one_line(pane):
    start(pane, f"{sys.executable} fault.py raise top -r c.cdig --speed 0.1 -d 300")
    out = after_command(ended(pane, 1))
    assert len(out) == 1 and out[0].startswith("cdig: internal error in cdig top: "
                                               "RuntimeError: injected fault"), out
    assert "[red]x[/red]" in out[0]  # data, not markup


def test_a_damaged_capture_exits_3_with_one_line(pane, tmp_path):
    with open(tmp_path / "c.cdig", "r+b") as f:
        f.truncate(CAPTURE.stat().st_size // 2)
    start(pane, f"{CDIG} top -r c.cdig --speed 0")
    wait_for(pane, lambda s: "end of capture" in s, 30, "the replay's end")
    tmux("send-keys", "-t", pane, "q")
    out = after_command(ended(pane, 3))
    assert len(out) == 1 and out[0].startswith("cdig: capture truncated after "), out


def _long_capture(path: Path, seconds: int = 60, batches_per_s: int = 4) -> None:
    """A capture of ``seconds`` s of one process's getppid calls in many small
    batches, written by the real recorder: a replay's read-ahead (a few batches)
    stays far behind its end."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
    import numpy as np
    from records import T, record

    from cdig.collector.capture import CaptureRecorder, CaptureWriter, host_info
    from cdig.collector.decode import Decoder, RawBatch
    from cdig.collector.events import HOST
    from cdig.collector.session import Session
    from cdig.collector.state import State
    from cdig.probes.syscalls import layout

    per, step = 200, 10**9 // batches_per_s
    one = record("getppid", ret=1, pid=4242, comm=b"looper")
    bs = []
    for b in range(seconds * batches_per_s):
        ev = np.repeat(one, per)
        ev["ts_ns"] = 10**12 + b * step + np.arange(per) * (step // per)
        bs.append(RawBatch(ev, np.zeros(0, dtype=layout.EXT_RECORD)))

    class Src:
        def batches(self):
            return iter(bs)

        def stop(self):
            pass

        def drops(self):
            return 0

    writer = CaptureWriter(str(path), host_info(T, 0), sync=False)
    rec = CaptureRecorder(writer, T, live_container_of=lambda cg, pid: HOST, flush_rows=per)
    state = State(container_of=rec.container_of, procfs=rec.procfs)
    dec = Decoder(T, 1_700_000_000_000_000_000)
    rec.start(state, dec)
    Session(Src(), dec, state, None, [rec]).run()
    rec.close()


def test_a_capture_cut_while_replayed(pane, tmp_path):
    """The replay reads, not maps, the file: cut under it, it is damage (exit 3),
    not a SIGBUS."""
    cap = tmp_path / "c.cdig"
    _long_capture(cap)
    size = cap.stat().st_size
    start(pane, f"{CDIG} top -r c.cdig --speed 8")
    with open(cap, "r+b") as f:  # at ~30 s of the 60 s capture: far ahead of the replay
        f.truncate(size // 2)
    wait_for(pane, lambda s: "capture truncated" in s, 30, "the cut noticed")
    tmux("send-keys", "-t", pane, "q")
    text = ended(pane, 3)
    assert "Bus error" not in text
    out = after_command(text)
    assert len(out) == 1 and out[0].startswith("cdig: capture truncated after "), out
