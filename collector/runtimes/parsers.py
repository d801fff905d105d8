"""Parsers of runtime documents: pure functions from a decoded JSON document to
``Metadata`` (docker, podman, containers-storage, OCI config, runc state, ctr info)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .metadata import (
    _CRI_CONTAINERD,
    K8S_CONTAINER_NAME,
    MAX_NAME,
    POD_NAME,
    POD_NAMESPACE,
    POD_UID,
    Metadata,
    RuncState,
    _labels_from_kv_list,
    _text,
    _with_pod_fields,
    clean_labels,
)

# --- parsers of runtime documents (pure; unit-tested with fixtures) -------------------

MAX_MOUNTS = 64
_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _mount(source: Any, dest: Any, mode: Any, rw: Any, propagation: Any
           ) -> tuple[str, str, str, bool, str]:
    return (_text(source, MAX_NAME), _text(dest, MAX_NAME), _text(mode, MAX_NAME), rw is True,
            _text(propagation, MAX_NAME))


def _mounts_api(items: Any) -> tuple[tuple[str, str, str, bool, str], ...]:
    """The ``Mounts`` list of a docker/podman inspect document."""
    if not isinstance(items, list):
        return ()
    return tuple(_mount(m.get("Source"), m.get("Destination"), m.get("Mode"), m.get("RW"),
                        m.get("Propagation"))
                 for m in items[:MAX_MOUNTS] if isinstance(m, dict))


def _mounts_v2(points: Any) -> tuple[tuple[str, str, str, bool, str], ...]:
    """The ``MountPoints`` map of docker's on-disk config.v2.json."""
    if not isinstance(points, dict):
        return ()
    return tuple(_mount(m.get("Source"), m.get("Destination"), m.get("Mode") or "",
                        m.get("RW"), m.get("Propagation"))
                 for m in list(points.values())[:MAX_MOUNTS] if isinstance(m, dict))


def _mounts_oci(items: Any, only: Any) -> tuple[tuple[str, str, str, bool, str], ...]:
    """Bind mounts of an OCI spec (``only``: the destinations the user asked for)."""
    if not isinstance(items, list):
        return ()
    wanted = set(only) if isinstance(only, list) else None
    out = []
    for m in items:
        if not isinstance(m, dict) or m.get("type") != "bind":
            continue
        if wanted is not None and m.get("destination") not in wanted:
            continue
        opts = [o for o in m.get("options") or [] if isinstance(o, str)]
        prop = next((o for o in opts if o in _PROPAGATIONS), "")
        out.append(_mount(m.get("source"), m.get("destination"), "", "ro" not in opts, prop))
        if len(out) >= MAX_MOUNTS:
            break
    return tuple(out)


def _healthcheck(hc: Any) -> tuple[str, ...]:
    """A docker/podman healthcheck ``Test`` as the command it runs: CMD → its argv,
    CMD-SHELL → /bin/sh -c TEXT, NONE → ("NONE",); none configured: ()."""
    test = hc.get("Test") if isinstance(hc, dict) else None
    if not isinstance(test, list) or not test:
        return ()
    words = [_text(w, MAX_NAME) for w in test[:64]]
    if words[0] == "NONE":
        return ("NONE",)
    if words[0] == "CMD-SHELL" and len(words) > 1:
        return ("/bin/sh", "-c", words[1])
    if words[0] == "CMD" and len(words) > 1:
        return tuple(words[1:])
    return ()


def _image_id(value: Any) -> str:
    """An image id as docker shows it: 12 hex characters, without ``sha256:``."""
    return _text(value, MAX_NAME).removeprefix("sha256:")[:12]



