"""scripts/typecheck.py lays the package out as it is installed, so mypy sees
every package pyproject installs, each at its real folder."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _typecheck():
    spec = importlib.util.spec_from_file_location("typecheck", ROOT / "scripts" / "typecheck.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_link_tree_holds_every_installed_package_at_its_folder(tmp_path):
    renames = _typecheck().link_tree(ROOT, tmp_path)
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in setup["packages"]:
        d = tmp_path.joinpath(*package.split("."))
        assert (d / "__init__.py").is_file(), package
    assert (tmp_path / "cdig" / "collector" / "state.py").resolve() == \
        ROOT / "collector" / "state.py"
    assert (tmp_path / "cdig" / "cli.py").resolve() == ROOT / "cdig" / "cli.py"
    # messages name the real files
    assert renames["cdig/probes/"] == "probes/" and renames["cdig/"] == "cdig/"
