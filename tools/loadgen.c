/*
 * loadgen: code shared by the load generators (see loadgen.h). Compiled into each
 * tool; libc only.
 */
#define _GNU_SOURCE
#include "loadgen.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- time and randomness ---------------------------------------------------------------- */

uint64_t lg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * LG_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t lg_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- latency histogram ------------------------------------------------------------------ */

static size_t hist_index(uint64_t v)
{
    if (v < LG_HIST_SUB)
        return (size_t)v;
    int top_bit = 63 - __builtin_clzll(v);
    int shift = top_bit - (LG_HIST_SUB_BITS - 1);
    size_t i =
        LG_HIST_SUB + (size_t)(shift - 1) * LG_HIST_HALF + (size_t)((v >> shift) - LG_HIST_HALF);
    return i < LG_HIST_BUCKETS ? i : LG_HIST_BUCKETS - 1;
}

/* The midpoint of bucket i. */
static uint64_t hist_bucket_value(size_t i)
{
    if (i < LG_HIST_SUB)
        return i;
    unsigned shift = (unsigned)((i - LG_HIST_SUB) / LG_HIST_HALF) + 1;
    uint64_t top = (uint64_t)((i - LG_HIST_SUB) % LG_HIST_HALF) + LG_HIST_HALF;
    return (top << shift) + ((1ull << shift) >> 1);
}

