"""collector.cgroups: mount discovery, /proc/PID/cgroup, and the cgroup id index."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from cdig.collector.cgroup_watch import CgroupChange, CgroupWatcher
from cdig.collector.cgroups import (
    CgroupIndex,
    CgroupLayout,
    CgroupMount,
    cgroup_layout,
    cgroup_of_pid,
    classify,
    parse_mountinfo,
    parse_proc_cgroup,
    pick_cgroup_path,
)
from cdig.collector.inotify import IN_CREATE, IN_ISDIR, parse_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "containers"


def _mountinfo(name: str) -> str:
    return (FIXTURES / name).read_text()


# --- mountinfo ---------------------------------------------------------------------


def test_v2_host():
    mounts = parse_mountinfo(_mountinfo("mountinfo_v2_ubuntu2204.txt"))
    assert mounts == [CgroupMount("/sys/fs/cgroup", 2, "/")]
    layout = CgroupLayout(classify(mounts), tuple(mounts))
    assert layout.mode == "v2"
    assert layout.unified_root == "/sys/fs/cgroup"
    assert layout.cgroup_ids_usable


def test_hybrid_host_of_this_machine():
    mounts = parse_mountinfo(_mountinfo("mountinfo_hybrid_firecracker.txt"))
    layout = CgroupLayout(classify(mounts), tuple(mounts))
    assert layout.mode == "hybrid"
    assert layout.unified_root == "/sys/fs/cgroup/unified"
    assert layout.v1_mount("memory") == CgroupMount("/sys/fs/cgroup/memory", 1, "/", ("memory",))
    assert layout.v1_mount("name=systemd").mountpoint == "/sys/fs/cgroup/systemd"
    assert len([m for m in mounts if m.version == 1]) == 9


def test_hybrid_ubuntu_comounted_controllers():
    mounts = parse_mountinfo(_mountinfo("mountinfo_hybrid_ubuntu2004.txt"))
    layout = CgroupLayout(classify(mounts), tuple(mounts))
    assert layout.mode == "hybrid"
    cpu = layout.v1_mount("cpuacct")
    assert cpu is not None and cpu.controllers == ("cpu", "cpuacct")
    assert cpu.mountpoint == "/sys/fs/cgroup/cpu,cpuacct"
    # "xattr" is a mount option, not a controller
    assert layout.v1_mount("name=systemd").controllers == ("name=systemd",)


def test_v1_host():
    mounts = parse_mountinfo(_mountinfo("mountinfo_v1_centos7.txt"))
    layout = CgroupLayout(classify(mounts), tuple(mounts))
    assert layout.mode == "v1"
    assert layout.unified is None and layout.unified_root is None
    assert not layout.cgroup_ids_usable
    systemd = layout.v1_mount("name=systemd")
    # seclabel, xattr, release_agent=... are options, not controllers
    assert systemd.controllers == ("name=systemd",)
    assert layout.v1_mount("cpu").controllers == ("cpuacct", "cpu")


def test_no_cgroups_at_all():
    assert classify(parse_mountinfo("22 27 0:21 / /proc rw - proc proc rw\n")) == "none"


def test_escaped_mountpoint_and_garbage_lines():
    text = (
        "garbage\n"
        "\n"
        "41 31 0:38 / /mnt/cg\\040two rw,relatime - cgroup2 cgroup2 rw\n"
        "41 31 0:38 / /no/separator rw,relatime cgroup2 cgroup2 rw\n"
        "42 31 0:38 / /short - cgroup2\n"
    )
    assert parse_mountinfo(text) == [CgroupMount("/mnt/cg two", 2, "/")]


def test_mountinfo_with_optional_fields():
    text = "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 master:3 - cgroup2 cgroup2 rw\n"
    assert parse_mountinfo(text) == [CgroupMount("/sys/fs/cgroup", 2, "/")]


def test_unified_prefers_whole_hierarchy_then_usual_place():
    mounts = (
        CgroupMount("/host/cg", 2, "/"),
        CgroupMount("/sys/fs/cgroup", 2, "/docker/abc"),  # a bind-mounted subtree
        CgroupMount("/sys/fs/cgroup/unified", 2, "/"),
    )
    assert CgroupLayout("v2", mounts).unified == mounts[2]
    assert CgroupLayout("v2", mounts[:2]).unified == mounts[0]
    assert CgroupLayout("v2", mounts[1:2]).unified == mounts[1]


def test_cgroup_layout_reads_proc_root(tmp_path):
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "mountinfo").write_text(_mountinfo("mountinfo_v2_ubuntu2204.txt"))
    assert cgroup_layout(str(tmp_path)).mode == "v2"


def test_cgroup_layout_unreadable_is_none(tmp_path):
    assert cgroup_layout(str(tmp_path)) == CgroupLayout("none")


def test_cgroup_layout_of_this_process_parses():
    assert cgroup_layout().mode in ("v2", "hybrid", "v1", "none")


# --- /proc/PID/cgroup -----------------------------------------------------------------

PODMAN_ID = "fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0"
DOCKER_ID = "3f5c8a7e2b1d4c6f9a0e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e"

# This machine (hybrid): the podman container is in every hierarchy.
PROC_CGROUP_PODMAN_HYBRID = """\
9:name=systemd:/libpod_parent/libpod-fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0
8:pids:/libpod_parent/libpod-fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0
4:memory:/libpod_parent/libpod-fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0
1:cpu:/libpod_parent/libpod-fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0
0::/libpod_parent/libpod-fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0
"""
# This machine: a host process whose supervisor put it in a memory cgroup only.
PROC_CGROUP_HOST_HYBRID = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/ecdc7b2f33b204a4f7e600da9d85b4b2
1:cpu:/
0::/
"""
# A runtime that only used v1 controllers on a hybrid host: cgroup2 path is "/".
PROC_CGROUP_V1_ONLY_CONTAINER = f"""\
12:pids:/docker/{DOCKER_ID}
4:cpu,cpuacct:/docker/{DOCKER_ID}
1:name=systemd:/docker/{DOCKER_ID}
0::/
"""
PROC_CGROUP_V1_CENTOS = f"""\
11:perf_event:/docker/{DOCKER_ID}
4:cpuacct,cpu:/docker/{DOCKER_ID}
1:name=systemd:/docker/{DOCKER_ID}
"""
PROC_CGROUP_V2 = f"0::/system.slice/docker-{DOCKER_ID}.scope\n"


