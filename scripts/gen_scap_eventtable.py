"""Generate collector/scap/eventtable.py from the sysdig installed here.

    .venv/bin/python scripts/gen_scap_eventtable.py          # rewrite the module
    .venv/bin/python scripts/gen_scap_eventtable.py --check  # exit 1 if it differs

Sources, all of them on this machine (no fetched sources):

* ``sysdig -L``: every listed event type with its parameter names and type names,
  in id order;
* the libscap shared library that ``sysdig`` is linked against (found with
  ``ldd``): its exported tables ``g_event_info`` (every event type, including the
  old versions and internal ones ``-L`` leaves out, with flags and numeric
  parameter types), ``g_syscall_table`` and ``g_syscall_code_routing_table``
  (x86_64 syscall number -> enter/exit event, -> syscall code) and
  ``g_syscall_info_table`` (syscall code -> name), read with the small ELF reader
  below;
* ``probes/syscall_numbers.py`` (x86_64 numbers -> names, from the kernel's UAPI
  headers) to name the syscall numbers;
* ../shared/scap/FORMAT.md for what the bytes of each parameter type are (§1.4)
  and which event types have u32 length slots (§1.4: 322 and 324).

Every layout assumption is checked against the data (sizes of the symbols, the
names and parameter lists of all ``-L`` lines, exit id = enter id + 1 in the
syscall table); a mismatch stops the generator instead of writing a wrong table.
``generate()`` is the whole computation; ``build()`` its pure part.
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "collector" / "scap" / "eventtable.py"

# Layout of the libscap tables (x86_64). Each is checked against the symbol's size
# and against ``sysdig -L``; the numbers are the C declarations' sizes.
NAME_LEN = 32
MAX_PARAMS = 32
PARAM_SIZE = NAME_LEN + 4 + 4 + 8 + 1  # name, type, print format, info pointer, ninfo (packed)
EVENT_SIZE = NAME_LEN + 4 + 4 + 4 + MAX_PARAMS * PARAM_SIZE  # name, category, flags, nparams
SYSCALL_ENTRY = 12  # u32 flags, u32 enter event, u32 exit event
SC_INFO_ENTRY = 16  # u32 category, u32 flags, const char *name

# FORMAT.md §1.4: "At e5c53d6 only PPME_PLUGINEVENT_E (322) and
# PPME_CONTAINER_JSON_2_E (324) are large" -- the flag bit is the one set on exactly these.
LARGE_EVENTS = frozenset({322, 324})

# -L type name -> the module's type code (events.py decodes/encodes these).
# FORMAT.md §1.4 gives the sizes of all but the names marked "by name" or "raw".
TYPE_CODE = {
    "FD": "i8", "ERRNO": "i8", "PID": "i8", "INT64": "i8",
    "UINT64": "u8", "RELTIME": "u8", "ABSTIME": "u8",
    "UINT32": "u4", "FLAGS32": "u4", "UID": "u4", "GID": "u4", "MODE": "u4",
    "INT32": "i4",
    "UINT16": "u2", "PORT": "u2", "SYSCALLID": "u2",
    "UINT8": "u1", "SIGTYPE": "u1", "FLAGS8": "u1",
    "CHARBUF": "s", "FSPATH": "s", "FSRELPATH": "s",
    "BYTEBUF": "b",
    "SOCKADDR": "A", "SOCKTUPLE": "T",
    "INT16": "i2", "FLAGS16": "u2",  # measured, see DECLARED
    "SIGSET": "u4",  # measured, see DECLARED
    "FDLIST": "L", "DYNAMIC": "d",  # raw: u16 count + (u64 fd, u16 flags) / u8 index + value
    "CHARBUFARRAY": "b", "CHARBUF_PAIR_ARRAY": "b",  # raw: only in the tracer events
}

DECLARED = """\
Not in FORMAT.md, measured (tests/unit/test_scap_eventtable.py crafts the events):
SIGSET is 4 bytes (sysdig -r prints a 4-byte ppoll ``sigmask`` 0x6 as ``SIGINT
SIGQUIT`` and reads only the low 4 bytes of an 8-byte one); INT16 and FLAGS16 are 2
bytes, INT16 signed (semop ``sem_op_0`` -3 prints ``-3``); FDLIST is a u16 count and
(i64 fd, u16 flags) entries (``fds=3:?1``), kept raw (``L``). Declared: DYNAMIC
(``d``, a u8 index + value) and CHARBUFARRAY/CHARBUF_PAIR_ARRAY (only in the tracer
events 268/269) are kept as raw bytes; the parameter name ``plugin ID`` is written
``plugin_ID``."""


class GenError(RuntimeError):
    """The installed sysdig does not look like what the generator expects."""


# --------------------------------------------------------------------------- ELF


@dataclass(frozen=True)
class Elf:
    """Just enough of an ELF64 shared library: symbols, sections, relative relocations."""

    data: bytes
    sections: tuple[tuple[int, int, int, int], ...]  # (type, vaddr, offset, size)
    symbols: dict[str, tuple[int, int]]  # name -> (vaddr, size)
    relative: dict[int, int]  # vaddr -> addend of an R_X86_64_RELATIVE there

    @classmethod
    def parse(cls, data: bytes) -> Elf:
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise GenError("not a little-endian ELF64 file")
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
        strtab_off = raw[shstrndx][4]

        def cstr(off: int) -> str:
            return data[off:data.index(b"\0", off)].decode()

        by_name = {cstr(strtab_off + s[0]): s for s in raw}
        dynsym, dynstr = by_name[".dynsym"], by_name[".dynstr"]
        symbols = {}
        for i in range(dynsym[5] // 24):
            st_name, _info, _other, _shndx, value, size = struct.unpack_from(
                "<IBBHQQ", data, dynsym[4] + 24 * i)
            symbols[cstr(dynstr[4] + st_name)] = (value, size)
        relative = {}
        rela = by_name.get(".rela.dyn")
        if rela is not None:
            for i in range(rela[5] // 24):
                off, info, addend = struct.unpack_from("<QQq", data, rela[4] + 24 * i)
                if info & 0xFFFFFFFF == 8:  # R_X86_64_RELATIVE
                    relative[off] = addend
        sections = tuple((s[1], s[3], s[4], s[5]) for s in raw)
        return cls(data, sections, symbols, relative)

    def offset(self, vaddr: int) -> int:
        for typ, addr, off, size in self.sections:
            if typ != 8 and addr and addr <= vaddr < addr + size:  # 8: NOBITS
                return vaddr - addr + off
        raise GenError(f"address {vaddr:#x} is in no section with contents")

    def symbol(self, name: str) -> tuple[int, bytes]:
        """(vaddr, contents) of an exported object."""
        if name not in self.symbols:
            raise GenError(f"the library exports no {name}")
        vaddr, size = self.symbols[name]
        off = self.offset(vaddr)
        return vaddr, self.data[off:off + size]

    def pointer(self, vaddr: int) -> int:
        """The value a pointer stored at vaddr has after relocation (load base 0)."""
        if vaddr in self.relative:
            return self.relative[vaddr]
        return struct.unpack_from("<Q", self.data, self.offset(vaddr))[0]

    def cstring(self, vaddr: int) -> str:
        off = self.offset(vaddr)
        return self.data[off:self.data.index(b"\0", off)].decode()


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Event:
    name: str
    category: int
    flags: int
    params: tuple[tuple[str, int], ...]  # (name, numeric type)


def _cname(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode()


def read_events(elf: Elf) -> list[Event]:
    _, blob = elf.symbol("g_event_info")
    if len(blob) % EVENT_SIZE:
        raise GenError(f"g_event_info is {len(blob)} B, not a multiple of {EVENT_SIZE}")
    out = []
    for e in range(len(blob) // EVENT_SIZE):
        b = e * EVENT_SIZE
        cat, flags, n = struct.unpack_from("<III", blob, b + NAME_LEN)
        if n > MAX_PARAMS:
            raise GenError(f"event {e}: {n} parameters")
        params = []
        for k in range(n):
            p = b + NAME_LEN + 12 + k * PARAM_SIZE
            params.append((_cname(blob[p:p + NAME_LEN]),
                           struct.unpack_from("<I", blob, p + NAME_LEN)[0]))
        out.append(Event(_cname(blob[b:b + NAME_LEN]), cat, flags, tuple(params)))
    if not out or out[0].name != "syscall":
        raise GenError("g_event_info does not start with the generic 'syscall' event")
    return out


_LINE = re.compile(r"^([<>]) (\S+)\((.*)\)$")


def parse_list(text: str) -> list[tuple[bool, str, list[tuple[str, str]]]]:
    """``sysdig -L``: (enter, name, [(type name, parameter name)]) per line."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            raise GenError(f"unexpected sysdig -L line: {line!r}")
        params = []
        for tok in filter(None, (t.strip() for t in m.group(3).split(","))):
            ptype, _, pname = tok.partition(" ")
            params.append((ptype, pname))
        out.append((m.group(1) == ">", m.group(2), params))
    return out


