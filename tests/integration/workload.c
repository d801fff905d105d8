/*
 * cdigwork — a workload with an exactly known syscall sequence, for cdig's
 * integration tests.
 *
 * Freestanding x86_64 Linux program: no libc, no dynamic loader, no startup
 * code besides _start below. Build (no headers needed, only gcc + binutils):
 *
 *     gcc -static -nostdlib -no-pie -ffreestanding -fno-builtin \
 *         -fno-stack-protector -fno-asynchronous-unwind-tables -O2 \
 *         -o cdigwork workload.c
 *
 * The kernel's execve is the only syscall before ours; every step below makes a
 * fixed sequence of syscalls that depends only on argv, never on whether a
 * syscall succeeds (a failed open/socket leaves a negative fd that the following
 * write/connect/close calls are still made on, and fail with EBADF).
 *
 * Usage: cdigwork STEP... where STEP is one of
 *   gate PATH       openat(PATH, O_RDWR) ; read(fd, 1) [blocks] ; close(fd)
 *                   (PATH is a FIFO: O_RDWR never blocks on open, the read
 *                   blocks until someone writes a byte into the FIFO)
 *   write N PATH    openat(PATH, O_WRONLY) ; N x write(fd, "x", 1) ; close(fd)
 *   open N PATH     N x { openat(PATH, O_RDONLY) ; close(fd) }
 *   getppid N       N x getppid()
 *   listen PORT     socket(AF_INET, SOCK_STREAM) ; bind(127.0.0.1:PORT) ;
 *                   listen(fd, 128)   (fd kept for `accept`)
 *   connect N PORT  N x { socket(AF_INET, SOCK_STREAM) ; connect(127.0.0.1:PORT) ;
 *                   close(fd) }
 *   accept N        N x { accept(listen fd) ; close(fd) }
 *   fork N          N x { fork() ; wait4(-1) }, each child: exit_group(0)
 *   sleep MS        nanosleep(MS milliseconds)
 *   name COMM       prctl(PR_SET_NAME, COMM)
 *   exec PATH       execve(PATH, [PATH, remaining steps...]) — the new image
 *                   runs the remaining steps (PATH must be this program)
 *   exit K          exit_group(K) (remaining steps are ignored)
 * After the last step: exit_group(0).
 * A malformed argv: write(2, message) ; exit_group(125).
 */

typedef unsigned long u64;

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_nanosleep 35
#define SYS_getppid 110
#define SYS_socket 41
#define SYS_connect 42
#define SYS_accept 43
#define SYS_bind 49
#define SYS_listen 50
#define SYS_fork 57
#define SYS_execve 59
#define SYS_wait4 61
#define SYS_prctl 157
#define SYS_exit_group 231
#define SYS_openat 257

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define AF_INET 2
#define SOCK_STREAM 1
#define PR_SET_NAME 15

__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "    xor %rbp, %rbp\n"
    "    mov %rsp, %rdi\n"
    "    and $-16, %rsp\n"
    "    call cmain\n"
    "    hlt\n");

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#define sys0(n) sys6((n), 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* gcc may emit calls to these even with -ffreestanding */
void *memset(void *s, int c, u64 n)
{
    unsigned char *p = s;
    while (n--)
        *p++ = (unsigned char)c;
    return s;
}

void *memcpy(void *d, const void *s, u64 n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

static __attribute__((noreturn)) void die(int code)
{
    for (;;)
        sys1(SYS_exit_group, code);
}

static int seq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static __attribute__((noreturn)) void usage(const char *what)
{
    static const char pre[] = "cdigwork: bad argument: ";
    char buf[256];
    u64 n = 0, i;
    for (i = 0; pre[i] && n < sizeof(buf) - 2; i++)
        buf[n++] = pre[i];
    for (i = 0; what && what[i] && n < sizeof(buf) - 2; i++)
        buf[n++] = what[i];
    buf[n++] = '\n';
    sys3(SYS_write, 2, buf, n);
    die(125);
}

/* non-negative decimal, or usage() */
static long num(const char *s)
{
    long v = 0;
    if (!s || !*s)
        usage(s ? s : "(missing number)");
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000000L)
            usage(s);
        v = v * 10 + (*p - '0');
    }
    return v;
}

struct sockaddr_in4 {
    unsigned short family;
    unsigned short port; /* network order */
    unsigned int addr;   /* network order */
    unsigned char zero[8];
};