def test_parse_proc_cgroup():
    got = parse_proc_cgroup(PROC_CGROUP_V1_ONLY_CONTAINER)
    assert got[""] == "/"
    assert got["cpu"] == got["cpuacct"] == got["pids"] == f"/docker/{DOCKER_ID}"
    assert got["name=systemd"] == f"/docker/{DOCKER_ID}"
    assert parse_proc_cgroup("junk\n0::/a:b\n") == {"": "/a:b"}  # ':' in a path is kept


@pytest.mark.parametrize(
    "text, want",
    [
        (PROC_CGROUP_V2, f"/system.slice/docker-{DOCKER_ID}.scope"),
        (PROC_CGROUP_PODMAN_HYBRID, f"/libpod_parent/libpod-{PODMAN_ID}"),
        (PROC_CGROUP_V1_ONLY_CONTAINER, f"/docker/{DOCKER_ID}"),
        (PROC_CGROUP_V1_CENTOS, f"/docker/{DOCKER_ID}"),
        # the only non-root path is memory's: it is what there is
        (PROC_CGROUP_HOST_HYBRID, "/process_api/ecdc7b2f33b204a4f7e600da9d85b4b2"),
        ("0::/\n", "/"),
        ("", "/"),
    ],
)
def test_pick_cgroup_path(text, want):
    assert pick_cgroup_path(parse_proc_cgroup(text)) == want


def test_pick_prefers_name_systemd_over_memory():
    text = "9:name=systemd:/cdigrunc1\n4:memory:/process_api/x/cdigrunc1\n0::/\n"
    assert pick_cgroup_path(parse_proc_cgroup(text)) == "/cdigrunc1"


def test_cgroup_of_pid(tmp_path):
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cgroup").write_text(PROC_CGROUP_V2)
    assert cgroup_of_pid(42, str(tmp_path)) == f"/system.slice/docker-{DOCKER_ID}.scope"
    assert cgroup_of_pid(43, str(tmp_path)) is None  # vanished


def test_cgroup_of_this_process():
    assert cgroup_of_pid(os.getpid()).startswith("/")


# --- CgroupIndex over a fixture tree ---------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "cg"
    for d in (
        "system.slice/docker-aaa.scope",
        "system.slice/nginx.service",
        "libpod_parent/libpod-bbb/child",
        "user.slice",
    ):
        (root / d).mkdir(parents=True)
    (root / "cgroup.procs").write_text("")  # files are not cgroups
    (root / "system.slice" / "cgroup.controllers").write_text("")
    return root


def _ino(p: Path) -> int:
    return os.stat(p).st_ino


def test_index_walks_tree_ids_are_inodes(tree):
    idx = CgroupIndex(str(tree))
    got = dict(idx.items())
    assert got[_ino(tree)] == "/"
    assert got[_ino(tree / "system.slice" / "docker-aaa.scope")] == "/system.slice/docker-aaa.scope"
    assert got[_ino(tree / "libpod_parent/libpod-bbb/child")] == "/libpod_parent/libpod-bbb/child"
    assert sorted(got.values()) == [
        "/",
        "/libpod_parent",
        "/libpod_parent/libpod-bbb",
        "/libpod_parent/libpod-bbb/child",
        "/system.slice",
        "/system.slice/docker-aaa.scope",
        "/system.slice/nginx.service",
        "/user.slice",
    ]
    assert idx.root_id == _ino(tree)


