"""probes/bpf_syscall.py against the kernel: maps of a real loaded program read,
written and deleted through raw bpf(2) (batch and per key), and the run-time
statistics of that program while it runs.

Needs root, BPF and bcc (bcc only loads the program; the reads are bpf(2)).
"""

from __future__ import annotations

import os

import numpy as np

from cdig.probes.bpf_syscall import BpfMap, BpfRunStats, possible_cpus, prog_run_stats

from .containers import require

PROGRAM = r"""
struct val { u64 a; u64 b; };
BPF_HASH(plain, u32, struct val, 4096);
BPF_PERCPU_HASH(percpu, u32, u64, 64);
BPF_ARRAY(seen, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != TARGET)
        return 0;
    u64 one = 1, *n;
    n = percpu.lookup(&pid);
    if (n)
        (*n)++;
    else
        percpu.update(&pid, &one);
    int z = 0;
    seen.increment(z);
    return 0;
}
"""

KEY = np.dtype("<u4")
VAL = np.dtype([("a", "<u8"), ("b", "<u8")])


def _load():
    require("root", "bpf", "bcc", "tracefs")
    from bcc import BPF

    return BPF(text=PROGRAM.encode(), cflags=[f"-DTARGET={os.getpid()}"])


def test_maps_read_update_delete_through_bpf2():
    b = _load()
    try:
        plain = BpfMap(b[b"plain"].map_fd, KEY, VAL, chunk=64)
        assert (plain.info.name, plain.capacity, plain.info.percpu) == ("plain", 4096, False)
        keys = np.arange(1, 1001, dtype=KEY)
        vals = np.zeros(1000, dtype=VAL)
        vals["a"], vals["b"] = keys * 2, keys * 3
        plain.update(keys, vals)
        k, v = plain.read()  # batches of 64: 16 calls, the last one short
        order = np.argsort(k)
        assert np.array_equal(k[order], keys)
        assert np.array_equal(v["a"][order], keys * 2) and np.array_equal(v["b"][order], keys * 3)
        assert len(plain._read_walk()[0]) == 1000  # the per-key walk sees the same
        plain.delete_batch(keys[:500])
        assert sorted(plain.read()[0].tolist()) == list(range(501, 1001))
        plain.delete_batch(keys[400:600])  # 100 of them gone already: one by one
        assert sorted(plain.read()[0].tolist()) == list(range(601, 1001))
        assert plain.delete(keys) == 400 and len(plain) == 0

        percpu = BpfMap(b[b"percpu"].map_fd, KEY, np.dtype("<u8"))
        assert percpu.info.percpu and percpu.ncpus == possible_cpus()
        for _ in range(25):
            os.getppid()
        k, v = percpu.read()  # summed over CPUs
        assert k.tolist() == [os.getpid()] and v.tolist() == [25]
    finally:
        b.cleanup()


def test_run_stats_count_the_program_runs_while_enabled():
    b = _load()
    stats = BpfRunStats()
    try:
        assert stats.enabled
        fds = {name.decode() if isinstance(name, bytes) else name: f.fd
               for name, f in b.funcs.items()}
        before = prog_run_stats(fds)
        for _ in range(100):
            os.getppid()
        after = prog_run_stats(fds)
        (name,) = fds
        # every getppid on the host runs it; ours at least
        assert after[name][1] - before[name][1] >= 100
        assert after[name][0] > before[name][0]
        assert prog_run_stats({"closed": 10**6}) == {}  # not an fd: left out
    finally:
        stats.close()
        b.cleanup()
