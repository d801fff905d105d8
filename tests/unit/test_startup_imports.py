"""A .scap read loads no module that only an unknown name's suggestion (difflib), the
fd.*proto fields (socket) or -b (base64) need: each is imported where it is used; nor
shutil (with its bz2 and lzma): argparse's help width and the C compiler's lookup
(collector.native) are found without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scap"
LAZY = ("difflib", "socket", "base64", "shutil")

_RUN = """
import json, sys
from cdig.cli import main
code = main(sys.argv[2:])
sys.stdout.flush()
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "mods": sorted(m for m in LAZY if m in sys.modules)}, f)
""".replace("LAZY", repr(LAZY))


def _run(tmp: Path, *args: str) -> tuple[dict, str, str]:
    res = tmp / "res.json"
    r = subprocess.run([sys.executable, "-c", _RUN, str(res), *args], capture_output=True,
                       text=True, timeout=120)
    return json.loads(res.read_text()), r.stdout, r.stderr


@pytest.mark.parametrize("args", [
    ["trace", "-r", "cat_write.scap", "-p", "%evt.num %proc.name %evt.type %fd.name",
     "evt.type=write or fd.name contains /"],
    ["summary", "-r", "cat_write.scap", "--by", "file"],
    ["summary", "-r", "cat_write.scap", "--by", "syscall"]])
def test_a_scap_read_loads_none_of_them(tmp_path: Path, args: list[str]) -> None:
    args = [str(FIXTURES / a) if a.endswith(".scap") else a for a in args]
    got, out, _ = _run(tmp_path, *args)
    assert got["code"] == 0 and out
    assert got["mods"] == []


def test_each_still_answers_where_it_is_used(tmp_path: Path) -> None:
    cap = str(FIXTURES / "connect_localhost.scap")
    got, _, err = _run(tmp_path, "trace", "-r", cap, "fd.nme=x")
    assert got["code"] != 0 and "fd.name" in err and "difflib" in got["mods"]
    got, _, err = _run(tmp_path, "trace", "-r", cap, "evt.type=opn")
    assert got["code"] != 0 and "'open'" in err and "difflib" in got["mods"]
    got, out, _ = _run(tmp_path, "trace", "-r", cap, "-p", "%fd.sport %fd.sproto", "fd.sport=80")
    assert got["code"] == 0 and "80 http" in out.splitlines() and "socket" in got["mods"]
    got, out, _ = _run(tmp_path, "trace", "-r", str(FIXTURES / "curl_google.scap"), "-b",
                       "-p", "%evt.buffer", "evt.type=read")
    assert got["code"] == 0 and out.strip() and "base64" in got["mods"]
