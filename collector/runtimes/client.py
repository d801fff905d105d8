"""``RuntimeClient``: the lookup chains per runtime (see the package docstring) and
``probe()`` for ``cdig doctor``."""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import InitVar, dataclass
from typing import Any

from ..boltdb import BoltError, BoltReader
from ..cgroups import CgroupLayout
from .metadata import MAX_BOLT_FILE, MAX_RESPONSE, Metadata, RuncState, _with_pod_fields
from .parsers import (
    DOCKER_NAMESPACE,
    parse_ctr_info,
    parse_docker_inspect,
    parse_libpod_config,
    parse_oci_config,
    parse_podman_inspect,
    parse_runc_state,
    parse_storage_containers,
    runc_metadata,
)
from .transport import _read_json, run_bounded, unix_http_get

log = logging.getLogger(__name__)


# --- the facade ---------------------------------------------------------------------


@dataclass(kw_only=True, eq=False)
class RuntimeClient:
    """Asks the container runtimes of this host about containers.

    All locations are parameters (for fixture trees in tests, and for running
    in a container with the host's directories mounted elsewhere).
    ``timeout`` (seconds) bounds each socket request and each podman child.
    ``podman_bin=None`` disables the podman CLI (e.g. to avoid tracing it).
    Thread-safe.
    """

    runc_root: str | Iterable[str] = "/run/runc"
    docker_socket: str = "/var/run/docker.sock"
    docker_root: str = "/var/lib/docker"
    podman_socket: str = "/run/podman/podman.sock"
    podman_bin: str | None = "podman"
    containers_storage: str = "/var/lib/containers/storage"
    containers_run: str = "/run/containers/storage"
    containerd_tasks: str = "/run/containerd/io.containerd.runtime.v2.task"
    containerd_socket: str = "/run/containerd/containerd.sock"
    containerd_db: str | None = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"
    ctr_bin: str | None = "ctr"
    podman_db: str | None = "/var/lib/containers/storage/libpod/bolt_state.db"
    layout: InitVar[CgroupLayout | None] = None
    timeout: float = 2.0

    def __post_init__(self, layout: CgroupLayout | None) -> None:
        rr = self.runc_root
        self.runc_roots = (rr,) if isinstance(rr, str) else tuple(rr)
        self.runc_root = self.runc_roots  # an iterator given is read once
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

    def _cli_json(self, binary: str | None, args: list[str], container_id: str,
                  parse: Callable[[Any], Metadata], key: str, what: str) -> Metadata:
        """``binary args…`` run with the timeout, its JSON output parsed; empty Metadata
        when the binary is off or absent, fails, or says more than MAX_RESPONSE.
        ``key`` and ``what`` name it in the log."""
        if not binary:
            return Metadata()
        exe = shutil.which(binary)
        if exe is None:
            return Metadata()
        try:
            rc, out, err = run_bounded([exe, *args], self.timeout)
        except (OSError, subprocess.SubprocessError) as e:
            self._log_once(f"{key}:{type(e).__name__}", "%s: %s", what, e)
            return Metadata()
        if rc != 0 or len(out) > MAX_RESPONSE:
            msg = "%s %s: rc %d: %r"
            self._log_once(f"{key}:rc{rc}", msg, what, container_id, rc, err[:200])
            return Metadata()
        try:
            return parse(json.loads(out))
        except ValueError as e:
            self._log_once(f"{key}:json", "%s output: %s", what, e)
            return Metadata()

    def _podman_cli(self, container_id: str) -> Metadata:
        return self._cli_json(self.podman_bin,
                              ["container", "inspect", "--format", "json", "--", container_id],
                              container_id, parse_podman_inspect, "podman-cli", "podman inspect")

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
        args = ["--address", self.containerd_socket, "-n", namespace, "containers", "info",
                "--", container_id]
        return self._cli_json(self.ctr_bin, args, container_id, parse_ctr_info, "ctr",
                              "ctr containers info")

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

    def db_readable(self, path: str | None, key: str) -> bool:
        """Whether the bolt database at ``path`` opens (``key`` names it in logs)."""
        return self._bolt(path, key) is not None

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
