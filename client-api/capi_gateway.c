/*
 * DESIGN: the gateway is one thread with an epoll loop that owns every connection and
 * session, so none of their state needs a lock. Other threads reach it through an inbox (a
 * mutex-guarded list and an eventfd): upgraded sockets from the HTTP threads, committed
 * events from the bus, a drain request from the main thread. (Writer threads take shares of
 * a large flush while the gateway thread waits for them: capi_gw_out.c.)
 *
 * A session outlives its connection. Each dispatch gets the session's next sequence number
 * and a slot in its bounded replay ring, so a client that reconnects with RESUME is sent
 * every dispatch it missed. Events are serialised once per event (and once more without
 * content for bots lacking MESSAGE_CONTENT) and the bytes are shared by reference; nothing
 * is written while an inbox batch is processed, and at its end each connection with output
 * is flushed once (capi_gw_out.c), so several dispatches to one client leave in one write.
 *
 * Who may see an event is decided at the moment of dispatch, against the database as of
 * that commit: a permission change that hides a channel stops its events at once.
 */
#include "capi_gw.h"
#include "hs_log.h"
#include "hs_time.h"
#include "hs_util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void ws_ensure(struct gw_conn *c);

void gw_conn_kill(struct gw_conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    c->next_dead = c->gw->dead;
    c->gw->dead = c;
}

uint64_t gw_now_ms(void)
{
    return hs_mono_ns() / 1000000;
}

/* ------------------------------------------------------------------ inbox */

static void post(capi_gateway *gw, struct gw_msg *m)
{
    uint64_t one = 1;
    pthread_mutex_lock(&gw->lock);
    if (gw->stopping) {
        pthread_mutex_unlock(&gw->lock);
        if (m->fd >= 0)
            close(m->fd);
        free(m->extra);
        free(m->params.host);
        if (m->ev)
            hs_event_unref(m->ev);
        free(m);
        return;
    }
    if (gw->tail)
        gw->tail->next = m;
    else
        gw->head = m;
    gw->tail = m;
    pthread_mutex_unlock(&gw->lock);
    ssize_t w = write(gw->evfd, &one, sizeof(one));
    (void)w;
}

void capi_gateway_adopt(capi_gateway *gw, int fd, const char *extra, size_t extra_len,
                        const struct capi_gw_params *params)
{
    struct gw_msg *m = hs_xcalloc(1, sizeof(*m));
    m->kind = MSG_CONN;
    m->fd = fd;
    if (extra_len) {
        m->extra = hs_xmalloc(extra_len);
        memcpy(m->extra, extra, extra_len);
        m->extra_len = extra_len;
    }
    m->params = *params;
    m->params.host = params->host ? hs_xstrdup(params->host) : NULL; /* the message's own */
    post(gw, m);
}

void capi_gateway_reconnect_all(capi_gateway *gw)
{
    struct gw_msg *m = hs_xcalloc(1, sizeof(*m));
    m->kind = MSG_RECONNECT_ALL;
    m->fd = -1;
    post(gw, m);
}

static void on_bus_event(hs_event *ev, void *ud)
{
    capi_gateway *gw = ud;
    /* Only what the gateway dispatches crosses to its thread. */
    if (!gw_route_of(ev->type))
        return;
    struct gw_msg *m = hs_xcalloc(1, sizeof(*m));
    m->kind = MSG_EVENT;
    m->fd = -1;
    m->ev = hs_event_ref(ev);
    post(gw, m);
}

/* ------------------------------------------------------------------ connections */

void gw_conn_mark_dirty(struct gw_conn *c)
{
    if (!c->dirty && !c->dead) {
        c->dirty = 1;
        c->next_dirty = c->gw->dirty;
        c->gw->dirty = c;
    }
}

void gw_conn_close(struct gw_conn *c, uint16_t code, const char *reason)
{
    if (c->closing || c->dead)
        return;
    c->closing = 1;
    c->closing_ms = gw_now_ms();
    ws_ensure(c);
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason));
    gw_conn_mark_dirty(c);
}

void gw_conn_send(struct gw_conn *c, const char *text, size_t len)
{
    if (c->closing || c->dead)
        return;
    struct gw_ctl *m = hs_xmalloc(sizeof(*m) + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->data, text, len);
    if (c->ctl_tail)
        c->ctl_tail->next = m;
    else
        c->ctl = m;
    c->ctl_tail = m;
    gw_conn_mark_dirty(c);
}

void gw_conn_send_json(struct gw_conn *c, json_t *payload /* takes */)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    gw_conn_send(c, text, strlen(text));
    free(text);
}

