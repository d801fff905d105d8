"""F8: what can be done to the selected process or container (csysdig's actions).

An ``Action`` is data: a key, a label, what it applies to, and whether it asks
first. ``run_action`` does it and returns one line for the message bar; it never
raises for a process that is gone or a permission refused. Signals and
priorities go through ``os`` (no shell, so no name or argv from a traced
program ever reaches a command line); a shell in a container is the runtime's
own ``exec`` (podman, docker) or ``nsenter`` into the process's namespaces.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..collector.events import Container


@dataclass(frozen=True)
class Target:
    """What the action is about: a process (pid) and/or a container."""

    label: str  # for the confirmation line (untrusted: shown escaped)
    pid: int | None = None
    container: Container | None = None


@dataclass(frozen=True)
class Action:
    key: str
    label: str
    needs: str  # "pid": a process; "container": a container (or a process in one)
    confirm: bool = True


ACTIONS: tuple[Action, ...] = (
    Action("k", "kill (SIGTERM)", "pid"),
    Action("9", "kill -9 (SIGKILL)", "pid"),
    Action("+", "renice +1 (lower priority)", "pid"),
    Action("-", "renice -1 (higher priority)", "pid"),
    Action("l", "lsof: its open files (cdig's fd table)", "pid", confirm=False),
    Action("b", "shell in its container (the runtime's exec)", "container"),
)


def applicable(target: Target) -> list[Action]:
    out = []
    for a in ACTIONS:
        if a.needs == "pid" and target.pid is None:
            continue
        if a.needs == "container" and (target.container is None or target.container.is_host):
            continue
        out.append(a)
    return out


def question(action: Action, target: Target) -> str:
    """The confirmation line."""
    what = {"k": "send SIGTERM to", "9": "send SIGKILL to", "+": "renice +1",
            "-": "renice -1", "b": "open a shell in"}.get(action.key, action.label)
    return f"{what} {target.label}? (y: yes, any other key: no)"


def shell_command(c: Container, pid: int | None) -> list[str] | None:
    """The command that opens a shell in ``c``, or None if there is no way."""
    cid = c.id
    if c.runtime == "podman" and shutil.which("podman"):
        return ["podman", "exec", "-it", cid, "/bin/sh"]
    if c.runtime == "docker" and shutil.which("docker"):
        return ["docker", "exec", "-it", cid, "/bin/sh"]
    if pid is not None and shutil.which("nsenter"):
        return ["nsenter", "-t", str(pid), "-a", "/bin/sh"]
    return None


def lsof_lines(fds: dict[int, Any] | None) -> list[str]:
    """One line per open fd (number, type, name) from a ``State`` fd table."""
    if not fds:
        return ["no open file known to cdig for this process"]
    out = []
    for num in sorted(fds):
        f = fds[num]
        out.append(f"{num:>5}  {getattr(f, 'type', '?'):<10} {getattr(f, 'name', '')}")
    return out


def run_action(action: Action, target: Target,
               kill: Callable[[int, int], None] = os.kill,
               getprio: Callable[[int, int], int] = os.getpriority,
               setprio: Callable[[int, int, int], None] = os.setpriority) -> str:
    """Do a signal or renice action; one line saying what happened."""
    pid = target.pid
    if pid is None:
        return f"{action.label}: no process selected"
    try:
        if action.key in ("k", "9"):
            sig = signal.SIGTERM if action.key == "k" else signal.SIGKILL
            kill(pid, sig)
            return f"sent {sig.name} to {target.label}"
        if action.key in ("+", "-"):
            cur = getprio(os.PRIO_PROCESS, pid)
            new = max(-20, min(19, cur + (1 if action.key == "+" else -1)))
            setprio(os.PRIO_PROCESS, pid, new)
            return f"{target.label}: nice {cur} -> {new}"
    except ProcessLookupError:
        return f"{action.label}: {target.label} is gone"
    except PermissionError as e:
        return f"{action.label}: {target.label}: {e.strerror or 'not permitted'}"
    except OSError as e:
        return f"{action.label}: {target.label}: {e.strerror or e}"
    return f"{action.label}: not a signal or priority action"
