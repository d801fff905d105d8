/* cdig metrics probe: in-kernel aggregation for `cdig exporter`.
 *
 * Nothing is sent to userspace per event: every syscall exit bumps per-CPU
 * counters keyed by (cgroup id, syscall number), and the exporter reads the
 * maps when Prometheus scrapes. Tracepoints only, tracepoint arguments and
 * helpers only, like the syscall probe; the one kernel struct read (with
 * CGROUP_CHAIN: the task's cgroup id) is read through a BTF-typed pointer at
 * offsets from the running kernel's own BTF, never from the installed headers.
 *
 * Configured with -D defines by config.py (cflags) through probe.py:
 *   NR_SYSCALLS                size of the sysclass array
 *   SYSCALLS_MAX, ERRORS_MAX, PROCS_MAX, LATENCY_MAX, SOCKIO_MAX, INFLIGHT_MAX
 *                              map sizes
 *   LAT_MAP_FLAGS              BPF_F_NO_PREALLOC for the latency map where the
 *                              kernel allows it in tracing programs (>= 6.1)
 *   LATENCY                    pair sys_enter/sys_exit and keep a histogram
 *   LAT_CACHE_MAX, DEADCG_MAX  the histograms' per-CPU cache (entries, a power
 *                              of two; 0: none) and the forgotten cgroups it lists
 *   LAT_TASK_STORAGE           ... pairing through task-local storage (cheap;
 *                              kernel >= 5.11 with BTF), else a tid hash
 *   SOCK_SPLIT                 sock:sock_{send,recv}_length exist (>= 6.3):
 *                              read/write bytes on sockets count as network
 *   HAVE_GROUP_DEAD            sched_process_exit has group_dead (>= 6.x)
 *   SLOTS_MAX, SLOT_NRS        without LATENCY: cgroups with a row in the count
 *                              array, syscall numbers in a row
 *   HAVE_TASK_PT_REGS          bpf_task_pt_regs() (>= 5.15 with BTF): without
 *                              LATENCY, the few calls whose number sys_exit does
 *                              not see are found without typed sys_enter_* hooks
 *   CGROUP_CHAIN, OFF_*        the running kernel's offsets (its BTF, config.py)
 *                              of the fields bpf_get_current_cgroup_id() reads:
 *                              the cgroup id is read without the helper call
 *
 * Why these hooks:
 * - raw_syscalls:sys_exit carries the syscall id and the return value, so
 *   counts, errors (by errno) and byte counts need the exit alone: without
 *   LATENCY there is one program per syscall and no per-thread state.
 * - Latency needs the enter time. A hash keyed by tid costs an insert and a
 *   delete per syscall (design.md: +830 ns); task-local storage is a slot on
 *   the task itself, created once per thread and freed with it. Cheaper still
 *   is a per-CPU slot for the call in flight on each CPU, which a task
 *   switched out mid-call carries into its task storage (sched_switch): most
 *   calls never leave their CPU, and the slot is an inlined array lookup
 *   where task storage is a helper call at enter and at exit.
 * - read/write/sendfile on a socket cannot be told from the same calls on a
 *   file at sys_exit without fd state. The socket layer's length tracepoints
 *   fire in the calling thread for every socket send/receive, whatever the
 *   syscall, so they mark the thread; the exit of the read/write that carried
 *   them consumes the mark. Without them (older kernels) read/write count as
 *   file I/O, and only sendto/recvfrom/sendmsg/recvmsg as network.
 * - sched_process_exec/fork/exit: per-cgroup process churn.
 * - Without LATENCY nothing runs at entry: a typed sys_enter_* program, even
 *   one for exit_group alone, runs the syscall tracepoints' perf handler at
 *   every syscall's entry (~25 ns a call here). The four calls sys_exit
 *   misses or misnames are found where they leave a trace instead (x86-64's
 *   orig_ax, the number the task entered its current syscall with):
 *   exit/exit_group never return, and the task that called one reaches
 *   sched_process_exit with that number in orig_ax (a task killed by a signal
 *   has the number of the call it was in, or none). A successful execveat
 *   exits as execve (the ELF loader rewrites orig_ax), but exec renames the
 *   task (task:task_rename) before that, with orig_ax still execveat's.
 *   rt_sigreturn exits with the number of the frame it restored, -1.
 */
#include <uapi/linux/ptrace.h>
#include "record.h"