void lg_hist_record(struct lg_hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->n++;
    h->sum += (double)v;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_value(i);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

double lg_hist_ms(const struct lg_hist *h, double q)
{
    return (double)lg_hist_quantile(h, q) / (double)LG_NS_PER_MS;
}

double lg_hist_max_ms(const struct lg_hist *h)
{
    return (double)h->max / (double)LG_NS_PER_MS;
}

double lg_hist_mean_ms(const struct lg_hist *h)
{
    return h->n ? h->sum / (double)h->n / (double)LG_NS_PER_MS : 0;
}

/* ---- option values ---------------------------------------------------------------------- */

int lg_parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int lg_parse_double(const char *s, double *out)
{
    char *end;

    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int lg_parse_int(const char *s, uint64_t min, uint64_t max, int *out)
{
    uint64_t v;

    if (lg_parse_u64(s, &v) < 0 || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int lg_parse_pid(const char *s, long *out)
{
    uint64_t v;

    if (lg_parse_u64(s, &v) < 0 || v < 1 || v > INT32_MAX)
        return -1;
    *out = (long)v;
    return 0;
}

int lg_parse_loopback(const char *s, uint32_t *out)
{
    struct in_addr a;

    if (inet_pton(AF_INET, s, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
        return -1;
    *out = ntohl(a.s_addr);
    return 0;
}

/* ---- the tool's name, and fatal errors ---------------------------------------------------- */

static const char *prog_name = "loadgen";

/* ---- common options ----------------------------------------------------------------------- */

void lg_common_defaults(struct lg_common_opts *c, const char *port)
{
    *c = (struct lg_common_opts){
        .host = "127.0.0.1",
        .port = port,
        .seed = lg_now_ns() ^ ((uint64_t)getpid() << 32),
    };
}

int lg_bad_value(const char *arg)
{
    fprintf(stderr, "%s: bad value '%s' for an option\n", prog_name, arg);
    return -1;
}

/*
 * One option from getopt_long: 1 when it was a common one, 0 when it is not, -1 when its value
 * is invalid (lg_bad_value has printed why). --help and -h print usage(stdout) and exit 0.
 */
static int common_option(int opt, const char *arg, struct lg_common_opts *c, void (*usage)(FILE *))
{
    switch (opt) {
    case LG_OPT_HOST:
        c->host = arg;
        return 1;
    case LG_OPT_PORT:
        c->port = arg;
        return 1;
    case LG_OPT_SERVER_PID:
        return lg_parse_pid(arg, &c->server_pid) < 0 ? lg_bad_value(arg) : 1;
    case LG_OPT_SEED:
        return lg_parse_u64(arg, &c->seed) < 0 ? lg_bad_value(arg) : 1;
    case LG_OPT_VERBOSE:
        c->verbose = true;
        return 1;
    case LG_OPT_HELP:
    case 'h':
        usage(stdout);
        exit(0);
    default:
        return 0;
    }
}

void lg_client_defaults(struct lg_client_opts *r, int inflight, double timeout)
{
    *r = (struct lg_client_opts){
        .sessions = 100,
        .inflight = inflight,
        .hold = 10,
        .timeout = timeout,
        .messages = 200,
        .rate = 20,
        .content_size = 64,
        .drain = 30,
        .per_addr = 1000,
    };
}

/* As common_option, for struct lg_client_opts; --content-size takes 48 .. content_max. */
static int client_option(int opt, const char *arg, struct lg_client_opts *r, int content_max)
{
    int rc;

    switch (opt) {
    case LG_OPT_SESSIONS:
        rc = lg_parse_int(arg, 1, 1000000, &r->sessions);
        break;
    case LG_OPT_RAMP:
        rc = lg_parse_double(arg, &r->ramp);
        break;
    case LG_OPT_INFLIGHT:
        rc = lg_parse_int(arg, 1, 100000, &r->inflight);
        break;
    case LG_OPT_HOLD:
        rc = lg_parse_double(arg, &r->hold);
        break;
    case LG_OPT_TIMEOUT:
        rc = lg_parse_double(arg, &r->timeout) < 0 || r->timeout <= 0 ? -1 : 0;
        break;
    case LG_OPT_RAMP_TIMEOUT:
        rc = lg_parse_double(arg, &r->ramp_timeout);
        break;
    case LG_OPT_MESSAGES:
        rc = lg_parse_int(arg, 0, 10000000, &r->messages);
        break;
    case LG_OPT_RATE:
        rc = lg_parse_double(arg, &r->rate) < 0 || r->rate <= 0 ? -1 : 0;
        break;
    case LG_OPT_CONTENT_SIZE:
        rc = lg_parse_int(arg, 48, (uint64_t)content_max, &r->content_size);
        break;
    case LG_OPT_DRAIN:
        rc = lg_parse_double(arg, &r->drain);
        break;
    case LG_OPT_SRC_BASE:
        rc = lg_parse_loopback(arg, &r->src_base);
        break;
    case LG_OPT_PER_ADDR:
        rc = lg_parse_int(arg, 1, 28000, &r->per_addr);
        break;
    default:
        return 0;
    }
    return rc < 0 ? lg_bad_value(arg) : 1;
}

int lg_ramp_allowed(const struct lg_client_opts *r, uint64_t t0, uint64_t now, int *next,
                    int *not_opened, int inflight)
{
    double elapsed = (double)(now - t0) / (double)LG_NS_PER_SEC;
    int allowed = r->ramp > 0 ? (int)(r->ramp * elapsed) + 1 : r->sessions;

    if (r->ramp_timeout > 0 && elapsed >= r->ramp_timeout && !*not_opened) {
        *not_opened = r->sessions - *next;
        if (*not_opened)
            fprintf(stderr,
                    "%s: --ramp-timeout: %d connections not opened; waiting for the %d in "
                    "flight\n",
                    prog_name, *not_opened, inflight);
        *next = r->sessions;
    }
    return allowed;
}

int lg_next_option(int argc, char **argv, const struct option *longopts, struct lg_common_opts *com,
                   struct lg_client_opts *run, int content_max, void (*usage)(FILE *))
{
    int opt, done;

    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == '?') {
            usage(stderr);
            return -1;
        }
        done = common_option(opt, optarg, com, usage);
        if (done == 0 && run)
            done = client_option(opt, optarg, run, content_max);
        if (done < 0)
            return -1;
        if (done == 0)
            return opt;
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog_name, argv[optind]);
        return -1;
    }
    return 0;
}

void lg_init(const char *prog)
{
    prog_name = prog;
    lg_signals_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void lg_fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog_name, what, strerror(errno));
    exit(2);
}

void *lg_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (!q && n) {
        fprintf(stderr, "%s: out of memory\n", prog_name);
        exit(2);
    }
    return q;
}

/* ---- sockets ---------------------------------------------------------------------------- */

int lg_tcp_socket(int family)
{
    int one = 1;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int lg_send_pending(int fd, const char *buf, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
        if (n > 0) {
            *off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return -1;
    }
    return 0;
}

int lg_connect_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

int lg_epoll_set(int epfd, int fd, int op, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events};

    ev.data.u64 = tag;
    return epoll_ctl(epfd, op, fd, &ev);
}

int lg_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout_ms)
{
    int n = epoll_wait(epfd, evs, max, timeout_ms);

    if (n < 0 && errno != EINTR)
        lg_fail("epoll_wait");
    return n > 0 ? n : 0;
}

