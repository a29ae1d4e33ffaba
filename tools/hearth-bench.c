/*
 * hearth-bench: a closed-loop HTTP/1.1 load generator for Hearth's REST API.
 *
 * DESIGN. The generator shares a 2-core box with the server it measures, so it has to be much
 * cheaper per request than the server: one thread, one epoll set, raw keep-alive sockets, no
 * HTTP library. Each connection has at most one request in flight (closed loop: the next
 * request leaves as soon as the previous response is complete), so N connections means N
 * concurrent clients. Epoll is level-triggered; EPOLLOUT is only asked for while a connect or
 * a partial write is pending, so a request costs about one send, one read and a share of one
 * epoll_wait.
 *
 * Latency runs from the moment a request is issued (including a reconnect when the server
 * closed the previous connection) to the moment its last response byte is read. It goes into
 * a log-linear histogram (256 sub-buckets per power of two of nanoseconds, < 0.4 % error), so
 * memory stays constant however long the run. Only responses that complete inside the
 * measurement window (after --warmup) are counted. When --server-pid is given, the server's
 * utime+stime over the same window is read from /proc/PID/stat and divided by the number of
 * successful responses: CPU per request holds up far better than wall-clock rates on a shared
 * machine (shared/reference/perf-notes.md §0).
 *
 * Modes:
 *   post     POST /api/v10/channels/{channel}/messages {"content": "<body-size chars>"} (or
 *            the text of --content)
 *   history  GET  /api/v10/channels/{channel}/messages?limit=50&before=RANDOM, RANDOM uniform
 *            in [--min-id, --max-id]
 *   get      GET  --path (default /healthz): the HTTP stack alone, a baseline for history
 *   fsync    4 KiB pwrite + fdatasync in a loop on --file: the disk's durable-commit ceiling,
 *            a baseline for post (no server involved)
 *
 * A benchmark, not a test: it reports figures. It exits 0 when at least one request succeeded,
 * 1 when none did, 2 on a usage error.
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "loadgen.h"

#define NS_PER_SEC LG_NS_PER_SEC

#define MAX_HEAD_BYTES (64 * 1024)     /* a response head larger than this is malformed */
#define MAX_RESPONSE_BYTES (64u << 20) /* a response larger than this is malformed */
#define INITIAL_INBUF 16384
#define CONNECT_BACKOFF_NS (100ull * 1000000ull)
/* How long requests still in flight at the end of the window may take to finish. */
#define DRAIN_GRACE_NS (10ull * NS_PER_SEC)
#define MAX_CONNECTIONS 19000 /* the hard fd limit here is 20,000 (perf-notes §0) */
#define MAX_BODY_SIZE (1 << 20)

/* ---- options ------------------------------------------------------------------------------ */

enum bench_mode { MODE_POST, MODE_HISTORY, MODE_GET, MODE_FSYNC };

static const char *const mode_names[] = {"post", "history", "get", "fsync"};

