"""A compiled BPF object as data, and loading it with bpf(2) alone (no bcc).

``compile_object`` compiles through bcc's module API (no programs loaded by bcc)
and records what loading needs:

* maps created as bcc created them (type, sizes, flags, name, BTF type ids),
  with the BTF bcc generated (the task-local storage map needs it);
* each program's instructions, map references to relocate to the new maps' fds,
  and the instructions holding ``SELF_TGID`` (cdig's own pid, compiled in as a
  constant): the object is compiled with ``SENTINEL_TGID`` in its place;
* the tracepoints, attached by ``load_object`` as bcc does (a perf event per
  tracepoint with the program set on it; raw tracepoints through
  ``BPF_RAW_TRACEPOINT_OPEN``).

``probes/objcache.py`` keeps such objects between starts.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import json
import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .bpf_syscall import BpfMapError, _attr, _bpf, _libc
from .syscall_numbers import AARCH64, X86_64

FORMAT = 1
# compiled in for SELF_TGID, then patched: above any pid (pid_max <= 2^22), below 2^31
SENTINEL_TGID = 0x5CD16A7E

BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_OBJ_GET_INFO_BY_FD = 0, 5, 15
BPF_RAW_TRACEPOINT_OPEN, BPF_BTF_LOAD, BPF_BTF_GET_FD_BY_ID = 17, 18, 19
PROG_TRACEPOINT, PROG_RAW_TRACEPOINT = 5, 17  # bcc's BPF.TRACEPOINT, BPF.RAW_TRACEPOINT
_LD_IMM64 = 0x18
_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE = 1, 2
PERF_TYPE_TRACEPOINT = 2
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408
_PERF_ATTR_SIZE = 112  # PERF_ATTR_SIZE_VER5: every kernel with BPF ring buffers knows it
_SYS_PERF_EVENT_OPEN = {arch: next(nr for nr, name in numbers.items()
                                   if name == "perf_event_open")
                        for arch, numbers in (("x86_64", X86_64), ("aarch64", AARCH64),
                                              ("arm64", AARCH64))}
_TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


class LoadError(Exception):
    """The object could not be compiled, loaded or attached (one line)."""


class Uncacheable(Exception):
    """The compiled object holds something this loader does not relocate."""


@dataclass
class MapSpec:
    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0


@dataclass
class ProgSpec:
    name: str
    type: int
    attach: str  # "tracepoint" or "raw_tracepoint"
    target: str  # "raw_syscalls:sys_enter" / "sys_exit"
    insns: bytes
    map_refs: list[tuple[int, str]] = field(default_factory=list)  # instruction, map
    tgid_at: list[int] = field(default_factory=list)  # instructions holding SELF_TGID


@dataclass
class CompiledObject:
    maps: list[MapSpec]
    progs: list[ProgSpec]
    btf: bytes | None
    license: str
    kern_version: int

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "license": self.license, "kern_version": self.kern_version,
            "btf": base64.b64encode(self.btf).decode() if self.btf is not None else None,
            "maps": [vars(m) for m in self.maps],
            "progs": [dict(vars(p), insns=base64.b64encode(p.insns).decode())
                      for p in self.progs]})

    @classmethod
    def from_json(cls, text: str) -> CompiledObject:
        d = json.loads(text)
        if d.get("format") != FORMAT:
            raise ValueError("another cache format")
        progs = [ProgSpec(p["name"], int(p["type"]), p["attach"], p["target"],
                          base64.b64decode(p["insns"]),
                          [(int(i), str(n)) for i, n in p["map_refs"]],
                          [int(i) for i in p["tgid_at"]]) for p in d["progs"]]
        maps = [MapSpec(**m) for m in d["maps"]]
        btf = base64.b64decode(d["btf"]) if d["btf"] is not None else None
        return cls(maps, progs, btf, str(d["license"]), int(d["kern_version"]))


# --------------------------------------------------------------------------- kernel calls


def _u32(buf: Any, off: int, v: int) -> None:
    ctypes.c_uint32.from_buffer(buf, off).value = v


def _u64(buf: Any, off: int, v: int) -> None:
    ctypes.c_uint64.from_buffer(buf, off).value = v


def _call(cmd: int, attr: Any, what: str) -> int:
    try:
        return _bpf(cmd, attr)
    except BpfMapError as e:
        raise LoadError(f"{what}: {e.strerror}") from None


def _info(fd: int, size: int, prefill: Any = None) -> Any:
    buf = prefill if prefill is not None else (ctypes.c_uint8 * size)()
    attr = _attr()
    _u32(attr, 0, fd)
    _u32(attr, 4, ctypes.sizeof(buf))
    _u64(attr, 8, ctypes.addressof(buf))
    _call(BPF_OBJ_GET_INFO_BY_FD, attr, "object info")
    return buf


def _close(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def btf_of_map(map_fd: int) -> bytes | None:
    """The raw BTF a map was created with (None: none)."""
    info = _info(map_fd, 88)
    btf_id = ctypes.c_uint32.from_buffer(info, 64).value
    if not btf_id:
        return None
    attr = _attr()
    _u32(attr, 0, btf_id)
    fd = _call(BPF_BTF_GET_FD_BY_ID, attr, "BTF by id")
    try:
        head = _info(fd, 32)
        size = ctypes.c_uint32.from_buffer(head, 8).value
        data = (ctypes.c_uint8 * size)()
        full = (ctypes.c_uint8 * 32)()
        _u64(full, 0, ctypes.addressof(data))
        _u32(full, 8, size)
        _info(fd, 32, full)
        return bytes(data)
    finally:
        _close([fd])


def map_spec(name: str, fd: int) -> MapSpec:
    info = _info(fd, 88)
    u32 = [ctypes.c_uint32.from_buffer(info, off).value for off in range(0, 24, 4)]
    return MapSpec(name=name, type=u32[0], key_size=u32[2], value_size=u32[3],
                   max_entries=u32[4], flags=u32[5],
                   btf_key_type_id=ctypes.c_uint32.from_buffer(info, 68).value,
                   btf_value_type_id=ctypes.c_uint32.from_buffer(info, 72).value)


# --------------------------------------------------------------------------- compiling


def _attach_of(func: str) -> tuple[int, str, str] | None:
    """bcc's naming: tracepoint__CAT__NAME, raw_tracepoint__NAME (others: not loaded)."""
    if func.startswith("tracepoint__"):
        return PROG_TRACEPOINT, "tracepoint", func[len("tracepoint__"):].replace("__", ":", 1)
    if func.startswith("raw_tracepoint__"):
        return PROG_RAW_TRACEPOINT, "raw_tracepoint", func[len("raw_tracepoint__"):]
    return None


