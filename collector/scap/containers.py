"""The containers of a .scap file, as sysdig finds them when reading.

A thread belongs to the container its cgroups name (PL entry, clone/execve
exit: ``FORMAT.md`` §1.6); a container JSON event gives its name, image and
labels. Each container gets a synthetic cgroup id, so the rest of cdig
attributes records to containers exactly as for a live capture.
"""

from __future__ import annotations

import json

from ..cgroup_paths import parse_cgroup_path
from ..events import HOST, Container
from .base import SYNTH_CGROUP_BASE, SourceBase

# scap container type -> cdig runtime (sinsp_container_type.h)
CONTAINER_TYPES = {0: "docker", 1: "lxc", 2: "libvirt-lxc", 3: "mesos", 4: "rkt", 5: "custom",
                   6: "cri", 7: "containerd", 8: "cri-o", 9: "bpm", 10: "static", 11: "podman"}
# runtimes whose cgroup names a container the way sysdig's engines see it (not systemd units)
_CONTAINER_RUNTIMES = frozenset({"docker", "podman", "containerd", "cri-o", "kubernetes",
                                 "unknown"})


class ContainerTable(SourceBase):
    """Synthetic cgroup id <-> container, filled from cgroup paths and JSON events."""

    def _cgroup_of(self, cgroups: str) -> int:
        """The synthetic cgroup id of the container a cgroup path belongs to (0: host)."""
        cg = self._cg_of_path.get(cgroups)
        if cg is not None:
            return cg
        ref = parse_cgroup_path(cgroups) if cgroups else None
        cg = 0
        if ref is not None and ref.runtime in _CONTAINER_RUNTIMES:
            short = ref.id[:12]
            cg = self._cg_of_id.get(short, 0)
            if not cg:
                cg = self._new_container(short, Container(id=ref.id, name=short,
                                                          runtime=ref.runtime,
                                                          cgroup_path=ref.cgroup_path))
            c = self.containers[cg]
            if len(c.id) < len(ref.id) and cg not in self._json_named:
                c.id = ref.id
            if not c.cgroup_path:
                c.cgroup_path = ref.cgroup_path
        self._cg_of_path[cgroups] = cg
        return cg

    def _new_container(self, short: str, c: Container) -> int:
        cg = SYNTH_CGROUP_BASE + len(self._cg_of_id) + 1
        self._cg_of_id[short] = cg
        self.containers[cg] = c
        return cg

    def _container_json(self, raw: bytes) -> None:
        try:
            d = json.loads(raw.rstrip(b"\0").decode("utf-8", "replace"))["container"]
            cid = str(d.get("id") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if not cid or cid == "host":
            return
        short = cid[:12]
        cg = self._cg_of_id.get(short)
        if cg is None:
            cg = self._new_container(short, Container(id=cid, name=short, runtime="unknown"))
        c = self.containers[cg]
        full = str(d.get("full_id") or "")
        if len(full) > len(c.id):
            c.id = full
        if d.get("cdig_id"):  # written by cdig: its own id, runtime and cgroup path
            c.id = str(d["cdig_id"])
            self._json_named.add(cg)
            c.cgroup_path = str(d.get("cdig_cgroup_path") or c.cgroup_path)
        c.name = str(d.get("name") or c.name)
        c.image = str(d.get("image") or "")
        try:
            c.runtime = CONTAINER_TYPES.get(int(d.get("type", -1)), c.runtime)
        except (TypeError, ValueError):
            pass
        if d.get("cdig_runtime"):
            c.runtime = str(d["cdig_runtime"])
        labels = d.get("labels")
        if isinstance(labels, dict):
            c.labels = {str(k): str(v) for k, v in labels.items()}
            c.pod_name = c.labels.get("io.kubernetes.pod.name", "")
            c.pod_namespace = c.labels.get("io.kubernetes.pod.namespace", "")
            c.pod_uid = c.labels.get("io.kubernetes.pod.uid", "")

    def container_of(self, cgroup_id: int, pid: int) -> Container:
        return self.containers.get(cgroup_id, HOST)

