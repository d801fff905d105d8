"""The one list of byte-moving syscalls (probes/io_calls.py) and its readers."""

from __future__ import annotations

import pytest
from factories import make_event

from cdig.collector import aggregate
from cdig.collector.fields import resolve
from cdig.probes import io_calls
from cdig.probes.metrics.layout import CLS_NET, CLS_RW, sysclass
from cdig.probes.syscall_table import table


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_every_name_is_a_syscall_of_both_architectures(arch):
    known = table(arch).by_name
    names = io_calls.IO_READS | io_calls.IO_WRITES
    assert names - set(known) == set()


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_metrics_probe_classes_exactly_the_byte_calls(arch):
    t = table(arch)
    cls = sysclass(t)
    counted = {t.name(nr) for nr in range(len(cls))
               if cls[nr] in (CLS_RW, CLS_NET)}
    assert counted == io_calls.BYTE_READS | io_calls.BYTE_WRITES
    assert {n for n in counted if cls[t.nr(n)] == CLS_NET} == (
        io_calls.NET_RECEIVES | io_calls.NET_SENDS)


def test_the_summaries_count_bytes_of_the_byte_calls_and_sysdig_io_adds_mmsg():
    assert (aggregate.READS, aggregate.WRITES) == (io_calls.BYTE_READS, io_calls.BYTE_WRITES)
    is_io = resolve("evt.is_io")
    for name in io_calls.IO_READS | io_calls.IO_WRITES:
        assert is_io.get(make_event(type=name, res=1)) is True, name
    assert io_calls.byte_direction("sendmmsg") is None  # returns a message count
    assert io_calls.byte_direction("sendfile") == "write"
    assert io_calls.byte_direction("recvmsg") == "read"
