"""What a cgroup path says about its container, read from the path's shape alone:
the runtime, the container id and the pod uid / QoS class, for docker, podman,
containerd/CRI, nerdctl, CRI-O, Kubernetes pod slices (systemd and cgroupfs drivers),
LXC, systemd-nspawn, runc's systemd driver and systemd services. Pure (no I/O);
``collector.containers.ContainerResolver`` builds on it.

Decisions (the rest of cdig relies on them):

- Host: ``/``, ``/init.scope``, ``/user.slice/...`` (sessions and user
  services), other slices and scopes, and runtime helpers that are not the
  container (podman's ``conmon``/``libpod-conmon-*``, ``crio-conmon-*``,
  ``lxc.monitor*``) all resolve to ``events.HOST``.
- systemd services (``/system.slice/nginx.service``, any ``*.service`` outside
  ``user.slice``) are reported as ``Container(runtime="systemd", id=name=unit)``:
  a unit is the natural grouping of host daemons and csysdig-like views want it.
  They are not containers in the runtime sense: ``container.type`` shows
  ``systemd``, and ``ContainerResolver(systemd_services=False)`` folds them into
  the host the way sysdig does.
- A 64-hex component that no runtime pattern claims (``docker
  --cgroup-parent=/x`` gives ``/x/<id>``, nerdctl's cgroupfs driver gives
  ``/default/<id>``) is a ``Container(runtime="unknown")``; the runtimes are
  then asked about the id and the one that knows it names the runtime. Any
  other unrecognised path is the host, unless a runc state file places a runc
  container at it (plain ``runc run NAME`` uses ``/NAME``).
- Nested containers (``/docker/<a>/docker/<b>``, kind's
  ``/docker/<node>/kubepods/...``): the innermost container is the process's
  container; ``ContainerRef.parent`` keeps the outer one, and the outer
  container's cgroup ids (``cgroup_ids_for``) include the inner ones.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = ["ContainerRef", "default_name", "is_within", "nspawn_machine_name", "parse_cgroup_path",
           "surely_host"]

_HEX64 = r"[0-9a-f]{64}"
_IS_HEX64 = re.compile(_HEX64)

# One cgroup path component that is a container's own cgroup -> runtime.
# fullmatch, so "libpod-conmon-<id>.scope" and "crio-conmon-<id>" never match.
_COMPONENT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"docker-({_HEX64})\.scope"), "docker"),  # systemd driver
    (re.compile(rf"libpod-({_HEX64})(?:\.scope)?"), "podman"),  # both drivers
    (re.compile(rf"cri-containerd-({_HEX64})\.scope"), "containerd"),
    (re.compile(rf"nerdctl-({_HEX64})\.scope"), "containerd"),
    (re.compile(rf"crio-({_HEX64})(?:\.scope)?"), "cri-o"),  # both drivers
    (re.compile(r"runc-([A-Za-z0-9][A-Za-z0-9_.+-]*)\.scope"), "runc"),  # runc --systemd-cgroup
    (re.compile(r"lxc\.payload\.(.+)"), "lxc"),  # LXC >= 4 / LXD
    # systemd-nspawn registered with machined, or run as a machinectl unit
    (re.compile(r"machine-(.+)\.scope"), "nspawn"),
    (re.compile(r"systemd-nspawn@(.+)\.service"), "nspawn"),
)

# Kubernetes pod hierarchy, systemd driver: kubepods.slice,
# kubepods-burstable.slice, kubepods-burstable-pod<uid with _>.slice,
# kubepods-pod<uid>.slice (Guaranteed). A kubelet --cgroup-root adds a prefix
# (kind: kubelet-kubepods-...).
_K8S_SLICE = re.compile(
    r"(?:[A-Za-z0-9_.-]*-)?kubepods(?:-(besteffort|burstable))?(?:-pod([0-9a-fA-F_]+))?\.slice"
)
# cgroupfs driver: kubepods/[besteffort|burstable/]pod<uid>/<container id>
_K8S_POD_DIR = re.compile(r"pod([0-9a-fA-F][0-9a-fA-F_-]*)")
_K8S_QOS = ("besteffort", "burstable")


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """What a cgroup path says about its container. Produced by ``parse_cgroup_path``.

    ``runtime`` is one of docker, podman, containerd, cri-o, kubernetes (a pod's
    container under the cgroupfs driver, runtime not in the path), lxc, runc,
    systemd, unknown. ``cgroup_path`` is the container's own cgroup (a prefix of
    the parsed path). ``qos`` is guaranteed, burstable or besteffort inside a
    Kubernetes pod, else "".
    """

    runtime: str
    id: str
    cgroup_path: str
    pod_uid: str = ""
    qos: str = ""
    parent: ContainerRef | None = None


def _match_component(comp: str, prev: str, in_pod: bool) -> tuple[str, str] | None:
    """(runtime, id) if cgroup path component ``comp`` is a container's cgroup."""
    for pattern, runtime in _COMPONENT_PATTERNS:
        m = pattern.fullmatch(comp)
        if m:
            return runtime, _systemd_unescape(m.group(1)) if runtime == "nspawn" else m.group(1)
    if prev == "docker" and _IS_HEX64.fullmatch(comp):
        return "docker", comp  # cgroupfs driver: /docker/<id>
    if prev in ("lxc", "lxc.payload") and comp:
        return "lxc", comp  # LXC 1-3: /lxc/<name>, /lxc.payload/<name>
    if _IS_HEX64.fullmatch(comp):
        if in_pod:
            return "kubernetes", comp  # cgroupfs driver: runtime not in the path
        if prev == "libpod_parent":
            return None  # podman pod (cgroupfs); its containers are libpod-<id> inside
        return "unknown", comp
    return None


