"""A filter over raw-record fields, evaluated with numpy on a whole batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..events import Event, EventKind
from ..fields import (
    errno_name,
    errno_number,
    resolve,
)

if TYPE_CHECKING:
    import numpy as np

from .compile import _compile_compare, _compile_string_op, _convert, _Operand, compile_expr
from .tree import And, Compare, Expr, Not, Or, fields_used

# --------------------------------------------------------------------------- vectorised


def _decoder_sched_types() -> dict[int, str]:
    return {
        int(EventKind.EXEC): "procexec",
        int(EventKind.FORK): "procfork",
        int(EventKind.EXIT): "procexit",
    }


@dataclass(frozen=True)
class RawColumns:
    """How filter fields map onto a batch of raw records (``probes.layout.RECORD``).

    The vectorised evaluator agrees with the per-event one as long as the decoder
    keeps this contract: ``Event.type`` is ``syscall_name(nr)`` for kinds SYSCALL and
    SYSCALL_ENTER and ``sched_types[kind]`` for the others; ``Event.comm`` is the comm
    bytes up to the first NUL decoded as UTF-8 with errors=``comm_errors``;
    ``Event.res`` is ``ret`` for SYSCALL records (0 otherwise); ``latency_ns`` is the
    column for syscall kinds (0 otherwise); ``pid``, ``tid``, ``uid`` are the columns.
    """

    syscall_name: Callable[[int], str]  # nr -> evt.type, as the decoder names it
    sched_types: Mapping[int, str] = field(default_factory=_decoder_sched_types)
    comm_errors: str = "backslashreplace"
    nr: str = "nr"
    kind: str = "kind"
    pid: str = "pid"
    tid: str = "tid"
    uid: str = "uid"
    ret: str = "ret"
    latency: str = "latency_ns"
    comm: str = "comm"


VECTOR_FIELDS = frozenset(
    {"evt.type", "proc.pid", "thread.tid", "user.uid", "evt.rawres", "evt.res", "evt.failed",
     "evt.latency", "proc.name"}
)
# records: a structured array of raw records, or batch.Columns (read by name alike)
Mask = Callable[[Any], "np.ndarray"]
_In = TypeVar("_In")  # what a mask is computed over
_SYSCALL_KINDS = (int(EventKind.SYSCALL), int(EventKind.SYSCALL_ENTER))


def _syscall_kind(kind: Any, np: Any) -> Any:
    """Rows of a syscall kind: two compares (np.isin of a 16k batch took ~60x longer)."""
    return np.equal(kind, _SYSCALL_KINDS[0]) | np.equal(kind, _SYSCALL_KINDS[1])


def compile_vectorized(expr: Expr | None, columns: RawColumns) -> Mask | None:
    """A function ``records -> bool mask`` computing the filter on a raw-record batch.

    Returns None when the filter reads a field that is not in the raw record (anything
    outside :data:`VECTOR_FIELDS`); the caller then decodes and uses the per-event
    predicate. The mask equals the per-event predicate on the decoded events (see
    :class:`RawColumns` for the decoder contract this relies on).
    Raises FilterError like :func:`compile_expr` for ill-typed comparisons.
    """
    import numpy as np  # only the vectorised path needs numpy

    compile_expr(expr)  # the same type checks and errors as the per-event path
    if expr is None:
        return lambda rec: np.ones(len(rec), dtype=bool)
    if not fields_used(expr) <= VECTOR_FIELDS:
        return None
    return _vec(expr, columns, np)


def logical_mask(expr: Not | And | Or, child: Callable[[Expr], Callable[[_In], Any]],
                 np: Any) -> Callable[[_In], Any]:
    """The mask of a not/and/or node over any input (raw records, an EventBatch), from
    the masks ``child`` compiles for its operands."""
    if isinstance(expr, Not):
        inner = child(expr.item)
        return lambda x: ~inner(x)
    parts = [child(item) for item in expr.items]
    combine = np.logical_and if isinstance(expr, And) else np.logical_or

    def combined(x: _In) -> Any:
        mask = parts[0](x)
        for p in parts[1:]:
            mask = combine(mask, p(x))
        return mask

    return combined


def _vec(expr: Expr, cols: RawColumns, np: Any) -> Mask:
    if isinstance(expr, Not | And | Or):
        return logical_mask(expr, lambda e: _vec(e, cols, np), np)
    return _vec_compare(expr, cols, np)


def _per_distinct(column: str, verdict: Callable[[Any], bool], np: Any) -> Mask:
    """The mask of ``verdict(value)``, asked once per distinct value of ``column`` in a
    batch and remembered across batches (up to 65,536 values, then forgotten at once)."""
    cache: dict[Any, bool] = {}

    def mask(rec: Any) -> Any:
        uniq, inverse = np.unique(rec[column], return_inverse=True)
        lut = np.empty(len(uniq), dtype=bool)
        for i, v in enumerate(uniq.tolist()):
            hit = cache.get(v)
            if hit is None:
                if len(cache) > 65536:
                    cache.clear()
                hit = cache[v] = verdict(v)
            lut[i] = hit
        return lut[inverse.reshape(-1)]

    return mask


def _vec_int(col: Any, op: str, x: int, np: Any) -> Any:
    """``col op x`` for an integer column, exact even when x is outside the dtype's range."""
    info = np.iinfo(col.dtype)
    if x < info.min or x > info.max:
        below = x < info.min  # then every element is above x; else every one is below
        const = {
            "=": False, "==": False, "!=": True,
            "<": not below, "<=": not below, ">": below, ">=": below,
        }[op]
        return np.full(len(col), const, dtype=bool)
    ufunc = {
        "=": np.equal, "==": np.equal, "!=": np.not_equal,
        "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    }[op]
    return ufunc(col, col.dtype.type(x))


def _vec_isin(col: Any, values: Any, np: Any) -> Any:
    info = np.iinfo(col.dtype)
    keep = [v for v in values if info.min <= v <= info.max]
    if not keep:
        return np.zeros(len(col), dtype=bool)
    return np.isin(col, np.array(keep, dtype=col.dtype))


class _Probe:
    """Just enough of an Event for the getters of evt.type and proc.name."""

    __slots__ = ("type", "comm")

    def __init__(self, type: str = "", comm: str = "") -> None:
        self.type = type
        self.comm = comm


def _probe(type: str = "", comm: str = "") -> Event:
    """A ``_Probe`` where a getter wants an Event (it reads only these two)."""
    return cast("Event", _Probe(type, comm))


class _LazyLut:
    """A lookup table over a small integer domain (syscall nr, kind), filled on first
    sight of each index with the per-event predicate — exact by construction."""

    def __init__(self, size: int, compute: Callable[[int], bool], np: Any) -> None:
        self.table = np.full(size, -1, dtype=np.int8)
        self.compute = compute
        self.np = np

    def __call__(self, index: Any) -> Any:
        np = self.np
        vals = self.table.take(index)  # take: ~1.7x a fancy index's speed on a 16k batch
        unknown = vals < 0
        if unknown.any():
            u = index[unknown]
            if u.min() >= 0:  # a bitmap over the domain, not np.unique: that imports
                seen = np.zeros(len(self.table), dtype=bool)  # numpy.ma (16 ms of start-up)
                seen[u] = True
                firsts = np.flatnonzero(seen).tolist()
            else:
                firsts = np.unique(u).tolist()
            for i in firsts:
                self.table[i] = 1 if self.compute(i) else 0
            vals = self.table.take(index)
        return vals.view(bool)  # every entry looked up is 0 or 1 now


def _vec_compare(node: Compare, cols: RawColumns, np: Any) -> Mask:
    name, op = node.field, node.op
    f = resolve(name)
    val = _convert(node, f, "")

    def is_syscall(rec: Any) -> Any:
        return rec[cols.kind] == int(EventKind.SYSCALL)

    if name == "evt.type":
        pred = _compile_compare(node, "")
        sys_lut = _LazyLut(65536, lambda nr: pred(_probe(type=cols.syscall_name(nr))), np)
        kind_lut = _LazyLut(256, lambda k: pred(_probe(type=cols.sched_types.get(k, ""))), np)

        def evt_type(rec: Any) -> Any:
            kind = rec[cols.kind]
            syscall = _syscall_kind(kind, np)
            mask = sys_lut(rec[cols.nr])
            if syscall.all():  # no sched record (the common batch): no kind lookup
                return mask
            other = np.flatnonzero(~syscall)  # the sched records typed by their kind
            mask[other] = kind_lut(kind[other])
            return mask

        return evt_type
    if name == "proc.name":
        return _vec_comm(node, val, cols, np)
    if op == "exists" and name not in ("evt.rawres", "evt.res"):
        return lambda rec: np.ones(len(rec), dtype=bool)
    if name == "evt.failed":
        return _vec_failed(op, val, cols, np, is_syscall)
    if name == "evt.res":
        return _vec_res(op, val, cols, np, is_syscall)

    column = {
        "proc.pid": cols.pid,
        "thread.tid": cols.tid,
        "user.uid": cols.uid,
        "evt.latency": cols.latency,
        "evt.rawres": cols.ret,
    }[name]

    def values(rec: Any) -> Any:
        c = rec[column]
        if name == "evt.latency":  # the decoder gives sched events a latency of 0
            c = np.where(_syscall_kind(rec[cols.kind], np), c, c.dtype.type(0))
        return c

    def int_mask(rec: Any) -> Any:
        if op == "exists":
            m = np.ones(len(rec), dtype=bool)
        elif op == "in":
            m = _vec_isin(values(rec), val.typed, np)
        else:
            m = _vec_int(values(rec), op, val.typed[0], np)
        return m & is_syscall(rec) if name == "evt.rawres" else m  # no rawres: <NA>

    return int_mask


def _vec_failed(op: str, val: _Operand, cols: RawColumns, np: Any, is_syscall: Any) -> Mask:
    def failed(rec: Any) -> Any:
        r = rec[cols.ret]
        return is_syscall(rec) & (r < 0) & (r > -4096)

    wanted = set(val.typed)  # {True}, {False} or both
    if op == "!=":
        wanted = {True, False} - wanted
    if wanted == {True}:
        return failed
    if wanted == {False}:
        return lambda rec: ~failed(rec)
    const = bool(wanted)
    return lambda rec: np.full(len(rec), const, dtype=bool)


def _text(res: Any) -> str | None:
    return str(res)


def _vec_res(op: str, val: _Operand, cols: RawColumns, np: Any, is_syscall: Mask) -> Mask:
    """evt.res is SUCCESS or the errno name, for SYSCALL records only."""
    if op == "exists":
        return is_syscall
    if op not in ("=", "==", "!=", "in"):  # string tests on names: once per distinct ret
        test = _compile_string_op(_text, op, val)  # the "event" is the res text

        def res_test(r: int) -> bool:
            return test(errno_name(-r) if -4096 < r < 0 else "SUCCESS")  # type: ignore[arg-type]

        by_ret = _per_distinct(cols.ret, res_test, np)
        return lambda rec: by_ret(rec) & is_syscall(rec)
    rets: set[int] = set()
    success = False
    for v in val.texts:  # already canonical errno names
        if v == "SUCCESS":
            success = True
            continue
        n = errno_number(v)
        if n is not None and 0 < n < 4096:
            rets.add(-n)
    ret_values = sorted(rets)

    def eq(rec: Any) -> Any:
        r = rec[cols.ret]
        m = _vec_isin(r, ret_values, np)
        if success:
            m = m | ~((r < 0) & (r > -4096))
        return m & is_syscall(rec)

    if op == "!=":
        return lambda rec: is_syscall(rec) & ~eq(rec)
    return eq


def _vec_comm(node: Compare, val: _Operand, cols: RawColumns, np: Any) -> Mask:
    op = node.op
    if op == "exists":
        return lambda rec: np.ones(len(rec), dtype=bool)
    pred = _compile_compare(node, "")
    direct = _comm_bytes(val.texts, op, cols.comm_errors)
    if direct is not None and op in ("=", "==", "!=", "in"):
        # numpy compares S16 values ignoring trailing NULs, as the decoder cuts at NUL.

        def eq(rec: Any) -> Any:
            c = rec[cols.comm]
            fits = [b for b in direct if len(b) <= c.dtype.itemsize]
            if not fits:
                return np.zeros(len(rec), dtype=bool)
            want = np.array(fits, dtype=c.dtype)
            if len(fits) > 4 or c.dtype.itemsize % 8 or not c.flags.c_contiguous:
                return np.isin(c, want)
            # as 8-byte words, ~10x faster than isin or == on S16 (which sort or
            # compare byte-wise); the same answer: numpy pads the shorter with NULs
            words = c.dtype.itemsize // 8
            w, vs = c.view(np.uint64).reshape(len(c), words), want.view(np.uint64)
            hit = np.zeros(len(c), dtype=bool)
            for v in vs.reshape(len(fits), words):
                m = w[:, 0] == v[0]
                for k in range(1, words):
                    m &= w[:, k] == v[k]
                hit |= m
            return hit

        if op == "!=":
            return lambda rec: ~eq(rec)
        return eq
    if direct is not None and op in ("contains", "startswith", "endswith"):
        test = {
            "contains": lambda c, b: np.char.find(c, b) >= 0,
            "startswith": np.char.startswith,
            "endswith": np.char.endswith,
        }[op]
        needle = direct[0]
        return lambda rec: np.asarray(test(rec[cols.comm], needle), dtype=bool)

    # Anything else: the per-event comparison once per distinct comm, remembered.
    errors = cols.comm_errors
    return _per_distinct(cols.comm, lambda b: pred(_probe(
        comm=b.split(b"\0", 1)[0].decode("utf-8", errors))), np)


def _comm_bytes(texts: tuple[str, ...], op: str, errors: str) -> list[bytes] | None:
    """The byte strings to compare comm with directly, or None when a byte comparison
    would not be exact (the value holds NUL, surrogates, or text that decoding errors
    produce: a backslash for backslashreplace, U+FFFD for replace)."""
    out = []
    for t in texts:
        try:
            b = t.encode("utf-8")  # strict: a value with surrogates is not plain text
        except UnicodeEncodeError:
            return None
        if b"\0" in b:
            return None
        if errors != "surrogateescape":
            if "\\" in t or "\ufffd" in t:
                return None
            if op not in ("=", "==", "!=", "in"):
                return None  # "xff" can be inside the text of an undecodable byte
        out.append(b)
    return out