/* Per-CPU: every syscall of every CPU updates these; per-CPU copies need no
 * atomics and share no cache lines. Userspace sums the copies. */
BPF_PERCPU_HASH(syscalls, struct cdig_mkey, struct cdig_sysstat, SYSCALLS_MAX);
BPF_PERCPU_HASH(errors, struct cdig_mkey, __u64, ERRORS_MAX);
BPF_PERCPU_HASH(procs, __u64, struct cdig_procstat, PROCS_MAX);
BPF_PERCPU_ARRAY(mstats, __u64, CDIG_MSTAT_MAX);
BPF_ARRAY(sysclass, __u8, NR_SYSCALLS);

static __always_inline void mcount(__u32 idx)
{
    __u64 *v = mstats.lookup(&idx);
    if (v)
        (*v)++;
}

/* The cgroup-v2 id of the running task, as bpf_get_current_cgroup_id() reads
 * it: task_dfl_cgroup(current)->kn->id, i.e. current->cgroups (its css_set,
 * which a move between cgroups replaces) -> dfl_cgrp -> kn -> id. With
 * CGROUP_CHAIN these are four loads through the BTF-typed task pointer, at
 * the offsets of the running kernel's BTF (config.py): the verifier checks
 * each against that BTF (a wrong offset is refused at load), and the JIT
 * inlines them, where the helper is a call (and, inside, rcu_read_lock and
 * unlock: more calls; a call and its return cost here, with retpolines and
 * the return thunk). The same read as the helper's, at the same moment, so a
 * move is seen exactly when the helper would see it. `task` is
 * bpf_get_current_task_btf() (a u64 here so that bcc leaves the loads alone;
 * the verifier still knows what it points to). */
#ifdef CGROUP_CHAIN
static __always_inline __u64 task_cgroup_id(__u64 task)
{
    __u64 cset = *(__u64 *)(task + OFF_TASK_CGROUPS);
    __u64 cgrp = *(__u64 *)(cset + OFF_CSS_SET_DFL_CGRP);
    __u64 kn = *(__u64 *)(cgrp + OFF_CGROUP_KN);
    return *(__u64 *)(kn + OFF_KERNFS_NODE_ID);
}
#define current_cgroup_id() task_cgroup_id((__u64)bpf_get_current_task_btf())
#else
#define current_cgroup_id() bpf_get_current_cgroup_id()
#endif

#ifndef LATENCY
/* Without LATENCY, the cgroup of the running task, cached per CPU with the
 * task it was read for: bpf_get_current_cgroup_id() walks task -> css_set ->
 * cgroup -> kernfs node at every call (the cache took 24 ns off a getppid
 * here, benchmarks/exporter_overhead.py --toggle), and a CPU mostly runs the
 * same task from one syscall to the next. A
 * task's cgroup changes only when it is moved (cgroup:cgroup_attach_task,
 * after the move, before the mover's write returns), and a task pointer names
 * another task only after a fork reused its memory (sched_process_fork, before
 * the child first runs): both bump `cggen`, and a cache entry of an older
 * generation is read again. So every call made after the move is counted in
 * the new cgroup; one racing with the move itself, on another CPU, may count
 * in either (the helper would see the new one from the moment the task's
 * css_set changed, a little before the tracepoint). v1-only moves do not
 * change the v2 cgroup the helper reads; they bump the generation too
 * (harmless). Not with LATENCY: its cgroup is the one a call *entered* in,
 * and test_exporter_live.py's whole-life comparison with bpftrace's sys_enter
 * counts, which runc's move of its init task (busy in syscalls meanwhile)
 * crosses, failed 1 run in 2 with the cache at entry: a call entered between
 * the css_set change and the tracepoint counted in the old cgroup. */
BPF_ARRAY(cggen, __u64, 1);

static __always_inline __u64 cg_gen(void)
{
    __u32 zero = 0;
    __u64 *g = cggen.lookup(&zero);
    return g ? *g : 0;
}

static __always_inline void cg_gen_bump(void)
{
    __u32 zero = 0;
    __u64 *g = cggen.lookup(&zero);
    if (g)
        lock_xadd(g, 1); /* atomic: two bumps at once still leave a new value */
}

RAW_TRACEPOINT_PROBE(cgroup_attach_task)
{
    cg_gen_bump();
    return 0;
}

/* the cgroup of `task` (bpf_get_current_task()) from a cache entry (its task,
 * generation and cgroup fields), the entry refreshed if stale; 1 in *miss then.
 * The generation is read before the cgroup: a move in between leaves the
 * entry stale, never wrong. */
