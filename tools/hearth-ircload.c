/*
 * hearth-ircload: an IRC load generator, so that the gateway benchmark (bench/gateway.sh)
 * can measure an IRC server on the same workload in the same run and report Hearth's
 * figures as ratios against it. The baseline is InspIRCd, an IRC server from Debian
 * (bench/gateway-baseline.sh starts it); any RFC 1459 server that answers NICK/USER with 001
 * and a JOIN with NAMES ending in 366 will do.
 *
 * DESIGN. The same constraints as hearth-gwload: the generator shares two cores with the
 * server it measures, so it is one thread with one level-triggered epoll set, a small struct
 * per connection, and one shared read buffer; only the tail of a line that has not fully
 * arrived is copied to a per-connection heap buffer. Sockets are bound to source addresses
 * 127.X.Y.Z (--per-addr connections each, from a base drawn per run) as in hearth-gwload.
 *
 * Every connection registers (NICK r<i>, USER) and counts as registered at 001; at most
 * --inflight connections are between connect and 001. Keep that high: InspIRCd completes
 * registrations on a once-a-second timer, so each one takes up to a second whatever the
 * load, and --inflight K registers at most K clients per second. When it must join, a
 * registered client then waits for one of --join-inflight slots, sends JOIN, and is ready at
 * 366 (end of NAMES). That limit matters: IRC tells every member of a channel about every
 * JOIN and sends each joiner the whole member list, so N clients joining one channel cost
 * O(N^2) lines, and joins in parallel only pile up in the server's send queues. The
 * generator classifies each line by its command's first bytes and drops JOIN and NAMES
 * lines after counting them. PINGs are answered with PONG, so the server's own keepalive is
 * the only idle traffic.
 *
 * Modes:
 *   idle    connect and register every client (and JOIN --channel with --join), then hold
 *           them for --hold seconds. With --server-pid, the server's VmRSS is read before
 *           the first connection, 2 s after the last client is ready, and at the end of the
 *           hold: memory per idle client = (end of hold - before) / clients held.
 *   fanout  a sender connection registers and joins first; then --sessions receivers join
 *           the channel. Once they are all in and the server has been quiet for --settle
 *           seconds (the JOIN storm drained), the sender PRIVMSGs the channel --messages
 *           times at --rate per second. Each message carries the CLOCK_MONOTONIC time it
 *           was written (`lat:<ns>:<run nonce>:<index>:`), so every PRIVMSG arriving at a
 *           receiver is one delay sample: p50/p99/p99.9 over all (message, receiver)
 *           deliveries, and per message the delay until its last receiver had it. IRC does
 *           not echo a message to its sender, so each message is expected once per ready
 *           receiver. With --server-pid, the server's CPU time (/proc/PID/stat) over the
 *           sending window, divided by the deliveries, gives CPU per delivery.
 *
 * A benchmark, not a test: it reports figures. The last line of its output starts with
 * 'result:' and holds key=value pairs, named as hearth-gwload names them where they mean
 * the same. It exits 0 when at least one client became ready (and, in fanout mode, at least
 * one delivery was timed), 1 otherwise, 2 on a usage or setup error.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "loadgen.h"

#define NS_PER_SEC LG_NS_PER_SEC
#define NS_PER_MS LG_NS_PER_MS

#define SCRATCH_BYTES (256 * 1024) /* shared read buffer */
#define MAX_LINE 8192              /* a longer line from the server is a protocol error */
#define FD_RESERVE 32              /* descriptors kept for stdio, epoll, /proc reads */

/* ---- options ------------------------------------------------------------------------------ */

enum run_mode { MODE_IDLE, MODE_FANOUT };

