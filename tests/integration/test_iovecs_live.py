"""Vectored I/O and addressed/connected datagram and unix sockets, live in a podman
container (issue 12), against the real sysdig reading the same events as .scap.

The client (iovecs.c, static) writes a file with writev of five iovecs (one
empty) and with writev of 3 x 50 bytes, sends three parts by UDP sendmsg to an
address (msg_name, the socket unconnected) and reads them by recvmsg into two
iovecs, connects a UDP socket and writes to it, and connects a unix stream
socket and writes to it.

* ``evt.buffer`` holds the iovecs' bytes joined, up to the snaplen (80): what
  sysdig's driver copies; cdig's -A and -b lines equal sysdig's of the .scap.
* sendmsg's msg_name names the socket: fd.name/fd.sip/fd.sport on the sendmsg.
* the UDP and unix connects name their fds in sysdig as in cdig (the .scap
  writer wrote an empty tuple for both before: sysdig named neither).

Needs root, BPF, bcc, tracefs, podman, gcc and sysdig (a failure when CI=true).
"""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import pytest

from ..cdig_cli import cdig_command
from .containers import SHELL_GATE, require
from .test_io_buffers_live import data_parts, sysdig
from .test_trace_live import assert_clean, tracer  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
PORT = 47123
SOCK = "/tmp/iov.sock"
FIELDS = ("evt.num evt.type evt.dir evt.rawres thread.tid fd.num fd.name fd.type fd.l4proto "
          "fd.sip fd.sport fd.cport evt.buffer").split()
JSON = "*" + " ".join("%" + f for f in FIELDS)
CALLS = "evt.type in (writev, sendmsg, recvmsg, connect, write)"


def _build(tmp: Path) -> Path:
    require("gcc")
    out = tmp / "iov" / "iovecs"
    out.parent.mkdir(parents=True)
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Werror", "-o", str(out),
                    str(HERE / "iovecs.c")], check=True, capture_output=True)
    return out


def test_iovecs_and_socket_names_match_sysdig(podman_container, tracer, tmp_path):  # noqa: F811
    require("root", "bpf", "bcc", "tracefs", "podman")
    binary = _build(tmp_path)
    c = podman_container(script=f"{SHELL_GATE} && exec /iov/iovecs {PORT} {SOCK} /tmp/v 2",
                         extra_args=["-v", f"{binary.parent}:/iov:ro"], gates=1)
    flt = f"container.name={c.name} and {CALLS}"
    live = tracer(flt, json_format=JSON)
    ascii_t = tracer("-A", f"{flt} and evt.type in (writev, sendmsg, recvmsg)", json=False)
    cap = tmp_path / "iov.scap"
    scap_t = tracer("-w", str(cap), f"container.name={c.name}", json=False)
    c.go()
    assert c.wait(30) == 0, c.logs()
    time.sleep(0.3)  # the last records reach the rings' reader (its watermark: 20 ms)
    r, a, s = live.stop(), ascii_t.stop(), scap_t.stop()
    assert_clean(r)
    assert a.returncode == 0 and s.returncode == 0, a.stderr + s.stderr

    # the iovecs joined, cut at the snaplen (80)
    wv = [e["evt.buffer"] for e in r.of(evt_type="writev")]
    assert wv == ["IOV-abcdefghij", "A" * 50 + "B" * 30], wv
    assert [e["evt.rawres"] for e in r.of(evt_type="writev")] == [14, 150]
    (sm,) = r.of(evt_type="sendmsg")
    (rm,) = r.of(evt_type="recvmsg")
    assert sm["evt.buffer"] == rm["evt.buffer"] == "MSG-part2-part3", (sm, rm)
    # msg_name names the unconnected socket: the peer, and the local port from /proc
    assert (sm["fd.sip"], sm["fd.sport"], sm["fd.l4proto"]) == ("127.0.0.1", PORT, "udp"), sm
    assert sm["fd.name"] == f"0.0.0.0:{sm['fd.cport']}->127.0.0.1:{PORT}" and sm["fd.cport"], sm
    # the connected UDP and unix sockets: named at connect and on the write after it
    udp, unix = r.of(evt_type="connect")
    assert udp["fd.name"] == f"127.0.0.1:{udp['fd.cport']}->127.0.0.1:{PORT}", udp
    assert unix["fd.type"] == "unix" and unix["fd.name"] == SOCK, unix
    writes = {e["fd.num"]: e for e in r.of(evt_type="write")}
    assert writes[udp["fd.num"]]["fd.name"] == udp["fd.name"]
    assert writes[unix["fd.num"]]["fd.name"] == unix["fd.name"]

    # the real sysdig, reading the same events as .scap: the same bytes and names
    sflt = "evt.dir=< and evt.type in (writev, sendmsg, recvmsg)"
    theirs_a = data_parts(sysdig("-r", str(cap), "-A", sflt))
    # sysdig's recvmsg exit has a tuple after its data (the sender, this socket): cdig
    # writes it from msg_name (cdig's own line shows it as addr=, before the data)
    assert theirs_a[3].endswith(f" tuple=127.0.0.1:{sm['fd.cport']}->127.0.0.1:{PORT}"), \
        theirs_a
    theirs_a[3] = theirs_a[3].rsplit(" tuple=", 1)[0]
    assert theirs_a == data_parts("\n".join(a.lines) + "\n")
    theirs = [ln.split(" ", 1) for ln in sysdig("-r", str(cap), "-b", "-p",
                                                "%evt.type %evt.buffer", sflt).splitlines()]
    mine = subprocess.run([*cdig_command(), "trace", "-r", str(cap), "-b", "-p",
                           "%evt.type %evt.buffer", "evt.type in (writev, sendmsg, recvmsg)"],
                          capture_output=True, text=True, timeout=60)
    assert mine.returncode == 0, mine.stderr
    assert [ln.split(" ", 1) for ln in mine.stdout.splitlines()] == theirs
    assert [base64.b64decode(b).decode() for _, b in theirs] == \
        ["IOV-abcdefghij", "A" * 50 + "B" * 30, "MSG-part2-part3", "MSG-part2-part3"]
    names = sysdig("-r", str(cap), "-p", "*%evt.type %fd.num %fd.name",
                   "evt.dir=< and evt.type in (connect, write, sendmsg)").splitlines()
    want = [f"sendmsg {sm['fd.num']} {sm['fd.name']}",
            f"connect {udp['fd.num']} {udp['fd.name']}", f"write {udp['fd.num']} {udp['fd.name']}",
            # sysdig names a unix socket "SRC->DST PATH" by its kernel addresses, which
            # cdig does not know: 0 for both
            f"connect {unix['fd.num']} 0->0 {unix['fd.name']}",
            f"write {unix['fd.num']} 0->0 {unix['fd.name']}"]
    assert [ln.rstrip() for ln in names if not ln.startswith("write 1 ")] == want, names
