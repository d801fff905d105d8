/* cdig syscall probe: one record per completed syscall, plus process
 * lifecycle records. Tracepoints only (no kprobes on hosts without
 * CONFIG_KPROBES), and only tracepoint arguments, user memory, helpers, the
 * user register frame (whose layout is the ABI's) and, with TASK_READS, a few
 * fields of the current task at the offsets of the running kernel's BTF (never
 * of the headers bcc compiles against, so headers that do not match the
 * running kernel are fine).
 *
 * Configured with -D defines by probe.py (SyscallProbe.cflags):
 *   SELF_TGID          cdig's own process, never traced (output feeds back)
 *   EVENTS_PAGES, EXT_PAGES, IO_PAGES, INFLIGHT_MAX, CONNECTING_MAX  sizes
 *   WAKEUP_NS          a ring wakes its reader at most this often
 *   NR_SYSCALLS        size of the sysinfo array
 *   NR_CONNECT         connect(2)'s number, for the local-address capture
 *   FILTER_PID, FILTER_CGROUP, FILTER_SYSCALL, FILTER_FAILED  pushdown
 *   SNAPLEN            bytes of I/O buffers to copy (sysdig's -s; 0: none)
 *   TASK_READS, OFF_*  read the task's ids, cgroup, credentials and name through
 *                      the BTF-typed task pointer at the running kernel's offsets
 *                      (its BTF; probe.py: task_offsets) instead of one helper
 *                      each (see cur_task below)
 *   TASK_PT_REGS       with TASK_READS: sys_enter reads the arguments through
 *                      bpf_task_pt_regs() (5.15+) instead of bpf_probe_read_kernel
 *   ENTER_EVENTS       an enter record for every syscall (sysdig's '>'), so one
 *                      that blocks is seen while it blocks; without it only the
 *                      calls that may never return (execve, exit) have one
 *   ENTER_TP           a classic tracepoint for sys_enter (what other
 *                      architectures use; benchmarks/probe_overhead.py compares)
 *   PAIR_HASH          pair enter/exit through a tid-keyed hash instead of
 *                      task-local storage (kernels < 5.11 or without BTF;
 *                      also what benchmarks/probe_overhead.py compares against)
 */
#include <uapi/linux/ptrace.h>
#include "record.h"

#define ARGV_MAX 16
#define TCP_SYN_SENT 2

/* Three rings, each of fixed-size records, so userspace can view a whole drain
 * as one numpy array: most syscalls carry no strings and cost 128 bytes, the
 * few that do (open, exec, connect...) go to the ext ring, and the I/O calls'
 * data (SNAPLEN > 0) to the io ring, records sized by the snaplen. */
BPF_RINGBUF_OUTPUT(events, EVENTS_PAGES);
BPF_RINGBUF_OUTPUT(events_ext, EXT_PAGES);
BPF_RINGBUF_OUTPUT(events_io, IO_PAGES);
BPF_PERCPU_ARRAY(stats, __u64, CDIG_STAT_MAX);
BPF_ARRAY(sysinfo, struct cdig_sysinfo, NR_SYSCALLS);

/* The syscall a thread is inside, between enter and exit: pairing gives
 * latency and lets the exit handler read arguments after the kernel filled
 * them in (accept's peer address).
 *
 * Kept in task-local storage: a slot on the thread itself, created at its
 * first traced syscall and freed with it, so a syscall costs a store and a
 * load instead of a hash insert, lookup and delete (benchmarks/
 * probe_overhead.py). `ts == 0` marks the slot empty (consumed at exit).
 * Only the current task's slot is ever reached (bpf_get_current_task_btf()
 * is passed through to the helper, never dereferenced). */
struct inflight {
    __u64 ts;
    __u64 args[6];
    __u32 nr;
    __u16 lport;   /* set by inet_sock_set_state during connect */
    __u16 lfamily;
    __u8 laddr[16];
    __u64 sk;      /* the connecting socket's address (a key, never read) */
    __u8 sel;      /* task storage: SEL_*, process_selected() of this thread */
};
#define SEL_YES 1
#define SEL_NO 2
#ifdef PAIR_HASH
BPF_HASH(inflight, __u32, struct inflight, INFLIGHT_MAX);
#else
BPF_TASK_STORAGE(inflight, struct inflight);
#endif

#if !defined(PAIR_HASH) && !defined(PAIR_TASK_ONLY)
/* Cheaper than task storage at both hooks (a helper call each): the call in
 * flight on each CPU in a per-CPU slot claimed by its task (an inlined array
 * lookup), which a task switched out mid-call carries into its task storage
 * (sched_switch below), where the exit finds it on any CPU. The slot also
 * keeps its task's selection (`sel`), so task storage is reached once per
 * switch-in, not per call. The slot is empty or the running task's: programs
 * run with preemption off and a task leaves its CPU only through
 * sched_switch, which empties it. The metrics probe does the same
 * (probes/metrics/program.bpf.c, lat_cpu). */
#define PAIR_CPU 1
struct inflight_cpu {
    struct inflight f;
    __u64 task; /* bpf_get_current_task() of the task that claimed the slot since the
                 * last switch (so the running one); 0: unclaimed */
};
BPF_PERCPU_ARRAY(inflight_cpu, struct inflight_cpu, 1);
#endif

