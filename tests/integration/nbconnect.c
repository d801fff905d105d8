/* A curl-like client for tests/integration/test_connect_live.py: non-blocking
 * connects to 127.0.0.1:PORT, completed with poll() and getsockopt(SO_ERROR),
 * then one request/response each. Connection A is accepted by the kernel at
 * once (its handshake ends inside connect); the test's listener has a backlog
 * of 0, so B's SYN is dropped and B stays in SYN_SENT after connect returned,
 * until the test accepts A and B's SYN is sent again. Exit codes name what went
 * wrong. Built static (glibc): the container has only busybox. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int nb_connect(const struct sockaddr_in *to)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0)
        exit(2);
    if (connect(s, (const struct sockaddr *)to, sizeof(*to)) == 0 || errno != EINPROGRESS)
        exit(3); /* the test is about EINPROGRESS */
    return s;
}

static void finish(int s)
{
    struct pollfd p = {.fd = s, .events = POLLOUT};
    if (poll(&p, 1, 20000) != 1)
        exit(4);
    int err = -1;
    socklen_t len = sizeof(err);
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        exit(5);
    if (write(s, "ping", 4) != 4)
        exit(6);
    char buf[4];
    int flags = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, flags & ~O_NONBLOCK);
    if (read(s, buf, sizeof(buf)) != 4)
        exit(7);
    close(s);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 1;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int a = nb_connect(&to);
    struct pollfd p = {.fd = a, .events = POLLOUT};
    if (poll(&p, 1, 20000) != 1)
        return 8;
    int b = nb_connect(&to);
    finish(a);
    finish(b);
    return 0;
}
