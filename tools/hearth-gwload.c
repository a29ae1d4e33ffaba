/*
 * hearth-gwload: a gateway load generator for Hearth (spec/client-api.md §6).
 *
 * DESIGN. The generator shares a 2-core box with the server it measures, so it must cost far
 * less per session and per delivery than the server: one thread, one level-triggered epoll
 * set, no WebSocket or HTTP library. It opens --sessions WebSocket connections to
 * /gateway?v=10&encoding=json, does the RFC 6455 upgrade itself (random 16-byte key, checks
 * the 101 and Sec-WebSocket-Accept), answers HELLO with IDENTIFY and then heartbeats on the
 * server's interval (op 1 carrying the last sequence number seen; the first beat is jittered
 * over one interval, as Discord clients do, so 19k sessions do not beat in step).
 *
 * Memory per connection is a ~100-byte struct. Reads go into one shared scratch buffer;
 * only the tail of a frame that has not fully arrived is copied to a per-connection heap
 * buffer, freed as soon as the frame completes, so an idle session holds no buffer at all.
 *
 * This machine allows 20,000 open files per process and 28k ephemeral ports per (source,
 * destination) pair, and earlier runs leave sockets in TIME_WAIT (shared/reference/
 * perf-notes.md §0, §4). So each socket is bound, with IP_BIND_ADDRESS_NO_PORT, to a source
 * address 127.X.Y.Z: --per-addr connections per address, starting at --src-base, whose
 * default is derived from the time and pid so that every run uses fresh addresses.
 *
 * Modes:
 *   idle     connect and identify every session (at most --ramp new connections per second
 *            and --inflight handshakes in progress), then hold them for --hold seconds.
 *            With --server-pid, the server's VmRSS is read before the first connection,
 *            after every session is ready, and at the end of the hold.
 *   latency  the same, then POST --messages messages at --rate per second over plain
 *            HTTP/1.1 keep-alive connections (--senders of them, one request in flight
 *            each) with `Authorization: TOKEN`. Each message's content carries the moment
 *            its request was written (`lat:<CLOCK_MONOTONIC ns>:<run nonce>:<index>`), so
 *            every MESSAGE_CREATE arriving at any session gives one delay sample: p50, p99
 *            and p99.9 over all (message, session) deliveries, and, per message, the delay
 *            until its last session had it (the fan-out's completion time).
 *
 * Every session's dispatch sequence is checked (s counts up by one). Frames from the server
 * must be unmasked; text frames hold JSON whose top-level op, s, t and d are found with a
 * small scanner (no full parse). compress=zlib-stream is not supported: the tool links libc
 * and libm only.
 *
 * A benchmark, not a test: it reports figures. The last line of its output starts with
 * 'result:' and holds key=value pairs. It exits 0 when at least one session became ready
 * (and, in latency mode, at least one delivery was timed), 1 otherwise, 2 on a usage error.
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
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
#define NS_PER_MS LG_NS_PER_MS

#define SCRATCH_BYTES (256 * 1024)     /* shared read buffer */
#define MAX_FRAME_BYTES (16u << 20)    /* a server frame larger than this is a protocol error */
#define MAX_HANDSHAKE_BYTES (8 * 1024) /* a 101 response head larger than this is malformed */
#define MAX_HTTP_RESPONSE (1u << 20)   /* a POST response larger than this is malformed */
#define MAX_SENDERS 64
#define FD_RESERVE 32    /* descriptors kept for stdio, epoll, senders, /proc reads */
#define CLOSE_CODES 5000 /* close codes 0..4999 are counted one by one */

/* ---- SHA-1 and base64, for Sec-WebSocket-Accept (RFC 6455 §4.2.2) ------------------------- */

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
    uint32_t w[80];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* SHA-1 of a short message (at most 119 bytes: two blocks). */
