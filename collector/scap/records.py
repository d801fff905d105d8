"""The .scap writer's events: each cdig record as the enter and exit events sysdig expects.

``RecordEvents`` is the part of ``writer.ScapWriter`` that turns one record (completed
syscall, enter-only, execve, FORK, EXIT) into events, with what sysdig must be told first
(a thread it does not know, an fd it cannot name); the writer module holds the files,
rotation, the state blocks and the batch loop (see its docstring for the mapping).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

from ...probes.syscall_table import SyscallSpec, SyscallTable
from ...probes.syscalls import layout
from ..events import Container, FdInfo, Process
from ..fd_names import fd_from_target, socket_line
from ..state import State
from . import blocks as B
from . import events as E
from .encode import (
    _DUP_FD,
    _GEN_E,
    _GEN_X,
    _HEADS,
    _MASK64,
    _NEW_FD,
    _PADS,
    _U32,
    CDIG_FD_EVENT,
    EVF_NOT_STATE,
    FD_INTRO,
    _s64,
    _sockaddr,
    _u64,
    block,
    cgroups_param,
    container_json,
    encode_param,
)


class _Proc:
    """What the writer has told sysdig about a process (the clone/execve parameters)."""

    __slots__ = ("name", "exe", "args", "cwd", "ppid", "uid", "container")

    def __init__(self, name: str, exe: str, args: list[str], cwd: str, ppid: int, uid: int,
                 container: Container) -> None:
        self.name, self.exe, self.args, self.cwd = name, exe, args, cwd
        self.ppid, self.uid, self.container = ppid, uid, container

    @classmethod
    def of(cls, p: Process) -> _Proc:
        return cls(p.name, p.exe, list(p.args), p.cwd, p.ppid, max(p.uid, 0), p.container)

    def copy(self) -> _Proc:
        return _Proc(self.name, self.exe, list(self.args), self.cwd, self.ppid, self.uid,
                     self.container)



class RecordEvents:
    """Records to events; the attributes are ``ScapWriter.__init__``'s."""

    syscalls: SyscallTable
    container_of: Callable[[int, int], Container] | None
    pairs: Any
    _exec_nrs: set[int]
    events: int
    _threads: set[int]
    _containers: dict[int, Container]
    _argv: dict[int, list[bytes]]
    _entered: dict[int, int]
    _out: list[bytes]
    _pid_of: dict[int, int]
    _procs: dict[int, _Proc]
    _evf: int | None
    _fds: dict[int, set[int]]
    _comm: dict[int, bytes]
    _state: State | None = None  # the State and pid of the record being written
    _pid = 0

    # -- helpers --------------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        self._out.append(data)

    def _event(self, etype: int, ts: int, tid: int, cpu: int, values: list[bytes],
               evf_flags: int | None = None) -> None:
        """One event block: block header, cpu (and EVF flags), event header, length
        slots and values, padding, trailer (the layout of ``block(encode_event(…))``,
        packed with one cached Struct per shape: this runs twice per record)."""
        if evf_flags is None:
            evf_flags = self._evf
        large = E.INFO[etype].large
        n = len(values)
        evf = evf_flags is not None
        hdr = _HEADS.get((n, large, evf))
        if hdr is None:
            hdr = _HEADS[n, large, evf] = struct.Struct(
                f"<IIH{'I' if evf else ''}QQIHI{n}{'I' if large else 'H'}")
        lens = [len(v) for v in values]
        size = sum(lens)
        ev_len = 26 + n * (4 if large else 2) + size
        body = 2 + (4 if evf else 0) + ev_len
        pad = (-body) & 3
        total = 12 + body + pad
        if evf:
            head = hdr.pack(B.EVF_V2_LARGE if large else B.EVF_V2, total, cpu, evf_flags,
                            ts & _MASK64, tid & _MASK64, ev_len, etype, n, *lens)
        else:
            head = hdr.pack(B.EV_V2_LARGE if large else B.EV_V2, total, cpu, ts & _MASK64,
                            tid & _MASK64, ev_len, etype, n, *lens)
        self._out.append(b"".join((head, *values, _PADS[pad], _U32.pack(total))))
        self.events += 1

    def _container(self, state: State, cg: int, pid: int) -> Container:
        p = state.procs.get(pid)
        if p is not None and p.cgroup_id == cg:
            return p.container
        if self.container_of is not None:
            return self.container_of(cg, pid)
        return state.container_of(cg, pid)

    def _note_container(self, c: Container, ts: int) -> None:
        if c.is_host or id(c) in self._containers:
            return
        self._containers[id(c)] = c
        self._event(E.CONTAINER_JSON_2_E, ts, -1, 0, [encode_param("s", container_json(c))])

    def _proc(self, pid: int, comm: bytes, uid: int, c: Container) -> _Proc:
        wp = self._procs.get(pid)
        if wp is None:
            wp = self._procs[pid] = _Proc(comm.rstrip(b"\0").decode("utf-8", "replace"), "",
                                          [], "", 0, uid, c)
        return wp


    def _intro_thread(self, wp: _Proc, tid: int, pid: int, ts: int, cpu: int,
                      comm: bytes) -> None:
        """A thread sysdig has not seen: a state-only clone exit that describes it (with
        the thread's own name: threads rename themselves)."""
        self._threads.add(tid)
        self._comm[tid] = comm.rstrip(b"\0")
        info = wp.copy()
        info.name = comm.rstrip(b"\0").decode("utf-8", "replace")
        self._clone_child(info, tid, pid, wp.ppid if tid == pid else pid, ts, cpu,
                          B.STATE_ONLY)

    def _clone_child(self, p: _Proc, tid: int, pid: int, ptid: int, ts: int, cpu: int,
                     evf_flags: int) -> None:
        vals = {"res": 0, "exe": p.exe.encode(), "args": b"\0".join(a.encode() for a in p.args),
                "tid": tid, "pid": pid, "ptid": ptid, "cwd": p.cwd.encode(), "fdlimit": 1024,
                "comm": p.name.encode(), "cgroups": cgroups_param(p.container),
                "flags": E.PPM_CL_CLONE_THREAD if tid != pid else 0,
                "uid": p.uid, "gid": 0, "vtid": tid, "vpid": pid}
        self._note_container(p.container, ts)
        self._event(223, ts, tid, cpu, self._values(223, vals), evf_flags)

    def _known_fds(self, state: State, spec: SyscallSpec, pid: int, tid: int,
                   args: list[int], ts: int, cpu: int) -> None:
        """Fds a record uses that sysdig was never told about (opened before the capture,
        pipes, fds cdig named from /proc): what /proc says about them, for cdig's reader
        (a CDIG_FD_EVENT) and for sysdig (a state-only open exit with the fd's name)."""
        known = self._fds.setdefault(pid, set())
        for a in spec.args:
            if a.kind != "fd":
                continue
            fd = args[a.index] & 0xFFFFFFFF
            if fd & 0x80000000 or fd in known:
                continue
            target = state.procfs.fd_target(pid, fd)
            if target is None:  # cdig's State cannot name it either (yet)
                continue
            known.add(fd)
            info = fd_from_target(pid, fd, target, state.procfs)
            answer: dict[str, Any] = {"pid": pid, "fd": fd, "target": target}
            if target.startswith("/"):
                answer["dir"] = info.type == "directory"
            elif target.startswith("socket:[") and target[8:-1].isdigit():
                t = state.procfs.socket_tuple(pid, int(target[8:-1]))
                answer["sock"] = list(t) if t else None
            self._event_raw(CDIG_FD_EVENT, ts, tid, cpu,
                            [json.dumps(answer, separators=(",", ":")).encode()])
            self._intro_for_sysdig(info, fd, ts, tid, cpu)

    def _intro_for_sysdig(self, info: FdInfo, fd: int, ts: int, tid: int, cpu: int) -> None:
        """State-only events after which sysdig names ``fd`` as cdig does: an open exit for
        a path, socket + connect/accept/bind exits for an inet socket."""
        flags = B.STATE_ONLY | FD_INTRO

        def ev(etype: int, **vals: Any) -> None:
            self._event(etype, ts, tid, cpu, self._values(etype, vals), flags)

        if info.type in ("file", "directory", "memfd") and info.name.startswith("/"):
            oflags = E.open_flags_to_ppm(0o200000 if info.type == "directory" else 0)
            ev(3, fd=fd, name=info.name.encode(), flags=oflags, mode=0, dev=0)
            return
        if info.type not in ("ipv4", "ipv6") or not (info.sip or info.cip):
            return  # sysdig has no name for pipes and anonymous fds: cdig's reader does
        v6 = info.type == "ipv6"
        fam = 10 if v6 else 2
        ev(18, domain=fam, type=1 if info.l4proto != "udp" else 2, proto=0)
        ev(19, fd=fd)
        server = _sockaddr(info.sip, info.sport, v6)
        if not info.cip and not info.cport:  # a listening / bound server socket
            ev(20, fd=fd)
            ev(21, res=0, addr=E.sockaddr_from_linux(server))
            return
        client = _sockaddr(info.cip, info.cport, v6)
        tup = E.tuple_from_linux(client, server)
        if info.local_is_client:
            ev(22, fd=fd, addr=E.sockaddr_from_linux(server))
            ev(23, res=0, tuple=tup)
        else:  # an accepted connection: the new fd and its tuple
            ev(246)
            ev(247, fd=fd, tuple=tup, queuepct=0, queuelen=0, queuemax=0)

    def _event_raw(self, etype: int, ts: int, tid: int, cpu: int, values: list[bytes]) -> None:
        """An event of a type outside the table (u16 slots)."""
        lens = struct.pack(f"<{len(values)}H", *[len(v) for v in values])
        payload = lens + b"".join(values)
        ev = struct.pack("<QQIHI", ts, _u64(tid), 26 + len(payload), etype, len(values)) + payload
        self._emit(block(B.EV_V2, struct.pack("<H", cpu) + ev))

    def _values(self, etype: int, vals: dict[str, Any]) -> list[bytes]:
        return [encode_param(pt, vals.get(name)) for name, pt in E.INFO[etype].params]

    def _record(self, state: State, ts: int, lat: int, cg: int, ret: int, pid: int, tid: int,
                uid: int, gid: int, nr: int, kind: int, flags: int, cpu: int, comm: bytes,
                args: list[int], s1: bytes | None, s2: bytes | None, argc: int,
                buf: bytes | None = None) -> None:
        c = self._container(state, cg, pid)
        self._note_container(c, ts)
        self._state, self._pid = state, pid  # the record's, for _local_end
        wp = self._proc(pid, comm, uid, c)
        if tid not in self._threads or (self._comm.get(tid) != comm.rstrip(b"\0") and
                                        kind in (layout.KIND_SYSCALL, layout.KIND_SYSCALL_ENTER)
                                        and nr not in self._exec_nrs):
            # new to sysdig, or renamed (prctl PR_SET_NAME): describe the thread again
            self._intro_thread(wp, tid, pid, ts - lat, cpu, comm)
        if kind == layout.KIND_FORK:
            child = args[0] & 0xFFFFFFFF
            self._threads.add(child)
            self._comm[child] = comm.rstrip(b"\0")
            cpid = self._pid_of.get(child, child)  # a thread of pid, or a new process
            info = wp
            if cpid == child:
                info = self._procs[child] = wp.copy()
                info.ppid = pid
                info.name = comm.rstrip(b"\0").decode("utf-8", "replace")
            self._clone_child(info, child, cpid, tid, ts, cpu, EVF_NOT_STATE)
            return
        if kind == layout.KIND_EXIT:
            self._event(E.PROCEXIT_E, ts, tid, cpu, self._values(E.PROCEXIT_E, {}))
            return
        if kind == layout.KIND_EXEC:
            return  # the completed execve's exit event carries the new image
        spec = self.syscalls.by_nr.get(nr)
        if spec is not None:
            self._known_fds(state, spec, pid, tid, args, ts - lat, cpu)
        if kind == layout.KIND_SYSCALL and spec is not None and ret >= 0:
            known = self._fds.setdefault(pid, set())
            name = spec.name
            if name in _NEW_FD:
                known.add(ret)
            elif name in _DUP_FD or name == "fcntl" and args[1] & 0xFFFFFFFF in (0, 1030):
                if args[0] & 0xFFFFFFFF in known:
                    known.add(ret)
                else:
                    known.discard(ret)
            elif name == "close":
                known.discard(args[0] & 0xFFFFFFFF)
        if kind == layout.KIND_SYSCALL_ENTER:
            if spec is not None and spec.name in ("execve", "execveat") and s2 is not None:
                self._argv[tid] = s2.split(b"\0")[:argc] if argc else []
            elif spec is None or not spec.enter:
                self._entered[tid] = nr
            self._enter(spec, nr, ts, tid, cpu, args, s1, s2, flags)
            return
        self._completed(state, spec, nr, ts, lat, ret, pid, tid, cpu, comm, args, s1, s2, flags,
                        c, buf)

    def _enter(self, spec: SyscallSpec | None, nr: int, ts: int, tid: int, cpu: int,
               args: list[int], s1: bytes | None, s2: bytes | None, flags: int) -> None:
        pair = self.pairs.get(spec.name) if spec is not None else None
        if pair is None:
            sc = E.PPM_SC_ID.get(spec.name, 0) if spec is not None else 0
            self._event(E.GENERIC_E, ts, tid, cpu, [struct.pack("<H", sc),
                                                     struct.pack("<H", nr & 0xFFFF)])
            return
        assert spec is not None
        vals = self._arg_values(spec, args, s1, s2, flags, enter=True)
        self._event(pair[0], ts, tid, cpu, self._values(pair[0], vals))

    def _arg_values(self, spec: SyscallSpec, args: list[int], s1: bytes | None,
                    s2: bytes | None, flags: int, enter: bool) -> dict[str, Any]:
        vals: dict[str, Any] = {}
        paths = iter((s1, s2))
        for a in spec.args:
            k = a.kind
            if k in ("addr", "addrp", "argv"):
                continue
            if k == "path":
                v: Any = next(paths) or b""
                v = v.split(b"\0", 1)[0]
            else:
                v = args[a.index]
                codec = E.ARG_CODECS.get((spec.name, a.name))
                if codec is not None:
                    v = codec[1](v)
                elif k in ("fd", "dirfd", "int", "signal"):  # ints: the low 32 bits, signed
                    v &= 0xFFFFFFFF
                    v = v - (1 << 32) if v & 0x80000000 else v
                elif k == "oflags":
                    v = E.open_flags_to_ppm(v)
                elif k == "cflags":
                    v = E.clone_flags_to_ppm(v)
            for name in (a.name, *E.PARAM_ALIAS.get(a.name, ())):
                vals.setdefault(name, v)
        # sockets: the kernel sockaddrs the probe copied
        name = spec.name
        remote = s2 or b""
        local = s1 if flags & layout.FLAG_LOCAL_ADDR and s1 else b""
        if not local and name in ("connect", "sendto", "sendmsg") and self._state is not None:
            local = self._local_end(args[0] & 0xFFFFFFFF, remote, name == "connect")
        if name == "connect":
            vals["addr"] = E.sockaddr_from_linux(remote)
            # a UDP or unix connect (and a TCP one whose port /proc has): the tuple,
            # the local end zero when unknown; without it sysdig names no fd
            vals["tuple"] = E.tuple_from_linux(local, remote)
        elif name == "bind":
            vals["addr"] = E.sockaddr_from_linux(remote)
        elif name in ("accept", "accept4", "recvfrom", "recvmsg"):
            # the peer, then this end (a listener's or the receiving socket's address; an
            # all-zero one of the peer's family when unknown: a tuple without a
            # destination family is NULL to sysdig, which then names no fd)
            vals["tuple"] = E.tuple_from_linux(remote, self._own_end(args[0] & 0xFFFFFFFF,
                                                                      remote)) \
                if remote and len(remote) >= 8 else b""
        elif name in ("sendto", "sendmsg"):
            vals["tuple"] = E.tuple_from_linux(local, remote) if remote else b""
        return vals

    def _own_end(self, fd: int, remote: bytes) -> bytes:
        """The address of socket ``fd`` itself as State knows it, as a kernel sockaddr of
        ``remote``'s family (zero address and port when unknown)."""
        v6 = remote[:2] == b"\x0a\0"
        st = self._state
        info = st.fds.get(self._pid, {}).get(fd) if st is not None else None
        ip, port = "", 0
        if info is not None and info.type in ("ipv4", "ipv6") and (info.type == "ipv6") == v6:
            ip, port = (info.cip, info.cport) if info.local_is_client else (info.sip, info.sport)
        return _sockaddr(ip or ("::" if v6 else "0.0.0.0"), port, v6)

    def _local_end(self, fd: int, remote: bytes, connected: bool) -> bytes:
        """The local end of inet socket ``fd`` of the record's process as a kernel
        sockaddr, from its /proc line (what State reads for the same record: a UDP
        socket's port, a TCP connect's that returned before SYN_SENT ended); b"" if
        unknown. A connected line must lead to ``remote``, an unconnected one (a UDP
        sendto/sendmsg to an address) has no remote end."""
        st, pid = self._state, self._pid
        if st is None or len(remote) < 8 or remote[:2] not in (b"\x02\0", b"\x0a\0"):
            return b""
        info = st.fds.get(pid, {}).get(fd)
        if info is not None and info.cport and not connected:  # named by an earlier call
            return _sockaddr(info.cip or ("::" if remote[0] == 10 else "0.0.0.0"), info.cport,
                             remote[0] == 10)
        t = socket_line(st.procfs, pid, fd)
        if t is None or not t[2]:
            return b""
        _, lip, lport, _, rport = t
        if connected != bool(rport) or connected and rport != int.from_bytes(remote[2:4], "big"):
            return b""
        v6 = ":" in lip
        if v6 != (remote[0] == 10):
            return b""
        return _sockaddr(lip, lport, v6)

    def _completed(self, state: State, spec: SyscallSpec | None, nr: int, ts: int, lat: int,
                   ret: int, pid: int, tid: int, cpu: int, comm: bytes, args: list[int],
                   s1: bytes | None, s2: bytes | None, flags: int, c: Container,
                   buf: bytes | None = None) -> None:
        t_enter = ts - lat
        name = spec.name if spec is not None else ""
        pair = self.pairs.get(name)
        entered = self._entered.pop(tid, None) == nr  # its enter event is written already
        if pair is None:
            sc = E.PPM_SC_ID.get(name, 0)
            ids = _GEN_E.pack(sc, nr & 0xFFFF)
            if not entered:
                self._event(E.GENERIC_E, t_enter, tid, cpu, [ids[:2], ids[2:]])
            # cdig extension: res and the six raw arguments after ID (0.29.3 reads only
            # the table's one parameter; cdig's reader reads them back)
            rest = _GEN_X.pack(_s64(ret), *(a & _MASK64 for a in args))
            self._event(E.GENERIC_X, ts, tid, cpu, [ids[:2], rest[:8], rest[8:16], rest[16:24],
                                                     rest[24:32], rest[32:40], rest[40:48],
                                                     rest[48:56]])
            return
        assert spec is not None
        enter_id, exit_id = pair
        vals = self._arg_values(spec, args, s1, s2, flags, enter=False)
        if name in ("execve", "execveat"):
            argv = self._argv.pop(tid, None)
            if argv is None:  # no enter-only record: a state-only enter keeps the latency
                argv = [(s1 or b"").split(b"\0", 1)[0]]
                evf, self._evf = self._evf, B.STATE_ONLY
                self._event(enter_id, t_enter, tid, cpu, self._values(enter_id, vals))
                self._evf = evf
            wp = self._proc(pid, comm, 0, c)
            vals.update(res=ret, exe=argv[0] if argv else b"",
                        args=b"\0".join(argv[1:]) + (b"\0" if len(argv) > 1 else b""),
                        tid=tid, pid=pid, ptid=wp.ppid, cwd=wp.cwd.encode(), fdlimit=1024,
                        comm=comm.rstrip(b"\0"), cgroups=cgroups_param(c), env=b"", tty=0,
                        pgid=pid, loginuid=-1, flags=0)
            self._event(exit_id, ts, tid, cpu, self._values(exit_id, vals))
            if ret == 0:  # the new image, for the clones that follow
                self._comm[tid] = comm.rstrip(b"\0")
                wp.name = comm.rstrip(b"\0").decode("utf-8", "replace")
                wp.exe = (s1 or (argv[0] if argv else b"")).split(b"\0", 1)[0].decode(
                    "utf-8", "replace")
                wp.args = [a.decode("utf-8", "replace") for a in argv[1:]]
                wp.container = c
            return
        if not entered:
            self._event(enter_id, t_enter, tid, cpu, self._values(enter_id, vals))
        if name in ("clone", "fork", "vfork", "clone3"):
            wp = self._proc(pid, comm, 0, c)
            vals.update(res=ret, exe=wp.exe.encode(),
                        args=b"\0".join(a.encode() for a in wp.args), tid=tid, pid=pid,
                        ptid=wp.ppid, cwd=wp.cwd.encode(), fdlimit=1024,
                        comm=comm.rstrip(b"\0"), cgroups=cgroups_param(c), uid=wp.uid,
                        gid=0, vtid=tid, vpid=pid)
            self._event(exit_id, ts, tid, cpu, self._values(exit_id, vals))
            return
        xinfo = E.INFO[exit_id]
        if xinfo.params and xinfo.params[0][0] in ("res", "fd"):
            vals[xinfo.params[0][0]] = ret
        elif not xinfo.params:  # an exit without parameters: the result, as cdig's extension
            self._event(exit_id, ts, tid, cpu, [struct.pack("<q", ret)])
            return
        if name in ("readv", "recvmsg", "preadv") and ret >= 0:
            vals["size"] = ret
        if buf is not None:
            vals["data"] = buf
        self._event(exit_id, ts, tid, cpu, self._values(exit_id, vals))

