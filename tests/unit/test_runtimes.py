"""collector.runtimes: runtime documents, the unix-socket HTTP client, the lookup chains."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cdig.collector.cgroups import CgroupLayout, CgroupMount, parse_mountinfo
from cdig.collector.runtimes import Metadata, RuntimeClient, probe
from cdig.collector.runtimes.metadata import MAX_LABELS, MAX_VALUE, clean_labels
from cdig.collector.runtimes.parsers import (
    parse_ctr_info,
    parse_docker_inspect,
    parse_oci_config,
    parse_podman_inspect,
    parse_runc_state,
    parse_storage_containers,
    runc_metadata,
)
from cdig.collector.runtimes.transport import unix_http_get

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "containers"
PODMAN_ID = "fffa8b650dff027cf708ae6483f0b1f2538007edfc46c4c4175e92a77dfdffe0"
DOCKER_ID = "3f5c8a7e2b1d4c6f9a0e8b7d6c5f4e3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e"
CTD_ID = "9d1e6b0f4a7c3e2d8b5f1a6c0e9d4b3a2f7e8c1d5b6a0f9e3c2d1b4a7e6f5c8d"
CRIO_ID = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
POD_UID = "0b6e2d2c-6a0e-4c9b-9a55-8d6c3a1f2e10"


def _fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


# the mounts of this machine, as runc's absolute cgroup_paths refer to them
FIRECRACKER_MOUNTS = [
    (m.mountpoint, m.root)
    for m in parse_mountinfo((FIXTURES / "mountinfo_hybrid_firecracker.txt").read_text())
]


# --- documents ------------------------------------------------------------------------


def test_podman_inspect_fixture():
    md = parse_podman_inspect(_fixture("podman_inspect.json"))
    assert (md.name, md.image) == ("cdigprobe1", "localhost/bb:1")
    assert md.labels == {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop"}
    assert (md.pod_name, md.pod_namespace, md.pod_uid) == ("web-0", "shop", "")
    assert md.found and md.source == "podman-cli"


def test_podman_inspect_empty_and_garbage():
    assert not parse_podman_inspect([]).found
    assert not parse_podman_inspect("nope").found
    md = parse_podman_inspect([{"Name": 7, "Config": "x", "ImageName": ["a"]}])
    assert (md.name, md.image, md.labels) == ("7", "", {})


def test_docker_config_fixture():
    md = parse_docker_inspect(_fixture("docker_config_v2.json"), "docker-config")
    assert (md.name, md.image) == ("web1", "nginx:1.25")  # leading "/" dropped
    assert (md.pod_name, md.pod_namespace, md.pod_uid) == ("web-0", "shop", POD_UID)
    assert md.labels["maintainer"].startswith("NGINX")


def test_podman_compat_api_document():
    # podman's Docker-compatible API: Name with "/", Config.Image the image name
    doc = {"Name": "/cdigprobe1", "Config": {"Image": "localhost/bb:1", "Labels": None}}
    md = parse_docker_inspect(doc, "podman-api")
    assert (md.name, md.image, md.labels) == ("cdigprobe1", "localhost/bb:1", {})


def test_storage_containers_fixture():
    md = parse_storage_containers(_fixture("containers_storage.json"), PODMAN_ID)
    assert (md.name, md.image, md.labels) == ("cdigprobe1", "localhost/bb:1", {})
    assert not parse_storage_containers(_fixture("containers_storage.json"), "x" * 64).found
    assert not parse_storage_containers({"not": "a list"}, PODMAN_ID).found
    broken = [{"id": PODMAN_ID, "names": [], "metadata": "{not json"}]
    assert parse_storage_containers(broken, PODMAN_ID).name == ""


def test_containerd_config_fixture():
    md = parse_oci_config(_fixture("containerd_config.json"), "containerd")
    assert (md.name, md.image, md.runtime) == (
        "nginx",
        "docker.io/library/nginx:1.25",
        "containerd",
    )
    assert (md.pod_name, md.pod_namespace, md.pod_uid) == ("web-0", "shop", POD_UID)
    assert md.labels["io.kubernetes.pod.name"] == "web-0"


def test_crio_config_fixture():
    md = parse_oci_config(_fixture("crio_config.json"), "cri-o")
    assert (md.name, md.image, md.runtime) == ("nginx", "docker.io/library/nginx:1.25", "cri-o")
    assert (md.pod_name, md.pod_namespace, md.pod_uid) == ("web-0", "shop", POD_UID)


def test_crio_bad_labels_json():
    doc = {"annotations": {"io.kubernetes.cri-o.Labels": "{", "io.kubernetes.pod.name": "p"}}
    assert parse_oci_config(doc, "cri-o").pod_name == "p"


def test_runc_state_plain_fixture():
    st = parse_runc_state(_fixture("runc_state_plain.json"), FIRECRACKER_MOUNTS)
    assert st.id == "cdigrunc1"
    assert st.bundle == "/tmp/cdigc/bundle"
    assert st.labels["org.opencontainers.image.ref.name"] == "bb:1"
    # every hierarchy's path; this machine nests memory under its supervisor's cgroup
    assert "/cdigrunc1" in st.cgroup_paths
    assert "/process_api/ecdc7b2f33b204a4f7e600da9d85b4b2/cdigrunc1" in st.cgroup_paths
    md = runc_metadata(st)
    assert (md.name, md.image, md.runtime, md.source) == ("cdigrunc1", "bb:1", "runc", "runc-state")
    assert md.pod_name == "x"  # the bundle's annotation io.kubernetes.pod.name=x


def test_runc_state_without_mounts_uses_runc_default_path():
    st = parse_runc_state(_fixture("runc_state_plain.json"))
    assert st.cgroup_paths == frozenset({"/cdigrunc1"})


def test_runc_state_of_a_podman_container():
    st = parse_runc_state(_fixture("runc_state_podman.json"), FIRECRACKER_MOUNTS)
    assert st.id == PODMAN_ID
    assert f"/libpod_parent/libpod-{PODMAN_ID}" in st.cgroup_paths
    md = runc_metadata(st)
    assert md.runtime == "podman" and md.name == ""  # runc knows no podman name


def test_runc_state_of_cri_containers():
    crio = _fixture("crio_config.json")["annotations"]
    st = parse_runc_state(
        {"id": "c", "config": {"labels": [f"{k}={v}" for k, v in crio.items()] + ["bundle=/b"]}}
    )
    md = runc_metadata(st)
    assert (md.runtime, md.name, md.pod_name) == ("cri-o", "nginx", "web-0")
    ctd = _fixture("containerd_config.json")["annotations"]
    st = parse_runc_state({"id": "c", "config": {"labels": [f"{k}={v}" for k, v in ctd.items()]}})
    assert runc_metadata(st).runtime == "containerd"


def test_runc_state_garbage():
    assert parse_runc_state([]) is None
    assert parse_runc_state({"id": 5}) is None
    st = parse_runc_state({"id": "a", "config": {"labels": "x", "cgroups": []}})
    assert st is not None and st.labels == {} and st.cgroup_paths == frozenset()


def test_clean_labels_bounds_and_types():
    raw = {f"k{i}": "v" for i in range(MAX_LABELS + 10)}
    assert len(clean_labels(raw)) == MAX_LABELS
    got = clean_labels({"a": "x" * (MAX_VALUE + 5), "n": 3, "b": True, "l": [1], 5: "v", "": "e"})
    assert got == {"a": "x" * MAX_VALUE, "n": "3"}
    assert clean_labels(None) == {} and clean_labels(["a"]) == {}


# --- unix socket HTTP --------------------------------------------------------------------


@pytest.fixture
def unix_server(tmp_path) -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """Start a unix-socket server whose connections ``handler(conn)`` serves."""
    servers: list[tuple[socket.socket, threading.Thread]] = []
    stop = threading.Event()

    def start(handler: Callable[[socket.socket], None]) -> str:
        path = str(tmp_path / f"s{len(servers)}.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(8)
        srv.settimeout(0.05)

        def loop():
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                with conn:
                    conn.settimeout(2)
                    try:
                        handler(conn)
                    except OSError:
                        pass

        th = threading.Thread(target=loop, daemon=True)
        th.start()
        servers.append((srv, th))
        return path

    yield start
    stop.set()
    for srv, th in servers:
        th.join()
        srv.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _respond(body: bytes, status: str = "200 OK", extra: str = "") -> Callable:
    def handler(conn: socket.socket) -> None:
        req = _read_request(conn)
        handler.requests.append(req)  # type: ignore[attr-defined]
        head = f"HTTP/1.0 {status}\r\nContent-Type: application/json\r\n{extra}\r\n"
        conn.sendall(head.encode() + body)

    handler.requests = []  # type: ignore[attr-defined]
    return handler


def test_unix_http_get(unix_server):
    h = _respond(b'{"ok": 1}')
    path = unix_server(h)
    assert unix_http_get(path, "/containers/abc/json", 2.0) == (200, b'{"ok": 1}')
    assert h.requests[0].startswith(b"GET /containers/abc/json HTTP/1.0\r\n")


def test_unix_http_get_chunked(unix_server):
    body = b'4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
    path = unix_server(_respond(body, extra="Transfer-Encoding: chunked\r\n"))
    assert unix_http_get(path, "/x", 2.0) == (200, b'{"a": 1}')


def test_unix_http_get_trickle_is_bounded(unix_server):
    def trickle(conn):
        _read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\n")
        for _ in range(100):
            conn.sendall(b"X-Slow: 1\r\n")  # each byte arrives well within the timeout
            time.sleep(0.05)

    path = unix_server(trickle)
    t = time.monotonic()
    with pytest.raises(TimeoutError):
        unix_http_get(path, "/x", 0.3)
    assert time.monotonic() - t < 1.0


def test_unix_http_get_no_server(tmp_path):
    with pytest.raises(OSError):
        unix_http_get(str(tmp_path / "absent.sock"), "/x", 0.5)


# --- RuntimeClient chains -----------------------------------------------------------------


def _client(tmp_path: Path, **kw) -> RuntimeClient:
    defaults = dict(
        runc_root=str(tmp_path / "runc"),
        docker_socket=str(tmp_path / "docker.sock"),
        docker_root=str(tmp_path / "docker"),
        podman_socket=str(tmp_path / "podman.sock"),
        podman_bin=None,
        containers_storage=str(tmp_path / "storage"),
        containers_run=str(tmp_path / "run-storage"),
        containerd_tasks=str(tmp_path / "containerd"),
        containerd_db=str(tmp_path / "containerd-meta.db"),
        ctr_bin=None,
        podman_db=str(tmp_path / "bolt_state.db"),
        timeout=1.0,
    )
    defaults.update(kw)
    return RuntimeClient(**defaults)


def _put(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)


def _fake_podman(tmp_path: Path, script: str) -> str:
    exe = tmp_path / "bin" / "podman"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_nothing_anywhere_is_empty(tmp_path):
    c = _client(tmp_path)
    for rt in ("docker", "podman", "containerd", "cri-o", "runc", "kubernetes", "unknown", "lxc"):
        assert c.metadata(rt, DOCKER_ID) == Metadata()


def test_podman_cli(tmp_path):
    out = tmp_path / "inspect.json"
    out.write_text((FIXTURES / "podman_inspect.json").read_text())
    args = tmp_path / "args"
    exe = _fake_podman(tmp_path, f'echo "$@" > {args}\ncat {out}\n')
    md = _client(tmp_path, podman_bin=exe).metadata("podman", PODMAN_ID)
    assert (md.name, md.image, md.pod_name, md.runtime) == (
        "cdigprobe1",
        "localhost/bb:1",
        "web-0",
        "podman",
    )
    assert args.read_text().split() == ["container", "inspect", "--format", "json", "--", PODMAN_ID]


def test_podman_cli_hung_is_killed_after_timeout(tmp_path):
    exe = _fake_podman(tmp_path, "sleep 30\n")
    c = _client(tmp_path, podman_bin=exe, timeout=0.3)
    _put(
        tmp_path / "storage/overlay-containers/containers.json", _fixture("containers_storage.json")
    )
    t = time.monotonic()
    md = c.metadata("podman", PODMAN_ID)
    assert time.monotonic() - t < 2.0
    assert (md.source, md.name, md.image) == ("containers-storage", "cdigprobe1", "localhost/bb:1")


def test_podman_cli_failure_falls_back_to_storage(tmp_path, caplog):
    exe = _fake_podman(tmp_path, "echo 'Error: no such container' >&2\nexit 125\n")
    c = _client(tmp_path, podman_bin=exe)
    _put(
        tmp_path / "storage/overlay-containers/containers.json", _fixture("containers_storage.json")
    )
    with caplog.at_level("DEBUG", logger="cdig.collector.runtimes"):
        for _ in range(3):
            assert c.metadata("podman", PODMAN_ID).source == "containers-storage"
    assert len([r for r in caplog.records if "podman inspect" in r.getMessage()]) == 1


def test_podman_cli_garbage_output(tmp_path):
    exe = _fake_podman(tmp_path, "echo '[{not json'\n")
    assert not _client(tmp_path, podman_bin=exe).metadata("podman", PODMAN_ID).found


def test_podman_socket_first(tmp_path, unix_server):
    doc = {"Name": "/web1", "Config": {"Image": "localhost/bb:1", "Labels": {"a": "b"}}}
    h = _respond(json.dumps(doc).encode())
    sock = unix_server(h)
    exe = _fake_podman(tmp_path, "exit 99\n")
    md = _client(tmp_path, podman_socket=sock, podman_bin=exe).metadata("podman", PODMAN_ID)
    assert (md.source, md.name, md.labels) == ("podman-api", "web1", {"a": "b"})
    assert h.requests[0].startswith(f"GET /containers/{PODMAN_ID}/json ".encode())


def test_docker_api_then_config_file(tmp_path, unix_server):
    sock = unix_server(_respond(b'{"message": "No such container"}', "404 Not Found"))
    c = _client(tmp_path, docker_socket=sock)
    assert not c.metadata("docker", DOCKER_ID).found
    _put(
        tmp_path / "docker/containers" / DOCKER_ID / "config.v2.json",
        _fixture("docker_config_v2.json"),
    )
    md = c.metadata("docker", DOCKER_ID)
    assert (md.source, md.name, md.pod_name) == ("docker-config", "web1", "web-0")


def test_docker_api_answers(tmp_path, unix_server):
    sock = unix_server(_respond((FIXTURES / "docker_config_v2.json").read_bytes()))
    md = _client(tmp_path, docker_socket=sock).metadata("docker", DOCKER_ID)
    assert (md.source, md.name, md.image, md.runtime) == (
        "docker-api",
        "web1",
        "nginx:1.25",
        "docker",
    )


def test_docker_api_bad_json(tmp_path, unix_server):
    sock = unix_server(_respond(b"<html>"))
    assert not _client(tmp_path, docker_socket=sock).metadata("docker", DOCKER_ID).found


def test_containerd_task_bundle(tmp_path):
    _put(
        tmp_path / "containerd/k8s.io" / CTD_ID / "config.json", _fixture("containerd_config.json")
    )
    c = _client(tmp_path)
    md = c.metadata("containerd", CTD_ID)
    assert (md.runtime, md.name, md.pod_namespace) == ("containerd", "nginx", "shop")
    # the cgroupfs kubepods path does not say containerd: the bundle does
    assert c.metadata("kubernetes", CTD_ID).runtime == "containerd"


def test_crio_userdata(tmp_path):
    _put(
        tmp_path / "run-storage/overlay-containers" / CRIO_ID / "userdata/config.json",
        _fixture("crio_config.json"),
    )
    c = _client(tmp_path)
    assert c.metadata("cri-o", CRIO_ID).name == "nginx"
    assert c.metadata("kubernetes", CRIO_ID).runtime == "cri-o"


def test_podman_userdata_is_not_crio(tmp_path):
    # podman writes the same file, with no io.kubernetes.* annotations
    _put(
        tmp_path / "storage/overlay-containers" / PODMAN_ID / "userdata/config.json",
        {"annotations": {"io.container.manager": "libpod"}},
    )
    assert not _client(tmp_path).metadata("cri-o", PODMAN_ID).found


def test_unknown_runtime_found_by_docker(tmp_path):
    _put(
        tmp_path / "docker/containers" / DOCKER_ID / "config.v2.json",
        _fixture("docker_config_v2.json"),
    )
    md = _client(tmp_path).metadata("unknown", DOCKER_ID)
    assert (md.runtime, md.name) == ("docker", "web1")


def test_corrupt_files_never_raise(tmp_path):
    _put(tmp_path / "docker/containers" / DOCKER_ID / "config.v2.json", "{truncated")
    _put(tmp_path / "containerd/k8s.io" / CTD_ID / "config.json", "[]")
    (tmp_path / "runc" / "x").mkdir(parents=True)
    _put(tmp_path / "runc/x/state.json", "\x00\x01")
    c = _client(tmp_path)
    assert not c.metadata("docker", DOCKER_ID).found
    assert not c.metadata("containerd", CTD_ID).found
    assert not c.metadata("runc", "x").found
    assert c.runc_states() == []


def test_parser_bug_is_logged_not_raised(tmp_path, caplog, monkeypatch):
    c = _client(tmp_path)

    def boom(_cid):
        raise KeyError("bug")

    monkeypatch.setattr(c, "_docker", boom)
    with caplog.at_level("WARNING", logger="cdig.collector.runtimes"):
        assert c.metadata("docker", DOCKER_ID) == Metadata()
    assert "KeyError" in caplog.text


def test_runc_index_by_cgroup(tmp_path):
    cg = tmp_path / "cg"
    layout = CgroupLayout("v2", (CgroupMount(str(cg), 2, "/"),))
    doc = _fixture("runc_state_plain.json")
    doc["cgroup_paths"] = {"": f"{cg}/mybox"}
    _put(tmp_path / "runc/mybox/state.json", doc)
    c = _client(tmp_path, layout=layout)
    assert c.runc_for_cgroup("/mybox").id == "cdigrunc1"
    assert c.runc_for_cgroup("/mybox/child").id == "cdigrunc1"
    assert c.runc_for_cgroup("/myboxes") is None
    assert c.runc_for_cgroup("/") is None
    md = c.metadata("runc", "cdigrunc1")
    assert (md.name, md.runtime) == ("cdigrunc1", "runc")


def test_runc_root_reread_only_when_listing_changes(tmp_path, monkeypatch):
    doc = _fixture("runc_state_plain.json")
    _put(tmp_path / "runc/a/state.json", doc)
    c = _client(tmp_path)
    reads = []
    real = json.loads
    monkeypatch.setattr("cdig.collector.runtimes.client.json.loads",
                        lambda b: reads.append(1) or real(b))
    assert len(c.runc_states()) == 1
    assert len(c.runc_states()) == 1
    assert len(reads) == 1
    os.utime(tmp_path / "runc", ns=(1, 1))  # the listing changed (a container came or went)
    assert len(c.runc_states()) == 1
    assert len(reads) == 2


# --- containerd through ctr, docker's file first, runc being created --------------------


def test_ctr_info_fixture():
    """``ctr -n k8s.io containers info`` of ``ctr run --label ...`` (captured here)."""
    md = parse_ctr_info(_fixture("ctr_containers_info.json"))
    assert (md.name, md.image, md.runtime, md.source) == (
        "cdigxc",
        "docker.io/library/cdigx:1",
        "containerd",
        "containerd-ctr",
    )
    assert (md.pod_name, md.pod_namespace) == ("P1", "ns1")
    assert md.labels["io.kubernetes.pod.name"] == "P1"


def test_ctr_info_names():
    assert parse_ctr_info({"ID": "x", "Labels": {"nerdctl/name": "web"}}).name == "web"
    k8s = {"ID": "x", "Labels": {"io.kubernetes.container.name": "app"}}
    assert parse_ctr_info(k8s).name == "app"
    assert not parse_ctr_info({"Labels": {}}).found
    assert not parse_ctr_info(["not", "a", "record"]).found


def _fake_ctr(tmp_path: Path, doc: dict, expect_ns: str) -> str:
    """A ctr that answers ``-n NS containers info ID`` for one namespace."""
    (tmp_path / "ctr.json").write_text(json.dumps(doc))
    exe = tmp_path / "bin" / "ctr"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"-n {expect_ns} containers info -- "*) cat {tmp_path}/ctr.json;;'
        " *) echo no such container >&2; exit 1;; esac\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_containerd_labels_from_ctr(tmp_path):
    doc = _fixture("ctr_containers_info.json")
    (tmp_path / "containerd/default/cdigxc").mkdir(parents=True)  # a task, no CRI bundle
    (tmp_path / "containerd/k8s.io").mkdir(parents=True)
    c = _client(tmp_path, ctr_bin=_fake_ctr(tmp_path, doc, "default"))
    md = c.metadata("containerd", "cdigxc")
    assert (md.source, md.name, md.image, md.pod_name) == (
        "containerd-ctr",
        "cdigxc",
        "docker.io/library/cdigx:1",
        "P1",
    )
    assert c.containerd_task("/default/cdigxc/sub") == ("default", "cdigxc")
    assert c.containerd_task("/k8s.io/cdigxc") is None  # no such task there
    assert c.containerd_task("/default") is None


def test_containerd_cri_bundle_keeps_kubernetes_name_with_ctr_labels(tmp_path):
    _put(
        tmp_path / "containerd/k8s.io" / CTD_ID / "config.json", _fixture("containerd_config.json")
    )
    doc = {"ID": CTD_ID, "Image": "ignored:1", "Labels": {"team": "a"}}
    c = _client(tmp_path, ctr_bin=_fake_ctr(tmp_path, doc, "k8s.io"))
    md = c.metadata("containerd", CTD_ID)
    assert (md.name, md.image, md.pod_namespace) == (
        "nginx",
        "docker.io/library/nginx:1.25",
        "shop",
    )
    assert md.labels["team"] == "a" and md.labels["io.kubernetes.pod.name"] == "web-0"


def test_containerd_without_ctr_answer_names_the_id(tmp_path):
    (tmp_path / "containerd/default/plain").mkdir(parents=True)
    _put(tmp_path / "containerd/default/plain/config.json", {"annotations": {}})
    md = _client(tmp_path).metadata("containerd", "plain")
    assert (md.source, md.name) == ("containerd-config", "plain")


def test_dockers_containerd_namespace_is_left_to_docker(tmp_path):
    (tmp_path / "containerd/moby" / DOCKER_ID).mkdir(parents=True)
    c = _client(tmp_path)
    assert c.containerd_task(f"/moby/{DOCKER_ID}") is None
    assert not c.metadata("containerd", DOCKER_ID).found


def test_docker_config_file_before_the_api(tmp_path, unix_server):
    """dockerd holds the container's lock during its start: inspect answers
    late. config.v2.json is written at create and has name, image, labels."""
    doc = _fixture("docker_config_v2.json")
    doc["Name"] = "/from-the-api"
    sock = unix_server(_respond(json.dumps(doc).encode()))
    _put(
        tmp_path / "docker/containers" / DOCKER_ID / "config.v2.json",
        _fixture("docker_config_v2.json"),
    )
    md = _client(tmp_path, docker_socket=sock).metadata("docker", DOCKER_ID)
    assert (md.source, md.name) == ("docker-config", "web1")


def test_runc_in_creation(tmp_path):
    c = _client(tmp_path)
    assert not c.runc_in_creation()  # no root at all
    (tmp_path / "runc").mkdir()
    assert not c.runc_in_creation()
    (tmp_path / "runc" / "box").mkdir()  # runc made the directory, no state yet
    assert c.runc_in_creation()
    doc = _fixture("runc_state_plain.json")
    doc["id"] = "box"
    _put(tmp_path / "runc" / "box" / "state.json", doc)
    assert not c.runc_in_creation()
    assert c.runc_state("box") is not None


def test_probe_says_which_metadata_source_answers(tmp_path, unix_server):
    ok = unix_server(_respond(b"OK"))
    bad = unix_server(_respond(b"no", "500 Internal Server Error"))
    (tmp_path / "runc").mkdir()
    by = {s.runtime: s for s in probe(_client(tmp_path, docker_socket=ok, podman_socket=bad))}
    assert by["docker"].answers is True and "answers" in by["docker"].detail
    assert by["podman"].answers is False and "HTTP 500" in by["podman"].detail
    assert by["runc"].answers is True and "(0 containers)" in by["runc"].detail
    gone = {
        s.runtime: s for s in probe(_client(tmp_path, docker_socket=str(tmp_path / "no.sock")))
    }
    if "docker" in gone:  # dockerd installed on this host, not running at that path
        assert gone["docker"].answers is None


def test_crio_real_kubelet_node_sample(tmp_path):
    """Annotations of a coredns container on a real CRI-O node, at its real path."""
    cid = "438e2ba9d5970597608a7df68ae72f6085a1460f976f964ed5f369c793eaa4fe"
    _put(
        tmp_path / "run-storage/overlay-containers" / cid / "userdata/config.json",
        _fixture("crio_config_coredns.json"),
    )
    md = _client(tmp_path).metadata("cri-o", cid)
    assert (md.runtime, md.name, md.image) == (
        "cri-o",
        "coredns",
        "k8s.gcr.io/coredns/coredns:v1.8.6",
    )
    assert (md.pod_name, md.pod_namespace, md.pod_uid) == (
        "coredns-6d4b75cb6d-4mtdm",
        "kube-system",
        "5b5e07db-f1b9-4530-81ef-b7d04d66b83e",
    )


def test_crio_crictl_sample_names_from_cri_metadata():
    """A container of a ``crictl runp`` pod: no Kubernetes annotations, CRI-O's own."""
    doc = _fixture("crio_crictl_redis.json")
    md = parse_oci_config(doc, "cri-o")
    assert (md.name, md.image) == ("podsandbox1-redis", "docker.io/library/redis:alpine")
    assert md.labels == {"tier": "backend"}
    assert (md.pod_name, md.pod_namespace, md.pod_uid) == (
        "podsandbox1",
        "redhat.test.crio",
        "redhat-test-crio",
    )