static void sha1_short(const char *msg, size_t len, unsigned char out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    unsigned char buf[128] = {0};
    size_t blocks = len + 9 <= 64 ? 1 : 2;
    uint64_t bits = (uint64_t)len * 8;

    memcpy(buf, msg, len);
    buf[len] = 0x80;
    for (int i = 0; i < 8; i++)
        buf[blocks * 64 - 1 - (size_t)i] = (unsigned char)(bits >> (8 * i));
    for (size_t b = 0; b < blocks; b++)
        sha1_block(h, buf + 64 * b);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

/* Standard base64 with padding; out holds 4 * ceil(len / 3) + 1 bytes. */
static void base64_encode(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* ---- options ------------------------------------------------------------------------------ */

enum run_mode { MODE_IDLE, MODE_LATENCY };

struct options {
    struct lg_common_opts com; /* --host, --port, --server-pid, --seed, --verbose */
    struct lg_client_opts run; /* --sessions, --ramp, ... --per-addr */
    const char *token;
    const char *channel;
    const char *path;
    enum run_mode mode;
    int senders; /* latency: HTTP connections posting */
    long intents;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hearth-gwload --token T [options]\n"
            "  --host H           server address (default 127.0.0.1)\n"
            "  --port P           server port (default 8080)\n"
            "  --token T          user token, or 'Bot <token>' (IDENTIFY and the POSTs)\n"
            "  --channel ID       latency: the channel to post to\n"
            "  --sessions N       gateway sessions to open (default 100)\n"
            "  --ramp R           new connections per second (default 0: no limit but "
            "--inflight)\n"
            "  --inflight K       connections at most between connect and READY (default 200)\n"
            "  --hold S           seconds to hold the sessions once all are ready (default 10)\n"
            "  --timeout S        seconds a connection may take to get READY (default 120)\n"
            "  --ramp-timeout S   open no new connection after S seconds (default 0: no limit)\n"
            "  --mode idle|latency\n"
            "  --messages M       latency: messages to post (default 200)\n"
            "  --rate R           latency: messages per second (default 20)\n"
            "  --senders K        latency: HTTP keep-alive connections posting (default 4)\n"
            "  --content-size B   latency: message content length (default 64, at least 48)\n"
            "  --drain S          latency: seconds to wait for deliveries after the last POST "
            "(default 30)\n" LG_USAGE_SRC
            "  --intents N        IDENTIFY intents (default 33281: GUILDS, GUILD_MESSAGES,\n"
            "                     MESSAGE_CONTENT; user sessions ignore them)\n"
            "  --path P           WebSocket path and query (default "
            "/gateway?v=10&encoding=json)\n" LG_USAGE_TAIL);
}

/* A string that can be put between JSON quotes and into an HTTP header as it is. */
static bool plain_token(const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    }
    return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_TOKEN = LG_OPT_TOOL,
        OPT_CHANNEL,
        OPT_MODE,
        OPT_SENDERS,
        OPT_INTENTS,
        OPT_PATH,
    };
    static const struct option longopts[] = {
        {"token", required_argument, NULL, OPT_TOKEN},
        {"channel", required_argument, NULL, OPT_CHANNEL},
        {"mode", required_argument, NULL, OPT_MODE},
        {"senders", required_argument, NULL, OPT_SENDERS},
        {"intents", required_argument, NULL, OPT_INTENTS},
        {"path", required_argument, NULL, OPT_PATH},
        LG_COMMON_LONGOPTS,
        LG_CLIENT_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    uint64_t u;
    int opt;

    *o = (struct options){
        .path = "/gateway?v=10&encoding=json",
        .mode = MODE_IDLE,
        .senders = 4,
        .intents = 33281,
    };
    lg_client_defaults(&o->run, 200, 120);
    lg_common_defaults(&o->com, "8080");
    while ((opt = lg_next_option(argc, argv, longopts, &o->com, &o->run, 2000, usage)) > 0) {
        switch (opt) {
        case OPT_TOKEN:
            o->token = optarg;
            break;
        case OPT_CHANNEL:
            if (lg_parse_u64(optarg, &u) < 0)
                goto bad;
            o->channel = optarg;
            break;
        case OPT_MODE:
            if (strcmp(optarg, "idle") == 0)
                o->mode = MODE_IDLE;
            else if (strcmp(optarg, "latency") == 0)
                o->mode = MODE_LATENCY;
            else
                goto bad;
            break;
        case OPT_SENDERS:
            if (lg_parse_int(optarg, 1, MAX_SENDERS, &o->senders) < 0)
                goto bad;
            break;
        case OPT_INTENTS:
            if (lg_parse_u64(optarg, &u) < 0 || u > INT32_MAX)
                goto bad;
            o->intents = (long)u;
            break;
        case OPT_PATH:
            if (optarg[0] != '/' || strpbrk(optarg, " \r\n"))
                goto bad;
            o->path = optarg;
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (opt < 0)
        return -1;
    if (!o->token || !plain_token(o->token)) {
        fprintf(stderr, "hearth-gwload: --token is required (printable ASCII, no quotes)\n");
        return -1;
    }
    if (o->mode == MODE_LATENCY && o->run.messages > 0 && !o->channel) {
        fprintf(stderr, "hearth-gwload: --mode latency needs --channel\n");
        return -1;
    }
    return 0;
bad:
    return lg_bad_value(optarg);
}

/* ---- a tiny JSON scanner ------------------------------------------------------------------ */

static const char *json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p points at '"': returns the byte after the closing quote, or NULL when it is cut off. */
static const char *json_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Returns the byte after the value starting at p, or NULL when it is malformed or cut off. */
static const char *json_skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return json_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = json_skip_string(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
        p++;
    return p;
}

/* The top-level fields of a gateway payload {op, d, s, t}. */
struct gw_payload {
    long op;       /* -1 when absent */
    uint64_t s;    /* 0 when absent or null */
    const char *t; /* the event name, not NUL-terminated; NULL when absent or null */
    size_t t_len;
    const char *d; /* the d value; NULL when absent */
    size_t d_len;
};

static bool span_eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/*
 * Scans a JSON object's top-level keys. Returns 0 when the whole object was read, -1 when
 * it is malformed or cut off (the fields found before that point are still filled in: the
 * first fragment of a fragmented message can still be classified).
 */
static int gw_scan(const char *buf, size_t len, struct gw_payload *pl)
{
    const char *p = buf, *end = buf + len;

    *pl = (struct gw_payload){.op = -1};
    p = json_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p++;
    for (;;) {
        p = json_ws(p, end);
        if (p < end && *p == '}')
            return 0;
        if (p >= end || *p != '"')
            return -1;
        const char *k = p + 1;
        p = json_skip_string(p, end);
        if (!p)
            return -1;
        size_t klen = (size_t)(p - 1 - k);
        p = json_ws(p, end);
        if (p >= end || *p != ':')
            return -1;
        p = json_ws(p + 1, end);
        const char *v = p;
        p = json_skip_value(p, end);
        if (!p)
            p = end; /* cut off: take what is there, then stop */
        size_t vlen = (size_t)(p - v);
        if (span_eq(k, klen, "op")) {
            pl->op = strtol(v, NULL, 10);
        } else if (span_eq(k, klen, "s")) {
            pl->s = *v >= '0' && *v <= '9' ? strtoull(v, NULL, 10) : 0;
        } else if (span_eq(k, klen, "t")) {
            if (*v == '"' && vlen >= 2) {
                pl->t = v + 1;
                pl->t_len = vlen - 2;
            }
        } else if (span_eq(k, klen, "d")) {
            pl->d = v;
            pl->d_len = vlen;
        }
        if (p == end)
            return -1;
        p = json_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}')
            return 0;
        return -1;
    }
}

/* ---- state -------------------------------------------------------------------------------- */

enum gw_state {
    GW_NEW,         /* not started yet */
    GW_CONNECTING,  /* connect() in progress */
    GW_UPGRADING,   /* the upgrade request is out; waiting for 101 */
    GW_HELLO,       /* waiting for HELLO */
    GW_IDENTIFYING, /* IDENTIFY is out; waiting for READY */
    GW_READY,       /* identified: heartbeating */
    GW_DONE,        /* closed (by either side, or after a failure); fd released */
};

/* One gateway connection. Kept small: an idle session holds nothing else. */
struct gw_conn {
    struct lg_conn io; /* the socket and the bytes not yet written */
    uint8_t state;
    uint8_t in_frag;  /* inside a fragmented message */
    uint8_t beat_due; /* a heartbeat is waiting for the output to drain */
    uint32_t in_len;  /* bytes of an incomplete frame (or response head) kept in `in` */
    uint32_t in_cap;
    char *in;
    uint64_t seq;       /* last dispatch sequence number seen */
    uint64_t t_start;   /* connect() was called */
    uint64_t next_beat; /* when the next heartbeat is due; 0 before HELLO */
    uint64_t beat_sent; /* when the unacknowledged heartbeat left; 0 when acked */
    char key[25];       /* Sec-WebSocket-Key while upgrading */
};

enum sender_state { S_DOWN, S_CONNECTING, S_IDLE, S_SENDING, S_WAITING };

/* One HTTP/1.1 keep-alive connection posting messages, one request in flight. */
struct sender {
    int fd;
    uint32_t gen;
    int state;
    bool want_out;
    char req[4096];
    size_t req_len, req_off;
    char *in;
    size_t in_len, in_cap;
    uint64_t t_sent;
    int msg; /* index of the message in flight */
};

enum fail_kind {
    F_CONNECT,  /* socket, bind or connect failed */
    F_UPGRADE,  /* not a 101, or a bad Sec-WebSocket-Accept */
    F_PROTOCOL, /* a malformed frame or payload */
    F_EOF,      /* the server closed the TCP connection without a close frame */
    F_RESET,    /* read or write error */
    F_TIMEOUT,  /* not READY within --timeout */
    F_INVALID,  /* INVALID_SESSION or RECONNECT */
    F_CLOSE,    /* a close frame from the server */
    F_KINDS
};

static const char *const fail_names[] = {"connect", "upgrade", "protocol", "eof",
                                         "reset",   "timeout", "invalid",  "close"};

struct load {
    struct options opt;
    struct sockaddr_in dst;
    int epfd;
    struct gw_conn *conns;
    struct sender senders[MAX_SENDERS];
    char *scratch;
    uint64_t rng;
    uint32_t src_base;
    char identify[2048];
    size_t identify_len;
    char upgrade_fmt_host[300];

    /* connection phase */
    struct lg_clients cl;
    uint64_t t_begin, t_all_ready;
    uint64_t hb_interval_ns;
    uint64_t fails[F_KINDS];
    uint32_t close_codes[CLOSE_CODES];
    char first_close[160];
    char first_fail[200];

    /* counters */
    uint64_t guild_creates, dispatches, other_dispatches, message_creates, seq_gaps;
    uint64_t beats, acks, acks_late, pings, binary_frames, frames_in, bytes_in;
    struct lg_hist hb_rtt; /* heartbeat to ACK */

    /* latency */
    bool sending;
    int next_msg; /* next message to post */
    int posted, acked, post_errors;
    uint64_t t_send0, t_last_ack, t_last_send;
    uint64_t send_lag_max;
    struct lg_fanout fan; /* the messages' deliveries to the sessions */
    struct lg_hist ack;   /* POST round trip */
    bool reported_post;
};

/* ---- gateway connections -------------------------------------------------------------------- */

static uint32_t conn_index(const struct load *l, const struct gw_conn *c)
{
    return (uint32_t)(c - l->conns);
}

/* Ends a connection: closes the fd, frees its buffers, updates the counts. */
static void conn_finish(struct load *l, struct gw_conn *c, enum fail_kind kind, const char *why)
{
    if (c->state == GW_DONE)
        return;
    if (c->state == GW_READY) {
        l->cl.ready--;
        l->cl.lost_after_ready++;
    } else if (c->state != GW_NEW) {
        l->cl.inflight--;
    }
    l->fails[kind]++;
    if (!l->first_fail[0]) {
        snprintf(l->first_fail, sizeof(l->first_fail), "%s (session %td, %s)", why, c - l->conns,
                 fail_names[kind]);
    }
    lg_conn_close(&c->io);
    free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    c->state = GW_DONE;
    l->cl.done++;
}

/* Sends bytes, or queues them behind what is already waiting. */
static void conn_write(struct load *l, struct gw_conn *c, const char *data, size_t len)
{
    if (c->state == GW_DONE)
        return;
    if (lg_conn_write(&c->io, l->epfd, conn_index(l, c), data, len) < 0)
        conn_finish(l, c, F_RESET, strerror(errno));
}

/* Builds one masked client frame (RFC 6455 §5.3: every client frame is masked) in frame,
 * which holds len + 8 bytes; returns its length. */
static size_t frame_build(struct load *l, int opcode, const char *payload, size_t len, char *frame)
{
    size_t h = 0;

    frame[h++] = (char)(0x80 | opcode);
    if (len < 126) {
        frame[h++] = (char)(0x80 | len);
    } else {
        frame[h++] = (char)(0x80 | 126);
        frame[h++] = (char)(len >> 8);
        frame[h++] = (char)(len & 0xff);
    }
    uint64_t r = lg_splitmix64(&l->rng);
    unsigned char mask[4] = {(unsigned char)r, (unsigned char)(r >> 8), (unsigned char)(r >> 16),
                             (unsigned char)(r >> 24)};
    memcpy(frame + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        frame[h + i] = (char)(payload[i] ^ mask[i & 3]);
    return h + len;
}

static void conn_send_frame(struct load *l, struct gw_conn *c, int opcode, const char *payload,
                            size_t len)
{
    char frame[4096 + 8];

    if (len > 4096)
        return; /* the tool never sends more; Hearth refuses payloads over 4096 bytes */
    conn_write(l, c, frame, frame_build(l, opcode, payload, len, frame));
}

static void conn_send_text(struct load *l, struct gw_conn *c, const char *text, size_t len)
{
    conn_send_frame(l, c, 0x1, text, len);
}

static void conn_heartbeat(struct load *l, struct gw_conn *c, uint64_t now)
{
    char buf[64];
    int n;

    if (c->seq)
        n = snprintf(buf, sizeof(buf), "{\"op\":1,\"d\":%" PRIu64 "}", c->seq);
    else
        n = snprintf(buf, sizeof(buf), "{\"op\":1,\"d\":null}");
    if (c->beat_sent)
        l->acks_late++; /* the previous beat was never acknowledged */
    c->beat_sent = now;
    l->beats++;
    conn_send_text(l, c, buf, (size_t)n);
}

static void conn_send_upgrade(struct load *l, struct gw_conn *c)
{
    char req[1024];
    unsigned char raw[16];

    for (int i = 0; i < 16; i += 8) {
        uint64_t r = lg_splitmix64(&l->rng);
        memcpy(raw + i, &r, 8);
    }
    base64_encode(raw, sizeof(raw), c->key);
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "User-Agent: hearth-gwload\r\n\r\n",
                     l->opt.path, l->upgrade_fmt_host, c->key);
    c->state = GW_UPGRADING;
    conn_write(l, c, req, (size_t)n);
}

static void conn_start(struct load *l, struct gw_conn *c, uint64_t now)
{
    uint32_t index = conn_index(l, c);
    int rc;

    c->t_start = now;
    c->state = GW_CONNECTING;
    l->cl.started++;
    l->cl.inflight++;
    rc = lg_conn_open(&c->io, l->epfd, index,
                      lg_src_addr(l->src_base, l->opt.run.per_addr, (int)index), &l->dst);
    if (rc < 0)
        conn_finish(l, c, F_CONNECT, strerror(errno));
    else if (rc > 0)
        conn_send_upgrade(l, c);
}

/*
 * Parses the 101 response head at buf: returns its length when it is complete and valid, 0
 * when more bytes are needed, -1 when the upgrade failed (the reason goes to *why).
 */
static long parse_upgrade(struct gw_conn *c, const char *buf, size_t len, const char **why)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    char want[29];
    char kbuf[24 + 36 + 1];
    unsigned char digest[20];

    if (!end) {
        if (len > MAX_HANDSHAKE_BYTES) {
            *why = "response head too long";
            return -1;
        }
        return 0;
    }
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
        *why = "the upgrade was not answered with 101";
        return -1;
    }
    snprintf(kbuf, sizeof(kbuf), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", c->key);
    sha1_short(kbuf, strlen(kbuf), digest);
    base64_encode(digest, sizeof(digest), want);
    bool ok = false;
    for (const char *p = memmem(buf, len, "\r\n", 2) + 2; p < end;) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        static const char name[] = "sec-websocket-accept:";
        if ((size_t)(eol - p) > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
            const char *v = p + sizeof(name) - 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vlen = (size_t)(eol - v);
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            ok = vlen == strlen(want) && memcmp(v, want, vlen) == 0;
        }
        p = eol + 2;
    }
    if (!ok) {
        *why = "missing or wrong Sec-WebSocket-Accept";
        return -1;
    }
    return (long)(end - buf) + 4;
}

