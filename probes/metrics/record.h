/* cdig metrics maps: shared by program.bpf.c and, through
 * layout.py and maps.py, by the exporter that reads them at scrape time.
 * Keep the two in step; tests/unit/test_exporter.py (test_layout_matches_header) checks them. */
#ifndef CDIG_METRICS_H
#define CDIG_METRICS_H

/* Latency histogram: base-4 slots over nanoseconds. Slot k counts durations
 * d with 4^k < d <= 4^(k+1) (slot 0 also takes d <= 1), i.e.
 * slot = floor(log2(d - 1) / 2): slots 0..k together count d <= 4^(k+1) ns
 * exactly, which is what a Prometheus bucket `le` means. The last slot is the
 * overflow (d > 4^(CDIG_LAT_SLOTS - 1) ns = 2^34 ns, about 17 s). */
#define CDIG_LAT_SLOTS 18

/* per-syscall class bits, in the `sysclass` array (filled by probe.py) */
#define CDIG_CLS_RW 1      /* read/write family: file bytes, unless a socket moved them */
#define CDIG_CLS_NET 2     /* socket-only calls (sendto, recvmsg...): network bytes */
#define CDIG_CLS_SOCKCLR 4 /* may touch sockets but returns no byte count: clears the mark */
#define CDIG_CLS_FORK 8    /* fork/vfork/clone/clone3: the child's return (0) is not a call */
#define CDIG_CLS_NORET 16  /* rt_sigreturn: its return value is a restored register */

/* per-CPU counters in the `mstats` array */
#define CDIG_MSTAT_SYSCALLS_FULL 0 /* (cgroup, syscall) not counted: map full */
#define CDIG_MSTAT_ERRORS_FULL 1   /* (cgroup, syscall, errno) not counted: map full */
#define CDIG_MSTAT_PROCS_FULL 2    /* per-cgroup exec/fork/exit not counted: map full */
#define CDIG_MSTAT_LAT_UNPAIRED 3  /* LATENCY: exits without a recorded enter (not counted) */
#define CDIG_MSTAT_LAT_NOSTORE 4   /* enter not recorded: pairing storage unavailable/full */
#define CDIG_MSTAT_LAT_FULL 5      /* duration not recorded: latency map full (or no memory) */
#define CDIG_MSTAT_MAX 6

/* Without LATENCY a cgroup's calls are counted in a per-CPU array row (`slotrows`):
 * row `slot`, column the syscall number, its slot found in `cgslot` (claimed
 * in `slotowner` on the cgroup's first call). A cgroup without a slot (all
 * taken: CDIG_SLOT_NONE in `cgslot`) and a number >= SLOT_NRS are counted in
 * the `syscalls` hash instead, as every error and byte count is: exact either
 * way, the array is only faster. */
#define CDIG_SLOT_NONE 0xffffffffu
#define CDIG_SLOT_PROBES 32 /* slots tried from the cgroup's hash before giving up */

struct cdig_slotrow {
    __u64 count[SLOT_NRS]; /* calls by syscall number */
};

/* the last task seen on this CPU, its cgroup and slot: consecutive syscalls on
 * a CPU are mostly the same task's, so neither its cgroup id nor `cgslot` is
 * read again until a task is moved or forked (`gen`, program.bpf.c) */
struct cdig_slotcache {
    __u64 task;      /* bpf_get_current_task() */
    __u64 gen;       /* cggen when cgroup_id was read */
    __u64 cgroup_id;
    __u32 slot;
    __u32 pad;
};

struct cdig_mkey {
    __u64 cgroup_id; /* cgroup v2 id == inode of its directory */
    __u32 nr;        /* syscall number */
    __u32 errno_;    /* errno for the `errors` map, 0 in the others */
};

/* `syscalls`: preallocated, so a burst of new keys never fails for lack of
 * memory; counts are exact up to the map's capacity. */
struct cdig_sysstat {
    __u64 count;      /* syscalls; with LATENCY only those not in a latency slot */
    __u64 errors;     /* of which returned -4095..-1 */
    __u64 file_bytes; /* sum of byte-count returns classified as file I/O */
    __u64 net_bytes;  /* ... as socket I/O */
};

/* `latency`: apart, because its per-CPU values are 5x larger. Allocated on
 * demand where the kernel allows it, so its memory follows the (cgroup,
 * syscall) pairs in use rather than the capacity; an allocation that fails
 * loses a duration (counted), never a count. */
struct cdig_latstat {
    __u64 sum_ns; /* sum of measured durations */
    __u64 slots[CDIG_LAT_SLOTS];
};

/* `latcache` (LATENCY, LAT_CACHE_MAX > 0): a per-CPU direct-mapped cache of
 * histograms in front of the `latency` hash, two ways per set: an entry of
 * `latcache` is a (cgroup, syscall) pair's histogram on that CPU, found at the
 * index its hash gives (or the next, i ^ 1) and updated in place, without the
 * hash's lookup (a call into the kernel's hash table code). The first pair to
 * come to a free entry keeps it while its cgroup lives (the entry of a cgroup
 * userspace has forgotten, listed in `deadcg`, is taken over, zeroed); a pair
 * finding both ways held goes to the `latency` hash. Each CPU's copy of an
 * entry has its own key: userspace reads every CPU's copy
 * (maps.py) and adds them to the hash's values. A key is written after its
 * zeroed values and never changes while its cgroup lives, so a reader sees
 * an entry either free, or held with its own values. */
struct cdig_latent {
    __u64 cgroup_id; /* 0: free */
    __u32 nr;
    __u32 checked; /* `deadgen` when the holder was last found alive */
    struct cdig_latstat l;
};

struct cdig_procstat {
    __u64 execs; /* sched_process_exec */
    __u64 forks; /* sched_process_fork: new tasks, threads included */
    __u64 exits; /* sched_process_exit of a whole process (group_dead) */
};

_Static_assert(sizeof(struct cdig_mkey) == 16, "cdig_mkey size");
_Static_assert(sizeof(struct cdig_sysstat) == 32, "cdig_sysstat size");
_Static_assert(sizeof(struct cdig_latstat) == 8 * (1 + CDIG_LAT_SLOTS), "cdig_latstat size");
_Static_assert(sizeof(struct cdig_procstat) == 24, "cdig_procstat size");
_Static_assert(sizeof(struct cdig_slotcache) == 32, "cdig_slotcache size");
_Static_assert(sizeof(struct cdig_latent) == 16 + 8 * (1 + CDIG_LAT_SLOTS), "cdig_latent size");

#endif
