"""The k8s class, from the pod labels the container runtime keeps with each
container (io.kubernetes.pod.*; no API server is asked). A container that is not
in a pod has <NA> for all of them."""

from __future__ import annotations

from ..events import Event
from .base import Field, S, make_field

INTERNAL_PREFIX = "io.kubernetes."  # the runtime's own labels, not the pod's


def _pod(e: Event) -> bool:
    return bool(e.container.pod_name)


def _labels(e: Event) -> str | None:
    if not _pod(e):
        return None
    return ",".join(f"{k}:{v}" for k, v in sorted(e.container.labels.items())
                    if not k.startswith(INTERNAL_PREFIX))


_f = make_field

FIELDS: tuple[Field, ...] = (
    _f("k8s.pod.name", S, "Kubernetes pod name", lambda e: e.container.pod_name or None),
    _f("k8s.pod.id", S, "Kubernetes pod uid", lambda e: e.container.pod_uid or None),
    _f("k8s.pod.labels", S, "the pod's labels as 'key:value,key:value' (the runtime's own "
       "io.kubernetes.* labels left out)", _labels),
    _f("k8s.ns.name", S, "Kubernetes namespace name",
       lambda e: e.container.pod_namespace or None),
)

LABEL_PREFIX = "k8s.pod.label."
LABEL_HELP = Field("k8s.pod.label", S, "one pod label: k8s.pod.label.app, "
                   "k8s.pod.label[app.kubernetes.io/name]", lambda e: None, lambda e: None)
HELP: tuple[Field, ...] = (LABEL_HELP,)


def label_field(name: str, label: str) -> Field:
    def get(e: Event) -> str | None:
        if not _pod(e):
            return None
        return e.container.labels.get(label)

    return make_field(name, S, f"pod label {label!r}", get)