static __always_inline __u64 cached_cgroup(__u64 *c_task, __u64 *c_gen, __u64 *c_cg,
                                           __u64 task, int *miss)
{
    __u64 gen = cg_gen();
    if (*c_task == task && *c_gen == gen) {
        *miss = 0;
        return *c_cg;
    }
    __u64 cg = current_cgroup_id();
    *c_task = task;
    *c_gen = gen;
    *c_cg = cg;
    *miss = 1;
    return cg;
}
#endif /* !LATENCY */

/* exit and exit_group never reach sys_exit: they are counted at entry. With
 * LATENCY in the raw sys_enter program, which runs for every syscall anyway;
 * without, at sched_process_exit (HAVE_TASK_PT_REGS) or else on their own
 * typed tracepoints (which fire for that syscall only, but hooking any typed
 * sys_enter_* runs the syscall tracepoints' perf handler at every syscall's
 * entry: ~25 ns a call, benchmarks/exporter_overhead.py floor-exit-typed). */
static __always_inline int count_entry(__u32 nr)
{
    struct cdig_mkey key = {.cgroup_id = current_cgroup_id(), .nr = nr, .errno_ = 0};
    struct cdig_sysstat zero = {};
    struct cdig_sysstat *v = syscalls.lookup_or_try_init(&key, &zero);
    if (v)
        v->count++;
    else
        mcount(CDIG_MSTAT_SYSCALLS_FULL);
    return 0;
}

#if !defined(LATENCY) && !defined(HAVE_TASK_PT_REGS)
TRACEPOINT_PROBE(syscalls, sys_enter_exit)
{
    return count_entry(NR_EXIT);
}

TRACEPOINT_PROBE(syscalls, sys_enter_exit_group)
{
    return count_entry(NR_EXIT_GROUP);
}
#endif

#ifdef LATENCY
struct lat_start {
    __u64 ts;
    __u64 nr;
    __u64 cgroup_id; /* at entry: a task moved meanwhile (runc init) counts where it entered */
};
#ifdef LAT_TASK_STORAGE
BPF_TASK_STORAGE(lat_start, struct lat_start);
/* The call in flight on each CPU, and whose it is. The enter writes it here
 * rather than in task storage, and the exit of a call whose task stayed on
 * its CPU finds it here: a per-CPU array lookup is inlined, a task storage
 * lookup is a helper call (40 ns at enter, 15 at exit in the kernel's run
 * time statistics here; benchmarks/exporter_breakdown.py lat1 vs lat1-pcpu).
 * A task switched out inside a syscall (it blocked, or was preempted) takes
 * its call along into its task storage (sched_switch below), where the call's
 * exit, on any CPU, finds it. So the slot is empty or the running task's:
 * programs run with preemption off, and a task leaves its CPU only through
 * sched_switch. */
struct lat_cpu {
    struct lat_start s;
    __u64 task; /* bpf_get_current_task() of the enter */
};
BPF_PERCPU_ARRAY(lat_cpu, struct lat_cpu, 1);

/* Before sys_enter in this file: programs attach in source order, so none
 * is switched out with a call in its CPU's slot unseen. In the context of
 * the task switched out (prev), before the switch. */
