/*
 * loadgen: code shared by the load generators (see loadgen.h). Compiled into each
 * tool; libc only.
 */
#define _GNU_SOURCE
#include "loadgen.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- sockets ---------------------------------------------------------------------------- */

int lg_tcp_socket(int family)
{
    int one = 1;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
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
