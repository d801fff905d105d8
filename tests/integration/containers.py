"""Real-container harness for cdig's integration tests.

Everything here drives the real tools (gcc, podman, runc) with subprocess; the
pytest fixtures in ``conftest.py`` are thin wrappers around these classes.

The central idea: a container starts *idle*, blocked on a gate, so a tracer can
be attached before the measured work begins::

    c = podman_container(Workload().write(100), labels={...})   # running, blocked
    tracer.start()
    c.go()                     # release the gate
    assert c.wait(10) == 0     # exit code
    tracer.stop()

The workload is ``cdigwork`` (``workload.c``), a libc-free static program whose
syscall sequence is a pure function of its argv (see :class:`Workload`), so the
exact number of each syscall a tracer must see is known in advance.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
WORKLOAD_SRC = HERE / "workload.c"
WORKLOAD_NAME = "cdigwork"  # the comm of the workload process
CONTAINER_WORKLOAD = "/bin/" + WORKLOAD_NAME  # its path inside the test rootfs
CONTAINER_GATE_DIR = "/cdig-gate"  # bind mount of the host gate dir
CONTAINER_GATE = CONTAINER_GATE_DIR + "/go"  # the gate FIFO inside containers
#: a line for shell-script workloads: blocks until .go() (one byte per gate)
SHELL_GATE = f"{CONTAINER_WORKLOAD} gate {CONTAINER_GATE}"

PODMAN_IMAGE = "localhost/cdig-bb:test"
DOCKER_IMAGE = "cdig-bb:test"
CTR_IMAGE = "docker.io/library/cdig-bb:test"  # how containerd names the docker image
NAME_PREFIX = "cdigt-"
OWNER_LABEL = "cdig.test.owner"
HASH_LABEL = "cdig.test.rootfs-hash"
GCC_FLAGS = [
    "-static",
    "-nostdlib",
    "-no-pie",
    "-ffreestanding",
    "-fno-builtin",
    "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables",
    "-O2",
    "-Wall",
]
ROOTFS_LAYOUT_VERSION = "1"  # bump when build_rootfs() changes what it writes
# podman's default ulimits need CAP_SYS_RESOURCE, which this machine lacks
PODMAN_RUN_BASE = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

_counter = itertools.count(1)


# --------------------------------------------------------------------------
# capabilities


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _which(tool: str) -> str | None:
    return None if shutil.which(tool) else f"`{tool}` not found on PATH"


def _check_root() -> str | None:
    return None if os.geteuid() == 0 else f"not root (euid {os.geteuid()})"


def _check_bpf() -> str | None:
    if os.geteuid() != 0:
        return "BPF needs root"
    # BPF_MAP_CREATE of a 1-entry array map: the smallest real use of bpf(2)
    attr = (ctypes.c_uint32 * 32)()
    attr[0], attr[1], attr[2], attr[3] = 2, 4, 4, 1  # ARRAY, key 4, value 4, 1 entry
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(321, 0, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        e = ctypes.get_errno()
        return f"bpf(BPF_MAP_CREATE) failed: {errno.errorcode.get(e, e)}"
    os.close(fd)
    return None


def _check_bcc() -> str | None:
    try:
        import bcc  # noqa: F401
    except Exception as e:  # any import failure means "no bcc"
        return f"python module bcc not importable ({e.__class__.__name__}: {e})"
    return None


def _check_tracefs() -> str | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        if line.split()[2:3] == ["tracefs"]:
            return None
    return "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)"


def _check_podman() -> str | None:
    return _which("podman") or _which("runc")  # podman runs with --runtime runc


def _check_busybox() -> str | None:
    try:
        bb = find_busybox()
    except RuntimeError as e:
        return str(e)
    r = subprocess.run(["file", "-L", str(bb)], capture_output=True, text=True)
    if r.returncode == 0 and "statically linked" not in r.stdout:
        return f"{bb} is not statically linked (apt-get install busybox-static)"
    return None


# --------------------------------------------------------------------------
# daemons: containerd and dockerd are installed by scripts/setup.sh but nothing
# starts them at boot; the harness starts them (once, detached, left running for
# later sessions) when they do not answer.

CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_PIDFILE = "/var/run/docker.pid"


def _answers(argv: Sequence[str], timeout: float = 10) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _clear_stale_pidfile(path: str, name: str) -> None:
    """Remove ``path`` when the pid it names is not a live ``name``: a daemon
    killed without cleanup (OOM, a reboot without tmpfs /run) leaves its pid
    file, and dockerd then refuses to start ("pid file found")."""
    try:
        pid = int(Path(path).read_text().strip() or "0")
    except (OSError, ValueError):
        pid = 0
    if not os.path.exists(path):
        return
    try:
        alive = Path(f"/proc/{pid}/comm").read_text().strip() == name[:15]
    except OSError:
        alive = False
    if not alive:
        Path(path).unlink(missing_ok=True)


def _start_daemon(
    name: str,
    argv: Sequence[str],
    probe: Sequence[str],
    timeout: float,
    pidfile: str | None = None,
) -> str | None:
    """Start ``argv`` detached unless ``probe`` already succeeds; None once it does."""
    if _answers(probe):
        return None
    if pidfile:
        _clear_stale_pidfile(pidfile, name)
    log_path = Path(tempfile.gettempdir()) / f"cdig-test-{name}.log"
    with open(log_path, "ab") as log:
        subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the test session, like a service
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(probe):
            return None
        time.sleep(0.2)
    tail = log_path.read_text(errors="replace")[-2000:]
    return f"{name} did not answer within {timeout}s (log {log_path}):\n{tail}"


def docker_cli() -> str:
    """The docker client shipped with dockerd (same directory) if there is one,
    else the first on PATH: a newer client elsewhere on PATH works too."""
    dockerd = shutil.which("dockerd")
    if dockerd:
        beside = Path(dockerd).with_name("docker")
        if beside.exists():
            return str(beside)
    return shutil.which("docker") or "docker"


def ensure_containerd() -> str | None:
    """containerd running and answering ``ctr version``; the reason if not."""
    reason = _which("containerd") or _which("ctr") or _check_root()
    if reason:
        return reason
    return _start_daemon("containerd", ["containerd"], ["ctr", "version"], 30)


def ensure_dockerd() -> str | None:
    """dockerd (over the shared containerd) answering ``docker version``. No
    default bridge and no iptables rules: test containers use --network none,
    and the host's network is not touched."""
    reason = _which("dockerd") or ensure_containerd()
    if reason:
        return reason
    argv = [
        "dockerd",
        "--containerd",
        CONTAINERD_SOCKET,
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
    ]
    return _start_daemon("dockerd", argv, [docker_cli(), "version"], 60, DOCKER_PIDFILE)