/* Reads "lat:<ns>:<nonce>:<index>" out of a MESSAGE_CREATE's d, and records the delay. */
static void note_message(struct load *l, const char *d, size_t dlen, uint64_t now)
{
    static const char key[] = "\"content\":\"lat:";
    const char *p = memmem(d, dlen, key, sizeof(key) - 1);

    l->message_creates++;
    if (p)
        lg_fanout_arrival(&l->fan, p + sizeof(key) - 1, d + dlen, now);
}

/* One complete text payload (or the first fragment of one). */
static void handle_payload(struct load *l, struct gw_conn *c, const char *p, size_t len,
                           uint64_t now)
{
    struct gw_payload pl;

    gw_scan(p, len, &pl);
    switch (pl.op) {
    case 0: /* DISPATCH */
        l->dispatches++;
        if (pl.s) {
            if (pl.s != c->seq + 1)
                l->seq_gaps++;
            c->seq = pl.s;
        }
        if (pl.t && span_eq(pl.t, pl.t_len, "MESSAGE_CREATE")) {
            if (pl.d)
                note_message(l, pl.d, pl.d_len, now);
            else
                l->message_creates++;
        } else if (pl.t && span_eq(pl.t, pl.t_len, "READY")) {
            if (c->state == GW_IDENTIFYING) {
                c->state = GW_READY;
                l->cl.inflight--;
                l->cl.ready++;
                l->cl.ever_ready++;
                lg_hist_record(&l->cl.connect_ready, now - c->t_start);
            }
        } else if (pl.t && span_eq(pl.t, pl.t_len, "GUILD_CREATE")) {
            l->guild_creates++;
        } else {
            l->other_dispatches++;
        }
        break;
    case 1: /* the server asks for a heartbeat now */
        conn_heartbeat(l, c, now);
        break;
    case 7: /* RECONNECT */
        conn_finish(l, c, F_INVALID, "RECONNECT (op 7)");
        break;
    case 9: /* INVALID_SESSION */
        conn_finish(l, c, F_INVALID, "INVALID_SESSION (op 9)");
        break;
    case 10: { /* HELLO */
        static const char key[] = "\"heartbeat_interval\":";
        const char *h = pl.d ? memmem(pl.d, pl.d_len, key, sizeof(key) - 1) : NULL;
        uint64_t ms = h ? strtoull(h + sizeof(key) - 1, NULL, 10) : 0;
        if (c->state != GW_HELLO || ms == 0) {
            conn_finish(l, c, F_PROTOCOL, "HELLO without heartbeat_interval, or out of turn");
            break;
        }
        uint64_t iv = ms * NS_PER_MS;
        if (!l->hb_interval_ns)
            l->hb_interval_ns = iv;
        /* The first beat at a random point of the interval, as Discord's clients do. */
        c->next_beat = now + lg_splitmix64(&l->rng) % iv;
        c->state = GW_IDENTIFYING;
        conn_send_text(l, c, l->identify, l->identify_len);
        break;
    }
    case 11: /* HEARTBEAT_ACK */
        if (c->beat_sent) {
            lg_hist_record(&l->hb_rtt, now - c->beat_sent);
            c->beat_sent = 0;
        }
        l->acks++;
        break;
    default:
        l->other_dispatches++;
    }
}

