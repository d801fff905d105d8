"""Serving the metrics: the WSGI app (``/metrics``, gzip, basic auth, the web
config's headers) and a threaded HTTP(S) server.

``MetricsServer`` binds at construction (so a port in use is reported before
the BPF program is loaded) and serves a WSGI app from a thread per connection;
TLS handshakes run in those threads with a timeout, so a slow client cannot
stall the server. The web config itself is ``web_config``, credentials are
checked by ``basic_auth``, the listen address is ``listen``.
"""

from __future__ import annotations

import gzip
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .basic_auth import BasicAuth
from .listen import ListenAddress, resolve
from .web_config import WebConfig

TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds
REQUEST_TIMEOUT = 30.0  # seconds a connection may idle
MAX_CONNECTIONS = 512  # open at once; more are closed at accept (each is a thread)

# -- the WSGI app -----------------------------------------------------------------------

_LANDING = b"""<!doctype html><html><head><title>cdig exporter</title></head>
<body><h1>cdig exporter</h1><p><a href="/metrics">Metrics</a></p></body></html>
"""


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
    # set by _Handler.handle as WSGIRequestHandler.handle sets it: ServerHandler.close
    # logs the request through it (typeshed leaves the attribute out)
    request_handler: WSGIRequestHandler

    def log_exception(self, exc_info: Any) -> None:
        # wsgiref already ignores a plain client hang-up; over TLS it is an
        # SSLError (a Prometheus scrape that timed out): not a traceback either
        if isinstance(exc_info[1], (ssl.SSLError, ConnectionError)):
            return
        super().log_exception(exc_info)


class _Handler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT
    server: MetricsServer  # the only server it is given (typeshed: BaseServer)

    def handle(self) -> None:
        # WSGIRequestHandler.handle, with the ServerHandler above
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        # wfile is a socket writer, typeshed's BufferedIOBase, which is no IO[bytes];
        # ServerHandler only writes and flushes it (as in WSGIRequestHandler.handle)
        handler = _ServerHandler(self.rfile, cast(IO[bytes], self.wfile), self.get_stderr(),
                                 self.get_environ(), multithread=False)
        handler.request_handler = self
        app = self.server.get_app()
        if app is None:  # start() sets it before it serves: not reached
            self.send_error(503)
            return
        handler.run(app)

    def parse_request(self) -> bool:
        # "GET /" alone is HTTP/0.9: the base class would answer with a bare body,
        # no status line and no headers. Refused, with a status line.
        words = self.raw_requestline.decode("iso-8859-1").split()
        if len(words) == 2:
            self.command, self.request_version = "", "HTTP/1.0"
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
        host = str(self.server_address[0])  # an IP socket's: a str (typeshed: | bytes)
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
