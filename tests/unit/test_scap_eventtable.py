"""collector/scap/eventtable.py is what scripts/gen_scap_eventtable.py makes from the
installed sysdig, and sysdig reads the parameter types the generator declares as declared.

These need the sysdig binary (no root); without it they fail, never skip."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cdig.collector.scap import events as E
from cdig.collector.scap import writer as W

ROOT = Path(__file__).resolve().parents[2]


def _sysdig() -> str:
    path = shutil.which("sysdig")
    if path is None:
        pytest.fail("sysdig is not installed (scripts/setup.sh installs it); the event table "
                    "is generated from it", pytrace=False)
    return path


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_scap_eventtable",
                                                  ROOT / "scripts" / "gen_scap_eventtable.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_generator_reproduces_the_committed_table() -> None:
    _sysdig()
    gen = _generator()
    text = gen.generate()
    committed = (ROOT / "collector" / "scap" / "eventtable.py").read_text()
    assert text == committed, "eventtable.py differs from scripts/gen_scap_eventtable.py's output"


def test_table_agrees_with_sysdig_list_line_by_line() -> None:
    """Every `sysdig -L` line is the event at its id, with the same parameter names."""
    listing = subprocess.run([_sysdig(), "-L"], capture_output=True, text=True,
                             check=True).stdout
    gen = _generator()
    listed = gen.parse_list(listing)
    shown = [i for i in E.INFO if not (i.old or i.unused) and i.name not in (
        "drop", "sysdigevent", "procinfo", "k8s", "mesos", "infra")]
    assert len(shown) == len(listed) == 265
    for info, (enter, name, params) in zip(shown, listed, strict=True):
        assert (info.enter, info.name) == (enter, name)
        assert [p for p, _ in info.params] == [p.replace(" ", "_") for _, p in params]
    # the ids FORMAT.md §1.5 names
    assert (E.INFO[306].name, E.INFO[293].name, E.INFO[223].name) == ("openat", "execve", "clone")
    assert [i.id for i in E.INFO if i.large] == [322, 324]
    assert E.event_pairs()["openat"] == (306, 307)
    assert E.PPM_SC_ID["getppid"] and E.PPM_SC[E.PPM_SC_ID["getppid"]] == "getppid"


def _event(etype: int, ts: int, values: list[bytes]) -> bytes:
    return W.block(0x216, struct.pack("<H", 0) + W.encode_event(etype, ts, 100, values))


def _args(tmp_path: Path, events: bytes) -> list[str]:
    f = tmp_path / "t.scap"
    f.write_bytes(W.shb() + events)
    out = subprocess.run([_sysdig(), "-r", str(f), "-p", "*%evt.type %evt.args"],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_sysdig_reads_the_measured_types_as_declared(tmp_path: Path) -> None:
    assert dict(E.INFO[254].params) == {"fds": "L", "timeout": "u8", "sigmask": "u4"}
    fds = struct.pack("<H", 1) + struct.pack("<qH", 3, 1)
    ppoll = _event(254, 10**9, [fds, struct.pack("<Q", 7), struct.pack("<I", 0x6)])
    ppoll8 = _event(254, 10**9 + 1, [fds, struct.pack("<Q", 7), struct.pack("<Q", 0x6 << 32)])
    semop = _event(251, 10**9 + 2, [struct.pack("<q", 0), struct.pack("<I", 1),
                                    struct.pack("<H", 2), struct.pack("<h", -3),
                                    struct.pack("<H", 0x1000), struct.pack("<H", 4),
                                    struct.pack("<h", 5), struct.pack("<H", 0x800)])
    assert [p for p, _ in E.INFO[251].params][2:5] == ["sem_num_0", "sem_op_0", "sem_flg_0"]
    assert [t for _, t in E.INFO[251].params][2:5] == ["u2", "i2", "u2"]
    lines = _args(tmp_path, ppoll + ppoll8 + semop)
    assert lines[0].split() == ["ppoll", "fds=3:?1", "timeout=7(7e-09s)", "sigmask=SIGINT",
                                "SIGQUIT"]
    assert lines[1].split()[-1] == "sigmask="  # only the low 4 bytes are read
    assert "sem_num_0=2 sem_op_0=-3 sem_flg_0=4096 sem_num_1=4 sem_op_1=5" in lines[2]
