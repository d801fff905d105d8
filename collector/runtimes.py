"""Container metadata from the container runtimes: names, images, labels.

The runtime-specific half of container resolution (``collector.containers``
parses cgroup paths; this module asks runtimes about the ids found there).
``RuntimeClient.metadata(runtime, id)`` tries, in order, for each runtime:

- podman: the API socket (``/run/podman/podman.sock``, Docker-compatible
  ``GET /containers/ID/json``), then podman's BoltDB (``libpod/bolt_state.db``,
  read with ``collector.boltdb``: a millisecond, where the CLI takes ~100 ms),
  then ``podman container inspect`` run with a timeout, then
  containers-storage's ``containers.json`` (name and image, no labels);
- docker: ``/var/lib/docker/containers/ID/config.v2.json`` (written at create:
  known before the container runs), then the Engine API socket
  (``/var/run/docker.sock``);
- containerd: the OCI ``config.json`` of the task bundle under
  ``/run/containerd/io.containerd.runtime.v2.task/NS/ID``, whose CRI annotations
  name the container, image and pod, then containerd's own record (image and
  labels: what ``ctr run --label`` and nerdctl set) from its metadata BoltDB,
  else through ``ctr -n NS containers info ID`` run with a timeout.
  Containers of clients without a kubelet (``ctr``, nerdctl's cgroupfs driver)
  live in cgroup ``/NS/ID``; ``containerd_task`` recognises them by their
  task directory;
- cri-o: the OCI ``config.json`` in the container's ``userdata`` directory
  (annotations, including the ``io.kubernetes.cri-o.Labels`` JSON);
- runc: ``/run/runc/ID/state.json`` (labels = the bundle's annotations);
- kubernetes (cgroupfs driver, runtime unknown) and unknown: containerd, cri-o,
  docker, runc in that order, and the first that knows the id says the runtime.

Every lookup is bounded: sockets and the podman child process get ``timeout``
seconds each (at most two such calls per lookup), local files are small and
read with size caps. No error leaves ``metadata()``: a failing source is logged
once at debug level and the next one is tried; with none left the result is
empty ``Metadata`` (the caller keeps the id only). Names and labels are
untrusted data: they are bounded in size and never interpreted.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .boltdb import BoltError, BoltReader
from .cgroups import CgroupLayout

log = logging.getLogger(__name__)

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
    cfg = _obj(doc, "Config")
    host = _obj(doc, "HostConfig")
    priv = host.get("Privileged")
    md = Metadata(
        name=_text(doc.get("Name"), MAX_NAME).lstrip("/"),
        image=_text(cfg.get("Image"), MAX_NAME),
        labels=clean_labels(cfg.get("Labels")),
        source=source,
        privileged=priv if isinstance(priv, bool) else None,
        mounts=_mounts_api(doc.get("Mounts")) or _mounts_v2(doc.get("MountPoints")),
        image_id=_image_id(doc.get("Image")),
        healthcheck=_healthcheck(cfg.get("Healthcheck")),
    )
    return _with_pod_fields(md)


def parse_podman_inspect(doc: Any, source: str = "podman-cli") -> Metadata:
    """Metadata from ``podman container inspect --format json`` output (a list
    of one object) or from one object of it."""
    if isinstance(doc, list):
        doc = doc[0] if doc else None
    if not isinstance(doc, dict):
        return Metadata()
    cfg = _obj(doc, "Config")
    host = _obj(doc, "HostConfig")
    priv = host.get("Privileged")
    md = Metadata(
        name=_text(doc.get("Name"), MAX_NAME),
        image=_text(doc.get("ImageName"), MAX_NAME) or _text(cfg.get("Image"), MAX_NAME),
        labels=clean_labels(cfg.get("Labels")),
        source=source,
        privileged=priv if isinstance(priv, bool) else None,
        mounts=_mounts_api(doc.get("Mounts")),
        image_id=_image_id(doc.get("Image")),
        image_digest=_text(doc.get("ImageDigest"), MAX_NAME),
        healthcheck=_healthcheck(cfg.get("Healthcheck")),
    )
    return _with_pod_fields(md)


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


# --- transport -----------------------------------------------------------------


class _BytesSocket:
    """Just enough of a socket for ``http.client.HTTPResponse`` to parse bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self._data)


