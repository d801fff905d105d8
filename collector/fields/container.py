"""The container class: the container of the event's process ('host' on the host),
as the runtimes describe it (collector.runtimes)."""

from __future__ import annotations

import fnmatch
import functools
import json
import os
from collections.abc import Callable
from typing import Any, Literal

from ..events import Event, Process
from .base import B, Field, S, make_field


def split_image(image: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference: ``docker.io/library/nginx:1.25``
    → ('docker.io/library/nginx', '1.25', ''); ``repo@sha256:ab…`` → digest 'sha256:ab…'.
    A ':' before the last '/' is a registry port, not a tag."""
    repo, _, digest = image.partition("@")
    tag = ""
    slash = repo.rfind("/")
    colon = repo.rfind(":")
    if colon > slash:
        repo, tag = repo[:colon], repo[colon + 1:]
    return repo, tag, digest


def _attr(attr: str) -> Callable[[Event], Any]:
    def get(e: Event) -> Any:
        return getattr(e.container, attr) or None

    return get


def _image_part(i: int) -> Callable[[Event], str | None]:
    def get(e: Event) -> str | None:
        image = e.container.image
        v = split_image(image)[i] if image else ""
        if not v and i == 2:
            v = e.container.image_digest
        return v or None

    return get


Mount = tuple[str, str, str, bool, str]


def mount_text(m: Mount) -> str:
    """sysdig's <source>:<dest>:<mode>:<rdrw>:<propagation>."""
    return f"{m[0]}:{m[1]}:{m[2]}:{'true' if m[3] else 'false'}:{m[4]}"


def _mounts(e: Event) -> str | None:
    c = e.container
    if c.is_host:
        return None
    return " ".join(mount_text(m) for m in c.mounts)


def _privileged(e: Event) -> bool | None:
    return None if e.container.is_host else e.container.privileged


def _healthcheck(e: Event) -> str | None:
    hc = e.container.healthcheck
    return " ".join(hc) if hc else None


def _image_id(e: Event) -> str | None:
    return e.container.image_id or None


def _runs_command(p: Process, argv: tuple[str, ...]) -> bool:
    if list(p.args) != list(argv[1:]):
        return False
    exe = p.exe or p.name
    return os.path.basename(exe) == os.path.basename(argv[0])


def _runs(e: Event, argv: tuple[str, ...] | None) -> bool | None:
    """The process, or an ancestor in the same container, runs ``argv`` (what the
    runtime or the kubelet starts for each check)."""
    c = e.container
    if c.is_host:
        return None
    if not argv or argv == ("NONE",):
        return False
    from .proc import ancestors

    for a in ancestors(e.proc):
        if a.container is not c and a.container.id != c.id:
            break
        if _runs_command(a, argv):
            return True
    return False


def _is_healthcheck(e: Event) -> bool | None:
    return _runs(e, e.container.healthcheck)


# the pod spec kubectl leaves in an annotation, which the runtime keeps as a label
APPLIED_CONFIG = "kubectl.kubernetes.io/last-applied-configuration"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"


@functools.lru_cache(maxsize=256)
def _probes(config: str, container: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(liveness, readiness) exec commands of ``container`` in a pod spec (JSON);
    the first container's when it is not named."""
    try:
        spec = json.loads(config).get("spec") or {}
        containers = [x for x in spec.get("containers") or [] if isinstance(x, dict)]
    except (ValueError, AttributeError):
        return (), ()
    chosen = next((x for x in containers if x.get("name") == container), None) \
        if container else None
    chosen = chosen or (containers[0] if containers else {})

    def command(probe: object) -> tuple[str, ...]:
        cmd = probe.get("exec", {}).get("command") if isinstance(probe, dict) and \
            isinstance(probe.get("exec"), dict) else None
        if isinstance(cmd, list) and cmd and all(isinstance(w, str) for w in cmd):
            return tuple(cmd[:64])
        return ()

    return command(chosen.get("livenessProbe")), command(chosen.get("readinessProbe"))


def _probe(e: Event, which: int) -> tuple[str, ...] | None:
    c = e.container
    if c.is_host:
        return None
    labels = c.labels
    config = next((v for k, v in labels.items() if k.endswith(APPLIED_CONFIG)), None)
    if config is None:
        return ()
    return _probes(config, labels.get(CONTAINER_NAME_LABEL, ""))[which]


def _probe_text(which: int) -> Callable[[Event], str | None]:
    def get(e: Event) -> str | None:
        cmd = _probe(e, which)
        return " ".join(cmd) if cmd else None

    return get


def _is_probe(which: int) -> Callable[[Event], bool | None]:
    def get(e: Event) -> bool | None:
        cmd = _probe(e, which)
        return None if cmd is None else _runs(e, cmd)

    return get


_f = make_field

FIELDS: tuple[Field, ...] = (
    _f("container.id", S, "container id, 12 characters as docker shows it; 'host' on the host",
       lambda e: e.container.short_id),
    _f("container.full_id", S, "full container id (64 hex characters for most runtimes)",
       lambda e: e.container.id),
    _f("container.name", S, "container name; 'host' on the host", lambda e: e.container.name),
    _f("container.image", S, "container image (e.g. docker.io/library/nginx:1.25)",
       _attr("image")),
    _f("container.type", S, "runtime: host, docker, podman, containerd, cri-o, lxc, systemd …",
       lambda e: e.container.runtime),
    _f("container.image.repository", S, "image repository (container.image without tag and "
       "digest)", _image_part(0)),
    _f("container.image.tag", S, "image tag (latest, 1.25 …)", _image_part(1)),
    _f("container.image.digest", S, "image digest: of the image's name, else the one the "
       "runtime reports (sha256:…)", _image_part(2)),
    _f("container.image.id", S, "image id, 12 characters (the runtime's)", _image_id),
    _f("container.privileged", B, "true for containers running privileged (the runtime's "
       "configuration)", _privileged),
    _f("container.mounts", S, "the bind mounts, space-separated, each "
       "source:dest:mode:rdwr:propagation", _mounts),
    _f("container.healthcheck", S, "the health check command ('NONE' when disabled)",
       _healthcheck),
    _f("container.liveness_probe", S, "the liveness probe command of the pod spec "
       "(kubectl's last-applied-configuration annotation)", _probe_text(0)),
    _f("container.readiness_probe", S, "the readiness probe command of the pod spec "
       "(kubectl's last-applied-configuration annotation)", _probe_text(1)),
    _f("proc.is_container_healthcheck", B, "true if the process (or an ancestor in its "
       "container) runs the container's health check command", _is_healthcheck),
    _f("proc.is_container_liveness_probe", B, "true if the process (or an ancestor in its "
       "container) runs the container's liveness probe", _is_probe(0)),
    _f("proc.is_container_readiness_probe", B, "true if the process (or an ancestor in its "
       "container) runs the container's readiness probe", _is_probe(1)),
)

_MOUNT_PARTS = {"container.mount": None, "container.mount.source": 0,
                "container.mount.dest": 1, "container.mount.mode": 2,
                "container.mount.rdwr": 3, "container.mount.propagation": 4}
HELP: tuple[Field, ...] = tuple(
    Field(name, S, "one mount by number (" + name + "[0]) or by a glob of its " +
          ("destination" if part == 0 else "source") + (" as source:dest:mode:rdwr:propagation"
                                                        if part is None else ""),
          lambda e: None, lambda e: None)
    for name, part in _MOUNT_PARTS.items())


def mount_field(name: str, family: str, arg: str) -> Field | None:
    """container.mount[N|GLOB] and its parts: a glob matches the source (the
    destination for container.mount.source), as in sysdig."""
    if family not in _MOUNT_PARTS or not arg:
        return None
    part = _MOUNT_PARTS[family]
    by: Literal[0, 1] = 1 if part == 0 else 0

    def get(e: Event) -> str | None:
        mounts = e.container.mounts
        if arg.isdigit() and arg.isascii():
            i = int(arg)
            m = mounts[i] if i < len(mounts) else None
        else:
            m = next((x for x in mounts if fnmatch.fnmatchcase(x[by], arg)), None)
        if m is None:
            return None
        if part is None:
            return mount_text(m)
        v = m[part]
        return ("true" if v else "false") if part == 3 else str(v)

    return make_field(name, S, f"{family} of mount {arg}", get)