struct options {
    struct lg_common_opts com; /* --host, --port, --server-pid, --seed, --verbose */
    const char *token;
    const char *channel;
    const char *path;
    const char *file;
    enum bench_mode mode;
    int connections;
    double duration; /* seconds of measurement after warmup; 0 = until --count */
    double warmup;   /* seconds whose results are discarded */
    double timeout;  /* seconds a request may take before it counts as a timeout */
    uint64_t count;  /* stop after issuing this many requests; 0 = no limit */
    uint64_t min_id;
    uint64_t max_id;
    int body_size;
    const char *content; /* post: this text instead of body-size generated characters */
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: hearth-bench --mode post|history|get|fsync [options]\n"
        "  --host H           server address (default 127.0.0.1)\n"
        "  --port P           server port (default 8080)\n"
        "  --token T          Authorization header value (user token, or 'Bot <token>')\n"
        "  --channel ID       channel id (post, history)\n"
        "  --connections N    concurrent keep-alive connections (default 1)\n"
        "  --duration S       seconds to measure after the warmup (default 10)\n"
        "  --warmup S         seconds to run before measuring (default 0)\n"
        "  --count M          stop after M requests in all (with no --duration: no time "
        "limit)\n"
        "  --min-id ID        history: smallest 'before' snowflake\n"
        "  --max-id ID        history: largest 'before' snowflake\n"
        "  --body-size B      post: message content length in bytes (default 64)\n"
        "  --content TEXT     post: this message content instead (UTF-8, escaped here)\n"
        "  --path P           get: request path (default /healthz)\n"
        "  --file F           fsync: scratch file (created, overwritten, removed)\n"
        "  --timeout S        per-request timeout in seconds (default 30)\n"
        "  --server-pid PID   report the server's CPU time per successful request\n"
        "  --seed N           random seed for history ids (default: time and pid)\n" LG_USAGE_END);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_TOKEN = LG_OPT_TOOL,
        OPT_CHANNEL,
        OPT_CONNECTIONS,
        OPT_DURATION,
        OPT_WARMUP,
        OPT_COUNT,
        OPT_MODE,
        OPT_MIN_ID,
        OPT_MAX_ID,
        OPT_BODY_SIZE,
        OPT_CONTENT,
        OPT_PATH,
        OPT_FILE,
        OPT_TIMEOUT,
    };
    static const struct option longopts[] = {
        {"token", required_argument, NULL, OPT_TOKEN},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"connections", required_argument, NULL, OPT_CONNECTIONS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"count", required_argument, NULL, OPT_COUNT},
        {"mode", required_argument, NULL, OPT_MODE},
        {"min-id", required_argument, NULL, OPT_MIN_ID},
        {"max-id", required_argument, NULL, OPT_MAX_ID},
        {"body-size", required_argument, NULL, OPT_BODY_SIZE},
        {"content", required_argument, NULL, OPT_CONTENT},
        {"path", required_argument, NULL, OPT_PATH},
        {"file", required_argument, NULL, OPT_FILE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        LG_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool have_mode = false, have_duration = false, have_min = false, have_max = false;
    uint64_t u;
    int opt;

    *o = (struct options){
        .path = "/healthz",
        .connections = 1,
        .duration = 10,
        .timeout = 30,
        .body_size = 64,
    };
    lg_common_defaults(&o->com, "8080");
    while ((opt = lg_next_option(argc, argv, longopts, &o->com, NULL, 0, usage)) > 0) {
        switch (opt) {
        case OPT_TOKEN:
            o->token = optarg;
            break;
        case OPT_CHANNEL:
            if (lg_parse_u64(optarg, &u) < 0)
                goto bad;
            o->channel = optarg;
            break;
        case OPT_CONNECTIONS:
            if (lg_parse_int(optarg, 1, MAX_CONNECTIONS, &o->connections) < 0)
                goto bad;
            break;
        case OPT_DURATION:
            if (lg_parse_double(optarg, &o->duration) < 0)
                goto bad;
            have_duration = true;
            break;
        case OPT_WARMUP:
            if (lg_parse_double(optarg, &o->warmup) < 0)
                goto bad;
            break;
        case OPT_COUNT:
            if (lg_parse_u64(optarg, &o->count) < 0)
                goto bad;
            break;
        case OPT_MODE:
            have_mode = false;
            for (int i = 0; i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); i++) {
                if (strcmp(optarg, mode_names[i]) == 0) {
                    o->mode = (enum bench_mode)i;
                    have_mode = true;
                }
            }
            if (!have_mode)
                goto bad;
            break;
        case OPT_MIN_ID:
            if (lg_parse_u64(optarg, &o->min_id) < 0)
                goto bad;
            have_min = true;
            break;
        case OPT_MAX_ID:
            if (lg_parse_u64(optarg, &o->max_id) < 0)
                goto bad;
            have_max = true;
            break;
        case OPT_BODY_SIZE:
            if (lg_parse_int(optarg, 1, MAX_BODY_SIZE, &o->body_size) < 0)
                goto bad;
            break;
        case OPT_CONTENT:
            if (!*optarg || strlen(optarg) > MAX_BODY_SIZE)
                goto bad;
            o->content = optarg;
            break;
        case OPT_PATH:
            if (optarg[0] != '/')
                goto bad;
            o->path = optarg;
            break;
        case OPT_FILE:
            o->file = optarg;
            break;
        case OPT_TIMEOUT:
            if (lg_parse_double(optarg, &o->timeout) < 0 || o->timeout <= 0)
                goto bad;
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (opt < 0)
        return -1;
    if (!have_mode) {
        fprintf(stderr, "hearth-bench: --mode is required\n");
        return -1;
    }
    if (o->count && !have_duration)
        o->duration = 0;
    if (o->duration <= 0 && o->count == 0) {
        fprintf(stderr, "hearth-bench: give a --duration above 0 or a --count\n");
        return -1;
    }
    if ((o->mode == MODE_POST || o->mode == MODE_HISTORY) && (!o->token || !o->channel)) {
        fprintf(stderr, "hearth-bench: --mode %s needs --token and --channel\n",
                mode_names[o->mode]);
        return -1;
    }
    if (o->mode == MODE_HISTORY && (!have_min || !have_max || o->min_id > o->max_id)) {
        fprintf(stderr, "hearth-bench: --mode history needs --min-id <= --max-id\n");
        return -1;
    }
    if (o->mode == MODE_FSYNC && !o->file) {
        fprintf(stderr, "hearth-bench: --mode fsync needs --file\n");
        return -1;
    }
    if (o->token && strpbrk(o->token, "\r\n")) {
        fprintf(stderr, "hearth-bench: --token must not contain line breaks\n");
        return -1;
    }
    return 0;
bad:
    return lg_bad_value(optarg);
}

/* ---- HTTP/1.1 response parsing ------------------------------------------------------------ */

struct http_head {
    int status;
    bool keep_alive;
    bool chunked;
    long long content_length; /* -1 when absent */
    size_t head_len;          /* bytes up to and including the blank line */
};

/* Whether [s, s+n) contains word, ASCII case-insensitively. */
static bool span_contains(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);

    for (size_t i = 0; i + w <= n; i++) {
        if (strncasecmp(s + i, word, w) == 0)
            return true;
    }
    return false;
}

