"""container.privileged / mounts / mount[…] / image.id / healthcheck and
proc.is_container_healthcheck: from the runtimes' documents (parsers) to the fields."""

from __future__ import annotations

import pytest
from factories import make_event

from cdig.collector.events import HOST, Container, Process
from cdig.collector.fields import resolve
from cdig.collector.filter import compile_filter
from cdig.collector.runtimes.parsers import (
    parse_docker_inspect,
    parse_libpod_config,
    parse_podman_inspect,
)

# shaped as podman 4's `podman inspect` and its BoltDB config of one container made with
# --privileged -v /tmp/a:/mnt/x:ro -v /tmp:/mnt/y --health-cmd true
PODMAN_INSPECT = {
    "Id": "87e6" * 16, "Name": "probe", "ImageName": "localhost/bb:test",
    "Image": "009f55947fa2ad072960661adf9622ae4b9656e3dee570b4947353120d76c3b3",
    "ImageDigest": "sha256:169b6ae0",
    "HostConfig": {"Privileged": True},
    "Mounts": [{"Type": "bind", "Source": "/tmp/a", "Destination": "/mnt/x", "Mode": "",
                "RW": False, "Propagation": "rprivate"},
               {"Type": "bind", "Source": "/tmp", "Destination": "/mnt/y", "Mode": "",
                "RW": True, "Propagation": "rprivate"}],
    "Config": {"Labels": {}, "Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
}
LIBPOD_CONFIG = {
    "name": "probe", "rootfsImageName": "localhost/bb:test", "privileged": True,
    "rootfsImageID": "009f55947fa2ad072960661adf9622ae4b9656e3dee570b4947353120d76c3b3",
    "healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000},
    "userVolumes": ["/mnt/x", "/mnt/y"],
    "spec": {"mounts": [
        {"destination": "/mnt/x", "type": "bind", "source": "/tmp/a",
         "options": ["ro", "rprivate", "rbind"]},
        {"destination": "/mnt/y", "type": "bind", "source": "/tmp",
         "options": ["rw", "rprivate", "rbind"]},
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "/run/x/hosts",
         "options": ["rbind"]}]},
}
DOCKER_V2 = {"Name": "/web", "Image": "sha256:6f7e2741b66b0000", "Config": {
    "Image": "nginx:1.25", "Labels": {}, "Healthcheck": {"Test": ["CMD", "curl", "-f", "x"]}},
    "MountPoints": {"/data": {"Source": "/srv/data", "Destination": "/data", "RW": True,
                              "Propagation": "rprivate", "Mode": "z"}}}
MOUNTS = (("/tmp/a", "/mnt/x", "", False, "rprivate"), ("/tmp", "/mnt/y", "", True, "rprivate"))


@pytest.mark.parametrize("md", [parse_podman_inspect(PODMAN_INSPECT),
                                parse_libpod_config(LIBPOD_CONFIG)], ids=["cli", "db"])
def test_podman_documents(md):
    assert md.privileged is True
    assert md.mounts == MOUNTS  # the user's binds only, not /proc or /etc/hosts
    assert md.image_id == "009f55947fa2"
    assert md.healthcheck == ("/bin/sh", "-c", "true")


def test_docker_documents():
    md = parse_docker_inspect(DOCKER_V2, "docker-config")
    assert md.privileged is None  # config.v2.json does not say (hostconfig.json does)
    assert md.mounts == (("/srv/data", "/data", "z", True, "rprivate"),)
    assert md.image_id == "6f7e2741b66b"
    assert md.healthcheck == ("curl", "-f", "x")
    api = parse_docker_inspect({**PODMAN_INSPECT, "Name": "/p"}, "docker-api")
    assert api.privileged is True and api.mounts == MOUNTS
    none = parse_docker_inspect({"Config": {"Healthcheck": {"Test": ["NONE"]}}}, "docker-api")
    assert none.healthcheck == ("NONE",)
    bad = parse_docker_inspect({"HostConfig": {"Privileged": "yes"}, "Mounts": "x",
                                "Config": {"Healthcheck": {"Test": "CMD true"}}}, "docker-api")
    assert (bad.privileged, bad.mounts, bad.healthcheck) == (None, (), ())


CTR = Container(id="87e6" * 16, name="probe", runtime="podman", image="localhost/bb:test",
                privileged=True, mounts=MOUNTS, image_id="009f55947fa2",
                image_digest="sha256:169b6ae0", healthcheck=("/bin/sh", "-c", "true"))
PLAIN = Container(id="c" * 64, name="plain", runtime="podman", image="bb", privileged=False)
SHELL = Process(pid=10, ppid=1, name="sh", exe="/bin/sh", args=["-c", "true"], container=CTR)
CHILD = Process(pid=11, ppid=10, name="true", exe="/bin/true", container=CTR, parent=SHELL)
OTHER = Process(pid=12, ppid=1, name="sh", exe="/bin/sh", args=["-c", "sleep 1"],
                container=CTR)