struct options {
    struct lg_common_opts com; /* --host, --port, --server-pid, --seed, --verbose */
    struct lg_client_opts run; /* --sessions, --ramp, ... --per-addr */
    const char *channel;
    const char *nick_prefix;
    enum run_mode mode;
    bool join;         /* idle: JOIN the channel too (fanout always joins) */
    int join_inflight; /* clients at most between JOIN and 366 */
    double settle;     /* fanout: seconds of silence before sending (the JOIN storm) */
    double settle_max; /* fanout: send anyway after this many seconds of settling */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hearth-ircload [options]\n"
            "  --host H           server address (default 127.0.0.1)\n"
            "  --port P           server port (default 6667)\n"
            "  --mode idle|fanout (default idle)\n"
            "  --sessions N       clients to open (receivers in fanout mode; default 100)\n"
            "  --channel C        the channel (default #bench)\n"
            "  --join             idle: JOIN the channel too\n"
            "  --nick-prefix P    nicks are P<index> (default r; the sender is P-sender)\n"
            "  --ramp R           new connections per second (default 0: no limit but "
            "--inflight)\n"
            "  --inflight K       connections at most between connect and 001 (default 500)\n"
            "  --join-inflight K  clients at most between JOIN and 366 (default 20)\n"
            "  --hold S           seconds to hold the clients once all are ready (default 10)\n"
            "  --timeout S        seconds a connection may take to get ready (default 300)\n"
            "  --ramp-timeout S   open no new connection after S seconds (default 0: no limit)\n"
            "  --messages M       fanout: messages to send (default 200)\n"
            "  --rate R           fanout: messages per second (default 20)\n"
            "  --content-size B   fanout: message text length (default 64, at least 48)\n"
            "  --drain S          fanout: seconds to wait for deliveries after the last "
            "message (default 30)\n"
            "  --settle S         fanout: seconds without input before sending (default 1)\n"
            "  --settle-max S     fanout: send anyway after S seconds of settling (default "
            "300)\n" LG_USAGE_SRC LG_USAGE_TAIL);
}