static bool span_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

/* Parses a response head: 1 when complete (fills *h), 0 when more bytes are needed, -1 bad. */
static int http_parse_head(const char *buf, size_t len, struct http_head *h)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);

    if (!end)
        return len > MAX_HEAD_BYTES ? -1 : 0;
    if (end - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) ||
        buf[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)buf[i]))
            return -1;
    }
    h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    h->keep_alive = buf[7] != '0';
    h->chunked = false;
    h->content_length = -1;
    h->head_len = (size_t)(end - buf) + 4;

    const char *p = memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2) + 2;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon)
            return -1;
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(eol - v);
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        size_t nlen = (size_t)(colon - p);
        if (span_is(p, nlen, "content-length")) {
            long long cl = 0;
            if (vlen == 0 || vlen > 15)
                return -1;
            for (size_t i = 0; i < vlen; i++) {
                if (!isdigit((unsigned char)v[i]))
                    return -1;
                cl = cl * 10 + (v[i] - '0');
            }
            h->content_length = cl;
        } else if (span_is(p, nlen, "transfer-encoding")) {
            h->chunked = span_contains(v, vlen, "chunked");
        } else if (span_is(p, nlen, "connection")) {
            if (span_contains(v, vlen, "close"))
                h->keep_alive = false;
            else if (span_contains(v, vlen, "keep-alive"))
                h->keep_alive = true;
        }
        p = eol + 2;
    }
    return 1;
}

/*
 * Where the response whose head is h ends: its total length when buf holds all of it, 0 when
 * more bytes are needed (or the body runs to the end of the connection), -1 when malformed.
 */