/* the current thread's in-flight syscall, or NULL (bcc's map calls cannot
 * sit in macros, hence functions) */
static __always_inline struct inflight *inflight_get(__u32 tid)
{
#ifdef PAIR_HASH
    return inflight.lookup(&tid);
#else
#ifdef PAIR_CPU
    __u32 zero = 0;
    struct inflight_cpu *c = inflight_cpu.lookup(&zero);
    /* claimed: by the running task, since no switch emptied it (and its call, or
     * none: ts 0, is here, not in its storage); no helper call to ask which task */
    if (c && c->task)
        return &c->f;
#endif
    return inflight.task_storage_get(bpf_get_current_task_btf(), 0, 0);
#endif
}

static __always_inline void inflight_done(struct inflight *f, __u32 tid)
{
#ifdef PAIR_HASH
    inflight.delete(&tid);
#else
    f->ts = 0;
#endif
}

/* The local address of a TCP connect is chosen inside connect(2). The
 * SYN_SENT transition fires in the connecting thread with the source address,
 * but before the kernel picks the ephemeral source port (tcp_v4_connect sets
 * SYN_SENT, then inet_hash_connect), so sport is 0 there unless the socket
 * was bound. The port is known when the socket leaves SYN_SENT (established,
 * or closed on failure), which may run in softirq context on any task:
 * `connecting` maps the socket (its address, used only as a key) to the
 * connecting thread until then. */
#ifdef PAIR_HASH
BPF_HASH(connecting, __u64, __u32, CONNECTING_MAX);
#else
/* With task storage only the current thread's in-flight slot can be
 * reached, so the port found in softirq context waits here, keyed by the
 * socket, for the connect's own sys_exit to pick it up (and delete the
 * entry). LRU: an entry whose connect never exits (thread killed, or a
 * non-blocking connect that had returned already) is evicted, not leaked. */
struct connecting {
    __u16 lport;   /* 0 until the socket leaves SYN_SENT with its port */
    __u16 lfamily;
    __u8 laddr[16];
};
BPF_TABLE("lru_hash", __u64, struct connecting, connecting, CONNECTING_MAX);
#endif

/* cdig's own helper processes (e.g. `podman inspect` run to name a
 * container) and their descendants: tracing them would show cdig's work as
 * if it were the host's, and feed back. Filled at fork, emptied when the
 * task is freed (a group leader is freed only after its last thread). */
BPF_HASH(ignored, __u32, __u8, 1024);

#ifdef FILTER_PID
BPF_HASH(filter_pid, __u32, __u8, 4096);
#endif
#ifdef FILTER_CGROUP
BPF_HASH(filter_cgroup, __u64, __u8, 4096);
#endif

static __always_inline void count(__u32 idx)
{
    __u64 *v = stats.lookup(&idx);
    if (v)
        (*v)++;
}

/* When the consumer keeps up, the kernel's default policy wakes it (an
 * irq_work, i.e. a self-IPI: a VM exit here) for nearly every few records,
 * and that wake-up was the largest single cost of a record: ~250 ns a
 * syscall on the getppid loop, more than the record itself
 * (benchmarks/probe_overhead.py). So each ring wakes its consumer at most
 * once per WAKEUP_NS, on the first record after that; the records in
 * between wait for the next wake-up or for the consumer's own poll timeout
 * (collector/sources.py: 5 ms after a non-empty drain). An idle consumer is
 * woken by the first record at once, so a quiet stream is not delayed. */
BPF_ARRAY(last_wakeup, __u64, 3);

static __always_inline __u64 wakeup(__u32 ring, __u64 now)
{
    __u64 *last = last_wakeup.lookup(&ring);
    if (!last || WAKEUP_NS == 0) /* 0: the kernel's own policy */
        return 0;
    if (now - *last < WAKEUP_NS)
        return BPF_RB_NO_WAKEUP;
    *last = now; /* racy between CPUs: at worst one more wake-up */
    return BPF_RB_FORCE_WAKEUP;
}
#define RING_EVENTS 0
#define RING_EXT 1
#define RING_IO 2

/* What a record says of the task that made it: its ids, cgroup, credentials and
 * name. With TASK_READS these are loads through the BTF-typed task pointer
 * (bpf_get_current_task_btf(), kept as a u64 so that bcc leaves the loads
 * alone; the verifier still knows what it points to) at the offsets of the
 * running kernel's BTF (probe.py: task_offsets), which the verifier checks
 * against that same BTF: a wrong offset is refused at load, never read, and
 * probe.py then loads the helpers' version. Each helper is a call, and a call
 * and its return cost ~30 ns here (retpolines and the return thunk): the
 * four of a record (ids, cgroup, uid/gid, comm) were ~100 ns of the ~250 the
 * probe added to a getppid call (benchmarks/probe_overhead.py). The loads are
 * the helpers' own reads, at the same moment, so the values are the same:
 *   bpf_get_current_pid_tgid()   tgid << 32 | pid
 *   bpf_get_current_cgroup_id()  cgroups (the css_set) -> dfl_cgrp -> kn -> id
 *                                (as probes/metrics/program.bpf.c reads it)
 *   bpf_get_current_uid_gid()    cred -> gid << 32 | uid; the helper maps them
 *                                into the initial user namespace, where ids map
 *                                to themselves
 *   bpf_get_current_comm()       comm, copied as strscpy_pad copies it: the
 *                                bytes up to the first NUL (15 at most), then
 *                                zeros (task_comm) */