/* ---- client connections with an output queue -------------------------------------------- */

uint64_t lg_conn_tag(const struct lg_conn *c, uint32_t index)
{
    return ((uint64_t)index << 32) | c->gen;
}

int lg_conn_open(struct lg_conn *c, int epfd, uint32_t index, uint32_t src,
                 const struct sockaddr_in *dst)
{
    c->gen++;
    c->fd = lg_tcp_socket(AF_INET);
    if (c->fd < 0 || lg_src_bind(c->fd, src) < 0)
        return -1;
    if (connect(c->fd, (const struct sockaddr *)dst, sizeof(*dst)) == 0)
        return lg_epoll_set(epfd, c->fd, EPOLL_CTL_ADD, EPOLLIN, lg_conn_tag(c, index)) < 0 ? -1
                                                                                            : 1;
    if (errno != EINPROGRESS ||
        lg_epoll_set(epfd, c->fd, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT, lg_conn_tag(c, index)) < 0)
        return -1;
    c->want_out = 1;
    return 0;
}

int lg_conn_established(struct lg_conn *c, int epfd, uint32_t index, uint32_t events)
{
    int err = lg_connect_error(c->fd);

    if (err) {
        errno = err;
        return -1;
    }
    if (!(events & EPOLLOUT))
        return 0;
    lg_epoll_set(epfd, c->fd, EPOLL_CTL_MOD, EPOLLIN, lg_conn_tag(c, index));
    c->want_out = 0;
    return 1;
}

int lg_conn_flush(struct lg_conn *c, int epfd, uint32_t index)
{
    size_t off = c->out_off;
    int rc = lg_send_pending(c->fd, c->out, c->out_len, &off);

    c->out_off = (uint32_t)off;
    if (rc < 0)
        return -1;
    if (rc > 0) {
        if (!c->want_out) {
            lg_epoll_set(epfd, c->fd, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT, lg_conn_tag(c, index));
            c->want_out = 1;
        }
        return 0;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->want_out) {
        lg_epoll_set(epfd, c->fd, EPOLL_CTL_MOD, EPOLLIN, lg_conn_tag(c, index));
        c->want_out = 0;
    }
    return 0;
}

int lg_conn_write(struct lg_conn *c, int epfd, uint32_t index, const char *data, size_t len)
{
    if (c->out_len == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n == (ssize_t)len)
            return 0;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
    }
    c->out = lg_xrealloc(c->out, c->out_len + len);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += (uint32_t)len;
    return lg_conn_flush(c, epfd, index);
}

void lg_conn_close(struct lg_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->gen++;
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
}

/* ---- signals ---------------------------------------------------------------------------- */

volatile sig_atomic_t lg_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    lg_interrupted = 1;
}

void lg_signals_init(void)
{
    struct sigaction sa = {.sa_handler = on_signal};

    signal(SIGPIPE, SIG_IGN);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- CPU accounting --------------------------------------------------------------------- */

double lg_proc_cpu_seconds(long pid)
{
    char path[64], buf[2048];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: skip to the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* Fields 3.. follow; utime and stime are fields 14 and 15. */
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (field == 14)
            utime = v;
        if (field == 15)
            stime = v;
        p = end;
        while (*p && *p != ' ')
            p++;
    }
    long ticks = sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) / (double)(ticks > 0 ? ticks : 100);
}

double lg_self_cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- /proc readings --------------------------------------------------------------------- */