def _bits(v: int) -> list[int]:
    return [1 << i for i in range(32) if v >> i & 1]


def classify(events: list[Event], listed: list[tuple[bool, str, list[tuple[str, str]]]]
             ) -> tuple[int, int, int, list[int]]:
    """(unused bit, old-version bit, large-payload bit, ids -L lists).

    -L leaves out the unused events, the old versions and the internal category;
    the unused bit is the one every placeholder ``NA<n>`` event has, the old-version
    bit and the internal category are the only pair that makes the remaining ids
    match the -L lines one for one."""
    na = [ev.flags for ev in events if re.fullmatch(r"NA\d+", ev.name)]
    common = na[0]
    for f in na[1:]:
        common &= f
    if len(_bits(common)) != 1:
        raise GenError(f"no single flag bit common to the NA events: {common:#x}")
    unused = common

    def matches(ids: list[int]) -> bool:
        if len(ids) != len(listed):
            return False
        for i, (enter, name, params) in zip(ids, listed, strict=True):
            ev = events[i]
            if enter != (i % 2 == 0) or name != ev.name or \
                    [p for _, p in params] != [p for p, _ in ev.params]:
                return False
        return True

    solutions = []
    all_bits = sorted({b for ev in events for b in _bits(ev.flags)} - {unused})
    for bit in all_bits:
        for cat in sorted({ev.category for ev in events}):
            ids = [i for i, ev in enumerate(events)
                   if not ev.flags & (unused | bit) and ev.category != cat]
            if matches(ids):
                solutions.append((bit, ids))
    if len({b for b, _ in solutions}) != 1:
        raise GenError(f"sysdig -L is explained by {len(solutions)} flag/category choices")
    old, ids = solutions[0]
    large = [b for b in {b for ev in events for b in _bits(ev.flags)}
             if {i for i, ev in enumerate(events) if ev.flags & b} == LARGE_EVENTS]
    if len(large) != 1:
        raise GenError("no flag bit marks exactly the large-payload events 322 and 324")
    return unused, old, large[0], ids