/* A channel name or nick prefix that can go into a command line as it is. */
static bool irc_word(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (; *s; s++) {
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == ',' || *s == ':')
            return false;
    }
    return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_MODE = LG_OPT_TOOL,
        OPT_CHANNEL,
        OPT_JOIN,
        OPT_NICK_PREFIX,
        OPT_JOIN_INFLIGHT,
        OPT_SETTLE,
        OPT_SETTLE_MAX,
    };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, OPT_MODE},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"join", no_argument, NULL, OPT_JOIN},
        {"nick-prefix", required_argument, NULL, OPT_NICK_PREFIX},
        {"join-inflight", required_argument, NULL, OPT_JOIN_INFLIGHT},
        {"settle", required_argument, NULL, OPT_SETTLE},
        {"settle-max", required_argument, NULL, OPT_SETTLE_MAX},
        LG_COMMON_LONGOPTS,
        LG_CLIENT_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int opt;

    *o = (struct options){
        .channel = "#bench",
        .nick_prefix = "r",
        .mode = MODE_IDLE,
        .join_inflight = 20,
        .settle = 1,
        .settle_max = 300,
    };
    lg_client_defaults(&o->run, 500, 300);
    lg_common_defaults(&o->com, "6667");
    while ((opt = lg_next_option(argc, argv, longopts, &o->com, &o->run, 400, usage)) > 0) {
        switch (opt) {
        case OPT_MODE:
            if (strcmp(optarg, "idle") == 0)
                o->mode = MODE_IDLE;
            else if (strcmp(optarg, "fanout") == 0)
                o->mode = MODE_FANOUT;
            else
                goto bad;
            break;
        case OPT_CHANNEL:
            if (optarg[0] != '#' || !irc_word(optarg, 50))
                goto bad;
            o->channel = optarg;
            break;
        case OPT_JOIN:
            o->join = true;
            break;
        case OPT_NICK_PREFIX:
            if (!irc_word(optarg, 16) || optarg[0] == '#' || (optarg[0] >= '0' && optarg[0] <= '9'))
                goto bad;
            o->nick_prefix = optarg;
            break;
        case OPT_JOIN_INFLIGHT:
            if (lg_parse_int(optarg, 1, 100000, &o->join_inflight) < 0)
                goto bad;
            break;
        case OPT_SETTLE:
            if (lg_parse_double(optarg, &o->settle) < 0)
                goto bad;
            break;
        case OPT_SETTLE_MAX:
            if (lg_parse_double(optarg, &o->settle_max) < 0)
                goto bad;
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (opt < 0)
        return -1;
    if (o->mode == MODE_FANOUT)
        o->join = true;
    return 0;
bad:
    return lg_bad_value(optarg);
}

/* ---- state -------------------------------------------------------------------------------- */

enum irc_state {
    C_NEW,         /* not started yet */
    C_CONNECTING,  /* connect() in progress */
    C_REGISTERING, /* NICK and USER are out; waiting for 001 */
    C_JOIN_WAIT,   /* registered; waiting for a --join-inflight slot */
    C_JOINING,     /* JOIN is out; waiting for 366 */
    C_READY,       /* registered (and joined): idle */
    C_DONE,        /* closed (by either side, or after a failure); fd released */
};

/* One client connection. Kept small: an idle client holds nothing else. */
struct irc_conn {
    struct lg_conn io; /* the socket and the bytes not yet written */
    uint8_t state;
    uint16_t in_len; /* bytes of an incomplete line kept in `in` */
    char *in;
    uint64_t t_start; /* connect() was called, or JOIN was sent */
};

enum fail_kind {
    F_CONNECT,  /* socket, bind or connect failed */
    F_PROTOCOL, /* an over-long line */
    F_REFUSED,  /* an error numeric (4xx/5xx) before the client was ready */
    F_EOF,      /* the server closed the TCP connection */
    F_RESET,    /* read or write error */
    F_TIMEOUT,  /* not ready within --timeout */
    F_ERROR,    /* an ERROR line from the server (it is closing the link) */
    F_KINDS
};

static const char *const fail_names[] = {"connect", "protocol", "refused", "eof",
                                         "reset",   "timeout",  "error"};

struct load {
    struct options opt;
    struct sockaddr_in dst;
    int epfd;
    struct irc_conn *conns; /* --sessions clients, then the sender (fanout mode) */
    struct irc_conn *sender;
    char *scratch;
    uint64_t rng;
    uint32_t src_base;

    /* connection phase */
    struct lg_clients cl;
    int joining;     /* between JOIN and 366 */
    int *join_queue; /* indices of registered clients waiting to join, in order */
    int jq_head, jq_tail;
    uint64_t t_begin, t_all_ready, t_last_in;
    uint64_t fails[F_KINDS];
    char first_fail[240];

    /* counters */
    uint64_t lines_in, bytes_in, join_lines, names_lines, privmsgs, other_lines;
    uint64_t pings, error_numerics;
    struct lg_hist join_ready; /* JOIN to 366 */

    /* fan-out */
    int next_msg; /* next message to send */
    int sent;
    uint64_t t_send0, t_last_send;
    uint64_t send_lag_max;
    struct lg_fanout fan; /* the messages' deliveries (foreign: PRIVMSGs not from this run) */
};

/* ---- connections -------------------------------------------------------------------------- */

static uint32_t conn_index(const struct load *l, const struct irc_conn *c)
{
    return (uint32_t)(c - l->conns);
}

static bool is_sender(const struct load *l, const struct irc_conn *c)
{
    return c == l->sender;
}

/* Ends a connection: closes the fd, frees its buffers, updates the counts. */
static void conn_finish(struct load *l, struct irc_conn *c, enum fail_kind kind, const char *why)
{
    if (c->state == C_DONE)
        return;
    if (is_sender(l, c)) {
        if (!l->first_fail[0])
            snprintf(l->first_fail, sizeof(l->first_fail), "sender: %s (%s)", why,
                     fail_names[kind]);
    } else {
        if (c->state == C_READY) {
            l->cl.ready--;
            l->cl.lost_after_ready++;
        } else if (c->state == C_CONNECTING || c->state == C_REGISTERING) {
            l->cl.inflight--;
        } else if (c->state == C_JOINING) {
            l->joining--;
        }
        l->fails[kind]++;
        l->cl.done++;
        if (!l->first_fail[0])
            snprintf(l->first_fail, sizeof(l->first_fail), "%s (client %td, %s)", why, c - l->conns,
                     fail_names[kind]);
    }
    lg_conn_close(&c->io);
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    c->state = C_DONE;
}

/* Sends bytes, or queues them behind what is already waiting. */
static void conn_write(struct load *l, struct irc_conn *c, const char *data, size_t len)
{
    if (c->state == C_DONE || c->state == C_CONNECTING)
        return;
    if (lg_conn_write(&c->io, l->epfd, conn_index(l, c), data, len) < 0)
        conn_finish(l, c, F_RESET, strerror(errno));
}

static void conn_register(struct load *l, struct irc_conn *c)
{
    char buf[256], nick[40];
    int n;

    if (is_sender(l, c))
        snprintf(nick, sizeof(nick), "%s-sender", l->opt.nick_prefix);
    else
        snprintf(nick, sizeof(nick), "%s%td", l->opt.nick_prefix, c - l->conns);
    n = snprintf(buf, sizeof(buf), "NICK %s\r\nUSER %s 0 * :hearth-ircload\r\n", nick, nick);
    c->state = C_REGISTERING;
    conn_write(l, c, buf, (size_t)n);
}

static void conn_start(struct load *l, struct irc_conn *c, uint64_t now)
{
    uint32_t index = conn_index(l, c);
    int rc;

    c->t_start = now;
    c->state = C_CONNECTING;
    if (!is_sender(l, c)) {
        l->cl.started++;
        l->cl.inflight++;
    }
    /* The sender takes the address after the last client's. */
    rc = lg_conn_open(&c->io, l->epfd, index,
                      lg_src_addr(l->src_base, l->opt.run.per_addr, (int)index), &l->dst);
    if (rc < 0)
        conn_finish(l, c, F_CONNECT, strerror(errno));
    else if (rc > 0)
        conn_register(l, c);
}

static void conn_join(struct load *l, struct irc_conn *c, uint64_t now)
{
    char buf[80];
    int n = snprintf(buf, sizeof(buf), "JOIN %s\r\n", l->opt.channel);

    c->state = C_JOINING;
    c->t_start = now;
    if (!is_sender(l, c))
        l->joining++;
    conn_write(l, c, buf, (size_t)n);
}

/* JOINs for the registered clients waiting, as slots free up. */
static void join_pump(struct load *l, uint64_t now)
{
    while (l->joining < l->opt.join_inflight && l->jq_head < l->jq_tail) {
        struct irc_conn *c = &l->conns[l->join_queue[l->jq_head++]];
        if (c->state == C_JOIN_WAIT)
            conn_join(l, c, now);
    }
}

static void conn_ready(struct load *l, struct irc_conn *c, uint64_t now)
{
    if (c->state == C_JOINING && !is_sender(l, c)) {
        l->joining--;
        lg_hist_record(&l->join_ready, now - c->t_start);
    }
    c->state = C_READY;
    if (is_sender(l, c))
        return;
    l->cl.ready++;
    l->cl.ever_ready++;
}

/* 001: registered. */
static void conn_registered(struct load *l, struct irc_conn *c, uint64_t now)
{
    if (!is_sender(l, c)) {
        l->cl.inflight--;
        lg_hist_record(&l->cl.connect_ready, now - c->t_start);
    }
    if (!l->opt.join) {
        conn_ready(l, c, now);
    } else if (is_sender(l, c)) {
        conn_join(l, c, now);
    } else {
        c->state = C_JOIN_WAIT;
        l->join_queue[l->jq_tail++] = (int)(c - l->conns);
    }
}

/* ---- lines from the server ---------------------------------------------------------------- */

/* Reads "lat:<ns>:<nonce>:<index>:" out of a PRIVMSG's text, and records the delay. */
static void note_privmsg(struct load *l, const char *text, const char *end, uint64_t now)
{
    l->privmsgs++;
    if (end - text < 4 || memcmp(text, "lat:", 4) != 0)
        l->fan.foreign++;
    else
        lg_fanout_arrival(&l->fan, text + 4, end, now);
}

static bool word_is(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 && (p + n == end || p[n] == ' ');
}

/*
 * One line, without its CR LF. `[:prefix] COMMAND params`: the cheap cases first, since a
 * JOIN storm brings millions of JOIN and NAMES lines.
 */
static void handle_line(struct load *l, struct irc_conn *c, const char *p, const char *end,
                        uint64_t now)
{
    l->lines_in++;
    if (*p == ':') {
        p = memchr(p, ' ', (size_t)(end - p));
        if (!p)
            return;
        while (p < end && *p == ' ')
            p++;
    }
    if (p >= end)
        return;
    if (p[0] >= '0' && p[0] <= '9') {
        if (end - p < 3)
            return;
        int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        if (code == 353) {
            l->names_lines++;
        } else if (code == 1 && c->state == C_REGISTERING) {
            conn_registered(l, c, now);
        } else if (code == 366 && c->state == C_JOINING) {
            conn_ready(l, c, now);
        } else if (code >= 400 && code < 600) {
            /* 422 (no MOTD) is harmless; any other error before the client is ready means
             * it will not get there (nick refused, channel full, banned...). */
            l->error_numerics++;
            if (code != 422 && (c->state == C_REGISTERING || c->state == C_JOINING)) {
                char why[160];
                snprintf(why, sizeof(why), "%.*s", (int)(end - p < 120 ? end - p : 120), p);
                conn_finish(l, c, F_REFUSED, why);
            }
        } else {
            l->other_lines++;
        }
        return;
    }
    if (word_is(p, end, "JOIN")) {
        l->join_lines++;
    } else if (word_is(p, end, "PRIVMSG")) {
        /* PRIVMSG <target> :<text> */
        const char *t = memmem(p, (size_t)(end - p), " :", 2);
        if (t && c->state == C_READY)
            note_privmsg(l, t + 2, end, now);
        else
            l->other_lines++;
    } else if (word_is(p, end, "PING")) {
        char buf[600];
        size_t arg = (size_t)(end - p) - 4;
        if (arg > 512)
            arg = 512;
        l->pings++;
        memcpy(buf, "PONG", 4);
        memcpy(buf + 4, p + 4, arg);
        memcpy(buf + 4 + arg, "\r\n", 2);
        conn_write(l, c, buf, 4 + arg + 2);
    } else if (word_is(p, end, "ERROR")) {
        char why[160];
        snprintf(why, sizeof(why), "%.*s", (int)(end - p < 120 ? end - p : 120), p);
        conn_finish(l, c, F_ERROR, why);
    } else {
        l->other_lines++;
    }
}

/* Handles the complete lines in buf; returns the bytes used (the rest is an incomplete line). */
static size_t conn_consume(struct load *l, struct irc_conn *c, const char *buf, size_t len,
                           uint64_t now)
{
    size_t off = 0;

    while (off < len && c->state != C_DONE) {
        const char *nl = memchr(buf + off, '\n', len - off);
        if (!nl)
            break;
        const char *end = nl;
        if (end > buf + off && end[-1] == '\r')
            end--;
        if (end > buf + off)
            handle_line(l, c, buf + off, end, now);
        off = (size_t)(nl + 1 - buf);
    }
    return off;
}

static void conn_readable(struct load *l, struct irc_conn *c)
{
    size_t have = c->in_len;
    ssize_t n;

    /* Read behind the kept tail of an incomplete line, in the shared buffer. */
    if (have)
        memcpy(l->scratch, c->in, have);
    n = read(c->io.fd, l->scratch + have, SCRATCH_BYTES - have);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        conn_finish(l, c, F_RESET, strerror(errno));
        return;
    }
    if (n == 0) {
        conn_finish(l, c, F_EOF, "the server closed the connection");
        return;
    }
    uint64_t now = lg_now_ns();
    l->t_last_in = now;
    l->bytes_in += (uint64_t)n;
    size_t total = have + (size_t)n;
    size_t used = conn_consume(l, c, l->scratch, total, now);
    if (c->state == C_DONE)
        return;
    size_t rest = total - used;
    if (rest > MAX_LINE) {
        conn_finish(l, c, F_PROTOCOL, "a line longer than 8 KiB");
        return;
    }
    if (rest == 0) {
        free(c->in);
        c->in = NULL;
    } else {
        if (rest != have)
            c->in = lg_xrealloc(c->in, rest);
        memcpy(c->in, l->scratch + used, rest);
    }
    c->in_len = (uint16_t)rest;
}

