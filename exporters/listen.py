"""The exporter's ``--listen`` address: parsed, resolved, and whether it is loopback
only (metrics served beyond loopback need TLS or basic auth)."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass


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
    return [(int(fam), str(sa[0])) for fam, _, _, _, sa in infos]


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
