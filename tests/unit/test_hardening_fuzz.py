"""Fuzzing the capture reader with crafted files whose checksums are valid (issue 11).

Random JSON (and a zlib bomb) goes into the header, the snapshot or one batch's
state, plain or zlib-packed, with the CRCs recomputed as the writer does, so
every example gets past the checksums to the parsing behind them. Each file is
read with ``cdig trace -r``: the exit status is 0, 1 or 3, stderr is ``cdig:``
lines only (one line when it fails), never an internal error, and all of it
in a child whose address space is capped (RLIMIT_AS) at 1 GiB over what a
normal replay needs: an unbounded inflate or parse would hit it and fail.
"""

from __future__ import annotations

import os
import subprocess
import sys

from test_capture import batches, live_capture

FUZZ = r'''
import contextlib, io, resource, sys, zlib
sys.path[:0] = [sys.argv[1]]
from hypothesis import HealthCheck, given, settings, strategies as st
from capture_craft import rewrite
from cdig.cli import main

plain, work = sys.argv[2], sys.argv[3]


def run(path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["trace", "-r", path, "-p", "%evt.num"])
    return code, err.getvalue()


assert run(plain)[0] == 0  # warm up: thread pools, imports
vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize"))
limit = vm * 1024 + (1 << 30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
c = zlib.compressobj(9)
BOMB = b"".join(c.compress(b" " * (1 << 20)) for _ in range(1536)) + c.flush()  # 1.5 GiB

KEYS = ["containers", "cgroups", "pids", "journal", "drops", "key", "id", "name", "runtime",
        "image", "labels", "cgroup_path", "pod_name", "pod_namespace", "pod_uid", "cgroup_ids",
        "processes", "fds", "fd_since", "pid", "ppid", "args", "parent_of", "argv", "exited",
        "session",
        "file_index", "mono_to_wall_ns", "syscall_arch", "session_started_ns",
        "fd", "proc", "sock", "dir", "cwd"]
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
           | st.sampled_from(KEYS) | st.text(max_size=6))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner,
                                        max_size=6), max_leaves=40)
payloads = (values.map(lambda v: __import__("json").dumps(v).encode())
            | st.binary(max_size=40) | st.just(b"[" * 50000) | st.just(None))


@settings(max_examples=int(sys.argv[4]), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(where=st.sampled_from(["header", "snapshot", "state"]), payload=payloads,
       packed=st.booleans(), index=st.integers(0, 5))
def check(where, payload, packed, index):
    data = BOMB if payload is None else payload
    key = {"header": b"cdig.header", "snapshot": b"cdig.snapshot", "state": b"cdig.state"}[where]

    def put(md):
        md.pop(key, None)
        md.pop(key + b".z", None)
        if packed and where != "header":
            md[key + b".z"] = data if payload is None else zlib.compress(data)
        else:
            md[key] = data
        return md

    if where == "state":
        rewrite(plain, work, batch=lambda i, rb, md: (rb, put(md) if i == index else md))
    else:
        rewrite(plain, work, schema_meta=put)
    code, err = run(work)
    assert code in (0, 1, 3), (code, err)
    assert "internal error" not in err and "Traceback" not in err, err
    lines = err.splitlines()
    assert lines and all(ln.startswith("cdig: ") for ln in lines), err
    if code == 1:
        assert len(lines) == 1, err


check()
print("fuzzed", sys.argv[4])
'''


def test_fuzzed_metadata_gives_one_clean_line_in_bounded_memory(tmp_path):
    plain = tmp_path / "plain.cdig"
    live_capture(plain, batches(5, 40), flush_rows=30)
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, "-c", FUZZ, here, str(plain), str(tmp_path / "w.cdig"),
                        "200"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.strip().endswith("fuzzed 200")