static void conn_event(struct load *l, struct irc_conn *c, uint32_t events)
{
    if (c->state == C_CONNECTING) {
        int rc = lg_conn_established(&c->io, l->epfd, conn_index(l, c), events);
        if (rc < 0)
            conn_finish(l, c, F_CONNECT, strerror(errno));
        else if (rc > 0)
            conn_register(l, c);
        return;
    }
    if ((events & EPOLLOUT) && c->io.out_len &&
        lg_conn_flush(&c->io, l->epfd, conn_index(l, c)) < 0)
        conn_finish(l, c, F_RESET, strerror(errno));
    if (c->state != C_DONE && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_readable(l, c);
}

/* Connections that took too long to get ready. */
static void conn_timers(struct load *l, uint64_t now)
{
    uint64_t limit = (uint64_t)(l->opt.run.timeout * (double)NS_PER_SEC);
    int n = l->opt.run.sessions + (l->sender ? 1 : 0);

    for (int i = 0; i < n; i++) {
        struct irc_conn *c = &l->conns[i];
        if (c->state != C_NEW && c->state != C_READY && c->state != C_DONE &&
            c->state != C_JOIN_WAIT && now - c->t_start > limit)
            conn_finish(l, c, F_TIMEOUT, "not ready in time");
    }
}

/* ---- the sender --------------------------------------------------------------------------- */

static void sender_send(struct load *l, int idx, uint64_t now)
{
    char buf[600];
    int n = snprintf(buf, sizeof(buf), "PRIVMSG %s :", l->opt.channel);
    int text = n;

    n += lg_fanout_stamp(&l->fan, buf + n, sizeof(buf) - (size_t)n, now, idx);
    while (n - text < l->opt.run.content_size)
        buf[n++] = 'x';
    buf[n++] = '\r';
    buf[n++] = '\n';
    if (!l->fan.t_first_send)
        l->fan.t_first_send = now;
    l->t_last_send = now;
    l->sent++;
    conn_write(l, l->sender, buf, (size_t)n);
}

/* Sends the messages that are due. */
static void sender_tick(struct load *l, uint64_t now)
{
    double gap = (double)NS_PER_SEC / l->opt.run.rate;

    while (l->next_msg < l->opt.run.messages && l->sender->state == C_READY) {
        uint64_t due = l->t_send0 + (uint64_t)(gap * l->next_msg);
        if (now < due)
            break;
        if (now - due > l->send_lag_max)
            l->send_lag_max = now - due;
        sender_send(l, l->next_msg++, now);
        now = lg_now_ns();
    }
}

/* ---- run ---------------------------------------------------------------------------------- */

static void print_progress(struct load *l, uint64_t now, const char *phase)
{
    long rss = -1, hwm = -1;

    if (l->opt.com.server_pid)
        lg_proc_memory_kib(l->opt.com.server_pid, &rss, &hwm);
    fprintf(stderr,
            "hearth-ircload: %6.1f s %-8s started %d, registering %d, waiting to join %d, "
            "joining %d, ready %d, failed %d, join lines %" PRIu64 ", deliveries %" PRIu64
            ", server rss %ld KiB\n",
            (double)(now - l->t_begin) / (double)NS_PER_SEC, phase, l->cl.started, l->cl.inflight,
            l->jq_tail - l->jq_head, l->joining, l->cl.ready, l->cl.done, l->join_lines,
            l->fan.deliveries, rss);
}

static int setup(struct load *l)
{
    const struct options *o = &l->opt;
    int total = o->run.sessions + (o->mode == MODE_FANOUT ? 1 : 0);

    if (lg_clients_setup(o->com.host, o->com.port, total, FD_RESERVE, "connections",
                         o->run.src_base, o->run.per_addr, &l->dst, &l->src_base) < 0)
        return -1;
    lg_fanout_init(&l->fan, o->mode == MODE_FANOUT ? o->run.messages : 0, &l->rng);

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        lg_fail("epoll_create1");
    l->conns = calloc((size_t)total, sizeof(*l->conns));
    l->join_queue = calloc((size_t)total, sizeof(*l->join_queue));
    l->scratch = malloc(SCRATCH_BYTES);
    if (!l->conns || !l->join_queue || !l->scratch)
        lg_fail("allocating the connections");
    for (int i = 0; i < total; i++)
        l->conns[i].io.fd = -1;
    if (o->mode == MODE_FANOUT)
        l->sender = &l->conns[o->run.sessions];
    return 0;
}

static void dispatch_events(struct load *l, struct epoll_event *evs, int n)
{
    int total = l->opt.run.sessions + (l->sender ? 1 : 0);

    for (int i = 0; i < n; i++) {
        uint32_t index = (uint32_t)(evs[i].data.u64 >> 32);
        uint32_t gen = (uint32_t)evs[i].data.u64;
        if (index < (uint32_t)total) {
            struct irc_conn *c = &l->conns[index];
            if (c->io.gen == gen && c->io.fd >= 0)
                conn_event(l, c, evs[i].events);
        }
    }
}

static void report(struct load *l, const struct lg_marks *m)
{
    const struct options *o = &l->opt;
    const struct lg_fanout *f = &l->fan;
    char src[INET_ADDRSTRLEN];
    struct in_addr a = {.s_addr = htonl(l->src_base)};
    uint64_t fails = 0;

    inet_ntop(AF_INET, &a, src, sizeof(src));
    for (int k = 0; k < F_KINDS; k++)
        fails += l->fails[k];
    bool fanout = o->mode == MODE_FANOUT;
    uint64_t expected = (uint64_t)l->sent * (uint64_t)f->expected_per_msg;

    printf("mode %s: %d clients to %s:%s from %s (%d per address)%s\n", fanout ? "fanout" : "idle",
           o->run.sessions, o->com.host, o->com.port, src, o->run.per_addr,
           o->join ? ", joining one channel" : "");
    lg_clients_print(&l->cl, o->run.sessions, "client", "ready");
    printf("  ends: connect %" PRIu64 ", protocol %" PRIu64 ", refused %" PRIu64 ", eof %" PRIu64
           ", reset %" PRIu64 ", timeout %" PRIu64 ", error %" PRIu64 "\n",
           l->fails[F_CONNECT], l->fails[F_PROTOCOL], l->fails[F_REFUSED], l->fails[F_EOF],
           l->fails[F_RESET], l->fails[F_TIMEOUT], l->fails[F_ERROR]);
    if (l->first_fail[0])
        printf("  first end: %s\n", l->first_fail);
    lg_clients_print_ramp(&l->cl, m->ramp_secs, "client", "001");
    if (o->join)
        printf("  JOIN->366 ms p50 %.2f p99 %.2f max %.2f\n", lg_hist_ms(&l->join_ready, 0.5),
               lg_hist_ms(&l->join_ready, 0.99), lg_hist_max_ms(&l->join_ready));
    printf("  lines in %" PRIu64 " (%" PRIu64 " bytes): JOIN %" PRIu64 ", NAMES %" PRIu64
           ", PRIVMSG %" PRIu64 " (%" PRIu64 " not this run's), PING %" PRIu64
           ", error numerics %" PRIu64 ", other %" PRIu64 "\n",
           l->lines_in, l->bytes_in, l->join_lines, l->names_lines, l->privmsgs, f->foreign,
           l->pings, l->error_numerics, l->other_lines);
    lg_marks_print(m, o->com.server_pid, l->cl.ready, l->cl.ever_ready, "client");
    if (fanout) {
        printf("  settled %.2f s after the hold; sent %d at %.1f/s; late start max %.2f ms\n",
               m->settle_secs, l->sent, o->run.rate, (double)l->send_lag_max / (double)NS_PER_MS);
        lg_fanout_print(f, l->sent, "receiver", "PRIVMSG sent -> received",
                        "PRIVMSG sent -> last receiver");
        lg_send_cpu_print(m, l->sent, f->deliveries);
    }
    lg_self_print();

    printf("result: mode=%s sessions=%d joined=%d", fanout ? "fanout" : "idle", o->run.sessions,
           o->join ? 1 : 0);
    lg_clients_result(&l->cl, fails, l->src_base, m->ramp_secs);
    printf(" join_p50_ms=%.3f join_p99_ms=%.3f join_lines=%" PRIu64 " names_lines=%" PRIu64
           " pings=%" PRIu64 " error_numerics=%" PRIu64,
           lg_hist_ms(&l->join_ready, 0.5), lg_hist_ms(&l->join_ready, 0.99), l->join_lines,
           l->names_lines, l->pings, l->error_numerics);
    lg_marks_result(m, o->com.server_pid, l->cl.ready, l->cl.ever_ready);
    if (fanout) {
        printf(" messages=%d rate=%.2f sent=%d deliveries=%" PRIu64 " expected=%" PRIu64
               " complete_msgs=%d settle_s=%.3f send_s=%.3f",
               o->run.messages, o->run.rate, l->sent, f->deliveries, expected,
               lg_fanout_complete(f), m->settle_secs, m->send_secs);
        lg_fanout_result(f);
        lg_send_cpu_result(m, l->sent, f->deliveries);
    }
    lg_self_result();
}

static int run(struct load *l)
{
    const struct options *o = &l->opt;
    struct epoll_event evs[1024];
    struct lg_marks m;
    enum { P_SENDER, P_RAMP, P_HOLD, P_SETTLE, P_SEND, P_DONE } phase;
    static const char *const names[] = {"sender", "ramp", "hold", "settle", "send", "done"};
    uint64_t hold_ns = (uint64_t)(o->run.hold * (double)NS_PER_SEC);
    uint64_t drain_ns = (uint64_t)(o->run.drain * (double)NS_PER_SEC);
    uint64_t settle_ns = (uint64_t)(o->settle * (double)NS_PER_SEC);
    uint64_t settle_max_ns = (uint64_t)(o->settle_max * (double)NS_PER_SEC);
    uint64_t t_phase = 0, t_ramp0 = 0, next_timers, next_progress;
    int next_conn = 0, ramp_cut = 0;

    lg_marks_init(&m);
    m.hwm_end = -1; /* hearth-ircload has always reported hwm_kib=-1 without --server-pid */
    if (lg_marks_start(&m, o->com.server_pid) < 0) {
        fprintf(stderr, "hearth-ircload: cannot read /proc/%ld/status\n", o->com.server_pid);
        return 2;
    }
    l->t_begin = lg_now_ns();
    next_timers = l->t_begin;
    next_progress = l->t_begin + NS_PER_SEC;
    /* The sender joins first, so that it is not one more NAMES list of N at the end. */
    phase = l->sender ? P_SENDER : P_RAMP;
    if (l->sender)
        conn_start(l, l->sender, l->t_begin);
    t_ramp0 = l->t_begin;

    while (phase != P_DONE) {
        uint64_t now = lg_now_ns();
        if (lg_interrupted) {
            fprintf(stderr, "hearth-ircload: interrupted\n");
            break;
        }
        if (phase == P_SENDER) {
            if (l->sender->state == C_DONE) {
                fprintf(stderr, "hearth-ircload: the sender failed: %s\n", l->first_fail);
                break;
            }
            if (l->sender->state == C_READY) {
                phase = P_RAMP;
                t_ramp0 = now;
            }
        }
        /* Open more connections, within --ramp and --inflight. */
        if (phase == P_RAMP) {
            int allowed =
                lg_ramp_allowed(&o->run, t_ramp0, now, &next_conn, &ramp_cut, l->cl.inflight);
            while (next_conn < o->run.sessions && next_conn < allowed &&
                   l->cl.inflight < o->run.inflight)
                conn_start(l, &l->conns[next_conn++], now);
            join_pump(l, now);
            if (next_conn == o->run.sessions && l->cl.inflight == 0 && l->joining == 0 &&
                l->jq_head == l->jq_tail) {
                l->t_all_ready = now;
                m.ramp_secs = (double)(now - t_ramp0) / (double)NS_PER_SEC;
                fprintf(stderr, "hearth-ircload: %d of %d clients ready after %.2f s\n",
                        l->cl.ready, o->run.sessions, m.ramp_secs);
                /* Let the server finish what the last registrations started before measuring. */
                t_phase = now;
                phase = P_HOLD;
            }
        }
        if (phase == P_HOLD && lg_marks_hold_step(&m, o->com.server_pid, now, &t_phase, hold_ns)) {
            t_phase = now;
            phase = l->sender && o->run.messages > 0 && l->cl.ready > 0 ? P_SETTLE : P_DONE;
        }
        /* The JOIN storm may still be in the server's send queues: wait for silence, so
         * that the CPU read over the sending window is the messages' alone. */
        if (phase == P_SETTLE &&
            (now - l->t_last_in >= settle_ns || now - t_phase >= settle_max_ns)) {
            if (l->sender->state != C_READY) {
                fprintf(stderr, "hearth-ircload: the sender is gone: %s\n", l->first_fail);
                break;
            }
            m.settle_secs = (double)(now - t_phase) / (double)NS_PER_SEC;
            phase = P_SEND;
            l->fan.expected_per_msg = l->cl.ready;
            l->t_send0 = now;
            lg_marks_send_start(&m, o->com.server_pid);
            fprintf(stderr, "hearth-ircload: sending %d messages at %.1f/s to %d receivers\n",
                    o->run.messages, o->run.rate, l->cl.ready);
        }
        if (phase == P_SEND) {
            sender_tick(l, now);
            bool all_sent = l->next_msg == o->run.messages || l->sender->state == C_DONE;
            bool all_in =
                all_sent && l->fan.deliveries >= (uint64_t)l->sent * l->fan.expected_per_msg;
            bool drained = all_sent && now > l->t_last_send + drain_ns;
            if (all_in || drained) {
                lg_marks_send_done(&m, o->com.server_pid, now, l->t_send0, all_in, o->run.drain,
                                   "message");
                phase = P_DONE;
                break;
            }
        }
        if (now >= next_timers) {
            conn_timers(l, now);
            next_timers = now + 50 * NS_PER_MS;
        }
        if (o->com.verbose && now >= next_progress) {
            print_progress(l, now, names[phase]);
            next_progress += NS_PER_SEC;
        }
        int timeout = phase == P_SEND ? 1 : 10;
        dispatch_events(l, evs,
                        lg_epoll_wait(l->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout));
    }
    if (phase != P_DONE) {
        /* Interrupted, or the sender failed: report what there is. */
        lg_marks_cut_short(&m, o->com.server_pid, t_ramp0, phase == P_SEND);
    }
    l->cl.not_opened = ramp_cut;
    report(l, &m);
    if (l->cl.ever_ready == 0)
        return 1;
    if (o->mode == MODE_FANOUT && o->run.messages > 0 && l->fan.deliveries == 0)
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static struct load l; /* the histograms are ~50 KiB each: keep them off the stack */

    lg_init("hearth-ircload");
    if (parse_options(argc, argv, &l.opt) < 0)
        return 2;
    l.rng = l.opt.com.seed;
    if (setup(&l) < 0)
        return 2;
    return run(&l);
}
