""".scap block framing: the section header, block types, and the state blocks
(machine info, process list, fd lists, interfaces, users).

A .scap file is a pcapng-like sequence of blocks, all little-endian:
``u32 type, u32 total_length, body, padding to 4 bytes, u32 total_length``,
optionally gzip-compressed as a whole (``../shared/scap/FORMAT.md`` §1.1).
``BlockStream`` cuts a file (plain or gzip, read in chunks) into blocks and
stops, with a reason, at the first one that is cut short or whose trailer does
not repeat its length: everything before it is intact.

The block type ids are in ``blocktypes``, the state block parsers in
``stateblocks`` (both re-exported here: ``blocks.PL_V9``, ``blocks.parse_proclist``).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

import numpy as np

from ..events import sock_name
from ..native.scap import CHAIN_BAD_LENGTH, CHAIN_BAD_TRAILER, kernels
from ..read_ahead import read_ahead as _read_ahead
from .blocktypes import (
    BYTE_ORDER_MAGIC,
    EV,
    EV_INT,
    EV_V2,
    EV_V2_LARGE,
    EVENT_BLOCKS,
    EVF,
    EVF_V2,
    EVF_V2_LARGE,
    FDL,
    FDL_INT,
    FDL_V2,
    GZIP_MAGIC,
    IL,
    IL_INT,
    IL_V2,
    MI,
    MI_INT,
    PL_V9,
    PL_VERSION,
    SHB,
    SHB_MAGIC_BYTES,
    STATE_ONLY,
    UL,
    UL_INT,
    UL_V2,
    is_scap,
)
from .stateblocks import (
    FD_DIRECTORY,
    FD_EVENT,
    FD_EVENTPOLL,
    FD_FIFO,
    FD_FILE,
    FD_FILE_V2,
    FD_INOTIFY,
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    FD_IPV6_SOCK,
    FD_NETLINK,
    FD_SIGNALFD,
    FD_TIMERFD,
    FD_UNIX_SOCK,
    FD_UNSUPPORTED,
    L4PROTO,
    L4PROTO_ID,
    FdEntry,
    MachineInfo,
    ThreadInfo,
    cgroup_path,
    parse_fdlist,
    parse_machine_info,
    parse_proclist,
    parse_userlist,
)

_HDR = struct.Struct("<II")
_U32 = struct.Struct("<I")
# bytes of the (inflated) stream per read, one batch each: at 8 MiB a batch's ext rows
# were ~40 MB, fresh memory every time (glibc maps blocks over 32 MB anew, and the
# kernel zeroes each page); at 2 MiB (~15k records) they come back from the heap
CHUNK = 2 << 20

__all__ = [  # the framing, and the ids and parsers as blocks.X
    "BYTE_ORDER_MAGIC", "Block", "BlockStream", "CHUNK", "EV", "EVENT_BLOCKS", "EVF", "EVF_V2",
    "EVF_V2_LARGE", "EV_INT", "EV_V2", "EV_V2_LARGE", "FDL", "FDL_INT", "FDL_V2", "FD_DIRECTORY",
    "FD_EVENT", "FD_EVENTPOLL", "FD_FIFO", "FD_FILE", "FD_FILE_V2", "FD_INOTIFY",
    "FD_IPV4_SERVSOCK", "FD_IPV4_SOCK", "FD_IPV6_SERVSOCK", "FD_IPV6_SOCK", "FD_NETLINK",
    "FD_SIGNALFD", "FD_TIMERFD", "FD_UNIX_SOCK", "FD_UNSUPPORTED", "FdEntry", "GZIP_MAGIC", "IL",
    "IL_INT", "IL_V2", "L4PROTO", "L4PROTO_ID", "MI", "MI_INT", "MachineInfo", "PL_V9",
    "PL_VERSION", "SHB", "SHB_MAGIC_BYTES", "STATE_ONLY", "ScapError", "StreamAt", "ThreadInfo",
    "UL", "UL_INT", "UL_V2", "cgroup_path", "is_scap", "parse_fdlist", "parse_machine_info",
    "parse_proclist", "parse_userlist", "read_ahead", "sock_name",
]

def _chain(buf: bytes) -> tuple[np.ndarray, int]:
    """(the start offsets of the blocks of ``buf`` that follow each other from offset 0,
    the offset after the last): the block lengths followed with numpy, not in Python.

    Blocks start at multiples of 4 (every block length is one). A word can start a
    block if the length after it is valid, the block fits, and its trailer repeats
    the length; the chain from word 0 through such words, found by doubling (n log n
    vector steps), is the list of blocks. It stops before the first block that is
    incomplete or not valid: the caller's loop decides what that block is."""
    nw = len(buf) // 4
    if nw < 3:
        return np.zeros(0, dtype=np.int64), 0
    w = np.frombuffer(buf, dtype="<u4", count=nw)
    length = w[1:]
    cand = np.flatnonzero((length >= 12) & ((length & 3) == 0))  # u32 passes first
    nxt = cand + (length[cand] >> 2).astype(np.int64)  # the word after the block
    fits = nxt <= nw
    cand, nxt = cand[fits], nxt[fits]
    trailer = w[nxt - 1] == length[cand]
    cand, nxt = cand[trailer], nxt[trailer]
    if not len(cand) or cand[0] != 0:
        return np.zeros(0, dtype=np.int64), 0
    m = len(cand)
    # the candidate index each candidate's block leads to (m: none, the chain ends)
    j = np.searchsorted(cand, nxt)
    hit = j < m
    hit[hit] = cand[j[hit]] == nxt[hit]
    jump = np.append(np.where(hit, j, m), m)
    path = np.zeros(1, dtype=np.int64)
    while True:
        more = jump[path]
        end = np.flatnonzero(more == m)
        if len(end):
            path = np.concatenate([path, more[:end[0]]])
            break
        path = np.concatenate([path, more])
        jump = jump[jump]
    return cand[path] * 4, int(nxt[path[-1]]) * 4


