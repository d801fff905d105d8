"""Events as flat tables: Parquet, CSV or JSON lines, one column per filter field.

Column names are the filter/format field names (``evt.type``, ``proc.name``,
``container.name`` …) so a query reads like a filter; values are the fields'
typed values (numbers as int64, ``evt.failed`` as bool, the rest as strings;
null where sysdig prints ``<NA>``). ``EXPORT_FIELDS`` is the default set;
any field of ``cdig trace -l`` (``evt.arg.NAME`` too) can be asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, BinaryIO

from .events import Event
from .fields import Field, FieldType, resolve

EXPORT_FIELDS: tuple[str, ...] = (
    "evt.num", "evt.rawtime", "evt.cpu", "evt.type", "evt.dir", "evt.res", "evt.rawres",
    "evt.failed", "evt.latency", "evt.args",
    "proc.name", "proc.pid", "proc.ppid", "proc.exe", "proc.cmdline", "thread.tid",
    "user.uid", "user.name",
    "container.id", "container.full_id", "container.name", "container.image", "container.type",
    "k8s.pod.name", "k8s.ns.name",
    "fd.num", "fd.type", "fd.name", "fd.cip", "fd.cport", "fd.sip", "fd.sport", "fd.l4proto",
    "fs.path.name",
)
FORMATS = ("parquet", "csv", "jsonl")
CHUNK = 65536


def arrow_type(f: Field) -> Any:
    import pyarrow as pa

    if f.type in (FieldType.INT, FieldType.PORT):
        return pa.int64()
    if f.type == FieldType.BOOL:
        return pa.bool_()
    return pa.string()


def type_name(f: Field) -> str:
    return {FieldType.INT: "int64", FieldType.PORT: "int64", FieldType.BOOL: "bool"}.get(
        f.type, "string")


def columns_help(fields: Sequence[str] = EXPORT_FIELDS) -> str:
    """The documented column list (``cdig export --help``)."""
    resolved = [resolve(n) for n in fields]
    width = max(len(f.name) for f in resolved) + 2
    lines = ["columns (default set; --fields picks any field of `cdig trace -l`):"]
    for f in resolved:
        lines.append(f"  {f.name:<{width}}{type_name(f):<8}{f.description}")
    return "\n".join(lines)


def _clean(s: str) -> str:
    """Lone surrogates (bytes that were not UTF-8) as \\xNN text: Arrow wants UTF-8."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class TableExporter:
    """A sink writing events to Parquet or CSV in chunks of ``chunk`` rows."""

    def __init__(self, out: BinaryIO, fmt: str, fields: Sequence[str] = EXPORT_FIELDS,
                 chunk: int = CHUNK) -> None:
        import pyarrow as pa

        self.fields = [resolve(n) for n in fields]
        self.getters = [self._getter(f) for f in self.fields]
        self.schema = pa.schema([pa.field(f.name, arrow_type(f)) for f in self.fields])
        self.fmt = fmt
        self.out = out
        self.chunk = chunk
        self.rows = 0
        self._cols: list[list[Any]] = [[] for _ in self.fields]
        self._n = 0
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(out, self.schema, compression="zstd")
        elif fmt == "csv":
            import pyarrow.csv as pacsv

            self._writer = pacsv.CSVWriter(out, self.schema)
        else:
            raise ValueError(f"TableExporter writes parquet or csv, not {fmt!r}")

    @staticmethod
    def _getter(f: Field) -> Any:
        if f.type == FieldType.DYNAMIC:
            return f.text  # lists and mixed types: as printed
        if f.type in (FieldType.INT, FieldType.PORT, FieldType.BOOL):
            return f.get
        return f.text if f.type == FieldType.IP else f.get

    def __call__(self, ev: Event) -> None:
        for col, get in zip(self._cols, self.getters, strict=True):
            col.append(get(ev))
        self._n += 1
        if self._n >= self.chunk:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if not self._n:
            return
        arrays = []
        for f, col in zip(self.schema, self._cols, strict=True):
            try:
                arrays.append(pa.array(col, type=f.type))
            except (pa.ArrowException, UnicodeEncodeError):
                arrays.append(pa.array([None if v is None else _clean(str(v)) for v in col],
                                       type=f.type))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows += self._n
        self._cols = [[] for _ in self.fields]
        self._n = 0

    def close(self) -> None:
        self.flush()
        self._writer.close()


class JsonLinesExporter:
    """A sink writing one JSON object per event (the same encoding as ``trace -j``)."""

    def __init__(self, out: BinaryIO, fields: Sequence[str] = EXPORT_FIELDS) -> None:
        from .formatter import JsonFormatter

        self.format = JsonFormatter(fields).format
        self.out = out
        self.rows = 0
        self._buf: list[str] = []

    def __call__(self, ev: Event) -> None:
        self._buf.append(self.format(ev))
        self.rows += 1
        if len(self._buf) >= 4096:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self.out.write(("\n".join(self._buf) + "\n").encode("utf-8"))
            self._buf.clear()

    def close(self) -> None:
        self.flush()
        self.out.flush()


def exporter(out: BinaryIO, fmt: str, fields: Sequence[str] = EXPORT_FIELDS) -> Any:
    """The sink for ``fmt`` (parquet, csv, jsonl) writing to ``out``."""
    if fmt == "jsonl":
        return JsonLinesExporter(out, fields)
    return TableExporter(out, fmt, fields)
