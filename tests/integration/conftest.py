"""Fixtures for cdig's real-container integration tests (root, podman, runc).

Session fixtures:  workload_bin, busybox_rootfs, podman_image
Factories:         podman_container, runc_container, host_workload, docker_container,
                   ctr_container, lxc_container (docker_image, ctr_images)
Helpers (import):  from tests.integration.containers import Workload, require, SHELL_GATE

    def test_writes(podman_container):
        c = podman_container(Workload().write(100),
                             labels={"io.kubernetes.pod.name": "web-0"})
        # c is running and blocked at its gate: attach a tracer now
        c.go()
        assert c.wait(10) == 0

Every container a factory made is removed in teardown (podman rm -f / runc
delete -f), also when the test fails; containers left by a crashed session are
swept at the start of the next one.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .containers import (
    DOCKER_IMAGE,
    PODMAN_IMAGE,
    CtrContainer,
    DockerContainer,
    HostWorkload,
    LxcContainer,
    NspawnContainer,
    PodmanContainer,
    RuncContainer,
    Workload,
    build_rootfs,
    build_workload,
    ensure_ctr_image,
    ensure_docker_image,
    ensure_podman_image,
    require,
    sweep_leftovers,
    unique_name,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def _integration_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdig-int")


@pytest.fixture(scope="session", autouse=True)
def _sweep_containers():
    """Before: remove containers of crashed earlier sessions. After: make sure
    none of this session's containers survive."""
    sweep_leftovers()
    yield
    sweep_leftovers(all_of_mine=True)


@pytest.fixture(scope="session")
def session_timings() -> dict[str, float]:
    """Seconds spent in each session fixture (for reports)."""
    return {}


@pytest.fixture(scope="session")
def workload_bin(_integration_dir, session_timings) -> Path:
    """Host path of the compiled cdigwork (workload.c)."""
    require("gcc")
    t = time.monotonic()
    out = build_workload(_integration_dir / "host" / "cdigwork")
    session_timings["workload_bin"] = time.monotonic() - t
    return out


@pytest.fixture(scope="session")
def busybox_rootfs(_integration_dir, workload_bin, session_timings) -> Path:
    """A busybox-static root filesystem with /bin/cdigwork (built once)."""
    require("root", "busybox")
    t = time.monotonic()
    out = build_rootfs(_integration_dir / "rootfs", workload_bin)
    session_timings["busybox_rootfs"] = time.monotonic() - t
    return out


@pytest.fixture(scope="session")
def podman_image(busybox_rootfs, _integration_dir, session_timings) -> str:
    """``localhost/cdig-bb:test`` imported from busybox_rootfs (reused when its
    content hash label matches)."""
    require("root", "podman")
    t = time.monotonic()
    ref = ensure_podman_image(busybox_rootfs, _integration_dir, PODMAN_IMAGE)
    session_timings["podman_image"] = time.monotonic() - t
    return ref


def _teardown(made: list) -> None:
    errors = []
    for c in reversed(made):
        try:
            c.remove()
        except Exception as e:  # remove all, report after
            errors.append(f"{c!r}: {e}")
    if errors:
        raise RuntimeError("container teardown failed: " + "; ".join(errors))


def _factory(cls, base, prefix: str, request, tmp_path):
    """The container factory both runtimes share: each container gets its own
    directory and a unique name, starts unless start=False, and is removed at
    teardown even when the test failed."""
    made: list = []

    def make(
        workload: Workload | None = None,
        *,
        start: bool = True,
        gates: int | None = None,
        name: str | None = None,
        **kw,
    ):
        c = cls(
            base,
            tmp_path / f"{prefix}{len(made)}",
            workload,
            name=name or unique_name(request.node.name),
            **kw,
        )
        made.append(c)
        if start:
            c.start(gates=gates)
        return c

    yield make
    _teardown(made)


