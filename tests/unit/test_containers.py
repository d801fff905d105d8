"""collector.containers: cgroup path shapes of every runtime, and the resolver."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from cdig.collector.cgroup_paths import nspawn_machine_name
from cdig.collector.cgroups import CgroupIndex, CgroupLayout, CgroupMount
from cdig.collector.containers import (
    ContainerRef,
    ContainerResolver,
    parse_cgroup_path,
)
from cdig.collector.events import HOST
from cdig.collector.runtimes import Metadata, RuntimeClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "containers"

PODMAN_ID = "fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0"
DOCKER_ID = "3f5c8a7e2b1d4c6f9a0e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e"
INNER_ID = "aa" * 32
CTD_ID = "9d1e6b0f4a7c3e2d8b5f1a6c0e9d4b3a2f7e8c1d5b6a0f9e3c2d1b4a7e6f5c8d"
CRIO_ID = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
POD_UID = "0b6e2d2c-6a0e-4c9b-9a55-8d6c3a1f2e10"
POD_UID_ = POD_UID.replace("-", "_")
STATIC_POD_UID = "6c3a1f9e0b2d4c58a7e3f1b2c9d8e7f6"  # static pods: md5 hex, no dashes

# (cgroup path, runtime, id, pod uid, qos, container's own cgroup) — shapes as the
# runtimes create them (docker/podman/containerd/CRI-O/kubelet/LXC/systemd docs and
# hosts; the libpod_parent and runc ones captured on this machine).
CONTAINER_PATHS = [
    # docker: cgroupfs driver (v1 and v2), systemd driver
    (f"/docker/{DOCKER_ID}", "docker", DOCKER_ID, "", "", f"/docker/{DOCKER_ID}"),
    (
        f"/system.slice/docker-{DOCKER_ID}.scope",
        "docker",
        DOCKER_ID,
        "",
        "",
        f"/system.slice/docker-{DOCKER_ID}.scope",
    ),
    # a child cgroup of the container (systemd running inside it)
    (
        f"/system.slice/docker-{DOCKER_ID}.scope/system.slice/nginx.service",
        "docker",
        DOCKER_ID,
        "",
        "",
        f"/system.slice/docker-{DOCKER_ID}.scope",
    ),
    # podman: cgroupfs (this machine), systemd, rootless, pods, the "container" sub-cgroup
    (
        f"/libpod_parent/libpod-{PODMAN_ID}",
        "podman",
        PODMAN_ID,
        "",
        "",
        f"/libpod_parent/libpod-{PODMAN_ID}",
    ),
    (
        f"/machine.slice/libpod-{PODMAN_ID}.scope",
        "podman",
        PODMAN_ID,
        "",
        "",
        f"/machine.slice/libpod-{PODMAN_ID}.scope",
    ),
    (
        f"/machine.slice/libpod-{PODMAN_ID}.scope/container",
        "podman",
        PODMAN_ID,
        "",
        "",
        f"/machine.slice/libpod-{PODMAN_ID}.scope",
    ),
    (
        f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{PODMAN_ID}.scope",
        "podman",
        PODMAN_ID,
        "",
        "",
        f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{PODMAN_ID}.scope",
    ),
    (
        f"/machine.slice/machine-libpod_pod_{INNER_ID}.slice/libpod-{PODMAN_ID}.scope",
        "podman",
        PODMAN_ID,
        "",
        "",
        f"/machine.slice/machine-libpod_pod_{INNER_ID}.slice/libpod-{PODMAN_ID}.scope",
    ),
    (
        f"/libpod_parent/{INNER_ID}/libpod-{PODMAN_ID}",
        "podman",
        PODMAN_ID,
        "",
        "",
        f"/libpod_parent/{INNER_ID}/libpod-{PODMAN_ID}",
    ),
    # containerd / CRI, systemd driver (pod uid with "_")
    (
        "/kubepods.slice/kubepods-burstable.slice/"
        f"kubepods-burstable-pod{POD_UID_}.slice/cri-containerd-{CTD_ID}.scope",
        "containerd",
        CTD_ID,
        POD_UID,
        "burstable",
        "/kubepods.slice/kubepods-burstable.slice/"
        f"kubepods-burstable-pod{POD_UID_}.slice/cri-containerd-{CTD_ID}.scope",
    ),
    (
        f"/kubepods.slice/kubepods-pod{POD_UID_}.slice/cri-containerd-{CTD_ID}.scope",
        "containerd",
        CTD_ID,
        POD_UID,
        "guaranteed",
        f"/kubepods.slice/kubepods-pod{POD_UID_}.slice/cri-containerd-{CTD_ID}.scope",
    ),
    # nerdctl (containerd without Kubernetes), systemd driver
    (
        f"/system.slice/nerdctl-{CTD_ID}.scope",
        "containerd",
        CTD_ID,
        "",
        "",
        f"/system.slice/nerdctl-{CTD_ID}.scope",
    ),
    # Kubernetes, cgroupfs driver: the runtime is not in the path
    (
        f"/kubepods/besteffort/pod{POD_UID}/{CTD_ID}",
        "kubernetes",
        CTD_ID,
        POD_UID,
        "besteffort",
        f"/kubepods/besteffort/pod{POD_UID}/{CTD_ID}",
    ),
    (
        f"/kubepods/burstable/pod{POD_UID}/{CTD_ID}",
        "kubernetes",
        CTD_ID,
        POD_UID,
        "burstable",
        f"/kubepods/burstable/pod{POD_UID}/{CTD_ID}",
    ),
    (
        f"/kubepods/pod{POD_UID}/{CTD_ID}",
        "kubernetes",
        CTD_ID,
        POD_UID,
        "guaranteed",
        f"/kubepods/pod{POD_UID}/{CTD_ID}",
    ),
    (
        f"/kubepods/burstable/pod{STATIC_POD_UID}/{CTD_ID}",
        "kubernetes",
        CTD_ID,
        STATIC_POD_UID,
        "burstable",
        f"/kubepods/burstable/pod{STATIC_POD_UID}/{CTD_ID}",
    ),
    # docker as the Kubernetes runtime (dockershim / cri-dockerd), systemd driver
    (
        "/kubepods.slice/kubepods-besteffort.slice/"
        f"kubepods-besteffort-pod{POD_UID_}.slice/docker-{DOCKER_ID}.scope",
        "docker",
        DOCKER_ID,
        POD_UID,
        "besteffort",
        "/kubepods.slice/kubepods-besteffort.slice/"
        f"kubepods-besteffort-pod{POD_UID_}.slice/docker-{DOCKER_ID}.scope",
    ),
    # CRI-O: systemd and cgroupfs drivers
    (
        "/kubepods.slice/kubepods-besteffort.slice/"
        f"kubepods-besteffort-pod{POD_UID_}.slice/crio-{CRIO_ID}.scope",
        "cri-o",
        CRIO_ID,
        POD_UID,
        "besteffort",
        "/kubepods.slice/kubepods-besteffort.slice/"
        f"kubepods-besteffort-pod{POD_UID_}.slice/crio-{CRIO_ID}.scope",
    ),
    (
        f"/kubepods/burstable/pod{POD_UID}/crio-{CRIO_ID}",
        "cri-o",
        CRIO_ID,
        POD_UID,
        "burstable",
        f"/kubepods/burstable/pod{POD_UID}/crio-{CRIO_ID}",
    ),
    # LXC: v1 layout, LXC >= 4 / LXD, LXC 3 on cgroup2; a service inside the container
    ("/lxc/web", "lxc", "web", "", "", "/lxc/web"),
    ("/lxc.payload.web", "lxc", "web", "", "", "/lxc.payload.web"),
    ("/lxc.payload/web", "lxc", "web", "", "", "/lxc.payload/web"),
    (
        "/lxc.payload.web/system.slice/nginx.service",
        "lxc",
        "web",
        "",
        "",
        "/lxc.payload.web",
    ),
    # runc with its systemd cgroup driver (--systemd-cgroup, "system.slice:runc:mybox")
    ("/system.slice/runc-mybox.scope", "runc", "mybox", "", "", "/system.slice/runc-mybox.scope"),
    # systemd services
    (
        "/system.slice/nginx.service",
        "systemd",
        "nginx.service",
        "",
        "",
        "/system.slice/nginx.service",
    ),
    (
        "/system.slice/system-getty.slice/getty@tty1.service",
        "systemd",
        "getty@tty1.service",
        "",
        "",
        "/system.slice/system-getty.slice/getty@tty1.service",
    ),
    (
        "/system.slice/containerd.service",
        "systemd",
        "containerd.service",
        "",
        "",
        "/system.slice/containerd.service",
    ),
    # a 64-hex id no runtime pattern claims: docker --cgroup-parent, nerdctl cgroupfs
    (f"/mygroup/{DOCKER_ID}", "unknown", DOCKER_ID, "", "", f"/mygroup/{DOCKER_ID}"),
    (f"/default/{CTD_ID}", "unknown", CTD_ID, "", "", f"/default/{CTD_ID}"),
]

HOST_PATHS = [
    "/",
    "",
    "/init.scope",
    "/system.slice",
    "/machine.slice",
    "/user.slice",
    "/user.slice/user-1000.slice/session-3.scope",
    "/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service",
    "/system.slice/run-r8d2f1c0e.scope",
    "/system.slice/-.mount",
    "/process_api/ecdc7b2f33b204a4f7e600da9d85b4b2",  # this machine's supervisor
    "/mybox",  # plain runc: only runc's state can tell (ContainerResolver does)
    # runtime helpers, not the container
    "/libpod_parent/conmon",
    f"/machine.slice/libpod-conmon-{PODMAN_ID}.scope",
    f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-{PODMAN_ID}.scope",
    "/kubepods.slice/kubepods-besteffort.slice/"
    f"kubepods-besteffort-pod{POD_UID_}.slice/crio-conmon-{CRIO_ID}.scope",
    f"/kubepods/burstable/pod{POD_UID}/crio-conmon-{CRIO_ID}",
    "/lxc.monitor.web",
    "/lxc.monitor/web",
    # pod and QoS levels hold no container's processes
    "/kubepods",
    "/kubepods/burstable",
    f"/kubepods/burstable/pod{POD_UID}",
    "/kubepods.slice/kubepods-burstable.slice",
    f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD_UID_}.slice",
    # podman pod cgroups (cgroupfs and systemd)
    f"/libpod_parent/{INNER_ID}",
    f"/machine.slice/machine-libpod_pod_{INNER_ID}.slice",
    # not 64 hex
    "/docker/abc123",
    f"/system.slice/docker-{DOCKER_ID[:12]}.scope",
]


@pytest.mark.parametrize("path, runtime, cid, pod_uid, qos, own", CONTAINER_PATHS)
def test_container_paths(path, runtime, cid, pod_uid, qos, own):
    ref = parse_cgroup_path(path)
    assert ref is not None, path
    assert (ref.runtime, ref.id, ref.pod_uid, ref.qos, ref.cgroup_path) == (
        runtime,
        cid,
        pod_uid,
        qos,
        own,
    )
    assert ref.parent is None


@pytest.mark.parametrize("path", HOST_PATHS)
def test_host_paths(path):
    assert parse_cgroup_path(path) is None


def test_nested_docker_in_docker():
    ref = parse_cgroup_path(f"/docker/{DOCKER_ID}/docker/{INNER_ID}")
    assert (ref.runtime, ref.id) == ("docker", INNER_ID)
    assert ref.cgroup_path == f"/docker/{DOCKER_ID}/docker/{INNER_ID}"
    assert ref.parent == ContainerRef("docker", DOCKER_ID, f"/docker/{DOCKER_ID}")


def test_nested_kind_node_pod():
    # kind: a Kubernetes node in a docker container, kubelet --cgroup-root=/kubelet
    path = (
        f"/system.slice/docker-{DOCKER_ID}.scope/kubelet.slice/kubelet-kubepods.slice/"
        "kubelet-kubepods-besteffort.slice/"
        f"kubelet-kubepods-besteffort-pod{POD_UID_}.slice/cri-containerd-{CTD_ID}.scope"
    )
    ref = parse_cgroup_path(path)
    assert (ref.runtime, ref.id, ref.pod_uid, ref.qos) == (
        "containerd",
        CTD_ID,
        POD_UID,
        "besteffort",
    )
    assert ref.parent.runtime == "docker" and ref.parent.id == DOCKER_ID
    assert ref.parent.pod_uid == ""


def test_container_in_lxc_in_docker():
    ref = parse_cgroup_path(f"/docker/{DOCKER_ID}/lxc/inner")
    assert (ref.runtime, ref.id, ref.parent.id) == ("lxc", "inner", DOCKER_ID)


def test_uppercase_is_not_an_id():
    assert parse_cgroup_path(f"/docker/{DOCKER_ID.upper()}") is None


# --- the resolver over a fixture cgroup tree ---------------------------------------------


def _ino(p: Path) -> int:
    return os.stat(p).st_ino


class StubRuntimes(RuntimeClient):
    """A RuntimeClient whose answers are canned; records what it was asked."""

    def __init__(self, answers: dict[str, Metadata] | None = None, **kw) -> None:
        super().__init__(podman_bin=None, **kw)
        self.answers = answers or {}
        self.asked: list[tuple[str, str]] = []
        self.delay = 0.0

    def metadata(self, runtime: str, container_id: str) -> Metadata:
        self.asked.append((runtime, container_id))
        time.sleep(self.delay)
        md = self.answers.get(container_id)
        return Metadata(**{f: getattr(md, f) for f in md.__slots__}) if md else Metadata()


@pytest.fixture
def host(tmp_path):
    """A cgroup2 tree, an empty runc root, a /proc with a few pids."""
    cg = tmp_path / "cg"
    for d in (
        "init.scope",
        f"libpod_parent/libpod-{PODMAN_ID}",
        "libpod_parent/conmon",
        f"system.slice/docker-{DOCKER_ID}.scope/inner",
        "system.slice/nginx.service",
        f"kubepods/burstable/pod{POD_UID}/{CTD_ID}",
        "mybox/sub",
        "lxc.payload.web",
    ):
        (cg / d).mkdir(parents=True)
    (tmp_path / "runc").mkdir()
    (tmp_path / "proc").mkdir()
    layout = CgroupLayout("v2", (CgroupMount(str(cg), 2, "/"),))

    class Host:
        root = tmp_path
        cgroups = cg
        runc = tmp_path / "runc"
        proc = tmp_path / "proc"

        def id(self, rel: str) -> int:
            return _ino(cg / rel) if rel else _ino(cg)

        def pid(self, pid: int, text: str) -> None:
            (tmp_path / "proc" / str(pid)).mkdir()
            (tmp_path / "proc" / str(pid) / "cgroup").write_text(text)

        def resolver(self, answers=None, layout=layout, **kw) -> ContainerResolver:
            index = CgroupIndex(str(cg), min_rescan_interval=0.0)
            rt = StubRuntimes(answers, runc_root=str(tmp_path / "runc"), layout=layout)
            kw.setdefault("background", False)
            return ContainerResolver(
                index if layout.unified else None,
                proc_root=str(tmp_path / "proc"),
                layout=layout,
                runtimes=rt,
                **kw,
            )

    return Host()


WEB1 = Metadata(
    name="web1",
    image="localhost/bb:1",
    labels={"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop"},
    pod_name="web-0",
    pod_namespace="shop",
    source="podman-cli",
)


def test_resolve_podman_with_metadata(host):
    r = host.resolver({PODMAN_ID: WEB1})
    c = r.resolve(host.id(f"libpod_parent/libpod-{PODMAN_ID}"))
    assert (c.runtime, c.id, c.name, c.image) == ("podman", PODMAN_ID, "web1", "localhost/bb:1")
    assert (c.pod_name, c.pod_namespace) == ("web-0", "shop")
    assert c.labels["io.kubernetes.pod.name"] == "web-0"
    assert c.cgroup_path == f"/libpod_parent/libpod-{PODMAN_ID}"
    assert c.short_id == PODMAN_ID[:12]


def test_resolve_is_cached_one_object_per_container(host):
    r = host.resolver({DOCKER_ID: Metadata(name="d", source="docker-api")})
    a = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))
    b = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope/inner"))
    assert a is b
    assert r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope")) is a
    assert r.runtimes.asked == [("docker", DOCKER_ID)]  # asked once


def test_container_without_metadata_is_still_a_container(host):
    r = host.resolver()
    c = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))
    assert (c.runtime, c.id, c.name, c.image, c.labels) == (
        "docker",
        DOCKER_ID,
        DOCKER_ID[:12],
        "",
        {},
    )
    assert not c.is_host


def test_host_cgroups_are_host(host):
    r = host.resolver()
    for rel in ("", "init.scope", "libpod_parent", "libpod_parent/conmon"):
        assert r.resolve(host.id(rel)) is HOST
    assert r.runtimes.asked == []


def test_kubernetes_cgroupfs_gets_runtime_from_metadata(host):
    md = Metadata(name="nginx", runtime="containerd", pod_name="web-0", source="containerd-config")
    r = host.resolver({CTD_ID: md})
    c = r.resolve(host.id(f"kubepods/burstable/pod{POD_UID}/{CTD_ID}"))
    assert (c.runtime, c.name, c.pod_uid, c.pod_name) == ("containerd", "nginx", POD_UID, "web-0")
    assert r.runtimes.asked == [("kubernetes", CTD_ID)]


def test_kubernetes_cgroupfs_without_metadata(host):
    c = host.resolver().resolve(host.id(f"kubepods/burstable/pod{POD_UID}/{CTD_ID}"))
    assert (c.runtime, c.id, c.pod_uid) == ("kubernetes", CTD_ID, POD_UID)


def test_systemd_services(host):
    c = host.resolver().resolve(host.id("system.slice/nginx.service"))
    assert (c.runtime, c.id, c.name) == ("systemd", "nginx.service", "nginx.service")
    assert (
        host.resolver(systemd_services=False).resolve(host.id("system.slice/nginx.service")) is HOST
    )


def test_lxc_needs_no_runtime(host):
    r = host.resolver()
    c = r.resolve(host.id("lxc.payload.web"))
    assert (c.runtime, c.id, c.name) == ("lxc", "web", "web")
    assert r.runtimes.asked == []


def _runc_state(host, name: str, cgroup: str, labels: list[str], mkdir: bool = True) -> None:
    """A runc state.json as runc 1.1 writes it, for a container at ``cgroup``."""
    doc = json.loads((FIXTURES / "runc_state_plain.json").read_text())
    doc["id"] = name
    doc["config"]["labels"] = labels
    doc["config"]["cgroups"]["name"] = name
    doc["cgroup_paths"] = {"": str(host.cgroups) + cgroup}
    if mkdir:
        (host.runc / name).mkdir()
    (host.runc / name / "state.json").write_text(json.dumps(doc))


def test_plain_runc_from_state(host):
    _runc_state(host, "mybox", "/mybox", ["org.opencontainers.image.ref.name=bb:1", "bundle=/b"])
    r = ContainerResolver(
        CgroupIndex(str(host.cgroups)),
        proc_root=str(host.proc),
        layout=CgroupLayout("v2", (CgroupMount(str(host.cgroups), 2, "/"),)),
        runtimes=RuntimeClient(
            runc_root=str(host.runc),
            podman_bin=None,
            layout=CgroupLayout("v2", (CgroupMount(str(host.cgroups), 2, "/"),)),
        ),
        background=False,
    )
    c = r.resolve(host.id("mybox/sub"))
    assert (c.runtime, c.id, c.name, c.image) == ("runc", "mybox", "mybox", "bb:1")
    assert c.cgroup_path == "/mybox"
    assert c.labels["bundle"] == "/b"
    assert r.resolve(host.id("mybox")) is c


def test_runc_state_appearing_later_is_seen(host):
    r = host.resolver()
    assert r.resolve_path("/mybox") is HOST
    time.sleep(0.01)  # a new mtime for the runc root
    _runc_state(host, "mybox", "/mybox", [])
    c = r.resolve_path("/mybox/sub")
    assert (c.runtime, c.id) == ("runc", "mybox")


def test_runc_state_written_after_first_syscalls(host, monkeypatch):
    """runc creates /run/runc/NAME, starts the container's init (which already
    makes syscalls in /NAME), and only then writes state.json."""
    monkeypatch.setattr("cdig.collector.containers._PROVISIONAL_RECHECK", 0.0)
    (host.runc / "mybox").mkdir()  # the root's listing changes now, not later
    r = host.resolver()
    cgid = host.id("mybox")
    assert r.resolve(cgid) is HOST  # provisional
    _runc_state(host, "mybox", "/mybox", [], mkdir=False)
    c = r.resolve(cgid)
    assert (c.runtime, c.id) == ("runc", "mybox")
    assert r.resolve(cgid) is c


def test_unknown_path_becomes_final_host(host, monkeypatch):
    monkeypatch.setattr("cdig.collector.containers._PROVISIONAL_RECHECK", 0.0)
    monkeypatch.setattr("cdig.collector.containers._PROVISIONAL_WINDOW", 0.0)
    r = host.resolver()
    cgid = host.id("mybox")
    assert r.resolve(cgid) is HOST
    assert r.resolve(cgid) is HOST
    _runc_state(host, "mybox", "/mybox", [])
    assert r.resolve(cgid) is HOST  # too late: the answer was final


def test_resolve_pid(host):
    host.pid(100, f"0::/libpod_parent/libpod-{PODMAN_ID}\n")
    host.pid(101, "0::/init.scope\n")
    r = host.resolver({PODMAN_ID: WEB1})
    assert r.resolve_pid(100).name == "web1"
    assert r.resolve_pid(101) is HOST
    assert r.resolve_pid(999) is HOST  # vanished


def test_unknown_cgroup_id_falls_back_to_pid_and_is_not_cached(host):
    host.pid(100, f"0::/libpod_parent/libpod-{PODMAN_ID}\n")
    r = host.resolver()
    assert r.resolve(123456789) is HOST
    assert r.resolve(123456789, pid=100).runtime == "podman"
    assert r.resolve(123456789) is HOST


def test_v1_only_host_resolves_by_pid(host):
    v1 = CgroupLayout("v1", (CgroupMount("/sys/fs/cgroup/pids", 1, "/", ("pids",)),))
    host.pid(100, f"4:pids:/docker/{DOCKER_ID}\n1:name=systemd:/docker/{DOCKER_ID}\n")
    r = host.resolver(layout=v1)
    assert not r.cgroup_ids_usable
    assert r.resolve(1, pid=100).id == DOCKER_ID
    assert r.resolve(1) is HOST
    assert r.cgroup_ids_for(r.resolve_pid(100)) == set()
    assert [c.id for c in r.scan()] == [DOCKER_ID]
    assert r.prune() == []


def test_hybrid_root_cgroup_falls_back_to_pid(host):
    hybrid = CgroupLayout(
        "hybrid",
        (CgroupMount(str(host.cgroups), 2, "/"), CgroupMount("/x/pids", 1, "/", ("pids",))),
    )
    host.pid(100, f"8:pids:/docker/{DOCKER_ID}\n0::/\n")
    host.pid(101, "8:pids:/\n0::/\n")
    r = host.resolver(layout=hybrid)
    root = host.id("")
    assert r.resolve(root, pid=100).id == DOCKER_ID
    assert r.resolve(root, pid=101) is HOST
    assert r.resolve(root) is HOST
    assert r.resolve(root, pid=100).id == DOCKER_ID  # per pid, not cached by id


def test_pure_v2_root_cgroup_is_host_without_reading_proc(host):
    host.pid(100, f"0::/libpod_parent/libpod-{PODMAN_ID}\n")  # would mislead if read
    assert host.resolver().resolve(host.id(""), pid=100) is HOST


def test_list_scan_by_ref(host):
    r = host.resolver({PODMAN_ID: WEB1})
    assert r.list() == []
    r.scan()
    got = {(c.runtime, c.id) for c in r.list()}
    assert got == {
        ("podman", PODMAN_ID),
        ("docker", DOCKER_ID),
        ("systemd", "nginx.service"),
        ("kubernetes", CTD_ID),
        ("lxc", "web"),
    }
    assert r.list(include_host=True)[0] is HOST
    assert [c.id for c in r.by_ref("web1")] == [PODMAN_ID]
    assert [c.id for c in r.by_ref(PODMAN_ID)] == [PODMAN_ID]
    assert [c.id for c in r.by_ref("fffa8b")] == [PODMAN_ID]
    assert [c.id for c in r.by_ref("fff")] == [PODMAN_ID]
    assert r.by_ref("ff") == []  # too short to be a prefix
    assert r.by_ref("web") == [r.resolve_path("/lxc.payload.web")]  # lxc name, exact
    assert r.by_ref("host") == [HOST]
    assert r.by_ref("nope") == []


def test_by_ref_scans_when_nothing_seen(host):
    r = host.resolver({PODMAN_ID: WEB1})
    assert [c.id for c in r.by_ref("web1")] == [PODMAN_ID]


def test_by_ref_exact_id_beats_name_and_prefix(host):
    r = host.resolver({DOCKER_ID: Metadata(name=PODMAN_ID[:5], source="x")})
    r.scan()
    # "fffa8" is the docker container's name and a prefix of the podman id: name wins
    assert [c.id for c in r.by_ref(PODMAN_ID[:5])] == [DOCKER_ID]


def test_cgroup_ids_for_includes_children(host):
    r = host.resolver()
    d = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))
    assert r.cgroup_ids_for(d) == {
        host.id(f"system.slice/docker-{DOCKER_ID}.scope"),
        host.id(f"system.slice/docker-{DOCKER_ID}.scope/inner"),
    }
    # a child cgroup created later is found on the next call
    (host.cgroups / f"system.slice/docker-{DOCKER_ID}.scope/later").mkdir()
    assert host.id(f"system.slice/docker-{DOCKER_ID}.scope/later") in r.cgroup_ids_for(d)
    host_ids = r.cgroup_ids_for(HOST)
    assert host.id("") in host_ids and host.id("libpod_parent/conmon") in host_ids
    assert host.id(f"system.slice/docker-{DOCKER_ID}.scope") not in host_ids


def test_prune_forgets_removed_containers(host):
    r = host.resolver()
    r.scan()
    d = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))
    shutil.rmtree(host.cgroups / f"system.slice/docker-{DOCKER_ID}.scope")
    assert r.prune() == [d]
    assert all(c.id != DOCKER_ID for c in r.list())
    assert r.prune() == []


# --- background metadata -----------------------------------------------------------------


def test_background_lookup_fills_in_the_same_object(host):
    r = host.resolver({PODMAN_ID: WEB1}, background=True)
    r.runtimes.delay = 0.2
    try:
        t = time.monotonic()
        c = r.resolve(host.id(f"libpod_parent/libpod-{PODMAN_ID}"))
        assert time.monotonic() - t < 0.1  # did not wait for the runtime
        assert c.name == PODMAN_ID[:12]
        assert r.wait_for_metadata(5)
        assert c.name == "web1" and c.pod_name == "web-0"
        assert r.resolve(host.id(f"libpod_parent/libpod-{PODMAN_ID}")) is c
    finally:
        r.close()


def test_wait_for_metadata_is_bounded(host):
    r = host.resolver({PODMAN_ID: WEB1}, background=True)
    r.runtimes.delay = 1.0
    try:
        r.resolve(host.id(f"libpod_parent/libpod-{PODMAN_ID}"))
        t = time.monotonic()
        assert not r.wait_for_metadata(0.1)
        assert time.monotonic() - t < 0.5
    finally:
        r.close()


def test_failed_lookup_is_retried(host):
    r = host.resolver(background=True, retries=2, retry_delay=0.05)
    try:
        c = r.resolve(host.id(f"libpod_parent/libpod-{PODMAN_ID}"))
        assert r.wait_for_metadata(5)
        assert c.name == PODMAN_ID[:12]  # the first lookup found nothing
        r.runtimes.answers[PODMAN_ID] = WEB1  # the runtime catches up
        deadline = time.monotonic() + 5
        while c.name != "web1" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.name == "web1"
        assert r.runtimes.asked.count(("podman", PODMAN_ID)) == 2
    finally:
        r.close()


def test_hung_docker_socket_never_blocks_resolve(host, tmp_path):
    """A docker daemon that accepts and never answers: resolve() returns at once,
    the lookup gives up after the client's timeout, the container keeps its id."""
    sock_path = str(tmp_path / "docker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])  # ... and never answer
            except TimeoutError:
                continue

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    layout = CgroupLayout("v2", (CgroupMount(str(host.cgroups), 2, "/"),))
    rt = RuntimeClient(
        runc_root=str(host.runc),
        docker_socket=sock_path,
        docker_root=str(tmp_path / "no-docker"),
        podman_bin=None,
        layout=layout,
        timeout=0.3,
    )
    r = ContainerResolver(
        CgroupIndex(str(host.cgroups)), proc_root=str(host.proc), layout=layout, runtimes=rt,
        retries=0,
    )  # fmt: skip
    try:
        t = time.monotonic()
        c = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))
        assert time.monotonic() - t < 0.1
        assert r.wait_for_metadata(3)
        assert 0.25 < time.monotonic() - t < 2.0
        assert (c.runtime, c.id, c.name) == ("docker", DOCKER_ID, DOCKER_ID[:12])
        assert accepted  # it did ask
    finally:
        r.close()
        stop.set()
        th.join()
        server.close()
        for s in accepted:
            s.close()