RAW_TRACEPOINT_PROBE(sched_switch)
{
    __u32 zero = 0;
    struct lat_cpu *c = lat_cpu.lookup(&zero);
    if (!c || !c->s.ts)
        return 0;
    if (c->task == bpf_get_current_task()) {
        struct lat_start *s = lat_start.task_storage_get(bpf_get_current_task_btf(), 0,
                                                         BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (s)
            *s = c->s;
        else
            mcount(CDIG_MSTAT_LAT_NOSTORE);
    }
    c->s.ts = 0;
    return 0;
}
#else
BPF_HASH(lat_start, __u32, struct lat_start, INFLIGHT_MAX);
#endif
BPF_F_TABLE("percpu_hash", struct cdig_mkey, struct cdig_latstat, latency, LATENCY_MAX,
            LAT_MAP_FLAGS);

#if LAT_CACHE_MAX > 0
/* The histograms' per-CPU cache in front of `latency` (record.h: struct
 * cdig_latent): a call whose (cgroup, syscall) holds one of its set's two
 * entries on this CPU is timed there, with two inlined array lookups where
 * the hash costs a call into the kernel's hash table (~40 ns a call here: this
 * program with an array by syscall number in place of the hash, measured with
 * exporter_overhead.py --toggle --variant). Userspace lists forgotten cgroups in
 * `deadcg` and bumps `deadgen`; an entry held by a cgroup is checked against
 * `deadcg` at most once per generation, when another pair wants it. */
BPF_PERCPU_ARRAY(latcache, struct cdig_latent, LAT_CACHE_MAX);
BPF_TABLE("lru_hash", __u64, __u8, deadcg, DEADCG_MAX);
BPF_ARRAY(deadgen, __u32, 1);

static __always_inline int lat_entry_free(struct cdig_latent *e, __u32 gen)
{
    __u64 holder = e->cgroup_id;
    if (holder == 0)
        return 1;
    if (e->checked == gen)
        return 0;
    if (deadcg.lookup(&holder))
        return 1;
    e->checked = gen; /* alive at this generation: not looked up again until the next */
    return 0;
}

static __always_inline struct cdig_latstat *lat_take(struct cdig_latent *e, __u64 cg, __u32 nr,
                                                     __u32 gen)
{
    __builtin_memset(&e->l, 0, sizeof(e->l));
    e->nr = nr;
    e->checked = gen;
    /* the values and number before the key (stores are seen in order on x86):
     * a reader that sees the new key sees them */
    __asm__ __volatile__("" ::: "memory");
    e->cgroup_id = cg;
    return &e->l;
}

static __always_inline struct cdig_latstat *lat_cached(__u64 cg, __u32 nr)
{
    __u32 i = (__u32)(((cg ^ ((__u64)nr << 48)) * 0x9E3779B97F4A7C15ull) >> 32) &
              (LAT_CACHE_MAX - 1);
    __u32 j = i ^ 1;
    struct cdig_latent *a = latcache.lookup(&i);
    if (!a)
        return 0;
    if (a->cgroup_id == cg && a->nr == nr)
        return &a->l;
    struct cdig_latent *b = latcache.lookup(&j);
    if (!b)
        return 0;
    if (b->cgroup_id == cg && b->nr == nr)
        return &b->l;
    __u32 zero = 0;
    __u32 *g = deadgen.lookup(&zero);
    __u32 gen = g ? *g : 0;
    if (lat_entry_free(a, gen))
        return lat_take(a, cg, nr, gen);
    if (lat_entry_free(b, gen))
        return lat_take(b, cg, nr, gen);
    return 0;
}
#endif

/* Raw tracepoints: their context is the tracepoint's own arguments,
 * (struct pt_regs *regs, long id) here and (regs, long ret) at exit, with
 * no copy into a trace buffer first (a classic tracepoint program costs
 * ~50 ns more per hook here: benchmarks/probe_overhead.py). regs is never
 * read: the exit takes the syscall number from the entry's slot, which is
 * also the number the syscall was *entered* with (rt_sigreturn restores a
 * register frame whose number is -1, a successful execveat exits as
 * execve). */
RAW_TRACEPOINT_PROBE(sys_enter)
{
    long id = (long)ctx->args[1];
    if (id == NR_EXIT || id == NR_EXIT_GROUP)
        return count_entry(id); /* never exits: nothing to time */
#ifdef LAT_TASK_STORAGE
    __u32 zero = 0;
    struct lat_cpu *c = lat_cpu.lookup(&zero);
    if (!c) {
        mcount(CDIG_MSTAT_LAT_NOSTORE);
        return 0;
    }
#ifdef CGROUP_CHAIN
    __u64 task = (__u64)bpf_get_current_task_btf();
    c->task = task;
    c->s.cgroup_id = task_cgroup_id(task);
#else
    c->task = bpf_get_current_task();
    c->s.cgroup_id = bpf_get_current_cgroup_id();
#endif
    c->s.nr = id;
    c->s.ts = bpf_ktime_get_ns();
#else
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct lat_start s = {.ts = bpf_ktime_get_ns(), .nr = id,
                          .cgroup_id = bpf_get_current_cgroup_id()};
    if (lat_start.update(&tid, &s))
        mcount(CDIG_MSTAT_LAT_NOSTORE);
#endif
    return 0;
}

/* floor(log2(v)), 0 for v <= 1 */
static __always_inline __u32 log2_u64(__u64 v)
{
    __u32 r = 0;
    if (v >> 32) {
        v >>= 32;
        r += 32;
    }
    if (v >> 16) {
        v >>= 16;
        r += 16;
    }
    if (v >> 8) {
        v >>= 8;
        r += 8;
    }
    if (v >> 4) {
        v >>= 4;
        r += 4;
    }
    if (v >> 2) {
        v >>= 2;
        r += 2;
    }
    if (v >> 1)
        r += 1;
    return r;
}
#endif /* LATENCY */

#ifdef SOCK_SPLIT
/* threads whose current syscall moved bytes through a socket (see above) */
BPF_TABLE("lru_hash", __u32, __u8, sockio, SOCKIO_MAX);

static __always_inline void mark_socket_io(int ret)
{
    if (ret <= 0)
        return;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u8 one = 1;
    sockio.update(&tid, &one);
}

TRACEPOINT_PROBE(sock, sock_send_length)
{
    mark_socket_io(args->ret);
    return 0;
}

TRACEPOINT_PROBE(sock, sock_recv_length)
{
    mark_socket_io(args->ret);
    return 0;
}
#endif

#ifdef TOP_COUNTERS
/* cdig top's exact counters (tui/counters.py reads them at each refresh):
 * the same sys_exit, keyed by (cgroup, process, syscall), so the TUI's
 * per-container, per-process and per-syscall counts are exact whatever the
 * event stream drops. -D TOP_MAX, TOP_ERR_MAX: map sizes. Preallocated: a
 * burst of new processes never fails for lack of memory; a full map is
 * counted in top_lost, never silent. Userspace deletes the rows of processes
 * that are gone, after showing them for one refresh. */
struct cdig_tkey {
    __u64 cgroup_id;
    __u32 tgid;
    __u32 nr;
};
struct cdig_tstat {
    __u64 count;
    __u64 errors;
    __u64 file_bytes;
    __u64 net_bytes;
    __u64 time_ns; /* sum of measured durations (LATENCY) */
};
struct cdig_tekey {
    __u64 cgroup_id;
    __u32 tgid;
    __u16 nr;
    __u16 errno_;
};
BPF_PERCPU_HASH(top_sys, struct cdig_tkey, struct cdig_tstat, TOP_MAX);
BPF_PERCPU_HASH(top_err, struct cdig_tekey, __u64, TOP_ERR_MAX);
BPF_PERCPU_ARRAY(top_lost, __u64, 2); /* 0: top_sys full, 1: top_err full */

static __always_inline void top_lost_inc(__u32 idx)
{
    __u64 *v = top_lost.lookup(&idx);
    if (v)
        (*v)++;
}

static __always_inline struct cdig_tstat *top_count(__u64 cg, __u32 nr, long ret)
{
    struct cdig_tkey k = {.cgroup_id = cg, .tgid = bpf_get_current_pid_tgid() >> 32, .nr = nr};
    struct cdig_tstat zero = {};
    struct cdig_tstat *t = top_sys.lookup_or_try_init(&k, &zero);
    if (!t) {
        top_lost_inc(0);
        return 0;
    }
    t->count++;
    if (ret < 0 && ret >= -4095) {
        t->errors++;
        struct cdig_tekey ek = {.cgroup_id = cg, .tgid = k.tgid, .nr = nr, .errno_ = -ret};
        __u64 none = 0;
        __u64 *e = top_err.lookup_or_try_init(&ek, &none);
        if (e)
            (*e)++;
        else
            top_lost_inc(1);
    }
    return t;
}
/* the comm of a process, at its fork and at each exec: one that lives a few
 * milliseconds is gone before userspace can read /proc, and still gets a name */
struct cdig_tcomm {
    char comm[16];
};
BPF_TABLE("lru_hash", __u32, struct cdig_tcomm, top_comm, TOP_MAX);
static __always_inline void top_comm_set(__u32 tgid)
{
    struct cdig_tcomm c = {};
    bpf_get_current_comm(&c.comm, sizeof(c.comm)); /* at fork: the child has its parent's */
    top_comm.update(&tgid, &c);
}
#define TOP_COMM_EXEC() top_comm_set(bpf_get_current_pid_tgid() >> 32)
#define TOP_COMM_FORK() top_comm_set(args->child_pid)
#define TOP_COUNT(cg, nr, ret) struct cdig_tstat *top = top_count(cg, nr, ret)
#define TOP_ADD(field, n) \
    do { \
        if (top) \
            top->field += (n); \
    } while (0)
#else
#define TOP_COUNT(cg, nr, ret)
#define TOP_ADD(field, n)
#define TOP_COMM_EXEC()
#define TOP_COMM_FORK()
#endif /* TOP_COUNTERS */

#ifndef LATENCY
/* Counting without a hash lookup (record.h): a cgroup's row in `slotrows`,
 * found through a per-CPU cache of the last task seen (its cgroup and slot:
 * cached_cgroup() above), else `cgroup -> slot`.
 * A slot is claimed by inserting into `slotowner` (BPF_NOEXIST: one CPU wins)
 * at up to CDIG_SLOT_PROBES places from the cgroup id's hash; userspace frees
 * the slot of a cgroup that is gone (probes/metrics/maps.py: zeroes its row,
 * then releases the owner) and clears the CDIG_SLOT_NONE entries, so those
 * cgroups try again. Cgroup ids are never reused, so a stale cache entry or
 * `cgslot` entry of a gone cgroup matches no task. */
BPF_PERCPU_ARRAY(slotrows, struct cdig_slotrow, SLOTS_MAX);
BPF_HASH(cgslot, __u64, __u32, CGSLOT_MAX);
BPF_HASH(slotowner, __u32, __u64, SLOTS_MAX);
BPF_PERCPU_ARRAY(slotcache, struct cdig_slotcache, 1);

static __always_inline __u32 claim_slot(__u64 cg)
{
    __u32 none = CDIG_SLOT_NONE;
    __u32 h = (__u32)((cg * 0x9E3779B97F4A7C15ull) >> 32);
#pragma unroll
    for (int i = 0; i < CDIG_SLOT_PROBES; i++) {
        __u32 k = (h + i) % SLOTS_MAX;
        if (slotowner.insert(&k, &cg) == 0) {
            if (cgslot.insert(&cg, &k) == 0)
                return k;
            slotowner.delete(&k); /* another CPU gave this cgroup a slot meanwhile */
            break;
        }
    }
    cgslot.insert(&cg, &none); /* no slot free (or taken meanwhile): read it back */
    __u32 *s = cgslot.lookup(&cg);
    return s ? *s : CDIG_SLOT_NONE;
}

/* the current task's cgroup in *cgp, and its row in `slotrows`, or 0: count
 * in the `syscalls` hash */
static __always_inline struct cdig_slotrow *slot_row(__u64 *cgp)
{
    __u32 zero = 0;
    struct cdig_slotcache *c = slotcache.lookup(&zero);
    if (!c) {
        *cgp = bpf_get_current_cgroup_id();
        return 0;
    }
    __u64 was = c->cgroup_id;
    int miss;
    __u64 cg = cached_cgroup(&c->task, &c->gen, &c->cgroup_id, bpf_get_current_task(), &miss);
    *cgp = cg;
    if (miss && cg != was) { /* another cgroup than the last task's */
        __u32 *s = cgslot.lookup(&cg);
        c->slot = s ? *s : claim_slot(cg);
    }
    __u32 slot = c->slot;
    if (slot >= SLOTS_MAX)
        return 0;
    return slotrows.lookup(&slot);
}
#endif

#ifndef LATENCY
/* Without LATENCY only sys_exit is hooked, and it sees the number in the
 * registers at exit: -1 after rt_sigreturn (it restored a frame), execve's
 * after a successful execveat. A thread inside such an execveat is marked
 * (below), and the exit of an execve looks the mark up. */
BPF_TABLE("lru_hash", __u32, __u32, entry_nr, ENTRY_MAX);

static __always_inline int mark_entry(__u32 nr)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    entry_nr.update(&tid, &nr);
    return 0;
}

