"""What a .scap read's start leaves unbuilt: a summary imports no line renderer
(collector.render), a filter naming event types builds no argument tables (both syscall
tables parsed: filter.names._args), and cdig's parser has only the arguments of the
command run (cli.build_parser); each is still there where it is used."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scap"

_RUN = """
import json, sys
from cdig import cli
from cdig.collector.filter import names
built = []
build = cli.build_parser
cli.build_parser = lambda *a: built.append(sorted(a[0]) if a else None) or build(*a)
code = cli.main(sys.argv[2:])
sys.stdout.flush()
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "render": "cdig.collector.render" in sys.modules,
               "args": names._args.cache_info().currsize, "built": built}, f)
"""


def _run(tmp: Path, *args: str) -> tuple[dict, str, str]:
    res = tmp / "res.json"
    r = subprocess.run([sys.executable, "-c", _RUN, str(res), *args], capture_output=True,
                       text=True, timeout=120)
    return json.loads(res.read_text()), r.stdout, r.stderr


def test_a_summary_imports_no_renderer(tmp_path: Path) -> None:
    cap = str(FIXTURES / "cat_write.scap")
    got, out, _ = _run(tmp_path, "summary", "-r", cap, "--by", "file")
    assert got["code"] == 0 and "fd.name" in out and not got["render"]
    got, out, _ = _run(tmp_path, "trace", "-r", cap, "-p", "%evt.num %evt.type",
                       "evt.type=open")
    assert got["code"] == 0 and out and got["render"]


def test_event_types_build_no_argument_tables(tmp_path: Path) -> None:
    cap = str(FIXTURES / "cat_write.scap")
    got, out, _ = _run(tmp_path, "trace", "-r", cap, "-p", "%evt.num %proc.name %fd.name",
                       "evt.type=openat and fd.name=/etc/hostname")
    assert got["code"] == 0 and got["args"] == 0
    assert got["built"] == [sorted({"trace", "-r", cap, "-p", "%evt.num %proc.name %fd.name",
                                    "evt.type=openat and fd.name=/etc/hostname"})]
    # evt.arg.NAME asks them: cdig's name of it (path), sysdig's (open's name), a typo
    got, out, _ = _run(tmp_path, "trace", "-r", cap, "-p", "%evt.num", "evt.arg.path exists")
    assert got["code"] == 0 and out and got["args"] == 1
    got, out2, _ = _run(tmp_path, "trace", "-r", cap, "-p", "%evt.num",
                        "evt.type=open and evt.arg.name exists")
    assert got["code"] == 0 and out2 and got["args"] == 1
    got, _, err = _run(tmp_path, "trace", "-r", cap, "evt.arg.pth exists")
    assert got["code"] != 0 and "evt.arg.path" in err
