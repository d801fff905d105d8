"""Serving the metrics: TLS and basic auth configured like every Prometheus exporter.

``--web-config FILE`` takes the exporter-toolkit format (the YAML file that
node_exporter's ``--web.config.file`` reads)::

    tls_server_config:
      cert_file: server.crt          # relative paths: from the file's directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional, with client_ca_file
      client_ca_file: ca.crt
      min_version: TLS12             # TLS10..TLS13 (default TLS12)
      max_version: TLS13
    http_server_config:
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hashes (htpasswd -nBC 10 "" | tr -d ':')

Keys this implementation cannot honour (cipher_suites, curve_preferences...)
are errors, not silently ignored: a security setting that does nothing is
worse than a refusal. ``parse_web_config`` raises ``WebConfigError`` with one
line naming the key.

``MetricsServer`` binds at construction (so a port in use is reported before
the BPF program is loaded) and serves a WSGI app from a thread per connection;
TLS handshakes run in those threads with a timeout, so a slow client cannot
stall the server.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import ipaddress
import os
import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import bcrypt

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# exporter-toolkit keys cdig knows but cannot honour with Python's ssl module
_UNSUPPORTED = {
    "tls_server_config": {
        "cipher_suites": "Python's ssl module chooses the TLS 1.3 suites itself",
        "curve_preferences": "not settable through Python's ssl module",
        "prefer_server_cipher_suites": "not settable through Python's ssl module",
        "client_allowed_sans": "not supported by cdig",
        "cert": "inline certificates are not supported by cdig (use cert_file)",
        "key": "inline keys are not supported by cdig (use key_file)",
        "client_ca": "inline CAs are not supported by cdig (use client_ca_file)",
    },
    "http_server_config": {},
}
_KNOWN = {
    "tls_server_config": {"cert_file", "key_file", "client_auth_type", "client_ca_file",
                          "min_version", "max_version"},
    "http_server_config": {"headers", "http2"},
}
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds
REQUEST_TIMEOUT = 30.0  # seconds a connection may idle


class WebConfigError(ValueError):
    """A web config that cannot be used; the message is one line."""


@dataclass
class WebConfig:
    """A parsed ``--web-config`` file."""

    cert_file: str | None = None
    key_file: str | None = None
    client_auth: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    users: dict[str, bytes] = field(default_factory=dict)  # name -> bcrypt hash

    @property
    def tls(self) -> bool:
        return self.cert_file is not None

    @property
    def auth(self) -> bool:
        return bool(self.users)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context, or None without TLS. Raises WebConfigError."""
        if not self.tls:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version:
            ctx.maximum_version = _TLS_VERSIONS[self.max_version]
        try:
            ctx.load_cert_chain(self.cert_file, self.key_file)  # type: ignore[arg-type]
        except (OSError, ssl.SSLError) as e:
            raise WebConfigError(
                f"cannot load cert_file {self.cert_file} / key_file {self.key_file}: "
                f"{_reason(e)}") from None
        ctx.verify_mode = _CLIENT_AUTH[self.client_auth]
        if self.client_ca_file:
            try:
                ctx.load_verify_locations(cafile=self.client_ca_file)
            except (OSError, ssl.SSLError) as e:
                raise WebConfigError(
                    f"cannot load client_ca_file {self.client_ca_file}: {_reason(e)}") from None
        return ctx


def _reason(e: BaseException) -> str:
    if isinstance(e, ssl.SSLError):
        return e.reason or str(e).splitlines()[0]
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise WebConfigError(f"{where}: expected a non-empty string")
    return value


def _check_keys(section: str, d: dict[str, Any]) -> None:
    for k in d:
        if k in _UNSUPPORTED.get(section, {}):
            raise WebConfigError(f"{section}.{k}: {_UNSUPPORTED[section][k]}")
        if k not in _KNOWN[section]:
            raise WebConfigError(f"{section}: unknown key {k!r}")


