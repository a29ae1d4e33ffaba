/*
 * The gateway's output (spec/client-api.md §6.7).
 *
 * A dispatch is not copied per session when it happens: the session's replay ring gets a
 * slot (its sequence number and a reference on the shared body) and its connection is
 * marked dirty. At the end of each batch every dirty connection is flushed once: its
 * payloads other than dispatches, then every dispatch it has not been sent, then wslay's
 * control frames are framed into one flush buffer (wslay's frame writer puts each frame
 * together from the shared body and the session's sequence number) and the buffer goes to
 * the socket in one send(). Several dispatches for one client in a batch thus cost one
 * system call, and what the socket does not take waits in the connection's obuf, with
 * nothing more written until it drains.
 *
 * Sending is most of a delivery's cost (the kernel's TCP work), so a large flush (a message
 * to a big guild) is shared: the gateway thread hands equal shares of the dirty connections
 * to the writer threads, flushes its own share, and waits for them. Nothing else runs on
 * the gateway thread meanwhile, and each connection (with its session's ring) is flushed by
 * exactly one thread, so no lock guards them; a writer that finds a socket broken marks the
 * connection, and the gateway thread kills it after the flush.
 */
#include "capi_gw.h"
#include "hs_log.h"
#include "hs_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define GW_FLUSH_CHUNK (256 * 1024) /* bytes one send() is given at most (but one frame) */
#define GW_MAX_WRITERS 8

struct gw_writer {
    capi_gateway *gw;
    pthread_t thread;
    struct gw_out out;
    struct gw_conn **conns; /* this round's share */
    size_t n;
};

ssize_t gw_out_append(struct gw_out *o, const uint8_t *data, size_t len)
{
    if (o->len + len > o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 64 * 1024;
        while (ncap < o->len + len)
            ncap *= 2;
        o->buf = hs_xrealloc(o->buf, ncap);
        o->cap = ncap;
    }
    memcpy(o->buf + o->len, data, len);
    o->len += len;
    return (ssize_t)len;
}

static ssize_t frame_out(const uint8_t *data, size_t len, int flags, void *user_data)
{
    (void)flags;
    return gw_out_append(user_data, data, len);
}

static void out_init(struct gw_out *o)
{
    static const struct wslay_frame_callbacks fcb = {frame_out, NULL, NULL};
    memset(o, 0, sizeof(*o));
    if (wslay_frame_context_init(&o->fctx, &fcb, o) != 0)
        HS_BUG("wslay frame context allocation failed");
}

static void out_fini(struct gw_out *o)
{
    wslay_frame_context_free(o->fctx);
    free(o->buf);
    free(o->zbuf);
}

static void out_shrink(struct gw_out *o)
{
    if (o->cap > 4 * GW_FLUSH_CHUNK) {
        free(o->buf); /* grown for one big frame */
        o->buf = NULL;
        o->cap = 0;
    }
    free(o->zbuf);
    o->zbuf = NULL;
    o->zcap = 0;
}

void gw_out_shrink(capi_gateway *gw)
{
    out_shrink(&gw->out);
    for (int i = 0; i < gw->nwriters; i++)
        out_shrink(&gw->writers[i].out);
}

/* Frames one payload, given in pieces, into the flush buffer: a text frame, or on a
 * zlib-stream connection a binary frame of the payload deflated with Z_SYNC_FLUSH. */
