/* cdig syscall probe record layouts: shared by program.bpf.c and, through
 * layout.py, by the Python decoder. Keep the two in step; the
 * _Static_asserts pin the offsets that layout.py mirrors, and
 * tests/unit/test_layout.py checks both against each other. */
#ifndef CDIG_H
#define CDIG_H

#define CDIG_COMM_LEN 16
#define CDIG_STR1_LEN 256
#define CDIG_STR2_LEN 512

/* record kinds (collector.events.EventKind) */
#define CDIG_KIND_SYSCALL 0
#define CDIG_KIND_SYSCALL_ENTER 1
#define CDIG_KIND_EXEC 2
#define CDIG_KIND_FORK 3
#define CDIG_KIND_EXIT 4

/* record flags */
#define CDIG_FLAG_LOCAL_ADDR 1 /* str1 holds a synthesized local sockaddr */
#define CDIG_FLAG_IO_DATA 2    /* str1 (and on into str2) holds len1 bytes of the I/O buffer */

/* per-CPU counters in the `stats` array */
#define CDIG_STAT_DROP_EVENTS 0   /* `events` ring buffer full */
#define CDIG_STAT_DROP_EXT 1      /* `events_ext` ring buffer full */
#define CDIG_STAT_DROP_INFLIGHT 2 /* in-flight table full: enter not recorded */
#define CDIG_STAT_SEEN 3          /* records submitted */
#define CDIG_STAT_DROP_IO 4       /* `events_io` ring buffer full */
#define CDIG_STAT_MAX 5

/* sysinfo flags, per syscall number (filled by probe.py) */
#define CDIG_SYS_WANT 1   /* the user's syscall filter selects it */
#define CDIG_SYS_STATE 2  /* keeps fd/process tables current: always passes */
#define CDIG_SYS_ENTER 4  /* also emit an enter record (execve, exit) */
#define CDIG_SYS_ADDRP 8  /* the sockaddr length argument is a pointer */
#define CDIG_SYS_ARGV 16  /* copy argv (execve) */
#define CDIG_SYS_IO 32    /* copy the first bytes of the I/O buffer (args[1]) at exit */
#define CDIG_SYS_IOV 64   /* ... args[1] is a struct iovec array (args[2] of them) */
#define CDIG_SYS_MSG 128  /* ... args[1] is a struct msghdr: its msg_iov's iovecs */
#define CDIG_NO_ARG 0xff

struct cdig_sysinfo {
    __u8 flags;
    __u8 str1_arg; /* argument index of a path copied to str1, or CDIG_NO_ARG */
    __u8 str2_arg; /* second path, copied to str2 */
    __u8 addr_arg; /* sockaddr copied to str2; its length is the next argument */
};

/* Every record starts with this; records without strings are exactly this.
 * 120 bytes, 128 with the ring buffer's 8-byte header. */
struct cdig_event {
    __u64 ts_ns;       /* CLOCK_MONOTONIC ns at exit (enter for enter-only) */
    __u64 latency_ns;  /* exit - enter */
    __u64 cgroup_id;   /* cgroup v2 id == inode of its directory */
    __s64 ret;         /* syscall return value */
    __u64 args[6];     /* raw syscall arguments */
    __u32 pid;         /* tgid */
    __u32 tid;
    __u32 uid;
    __u32 gid;
    __u16 nr;          /* syscall number, or child/old pid info for sched records */
    __u8 kind;         /* CDIG_KIND_* */
    __u8 flags;        /* CDIG_FLAG_* */
    __u32 cpu;
    char comm[CDIG_COMM_LEN];
};

/* Records that carry strings: paths, argv, socket addresses, I/O data.
 * I/O data (CDIG_FLAG_IO_DATA) starts at str1 and runs on into str2 (str1 and
 * str2 are contiguous: up to CDIG_IO_MAX bytes), or fills str1 alone when
 * str2 holds the call's socket address (sendto, recvfrom). */
struct cdig_event_ext {
    struct cdig_event ev;
    __s16 len1;  /* bytes in str1 incl. NUL, or <0 on read failure / 0 absent */
    __s16 len2;
    __u16 argc;  /* execve: number of argv strings packed in str2 */
    __u16 pad;
    char str1[CDIG_STR1_LEN];
    char str2[CDIG_STR2_LEN];
};

#define CDIG_IO_MAX (CDIG_STR1_LEN + CDIG_STR2_LEN)

/* Records of I/O calls without strings (read, write, readv, sendmsg...), in
 * their own ring: the plain record and the data, sized by the snaplen the
 * probe is compiled with (rounded up to 8), so an I/O call at snaplen 80
 * costs a 216-byte slot instead of the ext ring's 904. probes/layout.py
 * builds the same record from the same snaplen (io_record()). */
#ifndef SNAPLEN
#define SNAPLEN 0
#endif
#define CDIG_IO_DATA_LEN ((SNAPLEN + 7) & ~7)
struct cdig_event_io {
    struct cdig_event ev;
    __s16 len;   /* bytes in data, or <0 on read failure */
    __u16 pad[3];
    char data[CDIG_IO_DATA_LEN];
};

_Static_assert(sizeof(struct cdig_event) == 120, "cdig_event size");
_Static_assert(__builtin_offsetof(struct cdig_event, args) == 32, "args offset");
_Static_assert(__builtin_offsetof(struct cdig_event, pid) == 80, "pid offset");
_Static_assert(__builtin_offsetof(struct cdig_event, nr) == 96, "nr offset");
_Static_assert(__builtin_offsetof(struct cdig_event, cpu) == 100, "cpu offset");
_Static_assert(__builtin_offsetof(struct cdig_event, comm) == 104, "comm offset");
_Static_assert(sizeof(struct cdig_event_ext) == 896, "cdig_event_ext size");
_Static_assert(__builtin_offsetof(struct cdig_event_ext, str1) == 128, "str1 offset");
/* an io record is a prefix of an ext record (layout.io_as_ext copies its bytes) */
_Static_assert(__builtin_offsetof(struct cdig_event_io, len) ==
               __builtin_offsetof(struct cdig_event_ext, len1), "io len offset");
_Static_assert(__builtin_offsetof(struct cdig_event_io, data) == 128, "io data offset");

#endif