def test_close_is_idempotent_and_stops_lookups(host):
    r = host.resolver({PODMAN_ID: WEB1}, background=True)
    with r:
        r.resolve(host.id(f"libpod_parent/libpod-{PODMAN_ID}"))
        r.wait_for_metadata(5)
    r.close()
    c = r.resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))  # no worker: id only
    assert c.id == DOCKER_ID


def test_labels_from_runtime_stay_data(host):
    evil = Metadata(
        name="[bold red]x[/]\x1b[31m",
        labels={"k": "$(rm -rf /)", "io.kubernetes.pod.name": "%s%n"},
        pod_name="%s%n",
        source="docker-api",
    )
    c = host.resolver({DOCKER_ID: evil}).resolve(host.id(f"system.slice/docker-{DOCKER_ID}.scope"))
    assert c.name == "[bold red]x[/]\x1b[31m"
    assert c.labels["k"] == "$(rm -rf /)"
    assert c.pod_name == "%s%n"


def test_pid_fallback_is_cached_briefly(host):
    v1 = CgroupLayout("v1", (CgroupMount("/sys/fs/cgroup/pids", 1, "/", ("pids",)),))
    host.pid(100, "4:pids:/\n")
    r = host.resolver(layout=v1, pid_cache_ttl=60)
    assert r.resolve(1, pid=100) is HOST
    # runc moved the task into its container: the cache still answers ...
    (host.proc / "100" / "cgroup").write_text(f"4:pids:/docker/{DOCKER_ID}\n")
    assert r.resolve(1, pid=100) is HOST
    assert r.resolve_pid(100).id == DOCKER_ID  # (resolve_pid itself is not cached)
    # ... until the pipeline says the process exec'd or exited
    r.forget_pid(100)
    assert r.resolve(1, pid=100).id == DOCKER_ID
    r2 = host.resolver(layout=v1, pid_cache_ttl=0)
    host.pid(101, "4:pids:/\n")
    assert r2.resolve(1, pid=101) is HOST
    (host.proc / "101" / "cgroup").write_text(f"4:pids:/docker/{DOCKER_ID}\n")
    assert r2.resolve(1, pid=101).id == DOCKER_ID


