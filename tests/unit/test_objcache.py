"""probes/objload.py and objcache.py without the kernel: relocations found in compiled
instructions, the JSON form of an object, and a cache that refuses directories
and files others could write (what it holds is loaded into the kernel)."""

from __future__ import annotations

import os
import struct

import pytest

from cdig.probes import objload
from cdig.probes.objcache import ObjectCache
from cdig.probes.objload import (
    SENTINEL_TGID,
    CompiledObject,
    MapSpec,
    ProgSpec,
    Uncacheable,
    relocations,
)


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


def ld_map(fd: int, src: int = 1) -> bytes:
    return insn(0x18, 1, src, 0, fd) + insn(0, 0, 0, 0, 0)


def test_relocations_name_map_loads_and_tgid_immediates():
    code = (insn(0x85, imm=14)  # call bpf_get_current_pid_tgid
            + insn(0x16, 1, 0, 3, SENTINEL_TGID)  # if w1 == SELF_TGID goto +3 (JMP32)
            + ld_map(7)  # r1 = map fd 7 (two instructions)
            + insn(0x15, 0, 0, 1, 5)  # if r0 == 5: an immediate that is no pid
            + ld_map(9, src=2)  # map value of fd 9
            + insn(0xb7, 0, 0, 0, SENTINEL_TGID)  # r0 = SELF_TGID
            + insn(0x95))
    refs, tgid = relocations(code, {7: "events", 9: "stats"})
    assert refs == [(2, "events"), (5, "stats")]
    assert tgid == [1, 7]


def test_sentinel_in_a_map_load_is_an_fd_not_the_tgid():
    # the second half of a 64-bit load is not an instruction of its own
    code = insn(0x18, 1, 0, 0, 1) + insn(0, 0, 0, 0, SENTINEL_TGID) + insn(0x95)
    assert relocations(code, {}) == ([], [])


@pytest.mark.parametrize("src", [3, 4, 5, 6])  # BTF ids, kfuncs, maps by index
def test_other_64_bit_loads_are_not_cached(src):
    with pytest.raises(Uncacheable):
        relocations(ld_map(3, src=src), {3: "m"})


def test_a_load_of_an_unknown_fd_is_not_cached():
    with pytest.raises(Uncacheable, match="fd 4"):
        relocations(ld_map(4), {3: "m"})


def sample() -> CompiledObject:
    return CompiledObject(
        maps=[MapSpec("events", 27, 0, 0, 1 << 25, 0),
              MapSpec("inflight", 29, 4, 48, 0, 1, btf_key_type_id=3, btf_value_type_id=9)],
        progs=[ProgSpec("raw_tracepoint__sys_exit", objload.PROG_RAW_TRACEPOINT,
                        "raw_tracepoint", "sys_exit", ld_map(5) + insn(0x95),
                        [(0, "events")], [])],
        btf=b"\x9f\xeb\x01\x00btf", license="GPL", kern_version=0x60100)


def test_json_round_trip():
    obj = sample()
    assert CompiledObject.from_json(obj.to_json()) == obj


def test_cache_stores_and_returns(tmp_path):
    cache = ObjectCache(tmp_path / "c")
    assert cache.get("k") is None
    assert cache.put("k", sample())
    assert cache.get("k") == sample()
    assert oct(os.stat(cache.dir).st_mode & 0o777) == "0o700"
    assert oct(os.stat(cache.dir / "k.json").st_mode & 0o777) == "0o600"


def test_cache_refuses_what_others_can_write(tmp_path):
    cache = ObjectCache(tmp_path / "c")
    cache.put("k", sample())
    os.chmod(cache.dir / "k.json", 0o622)
    assert cache.get("k") is None  # a group-writable file
    os.chmod(cache.dir / "k.json", 0o600)
    os.chmod(cache.dir, 0o777)
    assert cache.get("k") is None  # a world-writable directory
    assert not cache.put("j", sample())
    os.chmod(cache.dir, 0o700)
    assert cache.get("k") == sample()


def test_cache_ignores_a_symlink_and_damage(tmp_path):
    cache = ObjectCache(tmp_path / "c")
    cache.put("k", sample())
    os.symlink(cache.dir / "k.json", cache.dir / "s.json")
    assert cache.get("s") is None
    (cache.dir / "d.json").write_text('{"format": 1, "maps": [')
    os.chmod(cache.dir / "d.json", 0o600)
    assert cache.get("d") is None
    (cache.dir / "v.json").write_text(sample().to_json().replace('"format": 1', '"format": 0'))
    os.chmod(cache.dir / "v.json", 0o600)
    assert cache.get("v") is None


def test_cache_keeps_the_newest(tmp_path):
    cache = ObjectCache(tmp_path / "c")
    cache.keep = 3
    for i in range(5):
        cache.put(f"k{i}", sample())
        os.utime(cache.dir / f"k{i}.json", (1000 + i, 1000 + i))
    cache.put("k5", sample())
    assert sorted(p.stem for p in cache.dir.glob("*.json")) == ["k3", "k4", "k5"]


def test_key_changes_with_source_flags_and_headers(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "cdig.h").write_text("struct a { int x; };")
    k = ObjectCache.key("src", ["-DA=1"], inc)
    assert ObjectCache.key("src", ["-DA=1"], inc) == k
    assert ObjectCache.key("src2", ["-DA=1"], inc) != k
    assert ObjectCache.key("src", ["-DA=2"], inc) != k
    (inc / "cdig.h").write_text("struct a { long x; };")
    assert ObjectCache.key("src", ["-DA=1"], inc) != k


def test_cache_made_where_the_xdg_directory_does_not_exist_yet(tmp_path):
    # a fresh account (CI's root): no ~/.cache yet; the cache must still be used
    home_cache = tmp_path / "home" / ".cache" / "cdig"
    cache = ObjectCache(home_cache)
    assert cache.put("k1", sample())
    assert cache.get("k1") is not None
    assert (tmp_path / "home" / ".cache").stat().st_mode & 0o077 == 0
