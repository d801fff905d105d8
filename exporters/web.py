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

Parsing is strict, as exporter-toolkit's (go-yaml UnmarshalStrict): a key given
twice and an unknown key are errors, ``headers`` takes only the headers
exporter-toolkit allows (``ALLOWED_HEADERS``), and the file is read whole
(at most ``WEB_CONFIG_MAX_BYTES``) or not at all.

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
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

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
# the headers exporter-toolkit lets a web config set (web/handler.go extraHTTPHeaders),
# with the values allowed where they are an enumeration (None: any one-line value)
ALLOWED_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

WEB_CONFIG_MAX_BYTES = 1 << 20  # a web config is a few hundred bytes; read all or refuse
TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds
REQUEST_TIMEOUT = 30.0  # seconds a connection may idle
MAX_CONNECTIONS = 512  # open at once; more are closed at accept (each is a thread)
# failed basic-auth checks (bcrypt, tens of ms of CPU each) allowed per second, and
# as a burst: beyond, requests get 429 without any bcrypt work
AUTH_FAILURES_PER_S = 5.0
AUTH_FAILURE_BURST = 10
BCRYPT_MAX_PASSWORD = 72  # bytes bcrypt uses; htpasswd and Go's bcrypt ignore the rest


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


def _strict_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses a key given twice in one mapping.

    PyYAML keeps the last of duplicate keys: a second, empty ``basic_auth_users:``
    silently removed every user. exporter-toolkit parses with go-yaml's
    UnmarshalStrict, for which a duplicate key is an error; so is it here."""
    import yaml  # only needed with --web-config

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)  # merge keys (<<) as YAML defines them
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                dup = key in seen
            except TypeError:  # an unhashable key (a list): refused below
                raise yaml.constructor.ConstructorError(
                    None, None, "a key that is not a string", key_node.start_mark) from None
            if dup:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (first at line "
                    f"{seen[key].line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass


def parse_web_config(text: str, base_dir: str = ".") -> WebConfig:
    """Parse and check the text of a web config file. Raises WebConfigError."""
    import yaml  # only needed with --web-config

    try:
        doc = _strict_yaml(text)
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
            if k not in ALLOWED_HEADERS:  # as exporter-toolkit: Content-Type, Set-Cookie...
                raise WebConfigError(f"http_server_config.headers: {k!r} cannot be configured "
                                     f"(allowed: {', '.join(ALLOWED_HEADERS)})")
            if not isinstance(v, str) or "\n" in v or "\r" in v or "\0" in v:
                raise WebConfigError(f"http_server_config.headers.{k}: expected a one-line "
                                     "string")
            allowed = ALLOWED_HEADERS[k]
            if allowed is not None and v not in allowed:
                raise WebConfigError(f"http_server_config.headers.{k}: {v!r} is not one of "
                                     f"{', '.join(allowed)}")
            cfg.headers[k] = v
        if "http2" in http and not isinstance(http["http2"], bool):
            raise WebConfigError("http_server_config.http2: expected true or false")
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


def read_config_file(path: str, limit: int = WEB_CONFIG_MAX_BYTES) -> str:
    """The whole text of a small regular file, or WebConfigError (one line).

    Never a prefix: a file cut at ``limit`` could lose its last section (its
    users). Never a FIFO or a device: opened non-blocking and refused unless
    regular, where a plain open() of a FIFO waited for a writer forever."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise WebConfigError(f"cannot read {path}: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise WebConfigError(f"cannot read {path}: not a regular file")
        if st.st_size > limit:
            raise WebConfigError(f"{path} is {st.st_size} bytes, over the limit of {limit} "
                                 "bytes for a web config")
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise WebConfigError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > limit:
        raise WebConfigError(f"{path} grew over the limit of {limit} bytes while read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WebConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None


def load_web_config(path: str) -> WebConfig:
    text = read_config_file(path)
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

    Wrong credentials must not buy unbounded CPU: bcrypt runs one check at a
    time (as exporter-toolkit's bcryptMtx), and failed checks draw on a bucket
    of ``burst`` tokens refilled at ``failures_per_s``; when it is empty a
    request that would need bcrypt is answered 429 at once. A successful check
    costs no token, and cached credentials skip bcrypt entirely, so Prometheus
    keeps scraping through a flood of wrong passwords once it got in.

    Passwords are cut at 72 bytes, as bcrypt itself, htpasswd and Go's bcrypt
    (exporter-toolkit) do; Python's bcrypt 5 refuses longer ones instead.
    """

    def __init__(self, users: dict[str, bytes], cache_max: int = 256,
                 failures_per_s: float = AUTH_FAILURES_PER_S,
                 burst: int = AUTH_FAILURE_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.users = users
        cost = min((int(h[4:6]) for h in users.values()), default=10)
        self._dummy = bcrypt.hashpw(b"cdig-no-such-user", bcrypt.gensalt(rounds=max(4, cost)))
        self._key = os.urandom(32)
        self._ok: dict[bytes, None] = {}
        self._cache_max = cache_max
        self._lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self._rate = failures_per_s
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._t = clock()
        self.throttled = 0  # requests answered 429
        self.bcrypt_checks = 0

    def _take_token(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._t) * self._rate)
            self._t = now
            if self._tokens < 1.0:
                self.throttled += 1
                return False
            self._tokens -= 1.0
            return True

    def _refund(self) -> None:
        with self._lock:
            self._tokens = min(self._burst, self._tokens + 1.0)

    def check(self, header: str | None) -> bool:
        return self.verify(header) == 200

    def verify(self, header: str | None) -> int:
        """200 (let in), 401 (wrong or no credentials) or 429 (too many failures now)."""
        if not header or not header.startswith("Basic "):
            return 401
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return 401
        user, sep, password = raw.partition(":")
        if not sep:
            return 401
        digest = hmac.new(self._key, raw.encode(), hashlib.sha256).digest()
        with self._lock:
            if digest in self._ok:
                return 200
        if not self._take_token():
            return 429
        h = self.users.get(user)
        try:
            with self._bcrypt_lock:
                self.bcrypt_checks += 1
                ok = bcrypt.checkpw(password.encode()[:BCRYPT_MAX_PASSWORD],
                                    h if h is not None else self._dummy)
        except ValueError:
            ok = False
        ok = ok and h is not None
        if ok:
            self._refund()
            with self._lock:
                if len(self._ok) >= self._cache_max:
                    self._ok.clear()
                self._ok[digest] = None
        return 200 if ok else 401


WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110 12.5.3): ``gzip``
    or ``x-gzip`` with a q-value above 0, else ``*`` with one; ``gzip;q=0`` refuses it."""
    q_gzip: float | None = None
    q_star: float | None = None
    for item in header.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, eq, value = param.partition("=")
            if eq and name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # a q we cannot read is no consent
                if not 0.0 <= q <= 1.0:  # also nan
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            q_gzip = q if q_gzip is None else max(q_gzip, q)
        elif coding == "*":
            q_star = q
    if q_gzip is not None:
        return q_gzip > 0
    return q_star is not None and q_star > 0


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
        if accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
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

        verdict = auth.verify(environ.get("HTTP_AUTHORIZATION")) if auth is not None else 200
        if verdict == 429:
            respond("429 Too Many Requests", [("Retry-After", "1"),
                                              ("Content-Type", "text/plain")])
            return [b"Too Many Requests\n"]
        if verdict != 200:
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


class _ServerHandler(ServerHandler):
    def log_exception(self, exc_info: Any) -> None:
        # wsgiref already ignores a plain client hang-up; over TLS it is an
        # SSLError (a Prometheus scrape that timed out): not a traceback either
        if isinstance(exc_info[1], (ssl.SSLError, ConnectionError)):
            return
        super().log_exception(exc_info)


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT

    def handle(self) -> None:
        # WSGIRequestHandler.handle, with the ServerHandler above
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(),
                                 multithread=False)
        handler.request_handler = self
        handler.run(self.server.get_app())

    def parse_request(self) -> bool:
        # "GET /" alone is HTTP/0.9: the base class would answer with a bare body,
        # no status line and no headers. Refused, with a status line.
        words = self.raw_requestline.decode("iso-8859-1").split()
        if len(words) == 2:
            self.command, self.request_version = None, "HTTP/1.0"
            self.requestline = " ".join(words)
            self.close_connection = True
            self.send_error(400, "HTTP/0.9 is not supported")
            return False
        return super().parse_request()

    def log_message(self, format: str, *args: Any) -> None:  # base signature
        pass  # no per-request logging


class MetricsServer(ThreadingMixIn, WSGIServer):
    """A threaded HTTP(S) server for one WSGI app, bound at construction."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: ListenAddress, ssl_context: ssl.SSLContext | None = None,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        fam, host = resolve(addr)[0]
        self.address_family = fam
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.open_connections = 0
        self.rejected = 0  # connections closed at accept: max_connections were open
        self._slots = threading.Lock()
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

    def process_request(self, request: Any, client_address: Any) -> None:
        # a thread per connection, but not without end: idle sockets (slowloris)
        # hold a slot for at most REQUEST_TIMEOUT, then the slot is free again
        with self._slots:
            full = self.open_connections >= self.max_connections
            if full:
                self.rejected += 1
            else:
                self.open_connections += 1
        if full:
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        with self._slots:
            self.open_connections -= 1

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

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
