"""Which container runtimes are here and whether their metadata sources answer
(``cdig doctor``, ``cdig containers``)."""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
from dataclasses import dataclass

from .client import RuntimeClient
from .transport import run_bounded, unix_http_get


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


def _ping(sock: str, path: str, timeout: float) -> tuple[bool, str]:
    try:
        status, body = unix_http_get(sock, path, timeout)
    except (OSError, http.client.HTTPException) as e:
        return False, f"{sock}: {e}"
    if status != 200:
        return False, f"{sock}: HTTP {status}"
    return True, f"{sock} answers"

def _cli(argv: list[str], timeout: float) -> tuple[bool, str]:
    exe = shutil.which(argv[0])
    if exe is None:
        return False, f"{argv[0]} not found"
    try:
        rc, out, err = run_bounded([exe, *argv[1:]], timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"{' '.join(argv)}: {type(e).__name__}"
    if rc != 0:
        return False, f"{' '.join(argv)}: exit {rc}: {err.decode(errors='replace')[:120]}"
    return True, f"{argv[0]} answers"

def probe(client: RuntimeClient) -> list[RuntimeStatus]:
    """Each runtime cdig knows: installed here? does its metadata source
    answer (bounded by the client's ``timeout`` per source)? Only runtimes that are
    installed or have state on this host are listed."""
    out: list[RuntimeStatus] = []
    have = shutil.which
    # podman: the API socket if a service runs, else the CLI cdig runs
    if have("podman") or os.path.exists(client.podman_socket):
        if os.path.exists(client.podman_socket):
            ok, why = _ping(client.podman_socket, "/_ping", client.timeout)
        elif client.podman_bin:
            ok, why = _cli([client.podman_bin, "ps", "-q", "--no-trunc"], client.timeout)
            why = "podman container inspect (CLI) " + ("answers" if ok else f"fails: {why}")
        else:
            ok, why = False, "no API socket and the CLI is disabled"
        if client.db_readable(client.podman_db, "podman-db"):
            ok, why = True, f"database {client.podman_db} readable; " + why
        out.append(RuntimeStatus("podman", bool(have("podman")), ok, why))
    if have("dockerd") or os.path.exists(client.docker_socket):
        if os.path.exists(client.docker_socket):
            ok, why = _ping(client.docker_socket, "/_ping", client.timeout)
            out.append(RuntimeStatus("docker", bool(have("dockerd")), ok, why))
        else:
            out.append(RuntimeStatus("docker", True, None, "dockerd is not running"))
    if have("containerd") or os.path.exists(client.containerd_socket):
        if not os.path.exists(client.containerd_socket):
            out.append(RuntimeStatus("containerd", True, None, "containerd is not running"))
        elif client.ctr_bin and have(client.ctr_bin):
            ok, why = _cli([client.ctr_bin, "--address", client.containerd_socket, "version"],
                            client.timeout)
            why = f"ctr containers info via {client.containerd_socket} " + (
                "answers" if ok else f"fails: {why}"
            )
            if client.db_readable(client.containerd_db, "containerd-db"):
                why = f"database {client.containerd_db} readable; " + why
            out.append(RuntimeStatus("containerd", bool(have("containerd")), ok, why))
        else:
            why = "no ctr: labels unknown, CRI bundle annotations only"
            out.append(RuntimeStatus("containerd", bool(have("containerd")), False, why))
    crio_sock = "/var/run/crio/crio.sock"
    if have("crio") or os.path.exists(crio_sock):
        ok = os.path.isdir(client.containers_run) or os.path.isdir(client.containers_storage)
        why = f"state under {client.containers_run}" if ok else "no containers-storage state"
        out.append(RuntimeStatus("cri-o", bool(have("crio")), ok, why))
    if have("runc") or any(os.path.isdir(r) for r in client.runc_roots):
        try:
            n = len(client.runc_states())
            ok, why = True, f"state files under {', '.join(client.runc_roots)} ({n} containers)"
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
