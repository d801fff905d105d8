"""mypy over cdig as it is installed: ``make lint`` runs it.

pyproject's ``package-dir`` maps ``cdig.probes`` to ``probes/``, ``cdig.collector``
to ``collector/`` and so on, which mypy cannot follow from the source tree (there
is no ``cdig/probes``). So mypy reads ``build/typecheck/cdig``: links laid out as
the installed package, rebuilt at every run from that very table. Its messages
name the files in the tree (``collector/state.py``), not the links.

    .venv/bin/python scripts/typecheck.py [mypy options]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def link_tree(root: Path, tree: Path) -> dict[str, str]:
    """Lay ``tree`` out as the installed package; {link prefix: source prefix}."""
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = setup["package-dir"]
    shutil.rmtree(tree / "cdig", ignore_errors=True)
    top = tree / "cdig"
    top.mkdir(parents=True)
    for entry in (root / package_dir["cdig"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    renames = {}
    for package, folder in package_dir.items():
        parts = package.split(".")
        if len(parts) == 2:  # cdig.probes = probes: one link to the whole folder
            (top / parts[1]).symlink_to(root / folder)
            renames[f"cdig/{parts[1]}/"] = f"{folder}/"
    renames["cdig/"] = f"{package_dir['cdig']}/"
    return renames


def main(argv: list[str]) -> int:
    tree = ROOT / "build" / "typecheck"
    renames = link_tree(ROOT, tree)
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
           "--cache-dir", str(ROOT / "build" / "mypy_cache"), "-p", "cdig", *argv]
    r = subprocess.run(cmd, cwd=tree, capture_output=True, text=True,
                       env={**os.environ, "MYPYPATH": str(tree)})
    pattern = re.compile("^(" + "|".join(re.escape(k) for k in renames) + ")", re.M)
    for text, stream in ((r.stdout, sys.stdout), (r.stderr, sys.stderr)):
        stream.write(pattern.sub(lambda m: renames[m.group(1)], text))
    return r.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
