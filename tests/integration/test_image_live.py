"""The exporter image, built here and run the way deploy/daemonset.yaml runs it.

deploy/build_image.py builds the base from Debian's packages (mmdebstrap; cached
by content hash) and deploy/Containerfile on it. The podman flags come from the
DaemonSet manifest itself (``podman_run_args``): its command and args, hostPID,
security context (user, capabilities, read-only root, no privilege escalation),
memory limit and every volume mount; a field this test does not know how to
translate fails it, so the manifest and the test cannot drift apart. The pod
network is a network namespace made here, in which the real Prometheus scrapes
the exporter over TLS with basic auth, configured from the ``cdig`` job of
deploy/prometheus-scrape.yml.

Needs root, BPF, bcc, tracefs, podman, mmdebstrap, prometheus, openssl: a
failure, not a skip, when CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import bcrypt
import pytest
import yaml

from .containers import (
    NAME_PREFIX,
    OWNER_LABEL,
    PODMAN_RUN_BASE,
    Workload,
    require,
    unique_name,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
IMAGE = "localhost/cdig:test-image"
PASSWORD = "s3cret"

# pod and container fields that only the scheduler or the kubelet act on: no
# podman flag corresponds to them (the image has no service account to mount)
SCHEDULING = {"priorityClassName", "tolerations", "automountServiceAccountToken"}
POD_FIELDS = {"hostPID", "hostNetwork", "containers", "volumes", *SCHEDULING}
CONTAINER_FIELDS = {"name", "image", "command", "args", "ports", "readinessProbe",
                    "livenessProbe", "resources", "securityContext", "volumeMounts"}
SECURITY_FIELDS = {"runAsUser", "privileged", "allowPrivilegeEscalation",
                   "readOnlyRootFilesystem", "capabilities"}
CAP_BITS = {"SYS_PTRACE": 19, "SYS_ADMIN": 21, "SYS_RESOURCE": 24,
            "PERFMON": 38, "BPF": 39}


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _require_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        msg = f"MISSING CAPABILITY for integration test: `{tool}` not found on PATH"
        if _in_ci():
            pytest.fail(msg + " (CI=true: a missing capability is a failure)", pytrace=False)
        pytest.skip(msg)


def daemonset() -> dict:
    docs = list(yaml.safe_load_all((DEPLOY / "daemonset.yaml").read_text()))
    (ds,) = [d for d in docs if d and d.get("kind") == "DaemonSet"]
    return ds


def _memory(q: str) -> str:
    """A Kubernetes memory quantity as podman's --memory wants it."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", q)
    assert m, f"memory quantity {q!r} not translated"
    return m.group(1) + {"Ki": "k", "Mi": "m", "Gi": "g", None: "b"}[m.group(2)]


