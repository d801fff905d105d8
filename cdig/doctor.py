"""``cdig doctor``: can this host run cdig, and if not, what fixes it.

Each check is a small function returning a Check; the table says ok / MISSING
(cdig cannot trace live) / warn (works, degraded) / info, with the fix.
"""

from __future__ import annotations

import gzip
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .collector.cgroups import cgroup_layout
from .collector.runtimes import RuntimeClient
from .collector.runtimes import probe as probe_runtimes
from .errors import EXIT_ERROR, EXIT_OK
from .probes.loader import ProbeError
from .probes.syscalls.probe import SyscallProbe

SETUP = "run scripts/setup.sh as root (or: sudo make setup)"


@dataclass
class Check:
    name: str
    status: str  # ok, MISSING, warn, info
    detail: str
    fix: str = ""

    @property
    def fatal(self) -> bool:
        return self.status == "MISSING"


def _kernel_config() -> dict[str, str] | None:
    paths = ["/proc/config.gz", f"/boot/config-{platform.release()}"]
    for p in paths:
        try:
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rt") as f:
                return dict(line.strip().split("=", 1) for line in f
                            if line.startswith("CONFIG_") and "=" in line)
        except OSError:
            continue
    return None


def check_kernel() -> Check:
    rel = platform.release()
    try:
        major, minor = (int(x) for x in rel.split(".")[:2])
    except ValueError:
        return Check("kernel", "warn", f"cannot parse version {rel!r}")
    if (major, minor) < (5, 8):
        return Check("kernel", "MISSING", f"{rel}: BPF ring buffers need 5.8 or newer",
                     "upgrade the kernel")
    return Check("kernel", "ok", f"{rel} ({platform.machine()})")


def check_config() -> list[Check]:
    cfg = _kernel_config()
    if cfg is None:
        return [Check("kernel config", "info", "not readable (/proc/config.gz, /boot/config-*)",
                      "assuming the distribution defaults")]
    out = []
    for opt in ("BPF_SYSCALL", "BPF_EVENTS", "TRACEPOINTS", "FTRACE_SYSCALLS"):
        val = cfg.get(f"CONFIG_{opt}")
        out.append(Check(f"CONFIG_{opt}", "ok" if val == "y" else "MISSING",
                         val or "not set", "" if val == "y" else "a kernel built with it"))
    kp = cfg.get("CONFIG_KPROBES")
    out.append(Check("CONFIG_KPROBES", "info", kp or "not set (cdig uses tracepoints only)"))
    return out


def check_root() -> Check:
    if os.geteuid() == 0:
        return Check("privileges", "ok", "root")
    return Check("privileges", "MISSING", f"uid {os.geteuid()}: BPF needs root",
                 "run with sudo (reading captures needs no root)")


def check_btf() -> Check:
    if os.path.exists("/sys/kernel/btf/vmlinux"):
        return Check("BTF", "ok", "/sys/kernel/btf/vmlinux")
    return Check("BTF", "info", "no /sys/kernel/btf/vmlinux (not needed: tracepoints only)")


def _mounted(path: str) -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == path for line in f)
    except OSError:
        return False


def check_tracefs() -> Check:
    for p in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(f"{p}/events/raw_syscalls"):
            return Check("tracefs", "ok", p)
    return Check("tracefs", "MISSING", "not mounted",
                 "mount -t tracefs nodev /sys/kernel/tracing")


def check_debugfs() -> Check:
    if _mounted("/sys/kernel/debug"):
        return Check("debugfs", "ok", "/sys/kernel/debug")
    return Check("debugfs", "warn", "not mounted (bcc looks there for tracing files)",
                 "mount -t debugfs nodev /sys/kernel/debug")


def check_headers() -> Check:
    build = f"/lib/modules/{platform.release()}/build"
    if os.path.isdir(f"{build}/include"):
        return Check("kernel headers", "ok", os.path.realpath(build))
    return Check("kernel headers", "MISSING", f"{build} missing (bcc compiles against it)", SETUP)


def check_bcc() -> Check:
    try:
        import bcc
    except ImportError as e:
        return Check("bcc", "MISSING", f"python module not importable: {e}",
                     "apt-get install python3-bpfcc; use a venv with --system-site-packages "
                     f"({SETUP})")
    return Check("bcc", "ok", f"python {sys.version.split()[0]}, {os.path.dirname(bcc.__file__)}")


def check_load() -> Check:
    p = SyscallProbe()
    try:
        p.load()
    except ProbeError as e:
        return Check("BPF load", "MISSING", str(e), SETUP)
    finally:
        p.close()
    return Check("BPF load", "ok", "syscall probe compiled, loaded and attached")


def check_cgroups() -> Check:
    lay = cgroup_layout()
    detail = f"{lay.mode}, cgroup2 at {lay.unified_root}" if lay.unified_root else lay.mode
    if not lay.cgroup_ids_usable:
        return Check("cgroups", "warn", f"{detail}: containers resolved per pid (slower)")
    return Check("cgroups", "ok", detail)


def check_runtimes() -> list[Check]:
    """One line per container runtime found: is its metadata source answering
    (what names, images and labels come from)? Bounded: 2 s per source."""
    found = probe_runtimes(RuntimeClient(layout=cgroup_layout()))
    if not found:
        return [Check("container runtimes", "info", "none found (host processes only)")]
    out = []
    for st in found:
        if st.answers is None:
            out.append(Check(f"runtime {st.runtime}", "info", st.detail))
        elif st.answers:
            out.append(Check(f"runtime {st.runtime}", "ok", st.detail))
        else:
            out.append(Check(f"runtime {st.runtime}", "warn",
                             f"{st.detail}: its containers are shown by id",
                             f"start {st.runtime} or check its socket permissions"))
    return out


def run_doctor(out=None) -> int:
    out = out or sys.stdout
    checks: list[Check] = [check_kernel(), *check_config(), check_root(), check_btf(),
                           check_tracefs(), check_debugfs(), check_headers(), check_bcc()]
    if not any(c.fatal for c in checks):
        checks.append(check_load())
    else:
        checks.append(Check("BPF load", "MISSING", "not tried: fix the items above first"))
    extra: list[Callable[[], Check]] = [check_cgroups]
    checks += [f() for f in extra]
    checks += check_runtimes()
    w = max(len(c.name) for c in checks)
    for c in checks:
        line = f"{c.name:<{w}}  {c.status:<7}  {c.detail}"
        if c.fix and c.status != "ok":
            line += f"\n{'':<{w}}  {'':<7}  fix: {c.fix}"
        print(line, file=out)
    bad = [c.name for c in checks if c.fatal]
    if bad:
        print(f"\ncdig cannot trace live here: {', '.join(bad)}", file=out)
        return EXIT_ERROR
    print("\ncdig can trace live here", file=out)
    return EXIT_OK