def type_names(events: list[Event], listed: list[tuple[bool, str, list[tuple[str, str]]]],
               ids: list[int]) -> dict[int, str]:
    """Numeric parameter type -> -L's name, from every listed parameter (consistent)."""
    out: dict[int, str] = {}
    for i, (_, _, params) in zip(ids, listed, strict=True):
        for (tname, _), (_, num) in zip(params, events[i].params, strict=True):
            if out.setdefault(num, tname) != tname:
                raise GenError(f"type {num} is both {out[num]} and {tname}")
    used = {num for ev in events for _, num in ev.params}
    if used - set(out):
        raise GenError(f"types no -L line names: {sorted(used - set(out))}")
    return out


def read_syscalls(elf: Elf, names: dict[int, str]) -> tuple[dict[str, int], dict[str, int],
                                                             dict[int, str]]:
    """(x86_64 name -> enter event, x86_64 name -> syscall code, code -> name)."""
    _, table = elf.symbol("g_syscall_table")
    _, routing = elf.symbol("g_syscall_code_routing_table")
    n = len(routing) // 4
    if len(table) != n * SYSCALL_ENTRY:
        raise GenError(f"g_syscall_table is {len(table)} B for {n} syscalls")
    sc_vaddr, sc_blob = elf.symbol("g_syscall_info_table")
    if len(sc_blob) % SC_INFO_ENTRY:
        raise GenError("g_syscall_info_table has a partial entry")
    sc_names = {}
    for k in range(len(sc_blob) // SC_INFO_ENTRY):
        sc_names[k] = elf.cstring(elf.pointer(sc_vaddr + k * SC_INFO_ENTRY + 8))
    event, code = {}, {}
    for nr in range(n):
        flags, enter, exit_ = struct.unpack_from("<III", table, nr * SYSCALL_ENTRY)
        name = names.get(nr)
        if flags and exit_ != enter + 1:
            raise GenError(f"syscall {nr}: exit {exit_} is not enter {enter} + 1")
        if name is None:
            continue
        if flags:
            event[name] = enter
        sc = struct.unpack_from("<I", routing, 4 * nr)[0]
        if sc:
            if sc not in sc_names:
                raise GenError(f"syscall {nr} routes to unknown code {sc}")
            code[name] = sc
    if sc_names.get(code.get("read", -1)) != "read":
        raise GenError("the syscall code of read(2) is not named 'read'")
    return event, code, sc_names


# --------------------------------------------------------------------------- output


def _dict(name: str, comment: str, items: list[tuple[object, object]]) -> list[str]:
    lines = [f"# {comment}", f"{name} = {{"]
    lines += [f"    {k!r}: {v!r}," for k, v in items]
    return lines + ["}"]


def build(lib: bytes, list_text: str, syscall_names: dict[int, str], libs_version: str) -> str:
    """The module's text from the library's bytes, ``sysdig -L`` and the syscall names."""
    elf = Elf.parse(lib)
    events = read_events(elf)
    listed = parse_list(list_text)
    unused, old, large, ids = classify(events, listed)
    tnames = type_names(events, listed, ids)
    unknown = sorted(set(tnames.values()) - set(TYPE_CODE))
    if unknown:
        raise GenError(f"no type code for {unknown}")
    sc_event, sc_code, sc_names = read_syscalls(elf, syscall_names)

    doc = f'''"""The event table of the libs sysdig is built on here ({libs_version}), as data:
for each event type id (the position in ``EVENTS``), its name, flags and parameters.

Generated by scripts/gen_scap_eventtable.py (do not edit) from the installed sysdig:
the libscap it links exports the event table (``g_event_info``), the x86_64 syscall
table and the syscall names; ``sysdig -L`` names the {len(tnames)} parameter types and
fixes which flag bits mean what ({len(ids)} of the {len(events)} ids are listed, the
rest are old versions, unused or internal); FORMAT.md (../shared/scap/) gives each
type's bytes and the large-payload events (§1.4).

Flags: ``L`` the parameter length slots are u32 (flag {large:#x}), ``O`` an old
version of an event ({old:#x}), ``U`` unused ({unused:#x}). Parameter types: ``i1 i2
i4 i8 u1 u2 u4 u8`` integers (little-endian; fds, pids and errnos are i8), ``s`` a
NUL-terminated string, ``b`` raw bytes, ``A`` a sockaddr, ``T`` a socket tuple,
``L`` an fd list, ``d`` a dynamic parameter (u8 index + value).
{DECLARED}

``SYSCALL_EVENT`` and ``SYSCALL_SC`` say which enter event the drivers emit for each
x86_64 syscall and which syscall code its generic events carry; a writer that emits
the same is read by sysdig as its own captures. ``PPM_SC`` names the syscall codes
that the generic events (``syscall``, ids 0/1) carry in their ``ID`` parameter.
"""'''
    out = [doc, "", "# ruff: noqa: E501", "", "EVENTS = ("]
    for i, ev in enumerate(events):
        flags = ("L" if ev.flags & large else "") + ("O" if ev.flags & old else "") + \
            ("U" if ev.flags & unused else "")
        params = " ".join(f"{pname.replace(' ', '_')}:{TYPE_CODE[tnames[num]]}"
                          for pname, num in ev.params)
        out.append(f"    ({ev.name!r}, {flags!r}, {params!r}),  # {i}")
    out.append(")")
    out += _dict("PPM_SC", "syscall code -> name (g_syscall_info_table)",
                 sorted(sc_names.items()))
    out.append("")
    out += _dict("SYSCALL_EVENT", "x86_64 syscall name -> the enter event id the drivers emit",
                 sorted(sc_event.items()))
    out += _dict("SYSCALL_SC", "x86_64 syscall name -> its syscall code (the generic events' ID)",
                 sorted(sc_code.items()))
    out += ["", "PPM_EVENT_MAX = len(EVENTS)", ""]
    return "\n".join(out)


def libscap_path(sysdig: str) -> Path:
    """The libscap that the sysdig binary loads (from ldd)."""
    ldd = subprocess.run(["ldd", sysdig], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        m = re.match(r"\s*libscap\.so\S*\s+=>\s+(\S+)", line)
        if m:
            return Path(m.group(1))
    raise GenError(f"{sysdig} does not link a libscap shared library")


def generate() -> str:
    """The module's text from the sysdig on this machine (GenError if there is none)."""
    sysdig = shutil.which("sysdig")
    if sysdig is None:
        raise GenError("sysdig is not installed (scripts/setup.sh installs it)")
    listing = subprocess.run([sysdig, "-L"], capture_output=True, text=True, check=True).stdout
    version = subprocess.run([sysdig, "--libs-version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]  # "falcosecurity/libs version V"
    from cdig.probes.syscall_numbers import X86_64
    return build(libscap_path(sysdig).read_bytes(), listing, X86_64, version)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare, do not write")
    args = ap.parse_args(argv)
    try:
        text = generate()
    except GenError as e:
        print(f"gen_scap_eventtable: {e}", file=sys.stderr)
        return 2
    if args.check:
        same = TARGET.read_text() == text
        print("eventtable.py is up to date" if same else "eventtable.py differs", file=sys.stderr)
        return 0 if same else 1
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