def test_path_of_and_id_of(tree):
    idx = CgroupIndex(str(tree))
    svc = tree / "system.slice" / "nginx.service"
    assert idx.path_of(_ino(svc)) == "/system.slice/nginx.service"
    assert idx.id_of("/system.slice/nginx.service") == _ino(svc)
    assert idx.id_of("system.slice/nginx.service/") == _ino(svc)
    assert idx.id_of("/") == _ino(tree)
    assert idx.id_of("/nope") is None


def test_id_of_new_cgroup_without_a_walk(tree):
    idx = CgroupIndex(str(tree))
    idx.refresh()
    new = tree / "fresh"
    new.mkdir()
    assert idx.id_of("/fresh") == _ino(new)
    assert idx.path_of(_ino(new)) == "/fresh"


def test_miss_rescans_once_then_rate_limited(tree):
    clock = FakeClock()
    idx = CgroupIndex(str(tree), min_rescan_interval=1.0, clock=clock)
    idx.refresh()
    assert idx.scans == 1
    new = tree / "system.slice" / "docker-ccc.scope"
    new.mkdir()
    clock.now += 5
    assert idx.path_of(_ino(new)) == "/system.slice/docker-ccc.scope"  # miss -> rescan
    assert idx.scans == 2
    # a flood of unknown ids within the interval does not rescan
    for bogus in range(10**9, 10**9 + 1000):
        assert idx.path_of(bogus) is None
    assert idx.scans == 2
    newer = tree / "late"
    newer.mkdir()
    assert idx.path_of(_ino(newer)) is None  # within the interval: not seen yet
    clock.now += 1.0
    assert idx.path_of(_ino(newer)) == "/late"
    assert idx.scans == 3


def test_first_lookup_walks(tree):
    idx = CgroupIndex(str(tree), clock=FakeClock())
    assert idx.path_of(_ino(tree / "user.slice")) == "/user.slice"
    assert idx.scans == 1


def test_refresh_forgets_removed(tree):
    idx = CgroupIndex(str(tree))
    gone = tree / "libpod_parent" / "libpod-bbb" / "child"
    gone_id = _ino(gone)
    idx.refresh()
    assert gone_id in idx
    gone.rmdir()
    idx.refresh()
    assert gone_id not in idx


def test_subtree_ids(tree):
    idx = CgroupIndex(str(tree))
    want = {_ino(tree / "libpod_parent/libpod-bbb"), _ino(tree / "libpod_parent/libpod-bbb/child")}
    assert idx.subtree_ids("/libpod_parent/libpod-bbb") == want
    # a sibling with a common name prefix is not in the subtree
    (tree / "libpod_parent" / "libpod-bbbb").mkdir()
    assert idx.subtree_ids("/libpod_parent/libpod-bbb") == want
    assert len(idx.subtree_ids("/")) == 9


def test_bind_mounted_subtree_paths_are_hierarchy_paths(tree):
    # e.g. inside a container that sees only /kubepods/pod1 at its mountpoint
    idx = CgroupIndex(str(tree / "system.slice"), mount_root="/kubepods/pod1")
    got = sorted(p for _, p in idx.items())
    assert got == [
        "/kubepods/pod1",
        "/kubepods/pod1/docker-aaa.scope",
        "/kubepods/pod1/nginx.service",
    ]
    assert idx.id_of("/kubepods/pod1/nginx.service") == _ino(tree / "system.slice/nginx.service")
    assert idx.id_of("/elsewhere") is None


def test_missing_mountpoint_is_empty(tmp_path):
    idx = CgroupIndex(str(tmp_path / "absent"))
    assert idx.items() == []
    assert idx.path_of(1) is None
    assert idx.root_id is None


def test_for_host_none_without_cgroup2():
    v1 = CgroupLayout("v1", (CgroupMount("/sys/fs/cgroup/pids", 1, "/", ("pids",)),))
    assert CgroupIndex.for_host(layout=v1) is None


def test_for_host_uses_unified_mount(tree):
    layout = CgroupLayout("hybrid", (CgroupMount(str(tree), 2, "/"),))
    idx = CgroupIndex.for_host(layout=layout)
    assert idx is not None and idx.mountpoint == str(tree)


# --- inotify and the watcher ---------------------------------------------------------