def unix_http_get(socket_path: str, path: str, timeout: float) -> tuple[int, bytes]:
    """``GET path`` over the unix socket ``socket_path``: (status, body).

    The whole exchange, connect to last byte, takes at most ``timeout`` seconds
    (a server that trickles bytes cannot stretch it) and at most
    ``MAX_RESPONSE`` bytes. HTTP/1.0, so the server closes after the response.
    Raises ``OSError`` (``TimeoutError`` included) or ``http.client.HTTPException``.
    """
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(socket_path)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode("ascii"))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{socket_path}: no complete response in {timeout}s")
            s.settimeout(left)
            b = s.recv(65536)
            if not b:
                break
            size += len(b)
            if size > MAX_RESPONSE:
                raise OSError(f"{socket_path}: response larger than {MAX_RESPONSE} bytes")
            chunks.append(b)
    resp = http.client.HTTPResponse(_BytesSocket(b"".join(chunks)))  # type: ignore[arg-type]
    resp.begin()
    return resp.status, resp.read()


def run_bounded(argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``argv``: (exit code, stdout, stderr), in at most ``timeout`` seconds.

    The child runs in its own session and on timeout its whole process group is
    killed, so helpers it forked cannot hold the pipes open. Raises
    ``subprocess.TimeoutExpired`` or ``OSError``.
    """
    with subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    ) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.communicate()
            raise
        return p.returncode, out, err


def _read_json(path: str) -> Any:
    """The JSON document in file ``path`` (at most ``MAX_STATE_FILE`` bytes).

    Raises ``OSError`` or ``ValueError``.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_STATE_FILE + 1)
    if len(data) > MAX_STATE_FILE:
        raise ValueError(f"{path}: larger than {MAX_STATE_FILE} bytes")
    return json.loads(data)


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """Whether a runtime is installed here and its metadata source answers.
    Produced by ``RuntimeClient.probe`` (for ``cdig doctor``).

    ``answers`` is None when the runtime is installed but not running (nothing
    to ask: its containers are still found by their cgroups)."""

    runtime: str
    installed: bool
    answers: bool | None
    detail: str


# --- the facade ---------------------------------------------------------------------


