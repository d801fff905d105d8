"""Bench-only programs for a cost breakdown of the exporter's latency mode
(``exporter_overhead.py --configs lat1,...``): none of this is in the shipped probe.

A ladder of standalone programs on the raw sys_enter/sys_exit hooks, each one
step of latency mode's work more than the one before (``LADDER``), so the
differences between neighbours are what each piece costs:

  lat1  task-local storage: got (created) at enter, got at exit
  lat2  + the clock at enter and at exit (the duration)
  lat3  + the syscall number and cgroup id stored at enter
  lat4  + the syscall's class byte looked up at exit (an array)
  lat5  + the histogram: a per-CPU hash entry per (cgroup, syscall) found or
        created, its sum and a base-4 slot bumped (what latency mode does for
        a call without error or byte count)

and the same work without the hash (``lat5-row``): the histogram in a per-CPU
array row per syscall number (one cgroup only: what a (cgroup slot, syscall)
array would cost at best).

Where the enter's slot lives, with the work of lat1 and of lat5: ``-pcpu`` in a
per-CPU slot that names its task, moved to task storage when that task is
switched out (a raw sched_switch program; the exit of a call whose task was
switched out would look in task storage: not in a getppid loop); ``-tidarr`` in
an array indexed by thread id (pid_max entries). ``lat5-pcpu-row``: both.

``BPFTRACE_LAT`` is bpftrace doing latency mode's work (the time of each
syscall into a histogram per (cgroup, syscall)), for a same-work comparison
next to the issue's reference, bpftrace's count map.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

LADDER_C = r"""
#include <uapi/linux/ptrace.h>
struct st { u64 ts; u64 nr; u64 cg; };
BPF_TASK_STORAGE(st_map, struct st);
BPF_ARRAY(cls, u8, 1024);
struct lkey { u64 cg; u32 nr; u32 pad; };
struct lval { u64 sum; u64 slots[18]; };
BPF_F_TABLE("percpu_hash", struct lkey, struct lval, lat, 16384, BPF_F_NO_PREALLOC);
BPF_PERCPU_ARRAY(rows, struct lval, 1024);
#if defined(PCPU)
/* the call in flight on this CPU, moved to task storage when its task is
 * switched out */
struct cst { u64 ts; u64 nr; u64 cg; u64 task; };
BPF_PERCPU_ARRAY(cpu_st, struct cst, 1);

