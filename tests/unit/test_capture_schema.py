"""The capture's Arrow schema is derived from the probe's record layout; version 1
of the file format is pinned here, so a layout change that would alter the files
fails until FORMAT_VERSION (and the reader) say what changed."""

from __future__ import annotations

import pyarrow as pa

from cdig.collector.capture import format as fmt
from cdig.probes.syscalls import layout

U64, I64, U32 = pa.uint64(), pa.int64(), pa.uint32()
U16, I16, U8 = pa.uint16(), pa.int16(), pa.uint8()


def col(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


VERSION_1 = pa.schema([
    col("num", U64), col("ctx", pa.bool_()),
    col("ts_ns", U64), col("latency_ns", U64), col("cgroup_id", U64), col("ret", I64),
    *[col(f"arg{i}", U64) for i in range(6)],
    col("pid", U32), col("tid", U32), col("uid", U32), col("gid", U32),
    col("nr", U16), col("kind", U8), col("flags", U8), col("cpu", U32),
    col("comm", pa.binary()),
    col("len1", I16, True), col("len2", I16, True), col("argc", U16, True),
    col("pad", U16, True), col("str1", pa.binary(), True), col("str2", pa.binary(), True),
])


def test_schema_is_version_1():
    assert fmt.FORMAT_VERSION == 1
    assert fmt.SCHEMA.equals(VERSION_1, check_metadata=True)


def test_every_record_field_is_a_column():
    names = set(fmt.SCHEMA.names)
    for name in layout.RECORD.names:
        if name == "args":
            assert {f"arg{i}" for i in range(6)} <= names
        else:
            assert name in names
    for name in layout.EXT_RECORD.names:
        assert name == "ev" or name in names
    # integer columns have the record's width
    for name in fmt._PLAIN_INT_COLUMNS:
        assert fmt.SCHEMA.field(name).type == pa.from_numpy_dtype(layout.RECORD.fields[name][0])
