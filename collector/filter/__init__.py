"""The filter language: a sysdig-compatible subset.

    proc.name = nginx and (evt.type in (open, openat) or evt.failed = true)
    not fd.name pmatch (/proc, /sys) and container.name startswith "web-"

Operators ``= == != < <= > >= contains icontains startswith endswith glob bcontains
bstartswith in intersects pmatch exists``, ``and``/``or``/``not`` (``not`` binds
tightest, then ``and``, then ``or``), parentheses, lists (``in ()`` is empty), values
bare or quoted with ``"``/``'`` and sysdig 0.29.3's escapes (``\\\\``, ``\\"``,
``\\xNN`` a byte; any other backslash stays as typed). Fields are the ones of
:mod:`cdig.collector.fields`; event types and argument names are checked
(:mod:`.names`: cdig's and sysdig's, with sysdig's as aliases). A field the event
does not have makes every comparison false (``exists`` is how to test for it), as
in sysdig. An empty filter matches all.

The text is parsed once into an AST (:func:`parse`) and compiled once into nested
closures (:func:`compile_expr`): no per-event parsing. Every error is a
:class:`FilterError` with the 0-based column of the problem.

Two optimisations read the same AST: :func:`pushdown` extracts what the kernel can
drop early (:class:`KernelFilter`), and :func:`compile_vectorized` evaluates filters
over raw-record fields on a whole numpy batch at once.

One concept per module: ``tree`` (the AST, its operators, the AST back to text),
``syntax`` (the parser, positioned errors), ``compile`` (AST → predicate),
``pushdown`` (→ KernelFilter), ``raw`` (numpy over raw records), ``batch`` (a mask
over an enriched EventBatch).
"""

from ...probes.kernel_filter import KernelFilter
from .compile import (
    Filter,
    Predicate,
    _compile_compare,
    _compile_string_op,
    _convert,
    _Operand,
    compile_expr,
    compile_filter,
    parse_bool,
    parse_int,
    pmatch,
)
from .pushdown import pushdown
from .raw import VECTOR_FIELDS, Mask, RawColumns, _vec_int, _vec_isin, compile_vectorized
from .syntax import MAX_DEPTH, FilterError, parse
from .tree import (
    BYTE_OPS,
    COMPARE_OPS,
    KEYWORDS,
    LIST_OPS,
    OPERATORS,
    STRING_OPS,
    WORD_OPS,
    And,
    Compare,
    Expr,
    Not,
    Or,
    fields_used,
    to_text,
    walk,
)

__all__ = [
    "BYTE_OPS", "COMPARE_OPS", "KEYWORDS", "LIST_OPS", "MAX_DEPTH", "OPERATORS", "STRING_OPS",
    "VECTOR_FIELDS",
    "WORD_OPS", "And", "Compare", "Expr", "Filter", "FilterError", "KernelFilter", "Mask", "Not",
    "Or", "Predicate", "RawColumns", "compile_expr", "compile_filter", "compile_vectorized",
    "fields_used", "parse", "parse_bool", "parse_int", "pmatch", "pushdown", "to_text", "walk",
    "_Operand", "_compile_compare", "_compile_string_op", "_convert", "_vec_int", "_vec_isin",
]
