"""The exporter's ``--web-config`` file: TLS and basic auth configured like every
Prometheus exporter.

The file takes the exporter-toolkit format (the YAML file that node_exporter's
``--web.config.file`` reads)::

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
line naming the key. Checking credentials is ``basic_auth``; serving, ``web``.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
from dataclasses import dataclass, field
from typing import Any

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

