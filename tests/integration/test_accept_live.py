"""The sockets a Python-thread server accepts are named with both ends (issue 12).

The server binds 127.0.0.1 port 0 (the kernel picks the port, as a test server
does) and accepts in a thread of its own, each connection served by another
thread; its main thread is the client. The bind's record says port 0: cdig reads
the port the kernel picked from the socket's /proc line, so the accepted sockets
were named ``PEER->127.0.0.1:0`` before; now every event on them has the tuple
``127.0.0.1:C->127.0.0.1:PORT`` with the port the server printed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .containers import require
from .test_trace_live import assert_clean, tracer  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

N = 3
SERVER = textwrap.dedent(f"""
    import socket, sys, threading
    sys.stdin.readline()  # the gate: the tracer is running
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]

    def handle(c):
        with c:
            c.sendall(c.recv(16).upper())

    def serve():
        for _ in range({N}):
            c, _ = srv.accept()
            threading.Thread(target=handle, args=(c,)).start()

    t = threading.Thread(target=serve)
    t.start()
    ports = []
    for i in range({N}):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"ping%d" % i)
            assert s.recv(16) == b"PING%d" % i
            ports.append(s.getsockname()[1])
    t.join()
    print(port, *ports, flush=True)
    sys.stdin.readline()  # alive until the tracer has read every record
""")


def test_thread_server_accepts_are_named_with_the_bound_port(tracer):  # noqa: F811
    require("root", "bpf", "bcc", "tracefs")
    srv = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        t = tracer(f"proc.pid={srv.pid}")
        assert srv.stdin is not None and srv.stdout is not None
        srv.stdin.write("go\n")
        srv.stdin.flush()
        port, *clients = (int(x) for x in srv.stdout.readline().split())
        r = t.stop()
    finally:
        srv.communicate("done\n", timeout=30)
    assert srv.returncode == 0
    assert_clean(r)
    assert len(clients) == N and port > 0

    (bind,) = r.of(evt_type="bind")
    assert bind["fd.name"] == f"127.0.0.1:{port}", bind
    accepts = r.of(evt_type="accept4")
    assert len(accepts) == N
    assert {a["thread.tid"] for a in accepts} != {srv.pid}  # the accepting thread
    # the client ports the server's peers had (fd numbers are reused: one at a time)
    assert sorted(a["fd.cport"] for a in accepts) == sorted(clients)
    names = {f"127.0.0.1:{c}->127.0.0.1:{port}" for c in clients}
    for a in accepts:
        assert a["fd.name"] == f"127.0.0.1:{a['fd.cport']}->127.0.0.1:{port}", a
        assert (a["fd.sip"], a["fd.sport"], a["fd.l4proto"]) == ("127.0.0.1", port, "tcp"), a
    # the serving threads' reads and writes on the accepted sockets: the same tuple
    served = [e for e in r.events if e["evt.type"] in ("recvfrom", "sendto")
              and e["thread.tid"] not in (srv.pid, accepts[0]["thread.tid"])]
    assert len(served) >= 2 * N, served
    for e in served:
        assert e["fd.sport"] == port and e["fd.name"].endswith(f"->127.0.0.1:{port}"), e
        assert e["fd.name"] in names, e