def _check_lxc() -> str | None:
    return _which("lxc-create") or _which("lxc-start") or _check_root()


def _check_nspawn() -> str | None:
    return _which("systemd-nspawn") or _check_root()


CAPABILITIES = {
    "root": _check_root,
    "busybox": _check_busybox,
    "bpf": _check_bpf,
    "bcc": _check_bcc,
    "tracefs": _check_tracefs,
    "podman": _check_podman,
    "runc": lambda: _which("runc"),
    "gcc": lambda: _which("gcc"),
    "strace": lambda: _which("strace"),
    "tmux": lambda: _which("tmux"),
    "bpftrace": lambda: _which("bpftrace"),
    "prometheus": lambda: _which("prometheus"),
    "promtool": lambda: _which("promtool"),
    "sysdig": lambda: _which("sysdig"),
    "containerd": ensure_containerd,
    "docker": ensure_dockerd,
    "lxc": _check_lxc,
    "nspawn": _check_nspawn,
}


def missing(*caps: str) -> list[str]:
    """The reasons why the named capabilities are unavailable (empty: all there)."""
    out = []
    for cap in caps:
        try:
            check = CAPABILITIES[cap]
        except KeyError:
            known = sorted(CAPABILITIES)
            raise ValueError(f"unknown capability {cap!r}; known: {known}") from None
        reason = check()
        if reason:
            out.append(f"{cap}: {reason}")
    return out


def require(*caps: str) -> None:
    """Skip the test (pytest.fail when CI=true) unless every capability is there.

    Capabilities: root, busybox, bpf, bcc, tracefs, podman, runc, gcc, strace,
    tmux, bpftrace, prometheus, promtool, sysdig.
    """
    reasons = missing(*caps)
    if not reasons:
        return
    msg = "MISSING CAPABILITY for integration test: " + "; ".join(reasons)
    if _in_ci():
        pytest.fail(msg + " (CI=true: a missing capability is a failure)", pytrace=False)
    pytest.skip(msg)


# --------------------------------------------------------------------------
# the workload program and its syscall contract


class Workload:
    """Builder for a ``cdigwork`` argv, and its exact syscall sequence.

    Every method appends one step and returns self. The syscalls each step makes
    do not depend on whether they succeed (x86_64 names)::

        write(n, path)    openat ; n x write(fd, "x", 1) ; close
        open(n, path)     n x (openat(O_RDONLY) ; close)
        getppid(n)        n x getppid
        listen(port)      socket ; bind(127.0.0.1:port) ; listen
        connect(n, port)  n x (socket ; connect(127.0.0.1:port) ; close)
        accept(n)         n x (accept ; close)           (after listen)
        fork(n)           n x (fork ; [child: exit_group(0)] ; wait4)
        sleep(ms)         nanosleep
        name(comm)        prctl(PR_SET_NAME, comm)
        exec(path)        execve(path, [path, remaining steps...])
        exit(k)           exit_group(k) (ends the program)

    The program starts with the kernel's ``execve`` and ends with
    ``exit_group(code)`` (code 0 without an ``exit`` step). A gate (added by the
    containers, see :meth:`argv`) is ``openat(FIFO, O_RDWR) ; read ; close``:
    the ``read`` blocks until ``go()``.
    """

    def __init__(self) -> None:
        self.steps: list[tuple[str, ...]] = []

    # -- steps
    def _add(self, *step: object) -> Workload:
        if self.steps and self.steps[-1][0] == "exit":
            raise ValueError("no step can follow exit()")
        self.steps.append(tuple(str(s) for s in step))
        return self

    @staticmethod
    def _n(n: int) -> int:
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"count must be a non-negative int, not {n!r}")
        return n

    def write(self, n: int, path: str = "/dev/null") -> Workload:
        return self._add("write", self._n(n), path)

    def open(self, n: int, path: str) -> Workload:
        return self._add("open", self._n(n), path)

    def getppid(self, n: int) -> Workload:
        return self._add("getppid", self._n(n))

    def listen(self, port: int) -> Workload:
        return self._add("listen", self._n(port))

    def connect(self, n: int, port: int) -> Workload:
        return self._add("connect", self._n(n), self._n(port))

    def accept(self, n: int) -> Workload:
        return self._add("accept", self._n(n))

    def fork(self, n: int) -> Workload:
        return self._add("fork", self._n(n))

    def sleep(self, ms: int) -> Workload:
        return self._add("sleep", self._n(ms))

    def name(self, comm: str) -> Workload:
        if not comm or len(comm.encode()) > 15:
            raise ValueError("comm must be 1..15 bytes")
        return self._add("name", comm)

    def exec(self, path: str = CONTAINER_WORKLOAD) -> Workload:
        return self._add("exec", path)

    def exit(self, code: int) -> Workload:
        if not 0 <= code <= 255:
            raise ValueError("exit code must be 0..255")
        return self._add("exit", code)

    # -- derived
    @property
    def exit_code(self) -> int:
        if self.steps and self.steps[-1][0] == "exit":
            return int(self.steps[-1][1])
        return 0

    def args(self) -> list[str]:
        """The steps as argv words (without program and gate)."""
        return [w for step in self.steps for w in step]

    def argv(self, program: str = CONTAINER_WORKLOAD, gate: str | None = None) -> list[str]:
        """Full argv: ``program [gate PATH] steps...``."""
        return [program] + (["gate", gate] if gate else []) + self.args()

    def syscalls(self, gated: bool = True, phase: str = "all") -> list[str]:
        """The exact syscalls, in program order (a forked child's exit_group right
        after its fork), of every process of this workload.

        phase="all": from the initial execve to the final exit_group.
        phase="after_go": the syscalls *entered* after go() — with a gate that
        is ``close`` (of the gate fd), the steps, ``exit_group``. (The gate's
        ``read`` is entered before go() and returns after it.)
        """
        if phase not in ("all", "after_go"):
            raise ValueError("phase must be 'all' or 'after_go'")
        out: list[str] = []
        if phase == "all":
            out.append("execve")
            if gated:
                out += ["openat", "read"]
        if gated:
            out.append("close")
        for step in self.steps:
            kind, rest = step[0], step[1:]
            if kind == "write":
                out += ["openat"] + ["write"] * int(rest[0]) + ["close"]
            elif kind == "open":
                out += ["openat", "close"] * int(rest[0])
            elif kind == "getppid":
                out += ["getppid"] * int(rest[0])
            elif kind == "listen":
                out += ["socket", "bind", "listen"]
            elif kind == "connect":
                out += ["socket", "connect", "close"] * int(rest[0])
            elif kind == "accept":
                out += ["accept", "close"] * int(rest[0])
            elif kind == "fork":
                out += ["fork", "exit_group", "wait4"] * int(rest[0])
            elif kind == "sleep":
                out.append("nanosleep")
            elif kind == "name":
                out.append("prctl")
            elif kind == "exec":
                out.append("execve")
            elif kind == "exit":
                break
        out.append("exit_group")
        return out

    def counts(self, gated: bool = True, phase: str = "all") -> Counter:
        return Counter(self.syscalls(gated=gated, phase=phase))

    def __repr__(self) -> str:
        return f"Workload({' '.join(self.args())!r})"