# --- new cgroups resolved the moment they appear (watch / pending / wait_for) ------------


def _until(cond, timeout: float = 5.0) -> bool:
    """Poll ``cond`` until true (bounded); its last value."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def watching(host):
    """A resolver watching the fixture tree, lookups in the background."""
    made = []

    def make(answers=None, delay: float = 0.0, **kw) -> ContainerResolver:
        r = host.resolver(answers, background=True, **kw)
        r.runtimes.delay = delay
        assert r.watch()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_watch_knows_existing_cgroups_without_a_rescan(host, watching):
    r = watching({PODMAN_ID: WEB1})
    assert r.watching
    scans = r.cgroups.scans
    cgid = host.id(f"libpod_parent/libpod-{PODMAN_ID}")
    assert r.wait_for([cgid], 5)
    c = r.resolve(cgid)
    assert (c.runtime, c.name) == ("podman", "web1")
    assert ("podman", PODMAN_ID) in r.runtimes.asked
    assert r.cgroups.scans == scans  # answered from what the watcher learned


def test_new_container_pending_until_named(host, watching):
    new_id = "ab" * 32
    md = Metadata(name="late", image="img:1", labels={"k": "v"}, source="podman-cli")
    r = watching({new_id: md}, delay=0.3)
    d = host.cgroups / "libpod_parent" / f"libpod-{new_id}"
    d.mkdir()
    cgid = _ino(d)
    # the watcher classified it and started the lookup before anything asked
    assert _until(lambda: ("podman", new_id) in r.runtimes.asked)
    assert r.pending(cgid)
    assert r.resolve(cgid).id == new_id  # id only, meanwhile
    t = time.monotonic()
    assert r.wait_for([cgid], 5)
    assert time.monotonic() - t < 2
    assert not r.pending(cgid)
    c = r.resolve(cgid)
    assert (c.name, c.image, c.labels) == ("late", "img:1", {"k": "v"})
    started, landed, source = r.lookup_times()[("podman", new_id)]
    assert 0.25 < landed - started < 2 and source == "podman-cli"


def test_container_without_metadata_is_not_pending_once_asked(host, watching):
    r = watching({}, delay=0.1, retries=0)
    cgid = host.id(f"libpod_parent/libpod-{PODMAN_ID}")
    assert r.wait_for([cgid], 5)
    assert not r.pending(cgid)
    assert r.resolve(cgid).name == PODMAN_ID[:12]


def test_host_and_services_are_never_pending(host, watching):
    r = watching()
    for rel in ("", "init.scope", "system.slice/nginx.service", "libpod_parent/conmon"):
        assert not r.pending(host.id(rel)), rel


def test_unknown_id_pending_only_briefly_while_watching(host, watching):
    r = watching(pending_grace=0.2)
    assert r.pending(987654321)  # the watcher may not have reported it yet
    assert _until(lambda: not r.pending(987654321), 2)
    unwatched = host.resolver(background=True)
    try:
        assert not unwatched.pending(987654321)  # without a watcher it cannot know
    finally:
        unwatched.close()


def test_runc_container_pending_until_its_state_file(host, watching, monkeypatch):
    """runc makes /run/runc/NAME, then the cgroup, starts init in it, and only
    then writes state.json: the cgroup is pending meanwhile, then runc's."""
    r = watching()
    (host.runc / "newbox").mkdir()
    d = host.cgroups / "newbox"
    d.mkdir()
    cgid = _ino(d)
    assert _until(lambda: r.cgroups.peek(cgid) == "/newbox")
    assert r.pending(cgid)
    assert r.resolve(cgid) is HOST  # not known yet
    time.sleep(0.05)
    assert r.pending(cgid)
    _runc_state(host, "newbox", "/newbox", ["bundle=/b"], mkdir=False)
    assert r.wait_for([cgid], 2)
    c = r.resolve(cgid)
    assert (c.runtime, c.id, c.name) == ("runc", "newbox", "newbox")