/* the number a task's user register frame says it entered its current
 * syscall with (-1: none), as the kernel's syscall_get_nr() reads it */
static __always_inline long regs_nr(struct pt_regs *regs)
{
#if defined(bpf_target_arm64)
    int nr = -1;
    bpf_probe_read_kernel(&nr, sizeof(nr), &regs->syscallno);
#else
    long nr = -1;
    bpf_probe_read_kernel(&nr, sizeof(nr), &regs->orig_ax);
#endif
    return nr;
}

#ifdef HAVE_TASK_PT_REGS
static __always_inline long entered_nr(void)
{
    return regs_nr((struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()));
}

/* exec names the task after its file before the ELF loader rewrites orig_ax
 * as execve's; the other renames (prctl, /proc/PID/comm) are not in execveat */
TRACEPOINT_PROBE(task, task_rename)
{
    if (entered_nr() == NR_EXECVEAT)
        mark_entry(NR_EXECVEAT);
    return 0;
}

/* the number the syscall that exits now was entered with */
static __always_inline long entry_of(long id)
{
    if (id != -1 && id != NR_EXECVE && id != NR_EXECVEAT)
        return id;
    /* -1 at exit: rt_sigreturn restored a frame (a syscall(-1), no syscall at
     * all, is counted as one too) */
    if (id == -1)
        return NR_RT_SIGRETURN;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    if (!entry_nr.lookup(&tid))
        return id; /* a plain execve, a failed execveat */
    /* consumed also where the exit keeps execveat's number (arm64) */
    entry_nr.delete(&tid);
    return NR_EXECVEAT;
}
#else
/* no task registers: execveat and rt_sigreturn mark the thread at entry on
 * their typed tracepoints (the perf handler's cost at every entry, above) */