def _systemd_unescape(name: str) -> str:
    """Undo systemd's unit-name escaping (``\\x2d`` for "-")."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), name)


def nspawn_machine_name(argv: list[str]) -> str:
    """The machine name a ``systemd-nspawn`` command line gives its container:
    ``-M/--machine``, else the basename of ``-D/--directory`` or ``-i/--image``."""
    opts: dict[str, str] = {}
    it = iter(argv[1:])
    for a in it:
        if a == "--" or not a.startswith("-"):
            break  # the container's own command follows
        for short, long_ in (("-M", "--machine"), ("-D", "--directory"), ("-i", "--image")):
            if a in (short, long_):
                opts[long_] = next(it, "")
            elif a.startswith(long_ + "="):
                opts[long_] = a.split("=", 1)[1]
            elif a.startswith(short) and len(a) > 2 and a[2] != "-":
                opts[long_] = a[2:]
    if opts.get("--machine"):
        return opts["--machine"][:256]
    for k in ("--directory", "--image"):
        if opts.get(k):
            return os.path.basename(opts[k].rstrip("/")).split(".raw")[0][:256]
    return ""


def parse_cgroup_path(path: str) -> ContainerRef | None:
    """The container a cgroup path belongs to, or ``None`` for the host.

    ``path`` is a cgroup path as in ``/proc/PID/cgroup`` (v1 or v2), e.g.
    ``/system.slice/docker-<64 hex>.scope/init.scope``. See the module
    docstring for what counts as host, systemd service and unknown.
    """
    comps = [c for c in path.split("/") if c]
    found: ContainerRef | None = None
    in_k8s = False
    qos = pod_uid = ""
    in_pod = False
    prev = ""
    for i, comp in enumerate(comps):
        m = _K8S_SLICE.fullmatch(comp)
        if m:
            in_k8s = True
            qos = m.group(1) or qos
            if m.group(2):
                pod_uid, in_pod = m.group(2).replace("_", "-"), True
        elif comp == "kubepods":
            in_k8s, qos, pod_uid, in_pod = True, "", "", False
        elif in_k8s and prev == "kubepods" and comp in _K8S_QOS:
            qos = comp
        elif in_k8s and not in_pod and (pm := _K8S_POD_DIR.fullmatch(comp)):
            pod_uid, in_pod = pm.group(1).replace("_", "-"), True
        else:
            hit = _match_component(comp, prev, in_pod)
            if hit is not None:
                runtime, cid = hit
                found = ContainerRef(
                    runtime=runtime,
                    id=cid,
                    cgroup_path="/" + "/".join(comps[: i + 1]),
                    pod_uid=pod_uid if in_pod else "",
                    qos=(qos or "guaranteed") if in_pod else "",
                    parent=found,
                )
                # a pod's context applies to its own containers only
                in_k8s, qos, pod_uid, in_pod = False, "", "", False
        prev = comp
    if found is not None:
        return found
    if comps and comps[0] != "user.slice":
        for i, comp in enumerate(comps):
            if comp.endswith(".service") and len(comp) > len(".service"):
                return ContainerRef("systemd", comp, "/" + "/".join(comps[: i + 1]))
    return None


def is_within(path: str, ancestor: str) -> bool:
    """Whether cgroup ``path`` is ``ancestor`` or below it."""
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def surely_host(path: str) -> bool:
    """Unrecognised paths that are the host's for sure: a runc container being
    created will not claim them (sessions, init, runtime monitors)."""
    comps = [c for c in path.split("/") if c]
    if not comps or comps[0] in ("user.slice", "init.scope"):
        return True
    last = comps[-1]
    return last == "conmon" or last.startswith(("libpod-conmon-", "crio-conmon-", "lxc.monitor"))


def default_name(ref: ContainerRef) -> str:
    """The name shown until (or unless) the runtime names the container."""
    return ref.id[:12] if _IS_HEX64.fullmatch(ref.id) else ref.id
