"""The exporter's web side under an adversary (issue 11, items 6 and 7): strict
web config, headers, gzip negotiation, HTTP/0.9, connection and bcrypt caps.

Real sockets on 127.0.0.1 against a real MetricsServer; no root needed.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import bcrypt
import pytest

from cdig.exporters import basic_auth, listen, web, web_config

HASH = "$2b$04$EIHNonp4R1dQvCW1r8S2HO2yLC2rsSL0oMbLo1.2U.CljUCvXNx7u"  # "secret"


def basic(user: str, password: str | bytes) -> str:
    pw = password if isinstance(password, bytes) else password.encode()
    return "Basic " + base64.b64encode(user.encode() + b":" + pw).decode()


# --------------------------------------------------------------------------- web config


@pytest.mark.parametrize("text,needle", [
    # the audit's case: a second, empty basic_auth_users removed every user
    (f"basic_auth_users:\n  prom: '{HASH}'\nbasic_auth_users:\n", "'basic_auth_users' given twice"),
    (f"basic_auth_users:\n  prom: '{HASH}'\n  prom: '{HASH}'\n", "'prom' given twice"),
    ("http_server_config: {http2: true, http2: false}\n", "'http2' given twice"),
])
def test_duplicate_keys_are_errors(text, needle):
    with pytest.raises(web_config.WebConfigError) as e:
        web_config.parse_web_config(text)
    assert needle in str(e.value) and "line" in str(e.value) and "\n" not in str(e.value)


def test_merge_keys_still_work():
    cfg = web_config.parse_web_config(f"basic_auth_users:\n  <<: {{prom: '{HASH}'}}\n"
                               f"  other: '{HASH}'\n")
    assert set(cfg.users) == {"prom", "other"}


def test_config_over_the_limit_is_refused_not_cut(tmp_path):
    # users after a megabyte of comments: read as a prefix, the file had none
    f = tmp_path / "web.yml"
    f.write_text("# padding\n" * 120_000 + f"basic_auth_users:\n  prom: '{HASH}'\n")
    assert f.stat().st_size > web_config.WEB_CONFIG_MAX_BYTES
    with pytest.raises(web_config.WebConfigError, match=r"bytes, over the limit of 1048576 bytes"):
        web_config.load_web_config(str(f))


def test_config_just_under_the_limit_is_read_whole(tmp_path):
    f = tmp_path / "web.yml"
    body = f"basic_auth_users:\n  prom: '{HASH}'\n"
    f.write_text("#" * (web_config.WEB_CONFIG_MAX_BYTES - len(body) - 1) + "\n" + body)
    assert f.stat().st_size == web_config.WEB_CONFIG_MAX_BYTES
    assert set(web_config.load_web_config(str(f)).users) == {"prom"}


def test_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "web.yml"
    os.mkfifo(fifo)
    code = ("import sys; from cdig.exporters import web_config\n"
            "try: web_config.load_web_config(sys.argv[1])\n"
            "except web_config.WebConfigError as e: print(e)\n")
    r = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True,
                       timeout=30)  # it hung in open() before
    assert r.stdout == f"cannot read {fifo}: not a regular file\n", r.stderr


@pytest.mark.parametrize("headers,needle", [
    ("{Content-Type: text/html}", "'Content-Type' cannot be configured"),
    ("{Set-Cookie: a=b}", "'Set-Cookie' cannot be configured"),
    ("{X-Frame-Options: allowall}", "'allowall' is not one of deny, sameorigin"),
    ("{X-Content-Type-Options: sniff}", "is not one of nosniff"),
])
def test_only_exporter_toolkits_headers(headers, needle):
    with pytest.raises(web_config.WebConfigError, match=needle):
        web_config.parse_web_config(f"http_server_config: {{headers: {headers}}}\n")


def test_allowed_headers_pass():
    cfg = web_config.parse_web_config(
        "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n"
        "    Strict-Transport-Security: max-age=31536000\n"
        "    Content-Security-Policy: \"default-src 'self'\"\n")
    assert cfg.headers["X-Frame-Options"] == "sameorigin" and len(cfg.headers) == 3


# --------------------------------------------------------------------------- basic auth


def test_passwords_over_72_bytes_as_htpasswd():
    # htpasswd and Go's bcrypt (exporter-toolkit) use the first 72 bytes
    long = b"p" * 72
    h = bcrypt.hashpw(long, bcrypt.gensalt(rounds=4))
    auth = basic_auth.BasicAuth({"prom": h})
    assert auth.check(basic("prom", long + b"anything after byte 72"))
    assert auth.check(basic("prom", long))
    assert not auth.check(basic("prom", b"q" + long[1:] + b"x" * 10))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_failed_checks_draw_on_a_bounded_budget():
    clock = Clock()
    auth = basic_auth.BasicAuth({"prom": HASH.encode()}, failures_per_s=2, burst=3, clock=clock)
    assert auth.verify(basic("prom", "secret")) == 200  # cached from now on
    assert [auth.verify(basic("prom", f"wrong{i}")) for i in range(5)] == [401] * 3 + [429] * 2
    assert auth.bcrypt_checks == 4  # one success, three failures; none for the 429s
    assert auth.verify(basic("prom", "secret")) == 200  # the cache needs no bcrypt
    assert auth.verify(basic("ghost", "secret")) == 429
    clock.t += 1.0  # two tokens back
    assert [auth.verify(basic("x", "y")) for _ in range(3)] == [401, 401, 429]
    assert auth.bcrypt_checks == 6 and auth.throttled == 4


# --------------------------------------------------------------------------- the server


def start_server(max_connections: int) -> web.MetricsServer:
    """A real MetricsServer on 127.0.0.1 with basic auth."""
    body = b"m 1\n" * 500
    srv = web.MetricsServer(listen.ListenAddress("127.0.0.1", 0), max_connections=max_connections)
    cfg = web_config.WebConfig(users={"prom": HASH.encode()})
    srv.start(web.make_app(web.exposition_app(lambda: body), cfg))
    return srv


@pytest.fixture
def server():
    """With a cap of 4 connections."""
    srv = start_server(4)
    yield srv
    srv.stop()


@pytest.fixture
def roomy_server():
    srv = start_server(64)
    yield srv
    srv.stop()


def get(srv, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(srv.url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.mark.parametrize("accept,gz", [
    ("gzip", True), ("gzip, deflate", True), ("GZIP;q=0.5", True), ("x-gzip", True),
    ("gzip;q=0", False), ("gzip; q=0.000", False), ("*;q=0", False), ("*", True),
    ("identity", False), ("deflate, gzip;q=0, *;q=1", False), ("notgzip", False),
    ("gzip;q=nan", False), ("", False),
])
def test_accept_encoding_q_values(server, accept, gz):
    status, headers, body = get(server, {"Accept-Encoding": accept,
                                         "Authorization": basic("prom", "secret")})
    assert status == 200
    assert (headers.get("Content-Encoding") == "gzip") is gz
    assert (body[:2] == b"\x1f\x8b") is gz


def raw(srv, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_http09_is_refused_with_a_status_line(server):
    reply = raw(server, b"GET /metrics\r\n")
    assert reply.startswith(b"HTTP/1.0 400 ") and b"HTTP/0.9" in reply
    assert b"m 1" not in reply and b"Unauthorized" not in reply


def test_429_when_wrong_passwords_flood(server):
    codes = [get(server, {"Authorization": basic("prom", f"bad{i}")})[0] for i in range(20)]
    assert codes[:basic_auth.AUTH_FAILURE_BURST] == [401] * basic_auth.AUTH_FAILURE_BURST
    assert 429 in codes[basic_auth.AUTH_FAILURE_BURST:]


def wait_for(cond, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_connection_cap(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(4)]
    try:
        wait_for(lambda: server.open_connections == 4, "4 open connections")
        extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        assert extra.recv(10) == b""  # closed by the server at accept
        extra.close()
        wait_for(lambda: server.rejected >= 1, "the rejection to be counted")
        idle.pop().close()  # a slot is free again
        wait_for(lambda: server.open_connections == 3, "the slot to be released")
        assert get(server, {"Authorization": basic("prom", "secret")})[0] == 200
    finally:
        for s in idle:
            s.close()


def test_bcrypt_work_is_bounded_under_a_parallel_flood(roomy_server):
    """Eight threads send wrong passwords for 1.5 s: bcrypt runs at most burst +
    rate x elapsed times (the rest get 429), and a cached scrape still passes."""
    assert get(roomy_server, {"Authorization": basic("prom", "secret")})[0] == 200
    stop = time.monotonic() + 1.5
    codes: list[int] = []

    def flood() -> None:
        while time.monotonic() < stop:
            wrong = basic("prom", os.urandom(4).hex())
            codes.append(get(roomy_server, {"Authorization": wrong})[0])

    t0 = time.monotonic()
    threads = [threading.Thread(target=flood) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    failures = codes.count(401)
    assert failures <= basic_auth.AUTH_FAILURE_BURST + basic_auth.AUTH_FAILURES_PER_S * elapsed + 1
    assert codes.count(429) > failures  # most of the flood never reached bcrypt
    assert get(roomy_server, {"Authorization": basic("prom", "secret")})[0] == 200


def test_cli_refuses_tls_config_whose_users_were_lost(tmp_path, capsys):
    """The audit's case end to end: TLS + a second, empty basic_auth_users + a
    non-loopback --listen was accepted without --insecure, serving without auth."""
    from cdig.cli import main

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)
    cfg = tmp_path / "web.yml"
    cfg.write_text(f"tls_server_config: {{cert_file: c.pem, key_file: k.pem}}\n"
                   f"basic_auth_users:\n  prom: '{HASH}'\nbasic_auth_users:\n")
    assert main(["exporter", "--listen", "0.0.0.0:0", "--web-config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'basic_auth_users' given twice" in err, err