TRACEPOINT_PROBE(syscalls, sys_enter_execveat)
{
    return mark_entry(NR_EXECVEAT);
}

TRACEPOINT_PROBE(syscalls, sys_enter_rt_sigreturn)
{
    return mark_entry(NR_RT_SIGRETURN);
}

/* the number the syscall that exits now was entered with (-1: unknown) */
static __always_inline long entry_of(long id)
{
    if (id != -1 && id != NR_EXECVE && id != NR_EXECVEAT && id != NR_RT_SIGRETURN)
        return id;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u32 *m = entry_nr.lookup(&tid);
    if (!m)
        return id; /* a plain execve (or a -1 nobody marked: not counted) */
    long nr = *m;
    entry_nr.delete(&tid);
    if (id == NR_EXECVE && nr != NR_EXECVEAT)
        return id;
    return nr;
}
#endif /* HAVE_TASK_PT_REGS */
#endif /* !LATENCY */

#ifdef LATENCY
RAW_TRACEPOINT_PROBE(sys_exit)
{
    long ret = (long)ctx->args[1];
#ifdef LAT_TASK_STORAGE
    __u32 cpu_key = 0;
    struct lat_cpu *here = lat_cpu.lookup(&cpu_key);
    struct lat_start *s;
    /* a call in this CPU's slot is the running task's: every switch empties
     * the slot (sched_switch above), so a slot still full at an exit was
     * filled by this task's enter on this CPU, with no switch since */
    if (here && here->s.ts)
        s = &here->s; /* the task stayed on this CPU */
    else
        s = lat_start.task_storage_get(bpf_get_current_task_btf(), 0, 0);
#else
    __u32 ltid = (__u32)bpf_get_current_pid_tgid();
    struct lat_start *s = lat_start.lookup(&ltid);
#endif
    /* no entry seen: a new task's first return (from fork/clone: not a
     * call of its own), or a syscall already in flight when the probe was
     * attached (its number is not known: not counted) */
    if (!s || !s->ts) {
        mcount(CDIG_MSTAT_LAT_UNPAIRED);
        return 0;
    }
    long id = s->nr;
    __u64 cg = s->cgroup_id;
    __u64 d = bpf_ktime_get_ns() - s->ts;
#ifdef LAT_TASK_STORAGE
    s->ts = 0; /* consumed: a later exit without an enter is not paired with it */
#else
    lat_start.delete(&ltid);
#endif
#else
/* Raw: no trace-buffer copy first (an empty raw program costs 0.6x the
 * classic one's here, README); the number is read from the registers, as
 * the classic tracepoint reads it into args->id. */
RAW_TRACEPOINT_PROBE(sys_exit)
{
    long id = entry_of(regs_nr((struct pt_regs *)ctx->args[0]));
    long ret = (long)ctx->args[1];
    __u64 cg;
    struct cdig_slotrow *row = slot_row(&cg);
#endif
    if (id < 0 || id >= NR_SYSCALLS)
        return 0;
    __u32 nr = id;
    __u8 *cls = sysclass.lookup(&nr);
    __u8 c = cls ? *cls : 0;
    /* a new task "returns" from fork/clone (with 0) without having entered
     * it: one call, not two */
    if ((c & CDIG_CLS_FORK) && ret == 0)
        return 0;
    struct cdig_mkey key = {.cgroup_id = cg, .nr = nr, .errno_ = 0};
    TOP_COUNT(key.cgroup_id, nr, ret);
    /* rt_sigreturn "returns" the register it restored: not a result */
    int failed = (c & CDIG_CLS_NORET) == 0 && ret < 0 && ret >= -4095;
    int bytes = (c & (CDIG_CLS_RW | CDIG_CLS_NET)) && ret > 0;
    int sock = 0;
    if (c & (CDIG_CLS_RW | CDIG_CLS_NET | CDIG_CLS_SOCKCLR)) {
#ifdef SOCK_SPLIT
        __u32 tid = (__u32)bpf_get_current_pid_tgid();
        if (sockio.lookup(&tid)) {
            sock = 1;
            sockio.delete(&tid);
        }
#endif
    }
    int counted = 0;
#ifndef LATENCY
    if (row && nr < SLOT_NRS) {
        row->count[nr]++;
        counted = 1;
    }
#else
    /* A timed call is counted by its histogram slot (userspace adds the
     * slots to `count`): one map update per syscall instead of two; the
     * `syscalls` entry is touched only for errors, byte counts, and calls
     * whose duration could not be recorded (their count must not be lost). */
    TOP_ADD(time_ns, d);
    __u32 slot = d <= 1 ? 0 : log2_u64(d - 1) / 2;
    if (slot > CDIG_LAT_SLOTS - 1)
        slot = CDIG_LAT_SLOTS - 1;
#if LAT_CACHE_MAX > 0
    struct cdig_latstat *l = lat_cached(cg, nr);
#else
    struct cdig_latstat *l = 0;
#endif
    if (!l) {
        struct cdig_latstat lzero = {};
        l = latency.lookup_or_try_init(&key, &lzero);
    }
    if (l) {
        l->sum_ns += d;
        l->slots[slot & 31]++;
        counted = 1;
    } else {
        mcount(CDIG_MSTAT_LAT_FULL);
    }
#endif
    if (counted && !failed && !bytes)
        return 0;
    struct cdig_sysstat zero = {};
    struct cdig_sysstat *v = syscalls.lookup_or_try_init(&key, &zero);
    if (!v) {
        mcount(CDIG_MSTAT_SYSCALLS_FULL);
        return 0;
    }
    if (!counted)
        v->count++;
    if (failed) {
        v->errors++;
        key.errno_ = -ret;
        __u64 none = 0;
        __u64 *e = errors.lookup_or_try_init(&key, &none);
        if (e)
            (*e)++;
        else
            mcount(CDIG_MSTAT_ERRORS_FULL);
    }
    if (bytes) {
        if ((c & CDIG_CLS_NET) || sock) {
            v->net_bytes += ret;
            TOP_ADD(net_bytes, ret);
        } else {
            v->file_bytes += ret;
            TOP_ADD(file_bytes, ret);
        }
    }
    return 0;
}

static __always_inline struct cdig_procstat *procstat(void)
{
    __u64 cg = current_cgroup_id();
    struct cdig_procstat zero = {};
    struct cdig_procstat *p = procs.lookup_or_try_init(&cg, &zero);
    if (!p)
        mcount(CDIG_MSTAT_PROCS_FULL);
    return p;
}

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    struct cdig_procstat *p = procstat();
    if (p)
        p->execs++;
    TOP_COMM_EXEC();
    return 0;
}

/* Runs in the parent, whose cgroup the child starts in. Threads are tasks
 * too: the tracepoint cannot tell them apart without reading task_struct. */
TRACEPOINT_PROBE(sched, sched_process_fork)
{
#ifndef LATENCY
    cg_gen_bump(); /* the child's task may reuse a cached task's memory */
#endif
    struct cdig_procstat *p = procstat();
    if (p)
        p->forks++;
    TOP_COMM_FORK();
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit)
{
#if !defined(LATENCY) && defined(HAVE_TASK_PT_REGS)
    long nr = entered_nr(); /* exit/exit_group: see the top of this file */
    if (nr == NR_EXIT || nr == NR_EXIT_GROUP)
        count_entry(nr);
#endif
#if defined(LATENCY) && !defined(LAT_TASK_STORAGE)
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    lat_start.delete(&tid); /* a thread killed inside a syscall never exits it */
#endif
#ifdef HAVE_GROUP_DEAD
    if (!args->group_dead)
        return 0;
#else
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if ((__u32)pid_tgid != pid_tgid >> 32)
        return 0; /* approximation: the group leader's exit */
#endif
    struct cdig_procstat *p = procstat();
    if (p)
        p->exits++;
    return 0;
}
