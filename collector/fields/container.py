"""The container class: the container of the event's process ('host' on the host),
as the runtimes describe it (collector.runtimes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..events import Event
from .base import Field, S, make_field


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
        return (split_image(image)[i] or None) if image else None

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
    _f("container.image.digest", S, "image digest when the image is named by one "
       "(sha256:…)", _image_part(2)),
)