def workload_hash() -> str:
    h = hashlib.sha256()
    h.update(WORKLOAD_SRC.read_bytes())
    h.update(" ".join(GCC_FLAGS).encode())
    return h.hexdigest()


def build_workload(out: Path) -> Path:
    """Compile workload.c into ``out`` (a file path) with gcc; return ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["gcc", *GCC_FLAGS, "-o", str(out), str(WORKLOAD_SRC)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return out


def find_busybox() -> Path:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return Path(os.path.realpath(p))
    raise RuntimeError("busybox not found (apt-get install busybox-static)")


def build_rootfs(dest: Path, workload_bin: Path) -> Path:
    """A minimal busybox root filesystem at ``dest`` with cdigwork in /bin."""
    bb = find_busybox()
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", CONTAINER_GATE_DIR[1:]):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(bb, dest / "bin" / "busybox")
    # chroot so the links point at /bin/busybox, not at the host path
    subprocess.run(["chroot", str(dest), "/bin/busybox", "--install", "-s", "/bin"], check=True)
    shutil.copy2(workload_bin, dest / "bin" / WORKLOAD_NAME)
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    )
    (dest / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (dest / "etc" / "hostname").write_text("cdig-test\n")
    return dest


def rootfs_hash() -> str:
    h = hashlib.sha256()
    h.update(ROOTFS_LAYOUT_VERSION.encode())
    h.update(find_busybox().read_bytes())
    h.update(workload_hash().encode())
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------
# host-side helpers


def _run(
    cmd: Sequence[str], timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess:
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}".rstrip())
    return r


def cgroup2_mountpoint() -> Path | None:
    """Where cgroup2 is mounted (pure v2: /sys/fs/cgroup; hybrid: …/unified)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        if post.split()[:1] == ["cgroup2"]:
            return Path(pre.split()[4])
    return None


def proc_cgroup(pid: int) -> str:
    """The cgroup path of a process: the cgroup2 one if any, else the first v1."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    for line in lines:
        if line.startswith("0::"):
            return line[3:]
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[2] != "/":
            return parts[2]
    return "/"


def cgroup_id(path: str) -> int | None:
    """The cgroup2 id of a cgroup path (= its directory's inode), as
    bpf_get_current_cgroup_id() reports it; None without cgroup2."""
    root = cgroup2_mountpoint()
    if root is None:
        return None
    try:
        return os.stat(root / path.lstrip("/")).st_ino
    except FileNotFoundError:
        return None


def pids_in_cgroup(path: str) -> list[int]:
    """Host pids (thread-group leaders) whose cgroup is ``path``."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if proc_cgroup(int(d)) == path:
                    out.append(int(d))
            except OSError:
                pass
    return sorted(out)


def _is_alive(pid: int) -> bool:
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _blocked_on(fifo: Path) -> list[int]:
    """Tasks blocked in read(2) (syscall 0) on an fd that is ``fifo``."""
    try:
        want = os.stat(fifo)
    except FileNotFoundError:
        return []
    me = os.getpid()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            for t in os.listdir(f"/proc/{d}/task"):
                sc = Path(f"/proc/{d}/task/{t}/syscall").read_text().split()
                if not sc or sc[0] != "0":
                    continue
                st = os.stat(f"/proc/{d}/fd/{int(sc[1], 16)}")
                if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
                    out.append(int(t))
        except (OSError, ValueError, IndexError):
            pass
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24] or "c"


def unique_name(hint: str = "") -> str:
    """cdigt-<owner pid>-<n>[-hint]: the owner pid lets a later session sweep
    the leftovers of a crashed one without touching a live parallel session."""
    name = f"{NAME_PREFIX}{os.getpid()}-{next(_counter)}"
    return f"{name}-{_slug(hint)}" if hint else name


def _owner_dead(name: str) -> bool:
    m = re.match(rf"{NAME_PREFIX}(\d+)-", name)
    if not m:
        return False
    pid = int(m.group(1))
    return pid != os.getpid() and not _is_alive(pid)