ev = make_event(container=CTR)
VALUES = [
    ("container.privileged", ev, True),
    ("container.privileged", make_event(container=PLAIN), False),
    ("container.privileged", make_event(container=HOST), None),
    ("container.mounts", ev, "/tmp/a:/mnt/x::false:rprivate /tmp:/mnt/y::true:rprivate"),
    ("container.mounts", make_event(container=PLAIN), ""),
    ("container.mount[0]", ev, "/tmp/a:/mnt/x::false:rprivate"),
    ("container.mount[2]", ev, None),
    ("container.mount[/tmp]", ev, "/tmp:/mnt/y::true:rprivate"),  # by source glob
    ("container.mount[/tmp/*]", ev, "/tmp/a:/mnt/x::false:rprivate"),
    ("container.mount.source[/mnt/y]", ev, "/tmp"),  # by destination
    ("container.mount.source[1]", ev, "/tmp"),
    ("container.mount.dest[/tmp/a]", ev, "/mnt/x"),
    ("container.mount.mode[0]", ev, ""),
    ("container.mount.rdwr[/tmp]", ev, "true"),
    ("container.mount.rdwr[0]", ev, "false"),
    ("container.mount.propagation[0]", ev, "rprivate"),
    ("container.image.id", ev, "009f55947fa2"),
    ("container.image.digest", ev, "sha256:169b6ae0"),  # the runtime's: not in the name
    ("container.healthcheck", ev, "/bin/sh -c true"),
    ("container.healthcheck", make_event(container=PLAIN), None),
    ("proc.is_container_healthcheck", make_event(container=CTR, proc=SHELL, pid=10), True),
    ("proc.is_container_healthcheck", make_event(container=CTR, proc=CHILD, pid=11), True),
    ("proc.is_container_healthcheck", make_event(container=CTR, proc=OTHER, pid=12), False),
    ("proc.is_container_healthcheck", make_event(container=PLAIN), False),
    ("proc.is_container_healthcheck", make_event(container=HOST), None),
]


@pytest.mark.parametrize(("name", "event", "want"), VALUES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(VALUES)])
def test_value(name, event, want):
    assert resolve(name).get(event) == want


def test_filters():
    assert compile_filter("container.privileged=true").match(ev)
    assert compile_filter("container.mount.dest[/tmp/a]=/mnt/x").match(ev)
    assert compile_filter("container.mounts contains /mnt/y").match(ev)
    assert not compile_filter("container.privileged=true").match(make_event(container=PLAIN))


# a pod applied with kubectl: the runtime keeps its annotations as labels
APPLIED = ('{"kind":"Pod","spec":{"containers":['
           '{"name":"side","livenessProbe":{"exec":{"command":["cat","/tmp/side"]}}},'
           '{"name":"web","livenessProbe":{"exec":{"command":["cat","/tmp/healthy"]}},'
           '"readinessProbe":{"exec":{"command":["/bin/ready","-q"]}}}]}}')
K8S = Container(id="d" * 64, name="k8s_web", runtime="containerd", labels={
    "annotation.kubectl.kubernetes.io/last-applied-configuration": APPLIED,
    "io.kubernetes.container.name": "web"})
LIVE = Process(pid=20, ppid=1, name="cat", exe="/bin/cat", args=["/tmp/healthy"],
               container=K8S)
READY = Process(pid=21, ppid=1, name="ready", exe="/bin/ready", args=["-q"], container=K8S)
BROKEN = Container(id="e" * 64, name="b", runtime="docker", labels={
    "annotation.kubectl.kubernetes.io/last-applied-configuration": "{not json"})
PROBES = [
    ("container.liveness_probe", make_event(container=K8S), "cat /tmp/healthy"),
    ("container.readiness_probe", make_event(container=K8S), "/bin/ready -q"),
    ("container.liveness_probe", make_event(container=CTR), None),
    ("container.liveness_probe", make_event(container=BROKEN), None),
    ("container.readiness_probe", make_event(container=HOST), None),
    ("proc.is_container_liveness_probe", make_event(container=K8S, proc=LIVE), True),
    ("proc.is_container_liveness_probe", make_event(container=K8S, proc=READY), False),
    ("proc.is_container_readiness_probe", make_event(container=K8S, proc=READY), True),
    ("proc.is_container_readiness_probe", make_event(container=CTR, proc=SHELL), False),
    ("proc.is_container_liveness_probe", make_event(container=HOST), None),
]


@pytest.mark.parametrize(("name", "event", "want"), PROBES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PROBES)])
def test_probe_value(name, event, want):
    assert resolve(name).get(event) == want
