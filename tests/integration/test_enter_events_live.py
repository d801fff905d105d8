"""Enter events live: a read blocked on a pipe in a podman container is seen as its
enter event ('>') while it blocks, with the filter evt.dir=> alone turning them on.

Needs root, BPF, bcc, tracefs and podman (a failure, not a skip, when CI=true).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .containers import SHELL_GATE, require
from .test_trace_live import tracer  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _caps():
    require("root", "bpf", "bcc", "tracefs", "podman")


def blocked_in_read(c) -> int | None:
    """The pid of the container's cat while it sits in read(0, …) (syscall 0), else None."""
    for pid in c.pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "cat":
                continue
            if Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]:
                return pid
        except OSError:
            continue
    return None


def test_read_blocked_on_a_pipe_shows_as_enter_event(podman_container, tracer):  # noqa: F811
    c = podman_container(script=SHELL_GATE + "; sleep 600 | cat", gates=1)
    t = tracer(f"container.name={c.name} and evt.type=read and evt.dir=> and proc.name=cat",
               json_format="%evt.dir %evt.type %proc.pid %evt.arg.fd %evt.arg.size")
    c.go()
    deadline = time.monotonic() + 30
    seen: list[dict] = []
    pid = None
    while time.monotonic() < deadline and not seen:
        pid = blocked_in_read(c)
        if pid is not None:
            text = t.out_path.read_text()
            seen = [json.loads(ln) for ln in text.splitlines()
                    if json.loads(ln).get("proc.pid") == pid]
        time.sleep(0.05)
    assert seen, f"no enter event of the blocked read:\n{t.stderr()}"
    # shown while it blocks: the read has not returned
    assert blocked_in_read(c) == pid
    assert seen[-1] == {"evt.dir": ">", "evt.type": "read", "proc.pid": pid,
                        "evt.arg.fd": 0, "evt.arg.size": seen[-1]["evt.arg.size"]}
    r = t.stop()
    assert r.returncode == 0 and r.dropped == 0, r.stderr
    assert all(e["evt.dir"] == ">" for e in r.events)