static long long http_response_end(const char *buf, size_t len, const struct http_head *h)
{
    if ((h->status >= 100 && h->status < 200) || h->status == 204 || h->status == 304)
        return (long long)h->head_len;
    if (h->chunked) {
        size_t p = h->head_len;
        for (;;) {
            const char *eol = memmem(buf + p, len - p, "\r\n", 2);
            if (!eol)
                return 0;
            size_t size = 0, digits = 0;
            for (const char *q = buf + p; q < eol && isxdigit((unsigned char)*q); q++) {
                if (++digits > 15)
                    return -1;
                int c = tolower((unsigned char)*q);
                size = size * 16 + (size_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
            }
            if (digits == 0)
                return -1;
            size_t data = (size_t)(eol - buf) + 2;
            if (size == 0) {
                /* Trailers, then a blank line. */
                size_t q = data;
                for (;;) {
                    const char *e = memmem(buf + q, len - q, "\r\n", 2);
                    if (!e)
                        return 0;
                    if (e == buf + q)
                        return (long long)q + 2;
                    q = (size_t)(e - buf) + 2;
                }
            }
            if (len - data < size + 2)
                return 0;
            if (memcmp(buf + data + size, "\r\n", 2) != 0)
                return -1;
            p = data + size + 2;
        }
    }
    if (h->content_length >= 0) {
        size_t total = h->head_len + (size_t)h->content_length;
        return len >= total ? (long long)total : 0;
    }
    return 0; /* no length: the body ends when the server closes */
}

/* ---- the load generator ------------------------------------------------------------------- */

enum conn_state {
    CONN_IDLE,       /* no request in flight; the fd, if any, is kept open */
    CONN_BACKOFF,    /* waiting to reconnect after a failed connect */
    CONN_CONNECTING, /* request issued, connect in progress */
    CONN_SENDING,    /* request issued, bytes left to write */
    CONN_RECEIVING,  /* request written, waiting for the response */
};

enum err_kind { ERR_CONNECT, ERR_CLOSED, ERR_TIMEOUT, ERR_PROTOCOL, ERR_KINDS };

static const char *const err_names[] = {"connect", "closed", "timeout", "protocol"};

struct conn {
    int fd;
    uint32_t gen; /* bumped per fd, so stale epoll events can be told apart */
    uint32_t index;
    enum conn_state state;
    bool want_out;   /* EPOLLOUT is in the interest set */
    bool had_socket; /* a socket was opened before: the next one is a reconnect */
    const char *req;
    size_t req_len;
    size_t req_off;
    char reqbuf[512]; /* per-request requests (history, get) are built here */
    char *in;
    size_t in_len;
    size_t in_cap;
    bool have_head;
    struct http_head head;
    uint64_t t_issued;
    uint64_t retry_at;
};

struct counters {
    uint64_t ok; /* 2xx */
    uint64_t s429;
    uint64_t s4xx; /* other 4xx */
    uint64_t s5xx;
    uint64_t sother; /* 1xx, 3xx */
    uint64_t err[ERR_KINDS];
    uint64_t items; /* history: messages returned in 2xx pages */
    uint64_t empty_pages;
    uint64_t reconnects;
};

struct bench {
    struct options opt;
    struct addrinfo *addr;
    int epfd;
    struct conn *conns;
    char *post_req;
    size_t post_req_len;
    uint64_t rng;

    uint64_t t_start;  /* when the first request left */
    uint64_t t_begin;  /* start of the measurement window (after warmup) */
    uint64_t deadline; /* end of the window; UINT64_MAX with --count and no --duration */
    uint64_t t_end;
    bool began;
    bool stopping;
    uint64_t issued;
    uint64_t inflight;
    uint64_t backoff;

    struct counters c;  /* inside the window */
    struct lg_hist lat; /* 2xx latencies inside the window, ns */
    uint64_t *per_sec;  /* 2xx completions per whole second of the window */
    size_t per_sec_len;

    double srv_cpu0, gen_cpu0;
    bool reported_status;    /* the first non-2xx response was printed */
    bool reported_transport; /* the first transport error was printed */
};

static void conn_next(struct bench *b, struct conn *c);

static void conn_drop_fd(struct bench *b, struct conn *c)
{
    (void)b;
    if (c->fd >= 0) {
        close(c->fd); /* also removes it from the epoll set */
        c->fd = -1;
    }
    c->gen++;
    c->want_out = false;
    c->in_len = 0;
    c->have_head = false;
}

static bool in_window(const struct bench *b, uint64_t t)
{
    return b->began && t >= b->t_begin;
}

static void conn_fail(struct bench *b, struct conn *c, enum err_kind kind)
{
    uint64_t now = lg_now_ns();

    if (in_window(b, now))
        b->c.err[kind]++;
    if (!b->reported_transport) {
        int e = errno;
        fprintf(stderr, "hearth-bench: first transport error: %s%s%s\n", err_names[kind],
                e ? ": " : "", e ? strerror(e) : "");
        b->reported_transport = true;
    }
    b->inflight--;
    conn_drop_fd(b, c);
    if (kind == ERR_CONNECT) {
        c->state = CONN_BACKOFF;
        c->retry_at = now + CONNECT_BACKOFF_NS;
        b->backoff++;
        return;
    }
    c->state = CONN_IDLE;
    conn_next(b, c);
}

static int conn_epoll(struct bench *b, struct conn *c, int op, uint32_t events)
{
    return lg_epoll_set(b->epfd, c->fd, op, events, ((uint64_t)c->index << 32) | c->gen);
}

static void conn_send(struct bench *b, struct conn *c)
{
    int rc = lg_send_pending(c->fd, c->req, c->req_len, &c->req_off);

    if (rc > 0) {
        if (!c->want_out) {
            if (conn_epoll(b, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT) < 0) {
                conn_fail(b, c, ERR_CLOSED);
                return;
            }
            c->want_out = true;
        }
        c->state = CONN_SENDING;
        return;
    }
    if (rc < 0) {
        conn_fail(b, c, ERR_CLOSED);
        return;
    }
    if (c->want_out) {
        if (conn_epoll(b, c, EPOLL_CTL_MOD, EPOLLIN) < 0) {
            conn_fail(b, c, ERR_CLOSED);
            return;
        }
        c->want_out = false;
    }
    c->state = CONN_RECEIVING;
}

static void conn_connect(struct bench *b, struct conn *c)
{
    const struct addrinfo *ai = b->addr;

    c->fd = lg_tcp_socket(ai->ai_family);
    if (c->fd < 0) {
        conn_fail(b, c, ERR_CONNECT);
        return;
    }
    c->gen++;
    c->had_socket = true;
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        if (conn_epoll(b, c, EPOLL_CTL_ADD, EPOLLIN) < 0) {
            conn_fail(b, c, ERR_CONNECT);
            return;
        }
        c->state = CONN_SENDING;
        conn_send(b, c);
        return;
    }
    if (errno != EINPROGRESS || conn_epoll(b, c, EPOLL_CTL_ADD, EPOLLOUT) < 0) {
        conn_fail(b, c, ERR_CONNECT);
        return;
    }
    c->want_out = true;
    c->state = CONN_CONNECTING;
}

static void build_request(struct bench *b, struct conn *c)
{
    const struct options *o = &b->opt;
    int n = 0;

    switch (o->mode) {
    case MODE_POST:
        c->req = b->post_req;
        c->req_len = b->post_req_len;
        c->req_off = 0;
        return;
    case MODE_HISTORY: {
        uint64_t span = o->max_id - o->min_id;
        uint64_t r = lg_splitmix64(&b->rng);
        uint64_t before = o->min_id + (span == UINT64_MAX ? r : r % (span + 1));
        n = snprintf(c->reqbuf, sizeof(c->reqbuf),
                     "GET /api/v10/channels/%s/messages?limit=50&before=%" PRIu64 " HTTP/1.1\r\n"
                     "Host: %s:%s\r\nAuthorization: %s\r\n\r\n",
                     o->channel, before, o->com.host, o->com.port, o->token);
        break;
    }
    case MODE_GET:
        n = snprintf(c->reqbuf, sizeof(c->reqbuf), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n%s%s%s\r\n",
                     o->path, o->com.host, o->com.port, o->token ? "Authorization: " : "",
                     o->token ? o->token : "", o->token ? "\r\n" : "");
        break;
    case MODE_FSYNC:
        break;
    }
    c->req = c->reqbuf;
    c->req_len = n > 0 && (size_t)n < sizeof(c->reqbuf) ? (size_t)n : 0;
    c->req_off = 0;
}