def test_parse_events_names_padding_and_truncation():
    def ev(wd: int, mask: int, name: bytes, pad: int) -> bytes:
        raw = name + b"\0" * pad
        return struct.pack("iIII", wd, mask, 0, len(raw)) + raw

    buf = ev(1, IN_CREATE | IN_ISDIR, b"libpod-abc", 6) + ev(2, IN_CREATE, b"", 0)
    buf += ev(3, IN_CREATE, b"\xffodd", 4)
    got = parse_events(buf + struct.pack("iIII", 4, 0, 0, 32) + b"cut")  # truncated: ignored
    assert [(e.wd, e.name) for e in got] == [
        (1, "libpod-abc"),
        (2, ""),
        (3, os.fsdecode(b"\xffodd")),
    ]
    assert got[0].mask & IN_ISDIR


def _changes(w: CgroupWatcher, want: int, timeout: float = 5.0) -> list[CgroupChange]:
    """Read until ``want`` changes came (inotify delivers promptly; bounded)."""
    out: list[CgroupChange] = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        out += w.read(0.05)
    return out


def test_watcher_reports_existing_then_new_and_nested(tmp_path):
    (tmp_path / "libpod_parent").mkdir()
    w = CgroupWatcher(str(tmp_path))
    try:
        first = w.start()
        assert [(c.kind, c.path) for c in first] == [
            ("created", "/"),
            ("created", "/libpod_parent"),
        ]
        assert first[1].id == os.stat(tmp_path / "libpod_parent").st_ino
        (tmp_path / "libpod_parent" / "libpod-x").mkdir()
        # a tree made in one go (parent's watch added after its children exist)
        (tmp_path / "k8s.io" / "ctr1" / "inner").mkdir(parents=True)
        got = _changes(w, 4)
        paths = {c.path: c for c in got if c.kind == "created"}
        assert set(paths) >= {
            "/libpod_parent/libpod-x",
            "/k8s.io",
            "/k8s.io/ctr1",
            "/k8s.io/ctr1/inner",
        }
        assert paths["/k8s.io/ctr1"].id == os.stat(tmp_path / "k8s.io" / "ctr1").st_ino
        # deeper levels are watched too
        (tmp_path / "k8s.io" / "ctr1" / "inner" / "deeper").mkdir()
        assert [c.path for c in _changes(w, 1)] == ["/k8s.io/ctr1/inner/deeper"]
        (tmp_path / "libpod_parent" / "libpod-x").rmdir()
        assert ("removed", "/libpod_parent/libpod-x") in [(c.kind, c.path) for c in _changes(w, 1)]
        (tmp_path / "file").write_text("not a cgroup")  # files are not cgroups
        assert w.read(0.05) == []
    finally:
        w.close()


def test_watcher_paths_under_a_mounted_subtree(tmp_path):
    w = CgroupWatcher(str(tmp_path), mount_root="/kubepods/pod1")
    try:
        assert w.start()[0].path == "/kubepods/pod1"
        (tmp_path / "c1").mkdir()
        assert [c.path for c in _changes(w, 1)] == ["/kubepods/pod1/c1"]
    finally:
        w.close()


def test_watcher_bounded_watches(tmp_path):
    for i in range(5):
        (tmp_path / f"d{i}").mkdir()
    w = CgroupWatcher(str(tmp_path), max_watches=3)
    try:
        assert len(w.start()) == 6  # every directory is still reported
        assert w.watches == 3 and not w.complete
    finally:
        w.close()


def test_watcher_for_layout_picks_cgroup2_else_a_v1_hierarchy(tmp_path):
    v2 = CgroupLayout(
        "hybrid",
        (
            CgroupMount(str(tmp_path / "pids"), 1, "/", ("pids",)),
            CgroupMount(str(tmp_path), 2, "/"),
        ),
    )
    v1 = CgroupLayout(
        "v1",
        (
            CgroupMount(str(tmp_path / "memory"), 1, "/", ("memory",)),
            CgroupMount(str(tmp_path / "systemd"), 1, "/", ("name=systemd",)),
        ),
    )
    for layout, where in ((v2, tmp_path), (v1, tmp_path / "systemd")):
        w = CgroupWatcher.for_layout(layout)
        assert w is not None and w.mountpoint == str(where)
        w.close()
    assert CgroupWatcher.for_layout(CgroupLayout("none")) is None


def test_index_add_discard_peek(tmp_path):
    idx = CgroupIndex(str(tmp_path), min_rescan_interval=3600)
    idx.refresh()
    assert idx.peek(4242) is None
    idx.add(4242, "/new")
    assert idx.peek(4242) == "/new" and idx.path_of(4242) == "/new" and 4242 in idx
    idx.add(4343, "/new")  # the same name made again is another cgroup
    assert idx.peek(4242) is None and idx.peek(4343) == "/new"
    assert idx.discard("/new") == 4343 and idx.peek(4343) is None
    assert idx.discard("/never") is None