class Gate:
    """A FIFO in a host directory that is bind-mounted at /cdig-gate.

    The host keeps the FIFO open read-write for its whole life, so go() never
    blocks and a byte written before the workload reaches the gate is not lost.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.path = self.dir / "go"
        if not self.path.exists():
            os.mkfifo(self.path, 0o666)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    def waiting(self) -> list[int]:
        """Host tids blocked in the gate's read()."""
        return _blocked_on(self.path)

    def open(self, n: int = 1) -> None:
        if self._fd is None:
            raise RuntimeError("gate closed")
        os.write(self._fd, b"g" * n)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Base:
    """Common life cycle: start (idle at the gate) → go → wait → remove."""

    kind = "?"
    gated = True

    def __init__(
        self,
        workdir: Path,
        workload: Workload | None,
        script: str | None,
        gated: bool,
        name: str | None,
    ) -> None:
        if (workload is None) == (script is None):
            raise ValueError("give exactly one of workload= or script=")
        self.name = name or unique_name()
        self.workdir = workdir
        self.workload = workload
        self.script = script
        self.gated = gated
        self.gate = Gate(workdir / "gate")
        self.pid: int | None = None
        self.exit_code: int | None = None
        self.started_at: float | None = None
        self._cgroup: str | None = None

    def command(self) -> list[str]:
        if self.workload is not None:
            return self.workload.argv(CONTAINER_WORKLOAD, CONTAINER_GATE if self.gated else None)
        return ["/bin/sh", "-c", self.script]

    @property
    def env(self) -> dict[str, str]:
        return {"CDIG_GATE": CONTAINER_GATE, "CDIG_WORK": CONTAINER_WORKLOAD}

    # subclasses: _launch() -> sets self.pid; running(); _wait_exit(timeout) -> code;
    # logs(); remove()

    def start(self, ready_timeout: float = 20.0, gates: int | None = None) -> _Base:
        """Start the container and return once ``gates`` tasks are blocked at
        the gate (nothing of the measured work has run yet). ``gates`` defaults
        to 1 for a gated Workload and 0 (don't wait) otherwise; a script that
        runs SHELL_GATE k times in parallel passes gates=k."""
        if gates is None:
            gates = 1 if (self.gated and self.workload is not None) else 0
        self.started_at = time.monotonic()
        self._launch()
        if gates:
            self.wait_ready(ready_timeout, gates)
        return self

    def wait_ready(self, timeout: float = 20.0, gates: int = 1) -> list[int]:
        """Wait until ``gates`` tasks are blocked in the gate's read(); their tids."""
        deadline = time.monotonic() + timeout
        while True:
            tids = self.gate.waiting()
            if len(tids) >= gates:
                return tids
            if not self.running():
                raise RuntimeError(
                    f"{self.kind} container {self.name} stopped before reaching its gate "
                    f"(exit {self.exit_code}); logs:\n{self.logs()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.kind} container {self.name}: {len(tids)}/{gates} tasks at the "
                    f"gate after {timeout}s; logs:\n{self.logs()}"
                )
            time.sleep(0.01)

    def go(self, n: int = 1) -> None:
        """Release the gate (n bytes: one per gated process)."""
        self.gate.open(n)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the container to exit; its exit code."""
        if self.exit_code is None:
            self.exit_code = self._wait_exit(timeout)
        return self.exit_code

    def run(self, timeout: float = 30.0) -> int:
        """start() + go() + wait(): the whole workload, no tracer window."""
        self.start()
        self.go()
        return self.wait(timeout)

    @property
    def cgroup(self) -> str:
        """The container's cgroup path (cgroup2 if any), e.g. /libpod_parent/libpod-<id>."""
        if self._cgroup is None:
            if self.pid is None:
                raise RuntimeError(f"{self.name}: no pid (not started, or exited too soon)")
            self._cgroup = proc_cgroup(self.pid)
        return self._cgroup

    @property
    def cgroup_id(self) -> int | None:
        return cgroup_id(self.cgroup)

    def pids(self) -> list[int]:
        return pids_in_cgroup(self.cgroup)

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} pid={self.pid} exit={self.exit_code}>"


class PodmanContainer(_Base):
    """A podman (runtime runc) container of the test image.

    ``labels`` become ``--label k=v`` (e.g. io.kubernetes.pod.name=web-0),
    ``annotations`` ``--annotation k=v``;
    ``network`` defaults to "none" (loopback only); ``extra_args`` are passed to
    ``podman run`` before the image.
    """

    kind = "podman"

    def __init__(
        self,
        image: str,
        workdir: Path,
        workload: Workload | None = None,
        *,
        script: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        gated: bool = True,
        name: str | None = None,
        network: str = "none",
        extra_args: Iterable[str] = (),
    ) -> None:
        super().__init__(workdir, workload, script, gated, name)
        self.image = image
        self.labels = dict(labels or {})
        self.annotations = dict(annotations or {})
        self.network = network
        self.extra_args = list(extra_args)
        self.id: str | None = None

    def _launch(self) -> None:
        cmd = [
            "podman",
            "--runtime",
            "runc",
            "run",
            "-d",
            *PODMAN_RUN_BASE,
            "--name",
            self.name,
            "--network",
            self.network,
            "--label",
            f"{OWNER_LABEL}={os.getpid()}",
            "-v",
            f"{self.gate.dir}:{CONTAINER_GATE_DIR}",
        ]
        for k, v in self.labels.items():
            cmd += ["--label", f"{k}={v}"]
        for k, v in self.annotations.items():
            cmd += ["--annotation", f"{k}={v}"]
        for k, v in self.env.items():
            cmd += ["--env", f"{k}={v}"]
        cmd += [*self.extra_args, self.image, *self.command()]
        self.id = _run(cmd).stdout.strip().splitlines()[-1]
        info = self.inspect()
        self.pid = int(info["State"]["Pid"]) or None
        if self.pid is None:  # already exited
            self.exit_code = int(info["State"]["ExitCode"])

    def inspect(self) -> dict:
        return json.loads(_run(["podman", "inspect", "--type", "container", self.name]).stdout)[0]

    def running(self) -> bool:
        return self.pid is not None and self.exit_code is None and _is_alive(self.pid)

    def _wait_exit(self, timeout: float) -> int:
        try:
            r = _run(["podman", "wait", self.name], timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"podman container {self.name} still running after {timeout}s; logs:\n{self.logs()}"
            ) from None
        return int(r.stdout.strip().splitlines()[-1])

    def logs(self) -> str:
        r = _run(["podman", "logs", self.name], check=False)
        return r.stdout + r.stderr

    def remove(self) -> None:
        try:
            _run(["podman", "rm", "-f", "-t", "0", self.name], check=False, timeout=60)
        finally:
            self.gate.close()


