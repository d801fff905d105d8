"""bpf(2) without bcc: BPF maps read and written by file descriptor into numpy,
and the kernel's per-program run-time statistics (what bpftop shows).

The exporter and ``cdig top`` read whole maps at every refresh. bcc's table API
does a ``get_next_key`` + ``lookup`` pair of syscalls and builds a ctypes object
per entry; here one ``BPF_MAP_LOOKUP_BATCH`` call fills a numpy buffer with up to
``chunk`` entries (kernel >= 5.6; older kernels fall back to the per-key walk),
and per-CPU values are summed over CPUs with one numpy reduction.

No bcc here: the map and program fds come from ``probes.loader``, which is the
only module that imports bcc.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
from dataclasses import dataclass
from functools import cache

import numpy as np

from .syscall_numbers import AARCH64, X86_64

# bpf(2)'s number per architecture, from the generated syscall tables
_SYS_BPF = {arch: next(nr for nr, name in numbers.items() if name == "bpf")
            for arch, numbers in (("x86_64", X86_64), ("aarch64", AARCH64), ("arm64", AARCH64))}

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_MAP_LOOKUP_BATCH = 24
BPF_MAP_DELETE_BATCH = 27
BPF_ENABLE_STATS = 32

BPF_ANY = 0
BPF_STATS_RUN_TIME = 0

# map types whose values are per CPU
_PERCPU_TYPES = {5, 6, 10}  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH
_ATTR_SIZE = 128  # bytes of union bpf_attr we pass (zero beyond what we set)


class BpfMapError(OSError):
    """A bpf(2) call failed (a map operation, or a statistics call)."""


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _attr() -> ctypes.Array[ctypes.c_uint8]:
    return (ctypes.c_uint8 * _ATTR_SIZE)()


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_uint8]) -> int:
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise BpfMapError(errno.ENOSYS, f"bpf(2) number unknown on {platform.machine()}")
    r = _libc().syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(_ATTR_SIZE))
    if r < 0:
        e = ctypes.get_errno()
        raise BpfMapError(e, os.strerror(e))
    return int(r)  # libc's syscall() returns a C long


@cache
def possible_cpus(path: str = "/sys/devices/system/cpu/possible") -> int:
    """How many CPUs per-CPU map values hold (the kernel's num_possible_cpus())."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    n = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        n += (int(hi) if hi else int(lo)) - int(lo) + 1
    return n


@dataclass(frozen=True, slots=True)
class MapInfo:
    """What the kernel says about a map (``BPF_OBJ_GET_INFO_BY_FD``)."""

    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    name: str

    @property
    def percpu(self) -> bool:
        return self.type in _PERCPU_TYPES


def map_info(fd: int) -> MapInfo:
    buf = (ctypes.c_uint8 * 88)()  # struct bpf_map_info, first fields
    attr = _attr()
    ctypes.c_uint32.from_buffer(attr, 0).value = fd
    ctypes.c_uint32.from_buffer(attr, 4).value = ctypes.sizeof(buf)
    ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(buf)
    _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    u32 = np.frombuffer(bytes(buf), dtype="<u4")
    name = bytes(buf[24:40]).split(b"\0", 1)[0].decode("ascii", "replace")
    return MapInfo(type=int(u32[0]), key_size=int(u32[2]), value_size=int(u32[3]),
                   max_entries=int(u32[4]), flags=int(u32[5]), name=name)


class BpfMap:
    """One hash or array map, its keys and values as numpy structured dtypes.

    ``value`` is the dtype of one value (one CPU's, for per-CPU maps); reads
    return values summed over CPUs (every field must be an unsigned integer).
    The caller keeps ``fd`` open (it belongs to the loaded BPF object).
    """

    def __init__(self, fd: int, key: np.dtype, value: np.dtype, chunk: int = 1024) -> None:
        self.fd = fd
        self.key = np.dtype(key)
        self.value = np.dtype(value)
        self.info = map_info(fd)
        if self.info.key_size != self.key.itemsize:
            raise ValueError(f"map {self.info.name}: key is {self.info.key_size} bytes, "
                             f"the dtype {self.key.itemsize}")
        if self.info.value_size != self.value.itemsize:
            raise ValueError(f"map {self.info.name}: value is {self.info.value_size} bytes, "
                             f"the dtype {self.value.itemsize}")
        self.ncpus = possible_cpus() if self.info.percpu else 1
        # per-CPU values are copied 8-byte aligned, one per possible CPU
        self._vstride = (self.value.itemsize + 7) & ~7 if self.info.percpu else self.value.itemsize
        self.chunk = max(1, min(chunk, self.info.max_entries))
        self._batch_ok = True

    @property
    def capacity(self) -> int:
        return self.info.max_entries

    # -- reading ------------------------------------------------------------------
    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, values) of every entry now; per-CPU values summed."""
        raw_keys, raw_vals = self._read_batch() if self._batch_ok else self._read_walk()
        return raw_keys, self._sum_cpus(raw_vals)

    def read_cpus(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, values) of every entry now, each CPU's value apart: values of
        shape (entries, ``ncpus``) (one column for a map that is not per-CPU)."""
        keys, raw = self._read_batch() if self._batch_ok else self._read_walk()
        n = len(raw) // (self.ncpus * self._vstride)
        rows = raw[: n * self.ncpus * self._vstride].reshape(n * self.ncpus, self._vstride)
        vals = rows[:, : self.value.itemsize].copy().view(self.value).reshape(n, self.ncpus)
        return keys, vals

    def _sum_cpus(self, raw: np.ndarray) -> np.ndarray:
        n = len(raw) // (self.ncpus * self._vstride)
        if n == 0:
            return np.zeros(0, dtype=self.value)
        if not self.info.percpu:
            return raw.view(self.value).copy()
        words = raw.view("<u8").reshape(n, self.ncpus, self._vstride // 8)
        summed = words.sum(axis=1, dtype=np.uint64)
        out = np.ascontiguousarray(summed).view(np.uint8).reshape(n, self._vstride)
        return out[:, : self.value.itemsize].copy().view(self.value).reshape(n)

    def _read_batch(self) -> tuple[np.ndarray, np.ndarray]:
        ks, vs = self.key.itemsize, self.ncpus * self._vstride
        keys_out: list[np.ndarray] = []
        vals_out: list[np.ndarray] = []
        chunk = self.chunk
        in_batch = (ctypes.c_uint8 * max(8, ks))()
        out_batch = (ctypes.c_uint8 * max(8, ks))()
        first = True
        while True:
            kbuf = np.zeros(chunk * ks, dtype=np.uint8)
            vbuf = np.zeros(chunk * vs, dtype=np.uint8)
            attr = _attr()
            ctypes.c_uint64.from_buffer(attr, 0).value = 0 if first else ctypes.addressof(in_batch)
            ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(out_batch)
            ctypes.c_uint64.from_buffer(attr, 16).value = kbuf.ctypes.data
            ctypes.c_uint64.from_buffer(attr, 24).value = vbuf.ctypes.data
            ctypes.c_uint32.from_buffer(attr, 32).value = chunk
            ctypes.c_uint32.from_buffer(attr, 36).value = self.fd
            done = False
            try:
                _bpf(BPF_MAP_LOOKUP_BATCH, attr)
            except BpfMapError as e:
                if e.errno == errno.ENOENT:
                    done = True
                elif e.errno == errno.ENOSPC and chunk < self.info.max_entries:
                    chunk = min(chunk * 4, self.info.max_entries)  # a bucket larger than chunk
                    continue
                elif first and e.errno in (errno.EINVAL, errno.ENOTSUP, 524):  # 524: ENOTSUPP
                    self._batch_ok = False  # kernel < 5.6, or a map type without batch ops
                    return self._read_walk()
                else:
                    raise
            n = ctypes.c_uint32.from_buffer(attr, 32).value
            keys_out.append(kbuf[: n * ks])
            vals_out.append(vbuf[: n * vs])
            if done:
                break
            ctypes.memmove(in_batch, out_batch, ctypes.sizeof(out_batch))
            first = False
        keys = np.concatenate(keys_out).view(self.key) if keys_out else np.zeros(0, self.key)
        return keys, np.concatenate(vals_out) if vals_out else np.zeros(0, np.uint8)

    def _read_walk(self) -> tuple[np.ndarray, np.ndarray]:
        ks, vs = self.key.itemsize, self.ncpus * self._vstride
        keys: list[bytes] = []
        cur = (ctypes.c_uint8 * ks)()
        nxt = (ctypes.c_uint8 * ks)()
        first = True
        while True:
            attr = self._elem_attr(None if first else cur, nxt)
            try:
                _bpf(BPF_MAP_GET_NEXT_KEY, attr)
            except BpfMapError as e:
                if e.errno == errno.ENOENT:
                    break
                raise
            keys.append(bytes(nxt))
            ctypes.memmove(cur, nxt, ks)
            first = False
        out_keys: list[bytes] = []
        vals: list[bytes] = []
        vbuf = (ctypes.c_uint8 * vs)()
        for k in keys:
            kb = (ctypes.c_uint8 * ks).from_buffer_copy(k)
            try:
                _bpf(BPF_MAP_LOOKUP_ELEM, self._elem_attr(kb, vbuf))
            except BpfMapError as e:
                if e.errno == errno.ENOENT:
                    continue  # deleted meanwhile
                raise
            out_keys.append(k)
            vals.append(bytes(vbuf))
        karr = np.frombuffer(b"".join(out_keys), dtype=self.key).copy()
        return karr, np.frombuffer(b"".join(vals), dtype=np.uint8).copy()

    def _elem_attr(self, key: ctypes.Array[ctypes.c_uint8] | None,
                   value: ctypes.Array[ctypes.c_uint8] | None,
                   flags: int = 0) -> ctypes.Array[ctypes.c_uint8]:
        attr = _attr()
        ctypes.c_uint32.from_buffer(attr, 0).value = self.fd
        ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(key) if key else 0
        ctypes.c_uint64.from_buffer(attr, 16).value = ctypes.addressof(value) if value else 0
        ctypes.c_uint64.from_buffer(attr, 24).value = flags
        return attr

    def __len__(self) -> int:
        return len(self.read()[0])

    # -- writing ------------------------------------------------------------------
    def delete(self, keys: np.ndarray) -> int:
        """Delete these keys; returns how many existed."""
        n = 0
        ks = self.key.itemsize
        for k in np.ascontiguousarray(keys, dtype=self.key):
            kb = (ctypes.c_uint8 * ks).from_buffer_copy(k.tobytes())
            try:
                _bpf(BPF_MAP_DELETE_ELEM, self._elem_attr(kb, None))
                n += 1
            except BpfMapError as e:
                if e.errno != errno.ENOENT:
                    raise
        return n

    def delete_batch(self, keys: np.ndarray) -> None:
        """Delete ``keys`` in one bpf(2) call (kernel >= 5.6); one call per key where
        the kernel lacks it, or when one of them was gone already. Thousands of
        processes a second can end on a busy host, and one syscall per row costs
        tens of microseconds each."""
        keys = np.ascontiguousarray(keys, dtype=self.key)
        if not len(keys):
            return
        attr = _attr()
        ctypes.c_uint64.from_buffer(attr, 16).value = keys.ctypes.data  # keys
        ctypes.c_uint32.from_buffer(attr, 32).value = len(keys)  # count
        ctypes.c_uint32.from_buffer(attr, 36).value = self.fd  # map_fd
        try:
            _bpf(BPF_MAP_DELETE_BATCH, attr)
        except BpfMapError as e:
            if e.errno == errno.ENOENT:  # one was gone already; the others, one by one
                self.delete(keys)
            elif e.errno in (errno.EINVAL, errno.EOPNOTSUPP, 524):  # no batch ops here
                self.delete(keys)
            else:
                raise

    def update(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Set entries (for tests and benchmarks). Per-CPU maps: ``values``
        go to CPU 0, the other CPUs' copies are zero."""
        ks, vs = self.key.itemsize, self.ncpus * self._vstride
        keys = np.ascontiguousarray(keys, dtype=self.key)
        values = np.ascontiguousarray(values, dtype=self.value)
        for k, v in zip(keys, values, strict=True):
            kb = (ctypes.c_uint8 * ks).from_buffer_copy(k.tobytes())
            vb = (ctypes.c_uint8 * vs)()
            ctypes.memmove(vb, v.tobytes(), self.value.itemsize)
            _bpf(BPF_MAP_UPDATE_ELEM, self._elem_attr(kb, vb, BPF_ANY))


# -- the kernel's per-program run-time statistics (what bpftop shows) ---------------
# BPF_ENABLE_STATS turns the statistics on for as long as the returned fd is open
# (kernel >= 5.8), so they are off again however cdig ends; BPF_OBJ_GET_INFO_BY_FD
# reads run_time_ns / run_cnt of a program.
_PROG_INFO_SIZE = 232  # sizeof(struct bpf_prog_info) in linux/bpf.h of 6.x
_RUN_TIME_OFF, _RUN_CNT_OFF = 192, 200  # offsetof(struct bpf_prog_info, run_time_ns/run_cnt)
BPF_STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


class BpfRunStats:
    """Keeps the kernel's BPF run-time statistics on while open.

    ``BPF_ENABLE_STATS`` first; where the kernel lacks it, the sysctl
    ``kernel.bpf_stats_enabled`` (set back to what it was by ``close``).
    ``enabled`` says whether either worked (it needs root)."""

    def __init__(self, sysctl: str = BPF_STATS_SYSCTL) -> None:
        self.sysctl = sysctl
        self._fd = -1
        self._restore: str | None = None
        attr = _attr()
        ctypes.c_uint32.from_buffer(attr, 0).value = BPF_STATS_RUN_TIME
        try:
            self._fd = _bpf(BPF_ENABLE_STATS, attr)
        except OSError:
            self._fd = -1
        if self._fd < 0:
            try:
                with open(sysctl) as f:
                    old = f.read().strip()
                if old != "1":
                    with open(sysctl, "w") as f:
                        f.write("1")
                    self._restore = old
            except OSError:
                pass

    @property
    def enabled(self) -> bool:
        if self._fd >= 0:
            return True
        try:
            with open(self.sysctl) as f:
                return f.read().strip() == "1"
        except OSError:
            return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._restore is not None:
            with contextlib.suppress(OSError), open(self.sysctl, "w") as f:
                f.write(self._restore)
            self._restore = None


def prog_run_stats(fds: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Name -> (run_time_ns, run_cnt) of programs by fd (zeros while statistics are off;
    a program whose info cannot be read is left out)."""
    out: dict[str, tuple[int, int]] = {}
    for name, fd in fds.items():
        info = ctypes.create_string_buffer(_PROG_INFO_SIZE)
        attr = _attr()
        ctypes.c_uint32.from_buffer(attr, 0).value = fd
        ctypes.c_uint32.from_buffer(attr, 4).value = _PROG_INFO_SIZE
        ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(info)
        try:
            _bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
        except OSError:
            continue
        out[name] = (ctypes.c_uint64.from_buffer(info, _RUN_TIME_OFF).value,
                     ctypes.c_uint64.from_buffer(info, _RUN_CNT_OFF).value)
    return out