#ifdef TASK_READS
static __always_inline __u64 cur_task(void)
{
    return (__u64)bpf_get_current_task_btf();
}

static __always_inline __u64 task_pid_tgid(__u64 task)
{
    return (__u64)*(__u32 *)(task + OFF_TASK_TGID) << 32 | *(__u32 *)(task + OFF_TASK_PID);
}

static __always_inline __u64 task_cgroup_id(__u64 task)
{
    __u64 cset = *(__u64 *)(task + OFF_TASK_CGROUPS);
    __u64 cgrp = *(__u64 *)(cset + OFF_CSS_SET_DFL_CGRP);
    __u64 kn = *(__u64 *)(cgrp + OFF_CGROUP_KN);
    return *(__u64 *)(kn + OFF_KERNFS_NODE_ID);
}

static __always_inline __u64 task_uid_gid(__u64 task)
{
    __u64 cred = *(__u64 *)(task + OFF_TASK_CRED);
    return (__u64)*(__u32 *)(cred + OFF_CRED_GID) << 32 | *(__u32 *)(cred + OFF_CRED_UID);
}

/* the bytes of w (little-endian) before its first zero byte, as a mask (all
 * ones: none is zero). A byte's top bit is set in z iff the byte is zero. */
static __always_inline __u64 before_nul(__u64 w)
{
    __u64 lo7 = 0x7F7F7F7F7F7F7F7FULL;
    __u64 z = ~(((w & lo7) + lo7) | w | lo7);
    if (!z)
        return ~0ULL;
    return ((z & -z) >> 7) - 1;
}

static __always_inline void task_comm(__u64 task, char *comm)
{
    __u64 w0 = *(__u64 *)(task + OFF_TASK_COMM);
    __u64 w1 = *(__u64 *)(task + OFF_TASK_COMM + 8) & 0x00FFFFFFFFFFFFFFULL; /* 15 at most */
    __u64 k0 = before_nul(w0);
    *(__u64 *)&comm[0] = w0 & k0;
    *(__u64 *)&comm[8] = k0 == ~0ULL ? w1 & before_nul(w1) : 0;
}
#else
#define cur_task() 0
#define task_pid_tgid(task) bpf_get_current_pid_tgid()
#define task_cgroup_id(task) bpf_get_current_cgroup_id()
#define task_uid_gid(task) bpf_get_current_uid_gid()
#define task_comm(task, comm) bpf_get_current_comm(comm, CDIG_COMM_LEN)
#endif

/* `task`: cur_task() */
static __always_inline void fill(struct cdig_event *e, __u64 task, __u64 pid_tgid,
                                 __u64 cgroup, __u32 nr, __u8 kind, __u64 now)
{
    __u64 uid_gid = task_uid_gid(task);
    e->ts_ns = now;
    e->latency_ns = 0;
    e->cgroup_id = cgroup;
    e->ret = 0;
    e->pid = pid_tgid >> 32;
    e->tid = (__u32)pid_tgid;
    e->uid = (__u32)uid_gid;
    e->gid = uid_gid >> 32;
    e->nr = nr;
    e->kind = kind;
    e->flags = 0;
    e->cpu = bpf_get_smp_processor_id();
    task_comm(task, e->comm);
}

/* Process-level filters; the syscall filter is separate. The first two
 * never change for a given process while it lives (`ignored` is filled at
 * fork, before the child runs; the pid filter is fixed at load), so
 * sys_enter caches them in the thread's in-flight slot. */
static __always_inline int process_selected(__u32 tgid)
{
    if (tgid == SELF_TGID || ignored.lookup(&tgid))
        return 0;
#ifdef FILTER_PID
    if (!filter_pid.lookup(&tgid))
        return 0;
#endif
    return 1;
}

/* ... and the cgroup: a task moves between cgroups (runc moves a
 * container's first process into its cgroup), so it is checked every time */
static __always_inline int selected(__u32 tgid, __u64 cgroup)
{
#ifdef FILTER_CGROUP
    if (!filter_cgroup.lookup(&cgroup))
        return 0;
#endif
    return process_selected(tgid);
}

/* An ext record's arguments and its first string (if the call has one), the
 * other string fields empty. */
static __always_inline void ext_args(struct cdig_event_ext *x, const __u64 *args,
                                     struct cdig_sysinfo *si)
{
    #pragma unroll
    for (int i = 0; i < 6; i++)
        x->ev.args[i] = args[i];
    x->len1 = 0;
    x->len2 = 0;
    x->argc = 0;
    x->pad = 0;
    if (si->str1_arg < 6)
        x->len1 = bpf_probe_read_user_str(x->str1, sizeof(x->str1),
                                          (void *)args[si->str1_arg & 7]);
}

#if SNAPLEN > 0
struct cdig_iovec {
    __u64 base;
    __u64 len;
};

/* The user address and length of the buffer of read/write/pread/pwrite/sendto/
 * recvfrom, or 0 (the vectored calls gather theirs: gather_iov). */