def test_unrecognised_cgroup_not_pending_without_runc_activity(host, watching):
    r = watching()
    d = host.cgroups / "plainhost"
    d.mkdir()
    cgid = _ino(d)
    assert _until(lambda: r.cgroups.peek(cgid) is not None)
    assert not r.pending(cgid)
    assert r.resolve(cgid) is HOST


def test_lookups_run_in_parallel(host, watching):
    ids = [f"{i:02x}" * 32 for i in range(3)]
    r = watching({i: Metadata(name=f"n{i[:2]}", source="podman-cli") for i in ids}, delay=0.4)
    t = time.monotonic()
    cgids = []
    for i in ids:
        d = host.cgroups / "libpod_parent" / f"libpod-{i}"
        d.mkdir()
        cgids.append(_ino(d))
    assert r.wait_for(cgids, 5)
    assert time.monotonic() - t < 1.0  # 3 x 0.4 s one after the other would be 1.2 s
    assert {r.resolve(g).name for g in cgids} == {f"n{i[:2]}" for i in ids}


def test_wait_for_is_bounded(host, watching):
    new_id = "cd" * 32
    r = watching({new_id: Metadata(name="slow", source="podman-cli")}, delay=1.5)
    d = host.cgroups / "libpod_parent" / f"libpod-{new_id}"
    d.mkdir()
    t = time.monotonic()
    assert not r.wait_for([_ino(d)], 0.2)
    assert time.monotonic() - t < 0.6


