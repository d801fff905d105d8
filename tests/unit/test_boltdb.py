"""collector.boltdb: podman's and containerd's databases (captured on this machine),
and a corrupt or hostile file never raising anything but BoltError."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest

from cdig.collector.boltdb import BoltError, BoltReader, _fnv1a64
from cdig.collector.runtimes import RuntimeClient
from cdig.collector.runtimes.parsers import parse_libpod_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "containers"
PODMAN_DB = FIXTURES / "podman_bolt_state.db"
CONTAINERD_DB = FIXTURES / "containerd_meta.db"
PODMAN_ID = "89846eb70bea70514b3781469c1b4eca5ac9688af52dd258c13c1167285fd304"


def test_podman_container_config():
    db = BoltReader(PODMAN_DB.read_bytes())
    assert PODMAN_ID.encode() in db.keys(b"ctr")
    md = parse_libpod_config(json.loads(db.get(b"ctr", PODMAN_ID.encode(), b"config")))
    assert (md.name, md.image, md.source) == ("cdigfix1", "localhost/cdig-bb:test", "podman-db")
    assert (md.pod_name, md.pod_namespace) == ("web-0", "shop")
    assert db.get(b"ctr", b"no-such-id", b"config") is None
    assert db.get(b"ctr") is None  # a bucket, not a value
    assert db.keys(b"nope") == []


def test_containerd_container_record():
    db = BoltReader(CONTAINERD_DB.read_bytes())
    base = (b"v1", b"default", b"containers", b"cdigfix2")
    assert db.get(*base, b"image") == b"docker.io/library/cdig-bb:test"
    assert db.get(*base, b"labels", b"nerdctl/name") == b"web1"
    assert db.get(*base, b"labels", b"io.kubernetes.pod.name") == b"web-0"


def test_runtime_client_reads_the_databases_first(tmp_path):
    tasks = tmp_path / "tasks"
    (tasks / "default" / "cdigfix2").mkdir(parents=True)
    rt = RuntimeClient(
        podman_db=str(PODMAN_DB),
        podman_bin=None,
        podman_socket=str(tmp_path / "no.sock"),
        containerd_db=str(CONTAINERD_DB),
        containerd_tasks=str(tasks),
        ctr_bin=None,
        runc_root=str(tmp_path / "runc"),
    )
    md = rt.metadata("podman", PODMAN_ID)
    assert (md.source, md.name, md.pod_name) == ("podman-db", "cdigfix1", "web-0")
    md = rt.metadata("containerd", "cdigfix2")
    assert (md.source, md.name, md.image, md.pod_name) == (
        "containerd-db",
        "web1",
        "docker.io/library/cdig-bb:test",
        "web-0",
    )
    # absent or broken databases: the next source is asked (none here)
    (tmp_path / "junk.db").write_bytes(b"\0" * 8192)
    for path in (str(tmp_path / "absent.db"), str(tmp_path / "junk.db")):
        rt.podman_db = path
        assert not rt.metadata("podman", PODMAN_ID).found


def test_not_bolt():
    for data in (b"", b"x" * 100, b"\0" * 16384):
        with pytest.raises(BoltError):
            BoltReader(data)


def _meta(pgid: int, root: int, txid: int, psize: int = 4096) -> bytes:
    head = struct.pack("<QHHI", pgid, 0x04, 0, 0)
    body = struct.pack("<IIIIQQQQQ", 0xED0CDAED, 2, psize, 0, root, 0, 3, 4, txid)
    return (head + body + struct.pack("<Q", _fnv1a64(body))).ljust(psize, b"\0")


def test_cyclic_tree_ends_with_an_error():
    psize = 4096
    branch = struct.pack("<QHHI", 2, 0x01, 1, 0) + struct.pack("<IIQ", 16, 1, 2) + b"k"
    data = _meta(0, 2, 1) + _meta(1, 2, 0) + branch.ljust(psize, b"\0")
    db = BoltReader(data)
    with pytest.raises(BoltError):
        db.keys()


def test_corrupt_files_raise_only_bolt_errors():
    """Random byte flips and truncations of a real database: every lookup
    either answers or raises BoltError (never IndexError, struct.error …)."""
    good = PODMAN_DB.read_bytes()
    rng = random.Random(1234)
    for i in range(300):
        data = bytearray(good)
        if i % 3 == 0:
            data = data[: rng.randrange(len(good))]
        for _ in range(rng.randrange(1, 40)):
            pos = rng.randrange(max(1, len(data)))
            if pos < len(data):
                data[pos] = rng.randrange(256)
        try:
            db = BoltReader(bytes(data))
            db.keys(b"ctr")
            db.get(b"ctr", PODMAN_ID.encode(), b"config")
        except BoltError:
            pass
