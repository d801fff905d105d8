"""A curl-like non-blocking connect in a real podman container is named with its
tuple on every later event (issue 12, defect 1).

The client (nbconnect.c, static) connects twice with SOCK_NONBLOCK to this test's
listener on 127.0.0.1 (the container shares the host's network namespace): both
connect() calls return EINPROGRESS. The first handshake ends inside connect, so
the probe's record carries the local port; the listener's backlog is 0, so the
second SYN is dropped and that connect returns before the kernel's SYN_SENT ->
ESTABLISHED transition: its record has the local address without the port, which
cdig reads from the socket's /proc/PID/net/tcp line. Every later event on either
socket (getsockopt, write, read, close) has fd.name/fd.sip/fd.sport, and
``cdig summary --by conn`` of the same run has one row per connection.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ..cdig_cli import cdig_command
from .containers import SHELL_GATE, require
from .test_trace_live import assert_clean, tracer  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
SYN_SENT = "02"


def _build(tmp: Path) -> Path:
    require("gcc")
    out = tmp / "nb" / "nbconnect"
    out.parent.mkdir(parents=True)
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Werror", "-o", str(out),
                    str(HERE / "nbconnect.c")], check=True, capture_output=True)
    return out


def _syn_sent_to(port: int) -> bool:
    """A socket of this network namespace in SYN_SENT towards 127.0.0.1:port."""
    want = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[2] == want and parts[3] == SYN_SENT:
            return True
    return False


def test_nonblocking_connects_are_named_on_every_later_event(podman_container, tracer,  # noqa: F811
                                                             tmp_path):
    require("podman")
    binary = _build(tmp_path)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)  # one handshake queued; the second SYN is dropped until it is accepted
    srv.settimeout(30)
    port = srv.getsockname()[1]
    peers: list[int] = []
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            deadline = time.monotonic() + 30
            while not _syn_sent_to(port):  # the second connect has returned EINPROGRESS
                assert time.monotonic() < deadline, "no connect in SYN_SENT"
                time.sleep(0.01)
            for _ in range(2):
                conn, addr = srv.accept()
                with conn:
                    conn.settimeout(20)
                    assert conn.recv(4) == b"ping"
                    conn.sendall(b"pong")
                peers.append(addr[1])
        except BaseException as e:  # reported by the test
            errors.append(e)

    c = podman_container(script=f"{SHELL_GATE} && exec /nb/nbconnect {port}", network="host",
                         extra_args=["-v", f"{binary.parent}:/nb:ro"], gates=1)
    capture = tmp_path / "nb.cdig"
    t = tracer(f"proc.pid={c.pid}", "-w", str(capture))
    server = threading.Thread(target=serve)
    server.start()
    try:
        c.go()
        assert c.wait(40) == 0, c.logs()
        server.join(40)
    finally:
        srv.close()
    r = t.stop()
    assert not errors, errors
    assert_clean(r)
    assert len(peers) == 2

    connects = r.of(evt_type="connect")
    assert [(e["evt.res"], e["evt.rawres"]) for e in connects] == [("EINPROGRESS", -115)] * 2
    names = {}
    for e in connects:
        assert (e["fd.type"], e["fd.l4proto"]) == ("ipv4", "tcp"), e
        assert (e["fd.sip"], e["fd.sport"], e["fd.cip"]) == ("127.0.0.1", port, "127.0.0.1"), e
        assert (e["fd.lport"], e["fd.rport"]) == (e["fd.cport"], port), e
        names[e["fd.num"]] = f"127.0.0.1:{e['fd.cport']}->127.0.0.1:{port}"
        assert e["fd.name"] == names[e["fd.num"]], e
    # the ports the kernel chose are the ones the listener saw
    assert sorted(e["fd.cport"] for e in connects) == sorted(peers)
    # the second connect's SYN was dropped (backlog full): its record has the address
    # without the port, which came from /proc/PID/net/tcp. The first one's handshake
    # mostly completes inside connect (loopback's softirq runs as connect sends the SYN)
    # and its record then carries the port; on a loaded host the softirq can run later
    # (ksoftirqd), after connect's exit, and it is the /proc case too: both are right
    a, b = connects
    assert (f"local=127.0.0.1:{a['fd.cport']} " in a["evt.info"]
            or "local=127.0.0.1:0 " in a["evt.info"]), a
    assert "local=127.0.0.1:0 " in b["evt.info"] and b["fd.cport"] > 0, b

    later = [e for e in r.events if e["evt.num"] > connects[0]["evt.num"]
             and e["fd.num"] in names and e["evt.type"] in ("getsockopt", "write", "read",
                                                             "close", "fcntl")]
    kinds = {(e["fd.num"], e["evt.type"]) for e in later}
    for fd in names:
        assert {(fd, k) for k in ("getsockopt", "write", "read", "close")} <= kinds, kinds
    for e in later:
        assert e["fd.name"] == names[e["fd.num"]], e
        assert (e["fd.sip"], e["fd.sport"]) == ("127.0.0.1", port), e
    by_port = r.of(evt_type="write")
    assert len([e for e in by_port if e["fd.sport"] == port]) == 2

    out = subprocess.run([*cdig_command(), "summary", "-r", str(capture),
                          "--by", "conn", "-j", "--top", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (report,) = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    rows = report["rows"]
    # one row per connection, each with its own tuple, with its request and response
    assert sorted(row["fd.name"] for row in rows) == sorted(names.values()), rows
    for row in rows:
        assert (row["fd.l4proto"], row["in"], row["out"]) == ("tcp", 4, 4), row
