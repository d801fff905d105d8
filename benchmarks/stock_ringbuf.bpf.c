/* Minimal syscall streamer for benchmarks/trace_throughput.py.
 *
 * One 48-byte record per sys_exit of one process (the workload's tgid, set in
 * the `target` array by userspace before the workload is released), into a BPF
 * ring buffer. The same program is consumed two ways by the benchmark:
 *   - bcc's stock open_ring_buffer(callback) + ring_buffer_poll()
 *     (one Python call per record), and
 *   - cdig's bulk reader (probes/ringbuf.py: mmapped pages, one numpy view
 *     per drain),
 * so the two consumers are compared on identical kernel-side work.
 *
 * A failed ringbuf_reserve (ring full) is counted in counters[0]; a submitted
 * record in counters[1]. Configured with -DRING_PAGES=<power of two>.
 */
#include <uapi/linux/ptrace.h>

struct bench_rec {
    u64 ts_ns;
    u64 cgroup_id;
    s64 ret;
    u64 id;
    u32 pid;
    u32 tid;
    u32 cpu;
    u32 pad;
}; /* 48 bytes */

BPF_RINGBUF_OUTPUT(events, RING_PAGES);
BPF_ARRAY(target, u32, 1);
BPF_PERCPU_ARRAY(counters, u64, 2);

static __always_inline void bump(u32 idx)
{
    u64 *c = counters.lookup(&idx);
    if (c)
        (*c)++;
}

TRACEPOINT_PROBE(raw_syscalls, sys_exit)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    u32 zero = 0;
    u32 *want = target.lookup(&zero);
    if (!want || *want != (u32)(pid_tgid >> 32))
        return 0;
    struct bench_rec *r = events.ringbuf_reserve(sizeof(*r));
    if (!r) {
        bump(0);
        return 0;
    }
    r->ts_ns = bpf_ktime_get_ns();
    r->cgroup_id = bpf_get_current_cgroup_id();
    r->ret = args->ret;
    r->id = args->id;
    r->pid = pid_tgid >> 32;
    r->tid = (u32)pid_tgid;
    r->cpu = bpf_get_smp_processor_id();
    r->pad = 0;
    events.ringbuf_submit(r, 0);
    bump(1);
    return 0;
}