def relocations(insns: bytes, fd_names: dict[int, str], sentinel: int = SENTINEL_TGID
                ) -> tuple[list[tuple[int, str]], list[int]]:
    """(map references, SELF_TGID immediates) of compiled instructions.

    Raises Uncacheable for a 64-bit load this loader does not relocate (BTF ids,
    kfuncs, maps by index)."""
    refs: list[tuple[int, str]] = []
    tgid: list[int] = []
    n = len(insns) // 8
    i = 0
    while i < n:
        code = insns[8 * i]
        src = insns[8 * i + 1] >> 4
        imm = int.from_bytes(insns[8 * i + 4:8 * i + 8], "little", signed=True)
        if code == _LD_IMM64:
            if src in (_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE):
                name = fd_names.get(imm)
                if name is None:
                    raise Uncacheable(f"instruction {i} loads fd {imm}, not one of the maps")
                refs.append((i, name))
            elif src != 0:
                raise Uncacheable(f"instruction {i}: a 64-bit load of kind {src}")
            elif imm == sentinel:
                tgid.append(i)
            i += 2
            continue
        if imm == sentinel:
            tgid.append(i)
        i += 1
    return refs, tgid


def compile_object(source: str, cflags: list[str], sentinel: int | None = SENTINEL_TGID
                   ) -> CompiledObject:
    """Compile with bcc (its module API: maps created, no program loaded), and read
    back what the kernel needs to recreate it. ``cflags`` must define SELF_TGID as
    ``sentinel``; None: the program has no SELF_TGID (nothing to patch)."""
    try:
        from bcc import libbcc  # only here: a warm start needs no bcc
    except ImportError as e:
        raise LoadError(f"the bcc Python module is not importable ({e}); "
                        "run scripts/setup.sh") from None
    lib = libbcc.lib
    lib.bpf_num_tables.restype = ctypes.c_ulonglong
    lib.bpf_num_tables.argtypes = [ctypes.c_void_p]
    lib.bpf_table_name.restype = ctypes.c_char_p
    lib.bpf_table_name.argtypes = [ctypes.c_void_p, ctypes.c_ulonglong]
    lib.bpf_table_fd_id.restype = ctypes.c_int
    lib.bpf_table_fd_id.argtypes = [ctypes.c_void_p, ctypes.c_ulonglong]
    flags = (ctypes.c_char_p * len(cflags))(*[f.encode() for f in cflags])
    mod = lib.bpf_module_create_c_from_string(source.encode(), 0, flags, len(cflags), True,
                                              None)
    if not mod:
        raise LoadError("bcc could not compile the program")
    try:
        fds: dict[int, str] = {}
        maps = []
        for i in range(lib.bpf_num_tables(mod)):
            name = lib.bpf_table_name(mod, i).decode()
            fd = lib.bpf_table_fd_id(mod, i)
            fds[fd] = name
            maps.append(map_spec(name, fd))
        btf = None
        for fd in fds:
            btf = btf_of_map(fd)
            if btf is not None:
                break
        progs = []
        for i in range(lib.bpf_num_functions(mod)):
            fname = lib.bpf_function_name(mod, i)
            how = _attach_of(fname.decode())
            if how is None:
                continue
            size = lib.bpf_function_size(mod, fname)
            insns = ctypes.string_at(lib.bpf_function_start(mod, fname), size)
            refs, tgid = relocations(insns, fds, SENTINEL_TGID if sentinel is None else sentinel)
            if sentinel is None:
                tgid = []  # an immediate that happens to equal the sentinel is not patched
            progs.append(ProgSpec(fname.decode(), how[0], how[1], how[2], insns, refs, tgid))
        if sentinel is not None and not any(p.tgid_at for p in progs):
            raise Uncacheable("SELF_TGID is in no instruction")
        return CompiledObject(maps, progs, btf, lib.bpf_module_license(mod).decode(),
                              int(lib.bpf_module_kern_version(mod)))
    finally:
        lib.bpf_module_destroy(mod)