static __always_inline __u64 io_buffer(__u64 buf, long ret, __u64 *n)
{
    if (ret <= 0 || !buf)
        return 0;
    *n = ret;
    if (*n > SNAPLEN)
        *n = SNAPLEN;
    return buf;
}

/* readv/writev/preadv/pwritev/sendmsg/recvmsg: their data is spread over
 * iovecs, copied as sysdig's driver does, across them up to the snaplen. It is
 * gathered in a per-CPU buffer first: a copy into a record at an offset that
 * grows iovec by iovec is one the verifier cannot bound within the record. */
#define IOV_FOLLOWED 16 /* iovecs followed at most (small writes of many pieces) */
#define IOV_MASK 1023   /* >= SNAPLEN (at most 768): bounds offsets and sizes */
struct iov_gather {
    __u8 b[2 * (IOV_MASK + 1)];
};
BPF_PERCPU_ARRAY(iov_gathered, struct iov_gather, 1);

/* The first `want` bytes of the call's iovecs in the per-CPU buffer `g`: how
 * many were copied (fewer if the iovecs hold less), -1 if the first failed. */
static __always_inline long gather_iov(struct iov_gather *g, const __u64 *args,
                                       struct cdig_sysinfo *si, __u64 want)
{
    __u64 iov = args[1], cnt = args[2];
    if (si->flags & CDIG_SYS_MSG) {
        __u64 m[2] = {}; /* struct msghdr's msg_iov and msg_iovlen (offsets 16, 24) */
        if (bpf_probe_read_user(m, sizeof(m), (void *)(args[1] + 16)))
            return -1;
        iov = m[0];
        cnt = m[1];
    }
    __u64 off = 0;
    for (int i = 0; i < IOV_FOLLOWED; i++) {
        if (i >= cnt || off >= want)
            break;
        struct cdig_iovec v = {};
        if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))))
            return off ? (long)off : -1;
        __u64 take = v.len;
        if (take > want - off)
            take = want - off;
        if (!take || !v.base)
            continue;
        if (bpf_probe_read_user(&g->b[off & IOV_MASK], take & IOV_MASK, (void *)v.base))
            return off ? (long)off : -1;
        off += take;
    }
    return off;
}

/* The first bytes of an I/O call's buffer, read at exit: a read's buffer
 * holds what the kernel filled in only then, and `ret` says how many bytes
 * are real (a write's too: what was written). The ext record's form, for
 * sendto/recvfrom (str2 holds their socket address: then str1 only). */
static __always_inline void io_data(struct cdig_event_ext *x, const __u64 *args, long ret,
                                    struct cdig_sysinfo *si)
{
    x->ev.flags |= CDIG_FLAG_IO_DATA;
    x->len1 = 0;
    __u64 n = 0;
    __u64 lim = si->addr_arg < 6 ? CDIG_STR1_LEN : SNAPLEN;
    if (si->flags & CDIG_SYS_MSG) { /* sendmsg/recvmsg (an address too): iovecs, gathered */
        __u32 zero = 0;
        struct iov_gather *g = iov_gathered.lookup(&zero);
        if (!g || ret <= 0)
            return;
        long got = gather_iov(g, args, si, ret > lim ? lim : ret);
        if (got < 0) {
            x->len1 = -1;
            return;
        }
        n = got;
        if (n > lim)
            n = lim;
        if (n && bpf_probe_read_kernel(x->str1, n & 0x3ff, g->b) == 0)
            x->len1 = n;
        return;
    }
    __u64 buf = io_buffer(args[1], ret, &n);
    if (!buf)
        return;
    if (n > lim)
        n = lim;
    if (bpf_probe_read_user(x->str1, n & 0x3ff, (void *)buf) == 0)
        x->len1 = n;
    else
        x->len1 = -1;
}

/* An I/O call without strings: a record of the io ring. */
static __always_inline void emit_io(struct inflight *f, __u64 task, __u64 pid_tgid,
                                    __u64 cgroup, __u32 nr, long ret,
                                    struct cdig_sysinfo *si, __u64 now)
{
    struct cdig_event_io *x = events_io.ringbuf_reserve(sizeof(*x));
    if (!x) {
        count(CDIG_STAT_DROP_IO);
        return;
    }
    fill(&x->ev, task, pid_tgid, cgroup, nr, CDIG_KIND_SYSCALL, now);
    x->ev.latency_ns = now - f->ts;
    x->ev.ret = ret;
    #pragma unroll
    for (int i = 0; i < 6; i++)
        x->ev.args[i] = f->args[i];
    x->ev.flags = CDIG_FLAG_IO_DATA;
    x->len = 0;
    x->pad[0] = 0;
    x->pad[1] = 0;
    x->pad[2] = 0;
    __u64 n = 0;
    if (si->flags & (CDIG_SYS_IOV | CDIG_SYS_MSG)) {
        __u32 zero = 0;
        struct iov_gather *g = iov_gathered.lookup(&zero);
        if (g && ret > 0) {
            long got = gather_iov(g, f->args, si, ret > SNAPLEN ? SNAPLEN : ret);
            if (got < 0) {
                x->len = -1;
            } else if (got > 0) {
                n = got;
                if (n > SNAPLEN)
                    n = SNAPLEN;
                if (bpf_probe_read_kernel(x->data, n & 0x3ff, g->b) == 0)
                    x->len = n;
            }
        }
    } else {
        __u64 buf = io_buffer(f->args[1], ret, &n);
        if (buf) {
            if (bpf_probe_read_user(x->data, n & 0x3ff, (void *)buf) == 0)
                x->len = n;
            else
                x->len = -1;
        }
    }
    events_io.ringbuf_submit(x, wakeup(RING_IO, now));
    count(CDIG_STAT_SEEN);
}
#endif

