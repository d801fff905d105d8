"""``objload.compile_object`` in a child process, so the caller never holds LLVM.

bcc compiles with clang/LLVM inside the process that asks: afterwards that
process keeps ~190 MB resident that it never uses again (libLLVM's and
libclang-cpp's pages, the heap the compiler freed into malloc's arenas, bcc's
own import). ``cdig top`` and ``cdig exporter`` run for hours, so the compile of a
first start (an empty cache, or a probe changed) runs in a short-lived child: it
compiles, prints the ``CompiledObject`` as JSON and exits; the parent loads it
with bpf(2) as it loads a cached one. The maps bcc creates to compile go with the
child (the object describes them; ``load_object`` creates its own).

The child is this interpreter with ``-P`` (the working directory is not put on
``sys.path``: a ``cdig`` folder there must not be imported, least of all as root)
and the parent's environment (a ``PYTHONPATH`` tree is the same tree). Its stderr
is the parent's, so clang's diagnostics reach ``loader``'s capture as before; its
stdout carries only the answer (bcc's own prints go to stderr there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .objload import CompiledObject, LoadError, Uncacheable, compile_object

_ERRORS: dict[str, type[Exception]] = {"LoadError": LoadError, "Uncacheable": Uncacheable}


def compile_in_child(source: str, cflags: list[str], sentinel: int | None) -> CompiledObject:
    """``compile_object(source, cflags, sentinel)``, run in a child process. Raises
    what it raised there (``LoadError``, ``Uncacheable``); ``LoadError`` if the
    child died or answered nothing usable."""
    request = json.dumps({"source": source, "cflags": cflags, "sentinel": sentinel})
    cmd = [sys.executable, "-P", "-m", __name__]
    try:
        r = subprocess.run(cmd, input=request.encode(), stdout=subprocess.PIPE, check=False)
    except OSError as e:
        raise LoadError(f"cannot start the compiler process: {e}") from None
    try:
        answer = json.loads(r.stdout)
        if "object" in answer:
            return CompiledObject.from_json(answer["object"])
        kind = _ERRORS.get(answer.get("error"), LoadError)
        message = str(answer.get("message"))
    except (ValueError, KeyError, TypeError, AttributeError):
        how = f"signal {-r.returncode}" if r.returncode < 0 else f"status {r.returncode}"
        raise LoadError(f"the compiler process ended with {how} and no object") from None
    raise kind(message)


def main() -> int:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything bcc or clang print goes to stderr, not into the answer
    req = json.loads(sys.stdin.read())
    sentinel = req["sentinel"]
    try:
        obj = compile_object(req["source"], [str(f) for f in req["cflags"]],
                             None if sentinel is None else int(sentinel))
        answer = {"object": obj.to_json()}
    except (LoadError, Uncacheable) as e:
        answer = {"error": type(e).__name__, "message": str(e)}
    except Exception as e:  # a bpf(2) call refused while reading the maps back
        answer = {"error": "LoadError", "message": f"{type(e).__name__}: {e}"}
    with out:
        out.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