static void out_payload(struct gw_conn *c, struct gw_out *o, const struct iovec *iov, int n)
{
    int opcode = WSLAY_TEXT_FRAME;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    struct iovec zv;
    if (c->z) {
        size_t cap = deflateBound(c->z, (uLong)total) + 64;
        if (o->zcap < cap) {
            o->zbuf = hs_xrealloc(o->zbuf, cap);
            o->zcap = cap;
        }
        c->z->next_out = o->zbuf;
        c->z->avail_out = (uInt)cap;
        for (int i = 0; i < n; i++) {
            c->z->next_in = iov[i].iov_base;
            c->z->avail_in = (uInt)iov[i].iov_len;
            int zrc = deflate(c->z, i == n - 1 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
            HS_ASSERT(zrc == Z_OK && c->z->avail_in == 0 && c->z->avail_out > 0);
        }
        zv = (struct iovec){o->zbuf, cap - c->z->avail_out};
        iov = &zv;
        n = 1;
        total = zv.iov_len;
        opcode = WSLAY_BINARY_FRAME;
    }
    struct wslay_frame_iocb io = {1, 0, (uint8_t)opcode, total, 0, NULL, 0};
    for (int i = 0; i < n; i++) {
        if (!iov[i].iov_len)
            continue;
        io.data = iov[i].iov_base;
        io.data_length = iov[i].iov_len;
        ssize_t w = wslay_frame_send(o->fctx, &io);
        HS_ASSERT(w == (ssize_t)iov[i].iov_len);
    }
}

/* Writes v's decimal digits to out (at least 24 bytes); returns their number. */
static size_t u64_digits(uint64_t v, char *out)
{
    char rev[24];
    size_t n = 0;
    do
        rev[n++] = (char)('0' + v % 10);
    while (v /= 10);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

/* Puts the connection's next output in the flush buffer, in wire order: payloads other than
 * dispatches, the session's dispatches not yet written, then wslay's control frames (pong,
 * close). A closing connection gets no more dispatches: its session keeps them for RESUME. */
static void fill(struct gw_conn *c, struct gw_out *o)
{
    while (c->ctl) {
        struct gw_ctl *m = c->ctl;
        c->ctl = m->next;
        if (!c->ctl)
            c->ctl_tail = NULL;
        out_payload(c, o, &(struct iovec){m->data, m->len}, 1);
        free(m);
    }
    struct gw_session *s = c->sess;
    if (s && !c->closing && s->ring_len) {
        /* The ring holds seqs first..s->seq without gaps (computed, not read: the ring's
         * first slot is a cache miss per delivery). */
        uint64_t last = s->seq, first = last - s->ring_len + 1;
        if (c->sent + 1 < first)
            c->sent = first - 1; /* acknowledged past what was written */
        while (c->sent < last && o->len < GW_FLUSH_CHUNK) {
            const struct gw_slot *e =
                &s->ring[(s->ring_start + (c->sent + 1 - first)) % s->ring_cap];
            char num[24];
            struct iovec v[3] = {{e->b->data, e->b->plen},
                                 {num, u64_digits(e->seq, num)},
                                 {e->b->data + e->b->plen, e->b->slen}};
            out_payload(c, o, v, 3);
            c->sent = e->seq;
        }
    }
    /* (Not from inside wslay_event_recv's callbacks: a dispatch may flush from there.) */
    if (c->ws && !c->in_recv && wslay_event_want_write(c->ws)) {
        c->out = o;
        wslay_event_send(c->ws); /* into the flush buffer (ws_send): it cannot block */
        c->out = NULL;
    }
}

/* Whether the connection has output that fill() would write. */
static int has_output(const struct gw_conn *c)
{
    return c->ctl || (c->sess && !c->closing && c->sess->ring_len && c->sent < c->sess->seq) ||
           (c->ws && wslay_event_want_write(c->ws));
}

/* Writes the connection's output: what the socket did not take last time, then fresh
 * output in chunks of one send() each, until the socket is full or nothing is left. */
static int write_out(struct gw_conn *c, struct gw_out *o)
{
    for (;;) {
        if (c->obuf_len) {
            ssize_t n = send(c->fd, c->obuf + c->obuf_off, c->obuf_len - c->obuf_off, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
            if (n > 0)
                c->obuf_off += (size_t)n;
            if (c->obuf_off < c->obuf_len)
                return 0;
            free(c->obuf);
            c->obuf = NULL;
            c->obuf_len = c->obuf_off = 0;
        }
        o->len = 0;
        fill(c, o);
        if (!o->len)
            return 0;
        ssize_t n = send(c->fd, o->buf, o->len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return -1;
            n = 0;
        }
        if ((size_t)n < o->len) {
            /* The socket is full: keep the rest, and write nothing more until it drains. */
            c->obuf_len = o->len - (size_t)n;
            c->obuf = hs_xmalloc(c->obuf_len);
            memcpy(c->obuf, o->buf + n, c->obuf_len);
            c->obuf_off = 0;
            return 0;
        }
    }
}

/* Flushes one connection with flush buffer o; -1 when it is finished or broken (the caller
 * kills it). Any thread that owns c for the moment. */
static int flush_one(struct gw_conn *c, struct gw_out *o)
{
    if (write_out(c, o) < 0)
        return -1;
    gw_ws_release_if_idle(c);
    int want_write = c->obuf_len > 0 || has_output(c);
    int want_read = !c->closing && (!c->ws || wslay_event_want_read(c->ws));
    if ((c->closing && !want_write) || (!want_read && !want_write))
        return -1;
    uint32_t ev = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0) | EPOLLRDHUP;
    if (ev != c->ep_events) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        epoll_ctl(c->gw->epfd, EPOLL_CTL_MOD, c->fd, &e);
        c->ep_events = ev;
    }
    return 0;
}

void gw_conn_flush(struct gw_conn *c)
{
    if (!c->dead && flush_one(c, &c->gw->out) < 0)
        gw_conn_kill(c);
}

static void flush_share(struct gw_conn **conns, size_t n, struct gw_out *o)
{
    for (size_t i = 0; i < n; i++)
        conns[i]->flush_failed = flush_one(conns[i], o) < 0;
}

static void *writer_main(void *arg)
{
    struct gw_writer *w = arg;
    capi_gateway *gw = w->gw;
    uint64_t seen = 0;
    pthread_mutex_lock(&gw->wlock);
    for (;;) {
        while (gw->wround == seen && !gw->wstop)
            pthread_cond_wait(&gw->wgo, &gw->wlock);
        if (gw->wstop)
            break;
        seen = gw->wround;
        pthread_mutex_unlock(&gw->wlock);
        flush_share(w->conns, w->n, &w->out);
        pthread_mutex_lock(&gw->wlock);
        if (--gw->wpending == 0)
            pthread_cond_signal(&gw->wdone);
    }
    pthread_mutex_unlock(&gw->wlock);
    return NULL;
}

void gw_flush_dirty(capi_gateway *gw)
{
    size_t n = 0;
    while (gw->dirty) {
        struct gw_conn *c = gw->dirty;
        gw->dirty = c->next_dirty;
        c->dirty = 0;
        if (c->dead)
            continue;
        if (n == gw->batch_cap) {
            gw->batch_cap = gw->batch_cap ? gw->batch_cap * 2 : 1024;
            gw->batch = hs_xrealloc(gw->batch, gw->batch_cap * sizeof(*gw->batch));
        }
        gw->batch[n++] = c;
    }
    if (n < (size_t)gw->cfg->gateway_writer_min || !gw->nwriters) {
        flush_share(gw->batch, n, &gw->out);
    } else {
        size_t parts = (size_t)gw->nwriters + 1, per = n / parts;
        /* The gateway thread takes the first share (and the remainder); each writer one of
         * the others. */
        size_t own = n - per * (size_t)gw->nwriters;
        pthread_mutex_lock(&gw->wlock);
        for (int i = 0; i < gw->nwriters; i++) {
            gw->writers[i].conns = gw->batch + own + per * (size_t)i;
            gw->writers[i].n = per;
        }
        gw->wpending = gw->nwriters;
        gw->wround++;
        pthread_cond_broadcast(&gw->wgo);
        pthread_mutex_unlock(&gw->wlock);
        flush_share(gw->batch, own, &gw->out);
        pthread_mutex_lock(&gw->wlock);
        while (gw->wpending)
            pthread_cond_wait(&gw->wdone, &gw->wlock);
        pthread_mutex_unlock(&gw->wlock);
    }
    for (size_t i = 0; i < n; i++)
        if (gw->batch[i]->flush_failed)
            gw_conn_kill(gw->batch[i]);
}

void gw_writers_start(capi_gateway *gw)
{
    out_init(&gw->out);
    pthread_mutex_init(&gw->wlock, NULL);
    pthread_cond_init(&gw->wgo, NULL);
    pthread_cond_init(&gw->wdone, NULL);
    long want = gw->cfg->gateway_writers;
    if (want == 0) {
        want = sysconf(_SC_NPROCESSORS_ONLN);
        if (want > GW_MAX_WRITERS)
            want = GW_MAX_WRITERS;
    }
    gw->nwriters = want > 1 ? (int)want - 1 : 0;
    gw->writers = hs_xcalloc((size_t)gw->nwriters + 1, sizeof(*gw->writers));
    for (int i = 0; i < gw->nwriters; i++) {
        struct gw_writer *w = &gw->writers[i];
        w->gw = gw;
        out_init(&w->out);
        if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
            HS_BUG("cannot start a gateway writer thread");
    }
}

void gw_writers_stop(capi_gateway *gw)
{
    pthread_mutex_lock(&gw->wlock);
    gw->wstop = 1;
    pthread_cond_broadcast(&gw->wgo);
    pthread_mutex_unlock(&gw->wlock);
    for (int i = 0; i < gw->nwriters; i++) {
        pthread_join(gw->writers[i].thread, NULL);
        out_fini(&gw->writers[i].out);
    }
    free(gw->writers);
    out_fini(&gw->out);
    free(gw->batch);
    pthread_mutex_destroy(&gw->wlock);
    pthread_cond_destroy(&gw->wgo);
    pthread_cond_destroy(&gw->wdone);
}