/* ------------------------------------------------------------------ wslay glue */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user_data)
{
    struct gw_conn *c = user_data;
    (void)flags;
    if (c->extra_off < c->extra_len) {
        size_t n = c->extra_len - c->extra_off;
        if (n > len)
            n = len;
        memcpy(buf, c->extra + c->extra_off, n);
        c->extra_off += n;
        c->in_read += n;
        if (c->extra_off == c->extra_len) {
            free(c->extra); /* consumed: nothing of the handshake stays with the connection */
            c->extra = NULL;
            c->extra_len = c->extra_off = 0;
        }
        return (ssize_t)n;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n > 0) {
        c->in_read += (uint64_t)n;
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* wslay's control frames go to the flush buffer like everything else (fill()). */
static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user_data)
{
    struct gw_conn *c = user_data;
    (void)ctx;
    (void)flags;
    return gw_out_append(c->out, data, len);
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user_data)
{
    struct gw_conn *c = user_data;
    (void)ctx;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
        gw_handle_payload(c, arg->msg, arg->msg_length);
        break;
    case WSLAY_BINARY_FRAME:
        gw_conn_close(c, 4002, "Decode error: send JSON in text frames.");
        break;
    case WSLAY_CONNECTION_CLOSE:
        /* 1000 and 1001 end the session; any other code leaves it resumable. */
        if (arg->status_code == 1000 || arg->status_code == 1001)
            c->end_session = 1;
        c->closing = 1;
        c->closing_ms = gw_now_ms();
        gw_conn_mark_dirty(c);
        break;
    default:
        break;
    }
}

/* Counts each frame's bytes as it starts, so that in_read == in_framed means no partial
 * frame sits in wslay's buffers. */
static void ws_on_frame_start(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg,
                              void *user_data)
{
    struct gw_conn *c = user_data;
    (void)ctx;
    uint64_t len = arg->payload_length;
    c->in_framed += 2 + 4 + (len > 65535 ? 8 : len > 125 ? 2 : 0) + len;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
        arg->opcode == WSLAY_CONTINUATION_FRAME)
        c->in_fragmented = !arg->fin;
}

static const struct wslay_event_callbacks ws_callbacks = {
    ws_recv, ws_send, NULL, ws_on_frame_start, NULL, NULL, ws_on_msg,
};

/*
 * A connection holds a wslay context (about 9 KiB) only while it reads: it is made when
 * bytes arrive (or a close is queued) and given back at the end of the flush that follows,
 * once no control frame waits and no partial frame has been read (DESIGN.md §3). Output
 * does not use it (fill()), so a session that only receives, or heartbeats now and then,
 * keeps none.
 */
static void ws_ensure(struct gw_conn *c)
{
    if (c->ws)
        return;
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0)
        HS_BUG("wslay context allocation failed");
    wslay_event_config_set_max_recv_msg_length(c->ws, GW_WSLAY_MAX);
    c->in_read = c->in_framed = 0;
    c->in_fragmented = 0;
}

void gw_ws_release_if_idle(struct gw_conn *c)
{
    if (c->ws && !c->in_recv && !c->closing && !wslay_event_want_write(c->ws) &&
        c->in_read == c->in_framed && !c->in_fragmented && c->extra_off == c->extra_len) {
        wslay_event_context_free(c->ws);
        c->ws = NULL;
    }
}

/* ------------------------------------------------------------------ connection life */

