"""Field offsets of kernel structs, read from the running kernel's BTF
(``/sys/kernel/btf/vmlinux``).

The probes are compiled by bcc against whatever kernel headers are installed,
which need not be the running kernel's (``shared/environment.md``: Debian's
newest headers on a newer kernel), so a struct's layout in those headers is not
to be trusted. A program that reads a kernel struct instead takes the offsets
of the fields it reads as ``-D`` defines computed here from the kernel's own
type information, and reads them through a BTF-typed pointer (e.g.
``bpf_get_current_task_btf()``): the verifier checks each load against the same
BTF, so a wrong offset is refused at load, never read.

Only what that needs: the type section is walked once to index the types, and
the named structs' members are looked up on demand (anonymous struct and union
members are searched through, as C does).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

VMLINUX = Path("/sys/kernel/btf/vmlinux")

_MAGIC = 0xEB9F
# kinds (include/uapi/linux/btf.h)
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
_VOLATILE, _CONST, _RESTRICT, _FUNC, _FUNC_PROTO, _VAR, _DATASEC = 9, 10, 11, 12, 13, 14, 15
_FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64 = 16, 17, 18, 19
# bytes after the 12-byte common header: fixed, and per vlen item
_EXTRA = {_INT: (4, 0), _ARRAY: (12, 0), _STRUCT: (0, 12), _UNION: (0, 12), _ENUM: (0, 8),
          _FUNC_PROTO: (0, 8), _VAR: (4, 0), _DATASEC: (0, 12), _DECL_TAG: (4, 0),
          _ENUM64: (0, 12)}
_MODIFIERS = (_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG)


class BtfError(Exception):
    """No usable BTF, or no such struct or field in it."""


@dataclass(frozen=True)
class Member:
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int


class Btf:
    """The types of one BTF blob (``Btf.kernel()``: the running kernel's)."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BtfError("BTF too short")
        magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != _MAGIC:
            raise BtfError("not BTF (bad magic, or another byte order)")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        self._data = data
        self._types = hdr_len + type_off
        self._strs = hdr_len + str_off
        self._str_end = self._strs + str_len
        end = self._types + type_len
        if end > len(data) or self._str_end > len(data):
            raise BtfError("BTF sections out of bounds")
        # offsets[id] = where type id's record starts (id 0 is void)
        self._offsets = [0]
        self._structs: dict[str, int] = {}
        pos = self._types
        unpack = struct.Struct("<III").unpack_from
        extra = _EXTRA
        while pos < end:
            name_off, info, _size = unpack(data, pos)
            kind = (info >> 24) & 0x1F
            fixed, item = extra.get(kind, (0, 0))
            if kind in (_STRUCT, _UNION) and name_off:
                # the first definition of a name wins (vmlinux has one per name)
                self._structs.setdefault(self._str(name_off) + ("" if kind == _STRUCT
                                                                 else "#union"),
                                         len(self._offsets))
            self._offsets.append(pos)
            pos += 12 + fixed + item * (info & 0xFFFF)

    @classmethod
    def kernel(cls, path: Path = VMLINUX) -> Btf:
        try:
            return cls(path.read_bytes())
        except OSError as e:
            raise BtfError(f"cannot read {path}: {e.strerror}") from None

    def _str(self, off: int) -> str:
        start = self._strs + off
        stop = self._data.index(b"\0", start, self._str_end)
        return self._data[start:stop].decode("utf-8", "replace")

    def _record(self, type_id: int) -> tuple[int, int, int, int]:
        """(kind, vlen, size-or-type, record offset) of a type id."""
        if not 0 < type_id < len(self._offsets):
            raise BtfError(f"type id {type_id} out of range")
        pos = self._offsets[type_id]
        _name, info, size = struct.unpack_from("<III", self._data, pos)
        return (int(info) >> 24) & 0x1F, int(info) & 0xFFFF, int(size), pos

    def _resolve(self, type_id: int) -> int:
        """Through typedefs and qualifiers to the type they name."""
        for _ in range(32):
            if type_id == 0:
                return 0
            kind, _vlen, size, _pos = self._record(type_id)
            if kind not in _MODIFIERS:
                return type_id
            type_id = size
        raise BtfError("type chain too long")

    def members(self, type_id: int) -> list[Member]:
        kind, vlen, _size, pos = self._record(type_id)
        if kind not in (_STRUCT, _UNION):
            raise BtfError(f"type {type_id} is not a struct or union")
        kind_flag = bool(struct.unpack_from("<I", self._data, pos + 4)[0] >> 31)
        out = []
        for i in range(vlen):
            name_off, mtype, off = struct.unpack_from("<III", self._data, pos + 12 + 12 * i)
            bits = (off & 0xFFFFFF, off >> 24) if kind_flag else (off, 0)
            out.append(Member(self._str(name_off) if name_off else "", mtype, *bits))
        return out

    def struct_id(self, name: str) -> int:
        found = self._structs.get(name)
        if found is None:
            raise BtfError(f"no struct {name} in the kernel's BTF")
        return found

    def _find(self, type_id: int, field: str, base: int) -> tuple[int, int] | None:
        """(bit offset, member type id) of ``field`` in a struct/union, searching
        anonymous members as C does."""
        for m in self.members(type_id):
            if m.name == field:
                if m.bitfield_size:
                    raise BtfError(f"{field} is a bitfield")
                return base + m.bit_offset, m.type_id
            if not m.name:
                inner = self._resolve(m.type_id)
                if inner and self._record(inner)[0] in (_STRUCT, _UNION):
                    got = self._find(inner, field, base + m.bit_offset)
                    if got is not None:
                        return got
        return None

    def field(self, struct_name: str, field: str) -> tuple[int, int]:
        """(byte offset, size in bytes) of ``struct_name.field`` (a member of an
        anonymous struct/union member found too)."""
        got = self._find(self.struct_id(struct_name), field, 0)
        if got is None:
            raise BtfError(f"struct {struct_name} has no field {field}")
        bit, type_id = got
        if bit % 8:
            raise BtfError(f"{struct_name}.{field} is not byte-aligned")
        return bit // 8, self.size_of(type_id)

    def size_of(self, type_id: int) -> int:
        type_id = self._resolve(type_id)
        kind, _vlen, size, pos = self._record(type_id)
        if kind == _PTR:
            return 8
        if kind == _ARRAY:
            elem, _index, n = struct.unpack_from("<III", self._data, pos + 12)
            return self.size_of(int(elem)) * int(n)
        if kind in (_INT, _STRUCT, _UNION, _ENUM, _ENUM64, _FLOAT):
            return size
        raise BtfError(f"type {type_id} (kind {kind}) has no size")

    def is_pointer(self, struct_name: str, field: str) -> bool:
        got = self._find(self.struct_id(struct_name), field, 0)
        if got is None:
            raise BtfError(f"struct {struct_name} has no field {field}")
        return self._record(self._resolve(got[1]))[0] == _PTR


__all__ = ["VMLINUX", "Btf", "BtfError", "Member"]