class RuncContainer(_Base):
    """A plain runc container: bundle = copy of the test rootfs + config.json
    from ``runc spec``. Runs ``runc run`` in the foreground (in a new session)
    so its exit status is the container's; output goes to ``<workdir>/output``.
    ``annotations`` go into config.json (where runc-based CRI runtimes keep
    pod metadata; ``runc state`` shows them); ``config_hook(cfg)`` may edit it.
    """

    kind = "runc"

    def __init__(
        self,
        rootfs: Path,
        workdir: Path,
        workload: Workload | None = None,
        *,
        script: str | None = None,
        gated: bool = True,
        name: str | None = None,
        hostname: str = "cdig-runc",
        annotations: dict[str, str] | None = None,
        config_hook=None,
    ) -> None:
        super().__init__(workdir, workload, script, gated, name)
        self.annotations = dict(annotations or {})
        self.rootfs_src = rootfs
        self.bundle = workdir / "bundle"
        self.hostname = hostname
        self.config_hook = config_hook  # callable(dict) to edit config.json
        self.output = workdir / "output"
        self._proc: subprocess.Popen | None = None
        self.id = self.name

    def _make_bundle(self) -> None:
        self.bundle.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(self.rootfs_src), str(self.bundle / "rootfs")], check=True)
        _run(["runc", "spec", "--bundle", str(self.bundle)])
        cfg_path = self.bundle / "config.json"
        cfg = json.loads(cfg_path.read_text())
        proc = cfg["process"]
        proc["terminal"] = False
        proc["args"] = self.command()
        proc["env"] = [e for e in proc.get("env", []) if not e.startswith("TERM=")]
        proc["env"] += [f"{k}={v}" for k, v in self.env.items()]
        cfg["root"] = {"path": "rootfs", "readonly": False}
        cfg["hostname"] = self.hostname
        cfg["mounts"].append(
            {
                "destination": CONTAINER_GATE_DIR,
                "type": "bind",
                "source": str(self.gate.dir),
                "options": ["rbind", "rw"],
            }
        )
        if self.annotations:
            cfg.setdefault("annotations", {}).update(self.annotations)
        if self.config_hook:
            self.config_hook(cfg)
        cfg_path.write_text(json.dumps(cfg, indent=1))

    def _launch(self) -> None:
        self._make_bundle()
        pidfile = self.workdir / "pid"
        out = open(self.output, "wb")
        try:
            self._proc = subprocess.Popen(
                [
                    "runc",
                    "run",
                    "--bundle",
                    str(self.bundle),
                    "--pid-file",
                    str(pidfile),
                    self.name,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()):
            code = self._proc.poll()
            if code is not None:  # exited without a pid file: never started
                if pidfile.exists() and pidfile.read_text().strip():
                    break
                raise RuntimeError(f"runc run {self.name} failed ({code}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"runc run {self.name}: no pid file after 20s\n{self.logs()}")
            time.sleep(0.005)
        self.pid = int(pidfile.read_text().strip())

    def state(self) -> dict | None:
        r = _run(["runc", "state", self.name], check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _wait_exit(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"runc container {self.name} still running after {timeout}s; logs:\n{self.logs()}"
            ) from None

    def logs(self) -> str:
        try:
            return self.output.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        try:
            _run(["runc", "delete", "-f", self.name], check=False, timeout=60)
            if self._proc is not None and self._proc.poll() is None:
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(10)
        finally:
            self.gate.close()
            shutil.rmtree(self.bundle, ignore_errors=True)


class DockerContainer(_Base):
    """A docker container of the test image (``ensure_docker_image``), run with
    ``--network none``; ``labels`` become ``--label k=v``."""

    kind = "docker"

    def __init__(
        self,
        image: str,
        workdir: Path,
        workload: Workload | None = None,
        *,
        script: str | None = None,
        labels: dict[str, str] | None = None,
        gated: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(workdir, workload, script, gated, name)
        self.image = image
        self.labels = dict(labels or {})
        self.id: str | None = None
        self.docker = docker_cli()

    def _launch(self) -> None:
        cmd = [self.docker, "run", "-d", "--name", self.name, "--network", "none",
               "--label", f"{OWNER_LABEL}={os.getpid()}",
               "-v", f"{self.gate.dir}:{CONTAINER_GATE_DIR}"]  # fmt: skip
        for k, v in self.labels.items():
            cmd += ["--label", f"{k}={v}"]
        for k, v in self.env.items():
            cmd += ["--env", f"{k}={v}"]
        cmd += [self.image, *self.command()]
        self.id = _run(cmd).stdout.strip().splitlines()[-1]
        info = self.inspect()
        self.pid = int(info["State"]["Pid"]) or None
        if self.pid is None:
            self.exit_code = int(info["State"]["ExitCode"])

    def inspect(self) -> dict:
        r = _run([self.docker, "inspect", "--type", "container", self.name])
        return json.loads(r.stdout)[0]

    def running(self) -> bool:
        return self.pid is not None and self.exit_code is None and _is_alive(self.pid)

    def _wait_exit(self, timeout: float) -> int:
        try:
            r = _run([self.docker, "wait", self.name], timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(
                f"docker container {self.name} still running after {timeout}s"
            ) from None
        return int(r.stdout.strip().splitlines()[-1])

    def logs(self) -> str:
        r = _run([self.docker, "logs", self.name], check=False)
        return r.stdout + r.stderr

    def remove(self) -> None:
        try:
            _run([self.docker, "rm", "-f", self.name], check=False, timeout=60)
        finally:
            self.gate.close()


class CtrContainer(_Base):
    """A container run by containerd alone (``ctr run``), as a client without
    a kubelet makes it: cgroup ``/<namespace>/<name>``, the name is the id,
    ``labels`` are containerd labels (``ctr run --label``)."""

    kind = "containerd"

    def __init__(
        self,
        image: str,
        workdir: Path,
        workload: Workload | None = None,
        *,
        script: str | None = None,
        labels: dict[str, str] | None = None,
        namespace: str = "k8s.io",
        gated: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(workdir, workload, script, gated, name)
        self.image = image
        self.labels = dict(labels or {})
        self.namespace = namespace
        self.id = self.name

    def _ctr(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return _run(["ctr", "-n", self.namespace, *args], **kw)

    def _launch(self) -> None:
        gate = f"type=bind,src={self.gate.dir},dst={CONTAINER_GATE_DIR},options=rbind:rw"
        cmd = ["run", "-d", "--label", f"{OWNER_LABEL}={os.getpid()}", "--mount", gate]
        for k, v in self.labels.items():
            cmd += ["--label", f"{k}={v}"]
        for k, v in self.env.items():
            cmd += ["--env", f"{k}={v}"]
        self._ctr(*cmd, self.image, self.name, *self.command())
        self.pid = self._task()[0] or None

    def _task(self) -> tuple[int, str]:
        """(pid, status) of the container's task, (0, "") without one."""
        for line in self._ctr("task", "ls", check=False).stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and f[0] == self.name:
                return int(f[1]), f[2]
        return 0, ""

    def running(self) -> bool:
        return self.pid is not None and self.exit_code is None and _is_alive(self.pid)

    def _wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self._task()[1] not in ("STOPPED", ""):
            if time.monotonic() > deadline:
                raise TimeoutError(f"ctr container {self.name} still running after {timeout}s")
            time.sleep(0.05)
        r = self._ctr("task", "delete", self.name, check=False)
        m = re.search(r"exit code (\d+)", r.stderr)
        return int(m.group(1)) if m else 0

    def logs(self) -> str:
        return ""  # ctr run -d keeps no logs

    def remove(self) -> None:
        try:
            self._ctr("task", "kill", "-s", "SIGKILL", self.name, check=False)
            deadline = time.monotonic() + 10
            while self._task()[1] not in ("STOPPED", "") and time.monotonic() < deadline:
                time.sleep(0.05)
            self._ctr("task", "delete", "-f", self.name, check=False)
            self._ctr("containers", "rm", self.name, check=False)
        finally:
            self.gate.close()


class LxcContainer(_Base):
    """An LXC container from the busybox template (no download), no network
    (``lxc.net.0.type = empty``), whose init is the workload itself
    (``lxc.init.cmd``): cgroup ``/lxc.payload.<name>``."""

    kind = "lxc"

    def __init__(
        self,
        workload_bin: Path,
        workdir: Path,
        workload: Workload | None = None,
        *,
        script: str | None = None,
        gated: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(workdir, workload, script, gated, name)
        self.workload_bin = workload_bin
        self.id = self.name
        self.lxcpath = _run(["lxc-config", "lxc.lxcpath"]).stdout.strip() or "/var/lib/lxc"
        self.dir = Path(self.lxcpath) / self.name

    def _launch(self) -> None:
        _run(["lxc-create", "-n", self.name, "-t", "busybox"], timeout=120)
        rootfs = self.dir / "rootfs"
        shutil.copy2(self.workload_bin, rootfs / "bin" / WORKLOAD_NAME)
        (rootfs / CONTAINER_GATE_DIR.lstrip("/")).mkdir(exist_ok=True)
        cfg = self.dir / "config"
        lines = [
            ln
            for ln in cfg.read_text().splitlines()
            if not ln.strip().startswith(("lxc.net.0.", "lxc.init.cmd"))
        ]
        lines += [
            "lxc.net.0.type = empty",
            f"lxc.mount.entry = {self.gate.dir} {CONTAINER_GATE_DIR.lstrip('/')} none bind,rw 0 0",
            "lxc.init.cmd = " + " ".join(self.command()),
        ]
        lines += [f"lxc.environment = {k}={v}" for k, v in self.env.items()]
        cfg.write_text("\n".join(lines) + "\n")
        _run(["lxc-start", "-n", self.name, "-d", "-o", str(self.workdir / "lxc.log"),
              "-l", "INFO"], timeout=60)  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            r = _run(["lxc-info", "-n", self.name, "-p", "-H"], check=False)
            if r.stdout.strip().isdigit():
                self.pid = int(r.stdout.strip())
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"lxc container {self.name}: no init pid:\n{self.logs()}")
            time.sleep(0.02)

    def running(self) -> bool:
        return self.pid is not None and _is_alive(self.pid)

    def _wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"lxc container {self.name} still running after {timeout}s")
            time.sleep(0.02)
        m = re.findall(r"exited with status (\d+)|exit status (\d+)", self.logs())
        return int(next(x for x in m[-1] if x)) if m else 0

    def logs(self) -> str:
        try:
            return (self.workdir / "lxc.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        try:
            _run(["lxc-stop", "-n", self.name, "-k"], check=False, timeout=60)
            _run(["lxc-destroy", "-n", self.name, "-f"], check=False, timeout=60)
        finally:
            self.gate.close()


class NspawnContainer(_Base):
    """A systemd-nspawn container over a copy of the test rootfs.

    This machine has no systemd as pid 1 (no machined, no D-Bus), so nspawn
    runs with ``--register=no --keep-unit``: it splits the cgroup it was
    started in into ``supervisor`` (itself) and ``payload`` (the container).
    The harness starts it in a cgroup of its own, ``/<name>`` (cgroup2), so the
    container's cgroup is ``/<name>/payload``. The workload is the container's
    pid 1 (no init), so its syscalls are exactly the workload's.
    """

    kind = "nspawn"

    def __init__(
        self,
        rootfs: Path,
        workdir: Path,
        workload: Workload | None = None,
        *,
        script: str | None = None,
        gated: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(workdir, workload, script, gated, name)
        self.rootfs_src = rootfs
        self.root = workdir / "root"
        self.id = self.name
        self.output = workdir / "output"
        self._proc: subprocess.Popen | None = None
        mount = cgroup2_mountpoint()
        if mount is None:
            raise RuntimeError("systemd-nspawn --keep-unit needs cgroup2 here")
        self.cg_dir = mount / self.name

    def _launch(self) -> None:
        subprocess.run(["cp", "-a", str(self.rootfs_src), str(self.root)], check=True)
        for d in ("usr/lib", "etc"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "usr/lib/os-release").write_text("ID=cdig-busybox\n")  # nspawn wants one
        (self.root / "etc/os-release").write_text("ID=cdig-busybox\n")
        self.cg_dir.mkdir(exist_ok=True)
        argv = ["systemd-nspawn", "-q", "--register=no", "--keep-unit", "-D", str(self.root),
                "-M", self.name, f"--bind={self.gate.dir}:{CONTAINER_GATE_DIR}"]  # fmt: skip
        argv += [f"--setenv={k}={v}" for k, v in self.env.items()]
        argv += ["--", *self.command()]
        procs = self.cg_dir / "cgroup.procs"
        out = open(self.output, "wb")
        try:
            # join the cgroup in the child before exec: nspawn splits the cgroup
            # it starts in (preexec_fn is fine here: the test process is
            # single-threaded when it starts containers)
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: procs.write_text(str(os.getpid())),
            )
        finally:
            out.close()
        deadline = time.monotonic() + 20
        payload = self.cg_dir / "payload" / "cgroup.procs"
        while True:
            try:
                pids = payload.read_text().split()
            except OSError:
                pids = []
            if pids:
                self.pid = int(pids[0])
                return
            if self._proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn {self.name} exited:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"systemd-nspawn {self.name}: no payload\n{self.logs()}")
            time.sleep(0.01)

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _wait_exit(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"nspawn container {self.name} still running") from None

    def logs(self) -> str:
        try:
            return self.output.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        try:
            for sub in ("payload", "supervisor"):  # the container's pid 1 ignores signals
                kill = self.cg_dir / sub / "cgroup.kill"
                if kill.exists():
                    kill.write_text("1")
            if self._proc is not None and self._proc.poll() is None:
                os.killpg(self._proc.pid, 9)
            if self._proc is not None:
                self._proc.wait(10)
            for d in (self.cg_dir / "payload", self.cg_dir / "supervisor", self.cg_dir):
                deadline = time.monotonic() + 10
                while d.exists():
                    try:
                        d.rmdir()
                    except OSError:  # still has (exiting) tasks
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.02)
        finally:
            self.gate.close()
            shutil.rmtree(self.root, ignore_errors=True)


def ensure_docker_image(rootfs: Path, tar_dir: Path, image: str = DOCKER_IMAGE) -> str:
    """``docker import`` of ``rootfs`` as ``image`` unless one with the same
    content hash label is there. Returns the image reference."""
    docker = docker_cli()
    want = rootfs_hash()
    r = _run([docker, "image", "inspect", "--format",
              '{{index .Config.Labels "' + HASH_LABEL + '"}}', image], check=False)  # fmt: skip
    if r.returncode == 0 and r.stdout.strip() == want:
        return image
    tar = tar_dir / "rootfs-docker.tar"
    _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tar), "."])
    _run([docker, "import", "--change", f"LABEL {HASH_LABEL}={want}", "--change", "CMD /bin/sh",
          str(tar), image], timeout=120)  # fmt: skip
    tar.unlink()
    return image


def ensure_ctr_image(namespace: str, image: str = DOCKER_IMAGE) -> str:
    """The docker test image imported into containerd namespace ``namespace``
    (``docker save | ctr images import``); its containerd reference."""
    ref = CTR_IMAGE
    docker = docker_cli()
    want = _run([docker, "image", "inspect", "--format", "{{.Id}}", image]).stdout.strip()
    have = _run(["ctr", "-n", namespace, "images", "ls"], check=False).stdout
    for line in have.splitlines()[1:]:
        f = line.split()
        if f and f[0] == ref and want.split(":")[-1][:12] in line:
            return ref
    save = subprocess.Popen([docker, "save", image], stdout=subprocess.PIPE)
    try:
        r = subprocess.run(["ctr", "-n", namespace, "images", "import", "-"], stdin=save.stdout,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        save.stdout.close()
        save.wait(60)
    if r.returncode != 0:
        raise RuntimeError(f"ctr images import failed:\n{r.stdout}{r.stderr}")
    return ref


class HostWorkload(_Base):
    """The same workload run directly on the host (no container), same API.
    ``cgroup`` is then the pytest process's own."""

    kind = "host"

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        workload: Workload,
        *,
        gated: bool = True,
        wrapper: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir, workload, None, gated, None)
        self.binary = binary
        self.wrapper = list(wrapper)  # e.g. ["strace", "-f", "-o", FILE]
        self.output = workdir / "output"
        self._proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        assert self.workload is not None
        return self.workload.argv(str(self.binary), str(self.gate.path) if self.gated else None)

    def _launch(self) -> None:
        out = open(self.output, "wb")
        try:
            self._proc = subprocess.Popen(
                [*self.wrapper, *self.command()],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            out.close()
        self.pid = self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _wait_exit(self, timeout: float) -> int:
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"host workload still running after {timeout}s") from None

    def logs(self) -> str:
        try:
            return self.output.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        try:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(10)
        finally:
            self.gate.close()


# --------------------------------------------------------------------------
# the podman image, and sweeping leftovers


def ensure_podman_image(rootfs: Path, tar_dir: Path, image: str = PODMAN_IMAGE) -> str:
    """Import ``rootfs`` as ``image`` unless an image of the same content (by
    the hash label) is already there. Returns the image reference."""
    want = rootfs_hash()
    r = _run(
        ["podman", "image", "inspect", "--format", '{{index .Labels "' + HASH_LABEL + '"}}', image],
        check=False,
    )
    if r.returncode == 0 and r.stdout.strip() == want:
        return image
    old = _run(["podman", "image", "inspect", "--format", "{{.Id}}", image], check=False)
    tar = tar_dir / "rootfs.tar"
    _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tar), "."])
    _run(
        [
            "podman",
            "import",
            "--change",
            f"LABEL {HASH_LABEL}={want}",
            "--change",
            "CMD /bin/sh",
            str(tar),
            image,
        ],
        timeout=120,
    )
    tar.unlink()
    if old.returncode == 0 and old.stdout.strip():
        _run(["podman", "rmi", old.stdout.strip()], check=False)  # in use: stays
    return image