def test_containerd_task_cgroup_is_containerd(host, tmp_path):
    tasks = tmp_path / "tasks"
    (tasks / "k8s.io" / "web").mkdir(parents=True)
    (tasks / "moby" / DOCKER_ID).mkdir(parents=True)
    (host.cgroups / "k8s.io" / "web" / "sub").mkdir(parents=True)
    (host.cgroups / "moby" / DOCKER_ID).mkdir(parents=True)
    layout = CgroupLayout("v2", (CgroupMount(str(host.cgroups), 2, "/"),))
    rt = StubRuntimes(
        {"web": Metadata(name="web", image="docker.io/library/bb:1", source="containerd-ctr")},
        runc_root=str(host.runc),
        containerd_tasks=str(tasks),
        layout=layout,
    )
    r = ContainerResolver(
        CgroupIndex(str(host.cgroups)), layout=layout, runtimes=rt, background=False
    )
    c = r.resolve(host.id("k8s.io/web/sub"))
    assert (c.runtime, c.id, c.name, c.image) == (
        "containerd",
        "web",
        "web",
        "docker.io/library/bb:1",
    )
    assert c.cgroup_path == "/k8s.io/web"
    assert rt.asked == [("containerd", "web")]
    assert r.resolve(host.id(f"moby/{DOCKER_ID}")).runtime != "containerd"  # dockerd's namespace


