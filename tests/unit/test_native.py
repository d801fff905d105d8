"""collector/native: compiled once into the private cache, reused, refused when unsafe."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from cdig.collector import native

SRC = """
#include <stdint.h>
__attribute__((visibility("default"))) int64_t add3(int64_t a) { return a + 3; }
"""


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    (src_dir / "demo.c").write_text(SRC)
    cache = tmp_path / "cache"
    monkeypatch.setattr(native, "HERE", src_dir)
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setenv("CDIG_CACHE_DIR", str(cache))
    monkeypatch.delenv("CDIG_NATIVE", raising=False)
    return cache


def test_compiles_once_and_reuses(kernel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = native.load("demo")
    assert lib is not None
    lib.add3.restype = ctypes.c_int64
    assert lib.add3(ctypes.c_int64(39)) == 42
    built = list((kernel / "native").glob("demo-*.so"))
    assert len(built) == 1
    assert built[0].stat().st_mode & 0o077 == 0
    # a new process (fresh memo) loads the cached object without compiling
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setattr(native, "_compile", lambda *a: pytest.fail("compiled again"))
    assert native.load("demo") is not None


def test_changed_source_is_a_new_object(kernel: Path) -> None:
    assert native.load("demo") is not None
    native._loaded.clear()
    (native.HERE / "demo.c").write_text(SRC + "\n/* changed */\n")
    assert native.load("demo") is not None
    assert len(list((kernel / "native").glob("demo-*.so"))) == 2


def test_disabled_by_env(kernel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDIG_NATIVE", "0")
    assert native.load("demo") is None
    assert not (kernel / "native").exists()


def test_shared_cache_dir_is_refused(kernel: Path) -> None:
    kernel.mkdir(mode=0o700)
    os.chmod(kernel, 0o777)  # anyone could plant code here
    assert native.load("demo") is None


def test_planted_object_is_not_loaded(kernel: Path) -> None:
    assert native.load("demo") is not None
    so = next((kernel / "native").glob("demo-*.so"))
    os.chmod(so, 0o666)
    native._loaded.clear()
    # not private: not opened; compiled again over it
    assert native.load("demo") is not None
    assert so.stat().st_mode & 0o077 == 0


def test_compile_error_falls_back(kernel: Path) -> None:
    (native.HERE / "demo.c").write_text("this is not C")
    assert native.load("demo") is None


def test_missing_kernel_is_none(kernel: Path) -> None:
    assert native.load("nosuch") is None


def test_which_finds_what_shutil_which_finds(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # native._which is shutil.which without importing shutil at every start
    import shutil

    bins = [tmp_path / n for n in ("a", "b", "c")]
    for d in bins:
        d.mkdir()
    (bins[0] / "tool").write_text("")  # not executable
    (bins[1] / "tool").write_text("")
    (bins[1] / "tool").chmod(0o755)
    (bins[2] / "tool").mkdir()  # a directory
    (bins[2] / "only").write_text("")
    (bins[2] / "only").chmod(0o700)
    monkeypatch.chdir(bins[2])
    paths = [os.pathsep.join(map(str, bins)), os.pathsep.join(map(str, bins[::-1])),
             f"{bins[2]}{os.pathsep}{os.pathsep}{bins[1]}", "", str(bins[0])]
    cmds = ["tool", "only", "nope", str(bins[1] / "tool"), str(bins[0] / "tool"),
            str(bins[2] / "tool"), "./only", "cc", "gcc", "sh"]
    for path in [*paths, None]:
        if path is None:
            monkeypatch.delenv("PATH", raising=False)
        else:
            monkeypatch.setenv("PATH", path)
        for cmd in cmds:
            assert native._which(cmd) == shutil.which(cmd), (path, cmd)
    monkeypatch.setenv("PATH", os.pathsep.join(map(str, bins)))
    assert native._which("tool") == str(bins[1] / "tool")