static __always_inline void emit_enter(const __u64 *args, __u32 nr,
                                       struct cdig_sysinfo *si, __u64 now)
{
    __u64 task = cur_task();
    __u64 pid_tgid = task_pid_tgid(task);
    __u64 cgroup = task_cgroup_id(task);
    if (!(si->flags & CDIG_SYS_ARGV)) {
        struct cdig_event *e = events.ringbuf_reserve(sizeof(*e));
        if (!e) {
            count(CDIG_STAT_DROP_EVENTS);
            return;
        }
        fill(e, task, pid_tgid, cgroup, nr, CDIG_KIND_SYSCALL_ENTER, now);
        #pragma unroll
        for (int i = 0; i < 6; i++)
            e->args[i] = args[i];
        events.ringbuf_submit(e, wakeup(RING_EVENTS, now));
        count(CDIG_STAT_SEEN);
        return;
    }
    /* execve/execveat: the filename and argv must be read now, before the
     * old image (and its memory) is gone. */
    struct cdig_event_ext *x = events_ext.ringbuf_reserve(sizeof(*x));
    if (!x) {
        count(CDIG_STAT_DROP_EXT);
        return;
    }
    fill(&x->ev, task, pid_tgid, cgroup, nr, CDIG_KIND_SYSCALL_ENTER, now);
    ext_args(x, args, si);
    const char *const *argv = (const char *const *)args[si->str1_arg == 0 ? 1 : 2];
    __u32 off = 0;
    #pragma unroll
    for (int i = 0; i < ARGV_MAX; i++) {
        const char *p = 0;
        if (bpf_probe_read_user(&p, sizeof(p), &argv[i]) || !p)
            break;
        if (off > CDIG_STR2_LEN / 2 - 1) {
            x->pad = 1; /* truncated */
            break;
        }
        long n = bpf_probe_read_user_str(&x->str2[off & (CDIG_STR2_LEN / 2 - 1)],
                                         CDIG_STR2_LEN / 2, p);
        if (n <= 0)
            break;
        off += n;
        x->argc++;
    }
    x->len2 = off;
    events_ext.ringbuf_submit(x, wakeup(RING_EXT, now));
    count(CDIG_STAT_SEEN);
}

#ifdef PAIR_CPU
/* Before sys_enter in this file: programs attach in source order, so no call
 * sits in a CPU's slot while its task is switched out unseen. Runs in the
 * context of the task switched out (prev), before the switch. */