/* One complete frame. */
static void handle_frame(struct load *l, struct gw_conn *c, int opcode, bool fin, const char *p,
                         size_t len, uint64_t now)
{
    l->frames_in++;
    switch (opcode) {
    case 0x0: /* continuation: its payload is skipped, the start of the message was read */
        if (!c->in_frag) {
            conn_finish(l, c, F_PROTOCOL, "continuation frame outside a fragmented message");
            return;
        }
        if (fin)
            c->in_frag = 0;
        return;
    case 0x1:
    case 0x2:
        if (c->in_frag) {
            conn_finish(l, c, F_PROTOCOL, "new message inside a fragmented one");
            return;
        }
        c->in_frag = !fin;
        if (opcode == 0x2) {
            l->binary_frames++; /* zlib-stream is not supported: counted, not read */
            return;
        }
        handle_payload(l, c, p, len, now);
        return;
    case 0x8: { /* close: answer it and let go */
        unsigned code = len >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
        char why[160];
        l->close_codes[code < CLOSE_CODES ? code : 0]++;
        snprintf(why, sizeof(why), "close %u '%.*s'", code, (int)(len > 2 ? len - 2 : 0),
                 len > 2 ? p + 2 : "");
        if (!l->first_close[0])
            snprintf(l->first_close, sizeof(l->first_close), "%s", why);
        /* Echo the code, best effort: the server may already have gone. */
        if (c->io.out_len == 0) {
            char frame[16];
            size_t fl = frame_build(l, 0x8, p, len >= 2 ? 2 : 0, frame);
            ssize_t w = send(c->io.fd, frame, fl, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
        }
        conn_finish(l, c, F_CLOSE, why);
        return;
    }
    case 0x9:
        l->pings++;
        conn_send_frame(l, c, 0xA, p, len <= 125 ? len : 125);
        return;
    case 0xA:
        return;
    default:
        conn_finish(l, c, F_PROTOCOL, "unknown frame opcode");
    }
}

/*
 * Consumes complete frames (and, while upgrading, the response head) from buf; returns the
 * bytes consumed (all of them when the connection ended). *need is set to the full size of
 * the incomplete frame left at the end, when its header says it, else to 0.
 */
static size_t conn_consume(struct load *l, struct gw_conn *c, const char *buf, size_t len,
                           uint64_t now, size_t *need)
{
    size_t off = 0;

    *need = 0;
    if (c->state == GW_UPGRADING) {
        const char *why = NULL;
        long h = parse_upgrade(c, buf, len, &why);
        if (h == 0)
            return 0;
        if (h < 0) {
            conn_finish(l, c, F_UPGRADE, why);
            return len;
        }
        off = (size_t)h;
        c->state = GW_HELLO;
    }
    while (c->state != GW_DONE && len - off >= 2) {
        const unsigned char *b = (const unsigned char *)buf + off;
        size_t avail = len - off, hdr = 2;
        uint64_t plen = b[1] & 0x7f;
        if (b[1] & 0x80) {
            conn_finish(l, c, F_PROTOCOL, "masked frame from the server");
            return len;
        }
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = (uint64_t)b[2] << 8 | b[3];
            hdr = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | b[2 + i];
            hdr = 10;
        }
        if (plen > MAX_FRAME_BYTES) {
            conn_finish(l, c, F_PROTOCOL, "frame over 16 MiB");
            return len;
        }
        if (avail < hdr + plen) {
            *need = hdr + (size_t)plen;
            break;
        }
        l->bytes_in += hdr + plen;
        handle_frame(l, c, b[0] & 0x0f, (b[0] & 0x80) != 0, buf + off + hdr, (size_t)plen, now);
        off += hdr + (size_t)plen;
    }
    return c->state == GW_DONE ? len : off;
}