def _obj(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """``doc[key]`` if it is an object, else an empty one (runtimes' JSON is untrusted)."""
    v = doc.get(key)
    return v if isinstance(v, dict) else {}


def parse_docker_inspect(doc: Any, source: str) -> Metadata:
    """Metadata from a Docker Engine ``/containers/ID/json`` document (also
    podman's compatible API, and docker's on-disk ``config.v2.json``)."""
    if not isinstance(doc, dict):
        return Metadata()
    md = _inspect_metadata(doc, source)
    md.name = md.name.lstrip("/")
    md.mounts = md.mounts or _mounts_v2(doc.get("MountPoints"))
    return _with_pod_fields(md)


def parse_podman_inspect(doc: Any, source: str = "podman-cli") -> Metadata:
    """Metadata from ``podman container inspect --format json`` output (a list
    of one object) or from one object of it."""
    if isinstance(doc, list):
        doc = doc[0] if doc else None
    if not isinstance(doc, dict):
        return Metadata()
    md = _inspect_metadata(doc, source)
    md.image = _text(doc.get("ImageName"), MAX_NAME) or md.image
    md.image_digest = _text(doc.get("ImageDigest"), MAX_NAME)
    return _with_pod_fields(md)


def _inspect_metadata(doc: dict[str, Any], source: str) -> Metadata:
    """What docker's and podman's inspect documents say alike (podman's is docker's
    shape with a few fields more)."""
    cfg = _obj(doc, "Config")
    priv = _obj(doc, "HostConfig").get("Privileged")
    return Metadata(
        name=_text(doc.get("Name"), MAX_NAME),
        image=_text(cfg.get("Image"), MAX_NAME),
        labels=clean_labels(cfg.get("Labels")),
        source=source,
        privileged=priv if isinstance(priv, bool) else None,
        mounts=_mounts_api(doc.get("Mounts")),
        image_id=_image_id(doc.get("Image")),
        healthcheck=_healthcheck(cfg.get("Healthcheck")),
    )


def parse_libpod_config(doc: Any) -> Metadata:
    """Metadata from the container configuration podman keeps in its database
    (``libpod/bolt_state.db``, bucket ``ctr/<id>``, key ``config``)."""
    if not isinstance(doc, dict):
        return Metadata()
    md = Metadata(
        name=_text(doc.get("name"), MAX_NAME),
        image=_text(doc.get("rootfsImageName"), MAX_NAME)
        or _text(doc.get("RawImageName"), MAX_NAME),
        labels=clean_labels(doc.get("labels")),
        source="podman-db",
        privileged=doc.get("privileged") is True,
        mounts=_mounts_oci((doc.get("spec") or {}).get("mounts")
                           if isinstance(doc.get("spec"), dict) else None,
                           doc.get("userVolumes") or []),
        image_id=_image_id(doc.get("rootfsImageID")),
        healthcheck=_healthcheck(doc.get("healthcheck")),
    )
    return _with_pod_fields(md) if md.name else Metadata()


def parse_storage_containers(doc: Any, container_id: str) -> Metadata:
    """Metadata from containers-storage's ``overlay-containers/containers.json``."""
    if not isinstance(doc, list):
        return Metadata()
    for c in doc:
        if not isinstance(c, dict) or c.get("id") != container_id:
            continue
        names = c.get("names")
        name = _text(names[0], MAX_NAME) if isinstance(names, list) and names else ""
        image = ""
        try:
            extra = json.loads(c.get("metadata") or "{}")
        except (TypeError, ValueError):
            extra = {}
        if isinstance(extra, dict):
            image = _text(extra.get("image-name"), MAX_NAME)
            name = name or _text(extra.get("name"), MAX_NAME)
        return Metadata(name=name, image=image, source="containers-storage")
    return Metadata()


def parse_oci_config(doc: Any, runtime: str) -> Metadata:
    """Metadata from the annotations of an OCI runtime spec (``config.json``),
    as containerd's CRI plugin and CRI-O write them."""
    if not isinstance(doc, dict):
        return Metadata()
    ann = clean_labels(doc.get("annotations"))
    labels: dict[str, str] = {}
    if runtime == "cri-o":
        try:
            crio_labels = json.loads(ann.get("io.kubernetes.cri-o.Labels", "{}"))
        except ValueError:
            crio_labels = {}
        labels = clean_labels(crio_labels)
        for k in (POD_NAME, POD_NAMESPACE, POD_UID, K8S_CONTAINER_NAME):
            if k in ann:
                labels.setdefault(k, ann[k])
        image = ann.get("io.kubernetes.cri-o.ImageName", "")
    else:
        for src, dst in _CRI_CONTAINERD.items():
            if src in ann:
                labels[dst] = ann[src]
        image = ann.get("io.kubernetes.cri.image-name", "")
    md = Metadata(image=image, labels=labels, runtime=runtime, source=f"{runtime}-config")
    md = _with_pod_fields(md)
    if runtime == "cri-o":
        _crio_names(md, ann)
    return md


def _crio_names(md: Metadata, ann: dict[str, str]) -> None:
    """CRI-O's own annotations where the Kubernetes ones are missing (pods made
    with ``crictl runp``): the container name in ``io.kubernetes.cri-o.Metadata``
    (the CRI ContainerMetadata, JSON), the pod in ``io.kubernetes.cri-o.SandboxName``
    (``k8s_<pod>_<namespace>_<uid>_<attempt>``; Kubernetes names hold no "_")."""
    if not md.name:
        try:
            meta = json.loads(ann.get("io.kubernetes.cri-o.Metadata", "{}"))
        except ValueError:
            meta = {}
        if isinstance(meta, dict):
            md.name = _text(meta.get("name"), MAX_NAME)
    parts = ann.get("io.kubernetes.cri-o.SandboxName", "").split("_")
    if len(parts) == 5 and parts[0] == "k8s":
        md.pod_name = md.pod_name or parts[1]
        md.pod_namespace = md.pod_namespace or parts[2]
        md.pod_uid = md.pod_uid or parts[3]


def parse_runc_state(doc: Any, mountpoints: Iterable[tuple[str, str]] = ()) -> RuncState | None:
    """A ``RuncState`` from runc's ``state.json``.

    ``mountpoints`` are (mountpoint, hierarchy root) pairs used to turn the
    absolute directories in ``cgroup_paths`` into hierarchy paths.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        return None
    cfg = _obj(doc, "config")
    labels = _labels_from_kv_list(cfg.get("labels"))
    paths: set[str] = set()
    mps = sorted(mountpoints, key=lambda m: len(m[0]), reverse=True)
    cg_paths = doc.get("cgroup_paths")
    if isinstance(cg_paths, dict):
        for d in cg_paths.values():
            if not isinstance(d, str):
                continue
            for mp, root in mps:
                if d == mp or d.startswith(mp.rstrip("/") + "/"):
                    rel = d[len(mp.rstrip("/")) :].strip("/")
                    base = root.rstrip("/")
                    paths.add(f"{base}/{rel}" if rel else (base or "/"))
                    break
    cgroups = _obj(cfg, "cgroups")
    if isinstance(cgroups.get("path"), str) and cgroups["path"].startswith("/"):
        paths.add(cgroups["path"].rstrip("/") or "/")
    elif not paths and isinstance(cgroups.get("name"), str) and cgroups["name"]:
        # runc's cgroupfs default when the spec has no cgroupsPath: /<parent>/<name>
        parent = cgroups.get("parent")
        if not isinstance(parent, str):
            parent = ""
        paths.add("/" + "/".join(p.strip("/") for p in (parent, cgroups["name"]) if p.strip("/")))
    pid = doc.get("init_process_pid")
    return RuncState(
        id=doc["id"][:MAX_NAME],
        init_pid=pid if isinstance(pid, int) else 0,
        bundle=labels.get("bundle", ""),
        labels=labels,
        cgroup_paths=frozenset(paths),
    )


NERDCTL_NAME = "nerdctl/name"
DOCKER_NAMESPACE = "moby"  # the containerd namespace dockerd uses


def parse_ctr_info(doc: Any) -> Metadata:
    """Metadata from ``ctr containers info ID`` (containerd's container record:
    ``ID``, ``Image``, ``Labels``). The name is nerdctl's ``nerdctl/name``
    label, the CRI container name, or the id (containerd has no names)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("ID"), str):
        return Metadata()
    labels = clean_labels(doc.get("Labels"))
    md = Metadata(
        name=labels.get(NERDCTL_NAME, "")[:MAX_NAME],
        image=_text(doc.get("Image"), MAX_NAME),
        labels=labels,
        runtime="containerd",
        source="containerd-ctr",
    )
    md = _with_pod_fields(md)
    md.name = md.name or doc["ID"][:MAX_NAME]
    return md


def runc_metadata(state: RuncState) -> Metadata:
    """Metadata from runc's state: runc keeps the bundle's OCI annotations as
    labels. Containers that podman, CRI-O or containerd created through runc are
    recognised by their annotations; for a plain runc container the id is its
    name and the annotations are its labels."""
    ann = state.labels
    if ann.get("io.container.manager") == "libpod":
        md = Metadata(name="", labels={}, runtime="podman")
    elif any(k.startswith("io.kubernetes.cri-o.") for k in ann):
        md = parse_oci_config({"annotations": ann}, "cri-o")
    elif any(k.startswith("io.kubernetes.cri.") for k in ann):
        md = parse_oci_config({"annotations": ann}, "containerd")
    else:
        md = Metadata(
            name=state.id,
            image=ann.get("org.opencontainers.image.ref.name", ""),
            labels=dict(ann),
            runtime="runc",
        )
    md.source = "runc-state"
    return _with_pod_fields(md)
