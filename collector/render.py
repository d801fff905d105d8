"""``-p`` and ``-j`` lines for a whole batch, column-wise.

A compiled format is a sequence of literals and fields. Fields other than the
row-level ones (``collector.vector``) are rendered once per distinct combination
of what they read — with the per-event formatter's own getters and escaping, so
the text is the same byte for byte — and consecutive ones are joined into one
*segment* per combination. A line is then ``literal + row value + segment + …``.
Untrusted text never reaches generated code: literals and segments are values,
not source.

Two builders give the same bytes (tests/unit/test_render_native.py):

* ``collector/native/render.c`` (:meth:`BatchRenderer.encoded`): the line as a
  program of pieces run in C straight into one buffer of UTF-8 — segments and the
  seconds' texts copied from per-batch tables, evt.num/rawtime/latency and the
  nanoseconds formatted there — which the line sink writes with one ``write``;
  the rows are grouped by what the segments read in C too (a hash table, exact).
  ~60 ns a 520-byte ``-j`` line and ~50-90 ns of grouping, where the f-string
  below took ~0.6-0.9 µs a line and ``str.join`` + the text layer's encoding more.
* without a compiler or with ``CDIG_NATIVE=0`` (:meth:`BatchRenderer.lines`): one
  generated f-string per format, evaluated over the rows' columns (converted to
  Python once, with ``tolist``). Why f-strings over pyarrow/polars string
  kernels: measured on this machine (2 vCPU), ``pyarrow.compute.
  binary_join_element_wise`` of 12 pieces costs ~780 ns a row and a cast of a
  uint64 column to string ~50 ns; the generated f-string with 6 substitutions
  ~300 ns a row all in, and reuses the exact per-event formatting of ints
  (``str``) and times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..probes.syscall_table import SyscallTable
from ..probes.syscalls import layout
from .batch import EventBatch
from .fields import NA, Field, second_texts
from .formatter import (
    _JSON_ENCODERS,
    DEFAULT_JSON_FIELDS,
    Formatter,
    _json_value,
    _part,
    escape_json_string,
    parse_format,
    resolve_output,
)
from .native.render import (
    NS_DIGITS,
    NUMBER_MAX,
    OP_I64,
    OP_LIT,
    OP_NS9,
    OP_SEC,
    OP_TAB,
    OP_U64,
    Assembler,
    assembler,
)
from .vector import ARGS, ROW_FIELDS, ArgRelevance, depends, group
from .vector import _columns as key_columns


def _seconds_table(fmt: str, secs: np.ndarray) -> tuple[list[str], list[int]]:
    """The text of each distinct second, and each row's index into it."""
    uniq, inv = np.unique(secs, return_inverse=True)
    return second_texts(fmt, uniq.tolist()), inv.reshape(-1).tolist()


# _RowPart, _DeltaPart, _Prepared: plain classes, not dataclasses (only the renderer
# makes and reads them: none is compared, hashed or printed), each ~0.3 ms less to make
# at every start


class _RowPart:
    """A row-level field's column (evt.num, evt.rawtime …) in the line."""

    __slots__ = ("json", "name")

    def __init__(self, name: str, json: bool) -> None:
        self.name = name  # the row-level field
        self.json = json


class _DeltaPart:
    """A per-output field (evt.deltatime): a column made from the time since the
    previous matched row, which the renderer keeps across batches."""

    __slots__ = ("of",)

    def __init__(self, of: Callable[[int], int | str]) -> None:
        self.of = of


_ROW_COLUMNS: dict[str, Callable[[EventBatch, np.ndarray | slice], np.ndarray]] = {
    "evt.num": lambda b, r: b.num[r],
    "evt.rawtime": lambda b, r: b.ts[r],
    # the decoder gives sched records a latency of 0
    "evt.latency": lambda b, r: np.where(b.cols["kind"][r] <= layout.KIND_SYSCALL_ENTER,
                                         b.cols["latency_ns"][r], 0),
}
_TIME_FORMATS = {"evt.time": "%H:%M:%S", "evt.outputtime": "%H:%M:%S",
                 "evt.datetime": "%Y-%m-%d %H:%M:%S"}


