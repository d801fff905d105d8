"""The reader's per-event path: events that change state or need Python.

Process events (clone, execve, procexit), container JSON events, socket calls
(an address from a tuple, accept's listening fd), the enter events of a chunk's
last calls (their exit may come in the next chunk) and enter-only records are
handled one event at a time here; ``fastrows`` does the common types column-wise.
Each handler appends the probe's records to a ``columns.Columns``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ...probes.syscalls import layout
from . import blocks as B
from . import events as E
from .base import EVF_BLOCK, MASK64, Pending
from .columns import Columns
from .containers import ContainerTable
from .eventtable import PPM_SC
from .threads import Thread

_MASK64 = MASK64


def _s64(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _same_endpoint(bound: bytes, server: bytes) -> bool:
    """A socket bound to ``bound`` (maybe the wildcard address) serves ``server``."""
    if bound[:4] != server[:4]:  # family and port
        return False
    if bound[:2] == b"\2\0":
        return bound[4:8] in (server[4:8], b"\0\0\0\0")
    return bound[8:24] in (server[8:24], b"\0" * 16)


def _s(b: Any) -> str:
    return b.decode("utf-8", "backslashreplace") if isinstance(b, bytes) else ""


class EventPath(ContainerTable):
    """One event at a time: the records of the events the bulk path leaves to it."""

    def _raw_params(self, buf: bytes, ei: E.EventInfo, lp: int, nparams: int, et: int,
                    end: int) -> list[bytes]:
        """The parameters of one event (none if its lengths overrun the event)."""
        n = min(nparams, 8 if et == E.GENERIC_X else len(ei.params))
        if n <= 0:
            return []
        large = ei.large
        pos = lp + nparams * (4 if large else 2)
        if pos > end:
            return []
        lens = E.lens_struct(n, large).unpack_from(buf, lp)
        raw = []
        for ln in lens:
            if pos + ln > end:
                return []
            raw.append(buf[pos:pos + ln])
            pos += ln
        return raw


    def _event(self, ei: E.EventInfo, ts: int, tid: int, cpu: int, raw: list[bytes],
               dflags: int, cols: Columns) -> None:
        etype = ei.id
        if ei.enter:
            if etype in (E.PROCEXIT_E, E.PROCEXIT_OLD_E):
                self._flush_tid(tid, cols)
                self._record(cols, layout.KIND_EXIT, ts, 0, tid, 0, 0, (0,) * 6, cpu,
                             self.events, dflags)
                return
            if etype in (E.CONTAINER_E, E.CONTAINER_JSON_2_E):
                if raw:
                    self._container_json(raw[0])
                return
            if etype == E.GENERIC_E or etype in self._spec_of:
                old = self._pending.get(tid)
                if old is not None:
                    self._enter_only(old, cols)
                self._pending[tid] = (ei, ts, cpu, raw, self.events, dflags, tid)
                return
            if etype == E.PROCINFO_E and len(raw) >= 2 and len(raw[0]) == len(raw[1]) == 8:
                self.procinfo.append((ts, tid, int.from_bytes(raw[0], "little") +
                                      int.from_bytes(raw[1], "little")))
            self.internal_events += 1  # switch, procinfo, drop, signaldeliver …
            return
        # an exit event
        pend = self._pending.pop(tid, None)
        if pend is not None and pend[0].id != etype - 1:
            self._enter_only(pend, cols)
            pend = None
        if etype == E.GENERIC_X:
            if pend is None:
                nr = self._ppm_sc_nr(raw)
            else:
                native = E.value("u2", pend[3][1]) if len(pend[3]) > 1 else None
                nr = native if isinstance(native, int) else self._ppm_sc_nr(raw)
            if nr is None:
                self.internal_events += 1
                return
            spec = self.syscalls.by_nr.get(nr)
            ret = 0
            args6: tuple[int, ...] | None = None
            if len(raw) >= 8 and len(raw[1]) == 8 and all(len(a) == 8 for a in raw[2:8]):
                ret = struct.unpack("<q", raw[1])[0]
                args6 = struct.unpack("<6Q", b"".join(raw[2:8]))
            self._syscall_record(spec, nr, ei, pend, ts, tid, cpu, raw, ret, dflags, cols,
                                 generic=True, raw_args=args6)
            return
        spec = self._spec_of.get(etype)
        if spec is None:
            self.internal_events += 1
            return
        first = ei.params[0] if ei.params else None
        ret = 0
        if first is not None and raw and first[0] in ("res", "fd", "res_or_fd") and \
                first[1] != "d":
            v = E.value(first[1], raw[0])
            ret = v if isinstance(v, int) else 0
        if etype in E.CLONE_EXITS:
            self._clone_exit(ei, pend, ts, tid, cpu, raw, ret, dflags, cols, spec)
            return
        if etype in E.EXECVE_EXITS:
            self._execve_exit(ei, pend, ts, tid, cpu, raw, ret, dflags, cols, spec)
            return
        self._syscall_record(spec, spec.nr, ei, pend, ts, tid, cpu, raw, ret, dflags, cols)

    def _ppm_sc_nr(self, raw: list[bytes]) -> int | None:
        if not raw:
            return None
        sc = E.value("u2", raw[0])
        name = PPM_SC.get(sc) if isinstance(sc, int) else None
        spec = self.syscalls.by_name.get(name) if name else None
        return spec.nr if spec is not None else None

    def _params(self, ei: E.EventInfo, raw: list[bytes]) -> dict[str, Any]:
        return {name: E.value(pt, raw[i]) for i, (name, pt) in enumerate(ei.params[:len(raw)])
                if raw[i]}

    def _args(self, spec: Any, p: dict[str, Any], cols_strs: list[bytes]) -> list[int]:
        """cdig raw arguments of ``spec`` from merged scap parameters ``p``; paths are
        appended to ``cols_strs``."""
        args = [0] * 6
        for a in spec.args:
            k = a.kind
            if k in ("addr", "addrp", "argv"):
                continue
            v = None
            for name in (a.name, *E.PARAM_ALIAS.get(a.name, ())):
                if name in p:
                    v = p[name]
                    break
            if k == "path":
                cols_strs.append(v if isinstance(v, bytes) else b"")
                continue
            if not isinstance(v, int):
                if k in ("fd", "dirfd"):  # not in the file: no fd, rather than fd 0
                    args[a.index] = _MASK64
                continue
            codec = E.ARG_CODECS.get((spec.name, a.name))
            if codec is not None:
                v = codec[0](v)
            elif k == "oflags":
                v = E.open_flags_from_ppm(v)
            elif k == "cflags":
                v = E.clone_flags_from_ppm(v)
            args[a.index] = v & _MASK64
        return args

    def _syscall_record(self, spec: Any, nr: int, ei: E.EventInfo, pend: Pending | None, ts: int,
                        tid: int, cpu: int, raw: list[bytes], ret: int, dflags: int,
                        cols: Columns, generic: bool = False,
                        raw_args: tuple[int, ...] | None = None) -> None:
        if spec is None or raw_args is not None:  # unknown to cdig's table, or cdig-written
            self._record(cols, layout.KIND_SYSCALL, ts, ts - pend[1] if pend else 0, tid, nr,
                         ret, raw_args or (0,) * 6, cpu, self.events, dflags)
            return
        p: dict[str, Any] = {}
        if not generic:
            if pend is not None:
                p = self._params(pend[0], pend[3])
            xp = self._params(ei, raw)
            if ei.params and ei.params[0][0] in ("res", "fd"):
                xp.pop(ei.params[0][0], None)  # the return value, not an argument
            for k, v in xp.items():
                p.setdefault(k, v)
        strs: list[bytes] = []
        args = self._args(spec, p, strs)
        s1 = strs[0] if strs else None
        s2 = strs[1] if len(strs) > 1 else None
        flags = 0
        if spec.addr_arg != 255:
            s2, s1, flags = self._addr(spec.name, p)
            if s1 is None and strs:
                s1 = strs[0]
            name = spec.name
            pid = self._thread(tid).pid
            if name == "bind" and ret == 0 and s2 and isinstance(p.get("fd"), int):
                self._listening.setdefault(pid, {})[p["fd"]] = s2[:8] if s2[:2] == b"\2\0" \
                    else s2[:24]
            elif name in ("accept", "accept4") and args[0] == _MASK64:
                # scap's accept has no listening fd: the one bound to the tuple's server end
                server = E.tuple_ends(p["tuple"])[1] if isinstance(p.get("tuple"), bytes) else b""
                for fd, bound in self._listening.get(pid, {}).items():
                    if server and _same_endpoint(bound, server):
                        args[0] = fd
                        break
        lat = ts - pend[1] if pend is not None else 0
        data = p.get("data") if spec.io else None
        if data is None and spec.io and not generic and any(n == "data" for n, _ in ei.params):
            data = b""  # an empty data parameter (a failed call): sysdig's data=
        if isinstance(data, bytes):  # the data: str1 on into str2, unless str2 is an address
            flags |= layout.FLAG_IO_DATA
            if spec.addr_arg != 255:
                s1 = data[:layout.STR1_LEN]
            else:
                s1, s2 = data[:layout.STR1_LEN], data[layout.STR1_LEN:layout.IO_MAX]
        self._record(cols, layout.KIND_SYSCALL, ts, lat, tid, nr, ret, args, cpu, self.events,
                     dflags, s1, s2, flags=flags, s2_raw=spec.addr_arg != 255)

    def _addr(self, name: str, p: dict[str, Any]) -> tuple[bytes | None, bytes | None, int]:
        """(str2 sockaddr, str1 local sockaddr or None, record flags) of a socket call."""
        tup = p.get("tuple")
        addr = p.get("addr")
        if name == "connect":
            if isinstance(tup, bytes) and tup:
                src, dst = E.tuple_ends(tup)
                if dst:
                    return dst, src or None, layout.FLAG_LOCAL_ADDR if src else 0
            if isinstance(addr, bytes):
                return E.sockaddr_to_linux(addr), None, 0
            return b"", None, 0
        if name == "bind":
            return (E.sockaddr_to_linux(addr) if isinstance(addr, bytes) else b""), None, 0
        if isinstance(tup, bytes) and tup:
            src, dst = E.tuple_ends(tup)
            if name in ("accept", "accept4", "recvfrom", "recvmsg"):
                return src, None, 0
            return dst, None, 0
        return b"", None, 0

    def _enter_only(self, pend: Pending, cols: Columns) -> None:
        ei, ts, cpu, raw, num, dflags, tid = pend
        strs: list[bytes] = []
        if ei.id == E.GENERIC_E:
            native = E.value("u2", raw[1]) if len(raw) > 1 else None
            if not isinstance(native, int):
                return
            nr = native
            args: list[int] | tuple[int, ...] = (0,) * 6
        else:
            spec = self._spec_of[ei.id]
            nr = spec.nr
            args = self._args(spec, self._params(ei, raw), strs)
        self._record(cols, layout.KIND_SYSCALL_ENTER, ts, 0, tid, nr, 0, args, cpu, num, dflags,
                     strs[0] if strs else None, strs[1] if len(strs) > 1 else None)

    def _flush_tid(self, tid: int, cols: Columns) -> None:
        pend = self._pending.pop(tid, None)
        if pend is not None:
            self._enter_only(pend, cols)

    def _flush_pending(self, cols: Columns) -> None:
        for _tid, pend in sorted(self._pending.items(), key=lambda kv: kv[1][4]):
            self._enter_only(pend, cols)
        self._pending.clear()

    def _clone_exit(self, ei: E.EventInfo, pend: Pending | None, ts: int, tid: int, cpu: int,
                    raw: list[bytes], ret: int, dflags: int, cols: Columns, spec: Any) -> None:
        p = self._params(ei, raw)
        pflags = p.get("flags", 0) if isinstance(p.get("flags"), int) else 0
        if ret == 0:  # in the child: its thread info, and the probe's FORK record
            child = p.get("tid", tid)
            ptid = p.get("ptid", 0)
            parent = self.threads.get(ptid) if isinstance(ptid, int) else None
            pid = p.get("pid", tid)
            cg = self._cgroup_of(B.cgroup_path(p["cgroups"])) if isinstance(
                p.get("cgroups"), bytes) else (parent.cgroup if parent else 0)
            args = p.get("args")
            argv = [_s(a) for a in args.split(b"\0")] if isinstance(args, bytes) and args else []
            if argv and not argv[-1]:
                argv.pop()
            c = p.get("comm")
            comm = c if isinstance(c, bytes) else (parent.comm if parent else b"<NA>")
            self.threads[tid] = Thread(tid, pid if isinstance(pid, int) else tid,
                                        ptid if isinstance(ptid, int) else 0,
                                        comm[:layout.COMM_LEN],
                                        p.get("uid", 0) if isinstance(p.get("uid"), int) else 0,
                                        p.get("gid", 0) if isinstance(p.get("gid"), int) else 0,
                                        cg, _s(p.get("exe")), argv, _s(p.get("cwd")))
            if dflags & B.STATE_ONLY:  # cdig's writer introducing a thread: state only
                return
            if parent is not None:  # the probe's FORK record, in the parent
                self._record(cols, layout.KIND_FORK, ts, 0, parent.tid, 0, 0,
                             (child & _MASK64, parent.tid, 0, 0, 0, 0), cpu, self.events, 0)
            if dflags & EVF_BLOCK:  # cdig's writer: the FORK record alone
                return
            # sysdig shows the child's return from clone (cdig's probe cannot see it):
            # a completed record too
            self._record(cols, layout.KIND_SYSCALL, ts, 0, tid, spec.nr, 0,
                         (E.clone_flags_from_ppm(pflags) if spec.name == "clone" else 0,
                          0, 0, 0, 0, 0), cpu, self.events, dflags)
            return
        args6 = [0] * 6
        if spec.name == "clone":
            args6[0] = E.clone_flags_from_ppm(pflags)
        lat = ts - pend[1] if pend is not None else 0
        self._record(cols, layout.KIND_SYSCALL, ts, lat, tid, spec.nr, ret, args6, cpu,
                     self.events, dflags)

    def _execve_exit(self, ei: E.EventInfo, pend: Pending | None, ts: int, tid: int, cpu: int,
                     raw: list[bytes], ret: int, dflags: int, cols: Columns, spec: Any) -> None:
        p = self._params(ei, raw)
        filename = b""
        if pend is not None:
            ep = self._params(pend[0], pend[3])
            v = ep.get("filename", ep.get("pathname"))
            filename = v if isinstance(v, bytes) else b""
        x, a = p.get("exe"), p.get("args")
        exe = x if isinstance(x, bytes) else b""
        args = a if isinstance(a, bytes) else b""
        argv = [exe] + [a for a in args.split(b"\0")] if exe or args else []
        if argv and argv[-1] == b"" and len(argv) > 1:
            argv.pop()
        packed = b"\0".join(argv) + b"\0" if argv else b""
        if pend is not None:  # the probe's enter-only record: filename and argv
            key = self._key
            if self._enter_key is not None:  # in the place of the enter
                self._key = self._enter_key
            self._record(cols, layout.KIND_SYSCALL_ENTER, pend[1], 0, tid, spec.nr, 0,
                         (0,) * 6, pend[2], pend[4], pend[5], filename or exe,
                         packed[:layout.STR2_LEN], argc=len(argv), s2_raw=True)
            self._key = key
        t = self._thread(tid)
        if ret == 0:
            comm = p.get("comm")
            if isinstance(comm, bytes):
                t.comm = comm[:layout.COMM_LEN]
            if isinstance(p.get("cgroups"), bytes):
                t.cgroup = self._cgroup_of(B.cgroup_path(p["cgroups"]))
            t.exe = _s(exe)
            t.args = [_s(a) for a in argv[1:]]
            if isinstance(p.get("cwd"), bytes):
                t.cwd = _s(p["cwd"])
            if isinstance(p.get("pid"), int):
                t.pid = p["pid"]
            self._record(cols, layout.KIND_EXEC, ts, 0, tid, 0, 0, (t.pid, 0, 0, 0, 0, 0), cpu,
                         self.events, dflags, filename or exe)
        self._record(cols, layout.KIND_SYSCALL, ts, ts - pend[1] if pend else 0, tid, spec.nr,
                     ret, (0,) * 6, cpu, self.events, dflags, filename or exe)

    def _record(self, cols: Columns, kind: int, ts: int, lat: int, tid: int, nr: int, ret: int,
                args: Sequence[int], cpu: int, num: int, dflags: int, s1: bytes | None = None,
                s2: bytes | None = None, flags: int = 0, argc: int = 0,
                s2_raw: bool = False) -> None:
        t = self._thread(tid)
        row = len(cols.ts)
        cols.key.append(self._key)
        self._key += 1
        # values from the file go into fixed-width columns: a damaged file must not
        # overflow them (the probe's widths: u64 times, u32 ids, u16 syscall numbers)
        cols.ts.append(ts & _MASK64)
        cols.lat.append(min(max(lat, 0), _MASK64))
        cols.cg.append(t.cgroup)
        cols.ret.append(_s64(ret))
        cols.args.append(tuple(a & _MASK64 for a in args))
        cols.pid.append(t.pid & 0xFFFFFFFF)
        cols.tid.append(tid & 0xFFFFFFFF)
        cols.uid.append(t.uid & 0xFFFFFFFF)
        cols.gid.append(t.gid & 0xFFFFFFFF)
        cols.nr.append(nr & 0xFFFF)
        cols.kind.append(kind)
        cols.flags.append(flags)
        cols.cpu.append(cpu & 0xFFFFFFFF)
        cols.comm.append(t.comm)
        cols.num.append(num)
        cols.shown.append(not dflags & B.STATE_ONLY)
        if flags & layout.FLAG_IO_DATA:  # s1 (and s2 when no address) hold the data
            b1 = s1 or b""
            b2 = s2 or b""
            cols.ext_row.append(row)
            cols.s1.append(b1)
            cols.s2.append(b2)
            cols.l1.append(len(b1) + (0 if s2_raw else len(b2)))
            cols.l2.append(len(b2) if s2_raw else 0)
            cols.argc.append(argc)
            cols.pad.append(0)
        elif s1 is not None or s2 is not None or kind == layout.KIND_EXEC:
            b1 = (s1 or b"")[:layout.STR1_LEN - 1]
            b2 = (s2 or b"")[:layout.STR2_LEN if s2_raw else layout.STR2_LEN - 1]
            cols.ext_row.append(row)
            cols.s1.append(b1)
            cols.s2.append(b2)
            # C strings count their NUL, as bpf_probe_read_user_str does; sockaddrs
            # and packed argv are raw bytes
            cols.l1.append(len(b1) if flags & layout.FLAG_LOCAL_ADDR or s1 is None
                           else len(b1) + 1)
            cols.l2.append(len(b2) if s2_raw or s2 is None else min(len(b2) + 1,
                                                                   layout.STR2_LEN))
            cols.argc.append(argc)
            cols.pad.append(0)