class RuntimeClient:
    """Asks the container runtimes of this host about containers.

    All locations are parameters (for fixture trees in tests, and for running
    in a container with the host's directories mounted elsewhere).
    ``timeout`` (seconds) bounds each socket request and each podman child.
    ``podman_bin=None`` disables the podman CLI (e.g. to avoid tracing it).
    Thread-safe.
    """

    def __init__(
        self,
        *,
        runc_root: str | Iterable[str] = "/run/runc",
        docker_socket: str = "/var/run/docker.sock",
        docker_root: str = "/var/lib/docker",
        podman_socket: str = "/run/podman/podman.sock",
        podman_bin: str | None = "podman",
        containers_storage: str = "/var/lib/containers/storage",
        containers_run: str = "/run/containers/storage",
        containerd_tasks: str = "/run/containerd/io.containerd.runtime.v2.task",
        containerd_socket: str = "/run/containerd/containerd.sock",
        containerd_db: str | None = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db",
        ctr_bin: str | None = "ctr",
        podman_db: str | None = "/var/lib/containers/storage/libpod/bolt_state.db",
        layout: CgroupLayout | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.runc_roots = (runc_root,) if isinstance(runc_root, str) else tuple(runc_root)
        self.docker_socket = docker_socket
        self.docker_root = docker_root
        self.podman_socket = podman_socket
        self.podman_bin = podman_bin
        self.containers_storage = containers_storage
        self.containers_run = containers_run
        self.containerd_tasks = containerd_tasks
        self.containerd_socket = containerd_socket
        self.containerd_db = containerd_db
        self.ctr_bin = ctr_bin
        self.podman_db = podman_db
        self.timeout = timeout
        self._mountpoints = tuple((m.mountpoint, m.root) for m in (layout.mounts if layout else ()))
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        # runc root -> (its directory's mtime in ns, states by container id). A
        # root is re-read only when its listing changed (container added/removed).
        self._runc: dict[str, tuple[int, dict[str, RuncState]]] = {}

    # --- logging -----------------------------------------------------------

    def _log_once(self, key: str, msg: str, *args: Any, level: int = logging.DEBUG) -> None:
        """Log ``msg`` the first time ``key`` is seen; runtimes fail the same way
        for every container, and a trace must not drown in the same line."""
        with self._lock:
            if key in self._logged:
                return
            self._logged.add(key)
        log.log(level, msg, *args, exc_info=level > logging.DEBUG)

    # --- runc --------------------------------------------------------------

    def _refresh_runc(self) -> None:
        """Re-read the runc roots whose directory listing changed since last time."""
        for root in self.runc_roots:
            try:
                mtime = os.stat(root).st_mtime_ns
            except OSError:
                mtime = -1  # no such root: no runc containers there
            with self._lock:
                if root in self._runc and self._runc[root][0] == mtime:
                    continue
            states: dict[str, RuncState] = {}
            complete = True
            names: list[str] = []
            if mtime != -1:
                try:
                    names = os.listdir(root)
                except OSError as e:
                    self._log_once(f"runc-list:{root}", "cannot list %s: %s", root, e)
            for name in names:
                try:
                    doc = _read_json(os.path.join(root, name, "state.json"))
                except (OSError, ValueError) as e:
                    # A container being created (runc writes state.json after its
                    # init already runs) or deleted right now: normal. Read the
                    # root again next time, its listing may not change again.
                    complete = False
                    self._log_once(
                        f"runc-state:{root}/{name}", "runc state %s/%s: %s", root, name, e
                    )
                    continue
                st = parse_runc_state(doc, self._mountpoints)
                if st is not None:
                    states[st.id] = st
            with self._lock:
                self._runc[root] = (mtime if complete else -2, states)

    def runc_in_creation(self) -> bool:
        """Whether a runc container is being created (or deleted) now: a runc
        root holds a container directory without a readable state file. runc
        makes that directory before the container's cgroup and writes the state
        file after the container's init already runs in it."""
        self._refresh_runc()
        with self._lock:
            return any(mtime == -2 for mtime, _ in self._runc.values())

    def runc_states(self) -> list[RuncState]:
        """The runc containers under the runc roots now."""
        self._refresh_runc()
        with self._lock:
            return [st for _, states in self._runc.values() for st in states.values()]

    def runc_for_cgroup(self, cgroup_path: str) -> RuncState | None:
        """The runc container whose cgroup is ``cgroup_path`` or an ancestor of it."""
        best: tuple[int, RuncState] | None = None
        for st in self.runc_states():
            for p in st.cgroup_paths:
                if p == "/":
                    continue
                if cgroup_path == p or cgroup_path.startswith(p + "/"):
                    if best is None or len(p) > best[0]:
                        best = (len(p), st)
        return best[1] if best else None

    def runc_state(self, container_id: str) -> RuncState | None:
        """The runc state of ``container_id`` under any runc root, if any."""
        for st in self.runc_states():
            if st.id == container_id:
                return st
        return None

    # --- sources -------------------------------------------------------------

    def _api_inspect(self, sock: str, container_id: str, source: str) -> Metadata:
        if not os.path.exists(sock):
            return Metadata()
        try:
            status, body = unix_http_get(sock, f"/containers/{container_id}/json", self.timeout)
            if status != 200:
                self._log_once(
                    f"{source}:{status}", "%s: HTTP %d for %s", sock, status, container_id
                )
                return Metadata()
            return parse_docker_inspect(json.loads(body), source)
        except (OSError, http.client.HTTPException, ValueError) as e:
            self._log_once(f"{source}:{type(e).__name__}", "%s: %s", sock, e)
            return Metadata()

    def _podman_cli(self, container_id: str) -> Metadata:
        if not self.podman_bin:
            return Metadata()
        exe = shutil.which(self.podman_bin)
        if exe is None:
            return Metadata()
        try:
            rc, out, err = run_bounded(
                [exe, "container", "inspect", "--format", "json", "--", container_id],
                self.timeout,
            )
        except (OSError, subprocess.SubprocessError) as e:
            self._log_once(f"podman-cli:{type(e).__name__}", "podman inspect: %s", e)
            return Metadata()
        if rc != 0 or len(out) > MAX_RESPONSE:
            self._log_once(
                f"podman-cli:rc{rc}", "podman inspect %s: rc %d: %r", container_id, rc, err[:200]
            )
            return Metadata()
        try:
            return parse_podman_inspect(json.loads(out))
        except ValueError as e:
            self._log_once("podman-cli:json", "podman inspect output: %s", e)
            return Metadata()

    def _file_source(self, path: str, parse: Callable[[Any], Metadata], key: str) -> Metadata:
        try:
            doc = _read_json(path)
        except FileNotFoundError:
            return Metadata()
        except (OSError, ValueError) as e:
            self._log_once(f"{key}:{type(e).__name__}", "%s: %s", path, e)
            return Metadata()
        return parse(doc)

    def _bolt(self, path: str | None, key: str) -> BoltReader | None:
        """The BoltDB file at ``path``, read whole, or None (absent, too big, not
        BoltDB, or changing under us: the caller asks the runtime instead)."""
        if not path:
            return None
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_BOLT_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            self._log_once(f"{key}:{type(e).__name__}", "%s: %s", path, e)
            return None
        if len(data) > MAX_BOLT_FILE:
            self._log_once(f"{key}:big", "%s: larger than %d bytes", path, MAX_BOLT_FILE)
            return None
        try:
            return BoltReader(data)
        except BoltError as e:
            self._log_once(f"{key}:bolt", "%s: %s", path, e)
            return None

    def _podman_db(self, container_id: str) -> Metadata:
        """podman's own record of the container, from its BoltDB (podman <= 4;
        podman 5 may use SQLite instead: then the CLI answers)."""
        db = self._bolt(self.podman_db, "podman-db")
        if db is None:
            return Metadata()
        try:
            raw = db.get(b"ctr", container_id.encode(), b"config")
            return parse_libpod_config(json.loads(raw)) if raw else Metadata()
        except (BoltError, ValueError, UnicodeDecodeError) as e:
            self._log_once("podman-db:read", "%s: %s", self.podman_db, e)
            return Metadata()

    def _containerd_db(self, namespace: str, container_id: str) -> Metadata:
        """containerd's record (image, labels) from its metadata BoltDB
        (``v1/<namespace>/containers/<id>``): what ``ctr containers info``
        prints, without starting ctr (~50 ms)."""
        db = self._bolt(self.containerd_db, "containerd-db")
        if db is None:
            return Metadata()
        base = (b"v1", namespace.encode(), b"containers", container_id.encode())
        try:
            image = db.get(*base, b"image")
            keys = db.keys(*base)
            if not keys:
                return Metadata()
            raw = {k.decode(): (db.get(*base, b"labels", k) or b"").decode()
                   for k in db.keys(*base, b"labels")}  # fmt: skip
        except (BoltError, UnicodeDecodeError) as e:
            self._log_once("containerd-db:read", "%s: %s", self.containerd_db, e)
            return Metadata()
        md = parse_ctr_info({"ID": container_id, "Image": (image or b"").decode(errors="replace"),
                             "Labels": raw})  # fmt: skip
        md.source = "containerd-db"
        return md

    def _podman_storage(self, container_id: str) -> Metadata:
        path = os.path.join(self.containers_storage, "overlay-containers", "containers.json")
        return self._file_source(
            path, lambda d: parse_storage_containers(d, container_id), "containers-storage"
        )

    def _docker_config(self, container_id: str) -> Metadata:
        path = os.path.join(self.docker_root, "containers", container_id, "config.v2.json")
        return self._file_source(
            path, lambda d: parse_docker_inspect(d, "docker-config"), "docker-config"
        )

    def containerd_task(self, cgroup_path: str) -> tuple[str, str] | None:
        """(namespace, id) if ``cgroup_path`` is ``/NS/ID[/...]`` and containerd
        has a task ID in namespace NS (how ``ctr run`` and nerdctl's cgroupfs
        driver place containers). The task directory exists before the
        container's cgroup does (containerd makes the bundle, then runc the
        cgroup), so a new cgroup is recognised at once."""
        comps = [c for c in cgroup_path.split("/") if c]
        if len(comps) < 2 or comps[0] in (".", "..", DOCKER_NAMESPACE) or comps[1] in (".", ".."):
            return None
        if os.path.isdir(os.path.join(self.containerd_tasks, comps[0], comps[1])):
            return comps[0], comps[1]
        return None

    def _containerd_namespaces(self, container_id: str) -> list[str]:
        """The containerd namespaces that have a task ``container_id``."""
        try:
            namespaces = sorted(os.listdir(self.containerd_tasks))
        except OSError:
            return []
        # "moby" is dockerd's namespace: its containers are docker's to describe
        return [
            ns
            for ns in namespaces
            if ns != DOCKER_NAMESPACE
            and os.path.isdir(os.path.join(self.containerd_tasks, ns, container_id))
        ]

    def _ctr_info(self, namespace: str, container_id: str) -> Metadata:
        if not self.ctr_bin:
            return Metadata()
        exe = shutil.which(self.ctr_bin)
        if exe is None:
            return Metadata()
        argv = [exe, "--address", self.containerd_socket, "-n", namespace, "containers", "info"]
        argv += ["--", container_id]
        try:
            rc, out, err = run_bounded(argv, self.timeout)
        except (OSError, subprocess.SubprocessError) as e:
            self._log_once(f"ctr:{type(e).__name__}", "ctr containers info: %s", e)
            return Metadata()
        if rc != 0 or len(out) > MAX_RESPONSE:
            msg = "ctr containers info %s: rc %d: %r"
            self._log_once(f"ctr:rc{rc}", msg, container_id, rc, err[:200])
            return Metadata()
        try:
            return parse_ctr_info(json.loads(out))
        except ValueError as e:
            self._log_once("ctr:json", "ctr containers info output: %s", e)
            return Metadata()

    def _containerd_config(self, container_id: str) -> Metadata:
        """The task bundle's CRI annotations, completed by containerd's own
        record (labels, image) where ``ctr`` answers."""
        for ns in self._containerd_namespaces(container_id):
            path = os.path.join(self.containerd_tasks, ns, container_id, "config.json")
            md = self._file_source(
                path, lambda d: parse_oci_config(d, "containerd"), "containerd-config"
            )
            info = self._containerd_db(ns, container_id)
            if not info.found:
                info = self._ctr_info(ns, container_id)
            if info.found:
                labels = {**info.labels, **md.labels} if md.found else info.labels
                if md.found and md.name:  # a CRI container: its Kubernetes name
                    info.name = md.name
                info.image = md.image or info.image
                info.labels = labels
                return _with_pod_fields(info)
            if md.found:
                md.name = md.name or container_id
                return md
        return Metadata()

    def _crio_config(self, container_id: str) -> Metadata:
        for base in (self.containers_run, self.containers_storage):
            path = os.path.join(base, "overlay-containers", container_id, "userdata", "config.json")
            md = self._file_source(path, lambda d: parse_oci_config(d, "cri-o"), "crio-config")
            # podman writes the same file; only CRI-O's carries its annotations
            if md.found and any(k.startswith("io.kubernetes.") for k in md.labels):
                return md
        return Metadata()

    def _runc_source(self, container_id: str) -> Metadata:
        st = self.runc_state(container_id)
        return runc_metadata(st) if st else Metadata()

    def _docker(self, container_id: str) -> Metadata:
        # config.v2.json first: dockerd writes it at create, with name, image and
        # labels, while its API answers inspect only after the start (the
        # container's lock is held meanwhile): measured 60 ms after the
        # container's program already ran (benchmarks/container_resolve.py).
        md = self._docker_config(container_id)
        if md.found:
            return md
        return self._api_inspect(self.docker_socket, container_id, "docker-api")

    def _podman(self, container_id: str) -> Metadata:
        sources: tuple[Callable[[], Metadata], ...] = (
            lambda: self._api_inspect(self.podman_socket, container_id, "podman-api"),
            lambda: self._podman_db(container_id),
            lambda: self._podman_cli(container_id),
            lambda: self._podman_storage(container_id),
        )
        for source in sources:
            md = source()
            if md.found:
                return md
        return Metadata()

    # --- diagnosis (cdig doctor) --------------------------------------------------

    def _ping(self, sock: str, path: str) -> tuple[bool, str]:
        try:
            status, body = unix_http_get(sock, path, self.timeout)
        except (OSError, http.client.HTTPException) as e:
            return False, f"{sock}: {e}"
        if status != 200:
            return False, f"{sock}: HTTP {status}"
        return True, f"{sock} answers"

    def _cli(self, argv: list[str]) -> tuple[bool, str]:
        exe = shutil.which(argv[0])
        if exe is None:
            return False, f"{argv[0]} not found"
        try:
            rc, out, err = run_bounded([exe, *argv[1:]], self.timeout)
        except (OSError, subprocess.SubprocessError) as e:
            return False, f"{' '.join(argv)}: {type(e).__name__}"
        if rc != 0:
            return False, f"{' '.join(argv)}: exit {rc}: {err.decode(errors='replace')[:120]}"
        return True, f"{argv[0]} answers"

    def probe(self) -> list[RuntimeStatus]:
        """Each runtime cdig knows: installed here? does its metadata source
        answer (bounded by ``timeout`` per source)? Only runtimes that are
        installed or have state on this host are listed."""
        out: list[RuntimeStatus] = []
        have = shutil.which
        # podman: the API socket if a service runs, else the CLI cdig runs
        if have("podman") or os.path.exists(self.podman_socket):
            if os.path.exists(self.podman_socket):
                ok, why = self._ping(self.podman_socket, "/_ping")
            elif self.podman_bin:
                ok, why = self._cli([self.podman_bin, "ps", "-q", "--no-trunc"])
                why = "podman container inspect (CLI) " + ("answers" if ok else f"fails: {why}")
            else:
                ok, why = False, "no API socket and the CLI is disabled"
            if self._bolt(self.podman_db, "podman-db") is not None:
                ok, why = True, f"database {self.podman_db} readable; " + why
            out.append(RuntimeStatus("podman", bool(have("podman")), ok, why))
        if have("dockerd") or os.path.exists(self.docker_socket):
            if os.path.exists(self.docker_socket):
                ok, why = self._ping(self.docker_socket, "/_ping")
                out.append(RuntimeStatus("docker", bool(have("dockerd")), ok, why))
            else:
                out.append(RuntimeStatus("docker", True, None, "dockerd is not running"))
        if have("containerd") or os.path.exists(self.containerd_socket):
            if not os.path.exists(self.containerd_socket):
                out.append(RuntimeStatus("containerd", True, None, "containerd is not running"))
            elif self.ctr_bin and have(self.ctr_bin):
                ok, why = self._cli([self.ctr_bin, "--address", self.containerd_socket, "version"])
                why = f"ctr containers info via {self.containerd_socket} " + (
                    "answers" if ok else f"fails: {why}"
                )
                if self._bolt(self.containerd_db, "containerd-db") is not None:
                    why = f"database {self.containerd_db} readable; " + why
                out.append(RuntimeStatus("containerd", bool(have("containerd")), ok, why))
            else:
                why = "no ctr: labels unknown, CRI bundle annotations only"
                out.append(RuntimeStatus("containerd", bool(have("containerd")), False, why))
        crio_sock = "/var/run/crio/crio.sock"
        if have("crio") or os.path.exists(crio_sock):
            ok = os.path.isdir(self.containers_run) or os.path.isdir(self.containers_storage)
            why = f"state under {self.containers_run}" if ok else "no containers-storage state"
            out.append(RuntimeStatus("cri-o", bool(have("crio")), ok, why))
        if have("runc") or any(os.path.isdir(r) for r in self.runc_roots):
            try:
                n = len(self.runc_states())
                ok, why = True, f"state files under {', '.join(self.runc_roots)} ({n} containers)"
            except OSError as e:  # pragma: no cover - runc_states logs and skips
                ok, why = False, str(e)
            out.append(RuntimeStatus("runc", bool(have("runc")), ok, why))
        if have("lxc-start"):
            why = "named from cgroup paths (lxc.payload.NAME)"
            out.append(RuntimeStatus("lxc", True, True, why))
        if have("systemd-nspawn"):
            why = "named from cgroup paths (machine-NAME.scope; --keep-unit: payload)"
            out.append(RuntimeStatus("systemd-nspawn", True, True, why))
        return out

    def metadata(self, runtime: str, container_id: str) -> Metadata:
        """What the runtime knows about ``container_id``; empty ``Metadata`` if
        nothing answers. Never raises (see the module docstring for bounds)."""
        chains: dict[str, tuple[tuple[str, Callable[[str], Metadata]], ...]] = {
            "podman": (("podman", self._podman),),
            "docker": (("docker", self._docker),),
            "containerd": (("containerd", self._containerd_config),),
            "cri-o": (("cri-o", self._crio_config), ("cri-o", self._runc_source)),
            "runc": (("runc", self._runc_source),),
        }
        ambiguous = (
            ("containerd", self._containerd_config),
            ("cri-o", self._crio_config),
            ("docker", self._docker),
            ("runc", self._runc_source),
        )
        if runtime in chains:
            chain = chains[runtime]
        elif runtime in ("kubernetes", "unknown"):
            chain = ambiguous
        else:
            return Metadata()
        for rt, fn in chain:
            try:
                md = fn(container_id)
            except Exception as e:  # a parser bug must not kill the resolver
                self._log_once(
                    f"bug:{rt}",
                    "metadata lookup %s %s failed: %r",
                    rt,
                    container_id,
                    e,
                    level=logging.WARNING,
                )
                continue
            if md.found:
                if runtime in chains:
                    md.runtime = runtime  # the cgroup path already said which runtime
                else:
                    md.runtime = md.runtime or rt
                return md
        return Metadata()
