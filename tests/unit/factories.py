"""Synthetic events for unit tests (no kernel, no /proc)."""

from __future__ import annotations

from typing import Any

from cdig.collector.events import HOST, Container, Event, EventKind, FdInfo, Process

# 2024-01-02 03:04:05.123456789 UTC
TS_NS = 1_704_164_645_123_456_789

WEB = Container(
    id="3f2a9c1b7d4e" + "0" * 52,
    name="web",
    runtime="podman",
    image="docker.io/library/nginx:1.25",
    pod_name="web-7d9f",
    pod_namespace="prod",
)

DEV_NULL = FdInfo(num=3, type="file", name="/dev/null")
TCP = FdInfo(
    num=5,
    type="ipv4",
    name="127.0.0.1:40000->127.0.0.1:8080",
    l4proto="tcp",
    cip="127.0.0.1",
    cport=40000,
    sip="127.0.0.1",
    sport=8080,
)


def make_process(**kw: Any) -> Process:
    defaults: dict[str, Any] = dict(
        pid=1234, ppid=1, name="bash", exe="/usr/bin/bash", args=["-c", "echo hi"], uid=0
    )
    defaults.update(kw)
    return Process(**defaults)


def make_event(**kw: Any) -> Event:
    """A completed write(3, …, 1) = 1 by bash on the host, unless told otherwise."""
    defaults: dict[str, Any] = dict(
        num=1,
        ts_ns=TS_NS,
        cpu=0,
        kind=EventKind.SYSCALL,
        type="write",
        dir="<",
        res=1,
        latency_ns=1500,
        pid=1234,
        tid=1234,
        uid=0,
        gid=0,
        comm="bash",
        cgroup_id=1,
        syscall_nr=1,
        args={"fd": 3, "size": 1},
        proc=None,
        container=HOST,
        fd=DEV_NULL,
    )
    defaults.update(kw)
    return Event(**defaults)


def openat_event(path: str = "/etc/passwd", res: int = 3, **kw: Any) -> Event:
    fd = FdInfo(num=res, type="file", name=path) if res >= 0 else None
    return make_event(
        type="openat",
        syscall_nr=257,
        res=res,
        args={"dirfd": -100, "path": path, "flags": "O_RDONLY|O_CLOEXEC", "mode": 0},
        fd=fd,
        **kw,
    )