void lg_proc_memory_kib(long pid, long *rss, long *hwm)
{
    char path[64], line[256];
    FILE *f;

    *rss = *hwm = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

long lg_proc_fd_count(long pid)
{
    char path[64];
    struct dirent *e;
    long n = 0;

    snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

double lg_server_cpu(long pid)
{
    return pid ? lg_proc_cpu_seconds(pid) : -1;
}

/* ---- many client connections ------------------------------------------------------------ */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

unsigned long lg_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (unsigned long)rl.rlim_cur;
}

uint32_t lg_src_base_default(void)
{
    uint64_t st = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    uint64_t v = lg_splitmix64(&st);

    return (127u << 24) | (uint32_t)(2 + v % 252) << 16 | (uint32_t)((v >> 16) & 0xff) << 8 | 1u;
}

uint32_t lg_src_addr(uint32_t base, int per_addr, int index)
{
    uint32_t k = (uint32_t)(index / per_addr);
    uint32_t a = base;

    while ((a & 0xff) == 0 || (a & 0xff) == 255)
        a++;
    for (uint32_t i = 0; i < k; i++) {
        a++;
        while ((a & 0xff) == 0 || (a & 0xff) == 255)
            a++;
    }
    return a;
}

int lg_src_bind(int fd, uint32_t addr)
{
    int one = 1;
    struct sockaddr_in src = {.sin_family = AF_INET};

    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    src.sin_addr.s_addr = htonl(addr);
    return bind(fd, (struct sockaddr *)&src, sizeof(src));
}

int lg_clients_setup(const char *host, const char *port, int total, int reserve, const char *noun,
                     uint32_t base, int per_addr, struct sockaddr_in *dst, uint32_t *src_base)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    unsigned long limit = lg_raise_nofile();

    if ((unsigned long)total + (unsigned long)reserve > limit) {
        fprintf(stderr,
                "%s: %d %s need more descriptors than the limit of %lu "
                "(run several generator processes)\n",
                prog_name, total, noun, limit);
        return -1;
    }
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot resolve %s:%s: %s\n", prog_name, host, port, gai_strerror(rc));
        return -1;
    }
    memcpy(dst, ai->ai_addr, sizeof(*dst));
    freeaddrinfo(ai);
    *src_base = lg_src_addr(base ? base : lg_src_base_default(), per_addr, 0);
    if ((lg_src_addr(*src_base, per_addr, total - 1) >> 24) != 127) {
        fprintf(stderr, "%s: the source addresses run out of 127.0.0.0/8\n", prog_name);
        return -1;
    }
    return 0;
}

/* ---- a ramp-hold-send run: the clients' counts ----------------------------------------- */

void lg_clients_print(const struct lg_clients *c, int asked, const char *noun, const char *word)
{
    printf("  %ss: ready %d of %d (ever %d), lost after %s %" PRIu64
           ", failed before %s %d, never opened %d\n",
           noun, c->ready, asked, c->ever_ready, word, c->lost_after_ready, word,
           c->done - (int)c->lost_after_ready, c->not_opened);
}

void lg_clients_print_ramp(const struct lg_clients *c, double ramp_secs, const char *noun,
                           const char *step)
{
    printf("  ramp: %.2f s (%.0f %ss/s); connect->%s ms p50 %.2f p99 %.2f max %.2f\n", ramp_secs,
           ramp_secs > 0 ? c->ever_ready / ramp_secs : 0, noun, step,
           lg_hist_ms(&c->connect_ready, 0.5), lg_hist_ms(&c->connect_ready, 0.99),
           lg_hist_max_ms(&c->connect_ready));
}

void lg_clients_result(const struct lg_clients *c, uint64_t fails, uint32_t src_base,
                       double ramp_secs)
{
    char src[INET_ADDRSTRLEN];
    struct in_addr a = {.s_addr = htonl(src_base)};

    inet_ntop(AF_INET, &a, src, sizeof(src));
    printf(" ready=%d ever_ready=%d lost=%" PRIu64 " failed=%" PRIu64
           " not_opened=%d src_base=%s ramp_s=%.3f conn_ready_p50_ms=%.3f conn_ready_p99_ms=%.3f",
           c->ready, c->ever_ready, c->lost_after_ready, fails, c->not_opened, src, ramp_secs,
           lg_hist_ms(&c->connect_ready, 0.5), lg_hist_ms(&c->connect_ready, 0.99));
}

