"""state_rows._clone is copy.copy of an FdInfo: every field, whatever fields it has."""

from __future__ import annotations

import copy
from dataclasses import fields

from cdig.collector.events import FdInfo
from cdig.collector.state_rows import _clone


def test_clone_copies_every_field():
    values = {"num": 7, "type": "ipv4", "name": "a:1->b:2", "l4proto": "tcp", "cip": "a",
              "cport": 1, "sip": "b", "sport": 2, "local_is_client": False}
    for f in fields(FdInfo):  # a field added later gets a value of its type too
        values.setdefault(f.name, f.type == "int" and 5 or "x")
    fd = FdInfo(**values)
    twin = _clone(fd)
    assert twin == copy.copy(fd) and twin is not fd
    assert {f.name: getattr(twin, f.name) for f in fields(FdInfo)} == values
