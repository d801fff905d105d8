"""What a .scap read's start leaves unbuilt: a summary imports no line renderer
(collector.render), a filter naming event types builds no argument tables (both syscall
tables parsed: filter.names._args), and cdig's parser has only the arguments of the
command run (cli.build_parser); each is still there where it is used. The collector
stays off while a command's modules load (cli.loading), and cdig's own command line
exits with its objects frozen (cli.main)."""

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


_EXIT = """
import atexit, gc, sys
from cdig import cli
out, how = sys.argv[1], sys.argv[2]
# registered before main(): runs after what main() registers (reverse order)
atexit.register(lambda: open(out, "w").write(str(gc.get_freeze_count())))
sys.argv = ["cdig", *sys.argv[3:]]
sys.exit(cli.main() if how == "entry" else cli.main(sys.argv[1:]))
"""


def test_the_process_exits_with_its_objects_frozen(tmp_path: Path) -> None:
    # cdig's own command line (main() without argv: the console script, python -m cdig)
    # leaves the exit's collections nothing to look at; a caller's main(argv) does not
    cap = str(FIXTURES / "cat_write.scap")
    counts = {}
    for how in ("entry", "call"):
        out = tmp_path / how
        r = subprocess.run([sys.executable, "-c", _EXIT, str(out), how, "summary", "-r", cap,
                            "--by", "file"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "fd.name" in r.stdout
        counts[how] = int(out.read_text())
    assert counts["entry"] > 10_000 and counts["call"] == 0


def test_loading_collects_nothing_and_freezes_what_it_made() -> None:
    import gc

    from cdig.cli import loading

    assert gc.isenabled()
    try:
        with loading():
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= len(made)
        gc.unfreeze()
        gc.disable()  # a caller's choice stays
        with loading():
            pass
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
