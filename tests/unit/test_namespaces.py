"""collector.namespaces: /proc/PID/ns inode numbers and sharing with the host."""

from __future__ import annotations

import os
from pathlib import Path

from cdig.collector.namespaces import (
    NAMESPACE_TYPES,
    host_namespaces,
    namespaces_of,
    parse_ns_link,
    shared_with_host,
)

# the initial namespaces of this machine's kernel (readlink /proc/2/ns/*)
HOST_NS = {
    "cgroup": 4026531835,
    "ipc": 4026531839,
    "mnt": 4026531832,
    "net": 4026531833,
    "pid": 4026531836,
    "time": 4026531834,
    "user": 4026531837,
    "uts": 4026531838,
}
# a podman container here: own ipc/mnt/net/pid/uts, host cgroup/time/user
PODMAN_NS = {
    **HOST_NS,
    "ipc": 4026532251,
    "mnt": 4026532249,
    "net": 4026532177,
    "pid": 4026532252,
    "uts": 4026532250,
}


def _fake_proc(root: Path, pid: int, ns: dict[str, int], extra: dict[str, str] | None = None):
    d = root / str(pid) / "ns"
    d.mkdir(parents=True)
    for kind, ino in ns.items():
        os.symlink(f"{kind}:[{ino}]", d / kind)  # dangling, exactly like nsfs links
    for name, target in (extra or {}).items():
        os.symlink(target, d / name)


def test_parse_ns_link():
    assert parse_ns_link("net:[4026531840]") == 4026531840
    assert parse_ns_link("pid_for_children:[4026531836]") == 4026531836
    assert parse_ns_link("/not/a/ns") is None
    assert parse_ns_link("net:[x]") is None


def test_namespaces_of_fixture(tmp_path):
    _fake_proc(tmp_path, 4668, PODMAN_NS, {"pid_for_children": "pid_for_children:[1]"})
    assert namespaces_of(4668, str(tmp_path)) == PODMAN_NS


def test_missing_kinds_are_left_out(tmp_path):
    # an old kernel without time namespaces, and a junk link
    ns = {k: v for k, v in HOST_NS.items() if k != "time"}
    _fake_proc(tmp_path, 7, ns)
    os.unlink(tmp_path / "7" / "ns" / "uts")
    os.symlink("garbage", tmp_path / "7" / "ns" / "uts")
    got = namespaces_of(7, str(tmp_path))
    assert "time" not in got and "uts" not in got
    assert got["net"] == HOST_NS["net"]


def test_vanished_pid_is_empty(tmp_path):
    assert namespaces_of(12345, str(tmp_path)) == {}


def test_this_process():
    got = namespaces_of("self")
    assert {"net", "pid", "mnt"} <= set(got) <= set(NAMESPACE_TYPES)
    assert got == namespaces_of(os.getpid())


def test_shared_with_host():
    assert shared_with_host(PODMAN_NS, HOST_NS) == {"cgroup", "time", "user"}
    assert shared_with_host(HOST_NS, HOST_NS) == set(HOST_NS)
    assert shared_with_host({}, HOST_NS) == set()
    # unknown on either side is not "shared"
    assert shared_with_host({"net": 1, "ipc": 2}, {"net": 1}) == {"net"}


def test_host_namespaces_fill_in_from_kthreadd(tmp_path):
    # pid 1's links unreadable (as on this machine's supervisor): pid 2 answers
    _fake_proc(tmp_path, 2, HOST_NS)
    (tmp_path / "1" / "ns").mkdir(parents=True)
    assert host_namespaces(str(tmp_path)) == HOST_NS


def test_host_namespaces_prefer_pid1(tmp_path):
    _fake_proc(tmp_path, 2, HOST_NS)
    _fake_proc(tmp_path, 1, {"mnt": 99})
    assert host_namespaces(str(tmp_path)) == {**HOST_NS, "mnt": 99}