def podman_run_args(ds: dict, *, network: str, secrets: dict[str, Path]) -> tuple[
        list[str], list[str]]:
    """(podman run flags before the image, arguments after it) that run the
    DaemonSet's container as the kubelet would. ``network`` stands for the pod
    network; ``secrets`` maps a Secret's name to a directory holding its keys."""
    pod = ds["spec"]["template"]["spec"]
    assert set(pod) <= POD_FIELDS, f"pod fields not translated: {set(pod) - POD_FIELDS}"
    (c,) = pod["containers"]
    assert set(c) <= CONTAINER_FIELDS, f"fields not translated: {set(c) - CONTAINER_FIELDS}"
    flags: list[str] = []
    if pod.get("hostPID"):
        flags += ["--pid", "host"]
    flags += ["--network", "host" if pod.get("hostNetwork") else network]
    sc = c.get("securityContext", {})
    assert set(sc) <= SECURITY_FIELDS, f"not translated: {set(sc) - SECURITY_FIELDS}"
    if "runAsUser" in sc:
        flags += ["--user", str(sc["runAsUser"])]
    if sc.get("privileged"):
        flags.append("--privileged")
    if sc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    if sc.get("readOnlyRootFilesystem"):
        # the kubelet adds no tmpfs on /tmp, /run, /var/tmp; podman does unless told
        flags += ["--read-only", "--read-only-tmpfs=false"]
    caps = sc.get("capabilities", {})
    assert set(caps) <= {"drop", "add"}
    for cap in caps.get("drop", []):
        flags += ["--cap-drop", "all" if cap == "ALL" else f"CAP_{cap}"]
    for cap in caps.get("add", []):
        flags += ["--cap-add", f"CAP_{cap}"]
    limits = c.get("resources", {}).get("limits", {})
    assert set(limits) <= {"memory"}, f"limits not translated: {set(limits)}"
    if "memory" in limits:
        flags += ["--memory", _memory(limits["memory"])]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        assert set(m) <= {"name", "mountPath", "readOnly"}, m
        vol = volumes[m["name"]]
        if "hostPath" in vol:
            hp = vol["hostPath"]
            assert hp.get("type") in (None, "DirectoryOrCreate"), hp
            src = Path(hp["path"])
            if hp.get("type") == "DirectoryOrCreate":
                src.mkdir(parents=True, exist_ok=True)
            elif not src.exists():
                pytest.fail(f"the DaemonSet mounts {src}, which this host lacks")
        elif "emptyDir" in vol:
            ed = vol["emptyDir"]
            assert set(ed) <= {"medium", "sizeLimit"} and ed.get("medium") == "Memory", ed
            size = f",size={_memory(ed['sizeLimit'])}" if "sizeLimit" in ed else ""
            flags += ["--tmpfs", f"{m['mountPath']}:rw{size}"]
            continue
        else:
            sec = vol["secret"]
            src = secrets[sec["secretName"]]
            for f in src.iterdir():
                f.chmod(sec.get("defaultMode", 0o644))
        flags += ["-v", f"{src}:{m['mountPath']}" + (":ro" if m.get("readOnly") else "")]
    flags += ["--entrypoint", json.dumps([host_init(a) for a in c["command"]])]
    return flags, list(c.get("args", []))


def host_init(arg: str) -> str:
    """``arg``, with /proc/1/ (the host's init, in the host's namespaces) made
    /proc/<this test's pid>/ where even the host's root cannot open PID 1's
    namespace files (a sandbox whose init keeps capabilities the host's root
    lacks). The test runs in the host's cgroup namespace too, and it has more
    capabilities than the container, so the ptrace access check nsenter meets
    is the same as on a node."""
    if not arg.startswith("--cgroup=/proc/1/"):
        return arg
    try:
        os.close(os.open("/proc/1/ns/cgroup", os.O_RDONLY))
        return arg
    except PermissionError:
        return arg.replace("/proc/1/", f"/proc/{os.getpid()}/", 1)


def container_port(ds: dict, name: str = "metrics") -> int:
    (c,) = ds["spec"]["template"]["spec"]["containers"]
    return next(p["containerPort"] for p in c["ports"] if p["name"] == name)


def caps_of(pid: int, field: str = "CapEff") -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s*([0-9a-f]+)$", status, re.M).group(1), 16)


def _run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout}{r.stderr}"
    return r


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def image() -> str:
    require("root", "podman")
    _require_tool("mmdebstrap")
    t = time.monotonic()
    r = subprocess.run([sys.executable, str(DEPLOY / "build_image.py"), "--tag", IMAGE],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    # the build's own timing lines (base cached or built, podman build)
    print(r.stderr.strip(), f"\nimage ready in {time.monotonic() - t:.1f} s", file=sys.stderr)
    return IMAGE


@pytest.fixture
def netns():
    """A network namespace standing for the pod network (loopback only)."""
    require("root")
    name = unique_name("img")
    _run(["ip", "netns", "add", name])
    try:
        _run(["ip", "-n", name, "link", "set", "lo", "up"])
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def web_secret(tmp_path) -> Path:
    """The cdig-web Secret: web.yml, tls.crt, tls.key (as the DaemonSet's comment says)."""
    _require_tool("openssl")
    d = tmp_path / "cdig-web"
    d.mkdir()
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
          "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
          "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt")])
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    (d / "web.yml").write_text(
        "tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n"
        f"basic_auth_users: {{prometheus: '{hashed}'}}\n")
    return d