static void conn_readable(struct load *l, struct gw_conn *c)
{
    ssize_t n;
    size_t used, need;
    uint64_t now;

    if (c->in_len > 0) {
        /* An incomplete frame is waiting: read straight behind it. */
        n = read(c->io.fd, c->in + c->in_len, c->in_cap - c->in_len);
    } else {
        n = read(c->io.fd, l->scratch, SCRATCH_BYTES);
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        conn_finish(l, c, F_RESET, strerror(errno));
        return;
    }
    if (n == 0) {
        conn_finish(l, c, F_EOF, "the server closed the connection without a close frame");
        return;
    }
    now = lg_now_ns();
    if (c->in_len > 0) {
        c->in_len += (uint32_t)n;
        used = conn_consume(l, c, c->in, c->in_len, now, &need);
        if (c->state == GW_DONE)
            return;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= (uint32_t)used;
    } else {
        used = conn_consume(l, c, l->scratch, (size_t)n, now, &need);
        if (c->state == GW_DONE || used == (size_t)n)
            return;
        /* Keep the tail of a frame that has not fully arrived. */
        size_t rest = (size_t)n - used;
        c->in_cap = (uint32_t)rest;
        c->in = lg_xrealloc(NULL, c->in_cap);
        memcpy(c->in, l->scratch + used, rest);
        c->in_len = (uint32_t)rest;
    }
    if (c->in_len == 0) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
        return;
    }
    /* Room for the whole incomplete frame (copied once however it arrives), or for the
     * rest of a response head. */
    size_t want = need > c->in_len ? need : (size_t)c->in_len + 4096;
    if (want > c->in_cap) {
        c->in_cap = (uint32_t)want;
        c->in = lg_xrealloc(c->in, c->in_cap);
    }
}

