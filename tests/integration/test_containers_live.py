"""Container resolution against real podman and runc containers on this host.

Needs root, podman and runc (skipped without them; a failure when CI=true, see
``containers.require``). Uses the shared factories of ``conftest.py``, which
remove every container in teardown.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from cdig.collector.cgroups import CgroupIndex, cgroup_layout
from cdig.collector.containers import ContainerResolver
from cdig.collector.events import HOST
from cdig.collector.namespaces import host_namespaces, namespaces_of, shared_with_host
from cdig.collector.runtimes import RuntimeClient

from .containers import Workload, require

pytestmark = pytest.mark.integration

POD_LABELS = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop"}


@pytest.fixture
def resolver():
    require("root")
    r = ContainerResolver.for_host()
    yield r
    r.close()


def test_podman_container(podman_container, podman_image, resolver):
    c = podman_container(Workload().getppid(1), labels=POD_LABELS)  # idle at its gate

    got = resolver.resolve_pid(c.pid)
    assert (got.runtime, got.id) == ("podman", c.id)
    assert resolver.wait_for_metadata(15)
    assert got.name == c.name
    assert got.image == podman_image
    assert (got.pod_name, got.pod_namespace) == ("web-0", "shop")
    assert got.labels["io.kubernetes.pod.name"] == "web-0"
    assert got.cgroup_path == c.cgroup

    if resolver.cgroup_ids_usable:
        # the BPF view: cgroup id -> the very same record
        assert resolver.resolve(c.cgroup_id, pid=c.pid) is got
        assert c.cgroup_id in resolver.cgroup_ids_for(got)
        assert c.cgroup_id not in resolver.cgroup_ids_for(HOST)
    assert resolver.by_ref(c.name) == [got]
    assert resolver.by_ref(c.id[:8]) == [got]

    # own net/pid/mnt/uts/ipc namespaces; podman shares the host's user namespace
    shared = shared_with_host(namespaces_of(c.pid), host_namespaces())
    assert not shared & {"net", "pid", "mnt", "uts", "ipc"}
    assert "user" in shared


def test_runc_container(runc_container, resolver):
    annotations = {
        "org.opencontainers.image.ref.name": "cdig-bb:test",
        **POD_LABELS,
    }
    r = runc_container(Workload().getppid(1), annotations=annotations)

    got = resolver.resolve_pid(r.pid)
    assert (got.runtime, got.id, got.name) == ("runc", r.name, r.name)
    assert resolver.wait_for_metadata(15)
    assert got.image == "cdig-bb:test"
    assert (got.pod_name, got.pod_namespace) == ("web-0", "shop")
    assert got.labels["bundle"] == str(r.bundle)
    assert got.cgroup_path == r.cgroup
    if resolver.cgroup_ids_usable:
        assert resolver.resolve(r.cgroup_id) is got
    assert resolver.by_ref(r.name) == [got]


def test_host_process_is_host(resolver):
    # pytest runs on the host: in a session/user slice, the root, or a service unit
    assert resolver.resolve_pid(os.getpid()).runtime in ("host", "systemd")
    assert resolver.resolve_pid(1) is HOST
    assert resolver.resolve_pid(2**22 + 12345) is HOST  # no such pid


def test_podman_api_socket(podman_container, podman_image, tmp_path):
    """The libpod service's Docker-compatible API answers the same metadata."""
    require("root", "podman")
    c = podman_container(Workload().getppid(1), labels=POD_LABELS)
    sock = tmp_path / "podman.sock"
    svc = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert svc.poll() is None, "podman system service exited"
            assert time.monotonic() < deadline, "podman API socket did not appear"
            time.sleep(0.05)
        rt = RuntimeClient(podman_socket=str(sock), podman_bin=None, timeout=10)
        md = rt.metadata("podman", c.id)
        assert md.source == "podman-api"
        assert (md.name, md.image, md.pod_name, md.pod_namespace) == (
            c.name,
            podman_image,
            "web-0",
            "shop",
        )
    finally:
        svc.terminate()
        try:
            svc.wait(10)
        except subprocess.TimeoutExpired:
            svc.kill()
            svc.wait(10)