class Prometheus:
    """The real Prometheus inside the namespace, with the shipped ``cdig`` job."""

    def __init__(self, netns: str, workdir: Path, target: str, ca: Path) -> None:
        self.netns = netns
        doc = yaml.safe_load((DEPLOY / "prometheus-scrape.yml").read_text())
        (job,) = [j for j in doc["scrape_configs"] if j["job_name"] == "cdig"]
        # Kubernetes discovery and its relabelling stand for one static target
        job.pop("kubernetes_sd_configs")
        job.pop("relabel_configs")
        job["static_configs"] = [{"targets": [target]}]
        # often, for a short test; the exporter may wait up to a second for a
        # new container's name within a scrape (settle), so not under 2 s
        job["scrape_interval"] = job["scrape_timeout"] = "2s"
        (workdir / "password").write_text(PASSWORD)
        job["tls_config"]["ca_file"] = str(ca)
        job["basic_auth"]["password_file"] = str(workdir / "password")
        cfg = workdir / "prometheus.yml"
        cfg.write_text(yaml.safe_dump({"global": {"evaluation_interval": "1s"},
                                       "scrape_configs": [job]}))
        self.api = "http://127.0.0.1:9090/api/v1/"
        self.log = open(workdir / "prometheus.log", "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, "prometheus", f"--config.file={cfg}",
             f"--storage.tsdb.path={workdir / 'tsdb'}", "--web.listen-address=127.0.0.1:9090"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str, **params: str) -> dict | None:
        """GET inside the namespace (a Python child entered into it)."""
        url = self.api + path + "?" + urllib.parse.urlencode(params)
        code = ("import sys, urllib.request\n"
                "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        r = subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-c", code, url],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return None
        doc = json.loads(r.stdout)
        return doc["data"] if doc.get("status") == "success" else None

    def query(self, q: str) -> list:
        data = self.get("query", query=q)
        return data["result"] if data else []

    def target(self) -> dict:
        data = self.get("targets") or {"activeTargets": [{}]}
        return data["activeTargets"][0] if data["activeTargets"] else {}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def wait_for(pred, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout}s")
        time.sleep(interval)


# --------------------------------------------------------------------------
# the test