# --------------------------------------------------------------------------- loading


class LoadedObject:
    """Maps and attached programs of one CompiledObject, by name; ``close`` detaches."""

    def __init__(self) -> None:
        self.map_fds: dict[str, int] = {}
        self.prog_fds: dict[str, int] = {}
        self._links: list[int] = []  # perf events and raw tracepoint fds (the attachments)
        self._btf_fd: int | None = None

    def close(self) -> None:
        _close(self._links)  # detach first
        _close(self.prog_fds.values())
        _close(self.map_fds.values())
        if self._btf_fd is not None:
            _close([self._btf_fd])
        self._links, self.prog_fds, self.map_fds, self._btf_fd = [], {}, {}, None


def _cstr(text: str) -> Any:
    return ctypes.create_string_buffer(text.encode())


def _tracepoint_id(target: str) -> int:
    cat, name = target.split(":", 1)
    for root in _TRACEFS:
        try:
            with open(f"{root}/events/{cat}/{name}/id") as f:
                return int(f.read())
        except OSError:
            continue
    raise LoadError(f"no tracepoint {target} (is tracefs mounted?)")


def _perf_event_open(tp_id: int) -> int:
    nr = _SYS_PERF_EVENT_OPEN.get(platform.machine())
    if nr is None:
        raise LoadError(f"perf_event_open's number is unknown on {platform.machine()}")
    attr = (ctypes.c_uint8 * _PERF_ATTR_SIZE)()
    _u32(attr, 0, PERF_TYPE_TRACEPOINT)
    _u32(attr, 4, _PERF_ATTR_SIZE)
    _u64(attr, 8, tp_id)
    _u64(attr, 16, 1)  # sample_period
    _u64(attr, 24, PERF_SAMPLE_RAW)
    _u32(attr, 48, 1)  # wakeup_events
    fd = _libc().syscall(ctypes.c_long(nr), attr, ctypes.c_int(-1), ctypes.c_int(0),
                         ctypes.c_int(-1), ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC))
    if fd < 0:
        e = ctypes.get_errno()
        raise LoadError(f"perf_event_open: {os.strerror(e)}")
    return int(fd)


