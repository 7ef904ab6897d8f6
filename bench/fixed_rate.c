/* Open-loop HTTP/1.1 load at a fixed rate, for bench/read.py; or a closed loop (RATE 0), for
 * bench/backends.py.
 *
 * Why C: at 500 requests/s the Python load generator's own scheduling and parsing put its
 * latency floor at p50 ≈ 1.5 ms and p99 ≈ 5-6 ms against a server that returns a static
 * body (docs/performance.md), the size of the target being measured. This one costs little
 * CPU and wakes on a timer at each scheduled time, so what it reports is the server's.
 *
 * Usage: fixed_rate PORT RATE CONNECTIONS < requests
 *   requests: complete HTTP/1.1 requests, each followed by a line "\x1e\n" (ASCII record
 *   separator). The first CONNECTIONS requests warm one keep-alive connection each and are not
 *   timed; request i of the rest is due at t0 + i/RATE and is sent on any idle connection
 *   (queued until one is free). Latency counts from the due time, so waiting counts.
 * Output: one line per timed request, "<status> <latency in microseconds>", then "done".
 *
 * Closed loop: fixed_rate PORT 0 CONNECTIONS SECONDS < requests
 *   After the warm-up, connection c sends requests CONNECTIONS + c, + 2*CONNECTIONS, … in
 *   order, each as soon as its previous one is answered (so a connection can carry one
 *   booklet's chain of entries, which must arrive in order), until SECONDS have passed since
 *   t0 or its requests run out. "go" goes to stderr at t0. Output: one line per answered
 *   request, "<status> <latency µs from its send> <µs from t0 to its answer>", then
 *   "exhausted <connections that ran out of requests>" and "done".
 * Responses must carry Content-Length (aiohttp's web.Response does); anything else fails. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP (4 << 20)

struct conn {
    int fd;
    long req;          /* request in flight, -1 when idle */
    char *buf;
    size_t len;
};

static char **reqs;
static size_t *req_len;
static long n_reqs;

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void read_requests(void) {
    size_t cap = 1 << 20, len = 0, n;
    char *all = malloc(cap);
    if (!all) die("malloc");
    while ((n = fread(all + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap && !(all = realloc(all, cap *= 2))) die("realloc");
    }
    long cap_r = 1024;
    reqs = malloc(cap_r * sizeof *reqs);
    req_len = malloc(cap_r * sizeof *req_len);
    for (char *p = all, *end = all + len; p < end;) {
        char *sep = memmem(p, end - p, "\x1e\n", 2);
        if (!sep) break;
        if (n_reqs == cap_r) {
            cap_r *= 2;
            reqs = realloc(reqs, cap_r * sizeof *reqs);
            req_len = realloc(req_len, cap_r * sizeof *req_len);
            if (!reqs || !req_len) die("realloc");
        }
        reqs[n_reqs] = p;
        req_len[n_reqs++] = sep - p;
        p = sep + 2;
    }
}

static void send_all(int fd, const char *p, size_t len) {
    /* A blocking socket: a request is a few hundred bytes, which its buffer takes whole. */
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) die("send");
        p += n;
        len -= (size_t)n;
    }
}

/* The response's total length if its head is complete, else 0; its status in *status. */
static size_t response_length(const char *buf, size_t len, int *status) {
    const char *head_end = memmem(buf, len, "\r\n\r\n", 4);
    if (!head_end) return 0;
    if (len < 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0) {
        fprintf(stderr, "not an HTTP/1.1 response\n");
        exit(2);
    }
    *status = atoi(buf + 9);
    for (const char *line = memchr(buf, '\n', head_end - buf); line && line < head_end;
         line = memchr(line + 1, '\n', head_end - line)) {
        if (strncasecmp(line + 1, "content-length:", 15) == 0)
            return (size_t)(head_end + 4 - buf) + strtoul(line + 16, NULL, 10);
    }
    fprintf(stderr, "response without Content-Length\n");
    exit(2);
}