class BatchRenderer:
    """Lines of a batch's rows. Build with :meth:`text` (``-p``) or :meth:`json`.

    ``parts``: the line as ``first`` then (field, literal-after) pairs; ``keyed``
    texts come from ``keyed_text(field, event)`` (None: missing), row-level ones from
    their column. ``require`` lists the fields whose absence skips the line.
    """

    def __init__(self, first: str, parts: Sequence[tuple[Field, str]],
                 keyed_text: Callable[[Field, Any], Callable[[Any], str | None]],
                 require: Sequence[Field], json: bool, syscalls: SyscallTable) -> None:
        self.rel = ArgRelevance(syscalls)
        self.is_json = json  # (not .json: the classmethod's name)
        self.require = tuple(f for f in require
                             if f.name not in ROW_FIELDS and f.per_output is None)
        self.prev_ts: int | None = None  # the last matched row's (evt.deltatime)
        keys: set[str] = set()
        for f, _ in parts:
            if f.name not in ROW_FIELDS and f.per_output is None:
                keys |= depends(f.name)
        for f in self.require:
            keys |= depends(f.name)
        self.keys = frozenset(keys)
        # flatten into literal / row part / segment items, merging keyed runs
        items: list[Any] = [first]
        segments: list[list[tuple[Callable[[Any], str | None], str]]] = []
        for f, lit in parts:
            if f.name in ROW_FIELDS:
                quote = '"' if json and f.name in _TIME_FORMATS else ""
                items += [quote, _RowPart(f.name, json), quote + lit]
            elif f.per_output is not None:
                of = f.per_output.value if json else f.per_output.text
                items += [_DeltaPart(of), lit]
            else:
                if not segments or not isinstance(items[-1], int):
                    segments.append([])
                    items.append(len(segments) - 1)
                segments[-1].append((keyed_text(f, None), lit))
        # a literal just before a segment is part of it: one piece less per row
        prefixes = [""] * len(segments)
        for i, item in enumerate(items):
            if isinstance(item, int) and i and isinstance(items[i - 1], str):
                prefixes[item], items[i - 1] = items[i - 1], ""
        self.prefixes = prefixes
        self.segments = segments
        self.require_get = [f.get for f in self.require]
        self.items = items
        self._merged = _merge(items)
        self._render = _generate(self._merged)
        self.native = assembler()  # None: the f-string path alone
        self._lits: dict[str, list[bytes]] = {}
        # ArgRelevance.rel as a byte of bits per syscall number (bit i: argument i shown),
        # a column at a time: a sum over each row's six took ~1 ms more of every start
        rel = self.rel.rel
        bits = rel[:, 0].astype(np.uint8)
        for i in range(1, rel.shape[1]):
            bits |= rel[:, i].view(np.uint8) << np.uint8(i)
        self._arg_bits = bits
        self.has_deltas = any(isinstance(item, _DeltaPart) for item in items)

    def _deltas(self, b: EventBatch, rows: np.ndarray) -> np.ndarray:
        """Each matched row's time since the matched row before it (sysdig's
        evt.deltatime counts from the previous event to pass the filter, printed or
        skipped for a missing field); the first of the output's is 0."""
        ts = b.ts[rows].astype(np.int64)
        prev = ts[0] if self.prev_ts is None else self.prev_ts
        self.prev_ts = int(ts[-1])
        return np.diff(ts, prepend=np.int64(prev))

    # -- builders ------------------------------------------------------------------------
    @classmethod
    def text(cls, fmt: str, syscalls: SyscallTable) -> BatchRenderer:
        require_all, literals, fields = parse_format(fmt)

        def keyed(f: Field, _: Any) -> Callable[[Any], str | None]:
            return _part(f)

        return cls(literals[0], list(zip(fields, literals[1:], strict=True)), keyed,
                   fields if require_all else (), False, syscalls)

    @classmethod
    def json_fields(cls, names: Sequence[str], syscalls: SyscallTable,
                    require: Sequence[Field] = ()) -> BatchRenderer:
        fields: list[Field] = []
        seen: set[str] = set()
        for name in names:
            f = resolve_output(name)
            if f.name not in seen:
                seen.add(f.name)
                fields.append(f)
        keys = [escape_json_string(f.name) + ":" for f in fields]
        lits = [("," + keys[i + 1]) if i + 1 < len(keys) else "}" for i in range(len(keys))]

        def keyed(f: Field, _: Any) -> Callable[[Any], str | None]:
            get, enc = f.get, _JSON_ENCODERS.get(f.type, _json_value)

            def text(e: Any) -> str:
                v = get(e)
                return "null" if v is None else enc(v)

            return text

        if not fields:
            return cls("{}", [], keyed, (), True, syscalls)
        return cls("{" + keys[0], list(zip(fields, lits, strict=True)), keyed, require, True,
                   syscalls)

    @classmethod
    def json(cls, syscalls: SyscallTable, fmt: str | None = None) -> BatchRenderer:
        """``-j`` (default fields), or ``-j -p FMT``: the format's fields, skipped as
        the format says."""
        if fmt is None:
            return cls.json_fields(DEFAULT_JSON_FIELDS, syscalls)
        f = Formatter(fmt)
        return cls.json_fields([x.name for x in f.fields], syscalls,
                               f.fields if f.require_all else ())

    # -- rendering -----------------------------------------------------------------------
    def lines(self, b: EventBatch, rows: np.ndarray) -> tuple[list[str], int]:
        """The lines of ``rows`` (in order) and how many rows were skipped for a
        missing field."""
        prep = self._prepare(b, rows)
        if prep.rows is None:
            return [], prep.skipped
        return self._render(self._columns(b, prep), prep.tables, prep.codes.tolist()), \
            prep.skipped

    def encoded(self, b: EventBatch, rows: np.ndarray,
                errors: str = "strict") -> tuple[memoryview, int, int] | None:
        """The lines of ``rows`` as UTF-8 (``errors`` as the output stream's), each
        ending in a newline, assembled by the compiled kernel; with how many lines
        and how many rows were skipped. None without the kernel, or when the text
        does not encode (then :meth:`lines`, and the stream, say what is wrong). The
        view is valid until the next call."""
        if self.native is None:
            return None
        prep = self._prepare(b, rows)
        if prep.rows is None:
            return memoryview(b""), 0, prep.skipped
        try:
            data = self._assemble(self.native, b, prep, errors)
        except UnicodeEncodeError:
            data = None
        if data is None:  # the per-batch state (evt.deltatime) moved on: rewind it
            self.prev_ts = prep.prev_ts
            return None
        return data, len(prep.rows), prep.skipped

    def _prepare(self, b: EventBatch, rows: np.ndarray) -> _Prepared:
        """What both line builders need: the segment tables of the rows' groups, each
        printed row's group code, the printed rows and their deltas."""
        prev_ts = self.prev_ts
        if not len(rows):
            return _Prepared(None, None, [], np.zeros(0, np.int64), 0, prev_ts)
        deltas = self._deltas(b, rows) if self.has_deltas else None
        row_codes, first = self._group(b, rows)
        reps = b.events(first)
        skip_key = None
        if self.require_get:
            skip_key = np.fromiter(
                (any(g(e) is None for g in self.require_get) for e in reps), dtype=bool,
                count=len(reps))
        tables = []
        for prefix, seg in zip(self.prefixes, self.segments, strict=True):
            tab = []
            for e in reps:
                out = [prefix]
                for get, lit in seg:
                    v = get(e)
                    out.append(NA if v is None else v)
                    out.append(lit)
                tab.append("".join(out))
            tables.append(tab)
        skipped = 0
        if skip_key is not None:
            ok = ~skip_key[row_codes]
            skipped = int(len(rows) - np.count_nonzero(ok))
            if skipped:
                rows = rows[ok]
                row_codes = row_codes[ok]
                if deltas is not None:
                    deltas = deltas[ok]
        if not len(rows):
            return _Prepared(None, deltas, tables, row_codes, skipped, prev_ts)
        return _Prepared(rows, deltas, tables, row_codes, skipped, prev_ts)

    def _columns(self, b: EventBatch, prep: _Prepared) -> list[Any]:
        """The row parts' columns as Python values, for the generated f-string."""
        rows, deltas = prep.rows, prep.deltas
        assert rows is not None
        cols: list[Any] = []
        for item in self.items:
            if isinstance(item, _DeltaPart):
                assert deltas is not None
                cols.append([item.of(d) for d in deltas.tolist()])
            elif isinstance(item, _RowPart):
                fmt = _TIME_FORMATS.get(item.name)
                if fmt is not None:
                    ts = b.ts[rows].astype(np.int64)
                    table, idx = _seconds_table(fmt, ts // 1_000_000_000)
                    cols.append(table)
                    cols.append(idx)
                    cols.append((ts % 1_000_000_000).tolist())
                else:
                    cols.append(_ROW_COLUMNS[item.name](b, rows).tolist())
        return cols

    def _assemble(self, asm: Assembler, b: EventBatch, prep: _Prepared,
                  errors: str) -> memoryview | None:
        """The lines through render.c: :attr:`_merged` as a program over this batch's
        tables and columns (see collector.native.render)."""
        rows = prep.rows
        assert rows is not None
        # every row printed (a storm the filter matches): the columns as they are
        at: np.ndarray | slice = slice(None) if len(rows) == len(b) else rows
        entries = list(self._literals(errors))  # entry i: the i-th literal
        ops: list[tuple[int, int, int, int, int]] = []
        cols: list[np.ndarray] = []
        row_max = 1  # the newline

        def table(texts: list[str]) -> tuple[int, int, int]:
            """(first entry, entries, longest) of ``texts`` added to the entries."""
            start = len(entries)
            entries.extend(x.encode("utf-8", errors) for x in texts)
            return start, len(texts), max((len(x) for x in entries[start:]), default=0)

        segs = [table(tab) for tab in prep.tables]
        codes_col = -1
        ts_col = -1
        lit = 0
        for item in self._merged:
            if isinstance(item, str):
                ops.append((OP_LIT, lit, 0, 0, 0))
                row_max += len(entries[lit])
                lit += 1
            elif isinstance(item, int):
                if codes_col < 0:
                    codes_col = len(cols)
                    cols.append(prep.codes)
                first, count, longest = segs[item]
                ops.append((OP_TAB, first, count, codes_col, 0))
                row_max += longest
            elif isinstance(item, _DeltaPart):
                assert prep.deltas is not None
                uniq, inv = np.unique(prep.deltas, return_inverse=True)
                first, count, longest = table([f"{item.of(d)}" for d in uniq.tolist()])
                ops.append((OP_TAB, first, count, len(cols), 0))
                cols.append(inv.reshape(-1))
                row_max += longest
            elif item.name in _TIME_FORMATS:  # the second's text, '.', 9 digits
                if ts_col < 0:
                    ts_col = len(cols)
                    cols.append(b.ts[at])
                ts = cols[ts_col].view(np.int64) if cols[ts_col].dtype.itemsize == 8 \
                    else cols[ts_col].astype(np.int64)
                fmt = _TIME_FORMATS[item.name]
                lo, hi = int(ts.min()) // 1_000_000_000, int(ts.max()) // 1_000_000_000
                # each second's text with the '.' before the nanoseconds
                if hi - lo < 4096:  # the seconds the batch spans (one or two, live)
                    texts = second_texts(fmt, list(range(lo, hi + 1)))
                    first, count, longest = table([x + "." for x in texts])
                    ops.append((OP_SEC, ts_col, first, count, lo))
                else:
                    texts, idx = _seconds_table(fmt, ts // 1_000_000_000)
                    first, count, longest = table([x + "." for x in texts])
                    ops.append((OP_TAB, first, count, len(cols), 0))
                    cols.append(np.asarray(idx, dtype=np.int64))
                ops.append((OP_NS9, ts_col, 0, 0, 0))
                row_max += longest + NS_DIGITS
            else:
                v = _ROW_COLUMNS[item.name](b, at)
                ops.append((OP_U64 if v.dtype.kind == "u" else OP_I64, len(cols), 0, 0, 0))
                cols.append(v)
                row_max += NUMBER_MAX
        # 8-byte integers as they are (uint64 read as such by OP_U64), others widened
        cols = [np.ascontiguousarray(c) if c.dtype.itemsize == 8 and c.dtype.kind in "iu"
                else c.astype(np.int64) for c in cols]
        return asm.lines(np.array(ops, dtype=np.int64).reshape(-1, 5), cols, entries,
                         len(rows), row_max)

    def _literals(self, errors: str) -> list[bytes]:
        """The format's literals (in :attr:`_merged` order), encoded."""
        hit = self._lits.get(errors)
        if hit is None:
            texts = [x for x in self._merged if isinstance(x, str)]
            hit = self._lits[errors] = [s.encode("utf-8", errors) for s in texts]
        return hit

    def _group(self, b: EventBatch, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a code per printed row, the first printed row of each code): ``rows``
        grouped on what the segments read — only the printed rows' groups, so a
        batch's other processes' rows cost no segment text.

        Through render.c's hash table when compiled (exact, codes in order of first
        sight, as vector.group; the whole batch's grouping shared through the batch
        cache when every row is printed). The arguments a syscall does not show read
        as 0 there too, masked in C from a byte of bits per row (not a masked copy
        of every row's six arguments)."""
        asm = self.native
        key = ("group", self.keys)
        cache: dict[Any, Any] = b._cache  # vector.group's key: a tuple
        every = len(rows) == len(b)
        hit = cache.get(key)
        if hit is None and asm is not None and self.keys:
            cols: list[Any] = key_columns(b, self.keys - {ARGS}, self.rel)
            if ARGS in self.keys:
                masked = cache.get("masked_args")
                if masked is not None:
                    cols += [masked[:, i] for i in range(6)]
                else:
                    c = b.cols
                    shown = np.where(c["kind"] <= layout.KIND_SYSCALL_ENTER,
                                     self._arg_bits[c["nr"]], np.uint8(0b11))
                    args = b.rec["args"]
                    cols += [(args[:, i], shown, i) for i in range(6)]
            if not every:
                return asm.group(cols, len(b), rows)
            hit = cache[key] = asm.group(cols, len(b))
        codes, first = hit if hit is not None else group(b, self.keys, self.rel)
        if every:
            return codes, first
        # the groups of the printed rows, renumbered in order of first sight
        row_codes = codes[rows]
        used = np.zeros(len(first), dtype=bool)
        used[row_codes] = True
        renum = np.cumsum(used) - 1
        return renum[row_codes], first[used]


class _Prepared:
    """A batch's matched rows made ready to print (BatchRenderer._prepare)."""

    __slots__ = ("codes", "deltas", "prev_ts", "rows", "skipped", "tables")

    def __init__(self, rows: np.ndarray | None, deltas: np.ndarray | None,
                 tables: list[list[str]], codes: np.ndarray, skipped: int,
                 prev_ts: int | None) -> None:
        self.rows = rows  # None: nothing to print
        self.deltas = deltas
        self.tables = tables
        self.codes = codes  # each printed row's group
        self.skipped = skipped
        self.prev_ts = prev_ts  # evt.deltatime's before this batch


def _merge(items: list[Any]) -> list[Any]:
    """``items`` with adjacent literals as one, and no empty literal."""
    merged: list[Any] = []
    for item in items:
        if isinstance(item, str) and merged and isinstance(merged[-1], str):
            merged[-1] += item
        else:
            merged.append(item)
    return [x for x in merged if not isinstance(x, str) or x]


def _generate(merged: list[Any]) -> Callable[[list[Any], list[list[str]], list[int]], list[str]]:
    """Compile the line builder of ``merged`` (:func:`_merge`): literal strings, row
    parts and segment indexes. Literals and tables are bound to names (``L0``, ``S0``
    …): no value of the format or of the data is ever part of the generated source."""
    ns: dict[str, Any] = {}
    pieces: list[str] = []
    targets: list[str] = []
    sources: list[str] = []
    prologue: list[str] = []
    segs: set[int] = set()
    col = 0
    for item in merged:
        if isinstance(item, str):
            if item:
                name = f"L{len(ns)}"
                ns[name] = item
                pieces.append("{" + name + "}")
        elif isinstance(item, int):
            segs.add(item)
            pieces.append(f"{{S{item}[k]}}")
        elif isinstance(item, _RowPart) and item.name in _TIME_FORMATS:  # seconds, index, ns
            prologue.append(f"T{col} = cols[{col}]")
            targets += [f"i{col}", f"n{col}"]
            sources += [f"cols[{col + 1}]", f"cols[{col + 2}]"]
            pieces.append(f"{{T{col}[i{col}]}}.{{n{col}:09d}}")
            col += 3
        else:
            targets.append(f"v{col}")
            sources.append(f"cols[{col}]")
            pieces.append(f"{{v{col}}}")
            col += 1
    code = ["def render(cols, tables, K):"]
    code += [f"    {p}" for p in prologue]
    code += [f"    S{s} = tables[{s}]" for s in sorted(segs)]
    loop = f"{', '.join([*targets, 'k'])} in zip({', '.join([*sources, 'K'])})" if targets \
        else "k in K"
    code.append(f'    return [f"{"".join(pieces)}" for {loop}]')
    exec(compile("\n".join(code), "<cdig-render>", "exec"), ns)  # see doc
    render: Callable[[list[Any], list[list[str]], list[int]], list[str]] = ns["render"]
    return render