class ScapError(Exception):
    """A file that is not a readable .scap at all. The message is one line."""


class _Input:
    """Bytes of a file, gunzipped on the fly if it is gzip-compressed.

    ``error`` says why reading ended early (a damaged or cut gzip stream)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        head = f.read(2)
        self.gz = zlib.decompressobj(wbits=31) if head == GZIP_MAGIC else None
        self.pending = head
        self.error = ""
        self.eof = False
        self.started_member = False
        self.taken = 0  # bytes of the file behind what read() returned (-P's progress)
        self.given = 0  # bytes read() returned

    def file_offset(self, stream_offset: int) -> int:
        """About where in the file the stream's byte ``stream_offset`` came from: itself
        for a plain file; for gzip, in proportion to what was inflated so far."""
        if self.gz is None:
            return stream_offset
        return self.taken * stream_offset // self.given if self.given else 0

    def read(self, n: int) -> bytes:
        """Up to about ``n`` bytes (more for gzip); b"" at the end."""
        if self.eof:
            return b""
        if self.gz is None:
            raw = self.pending + self.f.read(n)
            self.pending = b""
            if not raw:
                self.eof = True
            return raw
        while True:
            data = self.gz.unconsumed_tail
            if not data:
                data = self.pending + self.f.read(n)
                self.pending = b""
                if not data:
                    if self.started_member:
                        self.error = "truncated"  # the gzip stream ends inside a member
                    self.eof = True
                    return b""
            try:
                out = self.gz.decompress(data, n * 4)
            except zlib.error:
                self.error = "damaged"
                self.eof = True
                return b""
            self.taken += len(data) - len(self.gz.unconsumed_tail) - len(self.gz.unused_data)
            self.given += len(out)
            self.started_member = True
            if self.gz.eof:  # a member ends; another may follow (concatenated gzip)
                self.pending = self.gz.unused_data
                self.gz = zlib.decompressobj(wbits=31)
                self.started_member = False
            if out:
                return out


@dataclass
class Block:
    """One block: its type, and its body (without header, padding-aware trailer)."""

    type: int
    body: memoryview
    offset: int  # of the block's first byte in the (uncompressed) stream


class BlockStream:
    """The blocks of a .scap stream, in order; ``stop`` says why it ended early.

    ``chunks()`` yields (buffer, [(type, body_start, body_end, offset)…]): the
    event reader parses events straight out of the buffer, without a copy per block.
    """

    def __init__(self, f: BinaryIO, path: str = "") -> None:
        self.path = path
        self.inp = _Input(f)
        self.offset = 0  # bytes of stream consumed (complete blocks)
        self.stop = ""  # "", "truncated" or "damaged"
        self.stop_detail = ""
        self.unread = 0  # bytes of an incomplete last block
        self.shb_read = False
        self.through = 0  # stream offset after the blocks of the last chunk yielded

    def read_header(self) -> None:
        """Check the section header block; ScapError if this is not a .scap stream."""
        head = self.inp.read(28)
        while len(head) < 28 and not self.inp.eof:
            more = self.inp.read(28 - len(head))
            if not more:
                break
            head += more
        if len(head) < 12:
            raise ScapError(f"{self.path}: not a .scap file (too short)")
        btype, blen = _HDR.unpack_from(head)
        if btype != SHB:
            raise ScapError(f"{self.path}: not a .scap file (no section header block)")
        if len(head) < 24:
            raise ScapError(f"{self.path}: truncated .scap section header")
        magic = _U32.unpack_from(head, 8)[0]
        if magic != BYTE_ORDER_MAGIC:
            if magic == 0x4D3C2B1A:
                raise ScapError(f"{self.path}: a big-endian .scap file (not supported)")
            raise ScapError(f"{self.path}: bad .scap byte-order magic {magic:#x}")
        major, minor = struct.unpack_from("<HH", head, 12)
        self.version = (major, minor)
        if blen < 28 or blen % 4:
            raise ScapError(f"{self.path}: bad .scap section header length {blen}")
        # Current libs and editcap write SHB options (comments): skip them.
        data = head
        while len(data) < blen and not self.inp.eof:
            more = self.inp.read(CHUNK)
            if not more:
                break
            data += more
        if len(data) < blen:
            raise ScapError(f"{self.path}: truncated .scap section header")
        if _U32.unpack_from(data, blen - 4)[0] != blen:
            raise ScapError(f"{self.path}: damaged .scap section header")
        self._rest = data[blen:]
        self.offset = blen
        self.shb_read = True

    def chunks(self) -> Iterator[tuple[bytes, np.ndarray]]:
        """(buffer, blocks): blocks is an (n, 4) int64 array of (type, body start, body
        end, stream offset) rows, for every complete block in the buffer."""
        buf = self._rest
        self._rest = b""
        base = self.offset
        inp = self.inp
        # a plain file's incomplete last block is read again with the next chunk (its
        # stream offset is its file offset) rather than joined to it: ``buf + more``
        # copied each 2 MiB chunk holding the GIL, which the parsing thread then waited for
        reread = inp.gz is None and not inp.pending and _seekable(inp.f)
        k = kernels()
        while True:
            if reread and buf and not inp.eof:
                inp.f.seek(-len(buf), os.SEEK_CUR)
                whole = inp.f.read(len(buf) + CHUNK)
                more = whole[len(buf):len(buf) + 1]
                if not more:
                    inp.eof = True
                    inp.f.seek(len(buf) - len(whole), os.SEEK_CUR)  # where it was
                else:
                    buf = whole
            else:
                more = inp.read(CHUNK)
                if more:
                    buf = buf + more if buf else more
            n = len(buf)
            if k is not None:  # the chain and its table in one C loop
                rows, pos, status, bad_len = k.chain_rows(buf, base)
                if status == CHAIN_BAD_LENGTH:
                    self._damaged(f"bad block length {bad_len} at offset {base + pos}")
                elif status == CHAIN_BAD_TRAILER:
                    self._damaged(f"block trailer mismatch at offset {base + pos}")
                if len(rows):
                    self.through = base + pos
                    yield buf, rows
            else:
                st, pos = self._blocks(buf, base)
                if len(st):
                    w32 = np.frombuffer(buf, dtype="<u4", count=n // 4)  # blocks: 4-aligned
                    btype = w32[st >> 2].astype(np.int64)
                    blen_a = w32[(st >> 2) + 1].astype(np.int64)
                    self.through = base + pos
                    yield buf, np.stack([btype, st + 8, st + blen_a - 4, base + st], axis=1)
            if self.stop:
                self.offset = base + pos
                return
            base += pos
            buf = buf[pos:]
            self.offset = base
            if not more:
                if buf or self.inp.error:
                    self.stop = self.inp.error or "truncated"
                    self.stop_detail = f"{len(buf)} bytes of an incomplete block" if buf else \
                        "the gzip stream ends early"
                    self.unread = len(buf)
                return

    def _blocks(self, buf: bytes, base: int) -> tuple[np.ndarray, int]:
        """(start offsets of the intact blocks of ``buf`` that follow each other from 0,
        the offset after them); a damaged block there stops the stream (``_damaged``).
        The C kernel's one loop, else ``_chain`` and a Python walk of what it left."""
        k = kernels()
        if k is not None:
            st, pos, status, bad_len = k.chain(buf)
            if status == CHAIN_BAD_LENGTH:
                self._damaged(f"bad block length {bad_len} at offset {base + pos}")
            elif status == CHAIN_BAD_TRAILER:
                self._damaged(f"block trailer mismatch at offset {base + pos}")
            return st, pos
        return self._numpy_blocks(buf, base)

    def _numpy_blocks(self, buf: bytes, base: int) -> tuple[np.ndarray, int]:
        n = len(buf)
        chained, pos = _chain(buf)
        starts: list[int] = []
        app = starts.append
        u32 = _U32.unpack_from
        while pos + 12 <= n:  # what _chain left: the block it stopped at, Python
            blen = u32(buf, pos + 4)[0]
            if blen < 12 or blen & 3:
                self._damaged(f"bad block length {blen} at offset {base + pos}")
                break
            end = pos + blen
            if end > n:
                break
            app(pos)
            pos = end
        st = np.concatenate([chained, np.array(starts, dtype=np.int64)])
        if len(st):
            w32 = np.frombuffer(buf, dtype="<u4", count=n // 4)
            blen_a = w32[(st >> 2) + 1].astype(np.int64)
            bad = np.flatnonzero(w32[(st + blen_a - 4) >> 2] != blen_a)
            if len(bad):  # the first block whose trailer does not repeat its length
                k = int(bad[0])
                self._damaged(f"block trailer mismatch at offset {base + int(st[k])}")
                st = st[:k]
                pos = int(st[-1] + blen_a[k - 1]) if k else 0
        return st, pos

    def _damaged(self, detail: str) -> None:
        self.stop = "damaged"
        self.stop_detail = detail

    def at(self) -> StreamAt:
        """Where the stream is now (what a reader reports when it stops here)."""
        return StreamAt(self.stop, self.offset, self.unread,
                        self.inp.gz is None and not self.inp.started_member,
                        self.inp.file_offset(self.through))


@dataclass(frozen=True)
class StreamAt:
    """A BlockStream's position as of one chunk: why it stopped ("" if it did not),
    the stream bytes consumed, those of an incomplete last block, whether the bytes
    are the file's own (plain, no gzip member started), and the file offset the
    chunk's blocks reach (``cdig trace -P``)."""

    stop: str = ""
    offset: int = 0
    unread: int = 0
    plain: bool = True
    file_offset: int = 0


_T = TypeVar("_T")


def _seekable(f: BinaryIO) -> bool:
    try:
        return bool(f.seekable())
    except (OSError, ValueError):
        return False


def read_ahead(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """``items`` produced on a thread up to ``depth`` ahead (``collector.read_ahead``):
    reading the file, gunzip (zlib releases the GIL) and the block chain's numpy passes
    run while the caller parses the previous chunk."""
    return _read_ahead(items, depth, "cdig-scap-read")