static void loopback(struct sockaddr_in4 *sa, long port)
{
    sa->family = AF_INET;
    sa->port = (unsigned short)(((port & 0xff) << 8) | ((port >> 8) & 0xff));
    sa->addr = 0x0100007f; /* 127.0.0.1 */
    for (int i = 0; i < 8; i++)
        sa->zero[i] = 0;
}

struct timespec64 {
    long sec;
    long nsec;
};

__attribute__((used)) void cmain(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    static const char x = 'x';
    long lfd = -9; /* listening socket (EBADF until `listen`) */
    long i = 1;

#define ARG(k) ((i + (k)) < argc ? argv[i + (k)] : (char *)0)
#define NEED(k)                        \
    do {                               \
        if ((i + (k)) >= argc)         \
            usage("missing argument"); \
    } while (0)

    while (i < argc) {
        const char *step = argv[i];
        if (seq(step, "gate")) {
            NEED(1);
            char b;
            long fd = sys4(SYS_openat, AT_FDCWD, ARG(1), O_RDWR, 0);
            sys3(SYS_read, fd, &b, 1);
            sys1(SYS_close, fd);
            i += 2;
        } else if (seq(step, "write")) {
            NEED(2);
            long n = num(ARG(1));
            long fd = sys4(SYS_openat, AT_FDCWD, ARG(2), O_WRONLY, 0);
            for (long k = 0; k < n; k++)
                sys3(SYS_write, fd, &x, 1);
            sys1(SYS_close, fd);
            i += 3;
        } else if (seq(step, "open")) {
            NEED(2);
            long n = num(ARG(1));
            for (long k = 0; k < n; k++) {
                long fd = sys4(SYS_openat, AT_FDCWD, ARG(2), O_RDONLY, 0);
                sys1(SYS_close, fd);
            }
            i += 3;
        } else if (seq(step, "getppid")) {
            NEED(1);
            long n = num(ARG(1));
            for (long k = 0; k < n; k++)
                sys0(SYS_getppid);
            i += 2;
        } else if (seq(step, "listen")) {
            NEED(1);
            struct sockaddr_in4 sa;
            loopback(&sa, num(ARG(1)));
            lfd = sys3(SYS_socket, AF_INET, SOCK_STREAM, 0);
            sys3(SYS_bind, lfd, &sa, sizeof(sa));
            sys2(SYS_listen, lfd, 128);
            i += 2;
        } else if (seq(step, "connect")) {
            NEED(2);
            long n = num(ARG(1));
            struct sockaddr_in4 sa;
            loopback(&sa, num(ARG(2)));
            for (long k = 0; k < n; k++) {
                long fd = sys3(SYS_socket, AF_INET, SOCK_STREAM, 0);
                sys3(SYS_connect, fd, &sa, sizeof(sa));
                sys1(SYS_close, fd);
            }
            i += 3;
        } else if (seq(step, "accept")) {
            NEED(1);
            long n = num(ARG(1));
            for (long k = 0; k < n; k++) {
                long fd = sys3(SYS_accept, lfd, 0, 0);
                sys1(SYS_close, fd);
            }
            i += 2;
        } else if (seq(step, "fork")) {
            NEED(1);
            long n = num(ARG(1));
            for (long k = 0; k < n; k++) {
                long pid = sys0(SYS_fork);
                if (pid == 0)
                    die(0);
                sys4(SYS_wait4, -1, 0, 0, 0);
            }
            i += 2;
        } else if (seq(step, "sleep")) {
            NEED(1);
            long ms = num(ARG(1));
            struct timespec64 ts;
            ts.sec = ms / 1000;
            ts.nsec = (ms % 1000) * 1000000L;
            sys2(SYS_nanosleep, &ts, 0);
            i += 2;
        } else if (seq(step, "name")) {
            NEED(1);
            sys2(SYS_prctl, PR_SET_NAME, ARG(1));
            i += 2;
        } else if (seq(step, "exec")) {
            NEED(1);
            /* new argv = [PATH, remaining steps...], NULL-terminated already */
            sys3(SYS_execve, argv[i + 1], &argv[i + 1], envp);
            die(126); /* execve failed */
        } else if (seq(step, "exit")) {
            NEED(1);
            die((int)num(ARG(1)));
        } else {
            usage(step);
        }
    }
    die(0);
}