def test_close_stops_the_watcher(host):
    r = host.resolver(background=True)
    assert r.watch()
    t = r._watch._thread
    r.close()
    assert t is not None and not t.is_alive()
    assert not r.watching
    r.close()  # idempotent


def test_containers_command_names_runtimes_that_did_not_answer():
    from cdig.collector.events import Container
    from cdig.containers_cmd import unanswered

    class FakeResolver:
        def lookup_times(self):
            return {
                ("podman", "a" * 64): (1.0, 0.0, ""),  # still in flight
                ("podman", "b" * 64): (1.0, 0.0, ""),
                ("docker", "c" * 64): (1.0, 1.2, ""),  # answered: knew nothing
                ("unknown", "d" * 64): (1.0, 0.0, ""),
                ("containerd", "web"): (1.0, 1.1, "containerd-ctr"),  # named
            }

    cs = [
        Container(i * 64, i * 12, rt)
        for i, rt in (("a", "podman"), ("b", "podman"), ("c", "docker"), ("d", "unknown"))
    ]
    cs += [Container("web", "web", "containerd"), Container("box", "box", "lxc")]
    assert unanswered(FakeResolver(), cs) == [
        ("docker", "knew nothing about", 1),
        ("podman", "did not answer", 2),
        ("unknown", "did not answer", 1),
    ]