def test_image_runs_as_the_daemonset_and_prometheus_scrapes_it(
        image, netns, web_secret, podman_container, podman_image, tmp_path):
    require("root", "bpf", "bcc", "tracefs", "podman", "prometheus")
    ds = daemonset()
    flags, args = podman_run_args(ds, network=f"ns:/run/netns/{netns}",
                                  secrets={"cdig-web": web_secret})
    name = unique_name("exporter")
    assert name.startswith(NAME_PREFIX)  # swept by the harness if this session crashes
    _run(["podman", "--runtime", "runc", "run", "-d", "--name", name,
          "--label", f"{OWNER_LABEL}={os.getpid()}", *PODMAN_RUN_BASE, *flags, image, *args])
    prom = None
    try:
        info = json.loads(_run(["podman", "inspect", "--type", "container", name]).stdout)[0]
        pid = int(info["State"]["Pid"])

        def logs() -> str:
            r = subprocess.run(["podman", "logs", name], capture_output=True, text=True)
            return r.stdout + r.stderr

        assert pid > 0, (info["State"], logs())

        # every mount of the manifest, read-only where it says so
        (c,) = ds["spec"]["template"]["spec"]["containers"]
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        volumes = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
        for m in c["volumeMounts"]:
            if "emptyDir" in volumes[m["name"]]:
                assert m["mountPath"] in info["HostConfig"]["Tmpfs"], info["HostConfig"]
                continue
            assert m["mountPath"] in mounts, (m, sorted(mounts))
            assert (not mounts[m["mountPath"]]["RW"]) == bool(m.get("readOnly")), m
        assert info["HostConfig"]["ReadonlyRootfs"] is True

        prom = Prometheus(netns, tmp_path, f"127.0.0.1:{container_port(ds)}",
                          web_secret / "tls.crt")
        # up: bcc compiled the program against the host's headers, the exporter
        # serves TLS with basic auth on the pod network, Prometheus scraped it
        def up_or_exited() -> list:
            state = subprocess.run(["podman", "inspect", "--format", "{{.State.Running}}", name],
                                   capture_output=True, text=True).stdout.strip()
            if state != "true":
                pytest.fail(f"the exporter's container ended:\n{logs()}")
            return [r for r in prom.query('up{job="cdig"}') if r["value"][1] == "1"]

        try:
            up = wait_for(up_or_exited, 180, "up == 1")
        except TimeoutError:
            pytest.fail(f"not up; target: {prom.target()}\nexporter log:\n{logs()}")
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{container_port(ds)}"

        # the exporter's capabilities: exactly the manifest's, less what this
        # host's bounding set does not have (podman cannot grant those)
        want = 0
        for cap in c["securityContext"]["capabilities"]["add"]:
            want |= 1 << CAP_BITS[cap]
        assert caps_of(pid) == want & caps_of(1, "CapBnd"), hex(caps_of(pid))
        # nsenter entered the host's cgroup namespace (the manifest's command)
        assert os.readlink(f"/proc/{pid}/ns/cgroup") == os.readlink("/proc/self/ns/cgroup")

        # a container started now is attributed exactly, with its name and image
        n = 777
        wl = Workload().write(n, "/dev/null")
        w = podman_container(wl)
        sel = f'container_name="{w.name}"'
        # idle at its gate until the exporter has named it (as a scrape shows);
        # its counts before the gate are final by then
        try:
            first = wait_for(lambda: prom.query(f"sum(cdig_syscalls_total{{{sel}}})"),
                             60, f"series of {w.name}")
        except TimeoutError:
            named = prom.query("count by (container_name) (cdig_syscalls_total)")
            pytest.fail(f"{w.name} not named; containers: {named}\n{logs()}")
        before = int(first[0]["value"][1])
        writes = prom.query(f'cdig_syscalls_total{{{sel},syscall="write"}}')
        writes_before = int(writes[0]["value"][1]) if writes else 0
        w.go()
        assert w.wait(30) == 0
        # every syscall after the gate opened, and the gate's own read (it
        # returns, and is counted, after go), whatever label each got
        want = sum(wl.counts(phase="after_go").values()) + 1
        try:
            wait_for(lambda: [r for r in prom.query(f"sum(cdig_syscalls_total{{{sel}}})")
                              if int(r["value"][1]) == before + want],
                     60, f"{want} more syscalls of {w.name} in Prometheus")
        except TimeoutError:
            got = {r["metric"]["syscall"]: r["value"][1]
                   for r in prom.query(f"cdig_syscalls_total{{{sel}}}")}
            pytest.fail(f"before {before}, want +{want}: {got}\ntarget: {prom.target()}\n"
                        f"exporter log:\n{logs()}")
        res = prom.query(f'cdig_syscalls_total{{{sel},syscall="write"}}')
        # write: a syscall label the exporter has admitted on any host
        assert res and int(res[0]["value"][1]) - writes_before == n, (res, writes_before)
        assert res[0]["metric"]["container_id"] == w.id
        assert res[0]["metric"]["image"] == podman_image
        assert prom.query("cdig_build_info")[0]["metric"]["latency"] == "true"
    finally:
        if prom is not None:
            prom.stop()
        stop = subprocess.run(["podman", "stop", "-t", "20", name], capture_output=True,
                              text=True)
        out = subprocess.run(["podman", "logs", name], capture_output=True, text=True)
        code = subprocess.run(["podman", "inspect", "--format", "{{.State.ExitCode}}", name],
                              capture_output=True, text=True).stdout.strip()
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)
    assert stop.returncode == 0, stop.stderr
    assert "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert code == "0", out.stdout + out.stderr  # SIGTERM: a clean exit