/* Issues the connection's next request, unless the run is over. */
static void conn_next(struct bench *b, struct conn *c)
{
    if (b->stopping || lg_interrupted || (b->opt.count && b->issued >= b->opt.count)) {
        c->state = CONN_IDLE;
        return;
    }
    build_request(b, c);
    if (c->req_len == 0) {
        fprintf(stderr, "hearth-bench: request does not fit its buffer\n");
        exit(2);
    }
    b->issued++;
    b->inflight++;
    c->t_issued = lg_now_ns();
    if (c->fd < 0) {
        if (c->had_socket && in_window(b, c->t_issued))
            b->c.reconnects++;
        conn_connect(b, c);
        return;
    }
    c->state = CONN_SENDING;
    conn_send(b, c);
}

/* Counts "timestamp": keys, one per message object ("edited_timestamp" does not match). */
static uint64_t count_messages(const char *body, size_t len)
{
    static const char key[] = "\"timestamp\":";
    uint64_t n = 0;
    const char *p = body, *end = body + len;

    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), key, sizeof(key) - 1);
        if (!hit)
            break;
        n++;
        p = hit + sizeof(key) - 1;
    }
    return n;
}

static void conn_complete(struct bench *b, struct conn *c, size_t end)
{
    uint64_t now = lg_now_ns();
    int status = c->head.status;
    bool keep = c->head.keep_alive;

    b->inflight--;
    if (in_window(b, now)) {
        if (status >= 200 && status < 300) {
            b->c.ok++;
            lg_hist_record(&b->lat, now - c->t_issued);
            if (b->opt.mode == MODE_HISTORY) {
                uint64_t items = count_messages(c->in + c->head.head_len, end - c->head.head_len);
                b->c.items += items;
                if (items == 0)
                    b->c.empty_pages++;
            }
            size_t sec = (size_t)((now - b->t_begin) / NS_PER_SEC);
            if (sec < b->per_sec_len)
                b->per_sec[sec]++;
        } else if (status == 429) {
            b->c.s429++;
        } else if (status >= 400 && status < 500) {
            b->c.s4xx++;
        } else if (status >= 500 && status < 600) {
            b->c.s5xx++;
        } else {
            b->c.sother++;
        }
    }
    if ((status < 200 || status >= 300) && !b->reported_status) {
        /* The first failure, once: its status line and the start of its (error) body. */
        size_t blen = end - c->head.head_len;
        const char *cr = memchr(c->in, '\r', c->head.head_len);
        fprintf(stderr, "hearth-bench: first non-2xx response: %.*s %.*s\n", (int)(cr - c->in),
                c->in, (int)(blen > 300 ? 300 : blen), c->in + c->head.head_len);
        b->reported_status = true;
    }
    if (end != c->in_len) {
        /* Bytes after a response we did not pipeline for: the framing is off. */
        if (in_window(b, now))
            b->c.err[ERR_PROTOCOL]++;
        keep = false;
    }
    c->in_len = 0;
    c->have_head = false;
    if (!keep)
        conn_drop_fd(b, c);
    c->state = CONN_IDLE;
    conn_next(b, c);
}