/* ---- a ramp-hold-send run: the server's readings at each phase -------------------------- */

void lg_marks_init(struct lg_marks *m)
{
    *m = (struct lg_marks){
        .rss_ready = -1,
        .rss_held = -1,
        .fds_before = -1,
        .fds_held = -1,
        .srv_cpu_send0 = -1,
        .srv_cpu_send1 = -1,
    };
}

int lg_marks_start(struct lg_marks *m, long pid)
{
    if (pid) {
        lg_proc_memory_kib(pid, &m->rss_before, &m->hwm_before);
        m->fds_before = lg_proc_fd_count(pid);
        if (m->rss_before < 0)
            return -1;
    }
    m->srv_cpu_start = lg_server_cpu(pid);
    return 0;
}

void lg_marks_ready(struct lg_marks *m, long pid)
{
    long hwm;

    if (pid)
        lg_proc_memory_kib(pid, &m->rss_ready, &hwm);
    else
        m->rss_ready = 0;
    m->srv_cpu_ready = lg_server_cpu(pid);
}

void lg_marks_held(struct lg_marks *m, long pid, double hold_secs)
{
    m->hold_secs = hold_secs;
    if (pid) {
        lg_proc_memory_kib(pid, &m->rss_held, &m->hwm_end);
        m->fds_held = lg_proc_fd_count(pid);
    }
    m->srv_cpu_held = lg_server_cpu(pid);
}

bool lg_marks_hold_step(struct lg_marks *m, long pid, uint64_t now, uint64_t *t_phase,
                        uint64_t hold_ns)
{
    if (m->rss_ready < 0 && now - *t_phase >= 2 * LG_NS_PER_SEC) {
        lg_marks_ready(m, pid);
        *t_phase = now;
    }
    if (m->rss_ready >= 0 && now - *t_phase >= hold_ns) {
        lg_marks_held(m, pid, (double)(now - *t_phase) / (double)LG_NS_PER_SEC);
        return true;
    }
    return false;
}

void lg_marks_cut_short(struct lg_marks *m, long pid, uint64_t t_ramp0, bool sending)
{
    if (m->rss_held < 0 && pid)
        lg_proc_memory_kib(pid, &m->rss_held, &m->hwm_end);
    if (!m->ramp_secs)
        m->ramp_secs = (double)(lg_now_ns() - t_ramp0) / (double)LG_NS_PER_SEC;
    if (sending)
        lg_marks_send_end(m, pid);
}

void lg_marks_send_done(struct lg_marks *m, long pid, uint64_t now, uint64_t t_send0, bool all_in,
                        double drain, const char *what)
{
    lg_marks_send_end(m, pid);
    m->send_secs = (double)(now - t_send0) / (double)LG_NS_PER_SEC;
    if (!all_in)
        fprintf(stderr, "%s: gave up waiting for deliveries %.1f s after the last %s\n", prog_name,
                drain, what);
}

void lg_marks_send_start(struct lg_marks *m, long pid)
{
    m->srv_cpu_send0 = lg_server_cpu(pid);
    m->gen_cpu_send0 = lg_self_cpu_seconds();
}

void lg_marks_send_end(struct lg_marks *m, long pid)
{
    m->srv_cpu_send1 = lg_server_cpu(pid);
    m->gen_cpu_send1 = lg_self_cpu_seconds();
}

/* Server bytes per client from a VmRSS delta in KiB; -1 when either side is missing. */
static double bytes_per(long after, long before, int clients)
{
    long delta = after >= 0 && before >= 0 ? after - before : -1;

    return clients > 0 && delta >= 0 ? 1024.0 * (double)delta / clients : -1;
}

static double hold_cpu(const struct lg_marks *m)
{
    return m->srv_cpu_held >= 0 && m->srv_cpu_ready >= 0 ? m->srv_cpu_held - m->srv_cpu_ready : -1;
}