# --- systemd-nspawn ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, name, own",
    [
        ("/machine.slice/machine-web.scope/payload", "web", "/machine.slice/machine-web.scope"),
        (
            r"/machine.slice/machine-my\x2dbox.scope",
            "my-box",
            r"/machine.slice/machine-my\x2dbox.scope",
        ),
        (
            "/machine.slice/systemd-nspawn@deb.service/payload",
            "deb",
            "/machine.slice/systemd-nspawn@deb.service",
        ),
    ],
)
def test_nspawn_paths(path, name, own):
    ref = parse_cgroup_path(path)
    assert (ref.runtime, ref.id, ref.cgroup_path) == ("nspawn", name, own)


@pytest.mark.parametrize(
    "argv, name",
    [
        (["systemd-nspawn", "-q", "-M", "web", "-D", "/srv/x", "--", "sh"], "web"),
        (["systemd-nspawn", "--machine=web", "/bin/sh", "-M", "no"], "web"),
        (["/usr/bin/systemd-nspawn", "-Mweb"], "web"),
        (["systemd-nspawn", "-D", "/var/lib/machines/deb/"], "deb"),
        (["systemd-nspawn", "--image=/img/fedora.raw", "--", "-M", "x"], "fedora"),
        (["systemd-nspawn", "/bin/sh"], ""),
    ],
)
def test_nspawn_machine_name(argv, name):
    assert nspawn_machine_name(argv) == name