RAW_TRACEPOINT_PROBE(sched_switch)
{
    u32 z = 0;
    struct cst *c = cpu_st.lookup(&z);
    if (!c || !c->ts)
        return 0;
    struct st *s = st_map.task_storage_get(bpf_get_current_task_btf(), 0,
                                           BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (s) {
        s->ts = c->ts;
        s->nr = c->nr;
        s->cg = c->cg;
    }
    c->ts = 0;
    return 0;
}
#elif defined(TIDARR)
BPF_ARRAY(tid_st, struct st, 32768);
#endif

static __always_inline u32 log2_u64(u64 v)
{
    u32 r = 0;
    if (v >> 32) { v >>= 32; r += 32; }
    if (v >> 16) { v >>= 16; r += 16; }
    if (v >> 8) { v >>= 8; r += 8; }
    if (v >> 4) { v >>= 4; r += 4; }
    if (v >> 2) { v >>= 2; r += 2; }
    if (v >> 1) r += 1;
    return r;
}

RAW_TRACEPOINT_PROBE(sys_enter)
{
#if defined(PCPU)
    u32 z = 0;
    struct cst *s = cpu_st.lookup(&z);
    if (!s)
        return 0;
    s->task = bpf_get_current_task();
#elif defined(TIDARR)
    u32 tid = bpf_get_current_pid_tgid();
    struct st *s = tid_st.lookup(&tid);
    if (!s)
        return 0;
#else
    struct st *s = st_map.task_storage_get(bpf_get_current_task_btf(), 0,
                                           BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!s)
        return 0;
#endif
#if STEP >= 2
    s->ts = bpf_ktime_get_ns();
#else
    s->ts = 1;
#endif
#if STEP >= 3
    s->nr = ctx->args[1];
    s->cg = bpf_get_current_cgroup_id();
#endif
    return 0;
}

RAW_TRACEPOINT_PROBE(sys_exit)
{
#if defined(PCPU)
    u32 z = 0;
    struct cst *s = cpu_st.lookup(&z);
    if (!s || !s->ts || s->task != bpf_get_current_task())
        return 0; /* (the shipped probe would look in task storage here) */
#elif defined(TIDARR)
    u32 tid = bpf_get_current_pid_tgid();
    struct st *s = tid_st.lookup(&tid);
    if (!s || !s->ts)
        return 0;
#else
    struct st *s = st_map.task_storage_get(bpf_get_current_task_btf(), 0, 0);
    if (!s || !s->ts)
        return 0;
#endif
    u64 d = 100;
#if STEP >= 2
    d = bpf_ktime_get_ns() - s->ts;
#endif
    s->ts = 0;
#if STEP >= 4
    u32 nr = s->nr;
    if (nr >= 1024)
        return 0;
    u8 *c = cls.lookup(&nr);
    if (c && *c == 255)
        return 0;
#endif
#if STEP >= 5
    u32 slot = d <= 1 ? 0 : log2_u64(d - 1) / 2;
    if (slot > 17)
        slot = 17;
#ifdef ROW
    struct lval *l = rows.lookup(&nr);
#else
    struct lkey k = {.cg = s->cg, .nr = nr};
    struct lval zero = {};
    struct lval *l = lat.lookup_or_try_init(&k, &zero);
#endif
    if (l) {
        l->sum += d;
        l->slots[slot & 31]++;
    }
#endif
    return 0;
}
"""


def ladder_text(step: int, *defines: str) -> str:
    return "".join(f"#define {d}\n" for d in (f"STEP {step}", *defines)) + LADDER_C


LADDER = ({f"lat{n}": ladder_text(n) for n in range(1, 6)}
          | {"lat5-row": ladder_text(5, "ROW"), "lat5-pcpu-row": ladder_text(5, "PCPU", "ROW")}
          | {f"lat{n}-{v.lower()}": ladder_text(n, v) for n in (1, 5) for v in ("PCPU", "TIDARR")})

BPFTRACE_LAT = ("tracepoint:raw_syscalls:sys_enter { @s[tid] = nsecs; } "
                "tracepoint:raw_syscalls:sys_exit /@s[tid]/ "
                "{ @[cgroup, args->id] = hist(nsecs - @s[tid]); delete(@s[tid]); }")


class Attachable:
    """A bcc program compiled once and attached/detached around each window
    (``attached()``), so the rounds do not wait for clang again."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.bpf = None

    @contextlib.contextmanager
    def attached(self) -> Iterator[str]:
        from bcc import BPF  # benchmarks may import bcc; the package does it in probes/loader only

        # in source order, as bcc attaches them at load (sched_switch first)
        tps = (["sched_switch"] if "#define PCPU" in self.text else []) + ["sys_enter",
                                                                            "sys_exit"]
        if self.bpf is None:
            self.bpf = BPF(text=self.text)  # RAW_TRACEPOINT_PROBEs attach at load
        else:
            for tp in tps:
                self.bpf.attach_raw_tracepoint(tp=tp, fn_name=f"raw_tracepoint__{tp}")
        try:
            defines = re.findall(r"^#define (.*)$", self.text.split("\n#include")[0], re.M)
            yield "bcc (breakdown ladder): " + ", ".join(defines)
        finally:
            for tp in tps:
                self.bpf.detach_raw_tracepoint(tp=tp)


def configs() -> dict:
    """name -> context factory, for exporter_overhead.CONFIGS."""
    progs = {name: Attachable(text) for name, text in LADDER.items()}
    return {name: (lambda p=p: p.attached()) for name, p in progs.items()}


# The --toggle loop for --pingpong: a byte passed back and forth through two
# pipes between this process and a child on the same CPU (the affinity is
# inherited), timed in chunks of 2,000 round trips: 4 syscalls, 2 of them
# blocking, and 2 context switches each. Printed as the stream loop prints:
# (CLOCK_MONOTONIC end, wall ns per round trip), until stdin closes. What a
# sched_switch program costs shows here and not in a getppid loop.
PINGPONG_C = r"""
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
static long long now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(void) {
    const long per = 2000;
    int ab[2], ba[2];
    char c = 'x';
    if (pipe(ab) || pipe(ba))
        return 1;
    pid_t child = fork();
    if (child == 0) {
        while (read(ab[0], &c, 1) == 1)
            if (write(ba[1], &c, 1) != 1)
                return 1;
        return 0;
    }
    struct pollfd in = {.fd = 0, .events = POLLIN};
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    for (;;) {
        long long t0 = now();
        for (long i = 0; i < per; i++)
            if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
                return 1;
        long long t1 = now();
        printf("%lld %.2f\n", t1, (double)(t1 - t0) / per);
        if (poll(&in, 1, 0) > 0)
            break;
    }
    fflush(stdout);
    kill(child, SIGKILL);
    return 0;
}
"""