@pytest.fixture
def podman_container(request, podman_image, tmp_path):
    """Factory: ``podman_container(workload=None, *, script=None, labels=None,
    annotations=None, gated=True, network="none", extra_args=(), start=True,
    gates=None, name=None) -> PodmanContainer`` — started (idle at its gate for
    a gated Workload) unless start=False."""
    yield from _factory(PodmanContainer, podman_image, "podman", request, tmp_path)


@pytest.fixture
def runc_container(request, busybox_rootfs, tmp_path):
    """Factory: ``runc_container(workload=None, *, script=None, gated=True,
    hostname="cdig-runc", annotations=None, config_hook=None, start=True,
    gates=None, name=None) -> RuncContainer``."""
    require("root", "runc")
    yield from _factory(RuncContainer, busybox_rootfs, "runc", request, tmp_path)


@pytest.fixture
def host_workload(workload_bin, tmp_path):
    """Factory: ``host_workload(workload, *, gated=True, wrapper=(), start=True)
    -> HostWorkload`` — cdigwork run directly on the host."""
    made: list[HostWorkload] = []

    def make(workload: Workload, *, start: bool = True, **kw) -> HostWorkload:
        h = HostWorkload(workload_bin, tmp_path / f"host{len(made)}", workload, **kw)
        made.append(h)
        if start:
            h.start()
        return h

    yield make
    _teardown(made)


@pytest.fixture(scope="session")
def docker_image(busybox_rootfs, _integration_dir, session_timings) -> str:
    """``cdig-bb:test`` in dockerd (started by the harness if it is not running),
    imported from busybox_rootfs."""
    require("root", "docker")
    t = time.monotonic()
    ref = ensure_docker_image(busybox_rootfs, _integration_dir, DOCKER_IMAGE)
    session_timings["docker_image"] = time.monotonic() - t
    return ref


@pytest.fixture
def docker_container(request, docker_image, tmp_path):
    """Factory: ``docker_container(workload=None, *, script=None, labels=None,
    gated=True, start=True, gates=None, name=None) -> DockerContainer``."""
    yield from _factory(DockerContainer, docker_image, "docker", request, tmp_path)


@pytest.fixture(scope="session")
def ctr_images(docker_image) -> dict[str, str]:
    """The test image in containerd namespaces ``k8s.io`` and ``default``."""
    require("root", "containerd")
    return {ns: ensure_ctr_image(ns, docker_image) for ns in ("k8s.io", "default")}


@pytest.fixture
def ctr_container(request, ctr_images, tmp_path):
    """Factory: ``ctr_container(workload=None, *, namespace="k8s.io", labels=None,
    script=None, gated=True, start=True, gates=None, name=None) -> CtrContainer``."""
    made: list = []

    def make(
        workload: Workload | None = None,
        *,
        namespace: str = "k8s.io",
        start: bool = True,
        gates: int | None = None,
        name: str | None = None,
        **kw,
    ):
        c = CtrContainer(
            ctr_images[namespace],
            tmp_path / f"ctr{len(made)}",
            workload,
            namespace=namespace,
            name=name or unique_name(request.node.name),
            **kw,
        )
        made.append(c)
        if start:
            c.start(gates=gates)
        return c

    yield make
    _teardown(made)


@pytest.fixture
def lxc_container(request, workload_bin, tmp_path):
    """Factory: ``lxc_container(workload=None, *, script=None, gated=True,
    start=True, gates=None, name=None) -> LxcContainer`` (busybox template)."""
    require("root", "lxc")
    yield from _factory(LxcContainer, workload_bin, "lxc", request, tmp_path)


@pytest.fixture
def nspawn_container(request, busybox_rootfs, tmp_path):
    """Factory: ``nspawn_container(workload=None, *, script=None, gated=True,
    start=True, gates=None, name=None) -> NspawnContainer``."""
    require("root", "nspawn")
    yield from _factory(NspawnContainer, busybox_rootfs, "nspawn", request, tmp_path)
