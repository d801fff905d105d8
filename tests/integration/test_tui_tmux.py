"""cdig top in a real terminal (tmux), live as root, on a real podman container.

A named container runs cdigwork in a loop; the test types into a tmux pane like a
person would and reads the screen with ``capture-pane``: the container is in the
Containers view, Enter on it lists its processes, the filter proc.name=cdigwork
narrows to the workload, ``q`` gives the shell back with the alternate screen off.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .containers import CONTAINER_WORKLOAD, WORKLOAD_NAME, require, unique_name

pytestmark = pytest.mark.integration

CDIG = Path(sys.executable).parent / "cdig"
W, H = 140, 40


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True,
                          timeout=10).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_for(session: str, pred, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(session)
        if pred(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")


def table_rows(text: str, first_col: str) -> list[str]:
    """The data lines of the table whose header starts with ``first_col``."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith(first_col))
    out = []
    for ln in lines[start + 1:]:
        if not ln.strip() or "Drill" in ln or "Help" in ln:
            break
        out.append(ln)
    return out


@pytest.fixture
def session():
    require("root", "bpf", "bcc", "tracefs", "tmux")
    name = f"cdigtop{int(time.time() * 1000) % 10**8}"
    tmux("new-session", "-d", "-s", name, "-x", str(W), "-y", str(H),
         "env", "PS1=READY$ ", "TERM=xterm-256color", "bash", "--norc", "--noprofile")
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_top_live_in_tmux(session, podman_container):
    script = (f"while :; do {CONTAINER_WORKLOAD} getppid 500 sleep 50; done")
    c = podman_container(script=script, name=unique_name())  # short: fits the column
    t0 = time.monotonic()
    tmux("send-keys", "-t", session,
         f"{CDIG} top --view containers -d 0.5; echo CDIG_EXIT=$?", "Enter")
    text = wait_for(session, lambda s: c.name in s and "CONTAINER" in s, 40,
                    f"container {c.name} in the Containers view")
    assert "cdig top live" in text and "dropped" in text
    # sort by name (two columns back from SC/S) so rows keep still, then go to it
    tmux("send-keys", "-t", session, "S", "S")
    text = wait_for(session, lambda s: "CONTAINER ▲" in s, 10, "sorted by name")
    rows = table_rows(text, "CONTAINER")
    idx = next(i for i, r in enumerate(rows) if r.split()[0] == c.name)
    # the cursor follows its row when the sort reorders rows: go to the top
    # first (Up at row 0 stays), then down to the container
    tmux("send-keys", "-t", session, *["Up"] * (len(rows) + 1))
    for _ in range(idx):
        tmux("send-keys", "-t", session, "Down")
    tmux("send-keys", "-t", session, "Enter")
    # wait for the table rows themselves (not the screen: the workload's name is
    # also in sh's COMMAND before its own row is listed)
    text = wait_for(session, lambda s: f"Containers › {c.name} › Processes" in s and
                    WORKLOAD_NAME in _names(s), 15, "the workload among the container's "
                    "processes")
    names = _names(text)
    assert WORKLOAD_NAME in names and names <= {WORKLOAD_NAME, "sh", "conmon", "catatonit"}
    # the filter narrows to the workload
    tmux("send-keys", "-t", session, "/")
    wait_for(session, lambda s: "Enter: apply" in s, 10, "the filter bar")
    tmux("send-keys", "-t", session, "-l", f"proc.name={WORKLOAD_NAME}")
    tmux("send-keys", "-t", session, "Enter")
    # only the workload, for two refreshes in a row (0.5 s apart): the filter holds
    text = wait_for(session, lambda s: f"filter: proc.name={WORKLOAD_NAME}" in s and
                    _names(s) == {WORKLOAD_NAME}, 15, "only the workload listed")
    text = wait_for(session, lambda s: _names(s) == {WORKLOAD_NAME} and s != text, 15,
                    "the next refresh, still only the workload")
    assert _names(text) == {WORKLOAD_NAME}, text
    # q: the shell is back, the terminal restored
    tmux("send-keys", "-t", session, "q")
    text = wait_for(session, lambda s: "CDIG_EXIT=0" in s, 15, "cdig top to exit")
    assert tmux("display-message", "-p", "-t", session, "#{alternate_on}").strip() == "0"
    assert re.search(r"READY\$ *$", text.rstrip("\n").splitlines()[-1])
    assert time.monotonic() - t0 < 60


def _names(s: str) -> set[str]:
    """The NAME column of the Processes table on screen (empty: no table yet)."""
    try:
        return {r.split()[1] for r in table_rows(s, "PID") if len(r.split()) > 1}
    except StopIteration:
        return set()