static void conn_drop(struct gw_conn *c)
{
    capi_gateway *gw = c->gw;
    if (c->dirty) {
        struct gw_conn **pp = &gw->dirty;
        while (*pp != c)
            pp = &(*pp)->next_dirty;
        *pp = c->next_dirty;
    }
    epoll_ctl(gw->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->ws)
        wslay_event_context_free(c->ws);
    if (c->z) {
        deflateEnd(c->z);
        free(c->z);
    }
    if (c->sess) {
        struct gw_session *s = c->sess;
        uint64_t uid = s->user_id;
        s->conn = NULL;
        s->detached_ms = gw_now_ms();
        if (c->end_session) {
            gw_session_free(gw, s);
        } else if (!gw->stopping_sessions) {
            gw_presence_update(gw, s);
        }
        /* Its last connection: now offline (not when the whole gateway stops). */
        if (!gw->stopping_sessions && !gw_presence_source(gw, uid))
            gw_broadcast_presence(gw, uid);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        gw->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    while (c->ctl) {
        struct gw_ctl *m = c->ctl;
        c->ctl = m->next;
        free(m);
    }
    free(c->obuf);
    free(c->extra);
    free(c->params.host);
    hs_slab_put(gw->conn_slab, c);
    gw->nconns--;
}

static void conn_readable(struct gw_conn *c)
{
    if (c->dead)
        return;
    ws_ensure(c);
    c->in_recv = 1;
    int rc = wslay_event_recv(c->ws);
    c->in_recv = 0;
    if (rc != 0) {
        gw_conn_kill(c);
        return;
    }
    gw_conn_mark_dirty(c);
}

static void adopt(capi_gateway *gw, struct gw_msg *m)
{
    struct gw_conn *c = hs_slab_alloc(gw->conn_slab);
    c->gw = gw;
    c->fd = m->fd;
    c->params = m->params;
    m->params.host = NULL; /* the connection's now */
    c->extra = m->extra;
    c->extra_len = m->extra_len;
    m->extra = NULL;
    c->opened_ms = c->last_beat_ms = c->rl_start_ms = gw_now_ms();
    c->next = gw->conns;
    if (gw->conns)
        gw->conns->prev = c;
    gw->conns = c;
    gw->nconns++;

    /* A bounded kernel buffer: a client that stops reading costs at most this much in the
     * kernel (autotuning would let it grow to 4 MiB) before the session's own bound is
     * reached and it is cut off (spec/client-api.md §6.7). */
    int sndbuf = gw->cfg->gateway_sndbuf;
    if (sndbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    c->ep_events = e.events;
    if (epoll_ctl(gw->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) {
        hs_log(HS_LOG_WARN, "gateway", "epoll_ctl: %s", strerror(errno));
        gw_conn_kill(c);
        return;
    }
    if (c->params.version && c->params.version != 9 && c->params.version != 10) {
        gw_conn_close(c, 4012, "Invalid API version.");
        return;
    }
    if (c->params.bad_encoding || c->params.bad_compress) {
        gw_conn_close(c, 4002, "Decode error: only encoding=json and compress=zlib-stream.");
        return;
    }
    if (c->params.zlib_stream) {
        c->z = hs_xcalloc(1, sizeof(*c->z));
        /* A 4 KiB window and small hash tables keep the stream at ~32 KiB per connection
         * instead of ~256 KiB; any inflater (window 15) reads it. */
        if (deflateInit2(c->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 12, 5, Z_DEFAULT_STRATEGY) !=
            Z_OK)
            HS_BUG("deflateInit2 failed");
    }
    gw_conn_send_json(c, json_pack("{s:i, s:{s:i, s:[s]}, s:n, s:n}", "op", 10, "d",
                                   "heartbeat_interval", gw->cfg->gateway_heartbeat_ms, "_trace",
                                   "hearth-gateway", "s", "t"));
    if (c->extra_len)
        conn_readable(c);
}

/* ------------------------------------------------------------------ the loop */

/* Whether bytes wait unread on the connection's socket. */
static int unread(struct gw_conn *c)
{
    int n = 0;
    return ioctl(c->fd, FIONREAD, &n) == 0 && n > 0;
}

static void sweep(capi_gateway *gw)
{
    uint64_t now = gw_now_ms();
    uint64_t beat = (uint64_t)gw->cfg->gateway_heartbeat_ms;
    for (struct gw_conn *c = gw->conns; c; c = c->next) {
        if (c->dead)
            continue;
        if (c->closing) {
            if (now - c->closing_ms > GW_CLOSE_GRACE_MS)
                gw_conn_kill(c);
        } else if (!c->sess && now - c->opened_ms > beat) {
            gw_conn_close(c, 4003, "Not authenticated.");
        } else if (c->sess && now - c->last_beat_ms > beat + beat / 2 && !unread(c)) {
            /* (Bytes still unread may be the heartbeat itself, delayed by a busy loop.) */
            gw_conn_close(c, 4009, "Session timed out.");
        }
    }
    /* After a burst (many identifies, a mass reconnect) glibc keeps the freed memory;
     * give it back every 30 s, and within 2 s once replay rings have let go of more than
     * 4 MiB (the READY and GUILD_CREATE of a burst of sessions leave on their first
     * heartbeat), so that the process's size follows its sessions. */
    if (now - gw->last_trim_ms >= 30000 ||
        (gw->ring_freed > 4 * 1024 * 1024 && now - gw->last_trim_ms >= 2000)) {
        gw->last_trim_ms = now;
        gw->ring_freed = 0;
        gw_out_shrink(gw);
        malloc_trim(0);
    }
    uint64_t keep = (uint64_t)gw->cfg->gateway_resume_seconds * 1000;
    for (struct gw_session *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        if (!s->conn && now - s->detached_ms > keep)
            gw_session_free(gw, s);
    }
}

static void flush_and_reap(capi_gateway *gw)
{
    gw_flush_dirty(gw);
    while (gw->dead) {
        struct gw_conn *c = gw->dead;
        gw->dead = c->next_dead;
        conn_drop(c);
    }
}

static int drain_inbox(capi_gateway *gw)
{
    uint64_t v;
    ssize_t r = read(gw->evfd, &v, sizeof(v));
    (void)r;
    pthread_mutex_lock(&gw->lock);
    struct gw_msg *m = gw->head;
    gw->head = gw->tail = NULL;
    int stopping = gw->stopping;
    pthread_mutex_unlock(&gw->lock);
    while (m) {
        struct gw_msg *next = m->next;
        switch (m->kind) {
        case MSG_CONN:
            adopt(gw, m);
            break;
        case MSG_EVENT:
            gw_on_event(gw, m->ev);
            hs_event_unref(m->ev);
            break;
        case MSG_RECONNECT_ALL:
            for (struct gw_conn *c = gw->conns; c; c = c->next)
                gw_conn_close(c, 4000, "Reconnect and resume.");
            break;
        }
        free(m->extra);
        free(m->params.host);
        free(m);
        m = next;
    }
    return stopping;
}

static void *gateway_main(void *arg)
{
    capi_gateway *gw = arg;
    struct epoll_event evs[256];
    hs_error err;
    gw->db = hs_core_read_db(gw->core, &err);
    if (!gw->db)
        hs_panic(__FILE__, __LINE__, "gateway: %s", err.msg);
    for (;;) {
        int n = epoll_wait(gw->epfd, evs, (int)HS_ARRAY_LEN(evs), 1000);
        int stopping = 0;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == gw) {
                stopping = drain_inbox(gw);
                continue;
            }
            struct gw_conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                conn_readable(c);
            if (evs[i].events & EPOLLOUT)
                gw_conn_mark_dirty(c);
        }
        uint64_t now = gw_now_ms();
        if (now - gw->last_sweep_ms >= 1000) {
            gw->last_sweep_ms = now;
            sweep(gw);
        }
        /* Dropping a connection may dispatch (presence) to others: flush until quiet. */
        do
            flush_and_reap(gw);
        while (gw->dirty);
        if (stopping)
            break;
    }
    /* Stopping: tell every client to come back, give the frames a moment, then drop. */
    for (struct gw_conn *c = gw->conns; c; c = c->next)
        gw_conn_close(c, 4000, "Server restarting.");
    flush_and_reap(gw);
    while (gw->conns)
        conn_drop(gw->conns);
    gw->stopping_sessions = 1;
    while (gw->sessions)
        gw_session_free(gw, gw->sessions);
    gw_guilds_free(gw);
    return NULL;
}

capi_gateway *capi_gateway_new(hs_core *core)
{
    capi_gateway *gw = hs_xcalloc(1, sizeof(*gw));
    gw->core = core;
    gw->cfg = hs_core_config(core);
    pthread_mutex_init(&gw->lock, NULL);
    gw->conn_slab = hs_slab_new(sizeof(struct gw_conn));
    gw->sess_slab = hs_slab_new(sizeof(struct gw_session));
    gw->epfd = epoll_create1(EPOLL_CLOEXEC);
    gw->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    HS_ASSERT(gw->epfd >= 0 && gw->evfd >= 0);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = gw};
    epoll_ctl(gw->epfd, EPOLL_CTL_ADD, gw->evfd, &e);
    gw_writers_start(gw);
    if (pthread_create(&gw->thread, NULL, gateway_main, gw) != 0)
        HS_BUG("cannot start the gateway thread");
    gw->bus_sub = hs_bus_subscribe(hs_core_bus(core), on_bus_event, gw);
    return gw;
}

void capi_gateway_free(capi_gateway *gw)
{
    if (!gw)
        return;
    hs_bus_unsubscribe(hs_core_bus(gw->core), gw->bus_sub);
    uint64_t one = 1;
    pthread_mutex_lock(&gw->lock);
    gw->stopping = 1;
    pthread_mutex_unlock(&gw->lock);
    ssize_t w = write(gw->evfd, &one, sizeof(one));
    (void)w;
    pthread_join(gw->thread, NULL);
    gw_writers_stop(gw);
    for (struct gw_msg *m = gw->head, *next; m; m = next) {
        next = m->next;
        if (m->fd >= 0)
            close(m->fd);
        if (m->ev)
            hs_event_unref(m->ev);
        free(m->extra);
        free(m->params.host);
        free(m);
    }
    close(gw->epfd);
    close(gw->evfd);
    pthread_mutex_destroy(&gw->lock);
    hs_slab_free(gw->conn_slab);
    hs_slab_free(gw->sess_slab);
    free(gw);
}
