"""I/O data live: what a podman container writes is in cdig's evt.buffer, and cdig's
-A/-X renderings of it are the real sysdig's, read from the same events written as .scap.

Needs root, BPF, bcc, tracefs, podman and sysdig (a failure, not a skip, when CI=true).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest

from ..cdig_cli import cdig_command
from .containers import SHELL_GATE, require
from .test_trace_live import tracer  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

N = 6
# tabs, CR LF, an escape sequence and a backslash: bytes every rendering must keep safe
SCRIPT = (f"{SHELL_GATE}; i=0; while [ $i -lt {N} ]; do "
          r"printf 'MARK-%s\tGET /index.html HTTP/1.1\r\n\033[2J\\x end\n' $i >> /tmp/data; "
          "i=$((i+1)); done")
# an event's first line: "NUM HH:MM:SS.NNNNNNNNN CPU ..."
HEAD = re.compile(r"^\d+ \d\d:\d\d:\d\d\.\d{9} ", re.M)


@pytest.fixture(autouse=True)
def _caps():
    require("root", "bpf", "bcc", "tracefs", "podman")


def data_parts(out: str) -> list[str]:
    """The data= text of each event of a text output (multi-line with -A/-x/-X),
    trailing blanks of each line dropped (sysdig ends its lines with a space)."""
    starts = [m.start() for m in HEAD.finditer(out)] + [len(out)]
    parts = []
    for a, b in zip(starts, starts[1:], strict=False):
        ev = out[a:b]
        assert " data=" in ev, ev
        data = ev.split(" data=", 1)[1]
        parts.append("\n".join(ln.rstrip(" ") for ln in data.rstrip().split("\n")))
    return parts


def sysdig(*args: str) -> str:
    exe = shutil.which("sysdig")
    assert exe, "sysdig is not installed (scripts/setup.sh installs it)"
    r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_buffer_contains_and_renderings_match_sysdig(podman_container, tracer,  # noqa: F811
                                                     tmp_path):
    c = podman_container(script=SCRIPT, gates=1)
    flt = f"container.name={c.name} and evt.type=write and evt.buffer contains MARK-"
    ascii_t = tracer("-A", flt, json=False)
    hex_t = tracer("-X", flt, json=False)
    cap = tmp_path / "io.scap"
    scap_t = tracer("-w", str(cap), f"container.name={c.name}", json=False)
    c.go()
    assert c.wait(30) == 0
    time.sleep(0.3)  # the last records reach the rings' reader (its watermark: 20 ms)
    a = ascii_t.stop()
    x = hex_t.stop()
    s = scap_t.stop()
    assert a.returncode == 0 and x.returncode == 0 and s.returncode == 0, a.stderr + s.stderr
    assert a.dropped == 0 and x.dropped == 0, a.stderr

    live_a = data_parts("\n".join(a.lines) + "\n")
    live_x = data_parts("\n".join(x.lines) + "\n")
    assert len(live_a) == N, a.lines
    # -A keeps printable bytes and newlines: the escape's ESC is dropped, never printed
    assert live_a[0] == "\nMARK-0GET /index.html HTTP/1.1\n[2J\\x end"
    assert all("\x1b" not in ln for ln in a.lines + x.lines)

    sflt = "evt.type=write and evt.dir=< and evt.buffer contains MARK-"
    assert data_parts(sysdig("-r", str(cap), "-A", sflt)) == live_a
    assert data_parts(sysdig("-r", str(cap), "-X", sflt)) == live_x
    # cdig reading the .scap: the same bytes as sysdig (base64 shows them exactly)
    r = subprocess.run([*cdig_command(), "trace", "-r", str(cap), "-b", "-p",
                        "%evt.buffer", "evt.type=write and evt.buffer contains MARK-"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == sysdig("-r", str(cap), "-b", "-p", "%evt.buffer",
                                           sflt).splitlines()