RAW_TRACEPOINT_PROBE(sched_switch)
{
    __u32 zero = 0;
    struct inflight_cpu *c = inflight_cpu.lookup(&zero);
    if (!c || !c->task)
        return 0;
    if (c->f.ts && c->task == bpf_get_current_task()) {
        struct inflight *f = inflight.task_storage_get(bpf_get_current_task_btf(), 0,
                                                       BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (f)
            *f = c->f;
        else
            count(CDIG_STAT_DROP_INFLIGHT);
    }
    c->f.ts = 0;
    c->task = 0;
    return 0;
}
#endif

/* The syscall's six arguments, as the kernel's syscall_get_arguments() reads
 * them. A raw tracepoint's context is (struct pt_regs *regs, long id), with no
 * copy of the arguments into a trace buffer first, which costs a classic
 * tracepoint program ~50 ns more a syscall (benchmarks/probe_overhead.py:
 * probe-task vs probe-task-tp); the price is reading the user register frame,
 * on x86_64 one bpf_probe_read_kernel of r10..di (a layout fixed by the ABI:
 * uapi/asm/ptrace.h), done only for the calls that are recorded. Other
 * architectures, and ENTER_TP (the benchmark's comparison), use the classic
 * tracepoint. */
#if defined(__x86_64__) && !defined(ENTER_TP)
#define RAW_ENTER 1
#if defined(TASK_READS) && defined(TASK_PT_REGS)
/* The same frame (the raw tracepoint's regs is task_pt_regs(current)), read
 * through the BTF-typed pointer bpf_task_pt_regs() returns: six inlined loads,
 * which the verifier checks against the kernel's BTF, instead of the helper
 * that copies with fault handling (~15 ns a syscall less here, with the
 * pid/tgid read only where the enter needs it; probe_overhead.py). */
static __always_inline void enter_args(__u64 *out, struct pt_regs *unused)
{
    __u64 regs = (__u64)bpf_task_pt_regs(bpf_get_current_task_btf());
    out[0] = *(__u64 *)(regs + offsetof(struct pt_regs, di));
    out[1] = *(__u64 *)(regs + offsetof(struct pt_regs, si));
    out[2] = *(__u64 *)(regs + offsetof(struct pt_regs, dx));
    out[3] = *(__u64 *)(regs + offsetof(struct pt_regs, r10));
    out[4] = *(__u64 *)(regs + offsetof(struct pt_regs, r8));
    out[5] = *(__u64 *)(regs + offsetof(struct pt_regs, r9));
}
#else
static __always_inline void enter_args(__u64 *out, struct pt_regs *regs)
{
    __u64 r[8] = {}; /* r10 r9 r8 ax cx dx si di */
    bpf_probe_read_kernel(r, sizeof(r), &regs->r10);
    out[0] = r[7];
    out[1] = r[6];
    out[2] = r[5];
    out[3] = r[0];
    out[4] = r[2];
    out[5] = r[1];
}
#endif
#endif

#ifdef RAW_ENTER
RAW_TRACEPOINT_PROBE(sys_enter)
{
    long id = (long)ctx->args[1];
#else
TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
    long id = args->id;
#endif
    if (id < 0 || id >= NR_SYSCALLS)
        return 0;
    __u32 nr = id;
    /* the pid/tgid is read only where the process filters need it: every call
     * with the hash, a claim of the CPU's slot, a thread's first call to task storage */
#ifdef PAIR_HASH
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u64 cgroup = bpf_get_current_cgroup_id();
    if (!selected(pid_tgid >> 32, cgroup))
        return 0;
    struct inflight slot = {};
    struct inflight *f = &slot;
#else
#ifdef PAIR_CPU
    __u32 zero = 0;
    struct inflight_cpu *c = inflight_cpu.lookup(&zero);
    if (!c)
        return 0;
    if (!c->task) {
        /* the first call since the task came onto this CPU: its selection is
         * kept in its storage (no memory for a new thread's: unrecorded, counted) */
        struct inflight *s = inflight.task_storage_get(bpf_get_current_task_btf(), 0,
                                                       BPF_LOCAL_STORAGE_GET_F_CREATE);
        if (!s) {
            count(CDIG_STAT_DROP_INFLIGHT);
            return 0;
        }
        if (!s->sel)
            s->sel = process_selected(bpf_get_current_pid_tgid() >> 32) ? SEL_YES : SEL_NO;
        c->f.sel = s->sel;
        c->f.ts = 0;
        c->task = bpf_get_current_task();
    }
    struct inflight *f = &c->f;
#else
    /* no memory for a new thread's slot: that syscall goes unrecorded (counted) */
    struct inflight *f = inflight.task_storage_get(bpf_get_current_task_btf(), 0,
                                                   BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!f) {
        count(CDIG_STAT_DROP_INFLIGHT);
        return 0;
    }
    if (!f->sel)
        f->sel = process_selected(bpf_get_current_pid_tgid() >> 32) ? SEL_YES : SEL_NO;
#endif
    if (f->sel != SEL_YES)
        return 0;
#ifdef FILTER_CGROUP
    /* else not read here: the exit (or an enter record) reads it when it is sent */
    __u64 cgroup = task_cgroup_id(cur_task());
    if (!filter_cgroup.lookup(&cgroup))
        return 0;
#endif
#endif
    struct cdig_sysinfo *si = sysinfo.lookup(&nr);
    if (!si)
        return 0;
#ifdef FILTER_SYSCALL
    if (!(si->flags & (CDIG_SYS_WANT | CDIG_SYS_STATE)))
        return 0;
#endif
#ifndef PAIR_HASH
    f->lfamily = 0;
    f->sk = 0;
#endif
    f->ts = bpf_ktime_get_ns();
    f->nr = nr;
#ifdef RAW_ENTER
    enter_args(f->args, (struct pt_regs *)ctx->args[0]);
#else
    #pragma unroll
    for (int i = 0; i < 6; i++)
        f->args[i] = args->args[i];
#endif
#if defined(ENTER_EVENTS) && !defined(FILTER_FAILED)
    /* a plain record (the exit still carries the arguments and the strings);
     * none when only failed calls are wanted: an enter event never failed */
    if (!(si->flags & CDIG_SYS_ENTER))
        emit_enter(f->args, nr, si, f->ts);
#endif
    if (si->flags & CDIG_SYS_ENTER) {
        emit_enter(f->args, nr, si, f->ts);
        if (!(si->flags & CDIG_SYS_ARGV)) {
            f->ts = 0; /* exit/exit_group never return */
            return 0;
        }
    }
#ifdef PAIR_HASH
    __u32 tid = (__u32)pid_tgid;
    if (inflight.update(&tid, f))
        count(CDIG_STAT_DROP_INFLIGHT);
#endif
    return 0;
}

/* A raw tracepoint: its context is the tracepoint's own arguments
 * (struct pt_regs *regs, long ret), with no per-call copy into a trace
 * buffer first, which costs a classic tracepoint program ~50 ns more a
 * syscall here (benchmarks/probe_overhead.py: empty-raw vs empty-tp). Only
 * `ret` is read; regs is not touched: the syscall number and arguments come
 * from the in-flight slot. */
RAW_TRACEPOINT_PROBE(sys_exit)
{
    __u64 task = cur_task();
    __u64 pid_tgid = task_pid_tgid(task);
    __u32 tid = (__u32)pid_tgid;
    struct inflight *f = inflight_get(tid);
    if (!f || !f->ts)
        return 0;
    __u64 now = bpf_ktime_get_ns();
    long ret = (long)ctx->args[1];
    __u32 nr = f->nr;
    struct cdig_sysinfo *si = sysinfo.lookup(&nr);
    if (!si)
        goto out;
#ifdef FILTER_FAILED
    /* failed-only still keeps state syscalls: userspace needs them */
    if (ret >= 0 && !(si->flags & CDIG_SYS_STATE))
        goto out;
#endif
    __u64 cgroup = task_cgroup_id(task);
    if (si->str1_arg == CDIG_NO_ARG && si->addr_arg == CDIG_NO_ARG && nr != NR_CONNECT
#if SNAPLEN > 0
        && !(si->flags & CDIG_SYS_IO)
#endif
    ) {
        struct cdig_event *e = events.ringbuf_reserve(sizeof(*e));
        if (!e) {
            count(CDIG_STAT_DROP_EVENTS);
            goto out;
        }
        fill(e, task, pid_tgid, cgroup, nr, CDIG_KIND_SYSCALL, now);
        e->ts_ns = now;
        e->latency_ns = now - f->ts;
        e->ret = ret;
        #pragma unroll
        for (int i = 0; i < 6; i++)
            e->args[i] = f->args[i];
        events.ringbuf_submit(e, wakeup(RING_EVENTS, now));
        count(CDIG_STAT_SEEN);
        goto out;
    }
#if SNAPLEN > 0
    if (si->str1_arg == CDIG_NO_ARG && si->addr_arg == CDIG_NO_ARG && nr != NR_CONNECT) {
        emit_io(f, task, pid_tgid, cgroup, nr, ret, si, now); /* the only other case left */
        goto out;
    }
#endif
    struct cdig_event_ext *x = events_ext.ringbuf_reserve(sizeof(*x));
    if (!x) {
        count(CDIG_STAT_DROP_EXT);
        goto out;
    }
    fill(&x->ev, task, pid_tgid, cgroup, nr, CDIG_KIND_SYSCALL, now);
    x->ev.ts_ns = now;
    x->ev.latency_ns = now - f->ts;
    x->ev.ret = ret;
    /* Strings are read at exit: the kernel has filled output addresses
     * (accept, recvfrom) and the input strings are still in place. */
    ext_args(x, f->args, si);
    if (si->str2_arg < 6) {
        x->len2 = bpf_probe_read_user_str(x->str2, sizeof(x->str2),
                                          (void *)f->args[si->str2_arg & 7]);
    } else if (si->addr_arg < 5) {
        __u64 len = f->args[(si->addr_arg + 1) & 7];
        void *addr = (void *)f->args[si->addr_arg & 7];
        if (si->flags & CDIG_SYS_MSG) {
            /* sendmsg/recvmsg: struct msghdr's msg_name and msg_namelen (offsets 0, 8) */
            __u64 m[2] = {};
            if (!addr || bpf_probe_read_user(m, sizeof(m), addr))
                m[0] = 0;
            addr = (void *)m[0];
            len = (__u32)m[1];
        } else if (si->flags & CDIG_SYS_ADDRP) {
            __u32 l = 0;
            if (!len || bpf_probe_read_user(&l, sizeof(l), (void *)len))
                l = 0;
            len = l;
        }
        if (addr && len) {
            if (len > 128)
                len = 128;
            if (bpf_probe_read_user(x->str2, len & 255, addr) == 0)
                x->len2 = len;
            else
                x->len2 = -1;
        }
    }
#if SNAPLEN > 0
    if (si->flags & CDIG_SYS_IO)
        io_data(x, f->args, ret, si);
#endif
#ifndef PAIR_HASH
    if (nr == NR_CONNECT && f->sk) {
        __u64 sk = f->sk;
        struct connecting *c = connecting.lookup(&sk);
        if (c) {
            if (c->lport) {
                f->lport = c->lport;
                f->lfamily = c->lfamily;
                __builtin_memcpy(f->laddr, c->laddr, sizeof(f->laddr));
            }
            connecting.delete(&sk);
        }
    }
#endif
    if (nr == NR_CONNECT && f->lfamily) {
        /* a sockaddr_in/_in6 of the local end, captured during connect */
        *(__u16 *)&x->str1[0] = f->lfamily;
        x->str1[2] = f->lport >> 8;
        x->str1[3] = f->lport & 0xff;
        if (f->lfamily == 2) {
            __builtin_memcpy(&x->str1[4], f->laddr, 4);
            x->len1 = 16;
        } else {
            __builtin_memcpy(&x->str1[8], f->laddr, 16);
            x->len1 = 28;
        }
        x->ev.flags |= CDIG_FLAG_LOCAL_ADDR;
    }
    events_ext.ringbuf_submit(x, wakeup(RING_EXT, now));
    count(CDIG_STAT_SEEN);
out:
    inflight_done(f, tid);
    return 0;
}


/* the local end as the tracepoint reports it, into the in-flight connect */
#define SET_LOCAL(f, args)                                       \
    do {                                                         \
        (f)->lport = (args)->sport;                              \
        (f)->lfamily = (args)->family;                           \
        if ((args)->family == 2)                                 \
            __builtin_memcpy((f)->laddr, (args)->saddr, 4);      \
        else                                                     \
            __builtin_memcpy((f)->laddr, (args)->saddr_v6, 16);  \
    } while (0)

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    __u64 sk = (__u64)args->skaddr;
    if (args->newstate == TCP_SYN_SENT) {
        /* in the connecting thread, inside connect(2) */
        __u32 tid = (__u32)bpf_get_current_pid_tgid();
        struct inflight *f = inflight_get(tid);
        if (!f || !f->ts || f->nr != NR_CONNECT)
            return 0;
        SET_LOCAL(f, args);
        f->sk = sk;
        if (!args->sport) {
#ifdef PAIR_HASH
            connecting.update(&sk, &tid);
#else
            struct connecting c = {};
            connecting.update(&sk, &c);
#endif
        }
        return 0;
    }
    if (args->oldstate != TCP_SYN_SENT)
        return 0;
#ifndef PAIR_HASH
    struct connecting *c = connecting.lookup(&sk);
    if (c && args->sport)
        SET_LOCAL(c, args); /* the connect's sys_exit takes it from here */
    return 0;
#else
    __u32 *tidp = connecting.lookup(&sk);
    if (!tidp)
        return 0;
    __u32 tid = *tidp;
    connecting.delete(&sk);
    struct inflight *f = inflight.lookup(&tid);
    /* still inside that connect (a non-blocking one has returned by now) */
    if (f && f->nr == NR_CONNECT && f->sk == sk && args->sport)
        SET_LOCAL(f, args);
    return 0;
#endif
}

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    __u64 task = cur_task();
    __u64 pid_tgid = task_pid_tgid(task);
    __u64 cgroup = task_cgroup_id(task);
    if (!selected(pid_tgid >> 32, cgroup))
        return 0;
    struct cdig_event_ext *x = events_ext.ringbuf_reserve(sizeof(*x));
    if (!x) {
        count(CDIG_STAT_DROP_EXT);
        return 0;
    }
    __u64 now = bpf_ktime_get_ns();
    fill(&x->ev, task, pid_tgid, cgroup, 0, CDIG_KIND_EXEC, now);
    x->ev.args[0] = args->old_pid;
    x->len2 = 0;
    x->argc = 0;
    x->pad = 0;
    unsigned short loc = args->data_loc_filename & 0xFFFF;
    x->len1 = bpf_probe_read_kernel_str(x->str1, sizeof(x->str1), (char *)args + loc);
    events_ext.ringbuf_submit(x, wakeup(RING_EXT, now));
    count(CDIG_STAT_SEEN);
    return 0;
}