void lg_marks_print(const struct lg_marks *m, long pid, int ready, int ever_ready, const char *noun)
{
    double hold = hold_cpu(m);

    if (!pid)
        return;
    printf("  server memory KiB: VmRSS before %ld, all ready %ld, end of hold %ld; "
           "VmHWM %ld; descriptors %ld before, %ld at the end of the hold\n",
           m->rss_before, m->rss_ready, m->rss_held, m->hwm_end, m->fds_before, m->fds_held);
    printf("  server user-space memory per %s: %.0f B when all were ready, %.0f B "
           "after %.1f s held\n",
           noun, bytes_per(m->rss_ready, m->rss_before, ever_ready),
           bytes_per(m->rss_held, m->rss_before, ready), m->hold_secs);
    printf("  server CPU: ramp %.2f s, hold %.2f s (%.2f%% of a core)\n",
           m->srv_cpu_ready - m->srv_cpu_start, hold,
           m->hold_secs > 0 ? 100 * hold / m->hold_secs : 0);
}

void lg_marks_result(const struct lg_marks *m, long pid, int ready, int ever_ready)
{
    printf(" rss_before_kib=%ld rss_ready_kib=%ld rss_held_kib=%ld hwm_kib=%ld"
           " srv_fds_before=%ld srv_fds_held=%ld"
           " bytes_per_session_ready=%.0f bytes_per_session_held=%.0f hold_s=%.1f"
           " srv_cpu_ramp_s=%.3f srv_cpu_hold_s=%.3f",
           m->rss_before, m->rss_ready, m->rss_held, m->hwm_end, m->fds_before, m->fds_held,
           bytes_per(m->rss_ready, m->rss_before, ever_ready),
           bytes_per(m->rss_held, m->rss_before, ready), m->hold_secs,
           pid ? m->srv_cpu_ready - m->srv_cpu_start : -1, hold_cpu(m));
}

/* The server's CPU over the sending window, in seconds; -1 when not read. */
static double send_cpu(const struct lg_marks *m)
{
    return m->srv_cpu_send1 >= 0 && m->srv_cpu_send0 >= 0 ? m->srv_cpu_send1 - m->srv_cpu_send0
                                                          : -1;
}

void lg_send_cpu_print(const struct lg_marks *m, int msgs, uint64_t deliveries)
{
    double cpu = send_cpu(m);
    double gen = m->gen_cpu_send1 - m->gen_cpu_send0;

    if (cpu >= 0)
        printf("  server CPU while sending: %.2f s = %.1f us per message, %.2f us per "
               "delivery\n",
               cpu, msgs ? cpu * 1e6 / msgs : -1, deliveries ? cpu * 1e6 / deliveries : -1);
    printf("  generator CPU while sending: %.2f s = %.2f us per delivery\n", gen,
           deliveries ? gen * 1e6 / deliveries : -1);
}

void lg_send_cpu_result(const struct lg_marks *m, int msgs, uint64_t deliveries)
{
    double cpu = send_cpu(m);

    printf(" srv_cpu_send_s=%.3f srv_us_per_msg=%.1f srv_us_per_delivery=%.3f"
           " gen_us_per_delivery=%.3f",
           cpu, cpu >= 0 && msgs ? cpu * 1e6 / msgs : -1,
           cpu >= 0 && deliveries ? cpu * 1e6 / deliveries : -1,
           deliveries ? (m->gen_cpu_send1 - m->gen_cpu_send0) * 1e6 / deliveries : -1);
}

