"""A read-only reader of BoltDB files (bbolt), enough to read podman's state.

podman up to 4.x keeps its containers in ``libpod/bolt_state.db`` (bucket
``ctr`` -> one bucket per container id -> key ``config``: the container's
JSON configuration with its name, image and labels). Reading the file takes a
millisecond where ``podman container inspect`` takes ~100 ms (more while a
``podman run`` holds its locks), so a new podman container is named before its
program runs. See ``runtimes.RuntimeClient._podman_db``.

Format (go.etcd.io/bbolt): pages of ``page_size`` bytes; pages 0 and 1 are
meta pages, the valid one (magic, version 2, FNV-1a checksum) with the higher
transaction id is current. A page is a 16-byte header (id, flags, count,
overflow) and ``count`` 16-byte elements: branch (pos, key size, child page)
or leaf (flags, pos, key size, value size), ``pos`` counted from the element.
A leaf value flagged as a bucket is (root page, sequence), followed by the
bucket's own page inline when the root is 0.

bbolt writes a transaction's pages before its meta page, so a reader that
reads the whole file at once sees a consistent tree unless a later
transaction reused a page meanwhile; anything inconsistent raises
``BoltError`` and the caller asks the runtime instead. The file is untrusted
input: every offset is bounds-checked, the depth is bounded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_MAGIC = 0xED0CDAED
_VERSION = 2
_BRANCH, _LEAF, _META = 0x01, 0x02, 0x04
_BUCKET_LEAF = 0x01
_PAGE = struct.Struct("<QHHI")  # id, flags, count, overflow
_ELEM = struct.Struct("<IIII")  # leaf: flags, pos, ksize, vsize / branch: pos, ksize, pgid
# magic, version, page size, flags, root (page, sequence), freelist, pgid, txid, checksum
_META_FMT = struct.Struct("<IIIIQQQQQQ")
_MAX_DEPTH = 32


class BoltError(ValueError):
    """Not a BoltDB file, or one changed under the reader."""


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class BoltReader:
    """The tree of one BoltDB file's bytes (``data``), read at the current meta."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        best: tuple[int, int, int] | None = None  # (txid, root page, page size)
        for off in (0, None):
            if off is None:  # the second meta page is at one page size
                if best is None:
                    break
                off = best[2]
            raw = data[off + 16 : off + 16 + _META_FMT.size]
            if len(raw) < _META_FMT.size:
                continue
            magic, version, psize, _, root, _, _, _, txid, checksum = _META_FMT.unpack(raw)
            if magic != _MAGIC or version != _VERSION or not 512 <= psize <= 1 << 20:
                continue
            if _fnv1a64(raw[:-8]) != checksum:
                continue
            if best is None or txid > best[0]:
                best = (txid, root, psize)
        if best is None:
            raise BoltError("no valid BoltDB meta page")
        self.txid, self._root, self.page_size = best
        self._budget = 0  # pages a lookup may still visit (a cyclic tree must end)

    def _page(self, pgid: int) -> memoryview:
        self._budget -= 1
        if self._budget < 0:
            raise BoltError("more pages visited than the file holds: a cycle")
        off = pgid * self.page_size
        if pgid < 2 or off + _PAGE.size > len(self.data):
            raise BoltError(f"page {pgid} outside the file")
        _, _, _, overflow = _PAGE.unpack_from(self.data, off)
        end = min(len(self.data), off + (overflow + 1) * self.page_size)
        return memoryview(self.data)[off:end]

    def _items(self, page: memoryview, depth: int = 0) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, flags) of every leaf element under ``page``, in key order."""
        if depth > _MAX_DEPTH:
            raise BoltError("tree too deep")
        if len(page) < _PAGE.size:
            raise BoltError("short page")
        _, flags, count, _ = _PAGE.unpack_from(page, 0)
        if _PAGE.size + count * _ELEM.size > len(page):
            raise BoltError("element table beyond its page")
        for i in range(count):
            eo = _PAGE.size + i * _ELEM.size
            if flags & _BRANCH:
                pos, ksize, pgid = struct.unpack_from("<IIQ", page, eo)
                yield from self._items(self._page(pgid), depth + 1)
            elif flags & _LEAF:
                eflags, pos, ksize, vsize = _ELEM.unpack_from(page, eo)
                start = eo + pos
                if start + ksize + vsize > len(page):
                    raise BoltError("leaf element beyond its page")
                yield (
                    bytes(page[start : start + ksize]),
                    bytes(page[start + ksize : start + ksize + vsize]),
                    eflags,
                )
            else:
                raise BoltError(f"unexpected page flags {flags:#x}")

    def _bucket_page(self, value: bytes) -> memoryview:
        if len(value) < 16:
            raise BoltError("short bucket header")
        root, _ = struct.unpack_from("<QQ", value, 0)
        return memoryview(value)[16:] if root == 0 else self._page(root)

    def _start(self) -> memoryview:
        self._budget = 2 * (len(self.data) // self.page_size) + 2
        return self._page(self._root)

    def get(self, *path: bytes) -> bytes | None:
        """The value at ``path`` (bucket names, then a key); None if absent.
        A path ending at a bucket returns None."""
        page = self._start()
        for depth, name in enumerate(path):
            last = depth == len(path) - 1
            for k, v, flags in self._items(page):
                if k == name:
                    if last:
                        return None if flags & _BUCKET_LEAF else v
                    if not flags & _BUCKET_LEAF:
                        return None
                    page = self._bucket_page(v)
                    break
            else:
                return None
        return None

    def keys(self, *path: bytes) -> list[bytes]:
        """The keys of the bucket at ``path`` (the root bucket for ``()``)."""
        page = self._start()
        for name in path:
            for k, v, flags in self._items(page):
                if k == name and flags & _BUCKET_LEAF:
                    page = self._bucket_page(v)
                    break
            else:
                return []
        return [k for k, _, _ in self._items(page)]