/* The closed loop (RATE 0): see the head of this file. */
static int closed_loop(int ep, struct conn *conns, int n_conns, double seconds) {
    long timed = n_reqs - n_conns;
    int64_t *sent = malloc(timed * sizeof *sent);
    int64_t *latency = malloc(timed * sizeof *latency);
    int64_t *answered = malloc(timed * sizeof *answered);
    int *status = malloc(timed * sizeof *status);
    long *next = malloc(n_conns * sizeof *next);
    if (!sent || !latency || !answered || !status || !next) die("set-up");
    int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9);
    fprintf(stderr, "go\n");
    fflush(stderr);
    int busy = 0, exhausted = 0;
    for (int i = 0; i < n_conns; i++) {
        next[i] = i;
        if (next[i] >= timed) {
            exhausted++;
            continue;
        }
        conns[i].req = next[i];
        sent[next[i]] = now_ns();
        send_all(conns[i].fd, reqs[n_conns + next[i]], req_len[n_conns + next[i]]);
        busy++;
    }
    struct epoll_event events[256];
    while (busy > 0) {
        int n = epoll_wait(ep, events, 256, 5000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        if (n == 0) {
            fprintf(stderr, "no response for 5 s\n");
            return 2;
        }
        for (int k = 0; k < n; k++) {
            int i = (int)events[k].data.u32;
            struct conn *c = &conns[i];
            ssize_t got = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
            if (got <= 0) die("recv");
            c->len += (size_t)got;
            int st;
            size_t want = response_length(c->buf, c->len, &st);
            if (!want || c->len < want) continue;
            if (c->len > want || c->req < 0) {
                fprintf(stderr, "unexpected bytes after a response\n");
                return 2;
            }
            int64_t now = now_ns();
            latency[c->req] = now - sent[c->req];
            answered[c->req] = now - t0;
            status[c->req] = st;
            c->req = -1;
            c->len = 0;
            next[i] += n_conns;
            if (now >= end) {
                busy--;
            } else if (next[i] >= timed) {
                busy--;
                exhausted++;
            } else {
                c->req = next[i];
                sent[next[i]] = now_ns();
                send_all(c->fd, reqs[n_conns + next[i]], req_len[n_conns + next[i]]);
            }
        }
    }
    for (long r = 0; r < timed; r++) {
        if (r < next[r % n_conns])  /* connection r % n_conns got past it: answered */
            printf("%d %lld %lld\n", status[r], (long long)(latency[r] / 1000),
                   (long long)(answered[r] / 1000));
    }
    printf("exhausted %d\ndone\n", exhausted);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: fixed_rate PORT RATE CONNECTIONS [SECONDS] < requests\n");
        return 2;
    }
    int port = atoi(argv[1]), n_conns = atoi(argv[3]);
    double rate = atof(argv[2]), seconds = argc == 5 ? atof(argv[4]) : 0;
    read_requests();
    if (n_conns < 1 || (rate <= 0) != (seconds > 0) || n_reqs <= n_conns) {
        fprintf(stderr, "need RATE > 0, or RATE 0 and SECONDS > 0; CONNECTIONS >= 1 and more"
                " requests than connections\n");
        return 2;
    }
    long timed = n_reqs - n_conns;
    int64_t *due = malloc(timed * sizeof *due);
    int64_t *latency = malloc(timed * sizeof *latency);
    int *status = malloc(timed * sizeof *status);
    struct conn *conns = calloc(n_conns, sizeof *conns);
    int ep = epoll_create1(0);
    if (!due || !latency || !status || !conns || ep < 0) die("set-up");

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    for (int i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        if (!(c->buf = malloc(BUF_CAP))) die("malloc");
        c->req = -1;
    }
    /* Warm-up: one request per connection, each answered before the clock starts. */
    for (int i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        send_all(c->fd, reqs[i], req_len[i]);
        int st;
        size_t want;
        c->len = 0;
        while (!(want = response_length(c->buf, c->len, &st)) || c->len < want) {
            ssize_t n = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
            if (n <= 0) die("warm-up recv");
            c->len += (size_t)n;
        }
        if (st / 100 != 2) {
            fprintf(stderr, "warm-up request got %d\n", st);
            return 2;
        }
        c->len = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }
    if (rate <= 0) return closed_loop(ep, conns, n_conns, seconds);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (tfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0) die("timerfd");

    int64_t t0 = now_ns() + 1000000;
    for (long i = 0; i < timed; i++) due[i] = t0 + (int64_t)((double)i * 1e9 / rate);
    long next = 0, done = 0;
    struct epoll_event events[256];
    while (done < timed) {
        /* Send every request that is due, while a connection is idle. */
        int64_t now = now_ns();
        for (int i = 0; i < n_conns && next < timed && due[next] <= now; i++) {
            if (conns[i].req >= 0) continue;
            conns[i].req = next;
            send_all(conns[i].fd, reqs[n_conns + next], req_len[n_conns + next]);
            next++;
        }
        /* Wake at the next due time; if it has passed, every connection is busy and the
         * next response wakes us instead (an unarmed timer: it_value zero). */
        struct itimerspec at = {0};
        if (next < timed && due[next] > now) {
            at.it_value.tv_sec = due[next] / 1000000000;
            at.it_value.tv_nsec = due[next] % 1000000000;
        }
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &at, NULL);
        int n = epoll_wait(ep, events, 256, 5000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        if (n == 0) {
            fprintf(stderr, "no response for 5 s\n");
            return 2;
        }
        for (int k = 0; k < n; k++) {
            if (events[k].data.u32 == UINT32_MAX) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN) die("timerfd read");
                continue;
            }
            struct conn *c = &conns[events[k].data.u32];
            ssize_t got = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
            if (got <= 0) die("recv");
            c->len += (size_t)got;
            int st;
            size_t want = response_length(c->buf, c->len, &st);
            if (!want || c->len < want) continue;
            if (c->len > want || c->req < 0) {
                fprintf(stderr, "unexpected bytes after a response\n");
                return 2;
            }
            latency[c->req] = now_ns() - due[c->req];
            status[c->req] = st;
            c->req = -1;
            c->len = 0;
            done++;
        }
    }
    for (long i = 0; i < timed; i++) printf("%d %lld\n", status[i], (long long)(latency[i] / 1000));
    printf("done\n");
    return 0;
}