static long self_maxrss_kib(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

void lg_self_print(void)
{
    printf("  generator: cpu %.2f s, max rss %ld KiB\n", lg_self_cpu_seconds(), self_maxrss_kib());
}

void lg_self_result(void)
{
    printf(" gen_cpu_s=%.3f gen_maxrss_kib=%ld\n", lg_self_cpu_seconds(), self_maxrss_kib());
}

/* ---- time-stamped fan-out messages ------------------------------------------------------- */

void lg_fanout_init(struct lg_fanout *f, int messages, uint64_t *rng)
{
    f->messages = messages;
    snprintf(f->nonce, sizeof(f->nonce), "%016" PRIx64, lg_splitmix64(rng));
    if (messages > 0) {
        f->msg_last = calloc((size_t)messages, sizeof(*f->msg_last));
        f->msg_count = calloc((size_t)messages, sizeof(*f->msg_count));
        if (!f->msg_last || !f->msg_count)
            lg_fail("allocating the message table");
    }
}

int lg_fanout_stamp(const struct lg_fanout *f, char *buf, size_t size, uint64_t now, int index)
{
    return snprintf(buf, size, "lat:%" PRIu64 ":%s:%d:", now, f->nonce, index);
}

void lg_fanout_arrival(struct lg_fanout *f, const char *p, const char *end, uint64_t now)
{
    char *e;

    if (end - p < 1 + 1 + 16 + 1 + 1) {
        f->foreign++;
        return;
    }
    uint64_t sent = strtoull(p, &e, 10);
    if (e + 18 >= end || *e != ':' || memcmp(e + 1, f->nonce, 16) != 0 || e[17] != ':') {
        f->foreign++;
        return;
    }
    long idx = strtol(e + 18, NULL, 10);
    if (idx < 0 || idx >= f->messages || !f->msg_count || now < sent) {
        f->foreign++;
        return;
    }
    lg_hist_record(&f->lat, now - sent);
    f->deliveries++;
    f->msg_count[idx]++;
    if (now > f->msg_last[idx])
        f->msg_last[idx] = now;
    f->t_last_delivery = now;
    if ((int)f->msg_count[idx] == f->expected_per_msg)
        lg_hist_record(&f->complete, now - sent);
}

int lg_fanout_complete(const struct lg_fanout *f)
{
    int n = 0;

    for (int i = 0; f->msg_count && i < f->messages; i++) {
        if ((int)f->msg_count[i] >= f->expected_per_msg && f->expected_per_msg > 0)
            n++;
    }
    return n;
}

double lg_fanout_rate(const struct lg_fanout *f)
{
    double secs = f->t_last_delivery > f->t_first_send && f->t_first_send
                      ? (double)(f->t_last_delivery - f->t_first_send) / (double)LG_NS_PER_SEC
                      : 0;

    return secs > 0 ? (double)f->deliveries / secs : 0;
}

void lg_fanout_print(const struct lg_fanout *f, int sent, const char *noun, const char *what,
                     const char *last)
{
    uint64_t expected = (uint64_t)sent * (uint64_t)f->expected_per_msg;

    printf("  deliveries %" PRIu64 " of %" PRIu64 " expected (%.2f%%), %.0f/s; "
           "messages reaching every %s %d\n",
           f->deliveries, expected, expected ? 100.0 * (double)f->deliveries / (double)expected : 0,
           lg_fanout_rate(f), noun, lg_fanout_complete(f));
    printf("  %s ms: p50 %.2f p99 %.2f p99.9 %.2f max %.2f mean %.2f\n", what,
           lg_hist_ms(&f->lat, 0.5), lg_hist_ms(&f->lat, 0.99), lg_hist_ms(&f->lat, 0.999),
           lg_hist_max_ms(&f->lat), lg_hist_mean_ms(&f->lat));
    printf("  %s ms: p50 %.2f p99 %.2f max %.2f\n", last, lg_hist_ms(&f->complete, 0.5),
           lg_hist_ms(&f->complete, 0.99), lg_hist_max_ms(&f->complete));
}

void lg_fanout_result(const struct lg_fanout *f)
{
    printf(" deliveries_per_s=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f"
           " last_p50_ms=%.3f last_p99_ms=%.3f",
           lg_fanout_rate(f), lg_hist_ms(&f->lat, 0.5), lg_hist_ms(&f->lat, 0.99),
           lg_hist_ms(&f->lat, 0.999), lg_hist_max_ms(&f->lat), lg_hist_mean_ms(&f->lat),
           lg_hist_ms(&f->complete, 0.5), lg_hist_ms(&f->complete, 0.99));
}