def parse_web_config(text: str, base_dir: str = ".") -> WebConfig:
    """Parse and check the text of a web config file. Raises WebConfigError."""
    import yaml  # noqa: PLC0415 - only needed with --web-config

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise WebConfigError(f"not valid YAML{where}: {problem}") from None
    doc = _mapping(doc, "top level")
    for k in doc:
        if k not in ("tls_server_config", "http_server_config", "basic_auth_users"):
            raise WebConfigError(f"unknown key {k!r} (expected tls_server_config, "
                                 "http_server_config, basic_auth_users)")
    cfg = WebConfig()

    def path(value: Any, where: str) -> str:
        p = os.path.join(base_dir, os.path.expanduser(_str(value, where)))
        if not os.path.isfile(p):
            raise WebConfigError(f"{where}: no such file: {p}")
        return p

    tls = _mapping(doc.get("tls_server_config"), "tls_server_config")
    if tls:
        _check_keys("tls_server_config", tls)
        if "cert_file" not in tls or "key_file" not in tls:
            raise WebConfigError("tls_server_config: cert_file and key_file are both required")
        cfg.cert_file = path(tls["cert_file"], "tls_server_config.cert_file")
        cfg.key_file = path(tls["key_file"], "tls_server_config.key_file")
        if "client_auth_type" in tls:
            cat = _str(tls["client_auth_type"], "tls_server_config.client_auth_type")
            if cat not in _CLIENT_AUTH:
                if cat in ("RequestClientCert", "RequireAnyClientCert"):
                    raise WebConfigError(
                        f"tls_server_config.client_auth_type: {cat} (accepting unverified "
                        "client certificates) is not supported by cdig")
                raise WebConfigError(
                    f"tls_server_config.client_auth_type: unknown value {cat!r} "
                    f"(expected one of {', '.join(_CLIENT_AUTH)})")
            cfg.client_auth = cat
        if "client_ca_file" in tls:
            cfg.client_ca_file = path(tls["client_ca_file"], "tls_server_config.client_ca_file")
        if cfg.client_auth != "NoClientCert" and not cfg.client_ca_file:
            raise WebConfigError(
                f"tls_server_config: client_auth_type {cfg.client_auth} needs client_ca_file")
        for key in ("min_version", "max_version"):
            if key in tls:
                v = _str(tls[key], f"tls_server_config.{key}")
                if v not in _TLS_VERSIONS:
                    raise WebConfigError(f"tls_server_config.{key}: unknown version {v!r} "
                                         f"(expected one of {', '.join(_TLS_VERSIONS)})")
                setattr(cfg, key, v)
        if cfg.max_version and _TLS_VERSIONS[cfg.max_version] < _TLS_VERSIONS[cfg.min_version]:
            raise WebConfigError("tls_server_config: max_version is below min_version")

    http = _mapping(doc.get("http_server_config"), "http_server_config")
    if http:
        _check_keys("http_server_config", http)
        headers = _mapping(http.get("headers"), "http_server_config.headers")
        for k, v in headers.items():
            if not isinstance(k, str) or not _HEADER_NAME.match(k):
                raise WebConfigError(f"http_server_config.headers: bad header name {k!r}")
            if not isinstance(v, str) or "\n" in v or "\r" in v:
                raise WebConfigError(f"http_server_config.headers.{k}: expected a one-line "
                                     "string")
            cfg.headers[k] = v
        # http2: accepted for compatibility; this server speaks HTTP/1.1

    users = _mapping(doc.get("basic_auth_users"), "basic_auth_users")
    for name, h in users.items():
        if not isinstance(name, str) or not name or ":" in name:
            raise WebConfigError(f"basic_auth_users: bad user name {name!r}")
        if not isinstance(h, str) or not _BCRYPT.match(h):
            raise WebConfigError(f"basic_auth_users.{name}: not a bcrypt hash "
                                 "(expected $2y$/$2b$/$2a$, e.g. from htpasswd -nBC 10)")
        cfg.users[name] = h.encode()
    cfg.ssl_context()  # certificates and keys load, or a WebConfigError now
    return cfg


def load_web_config(path: str) -> WebConfig:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except OSError as e:
        raise WebConfigError(f"cannot read {path}: {e.strerror or e}") from None
    return parse_web_config(text, os.path.dirname(os.path.abspath(path)))


# -- addresses ------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenAddress:
    host: str  # "" = every address
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT``. Raises ValueError."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.%\w]+)\]:(\d+)|([^:\[\]]*):(\d+)", text.strip())
    if not m:
        raise ValueError("expected HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, :9464)")
    host = m.group(1) if m.group(1) is not None else m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return ListenAddress(host, port)