static void conn_event(struct load *l, struct gw_conn *c, uint32_t events)
{
    if (c->state == GW_CONNECTING) {
        int rc = lg_conn_established(&c->io, l->epfd, conn_index(l, c), events);
        if (rc < 0)
            conn_finish(l, c, F_CONNECT, strerror(errno));
        else if (rc > 0)
            conn_send_upgrade(l, c);
        return;
    }
    if ((events & EPOLLOUT) && c->io.out_len &&
        lg_conn_flush(&c->io, l->epfd, conn_index(l, c)) < 0)
        conn_finish(l, c, F_RESET, strerror(errno));
    if (c->state != GW_DONE && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_readable(l, c);
}

/* Heartbeats that are due, and connections that took too long to get READY. */
static void conn_timers(struct load *l, uint64_t now)
{
    uint64_t limit = (uint64_t)(l->opt.run.timeout * (double)NS_PER_SEC);

    for (int i = 0; i < l->opt.run.sessions; i++) {
        struct gw_conn *c = &l->conns[i];
        if (c->state == GW_NEW || c->state == GW_DONE)
            continue;
        if (c->state != GW_READY && now - c->t_start > limit) {
            conn_finish(l, c, F_TIMEOUT, "not READY within --timeout");
            continue;
        }
        if (c->next_beat && now >= c->next_beat) {
            conn_heartbeat(l, c, now);
            c->next_beat += l->hb_interval_ns;
            if (c->next_beat < now)
                c->next_beat = now + l->hb_interval_ns;
        }
    }
}

/* ---- HTTP senders (latency mode) ------------------------------------------------------------ */

static uint64_t sender_tag(const struct load *l, const struct sender *s)
{
    return ((uint64_t)(l->opt.run.sessions + (s - l->senders)) << 32) | s->gen;
}

static void sender_down(struct load *l, struct sender *s, const char *why)
{
    if (s->state == S_SENDING || s->state == S_WAITING) {
        l->post_errors++;
        if (!l->reported_post) {
            fprintf(stderr, "hearth-gwload: first POST error: %s\n", why);
            l->reported_post = true;
        }
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->gen++;
    s->in_len = 0;
    s->want_out = false;
    s->state = S_DOWN;
}

static void sender_connect(struct load *l, struct sender *s)
{
    s->fd = lg_tcp_socket(AF_INET);
    if (s->fd < 0) {
        sender_down(l, s, strerror(errno));
        return;
    }
    s->gen++;
    if (connect(s->fd, (struct sockaddr *)&l->dst, sizeof(l->dst)) < 0 && errno != EINPROGRESS) {
        sender_down(l, s, strerror(errno));
        return;
    }
    if (lg_epoll_set(l->epfd, s->fd, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT, sender_tag(l, s)) < 0) {
        sender_down(l, s, strerror(errno));
        return;
    }
    s->want_out = true;
    s->state = S_CONNECTING;
}

static void sender_flush(struct load *l, struct sender *s)
{
    int rc = lg_send_pending(s->fd, s->req, s->req_len, &s->req_off);

    if (rc > 0) {
        if (!s->want_out) {
            lg_epoll_set(l->epfd, s->fd, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT, sender_tag(l, s));
            s->want_out = true;
        }
        return;
    }
    if (rc < 0) {
        sender_down(l, s, strerror(errno));
        return;
    }
    if (s->want_out) {
        lg_epoll_set(l->epfd, s->fd, EPOLL_CTL_MOD, EPOLLIN, sender_tag(l, s));
        s->want_out = false;
    }
    s->state = S_WAITING;
}

/* Writes message `idx`; its content carries the moment of writing. */
static void sender_post(struct load *l, struct sender *s, int idx)
{
    const struct options *o = &l->opt;
    char content[2048 + 64];
    uint64_t t = lg_now_ns();
    int n = lg_fanout_stamp(&l->fan, content, sizeof(content), t, idx);

    for (; n < o->run.content_size; n++)
        content[n] = (char)('a' + n % 26);
    content[n] = '\0';
    size_t body_len = (size_t)n + sizeof("{\"content\":\"\"}") - 1;
    int h = snprintf(s->req, sizeof(s->req),
                     "POST /api/v10/channels/%s/messages HTTP/1.1\r\nHost: %s:%s\r\n"
                     "Authorization: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n{\"content\":\"%s\"}",
                     o->channel, o->com.host, o->com.port, o->token, body_len, content);
    if (h <= 0 || (size_t)h >= sizeof(s->req)) {
        fprintf(stderr, "hearth-gwload: the POST does not fit its buffer\n");
        exit(2);
    }
    s->req_len = (size_t)h;
    s->req_off = 0;
    s->t_sent = t;
    s->msg = idx;
    if (!l->fan.t_first_send)
        l->fan.t_first_send = t;
    l->t_last_send = t;
    l->posted++;
    s->state = S_SENDING;
    sender_flush(l, s);
}

/* Parses an HTTP/1.1 response: returns its total length when complete, 0 when more is
 * needed, -1 when malformed; *status and *close are set when it is complete. */
static long parse_response(const char *buf, size_t len, int *status, bool *close_after)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    long long clen = -1;
    bool chunked = false;

    if (!end)
        return len > 65536 ? -1 : 0;
    if (end - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    *close_after = buf[7] == '0';
    for (const char *p = memmem(buf, len, "\r\n", 2) + 2; p < end;) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        size_t n = (size_t)(eol - p);
        if (n > 15 && strncasecmp(p, "content-length:", 15) == 0)
            clen = strtoll(p + 15, NULL, 10);
        else if (n > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
            chunked = memmem(p, n, "chunked", 7) != NULL;
        else if (n > 11 && strncasecmp(p, "connection:", 11) == 0 && memmem(p, n, "close", 5))
            *close_after = true;
        p = eol + 2;
    }
    size_t head = (size_t)(end - buf) + 4;
    if (chunked) {
        /* Enough for small JSON bodies without trailers: wait for the last chunk. */
        if (len - head >= 5 && memcmp(buf + head, "0\r\n\r\n", 5) == 0)
            return (long)head + 5;
        const char *last = memmem(buf + head, len - head, "\r\n0\r\n\r\n", 7);
        return last ? (long)(last - buf) + 7 : 0;
    }
    if (clen < 0)
        return -1; /* the POST answers always have a length */
    return len >= head + (size_t)clen ? (long)(head + (size_t)clen) : 0;
}

static void sender_readable(struct load *l, struct sender *s)
{
    if (s->in_len == s->in_cap) {
        if (s->in_cap >= MAX_HTTP_RESPONSE) {
            sender_down(l, s, "response too large");
            return;
        }
        s->in_cap = s->in_cap ? s->in_cap * 2 : 4096;
        s->in = lg_xrealloc(s->in, s->in_cap);
    }
    ssize_t n = read(s->fd, s->in + s->in_len, s->in_cap - s->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        sender_down(l, s, n == 0 ? "the server closed the connection" : strerror(errno));
        return;
    }
    s->in_len += (size_t)n;
    if (s->state != S_WAITING && s->state != S_SENDING) {
        sender_down(l, s, "unexpected bytes");
        return;
    }
    int status = 0;
    bool close_after = false;
    long end = parse_response(s->in, s->in_len, &status, &close_after);
    if (end == 0)
        return;
    if (end < 0) {
        sender_down(l, s, "malformed response");
        return;
    }
    uint64_t now = lg_now_ns();
    if (status >= 200 && status < 300) {
        l->acked++;
        lg_hist_record(&l->ack, now - s->t_sent);
        l->t_last_ack = now;
    } else {
        l->post_errors++;
        if (!l->reported_post) {
            const char *body = memmem(s->in, (size_t)end, "\r\n\r\n", 4);
            int blen = body ? (int)(s->in + end - (body + 4)) : 0;
            fprintf(stderr, "hearth-gwload: first POST error: HTTP %d %.*s\n", status,
                    blen > 200 ? 200 : blen, body ? body + 4 : "");
            l->reported_post = true;
        }
        l->t_last_ack = now;
    }
    s->in_len = 0;
    s->state = S_IDLE;
    if (close_after) {
        /* Not an error: the next message reconnects. */
        close(s->fd);
        s->fd = -1;
        s->gen++;
        s->state = S_DOWN;
    }
}

static void sender_event(struct load *l, struct sender *s, uint32_t events)
{
    if (s->state == S_CONNECTING) {
        int err = lg_connect_error(s->fd);
        if (err) {
            sender_down(l, s, strerror(err));
            return;
        }
        if (!(events & EPOLLOUT))
            return;
        lg_epoll_set(l->epfd, s->fd, EPOLL_CTL_MOD, EPOLLIN, sender_tag(l, s));
        s->want_out = false;
        s->state = S_IDLE;
        return;
    }
    if (s->state == S_SENDING && (events & EPOLLOUT))
        sender_flush(l, s);
    if (s->fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        sender_readable(l, s);
}

/* Posts the messages that are due, each on an idle sender. */
static void senders_tick(struct load *l, uint64_t now)
{
    const struct options *o = &l->opt;
    double gap = (double)NS_PER_SEC / o->run.rate;

    for (int i = 0; i < o->senders; i++) {
        struct sender *s = &l->senders[i];
        if (s->state == S_DOWN && l->next_msg < o->run.messages)
            sender_connect(l, s);
    }
    while (l->next_msg < o->run.messages) {
        uint64_t due = l->t_send0 + (uint64_t)(gap * l->next_msg);
        if (now < due)
            break;
        struct sender *idle = NULL;
        for (int i = 0; i < o->senders && !idle; i++) {
            if (l->senders[i].state == S_IDLE)
                idle = &l->senders[i];
        }
        if (!idle)
            break; /* every sender is busy: the message leaves late */
        if (now - due > l->send_lag_max)
            l->send_lag_max = now - due;
        sender_post(l, idle, l->next_msg++);
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
            "hearth-gwload: %6.1f s %-8s started %d, ready %d, in flight %d, failed %d, "
            "guild_creates %" PRIu64 ", deliveries %" PRIu64 ", server rss %ld KiB\n",
            (double)(now - l->t_begin) / (double)NS_PER_SEC, phase, l->cl.started, l->cl.ready,
            l->cl.inflight, l->cl.done, l->guild_creates, l->fan.deliveries, rss);
}

static int setup(struct load *l)
{
    const struct options *o = &l->opt;

    if (lg_clients_setup(o->com.host, o->com.port, o->run.sessions, FD_RESERVE + o->senders,
                         "sessions", o->run.src_base, o->run.per_addr, &l->dst, &l->src_base) < 0)
        return -1;
    snprintf(l->upgrade_fmt_host, sizeof(l->upgrade_fmt_host), "%s:%s", o->com.host, o->com.port);
    lg_fanout_init(&l->fan, o->mode == MODE_LATENCY ? o->run.messages : 0, &l->rng);
    int n = snprintf(l->identify, sizeof(l->identify),
                     "{\"op\":2,\"d\":{\"token\":\"%s\",\"intents\":%ld,\"properties\":"
                     "{\"os\":\"linux\",\"browser\":\"hearth-gwload\",\"device\":"
                     "\"hearth-gwload\"}}}",
                     o->token, o->intents);
    if (n <= 0 || (size_t)n >= sizeof(l->identify)) {
        fprintf(stderr, "hearth-gwload: --token is too long\n");
        return -1;
    }
    l->identify_len = (size_t)n;

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        lg_fail("epoll_create1");
    l->conns = calloc((size_t)o->run.sessions, sizeof(*l->conns));
    l->scratch = malloc(SCRATCH_BYTES);
    if (!l->conns || !l->scratch)
        lg_fail("allocating the sessions");
    for (int i = 0; i < o->run.sessions; i++)
        l->conns[i].io.fd = -1;
    for (int i = 0; i < MAX_SENDERS; i++)
        l->senders[i].fd = -1;
    return 0;
}

static void dispatch_events(struct load *l, struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t index = (uint32_t)(evs[i].data.u64 >> 32);
        uint32_t gen = (uint32_t)evs[i].data.u64;
        if (index < (uint32_t)l->opt.run.sessions) {
            struct gw_conn *c = &l->conns[index];
            if (c->io.gen == gen && c->io.fd >= 0)
                conn_event(l, c, evs[i].events);
        } else {
            struct sender *s = &l->senders[index - (uint32_t)l->opt.run.sessions];
            if (s->gen == gen && s->fd >= 0)
                sender_event(l, s, evs[i].events);
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
    uint64_t expected = (uint64_t)l->acked * (uint64_t)f->expected_per_msg;

    printf("mode %s: %d sessions to %s:%s from %s (%d per address)\n",
           o->mode == MODE_IDLE ? "idle" : "latency", o->run.sessions, o->com.host, o->com.port,
           src, o->run.per_addr);
    lg_clients_print(&l->cl, o->run.sessions, "session", "READY");
    printf("  ends: connect %" PRIu64 ", upgrade %" PRIu64 ", protocol %" PRIu64 ", eof %" PRIu64
           ", reset %" PRIu64 ", timeout %" PRIu64 ", invalid %" PRIu64 ", close %" PRIu64 "\n",
           l->fails[F_CONNECT], l->fails[F_UPGRADE], l->fails[F_PROTOCOL], l->fails[F_EOF],
           l->fails[F_RESET], l->fails[F_TIMEOUT], l->fails[F_INVALID], l->fails[F_CLOSE]);
    if (l->first_fail[0])
        printf("  first end: %s\n", l->first_fail);
    lg_clients_print_ramp(&l->cl, m->ramp_secs, "session", "READY");
    printf("  frames in %" PRIu64 " (%" PRIu64 " bytes): dispatches %" PRIu64
           " (GUILD_CREATE %" PRIu64 ", MESSAGE_CREATE %" PRIu64 ", other %" PRIu64
           "), seq gaps %" PRIu64 ", binary %" PRIu64 ", pings %" PRIu64 "\n",
           l->frames_in, l->bytes_in, l->dispatches, l->guild_creates, l->message_creates,
           l->other_dispatches, l->seq_gaps, l->binary_frames, l->pings);
    printf("  heartbeats: interval %.2f s, sent %" PRIu64 ", acked %" PRIu64
           ", unacked at next beat %" PRIu64 ", ack ms p50 %.2f p99 %.2f max %.2f\n",
           (double)l->hb_interval_ns / (double)NS_PER_SEC, l->beats, l->acks, l->acks_late,
           lg_hist_ms(&l->hb_rtt, 0.5), lg_hist_ms(&l->hb_rtt, 0.99), lg_hist_max_ms(&l->hb_rtt));
    lg_marks_print(m, o->com.server_pid, l->cl.ready, l->cl.ever_ready, "session");
    if (o->mode == MODE_LATENCY) {
        printf("  posted %d at %.1f/s, acked %d, errors %d; ack ms p50 %.2f p99 %.2f; late "
               "start max %.2f ms\n",
               l->posted, o->run.rate, l->acked, l->post_errors, lg_hist_ms(&l->ack, 0.5),
               lg_hist_ms(&l->ack, 0.99), (double)l->send_lag_max / (double)NS_PER_MS);
        lg_fanout_print(f, l->acked, "session", "POST -> MESSAGE_CREATE", "POST -> last session");
        lg_send_cpu_print(m, l->acked, f->deliveries);
    }
    lg_self_print();
    if (l->first_close[0])
        printf("  first close frame: %s\n", l->first_close);
    for (int code = 0; code < CLOSE_CODES; code++) {
        if (l->close_codes[code])
            printf("  closed by the server with %d%s: %u\n", code, code ? "" : " (or >= 5000)",
                   l->close_codes[code]);
    }

    printf("result: mode=%s sessions=%d", o->mode == MODE_IDLE ? "idle" : "latency",
           o->run.sessions);
    lg_clients_result(&l->cl, fails, l->src_base, m->ramp_secs);
    printf(" guild_creates=%" PRIu64 " seq_gaps=%" PRIu64 " beats=%" PRIu64 " acks=%" PRIu64
           " hb_p99_ms=%.3f hb_max_ms=%.3f",
           l->guild_creates, l->seq_gaps, l->beats, l->acks, lg_hist_ms(&l->hb_rtt, 0.99),
           lg_hist_max_ms(&l->hb_rtt));
    lg_marks_result(m, o->com.server_pid, l->cl.ready, l->cl.ever_ready);
    if (o->mode == MODE_LATENCY) {
        printf(" messages=%d rate=%.2f posted=%d acked=%d post_errors=%d deliveries=%" PRIu64
               " expected=%" PRIu64 " complete_msgs=%d send_s=%.3f",
               o->run.messages, o->run.rate, l->posted, l->acked, l->post_errors, f->deliveries,
               expected, lg_fanout_complete(f), m->send_secs);
        lg_fanout_result(f);
        printf(" ack_p50_ms=%.3f ack_p99_ms=%.3f", lg_hist_ms(&l->ack, 0.5),
               lg_hist_ms(&l->ack, 0.99));
        lg_send_cpu_result(m, l->acked, f->deliveries);
    }
    lg_self_result();
}

static int run(struct load *l)
{
    const struct options *o = &l->opt;
    struct epoll_event evs[1024];
    struct lg_marks m;
    enum { P_RAMP, P_HOLD, P_SEND, P_DONE } phase = P_RAMP;
    uint64_t hold_ns = (uint64_t)(o->run.hold * (double)NS_PER_SEC);
    uint64_t drain_ns = (uint64_t)(o->run.drain * (double)NS_PER_SEC);
    uint64_t t_phase = 0, next_timers, next_progress;
    int next_conn = 0, ramp_cut = 0;

    lg_marks_init(&m);
    if (lg_marks_start(&m, o->com.server_pid) < 0) {
        fprintf(stderr, "hearth-gwload: cannot read /proc/%ld/status\n", o->com.server_pid);
        return 2;
    }
    l->t_begin = lg_now_ns();
    next_timers = l->t_begin;
    next_progress = l->t_begin + NS_PER_SEC;

    while (phase != P_DONE) {
        uint64_t now = lg_now_ns();
        if (lg_interrupted) {
            fprintf(stderr, "hearth-gwload: interrupted\n");
            break;
        }
        /* Open more connections, within --ramp and --inflight. */
        if (phase == P_RAMP) {
            int allowed =
                lg_ramp_allowed(&o->run, l->t_begin, now, &next_conn, &ramp_cut, l->cl.inflight);
            while (next_conn < o->run.sessions && next_conn < allowed &&
                   l->cl.inflight < o->run.inflight)
                conn_start(l, &l->conns[next_conn++], now);
            if (next_conn == o->run.sessions && l->cl.inflight == 0) {
                l->t_all_ready = now;
                m.ramp_secs = (double)(now - l->t_begin) / (double)NS_PER_SEC;
                fprintf(stderr, "hearth-gwload: %d of %d sessions ready after %.2f s\n",
                        l->cl.ready, o->run.sessions, m.ramp_secs);
                /* Let the server finish what the last READYs started before measuring. */
                t_phase = now;
                phase = P_HOLD;
            }
        }
        if (phase == P_HOLD && lg_marks_hold_step(&m, o->com.server_pid, now, &t_phase, hold_ns)) {
            if (o->mode == MODE_LATENCY && o->run.messages > 0 && l->cl.ready > 0) {
                phase = P_SEND;
                l->fan.expected_per_msg = l->cl.ready;
                l->t_send0 = now + NS_PER_SEC / 2; /* the senders connect meanwhile */
                lg_marks_send_start(&m, o->com.server_pid);
                fprintf(stderr, "hearth-gwload: posting %d messages at %.1f/s to %d sessions\n",
                        o->run.messages, o->run.rate, l->cl.ready);
            } else {
                phase = P_DONE;
            }
        }
        if (phase == P_SEND) {
            senders_tick(l, now);
            bool all_in =
                l->next_msg == o->run.messages && l->acked + l->post_errors >= l->posted &&
                l->fan.deliveries >= (uint64_t)l->acked * (uint64_t)l->fan.expected_per_msg;
            bool drained = l->next_msg == o->run.messages && l->t_last_ack &&
                           l->acked + l->post_errors >= l->posted && now > l->t_last_ack + drain_ns;
            if (all_in || drained) {
                lg_marks_send_done(&m, o->com.server_pid, now, l->t_send0, all_in, o->run.drain,
                                   "ack");
                phase = P_DONE;
                break;
            }
        }
        if (now >= next_timers) {
            conn_timers(l, now);
            next_timers = now + 50 * NS_PER_MS;
        }
        if (o->com.verbose && now >= next_progress) {
            static const char *const names[] = {"ramp", "hold", "send", "done"};
            print_progress(l, now, names[phase]);
            next_progress += NS_PER_SEC;
        }
        int timeout = phase == P_SEND ? 1 : 10;
        dispatch_events(l, evs,
                        lg_epoll_wait(l->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout));
    }
    if (phase != P_DONE) {
        /* Interrupted: report what there is. */
        lg_marks_cut_short(&m, o->com.server_pid, l->t_begin, phase == P_SEND);
    }
    l->cl.not_opened = ramp_cut;
    report(l, &m);
    if (l->cl.ever_ready == 0)
        return 1;
    if (o->mode == MODE_LATENCY && o->run.messages > 0 && l->fan.deliveries == 0)
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static struct load l; /* the histograms are ~100 KiB each: keep them off the stack */

    lg_init("hearth-gwload");
    if (parse_options(argc, argv, &l.opt) < 0)
        return 2;
    l.rng = l.opt.com.seed;
    if (setup(&l) < 0)
        return 2;
    return run(&l);
}