def test_nspawn_keep_unit_payload(host):
    """Without machined, ``systemd-nspawn --keep-unit`` splits its cgroup into
    supervisor (itself) and payload (the container): captured on this machine."""
    (host.cgroups / "box1" / "supervisor").mkdir(parents=True)
    (host.cgroups / "box1" / "payload").mkdir()
    (host.cgroups / "box2" / "payload").mkdir(parents=True)  # no supervisor: not nspawn
    (host.cgroups / "box1" / "supervisor" / "cgroup.procs").write_text("41\n")
    host.pid(41, "0::/box1/supervisor\n")
    cmd = b"systemd-nspawn\0-q\0-D\0/tmp/r\0--register=no\0--keep-unit\0-M\0web1\0/bin/sh\0"
    (host.proc / "41" / "cmdline").write_bytes(cmd)
    r = host.resolver()
    c = r.resolve(host.id("box1/payload"))
    assert (c.runtime, c.id, c.name, c.cgroup_path) == ("nspawn", "web1", "web1", "/box1/payload")
    assert r.resolve(host.id("box2/payload")) is HOST
    assert r.runtimes.asked == []  # nothing to ask


def test_crio_real_cgroup_paths():
    """CRI-O's systemd driver turns cgroupsPath ``pod_123-456.slice:crio:<id>``
    (a real ``crictl inspect``) into ``/pod_123-456.slice/crio-<id>.scope``."""
    cid = "19b7277b9d905f981af64396c9c6bed34d39504ac63e53a75417cb5746887c21"
    ref = parse_cgroup_path(f"/pod_123-456.slice/crio-{cid}.scope")
    assert (ref.runtime, ref.id) == ("cri-o", cid)
    assert parse_cgroup_path(f"/pod_123-456.slice/crio-conmon-{cid}.scope") is None


def test_v1_only_host_watch_starts_lookups_at_mkdir(tmp_path):
    """No cgroup2: ids say nothing (pending is False), but the watcher on the
    v1 hierarchy still starts the lookup when the container's cgroup is made,
    so resolve_pid finds it named."""
    v1 = tmp_path / "pids"
    (v1 / "libpod_parent").mkdir(parents=True)
    (tmp_path / "proc").mkdir()
    layout = CgroupLayout("v1", (CgroupMount(str(v1), 1, "/", ("pids",)),))
    new_id = "ef" * 32
    rt = StubRuntimes({new_id: WEB1}, runc_root=str(tmp_path / "runc"), layout=layout)
    r = ContainerResolver(None, proc_root=str(tmp_path / "proc"), layout=layout, runtimes=rt)
    try:
        assert r.watch()
        (v1 / "libpod_parent" / f"libpod-{new_id}").mkdir()
        assert _until(lambda: ("podman", new_id) in rt.asked)
        assert r.wait_for_metadata(5)
        assert not r.pending(12345)
        (tmp_path / "proc" / "77").mkdir()
        (tmp_path / "proc" / "77" / "cgroup").write_text(f"1:pids:/libpod_parent/libpod-{new_id}\n")
        c = r.resolve(1, pid=77)
        assert (c.runtime, c.name) == ("podman", "web1")
        assert rt.asked.count(("podman", new_id)) == 1  # asked once, at mkdir
    finally:
        r.close()