def resolve(addr: ListenAddress) -> list[tuple[int, str]]:
    """(family, address) pairs ``addr.host`` means. Raises OSError."""
    infos = socket.getaddrinfo(addr.host or None, addr.port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    return [(fam, sa[0]) for fam, _, _, _, sa in infos]


def is_loopback(addr: ListenAddress) -> bool:
    """Whether every address ``addr.host`` resolves to is a loopback address."""
    if not addr.host:
        return False
    try:
        ips = [ip for _, ip in resolve(addr)]
    except OSError:
        return False
    try:
        return bool(ips) and all(ipaddress.ip_address(ip.split("%")[0]).is_loopback
                                 for ip in ips)
    except ValueError:
        return False


# -- the WSGI app -----------------------------------------------------------------------

_LANDING = b"""<!doctype html><html><head><title>cdig exporter</title></head>
<body><h1>cdig exporter</h1><p><a href="/metrics">Metrics</a></p></body></html>
"""

class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes.

    bcrypt is slow on purpose (tens of ms at cost 10); a successful check is
    remembered by a keyed digest of the credentials so that a scrape every few
    seconds does not pay it each time. Unknown users cost a bcrypt check too,
    so timing does not tell which users exist.
    """

    def __init__(self, users: dict[str, bytes], cache_max: int = 256) -> None:
        self.users = users
        cost = min((int(h[4:6]) for h in users.values()), default=10)
        self._dummy = bcrypt.hashpw(b"cdig-no-such-user", bcrypt.gensalt(rounds=max(4, cost)))
        self._key = os.urandom(32)
        self._ok: dict[bytes, None] = {}
        self._cache_max = cache_max
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = raw.partition(":")
        if not sep:
            return False
        digest = hmac.new(self._key, raw.encode(), hashlib.sha256).digest()
        with self._lock:
            if digest in self._ok:
                return True
        h = self.users.get(user)
        try:
            ok = bcrypt.checkpw(password.encode(), h if h is not None else self._dummy)
        except ValueError:
            return False
        ok = ok and h is not None
        if ok:
            with self._lock:
                if len(self._ok) >= self._cache_max:
                    self._ok.clear()
                self._ok[digest] = None
        return ok


WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exposition_app(render: Callable[[], bytes]) -> WSGIApp:
    """A WSGI app serving ``render()`` (the text format), gzipped when the
    client accepts it (Prometheus does). Level 1: most of the gain, a fraction
    of the CPU of the default level 9."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"),
                                                      ("Content-Type", "text/plain")])
            return [b"Method Not Allowed\n"]
        body = render()
        headers = [("Content-Type", CONTENT_TYPE)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [b""] if method == "HEAD" else [body]

    return app


def make_app(metrics_app: WSGIApp, config: WebConfig | None = None) -> WSGIApp:
    """``/metrics`` -> ``metrics_app``, ``/`` a landing page, else 404; basic
    auth and extra headers from ``config``."""
    auth = BasicAuth(config.users) if config and config.users else None
    extra = list((config.headers if config else {}).items())

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        def respond(status: str, headers: list, exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *extra], exc_info)

        if auth is not None and not auth.check(environ.get("HTTP_AUTHORIZATION")):
            respond("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="cdig"'),
                                         ("Content-Type", "text/plain")])
            return [b"Unauthorized\n"]
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics_app(environ, respond)
        if path == "/":
            respond("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [_LANDING]
        respond("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]

    return app


# -- the server -----------------------------------------------------------------------


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # no per-request logging


class MetricsServer(ThreadingMixIn, WSGIServer):
    """A threaded HTTP(S) server for one WSGI app, bound at construction."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: ListenAddress, ssl_context: ssl.SSLContext | None = None) -> None:
        fam, host = resolve(addr)[0]
        self.address_family = fam
        self.ssl_context = ssl_context
        super().__init__((host, addr.port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        host = self.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.ssl_context else 'http'}://{host}:{self.port}/metrics"

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks getfqdn(), a DNS lookup that may hang
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]
        self.setup_environ()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # runs in the connection's own thread: the handshake cannot stall accept()
        if self.ssl_context is not None:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                request.close()
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-response is not the server's problem

    def start(self, app: WSGIApp) -> None:
        self.set_app(app)
        self._thread = threading.Thread(target=self.serve_forever, name="cdig-http",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