def sweep_leftovers(all_of_mine: bool = False) -> list[str]:
    """Remove test containers whose owner process is dead (a crashed session),
    and with ``all_of_mine`` also this process's own. Never touches containers
    of a live parallel session or ones not named cdigt-*. Returns what it removed."""
    removed = []

    def doomed(name: str) -> bool:
        if not name.startswith(NAME_PREFIX):
            return False
        if all_of_mine and name.startswith(f"{NAME_PREFIX}{os.getpid()}-"):
            return True
        return _owner_dead(name)

    if shutil.which("podman"):
        r = _run(
            ["podman", "ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{NAME_PREFIX}"],
            check=False,
        )
        for name in r.stdout.split():
            if doomed(name):
                _run(["podman", "rm", "-f", "-t", "0", name], check=False)
                removed.append("podman:" + name)
    if shutil.which("runc"):
        r = _run(["runc", "list", "--format", "json"], check=False)
        try:
            entries = json.loads(r.stdout or "null") or []
        except json.JSONDecodeError:
            entries = []
        for e in entries:
            if doomed(e.get("id", "")):
                _run(["runc", "delete", "-f", e["id"]], check=False)
                removed.append("runc:" + e["id"])
    for kind, names in _other_runtime_names().items():
        for name in names:
            if not doomed(name.split("/")[-1]):
                continue
            if kind == "docker":
                _run([docker_cli(), "rm", "-f", name], check=False, timeout=60)
            elif kind == "containerd":
                ns, cid = name.split("/", 1)
                _run(["ctr", "-n", ns, "task", "kill", "-s", "SIGKILL", cid], check=False)
                _run(["ctr", "-n", ns, "task", "delete", "-f", cid], check=False)
                _run(["ctr", "-n", ns, "containers", "rm", cid], check=False)
            elif kind == "lxc":
                _run(["lxc-stop", "-n", name, "-k"], check=False, timeout=60)
                _run(["lxc-destroy", "-n", name, "-f"], check=False, timeout=60)
            elif kind == "nspawn":
                _remove_cgroup_tree(Path(name))
            removed.append(f"{kind}:{name}")
    return removed