static void conn_read(struct bench *b, struct conn *c)
{
    if (c->in_len == c->in_cap) {
        if (c->in_cap >= MAX_RESPONSE_BYTES) {
            conn_fail(b, c, ERR_PROTOCOL);
            return;
        }
        c->in_cap = c->in_cap ? c->in_cap * 2 : INITIAL_INBUF;
        c->in = realloc(c->in, c->in_cap);
        if (!c->in) {
            fprintf(stderr, "hearth-bench: out of memory\n");
            exit(1);
        }
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (c->state == CONN_IDLE) {
        /* The server closed (or wrote to) a connection we are not using: just let it go. */
        conn_drop_fd(b, c);
        return;
    }
    if (n < 0) {
        conn_fail(b, c, ERR_CLOSED);
        return;
    }
    if (n == 0) {
        if (c->have_head && !c->head.chunked && c->head.content_length < 0 &&
            c->state == CONN_RECEIVING) {
            c->head.keep_alive = false;
            conn_complete(b, c, c->in_len);
            return;
        }
        errno = 0;
        conn_fail(b, c, ERR_CLOSED);
        return;
    }
    c->in_len += (size_t)n;
    if (!c->have_head) {
        int r = http_parse_head(c->in, c->in_len, &c->head);
        if (r == 0)
            return;
        if (r < 0) {
            errno = 0;
            conn_fail(b, c, ERR_PROTOCOL);
            return;
        }
        c->have_head = true;
    }
    long long end = http_response_end(c->in, c->in_len, &c->head);
    if (end == 0)
        return;
    if (end < 0) {
        errno = 0;
        conn_fail(b, c, ERR_PROTOCOL);
        return;
    }
    /* A response that arrives before the request was fully sent still ends the exchange. */
    conn_complete(b, c, (size_t)end);
}

static void conn_event(struct bench *b, struct conn *c, uint32_t events)
{
    if (c->state == CONN_CONNECTING) {
        int err = lg_connect_error(c->fd);
        if (err) {
            errno = err;
            conn_fail(b, c, ERR_CONNECT);
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        c->state = CONN_SENDING;
        conn_send(b, c);
        return;
    }
    if (c->state == CONN_SENDING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        uint32_t gen = c->gen;
        conn_send(b, c);
        if (c->gen != gen)
            return; /* the fd changed under us: this event was for the old one */
    }
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_read(b, c);
}

static void check_timeouts(struct bench *b, uint64_t now)
{
    uint64_t limit = (uint64_t)(b->opt.timeout * (double)NS_PER_SEC);

    for (int i = 0; i < b->opt.connections; i++) {
        struct conn *c = &b->conns[i];
        if (c->state >= CONN_CONNECTING && now - c->t_issued > limit) {
            errno = ETIMEDOUT;
            conn_fail(b, c, ERR_TIMEOUT);
        }
        if (c->state == CONN_BACKOFF && now >= c->retry_at) {
            b->backoff--;
            c->state = CONN_IDLE;
            conn_next(b, c);
        }
    }
}

static void begin_window(struct bench *b, uint64_t now)
{
    b->began = true;
    b->t_begin = now;
    b->srv_cpu0 = lg_server_cpu(b->opt.com.server_pid);
    b->gen_cpu0 = lg_self_cpu_seconds();
}

/* text as the inside of a JSON string (quotes, backslashes and control characters escaped),
 * in new memory. */
static char *json_escape(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(6 * n + 1), *o = out;

    if (!out) {
        fprintf(stderr, "hearth-bench: out of memory\n");
        exit(1);
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o = '\0';
    return out;
}

static void build_post_request(struct bench *b)
{
    const struct options *o = &b->opt;
    char *content = o->content ? json_escape(o->content) : NULL;
    size_t content_len = content ? strlen(content) : (size_t)o->body_size;
    size_t body_len = content_len + sizeof("{\"content\":\"\"}") - 1;
    size_t cap = body_len + 512 + strlen(o->channel) + strlen(o->token) + strlen(o->com.host);
    char *req = malloc(cap);

    if (!req) {
        fprintf(stderr, "hearth-bench: out of memory\n");
        exit(1);
    }
    int n = snprintf(req, cap,
                     "POST /api/v10/channels/%s/messages HTTP/1.1\r\nHost: %s:%s\r\n"
                     "Authorization: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n{\"content\":\"",
                     o->channel, o->com.host, o->com.port, o->token, body_len);
    size_t len = (size_t)n;
    if (content) {
        memcpy(req + len, content, content_len);
        len += content_len;
        free(content);
    } else {
        for (int i = 0; i < o->body_size; i++)
            req[len++] = (i % 8 == 7) ? ' ' : (char)('a' + i % 26);
    }
    memcpy(req + len, "\"}", 2);
    b->post_req = req;
    b->post_req_len = len + 2;
}

static void print_report(const struct bench *b, double srv_cpu, double gen_cpu)
{
    const struct options *o = &b->opt;
    const struct counters *c = &b->c;
    double secs = (double)(b->t_end - b->t_begin) / (double)NS_PER_SEC;
    double rate = secs > 0 ? (double)c->ok / secs : 0;
    uint64_t errs = c->s429 + c->s4xx + c->s5xx + c->sother;
    uint64_t stalled = 0, smin = UINT64_MAX, smax = 0;
    size_t whole = (size_t)secs;

    for (int k = 0; k < ERR_KINDS; k++)
        errs += c->err[k];
    for (size_t i = 0; i < whole && i < b->per_sec_len; i++) {
        if (b->per_sec[i] == 0)
            stalled++;
        if (b->per_sec[i] < smin)
            smin = b->per_sec[i];
        if (b->per_sec[i] > smax)
            smax = b->per_sec[i];
    }
    if (smin == UINT64_MAX)
        smin = 0;

    double p50 = lg_hist_ms(&b->lat, 0.50);
    double p99 = lg_hist_ms(&b->lat, 0.99);
    double p999 = lg_hist_ms(&b->lat, 0.999);
    double lmax = lg_hist_max_ms(&b->lat);
    double mean = lg_hist_mean_ms(&b->lat);
    double srv_us = srv_cpu >= 0 && c->ok ? srv_cpu * 1e6 / (double)c->ok : -1;
    double gen_us = c->ok ? gen_cpu * 1e6 / (double)c->ok : -1;

    printf("mode %s, %d connection(s), window %.2f s after %.1f s warmup\n", mode_names[o->mode],
           o->connections, secs, o->warmup);
    printf("  ok (2xx): %" PRIu64 "   non-2xx: 429 %" PRIu64 ", 4xx %" PRIu64 ", 5xx %" PRIu64
           ", other %" PRIu64 "\n",
           c->ok, c->s429, c->s4xx, c->s5xx, c->sother);
    printf("  transport errors: connect %" PRIu64 ", closed %" PRIu64 ", timeout %" PRIu64
           ", protocol %" PRIu64 "; reconnects %" PRIu64 "\n",
           c->err[ERR_CONNECT], c->err[ERR_CLOSED], c->err[ERR_TIMEOUT], c->err[ERR_PROTOCOL],
           c->reconnects);
    printf("  rate: %.1f ok/s (whole seconds: min %" PRIu64 ", max %" PRIu64 ", %" PRIu64
           " with none)\n",
           rate, smin, smax, stalled);
    printf("  latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n", p50, p99, p999,
           lmax, mean);
    if (o->mode == MODE_HISTORY && c->ok)
        printf("  pages: %.1f messages per page on average, %" PRIu64 " empty\n",
               (double)c->items / (double)c->ok, c->empty_pages);
    if (srv_us >= 0)
        printf("  server cpu: %.2f s = %.1f us per ok (%.0f%% of one core)\n", srv_cpu, srv_us,
               secs > 0 ? 100.0 * srv_cpu / secs : 0);
    if (gen_us >= 0)
        printf("  generator cpu: %.2f s = %.1f us per ok\n", gen_cpu, gen_us);
    else
        printf("  generator cpu: %.2f s\n", gen_cpu);
    printf("result: mode=%s conns=%d secs=%.3f ok=%" PRIu64 " rate=%.1f p50_ms=%.3f p99_ms=%.3f "
           "p999_ms=%.3f max_ms=%.3f mean_ms=%.3f errors=%" PRIu64 " s429=%" PRIu64 " s4xx=%" PRIu64
           " s5xx=%" PRIu64 " err_connect=%" PRIu64 " err_closed=%" PRIu64 " err_timeout=%" PRIu64
           " err_protocol=%" PRIu64 " stalled_s=%" PRIu64 " sec_min=%" PRIu64 " sec_max=%" PRIu64
           " srv_cpu_s=%.3f srv_us_per_ok=%.1f"
           " gen_cpu_s=%.3f gen_us_per_ok=%.1f items_per_ok=%.2f\n",
           mode_names[o->mode], o->connections, secs, c->ok, rate, p50, p99, p999, lmax, mean, errs,
           c->s429, c->s4xx, c->s5xx, c->err[ERR_CONNECT], c->err[ERR_CLOSED], c->err[ERR_TIMEOUT],
           c->err[ERR_PROTOCOL], stalled, smin, smax, srv_cpu, srv_us, gen_cpu, gen_us,
           c->ok ? (double)c->items / (double)c->ok : 0);
}

static int run_http(struct bench *b)
{
    const struct options *o = &b->opt;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct epoll_event events[256];
    int rc = getaddrinfo(o->com.host, o->com.port, &hints, &b->addr);

    if (rc != 0) {
        fprintf(stderr, "hearth-bench: cannot resolve %s:%s: %s\n", o->com.host, o->com.port,
                gai_strerror(rc));
        return 2;
    }
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    b->conns = calloc((size_t)o->connections, sizeof(*b->conns));
    b->per_sec_len = (size_t)o->duration + 2 + DRAIN_GRACE_NS / NS_PER_SEC;
    b->per_sec = calloc(b->per_sec_len, sizeof(*b->per_sec));
    if (b->epfd < 0 || !b->conns || !b->per_sec) {
        fprintf(stderr, "hearth-bench: setup failed: %s\n", strerror(errno));
        return 2;
    }
    if (o->mode == MODE_POST)
        build_post_request(b);

    b->t_start = lg_now_ns();
    if (o->warmup <= 0)
        begin_window(b, b->t_start);
    for (int i = 0; i < o->connections; i++) {
        b->conns[i].fd = -1;
        b->conns[i].index = (uint32_t)i;
        conn_next(b, &b->conns[i]);
    }

    uint64_t warm_ns = (uint64_t)(o->warmup * (double)NS_PER_SEC);
    uint64_t dur_ns = (uint64_t)(o->duration * (double)NS_PER_SEC);
    uint64_t next_tick = b->t_start + NS_PER_SEC / 10, next_progress = b->t_start + NS_PER_SEC;
    uint64_t last_ok = 0;
    b->deadline = UINT64_MAX;
    if (b->began && dur_ns)
        b->deadline = b->t_begin + dur_ns;

    for (;;) {
        uint64_t now = lg_now_ns();
        if (!b->began && now >= b->t_start + warm_ns) {
            begin_window(b, now);
            if (dur_ns)
                b->deadline = b->t_begin + dur_ns;
        }
        if (!b->stopping && (now >= b->deadline || lg_interrupted)) {
            b->stopping = true;
            b->deadline = now;
        }
        if (b->inflight == 0 && b->backoff == 0 &&
            (b->stopping || (o->count && b->issued >= o->count)))
            break;
        if (b->stopping && now >= b->deadline + DRAIN_GRACE_NS)
            break; /* requests still in flight count as neither ok nor error */
        if (now >= next_tick) {
            check_timeouts(b, now);
            next_tick = now + NS_PER_SEC / 10;
        }
        if (o->com.verbose && now >= next_progress) {
            fprintf(stderr,
                    "hearth-bench: %.0f s: %" PRIu64 " ok (+%" PRIu64 "), %" PRIu64 " in flight\n",
                    (double)(now - b->t_start) / (double)NS_PER_SEC, b->c.ok, b->c.ok - last_ok,
                    b->inflight);
            last_ok = b->c.ok;
            next_progress += NS_PER_SEC;
        }
        int n = epoll_wait(b->epfd, events, 256, 20);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "hearth-bench: epoll_wait: %s\n", strerror(errno));
            return 2;
        }
        for (int i = 0; i < n; i++) {
            uint32_t index = (uint32_t)(events[i].data.u64 >> 32);
            uint32_t gen = (uint32_t)events[i].data.u64;
            struct conn *c = &b->conns[index];
            if (c->gen != gen || c->fd < 0)
                continue; /* stale: the fd it was for is gone */
            conn_event(b, c, events[i].events);
        }
    }
    b->t_end = lg_now_ns();
    if (!b->began)
        begin_window(b, b->t_end);

    double srv = -1;
    if (o->com.server_pid) {
        double s1 = lg_proc_cpu_seconds(o->com.server_pid);
        if (s1 >= 0 && b->srv_cpu0 >= 0)
            srv = s1 - b->srv_cpu0;
        else
            fprintf(stderr, "hearth-bench: cannot read /proc/%ld/stat (server gone?)\n",
                    o->com.server_pid);
    }
    print_report(b, srv, lg_self_cpu_seconds() - b->gen_cpu0);
    return b->c.ok > 0 ? 0 : 1;
}

/* ---- fsync baseline ----------------------------------------------------------------------- */

/*
 * The durable-commit ceiling of the disk under the data directory: overwrite 4 KiB blocks of a
 * preallocated 4 MiB file (as SQLite reuses its WAL after a checkpoint) and fdatasync each one.
 */
static int run_fsync(struct bench *b)
{
    const struct options *o = &b->opt;
    enum { BLOCK = 4096, FILE_BYTES = 4 << 20 };
    static char block[BLOCK];
    static uint64_t per_sec[4096];
    int fd = open(o->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 2;

    if (fd < 0) {
        fprintf(stderr, "hearth-bench: cannot open %s: %s\n", o->file, strerror(errno));
        return 2;
    }
    b->per_sec = per_sec;
    b->per_sec_len = sizeof(per_sec) / sizeof(per_sec[0]);
    memset(block, 'h', sizeof(block));
    for (off_t off = 0; off < FILE_BYTES; off += BLOCK) {
        if (pwrite(fd, block, BLOCK, off) != BLOCK) {
            fprintf(stderr, "hearth-bench: writing %s: %s\n", o->file, strerror(errno));
            goto out;
        }
    }
    if (fsync(fd) < 0) {
        fprintf(stderr, "hearth-bench: fsync %s: %s\n", o->file, strerror(errno));
        goto out;
    }

    begin_window(b, lg_now_ns());
    uint64_t dur_ns = (uint64_t)(o->duration * (double)NS_PER_SEC);
    uint64_t deadline = dur_ns ? b->t_begin + dur_ns : UINT64_MAX;
    off_t off = 0;
    while (!lg_interrupted && (!o->count || b->c.ok < o->count)) {
        uint64_t t0 = lg_now_ns();
        if (t0 >= deadline)
            break;
        block[0]++;
        if (pwrite(fd, block, BLOCK, off) != BLOCK || fdatasync(fd) < 0) {
            fprintf(stderr, "hearth-bench: %s: %s\n", o->file, strerror(errno));
            b->c.err[ERR_PROTOCOL]++;
            break;
        }
        uint64_t t1 = lg_now_ns();
        lg_hist_record(&b->lat, t1 - t0);
        b->c.ok++;
        size_t sec = (size_t)((t1 - b->t_begin) / NS_PER_SEC);
        if (sec < b->per_sec_len)
            b->per_sec[sec]++;
        off = (off + BLOCK) % FILE_BYTES;
    }
    b->t_end = lg_now_ns();
    print_report(b, -1, lg_self_cpu_seconds() - b->gen_cpu0);
    rc = b->c.ok > 0 ? 0 : 1;
out:
    close(fd);
    unlink(o->file);
    return rc;
}

int main(int argc, char **argv)
{
    static struct bench b; /* the histogram is ~100 KiB: keep it off the stack */

    lg_init("hearth-bench");
    if (parse_options(argc, argv, &b.opt) < 0)
        return 2;
    b.rng = b.opt.com.seed;
    if (b.opt.mode == MODE_FSYNC)
        return run_fsync(&b);
    return run_http(&b);
}