def _verifier_log(attr: Any) -> str:
    """The verifier's last line for a refused program (loaded again with a log)."""
    log = ctypes.create_string_buffer(1 << 20)
    _u32(attr, 24, 1)
    _u32(attr, 28, ctypes.sizeof(log))
    _u64(attr, 32, ctypes.addressof(log))
    try:
        fd = _bpf(BPF_PROG_LOAD, attr)
        os.close(fd)
        return ""
    except BpfMapError:
        lines = [ln for ln in log.value.decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""


def load_object(obj: CompiledObject, self_tgid: int) -> LoadedObject:
    """Create the maps, load and attach the programs (``SELF_TGID`` = ``self_tgid``)."""
    out = LoadedObject()
    try:
        if obj.btf is not None and any(m.btf_value_type_id for m in obj.maps):
            blob = ctypes.create_string_buffer(obj.btf, len(obj.btf))
            attr = _attr()
            _u64(attr, 0, ctypes.addressof(blob))
            _u32(attr, 16, len(obj.btf))
            out._btf_fd = _call(BPF_BTF_LOAD, attr, "BTF load")
        for m in obj.maps:
            attr = _attr()
            for off, v in ((0, m.type), (4, m.key_size), (8, m.value_size),
                           (12, m.max_entries), (16, m.flags)):
                _u32(attr, off, v)
            mname = m.name.encode()[:15]
            ctypes.memmove(ctypes.addressof(attr) + 28, mname, len(mname))
            if m.btf_value_type_id and out._btf_fd is not None:
                _u32(attr, 48, out._btf_fd)
                _u32(attr, 52, m.btf_key_type_id)
                _u32(attr, 56, m.btf_value_type_id)
            out.map_fds[m.name] = _call(BPF_MAP_CREATE, attr, f"map {m.name}")
        license = _cstr(obj.license)
        for p in obj.progs:
            insns = bytearray(p.insns)
            for i, ref in p.map_refs:
                insns[8 * i + 4:8 * i + 8] = out.map_fds[ref].to_bytes(4, "little")
            for i in p.tgid_at:
                insns[8 * i + 4:8 * i + 8] = self_tgid.to_bytes(4, "little")
            code = (ctypes.c_uint8 * len(insns)).from_buffer(insns)
            attr = _attr()
            _u32(attr, 0, p.type)
            _u32(attr, 4, len(insns) // 8)
            _u64(attr, 8, ctypes.addressof(code))
            _u64(attr, 16, ctypes.addressof(license))
            _u32(attr, 40, obj.kern_version)
            pname = p.name.encode()[:15]
            ctypes.memmove(ctypes.addressof(attr) + 48, pname, len(pname))
            try:
                out.prog_fds[p.name] = _bpf(BPF_PROG_LOAD, attr)
            except BpfMapError as e:
                why = _verifier_log(attr)
                raise LoadError(f"program {p.name}: {e.strerror}"
                                + (f" ({why})" if why else "")) from None
        for p in obj.progs:
            fd = out.prog_fds[p.name]
            if p.attach == "raw_tracepoint":
                tp = _cstr(p.target)
                attr = _attr()
                _u64(attr, 0, ctypes.addressof(tp))
                _u32(attr, 8, fd)
                out._links.append(_call(BPF_RAW_TRACEPOINT_OPEN, attr,
                                        f"attach to raw tracepoint {p.target}"))
            else:
                pfd = _perf_event_open(_tracepoint_id(p.target))
                out._links.append(pfd)
                try:
                    fcntl.ioctl(pfd, PERF_EVENT_IOC_SET_BPF, fd)
                    fcntl.ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0)
                except OSError as e:
                    raise LoadError(f"attach to tracepoint {p.target}: "
                                    f"{e.strerror or e}") from None
    except BaseException:
        out.close()
        raise
    return out


__all__ = ["SENTINEL_TGID", "CompiledObject", "LoadError", "LoadedObject", "Uncacheable",
           "compile_object", "load_object", "relocations"]
