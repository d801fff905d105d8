#!/usr/bin/env python3
"""Build the cdig exporter image without a registry.

    deploy/build_image.py [--tag cdig:0.1.0]

1. The base: a Debian bookworm root filesystem made by mmdebstrap from Debian's
   packages (the list in deploy/image-packages), imported into podman as
   ``localhost/cdig-base:<hash>``. The hash covers the package list and the
   mmdebstrap arguments (all the base is made of), so the base (the slow part:
   a few hundred MB of packages) is made once and reused until one of them
   changes; a change to the Containerfile alone only re-runs its own steps.
2. The image: ``podman build`` of deploy/Containerfile on that base, with a
   context holding only what the Containerfile copies (not .venv or .git), and
   no network (the base has every package, so apt is not run).

Needs root, podman and mmdebstrap (scripts/setup.sh installs both); the only
network it uses is mmdebstrap's, to Debian's mirror. Prints one line per stage
with its time to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTAINERFILE = REPO / "deploy" / "Containerfile"
PACKAGES = REPO / "deploy" / "image-packages"
# what the Containerfile copies from the context (keep in step with it)
CONTEXT = ("pyproject.toml", "README.md", "cdig", "probes", "collector", "exporters", "tui",
           "deploy/image-packages")
BASE_REPO = "localhost/cdig-base"
HASH_LABEL = "io.cdig.base-hash"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# podman's default ulimits need CAP_SYS_RESOURCE, which some hosts lack
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def packages() -> list[str]:
    """The package names of deploy/image-packages (comments and blanks skipped)."""
    out = []
    for line in PACKAGES.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def mmdebstrap_argv(out: str) -> list[str]:
    return ["mmdebstrap", "--quiet", "--variant=minbase", "--include=" + ",".join(packages()),
            SUITE, out, MIRROR]


def base_hash() -> str:
    """Content hash of everything the base depends on."""
    h = hashlib.sha256()
    for part in (PACKAGES.read_bytes(), "\0".join(mmdebstrap_argv("-")).encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise BuildError(f"{argv[0]} {argv[1]} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r


def _image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref]).returncode == 0


def ensure_base(log=print) -> str:
    """The base image's reference, made (mmdebstrap | podman import) unless an
    image with this content hash is there already."""
    digest = base_hash()
    ref = f"{BASE_REPO}:{digest}"
    if _image_exists(ref):
        log(f"base {ref}: cached")
        return ref
    for tool in ("mmdebstrap", "podman"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} not found (scripts/setup.sh installs it)")
    t = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cdig-base-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        _run(mmdebstrap_argv(str(tar)))
        _run(["podman", "import", "--change", f"LABEL {HASH_LABEL}={digest}",
              "--change", 'CMD ["/bin/bash"]', str(tar), ref])
    # bases of older package lists: dropped (one in use by an image stays)
    old = subprocess.run(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", BASE_REPO],
                         capture_output=True, text=True).stdout.split()
    for other in old:
        if other != ref:
            subprocess.run(["podman", "rmi", other], capture_output=True)
    log(f"base {ref}: built in {time.monotonic() - t:.1f} s (mmdebstrap + podman import)")
    return ref


def build(tag: str, log=print) -> str:
    """Build deploy/Containerfile on the local base as ``tag``; returns the tag."""
    base = ensure_base(log)
    t = time.monotonic()
    old = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", tag],
                         capture_output=True, text=True).stdout.strip()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    with tempfile.TemporaryDirectory(prefix="cdig-ctx-") as ctx:
        for rel in CONTEXT:
            src, dst = REPO / rel, Path(ctx) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=ignore)
            else:
                shutil.copy2(src, dst)
        _run(["podman", "build", "--runtime", "runc", "--network", "none", *ULIMITS,
              "--build-arg", f"BASE={base}", "-f", str(CONTAINERFILE), "-t", tag, ctx])
    log(f"image {tag}: built in {time.monotonic() - t:.1f} s (podman build)")
    new = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", tag],
                         capture_output=True, text=True).stdout.strip()
    if old and old != new:  # the image this tag named before: dropped (in use: it stays)
        subprocess.run(["podman", "rmi", old], capture_output=True)
    return tag


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tag", default="cdig:0.1.0", help="the image's name (default: %(default)s)")
    ap.add_argument("--base-only", action="store_true", help="make the base image only")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(f"build_image: {msg}", file=sys.stderr, flush=True)

    try:
        if args.base_only:
            print(ensure_base(log))
        else:
            print(build(args.tag, log))
    except (BuildError, OSError) as e:
        print(f"build_image: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
