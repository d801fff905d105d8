""".scap files as a replay source: ``ScapSource`` yields the probe's RawBatches.

A .scap file records each syscall as an enter event and an exit event with
named parameters; cdig's probe records one completed syscall with its raw
arguments (``probes.layout.RECORD``). The reader walks the event blocks once,
pairs each exit with the pending enter of its thread (latency = exit − enter),
and appends one record per pair to column lists that become numpy arrays per
batch; an enter whose exit never came (exit, exit_group, a file cut short) is
an enter-only record, as the probe gives for syscalls that do not return.
Process events follow the probe's conventions: an execve exit that succeeded
adds an EXEC record (new comm, filename), a clone exit in the child a FORK
record of the parent, procexit an EXIT record.

``num`` is sysdig's ``evt.num`` of the exit event (or of the enter, for
enter-only records), so ``cdig trace -r x.scap -p %evt.num`` and
``sysdig -r x.scap -p %evt.num`` name the same events.

State comes from the blocks before the events (process list, fd lists, users,
machine info) and from the container JSON events; every thread's container is
found from its cgroups (PL entry, clone/execve exit), as sysdig does. Each
container gets a synthetic cgroup id, so the rest of cdig attributes records to
containers exactly as for a live capture.

Unknown block types and event types (newer libs) are skipped and counted
(``skipped``); a damaged or truncated file yields its intact blocks and then one
``Loss``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import numpy as np

from ...probes.syscalls import layout
from ..capture.files import CaptureError, Loss, open_all
from ..decode import RawBatch
from ..events import HOST, Event, FdInfo, Process
from ..native.scap import kernels
from ..state import State
from . import blocks as B
from .chunk import ChunkPath
from .columns import Columns
from .threads import Thread, proc_info

BATCH = 65536  # records per RawBatch (of the per-event path; the bulk path: per chunk)
_EV_TYPES = np.array(sorted(B.EVENT_BLOCKS), dtype=np.int64)

# glibc's mallopt parameters and the live source's values (collector/sources.py
# KEEP_FREED; not imported from there: it loads the probe's modules)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_KEEP_FREED = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 128 << 20, _M_TOP_PAD: 16 << 20}
_kept_freed = False


def _keep_freed_memory() -> None:
    """Let glibc's malloc keep freed chunk-sized blocks for the next chunk, as the live
    and .cdig sources do: each 2 MiB chunk's block table, header columns and records
    (several MB) were mapped afresh and unmapped on free, a page fault per 4 KiB
    written (half of the --by file run's minor faults). Once per process; nothing where
    the C library is not glibc."""
    global _kept_freed
    if _kept_freed:
        return
    _kept_freed = True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # the process's own libc
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    for param, value in _KEEP_FREED.items():
        mallopt(param, value)


# the heap a large file's chunks take (big.scap's selective trace: ~14,000 pages), and
# the files too small for it to pay
_PREFAULT_BYTES = 56 << 20
_PREFAULT_MIN = 64 << 20
_MADV_POPULATE_WRITE = 23  # Linux 5.14


class _Prefault:
    """Pages of the heap faulted in on a thread while the reader starts: the first
    chunks' arrays (tens of MB; glibc keeps them once freed, ``_keep_freed_memory``)
    were a page fault per 4 KiB on the parsing thread, ~9,000 in the first ten chunks
    of big.scap. Blocks below glibc's mmap threshold are taken from the heap, their
    pages populated by madvise(MADV_POPULATE_WRITE) on a thread (the call releases
    the GIL), and freed (``release``) before the chunks are parsed: their pages are
    the next allocations'. The call only faults pages in, never writes: it may still
    run when the blocks are freed and reused. Nothing where the call or the C library
    is missing."""

    def __init__(self, nbytes: int) -> None:
        self.blocks: list[np.ndarray] = []
        try:
            import ctypes
            import threading

            madvise = ctypes.CDLL(None).madvise
        except (OSError, AttributeError):
            return
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        block = (_KEEP_FREED[_M_MMAP_THRESHOLD] - (1 << 20))  # under it: from the heap
        self.blocks = [np.empty(min(block, nbytes - at), np.uint8)
                       for at in range(0, nbytes, block)]
        page = os.sysconf("SC_PAGE_SIZE")
        spans = []
        for b in self.blocks:
            lo = -(-b.ctypes.data // page) * page
            hi = (b.ctypes.data + len(b)) // page * page
            if hi > lo:
                spans.append((lo, hi - lo))

        def populate() -> None:
            for lo, n in spans:
                madvise(lo, n, _MADV_POPULATE_WRITE)

        self.thread = threading.Thread(target=populate, name="cdig-prefault", daemon=True)
        self.thread.start()

    def release(self) -> None:
        """Free the blocks (their pages are kept by the heap; the thread may go on)."""
        self.blocks = []


def _sockaddr(ip: str, port: int) -> bytes:
    """A kernel struct sockaddr for an address of the fd list."""
    import ipaddress

    a = ipaddress.ip_address(ip or "0.0.0.0")
    if a.version == 4:
        return struct.pack("<H", 2) + struct.pack(">H", port) + a.packed + b"\0" * 8
    return struct.pack("<H", 10) + struct.pack(">H", port) + b"\0" * 4 + a.packed + b"\0" * 4


class ScapFile:
    """One .scap file, opened: header and state blocks read, events on demand."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.size = os.path.getsize(path)
            self.f = open(path, "rb")  # closed by close()
        except OSError as e:
            raise CaptureError(f"{path}: {e.strerror or e}") from None
        self.stream = B.BlockStream(self.f, path)
        try:
            self.stream.read_header()
        except B.ScapError as e:
            self.f.close()
            raise CaptureError(str(e)) from None
        self.at = B.StreamAt()  # the stream as of the chunk last taken from ``chunks``
        self.ahead: ChunkPath | None = None  # what runs each chunk's C pass ahead
        self.pre: Any = None  # the chunk last taken: its C pass made ahead, if any
        self.chunks = self._chunks()

    def _chunks(self) -> Generator[tuple[bytes, np.ndarray], None, None]:
        """The stream's chunks, a gzip file's inflated ahead on a thread; ``at`` (and
        ``pre``) follow the caller. A plain file's are read here: its chunks cost a read
        (the GIL released) and one C loop, and a reading thread only made the parsing
        wait for the GIL at each hand-over (the 4.4 M-event benchmark ran ~10 % longer).
        With ``ahead`` (ScapSource: its ChunkPath), each chunk's C pass runs on scap.c's
        thread of C alone while the caller parses the chunk before: chunk N+1 is read
        and chained here, its pass started, then chunk N (its pass done) given out
        (without ``ahead`` or a thread, the same steps without the pass)."""
        st = self.stream

        def produce() -> Generator[tuple[bytes | None, np.ndarray | None, B.StreamAt],
                                   None, None]:
            for buf, blks in st.chunks():
                yield buf, blks, st.at()
            yield None, None, st.at()  # where it ended

        ahead = produce() if st.inp.gz is None else B.read_ahead(produce())
        assert isinstance(ahead, Generator)  # closing it joins the thread
        path = self.ahead

        def start(item: tuple[bytes | None, np.ndarray | None, B.StreamAt] | None) -> bool:
            return path is not None and item is not None and item[0] is not None and \
                item[1] is not None and path.ahead_start(item[0], item[1])

        started = False
        try:
            item = next(ahead, None)
            started = start(item)
            while item is not None:
                buf, blks, at = item
                if buf is None or blks is None:
                    self.at = at
                    return
                item = next(ahead, None)  # the next chunk read while this one's pass runs
                pre = path.ahead_wait() if started and path is not None else None
                started = start(item)
                self.at, self.pre = at, pre
                yield buf, blks
        finally:
            if started and path is not None:  # its buffers live until the thread is done
                path.ahead_wait()
            ahead.close()

    def close(self) -> None:
        self.chunks.close()  # the read-ahead thread first: it reads the file
        self.f.close()



class ScapSource(ChunkPath):
    """Events of .scap files as the ``EventSource`` of a replay pipeline.

    The same interface as ``collector.capture.ReplaySource``: ``attach(state)``
    seeds a State (built with ``container_of`` and ``procfs`` from here) from the
    files' process and fd lists; ``batches()`` yields RawBatches; ``losses``
    says what a damaged file lost (``on_loss`` is called at once).
    """

    def __init__(self, paths: Sequence[str], on_loss: Callable[[Loss], None] | None = None,
                 batch: int = BATCH) -> None:
        _keep_freed_memory()
        self.files: list[ScapFile] = open_all(paths, ScapFile)
        files = self.files
        self._size = sum(f.size for f in files)
        self._prefault = _Prefault(_PREFAULT_BYTES) if self._size >= _PREFAULT_MIN else None
        self.on_loss = on_loss
        self.losses: list[Loss] = []
        self.batch_size = batch
        super().__init__()
        self._pending_chunk: tuple[bytes, np.ndarray, int] | None = None
        self._fast_plan()
        if kernels() is not None:  # each chunk's C pass on scap.c's thread
            for f in files:
                f.ahead = self
        self._read_state(files[0])
        self.header: dict[str, Any] = {
            "format": "scap", "hostname": self.machine.hostname, "ncpus": self.machine.num_cpus,
            "syscall_arch": self.syscalls.arch, "mono_to_wall_ns": 0,
            "scap_version": ".".join(map(str, getattr(files[0].stream, "version", (0, 0)))),
        }

    # -- state blocks ----------------------------------------------------------------
    def _read_state(self, f: ScapFile) -> None:
        """Read the blocks before the first event: machine, threads, fds, users."""
        for buf, blks in f.chunks:
            mv = memoryview(buf)
            ev = np.flatnonzero(np.isin(blks[:, 0], _EV_TYPES))
            upto = int(ev[0]) if len(ev) else len(blks)  # the blocks as Python: these only
            for btype, s, e, _off in blks[:upto].tolist():
                self._state_block(btype, mv[s:e])
            if len(ev):
                self._pending_chunk = (buf, blks, upto)
                return
        self._pending_chunk = None

    def _state_block(self, btype: int, body: memoryview) -> None:
        if btype in (B.MI, B.MI_INT):
            self.machine = B.parse_machine_info(body)
        elif btype in B.PL_VERSION:
            for t in B.parse_proclist(body, btype):
                th = self.threads[t.tid] = Thread(
                    t.tid, t.pid, t.ptid, t.comm.encode()[:layout.COMM_LEN], t.uid, t.gid,
                    self._cgroup_of(t.cgroups), t.exe, t.args, t.cwd)
                th.table = t
        elif btype in (B.FDL, B.FDL_INT, B.FDL_V2):
            tid, fds = B.parse_fdlist(body, btype)
            if tid >= 0:
                self.fdlists.setdefault(tid, []).extend(fds)
        elif btype in (B.UL, B.UL_INT, B.UL_V2):
            self.users.update(B.parse_userlist(body, btype))
        elif btype in (B.IL, B.IL_INT, B.IL_V2):
            pass  # interfaces: cdig names sockets by their addresses alone
        else:
            self.skipped_blocks[btype] = self.skipped_blocks.get(btype, 0) + 1

    # -- State -----------------------------------------------------------------------
    def attach(self, state: State) -> None:
        """Seed ``state`` with the file's processes and their fds."""
        self._state = state
        for t in self.threads.values():
            if t.tid != t.pid:
                continue
            parent = self.threads.get(t.ptid)
            # through the State's lookup: a capture recorder wrapping it learns the
            # (synthetic) cgroup ids of these containers too
            c = state.container_of(t.cgroup, t.pid) if t.cgroup else HOST
            p = Process(pid=t.pid, ppid=parent.pid if parent else t.ptid,
                        name=t.comm.decode("utf-8", "backslashreplace"), exe=t.exe,
                        args=list(t.args), uid=t.uid, cgroup_id=t.cgroup, container=c,
                        cwd=t.cwd, info=proc_info(t, parent))
            state.procs[p.pid] = p
        # sinsp's rule for a connected socket of the fd list (local end first in the
        # file): if its local port is a port something listens on, the local end is
        # the server, else the client.
        server_ports = {e.sport for fds in self.fdlists.values() for e in fds
                        if not e.local_is_client}
        for fds in self.fdlists.values():
            for e in fds:
                if e.local_is_client and e.type in ("ipv4", "ipv6") and e.cport in server_ports:
                    e.cip, e.cport, e.sip, e.sport = e.sip, e.sport, e.cip, e.cport
                    e.local_is_client = False
                    e.name = B.sock_name(e)
        for tid, fds in self.fdlists.items():
            th = self.threads.get(tid)
            pid = th.pid if th is not None else tid
            for e in fds:
                if not e.local_is_client and e.type in ("ipv4", "ipv6") and not e.cport:
                    self._listening.setdefault(pid, {})[e.fd] = _sockaddr(e.sip, e.sport)
            table_ = state.fds.setdefault(pid, {})
            for e in fds:
                table_[e.fd] = FdInfo(num=e.fd, type=e.type, name=e.name, l4proto=e.l4proto,
                                      cip=e.cip, cport=e.cport, sip=e.sip, sport=e.sport,
                                      local_is_client=e.local_is_client)

    def shown(self, ev: Event) -> bool:
        """False for records of state-only events (EVF blocks with SCAP_DF_STATE_ONLY)."""
        return not self._hidden or ev.num not in self._hidden

    def progress(self) -> tuple[int, int]:
        """(bytes of the files behind the events yielded so far, all the files' bytes):
        ``cdig trace -P``. A gzip file's share is in proportion to what was inflated."""
        done = 0
        for f in self.files:
            if not f.f.closed:  # the one being read (or, after a stop, the last read)
                return done + min(f.size, f.at.file_offset), self._size
            done += f.size
        return done, self._size

    def stop(self) -> None:
        self._stop = True

    def drops(self) -> int:
        """Events the capture says were lost: the counts cdig's writer puts in its drop
        marks (``ScapWriter._mark_drops``). sysdig's own marks (sampling) carry no count:
        they are counted in ``drop_marks`` only."""
        return self.dropped

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.ahead_close()

    def batches(self) -> Iterator[RawBatch]:
        if self._prefault is not None:  # its pages to the chunks' arrays
            self._prefault.release()
            self._prefault = None
        for i, f in enumerate(self.files):
            if self._stop:
                break
            if i:
                self._read_state(f)
            cols = Columns()
            chunk = self._pending_chunk
            self._pending_chunk = None
            if chunk is not None:
                for batch in self._events(f, chunk, cols):
                    yield batch
                    if self._stop:
                        break
            if not self._stop:
                self._flush_pending(cols)
                if len(cols) or self._left:  # (a batch of none: the records left out)
                    yield self._emit_batch(cols)
            st = f.at
            if st.stop:
                # bytes of the (uncompressed) stream after the last intact block
                unread = max(0, f.size - st.offset) if st.plain else st.unread
                loss = Loss(f.path, self.events, unread,
                            "damaged" if st.stop == "damaged" else "truncated")
                self.losses.append(loss)
                if self.on_loss:
                    self.on_loss(loss)
            f.close()

    def _emit_batch(self, cols: Columns) -> RawBatch:
        raw, shown = cols.to_batch()
        return self._finish_batch(raw, shown)

    def _events(self, f: ScapFile, chunk: tuple[bytes, np.ndarray, int], cols: Columns
                ) -> Iterator[RawBatch]:
        buf, blks, first = chunk
        it = f.chunks  # the same generator: it holds the bytes of a block cut by a chunk end
        while True:
            raw = self._chunk(buf, blks, first, f.pre if not first else None)
            if raw is not None:
                yield raw
            if self._stop:
                return
            nxt = next(it, None)
            if nxt is None:
                return
            buf, blks = nxt
            first = 0

