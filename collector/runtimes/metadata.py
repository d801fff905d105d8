"""What a runtime says about a container (``Metadata``, runc's ``RuncState``) and the
bounds every untrusted name, label and value is cut to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_LABELS = 256
MAX_KEY = 256  # characters
MAX_VALUE = 4096  # characters
MAX_NAME = 256  # characters
MAX_RESPONSE = 8 << 20  # bytes read from a socket or a child process
MAX_STATE_FILE = 8 << 20  # bytes read from one state/config file
MAX_BOLT_FILE = 64 << 20  # bytes: a bigger runtime database is asked through its CLI

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
K8S_CONTAINER_NAME = "io.kubernetes.container.name"

# containerd's CRI plugin annotates the OCI spec with these (pkg/cri/annotations).
_CRI_CONTAINERD = {
    "io.kubernetes.cri.sandbox-name": POD_NAME,
    "io.kubernetes.cri.sandbox-namespace": POD_NAMESPACE,
    "io.kubernetes.cri.sandbox-uid": POD_UID,
    "io.kubernetes.cri.container-name": K8S_CONTAINER_NAME,
}


@dataclass(slots=True)
class Metadata:
    """What a runtime told us about one container. Produced by ``RuntimeClient``.

    Empty strings mean unknown. ``runtime`` is set when the source pins down a
    runtime the cgroup path left open (``kubernetes``/``unknown`` paths).
    """

    name: str = ""
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtime: str = ""
    pod_name: str = ""
    pod_namespace: str = ""
    pod_uid: str = ""
    source: str = ""  # which source answered, e.g. "podman-cli"; "" for none
    privileged: bool | None = None
    mounts: tuple[tuple[str, str, str, bool, str], ...] = ()
    image_id: str = ""
    image_digest: str = ""
    healthcheck: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.source)


@dataclass(frozen=True, slots=True)
class RuncState:
    """One runc container from ``RUNC_ROOT/ID/state.json``."""

    id: str
    init_pid: int
    bundle: str
    labels: dict[str, str]
    cgroup_paths: frozenset[str]  # hierarchy paths of its cgroups (v2 and each v1)


# --- untrusted data --------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    """``value`` as a string of at most ``limit`` characters ("" for non-strings)."""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""


def clean_labels(raw: Any) -> dict[str, str]:
    """A bounded str -> str copy of a labels mapping from a runtime.

    Non-string keys and values that are not strings or numbers are dropped;
    at most ``MAX_LABELS`` labels, keys and values truncated.
    """
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in raw.items():
        if len(out) >= MAX_LABELS:
            break
        if not isinstance(k, str) or not k:
            continue
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            out[k[:MAX_KEY]] = _text(v, MAX_VALUE)
    return out


def _labels_from_kv_list(items: Any) -> dict[str, str]:
    """runc keeps labels as ``["key=value", ...]``."""
    if not isinstance(items, list):
        return {}
    pairs = {}
    for it in items:
        if isinstance(it, str) and "=" in it:
            k, v = it.split("=", 1)
            pairs[k] = v
    return clean_labels(pairs)


def _with_pod_fields(md: Metadata) -> Metadata:
    """Fill pod name/namespace/uid from the standard Kubernetes labels."""
    md.pod_name = md.pod_name or md.labels.get(POD_NAME, "")
    md.pod_namespace = md.pod_namespace or md.labels.get(POD_NAMESPACE, "")
    md.pod_uid = md.pod_uid or md.labels.get(POD_UID, "")
    if not md.name:
        md.name = md.labels.get(K8S_CONTAINER_NAME, "")
    return md