def _other_runtime_names() -> dict[str, list[str]]:
    """Names of cdig test containers of docker, containerd (``ns/id``) and LXC,
    asking only daemons that already run (a sweep never starts one)."""
    out: dict[str, list[str]] = {"docker": [], "containerd": [], "lxc": [], "nspawn": []}
    if shutil.which("dockerd") and os.path.exists(DOCKER_SOCKET):
        r = _run([docker_cli(), "ps", "-a", "--format", "{{.Names}}"], check=False, timeout=30)
        out["docker"] = [n for n in r.stdout.split() if n.startswith(NAME_PREFIX)]
    if shutil.which("ctr") and os.path.exists(CONTAINERD_SOCKET):
        for ns in _run(["ctr", "namespaces", "ls", "-q"], check=False, timeout=30).stdout.split():
            r = _run(["ctr", "-n", ns, "containers", "ls", "-q"], check=False, timeout=30)
            mine = [c for c in r.stdout.split() if c.startswith(NAME_PREFIX)]
            out["containerd"] += [f"{ns}/{c}" for c in mine]
    if shutil.which("lxc-ls"):
        r = _run(["lxc-ls", "-1"], check=False, timeout=30)
        out["lxc"] = [n for n in r.stdout.split() if n.startswith(NAME_PREFIX)]
    mount = cgroup2_mountpoint()  # NspawnContainer's cgroups (their dir is the name)
    if mount is not None:
        out["nspawn"] = [str(d) for d in mount.glob(NAME_PREFIX + "*") if d.is_dir()]
    return out


def _remove_cgroup_tree(top: Path) -> None:
    """Kill every task of a cgroup tree of ours and remove its directories."""
    for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        kill = d / "cgroup.kill"
        if kill.exists():
            kill.write_text("1")
    for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        deadline = time.monotonic() + 10
        while d.exists():
            try:
                d.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
    if top.exists():
        top.rmdir()


def leftovers() -> dict[str, list[str]]:
    """This process's containers that still exist (should be none after teardown)."""
    mine = f"{NAME_PREFIX}{os.getpid()}-"
    out: dict[str, list[str]] = {"podman": [], "runc": []}
    if shutil.which("podman"):
        r = _run(["podman", "ps", "-a", "--format", "{{.Names}}"], check=False)
        out["podman"] = [n for n in r.stdout.split() if n.startswith(mine)]
    if shutil.which("runc"):
        r = _run(["runc", "list", "--format", "json"], check=False)
        try:
            entries = json.loads(r.stdout or "null") or []
        except json.JSONDecodeError:
            entries = []
        out["runc"] = [e["id"] for e in entries if e.get("id", "").startswith(mine)]
    for kind, names in _other_runtime_names().items():
        out[kind] = [n for n in names if n.split("/")[-1].startswith(mine)]
    return out
