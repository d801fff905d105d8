""".scap framing, state blocks and event decoding on the real sample captures (no root).

The samples (tests/fixtures/scap/, see its README) are gzip-compressed captures
written by several libs versions: PL v5-v9, FDL v1-v2, IL/UL v1-v2, EV v1-v2.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdig.collector.capture import CaptureError
from cdig.collector.decode import Decoder
from cdig.collector.scap import any_scap, is_scap, replay_source
from cdig.collector.scap import blocks as B
from cdig.collector.scap import events as E
from cdig.collector.scap.reader import ScapSource
from cdig.collector.state import State

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scap"
SAMPLES = sorted(FIXTURES.glob("*.scap"))


def _blocks(path: Path) -> list[tuple[int, bytes]]:
    with open(path, "rb") as f:
        bs = B.BlockStream(f, str(path))
        bs.read_header()
        out = [(t, bytes(buf[s:e])) for buf, blks in bs.chunks() for t, s, e, _ in blks]
        assert bs.stop == ""
    return out


def _events(paths: list[Path]) -> tuple[ScapSource, list]:
    src = ScapSource([str(p) for p in paths])
    state = State(container_of=src.container_of, procfs=src.procfs)
    src.attach(state)
    dec = Decoder(src.syscalls, src.mono_to_wall_ns)
    evs = []
    for b in src.batches():
        for ev in dec.decode(b):
            state.update(ev)
            if src.shown(ev):
                evs.append(ev)
    return src, evs


def test_samples_are_there():
    assert len(SAMPLES) == 8, SAMPLES
    for p in SAMPLES:
        assert is_scap(str(p)) and any_scap([str(p)])
        assert p.read_bytes()[:2] == b"\x1f\x8b"  # all gzip-compressed


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_every_block_is_framed_and_counted(path):
    blocks = _blocks(path)
    types = [t for t, _ in blocks]
    assert types[0] in (B.MI, B.MI_INT)
    assert any(t in B.PL_VERSION for t in types)
    first_ev = next(i for i, t in enumerate(types) if t in B.EVENT_BLOCKS)
    assert all(t in B.EVENT_BLOCKS for t in types[first_ev:])  # no state block after events
    n_events = 0
    for t, body in blocks:
        if t in B.EVENT_BLOCKS:
            off = 2 + (4 if B.EVENT_BLOCKS[t][1] else 0)
            if struct.unpack_from("<H", body, off + 20)[0] < E.MAX:
                n_events += 1
    src, _ = _events([path])
    assert src.events == n_events  # sysdig's evt.num counts exactly these
    assert src.skipped_events == {} and src.losses == []


def test_process_list_versions():
    got = {}
    for path in SAMPLES:
        for t, body in _blocks(path):
            if t in B.PL_VERSION:
                threads = B.parse_proclist(memoryview(body), t)
                got[path.stem] = (B.PL_VERSION[t], len(threads), threads)
    assert {k: v[0] for k, v in got.items()} == {
        "cat_write": 6, "connect_localhost": 7, "curl_google": 5, "open-multiple-files": 6,
        "psp_privileged": 9, "run_as_user_0_container": 9, "single_ipv6_conn": 9,
        "test_ipv6_client": 5}
    _, n, threads = got["cat_write"]
    assert n == 73
    init = threads[0]
    assert (init.tid, init.pid, init.comm, init.exe, init.cwd) == (1, 1, "systemd", "/sbin/init",
                                                                  "/")
    docker = next(t for t in threads if t.comm == "docker")
    assert docker.args == ["daemon", "-H", "fd://"]
    assert docker.cgroups == "/system.slice/docker.service"
    _, _, v7 = got["connect_localhost"]
    assert v7[0].exepath == "/lib/systemd/systemd"  # exepath: PL v7 and later


def test_fd_lists_v1_and_v2():
    v1 = [B.parse_fdlist(memoryview(b), t) for t, b in _blocks(FIXTURES / "cat_write.scap")
          if t == B.FDL]
    tid, fds = v1[0]
    assert tid == 1
    assert [(e.fd, e.type, e.name) for e in fds[:4]] == [
        (0, "file", "/dev/null"), (1, "file", "/dev/null"), (2, "file", "/dev/null"),
        (3, "file", "/dev/kmsg")]
    unix = [e.name for e in fds if e.type == "unix" and e.name]
    assert "/run/systemd/notify" in unix  # the scanner's trailing newline is not kept
    v2 = [B.parse_fdlist(memoryview(b), t) for t, b in
          _blocks(FIXTURES / "run_as_user_0_container.scap") if t == B.FDL_V2]
    socks = [e for _, fds in v2 for e in fds if e.type == "ipv4" and e.l4proto == "tcp"]
    assert socks, "the sshd connection of that capture"


def test_users():
    for t, body in _blocks(FIXTURES / "psp_privileged.scap"):
        if t in (B.UL, B.UL_V2):
            users = B.parse_userlist(memoryview(body), t)
            assert users[0] == "root"
            return
    pytest.fail("no user list")


def test_machine_info():
    src = ScapSource([str(FIXTURES / "cat_write.scap")])
    assert src.machine.num_cpus > 0 and src.machine.hostname
    assert src.header["format"] == "scap"


def test_events_pair_into_completed_syscalls():
    _, evs = _events([FIXTURES / "cat_write.scap"])
    opens = [e for e in evs if e.type == "open"]
    assert [e.args["path"] for e in opens][:2] == ["/etc/ld.so.cache",
                                                    "/lib/x86_64-linux-gnu/libc.so.6"]
    assert all(e.dir == "<" and e.latency_ns > 0 for e in opens)
    read = next(e for e in evs if e.type == "read")
    assert read.fd is not None and read.fd.name == "/lib/x86_64-linux-gnu/libc.so.6"
    assert read.res == 832 and read.args["size"] == 832
    access = next(e for e in evs if e.type == "access")
    assert access.res == -2 and access.args["path"] == "/etc/ld.so.nohwcap"
    # execve: the probe's vocabulary (EXEC record with the new comm, then the syscall)
    assert [e.type for e in evs[:2]] == ["procexec", "execve"]
    assert evs[0].comm == "cat"
    assert evs[-1].type == "procexit"


def test_generic_events_take_the_native_id():
    _, evs = _events([FIXTURES / "curl_google.scap"])
    types = {e.type for e in evs}
    assert "clock_gettime" in types  # a generic event: nativeID 228
    assert not any(t.startswith("syscall_") for t in types)


def test_sockets_from_tuples():
    _, evs = _events([FIXTURES / "test_ipv6_client.scap"])
    conn = [e for e in evs if e.type == "connect"]
    assert conn[0].args["addr"] == "[::1]:2345" and conn[0].args["local"] == "[::1]:38255"
    assert conn[0].fd.name == "::1:38255->::1:2345"
    _, evs = _events([FIXTURES / "connect_localhost.scap"])
    (c,) = [e for e in evs if e.type == "connect"]
    assert c.res == -115 and c.args["addr"] == "127.0.0.1:80"
    assert c.args["local"] == "127.0.0.1:47192"


def test_containers_from_json_events_and_cgroups():
    _, evs = _events([FIXTURES / "open-multiple-files.scap"])
    src = ScapSource([str(FIXTURES / "open-multiple-files.scap")])
    list(src.batches())
    names = sorted(c.name for c in src.containers.values() if not c.is_host)
    assert "express_server" in names and "falco" in names
    _, evs = _events([FIXTURES / "run_as_user_0_container.scap"])
    inside = [e for e in evs if e.container.name == "hopeful_taussig"]
    assert inside and all(len(e.container.short_id) == 12 for e in inside)
    assert {e.container.runtime for e in inside} == {"docker"}
    assert {e.comm for e in inside} >= {"bash", "ls"}


def test_evt_num_is_sysdigs():
    _, evs = _events([FIXTURES / "cat_write.scap"])
    # sysdig -r cat_write.scap numbers its events from 1 and shows the execve exit as 131
    assert evs[1].type == "execve" and evs[1].num == 131
    nums = [e.num for e in evs if e.dir == "<"]
    assert nums == sorted(nums) and len(set(nums)) == len(nums)


# --------------------------------------------------------------------------- damage


def _plain(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def _read(tmp_path: Path, data: bytes, name: str = "x.scap"):
    p = tmp_path / name
    p.write_bytes(data)
    losses = []
    src = ScapSource([str(p)], on_loss=losses.append)
    n = sum(len(b) for b in src.batches())
    return src, n, losses


def test_plain_and_gzip_read_the_same(tmp_path):
    data = _plain(FIXTURES / "curl_google.scap")
    a, na, la = _read(tmp_path, data, "plain.scap")
    b, nb, lb = _read(tmp_path, gzip.compress(data), "gz.scap")
    assert na == nb > 500 and a.events == b.events and la == lb == []


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.999])
def test_truncated_file_reads_to_its_last_intact_block(tmp_path, cut):
    data = _plain(FIXTURES / "curl_google.scap")
    whole, n_whole, _ = _read(tmp_path, data, "whole.scap")
    at = int(len(data) * cut)
    src, n, losses = _read(tmp_path, data[:at])
    (loss,) = losses
    assert loss.reason == "truncated" and 0 < loss.unreadable < 65536
    assert "truncated" in loss.message() and "\n" not in loss.message()
    assert src.events < whole.events and n <= n_whole
    # every event block that ends before the cut was read
    intact = 0
    pos = 28
    while pos + 8 <= at:
        t, ln = struct.unpack_from("<II", data, pos)
        if pos + ln > at:
            break
        if t in B.EVENT_BLOCKS:
            intact += 1
        pos += ln
    assert src.events == intact


def test_truncated_gzip(tmp_path):
    raw = (FIXTURES / "curl_google.scap").read_bytes()
    src, n, losses = _read(tmp_path, raw[: len(raw) // 2])
    (loss,) = losses
    assert loss.reason == "truncated" and src.events > 0 and n > 0


def test_damaged_block_length(tmp_path):
    data = bytearray(_plain(FIXTURES / "cat_write.scap"))
    # find the 10th event block and break its length
    pos, k = 28, 0
    while True:
        t, ln = struct.unpack_from("<II", data, pos)
        if t in B.EVENT_BLOCKS:
            k += 1
            if k == 10:
                break
        pos += ln
    struct.pack_into("<I", data, pos + 4, 7)
    src, _, losses = _read(tmp_path, bytes(data))
    (loss,) = losses
    assert loss.reason == "damaged" and src.events == 9


def test_unknown_blocks_and_events_are_skipped_and_counted(tmp_path):
    from cdig.collector.scap.writer import block, encode_event

    data = _plain(FIXTURES / "cat_write.scap")
    whole, n_whole, _ = _read(tmp_path, data, "whole.scap")
    # an unknown block before the events and an event type newer libs may write
    pos = 28
    while struct.unpack_from("<I", data, pos)[0] not in B.EVENT_BLOCKS:
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    odd_block = block(0xBAD, b"\x01\x02\x03")
    ts = struct.unpack_from("<Q", data, pos + 10)[0]
    future = bytearray(encode_event(5, ts, 1, [b"\0" * 8]))
    struct.pack_into("<H", future, 20, 1000)
    odd_event = block(B.EV_V2, b"\0\0" + bytes(future))
    src, n, losses = _read(tmp_path, data[:pos] + odd_block + odd_event + data[pos:])
    assert losses == [] and n == n_whole and src.events == whole.events
    assert src.skipped_blocks == {0xBAD: 1} and src.skipped_events == {1000: 1}


def test_not_a_scap_file(tmp_path):
    p = tmp_path / "junk.scap"
    p.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)
    with pytest.raises(CaptureError) as e:
        ScapSource([str(p)])
    assert "\n" not in str(e.value)
    p.write_bytes(b"hello world, not a capture at all")
    assert not is_scap(str(p))
    with pytest.raises(CaptureError):
        replay_source([str(p)])  # falls back to the cdig reader, which says why
    empty = tmp_path / "empty.scap"
    empty.write_bytes(b"")
    assert not is_scap(str(empty))


def test_shb_with_options_is_accepted(tmp_path):
    """Current libs and editcap write SHB options (0.29.3 fails on them; cdig skips them)."""
    data = _plain(FIXTURES / "cat_write.scap")
    opt = struct.pack("<HH", 1, 8) + b"comment!" + struct.pack("<HH", 0, 0)
    shb = struct.pack("<IIIHHq", B.SHB, 28 + len(opt), B.BYTE_ORDER_MAGIC, 1, 0, -1) + opt + \
        struct.pack("<I", 28 + len(opt))
    a, na, _ = _read(tmp_path, data, "a.scap")
    b, nb, lb = _read(tmp_path, shb + data[28:], "b.scap")
    assert na == nb and lb == [] and a.events == b.events


def test_v1_nparams_is_recomputed():
    # a v1 close exit: 22-byte header, one u16 length slot, 8-byte res
    ev = struct.pack("<QQIH", 1, 2, 22 + 2 + 8, 5) + struct.pack("<H", 8) + b"\0" * 8
    assert E.v1_nparams(ev, 22, len(ev), 1) == 1
    assert E.v1_nparams(ev + b"\0", 22, len(ev) + 1, 1) == -1  # sizes do not add up


def test_flag_conversions_round_trip():
    import os

    for flags in (os.O_RDONLY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, os.O_RDWR | os.O_APPEND,
                  os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY, os.O_WRONLY | os.O_EXCL):
        assert E.open_flags_from_ppm(E.open_flags_to_ppm(flags)) == flags
    clone = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000
    assert E.clone_flags_from_ppm(E.clone_flags_to_ppm(clone)) == clone


def test_flag_codecs_by_bytes_match_their_reference():
    """The fast path's flag codecs (a table per byte) give what their references (a
    where per flag) give, on every value of the flags' bytes, single bits up to 62,
    negative values and random 41-bit ones, and each bit as the per-event map does."""
    from cdig.collector.scap import bulk

    rng = np.random.default_rng(13)
    v = np.concatenate([np.arange(-70000, 70000), 1 << np.arange(63), -(1 << np.arange(63)),
                        rng.integers(-2**40, 2**40, 50000)]).astype(np.int64)
    for ref, fast, one in ((bulk.numpy_open_flags_from_ppm, bulk.open_flags_from_ppm,
                            E.open_flags_from_ppm),
                           (bulk.numpy_clone_flags_from_ppm, bulk.clone_flags_from_ppm,
                            E.clone_flags_from_ppm)):
        got = fast(v)
        assert got.dtype == np.int64 and (got == ref(v)).all()
        bits = np.array([1 << b for b in range(31)] + [0, 1, 2, 3], dtype=np.int64)
        assert fast(bits).tolist() == [one(int(b)) for b in bits]


def test_sockaddr_conversions_round_trip():
    import socket

    v4 = struct.pack("<H", 2) + struct.pack(">H", 8080) + socket.inet_aton("10.1.2.3") + b"\0" * 8
    assert E.sockaddr_to_linux(E.sockaddr_from_linux(v4)) == v4
    v6 = struct.pack("<H", 10) + struct.pack(">H", 443) + b"\0" * 4 + \
        socket.inet_pton(socket.AF_INET6, "2001:db8::1") + b"\0" * 4
    assert E.sockaddr_to_linux(E.sockaddr_from_linux(v6)) == v6
    unix = struct.pack("<H", 1) + b"/run/x.sock\0"
    assert E.sockaddr_to_linux(E.sockaddr_from_linux(unix)) == unix
    peer = struct.pack("<H", 2) + struct.pack(">H", 80) + socket.inet_aton("10.9.9.9") + b"\0" * 8
    assert E.tuple_ends(E.tuple_from_linux(v4, peer)) == (v4, peer)
    peer6 = v6[:2] + struct.pack(">H", 8443) + v6[4:]
    assert E.tuple_ends(E.tuple_from_linux(v6, peer6)) == (v6, peer6)


# --------------------------------------------------------------------------- fuzz

_FUZZ_BASE = gzip.decompress((FIXTURES / "curl_google.scap").read_bytes())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(0, 255)),
                      min_size=1, max_size=8),
       cut=st.integers(28, len(_FUZZ_BASE)))
def test_damaged_bytes_never_raise(tmp_path, flips, cut):
    """Flipped bytes and cuts anywhere: the reader yields what it can, never a traceback
    (a CaptureError only for a header that is not a .scap one)."""
    data = bytearray(_FUZZ_BASE[:cut])
    for at, v in flips:
        if at < len(data):
            data[at] = v
    p = tmp_path / "fuzz.scap"
    p.write_bytes(bytes(data))
    try:
        src = ScapSource([str(p)])
    except CaptureError as e:
        assert "\n" not in str(e)
        return
    state = State(container_of=src.container_of, procfs=src.procfs)
    src.attach(state)
    dec = Decoder(src.syscalls, 0)
    for b in src.batches():
        for ev in dec.decode(b):
            state.update(ev)
    assert len(src.losses) <= 1


def test_block_chain_in_numpy_is_the_python_walk():
    """blocks._chain follows the lengths with numpy; it must give the blocks a plain
    walk gives, stop before an incomplete or invalid block, and ignore block-like
    bytes inside payloads."""
    import random

    from cdig.collector.scap.writer import block

    rnd = random.Random(7)
    fake = block(B.EV_V2, b"\0" * 30)  # a whole block inside another block's payload
    parts = []
    for _ in range(2000):
        body = fake if rnd.random() < 0.1 else bytes(rnd.randrange(256) for _ in
                                                     range(rnd.randrange(0, 90)))
        parts.append(block(rnd.choice([B.EV_V2, B.EVF_V2, 0xBAD]), body))
    whole = b"".join(parts)

    def walk(buf: bytes) -> tuple[list[int], int]:
        out, pos = [], 0
        while pos + 12 <= len(buf):
            blen = struct.unpack_from("<I", buf, pos + 4)[0]
            if blen < 12 or blen & 3 or pos + blen > len(buf) or \
                    struct.unpack_from("<I", buf, pos + blen - 4)[0] != blen:
                break
            out.append(pos)
            pos += blen
        return out, pos

    for buf in (whole, whole[:-5], whole[:len(whole) // 2 + 2],
                whole[:4000] + b"\xff" * 8 + whole[4000:], b"", whole[:16]):
        st, end = B._chain(buf)
        assert (st.tolist(), end) == walk(buf)
