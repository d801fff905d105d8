/* Vectored I/O and socket calls for test_iovecs_live.py, in a container (static,
 * static): writev of several iovecs (one empty) and one longer than the snaplen,
 * a UDP sendmsg of three parts to an address (msg_name) read back by recvmsg into
 * two iovecs, a UDP connect and write, and a unix stream connect and write.
 * argv[1]: the UDP port; argv[2]: the unix socket path; argv[3]: the file;
 * argv[4]: seconds to stay alive with the sockets open (their /proc lines). */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>
#include <stdlib.h>

static struct sockaddr_in lo(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    int port = atoi(argv[1]);
    int f = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    struct iovec v[5] = {{"IOV-", 4}, {"", 0}, {"abc", 3}, {"defg", 4}, {"hij", 3}};
    if (f < 0 || writev(f, v, 5) != 14)
        return 3;
    char a[50], b[50], c[50];
    memset(a, 'A', 50);
    memset(b, 'B', 50);
    memset(c, 'C', 50);
    struct iovec big[3] = {{a, 50}, {b, 50}, {c, 50}};
    if (writev(f, big, 3) != 150)
        return 4;
    close(f);

    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = lo(port);
    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&to, sizeof(to)))
        return 5;
    struct iovec parts[3] = {{"MSG-", 4}, {"part2-", 6}, {"part3", 5}};
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_name = &to;
    m.msg_namelen = sizeof(to);
    m.msg_iov = parts;
    m.msg_iovlen = 3;
    if (sendmsg(tx, &m, 0) != 15)
        return 6;
    char r1[6], r2[32];
    struct iovec in[2] = {{r1, 6}, {r2, 32}};
    struct sockaddr_in from;
    struct msghdr rm;
    memset(&rm, 0, sizeof(rm));
    rm.msg_name = &from;
    rm.msg_namelen = sizeof(from);
    rm.msg_iov = in;
    rm.msg_iovlen = 2;
    if (recvmsg(rx, &rm, 0) != 15)
        return 7;

    int cu = socket(AF_INET, SOCK_DGRAM, 0);
    if (cu < 0 || connect(cu, (struct sockaddr *)&to, sizeof(to)) || write(cu, "udp!", 4) != 4)
        return 8;

    struct sockaddr_un un;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    strncpy(un.sun_path, argv[2], sizeof(un.sun_path) - 1);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0), cs = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(argv[2]);
    if (ls < 0 || cs < 0 || bind(ls, (struct sockaddr *)&un, sizeof(un)) || listen(ls, 1) ||
        connect(cs, (struct sockaddr *)&un, sizeof(un)) || write(cs, "unix", 4) != 4)
        return 9;
    if (argc > 4)
        sleep(atoi(argv[4]));
    return 0;
}