/* A fork or exit record in the events ring, filled but for its arguments; 0 when
 * the ring is full (counted). sched_submit() sends it. */
static __always_inline struct cdig_event *sched_event(__u64 task, __u64 pid_tgid,
                                                      __u64 cgroup, __u32 kind, __u64 *now)
{
    struct cdig_event *e = events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        count(CDIG_STAT_DROP_EVENTS);
        return 0;
    }
    *now = bpf_ktime_get_ns();
    fill(e, task, pid_tgid, cgroup, 0, kind, *now);
    return e;
}

static __always_inline int sched_submit(struct cdig_event *e, __u64 now)
{
    events.ringbuf_submit(e, wakeup(RING_EVENTS, now));
    count(CDIG_STAT_SEEN);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    __u64 task = cur_task();
    __u64 pid_tgid = task_pid_tgid(task);
    __u64 cgroup = task_cgroup_id(task);
    __u32 parent = pid_tgid >> 32;
    if (parent == SELF_TGID || ignored.lookup(&parent)) {
        /* a new task of cdig or of one of its helpers. Entries are tids;
         * a thread's entry is never looked up (lookups use the tgid) and
         * goes at its exit, so a reused tid starts clean. */
        __u32 child = args->child_pid;
        __u8 one = 1;
        ignored.update(&child, &one);
        return 0;
    }
    if (!selected(pid_tgid >> 32, cgroup))
        return 0;
    __u64 now;
    struct cdig_event *e = sched_event(task, pid_tgid, cgroup, CDIG_KIND_FORK, &now);
    if (!e)
        return 0;
    e->args[0] = args->child_pid;
    e->args[1] = args->parent_pid;
    return sched_submit(e, now);
}

TRACEPOINT_PROBE(sched, sched_process_exit)
{
    __u64 task = cur_task();
    __u64 pid_tgid = task_pid_tgid(task);
    __u64 cgroup = task_cgroup_id(task);
#ifdef PAIR_HASH
    __u32 tid = (__u32)pid_tgid;
    inflight.delete(&tid); /* a thread killed inside a syscall never exits it */
#endif
#ifdef PAIR_CPU
    __u32 zero = 0;
    struct inflight_cpu *c = inflight_cpu.lookup(&zero);
    if (c && c->task) {
        c->f.ts = 0; /* nothing to carry into the storage of a task that is going */
        c->task = 0;
    }
#endif
    if (!selected(pid_tgid >> 32, cgroup))
        return 0;
    __u64 now;
    struct cdig_event *e = sched_event(task, pid_tgid, cgroup, CDIG_KIND_EXIT, &now);
    if (!e)
        return 0;
    return sched_submit(e, now);
}

TRACEPOINT_PROBE(sched, sched_process_free)
{
    __u32 tid = args->pid;
    ignored.delete(&tid);
    return 0;
}