def test_podman_database_answers_without_cli_or_socket(podman_container, podman_image):
    c = podman_container(Workload().getppid(1), labels=POD_LABELS)
    rt = RuntimeClient(podman_bin=None, podman_socket="/nonexistent.sock")
    md = rt.metadata("podman", c.id)
    assert (md.source, md.name, md.image) == ("podman-db", c.name, podman_image)
    assert (md.pod_name, md.pod_namespace) == ("web-0", "shop")
    # the run's labels, and those the image carries
    assert md.labels.items() >= {**POD_LABELS, "cdig.test.owner": str(os.getpid())}.items()


def test_podman_without_cli_socket_or_database_uses_storage(podman_container, podman_image):
    c = podman_container(Workload().getppid(1), labels=POD_LABELS)
    rt = RuntimeClient(podman_bin=None, podman_socket="/nonexistent.sock", podman_db=None)
    md = rt.metadata("podman", c.id)
    assert (md.source, md.name, md.image) == ("containers-storage", c.name, podman_image)
    assert md.labels == {}  # podman keeps labels only in its database


def test_exited_container_is_pruned(podman_container):
    layout = cgroup_layout()
    if layout.unified is None:
        pytest.skip("prune works on the cgroup2 index; this host has none")
    r = ContainerResolver(CgroupIndex.for_host(layout=layout), layout=layout)
    try:
        c = podman_container(Workload().getppid(1))
        got = r.resolve(c.cgroup_id)
        assert got.id == c.id
        c.go()
        assert c.wait(30) == 0
        subprocess.run(["podman", "rm", "-f", "-t", "0", c.name], check=True, capture_output=True)
        assert got in r.prune()
        assert got not in r.list()
    finally:
        r.close()


def test_new_podman_container_named_from_its_cgroup(podman_container):
    """With the watcher running, a podman container started afterwards is
    classified when its cgroup is made and named within a bounded time of its
    first process (``pending`` says True meanwhile, then False)."""
    layout = cgroup_layout()
    if layout.unified is None:
        pytest.skip("cgroup ids need cgroup2; this host has none")
    r = ContainerResolver.for_host(watch=True)
    try:
        assert r.watching
        c = podman_container(Workload().getppid(1), start=False)
        errors: list[BaseException] = []

        def start() -> None:
            try:
                c.start()
            except BaseException as e:  # re-raised below
                errors.append(e)

        t0 = time.monotonic()
        th = threading.Thread(target=start)
        th.start()
        first_proc: dict[str, float] = {}  # cgroup path -> first time it held a process
        pending_seen: dict[str, tuple[bool, float, float]] = {}  # (pending, asked in)
        mount = layout.unified.mountpoint
        while th.is_alive() or not first_proc:
            for cont in r.list():
                started = r.lookup_times().get(("podman", cont.id), (0.0,))[0]
                if cont.runtime != "podman" or started < t0 or cont.cgroup_path in first_proc:
                    continue
                d = os.path.join(mount, cont.cgroup_path.lstrip("/"))
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        if f.read().split():
                            first_proc[cont.cgroup_path] = t_a = time.monotonic()
                            p = r.pending(os.stat(d).st_ino)
                            pending_seen[cont.cgroup_path] = (p, t_a, time.monotonic())
                except OSError:
                    pass
            assert time.monotonic() - t0 < 60, "podman run did not return"
            time.sleep(0.001)
        th.join()
        if errors:
            raise errors[0]
        assert c.cgroup in first_proc, (c.cgroup, first_proc)
        started, landed, source = r.lookup_times()[("podman", c.id)]
        t_first = first_proc[c.cgroup]
        # the lookup began when the cgroup was made, not when a process was seen in it
        assert started <= t_first, (started, t_first)
        assert r.wait_for([c.cgroup_id], 5)
        started, landed, source = r.lookup_times()[("podman", c.id)]
        assert source == "podman-db"
        # named before its first process, or within a bounded time of it
        assert landed and landed - t_first < 2.0, landed - t_first
        got = r.resolve(c.cgroup_id, pid=c.pid)
        assert (got.name, got.image) == (c.name, c.image)
        assert (got.pod_name, got.pod_namespace) == ("", "")
        assert not r.pending(c.cgroup_id)
        # pending said True while its lookup ran, False once it had landed
        was_pending, t_a, t_b = pending_seen[c.cgroup]
        if was_pending:
            assert landed > t_a - 0.05, (landed, t_a)
        else:
            assert landed < t_b, (landed, t_b)
        print(
            f"lookup began {(t_first - started) * 1000:.1f} ms before the first process; "
            f"landed {(landed - t_first) * 1000:+.1f} ms from it; pending then: {was_pending}"
        )
    finally:
        r.close()
