/*
 * DESIGN: the gateway is one thread with an epoll loop that owns every connection and
 * session, so none of their state needs a lock. Other threads reach it through an inbox (a
 * mutex-guarded list and an eventfd): upgraded sockets from the HTTP threads, committed
 * events from the bus, a drain request from the main thread.
 *
 * A session outlives its connection. Each dispatch gets the session's next sequence number
 * and its serialised frame is kept in a bounded ring, so a client that reconnects with
 * RESUME is sent every dispatch it missed. Events are serialised once per event (and once
 * more without content for bots lacking MESSAGE_CONTENT); each session then wraps the
 * shared bytes with its own sequence number. Writes are queued to wslay while an inbox
 * batch is processed and flushed once per connection at the end of the batch, so several
 * dispatches to one client leave in one write.
 *
 * Who may see an event is decided at the moment of dispatch, against the database as of
 * that commit: a permission change that hides a channel stops its events at once.
 */
#include "capi_gateway.h"
#include "hs_accounts.h"
#include "hs_buf.h"
#include "hs_channels.h"
#include "hs_dms.h"
#include "hs_guilds.h"
#include "hs_log.h"
#include "hs_perm.h"
#include "hs_threads.h"
#include "hs_time.h"
#include "hs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>
#include <zlib.h>

#define GW_MAX_PAYLOAD 4096      /* Discord's limit on a client payload */
#define GW_WSLAY_MAX (64 * 1024) /* larger messages are refused by wslay itself (1009) */
#define GW_RATE_EVENTS 120       /* client payloads per window */
#define GW_RATE_WINDOW_MS 60000
#define GW_CLOSE_GRACE_MS 5000      /* a closing connection is dropped after this */
#define GW_GUILD_CREATE_MEMBERS 100 /* members sent inline in GUILD_CREATE */

/* Intents (spec/client-api.md §6.3). */
#define I_GUILDS (1u << 0)
#define I_GUILD_MEMBERS (1u << 1)
#define I_GUILD_PRESENCES (1u << 8)
#define I_GUILD_MESSAGES (1u << 9)
#define I_GUILD_MESSAGE_TYPING (1u << 11)
#define I_MESSAGE_CONTENT (1u << 15)
#define I_KNOWN ((uint64_t)0x1FFFF | (1u << 20) | (1u << 21) | (1u << 24) | (1u << 25))
#define I_PRIVILEGED (I_GUILD_MEMBERS | I_GUILD_PRESENCES | I_MESSAGE_CONTENT)

enum { MSG_CONN, MSG_EVENT, MSG_RECONNECT_ALL };

struct gw_msg {
    int kind;
    int fd;
    char *extra;
    size_t extra_len;
    struct capi_gw_params params;
    hs_event *ev;
    struct gw_msg *next;
};

struct gw_frame {
    uint64_t seq;
    size_t len;
    char data[];
};

struct gw_conn;

struct gw_session {
    char id[33];
    uint64_t user_id;
    int bot;
    uint64_t app_id;
    uint64_t intents;
    int shard_id, shard_count;
    uint64_t seq;
    uint64_t acked;         /* the last seq the client acknowledged in a heartbeat */
    struct gw_frame **ring; /* the last dispatches not yet acknowledged, for RESUME */
    size_t ring_cap, ring_start, ring_len, ring_bytes;
    uint64_t *guilds; /* sorted */
    size_t nguilds, capguilds;
    struct gw_conn *conn;
    uint64_t detached_ms;
    char status[12];      /* online, idle, dnd, invisible */
    json_t *activities;   /* as the client last set them */
    uint64_t presence_at; /* ordering of presence updates across a user's sessions */
    struct gw_session *prev, *next;
};

struct gw_conn {
    capi_gateway *gw;
    int fd;
    wslay_event_context_ptr ws;
    struct gw_session *sess;
    struct capi_gw_params params;
    char *extra;
    size_t extra_len, extra_off;
    uint64_t opened_ms, last_beat_ms;
    uint64_t rl_start_ms;
    int rl_count;
    int closing;
    uint64_t closing_ms;
    int dead;        /* drop at the end of this batch */
    int dirty;       /* has queued output to flush */
    int end_session; /* the session ends with this connection (client closed 1000/1001) */
    uint32_t ep_events;
    z_stream *z;
    /* Input accounting that lets an idle connection give its wslay context back: bytes
     * handed to wslay, and bytes of the frames it has started (header + payload). */
    uint64_t in_read, in_framed;
    int in_fragmented; /* a data message whose last frame has not arrived */
    struct gw_conn *prev, *next;
    struct gw_conn *next_dirty;
};

struct capi_gateway {
    hs_core *core;
    const hs_config *cfg;
    pthread_t thread;
    int epfd, evfd;
    pthread_mutex_t lock;
    struct gw_msg *head, *tail;
    int stopping;
    struct gw_conn *conns;
    struct gw_conn *dirty;
    struct gw_session *sessions;
    size_t nsessions, nconns;
    hs_db *db;
    int bus_sub;
    uint64_t last_sweep_ms;
    uint64_t presence_clock;
};

static uint64_t now_ms(void)
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
    post(gw, m);
}

void capi_gateway_reconnect_all(capi_gateway *gw)
{
    struct gw_msg *m = hs_xcalloc(1, sizeof(*m));
    m->kind = MSG_RECONNECT_ALL;
    m->fd = -1;
    post(gw, m);
}

struct route;
static const struct route *route_of(const char *type);

static void on_bus_event(hs_event *ev, void *ud)
{
    capi_gateway *gw = ud;
    /* Only what the gateway dispatches crosses to its thread. */
    if (!route_of(ev->type))
        return;
    struct gw_msg *m = hs_xcalloc(1, sizeof(*m));
    m->kind = MSG_EVENT;
    m->fd = -1;
    m->ev = hs_event_ref(ev);
    post(gw, m);
}

/* ------------------------------------------------------------------ sessions */

static int session_has_guild(const struct gw_session *s, uint64_t gid)
{
    size_t lo = 0, hi = s->nguilds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->guilds[mid] == gid)
            return 1;
        if (s->guilds[mid] < gid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int shard_owns(const struct gw_session *s, uint64_t gid)
{
    return s->shard_count <= 1 || (int)((gid >> 22) % (uint64_t)s->shard_count) == s->shard_id;
}

static void session_add_guild(struct gw_session *s, uint64_t gid)
{
    if (session_has_guild(s, gid))
        return;
    if (s->nguilds == s->capguilds) {
        s->capguilds = s->capguilds ? s->capguilds * 2 : 8;
        s->guilds = hs_xrealloc(s->guilds, s->capguilds * sizeof(*s->guilds));
    }
    size_t i = s->nguilds;
    while (i > 0 && s->guilds[i - 1] > gid) {
        s->guilds[i] = s->guilds[i - 1];
        i--;
    }
    s->guilds[i] = gid;
    s->nguilds++;
}

static void session_free(capi_gateway *gw, struct gw_session *s)
{
    if (s->conn)
        s->conn->sess = NULL;
    if (s->prev)
        s->prev->next = s->next;
    else
        gw->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    for (size_t i = 0; i < s->ring_len; i++)
        free(s->ring[(s->ring_start + i) % s->ring_cap]);
    free(s->ring);
    free(s->guilds);
    json_decref(s->activities);
    free(s);
    gw->nsessions--;
}

/* The client says (in its heartbeat) it has every dispatch up to seq: those leave the
 * replay ring, since a RESUME will never ask for them. An idle session thus keeps no frames
 * once it has heartbeated. */
static void session_acked(struct gw_session *s, uint64_t seq)
{
    if (seq > s->seq)
        return;
    while (s->ring_len > 0 && s->ring[s->ring_start]->seq <= seq) {
        struct gw_frame *f = s->ring[s->ring_start];
        s->ring_bytes -= f->len;
        free(f);
        s->ring_start = (s->ring_start + 1) % s->ring_cap;
        s->ring_len--;
    }
    if (s->ring_len == 0) {
        free(s->ring);
        s->ring = NULL;
        s->ring_cap = s->ring_start = 0;
    }
    s->acked = seq;
}

static struct gw_session *session_find(capi_gateway *gw, const char *id)
{
    for (struct gw_session *s = gw->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* ------------------------------------------------------------------ connections */

static void ws_ensure(struct gw_conn *c);

static void conn_mark_dirty(struct gw_conn *c)
{
    if (!c->dirty && !c->dead) {
        c->dirty = 1;
        c->next_dirty = c->gw->dirty;
        c->gw->dirty = c;
    }
}

static void conn_close(struct gw_conn *c, uint16_t code, const char *reason)
{
    if (c->closing || c->dead)
        return;
    c->closing = 1;
    c->closing_ms = now_ms();
    ws_ensure(c);
    wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason));
    conn_mark_dirty(c);
}

/* Queues one gateway payload, compressed for zlib-stream connections. */
static void conn_send(struct gw_conn *c, const char *text, size_t len)
{
    if (c->closing || c->dead)
        return;
    struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    unsigned char *zbuf = NULL;
    if (c->z) {
        size_t cap = deflateBound(c->z, (uLong)len) + 16;
        zbuf = hs_xmalloc(cap);
        c->z->next_in = (Bytef *)text;
        c->z->avail_in = (uInt)len;
        c->z->next_out = zbuf;
        c->z->avail_out = (uInt)cap;
        int zrc = deflate(c->z, Z_SYNC_FLUSH);
        HS_ASSERT(zrc == Z_OK && c->z->avail_in == 0);
        msg.opcode = WSLAY_BINARY_FRAME;
        msg.msg = zbuf;
        msg.msg_length = cap - c->z->avail_out;
    }
    ws_ensure(c);
    wslay_event_queue_msg(c->ws, &msg);
    free(zbuf);
    conn_mark_dirty(c);
    size_t max = (size_t)c->gw->cfg->gateway_max_queued_bytes;
    /* One batch of events (a group commit) may pass the bound by itself: write what the
     * socket takes now, and call the consumer slow only if that much still waits. */
    if (wslay_event_get_queued_msg_length(c->ws) > max && wslay_event_send(c->ws) != 0) {
        c->dead = 1;
        return;
    }
    if (wslay_event_get_queued_msg_length(c->ws) > max) {
        /* A consumer that cannot keep up is cut off rather than allowed to grow memory; its
         * session stays resumable and the ring holds what it missed. */
        hs_log(HS_LOG_WARN, "gateway", "closing a slow consumer (%zu bytes queued)",
               wslay_event_get_queued_msg_length(c->ws));
        c->dead = 1;
    }
}

static void conn_sendf_json(struct gw_conn *c, json_t *payload /* takes */)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    conn_send(c, text, strlen(text));
    free(text);
}

/* Appends a dispatch to the session's ring and sends it when connected. d is JSON text. */
static void dispatch(capi_gateway *gw, struct gw_session *s, const char *t, const char *d,
                     size_t dlen)
{
    hs_buf b = HS_BUF_INIT;
    uint64_t seq = ++s->seq;
    hs_buf_addf(&b, "{\"t\":\"%s\",\"s\":%" PRIu64 ",\"op\":0,\"d\":", t, seq);
    hs_buf_add(&b, d, dlen);
    hs_buf_add(&b, "}", 1);

    struct gw_frame *f = hs_xmalloc(sizeof(*f) + b.len + 1);
    f->seq = seq;
    f->len = b.len;
    memcpy(f->data, b.data, b.len + 1);
    hs_buf_release(&b);

    size_t max_events = (size_t)gw->cfg->gateway_replay_events;
    size_t max_bytes = (size_t)gw->cfg->gateway_max_queued_bytes;
    if (!s->ring) {
        s->ring_cap = max_events < 64 ? max_events : 64;
        s->ring = hs_xcalloc(s->ring_cap, sizeof(*s->ring));
    }
    while (s->ring_len > 0 && (s->ring_len >= max_events || s->ring_bytes + f->len > max_bytes)) {
        struct gw_frame *old = s->ring[s->ring_start];
        s->ring_bytes -= old->len;
        free(old);
        s->ring_start = (s->ring_start + 1) % s->ring_cap;
        s->ring_len--;
    }
    if (s->ring_len == s->ring_cap) {
        size_t ncap = s->ring_cap * 2 > max_events ? max_events : s->ring_cap * 2;
        struct gw_frame **nr = hs_xcalloc(ncap, sizeof(*nr));
        for (size_t i = 0; i < s->ring_len; i++)
            nr[i] = s->ring[(s->ring_start + i) % s->ring_cap];
        free(s->ring);
        s->ring = nr;
        s->ring_cap = ncap;
        s->ring_start = 0;
    }
    s->ring[(s->ring_start + s->ring_len) % s->ring_cap] = f;
    s->ring_len++;
    s->ring_bytes += f->len;

    if (s->conn)
        conn_send(s->conn, f->data, f->len);
}

static void dispatch_json(capi_gateway *gw, struct gw_session *s, const char *t, json_t *d)
{
    char *text = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(d);
    dispatch(gw, s, t, text, strlen(text));
    free(text);
}

/* ------------------------------------------------------------------ presence */

/* The connected session whose presence a user shows: the one updated last. */
static struct gw_session *presence_source(capi_gateway *gw, uint64_t uid)
{
    struct gw_session *best = NULL;
    for (struct gw_session *s = gw->sessions; s; s = s->next)
        if (s->user_id == uid && s->conn && (!best || s->presence_at > best->presence_at))
            best = s;
    return best;
}

static json_t *presence_json(capi_gateway *gw, uint64_t uid, uint64_t gid)
{
    struct gw_session *src = presence_source(gw, uid);
    int visible = src && strcmp(src->status, "invisible") != 0;
    const char *status = visible ? src->status : "offline";
    json_t *acts = visible && src->activities ? json_incref(src->activities) : json_array();
    json_t *p =
        json_pack("{s:{s:o}, s:o, s:s, s:o, s:{}}", "user", "id", hs_json_id(uid), "guild_id",
                  hs_json_id(gid), "status", status, "activities", acts, "client_status");
    if (visible)
        json_object_set_new(json_object_get(p, "client_status"), "web", json_string(status));
    return p;
}

/* Whether a session receives other users' presence. */
static int wants_presence(const struct gw_session *s)
{
    return !s->bot || (s->intents & I_GUILD_PRESENCES);
}

/* Sends uid's current presence to every session sharing a guild with it (lazy delivery:
 * only guilds both are in, spec/client-api.md §6.5). */
static void broadcast_presence(capi_gateway *gw, uint64_t uid)
{
    size_t n = 0;
    uint64_t *ids = hs_guild_ids_for_user(gw->db, uid, &n);
    for (size_t i = 0; i < n; i++) {
        char *text = NULL;
        for (struct gw_session *s = gw->sessions; s; s = s->next) {
            if (s->user_id == uid || !session_has_guild(s, ids[i]) || !wants_presence(s))
                continue;
            if (!text) {
                json_t *p = presence_json(gw, uid, ids[i]);
                text = json_dumps(p, JSON_COMPACT);
                json_decref(p);
            }
            dispatch(gw, s, "PRESENCE_UPDATE", text, strlen(text));
        }
        free(text);
    }
    free(ids);
}

/* Reads {status, activities} of IDENTIFY's presence or op 3 into s. Returns -1 when it is
 * not a presence. */
static int set_presence(capi_gateway *gw, struct gw_session *s, json_t *d)
{
    static const char *const statuses[] = {"online", "idle", "dnd", "invisible", "offline"};
    const char *status = json_string_value(json_object_get(d, "status"));
    json_t *acts = json_object_get(d, "activities");
    size_t i;
    if (!status)
        return -1;
    for (i = 0; i < HS_ARRAY_LEN(statuses); i++)
        if (strcmp(status, statuses[i]) == 0)
            break;
    if (i == HS_ARRAY_LEN(statuses) || (acts && !json_is_null(acts) && !json_is_array(acts)) ||
        json_array_size(acts) > 10)
        return -1;
    /* "offline" from a client means invisible: it is still connected. */
    snprintf(s->status, sizeof(s->status), "%s", i == 4 ? "invisible" : statuses[i]);
    json_decref(s->activities);
    s->activities = json_is_array(acts) ? json_deep_copy(acts) : json_array();
    s->presence_at = ++gw->presence_clock;
    return 0;
}

/* ------------------------------------------------------------------ payloads */

static json_t *guild_create_payload(capi_gateway *gw, uint64_t gid, uint64_t uid)
{
    hs_db *db = gw->db;
    json_t *g = hs_guild_json(db, gid, 0);
    if (!g)
        return NULL;
    json_t *members = hs_member_list(db, gid, 0, GW_GUILD_CREATE_MEMBERS);
    int64_t count = hs_member_count(db, gid);
    json_t *self = hs_member_json(db, gid, uid);
    if (self) {
        /* The caller is always among the (at most GW_GUILD_CREATE_MEMBERS) members. */
        json_object_set(g, "joined_at", json_object_get(self, "joined_at"));
        const char *me = json_string_value(json_object_get(json_object_get(self, "user"), "id"));
        int present = 0;
        size_t i;
        json_t *m;
        json_array_foreach(members, i, m)
        {
            const char *id = json_string_value(json_object_get(json_object_get(m, "user"), "id"));
            present |= id && me && strcmp(id, me) == 0;
        }
        if (!present) {
            if (json_array_size(members) >= GW_GUILD_CREATE_MEMBERS)
                json_array_remove(members, json_array_size(members) - 1);
            json_array_append(members, self);
        }
        json_decref(self);
    }
    json_object_set_new(g, "channels", hs_channel_list(db, gid, uid));
    json_object_set_new(g, "members", members);
    json_object_set_new(g, "member_count", json_integer(count));
    json_object_set_new(g, "large", json_boolean(count > 250));
    json_object_set_new(g, "unavailable", json_false());
    json_t *presences = json_array();
    for (struct gw_session *o = gw->sessions; o; o = o->next) {
        if (!o->conn || !session_has_guild(o, gid) || strcmp(o->status, "invisible") == 0 ||
            presence_source(gw, o->user_id) != o)
            continue;
        json_array_append_new(presences, presence_json(gw, o->user_id, gid));
    }
    json_object_set_new(g, "presences", presences);
    const char *empty[] = {"threads",           "voice_states",
                           "stage_instances",   "guild_scheduled_events",
                           "soundboard_sounds", "embedded_activities"};
    for (size_t i = 0; i < HS_ARRAY_LEN(empty); i++)
        json_object_set_new(g, empty[i], json_array());
    json_object_set_new(g, "threads", hs_thread_active(db, gid, uid, NULL));
    return g;
}

static void send_guild_create(capi_gateway *gw, struct gw_session *s, uint64_t gid)
{
    json_t *g = guild_create_payload(gw, gid, s->user_id);
    if (g)
        dispatch_json(gw, s, "GUILD_CREATE", g);
}

/* ------------------------------------------------------------------ client ops */

static void send_invalid_session(struct gw_conn *c)
{
    conn_sendf_json(c, json_pack("{s:i, s:b, s:n, s:n}", "op", 9, "d", 0, "s", "t"));
}

/* The privileged intents an application's flags allow (Discord's GATEWAY_* flags; the
 * _LIMITED variants count as allowed). */
static uint64_t privileged_allowed(uint64_t flags)
{
    uint64_t allowed = 0;
    if (flags & (HS_APP_FLAG_GATEWAY_PRESENCE | HS_APP_FLAG_GATEWAY_PRESENCE_LIMITED))
        allowed |= I_GUILD_PRESENCES;
    if (flags & (HS_APP_FLAG_GATEWAY_GUILD_MEMBERS | HS_APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED))
        allowed |= I_GUILD_MEMBERS;
    if (flags & (HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT | HS_APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED))
        allowed |= I_MESSAGE_CONTENT;
    return allowed;
}

static int parse_token(json_t *d, const char **token)
{
    json_t *t = json_object_get(d, "token");
    if (!json_is_string(t))
        return -1;
    *token = json_string_value(t);
    if (strncmp(*token, "Bot ", 4) == 0)
        *token += 4;
    return 0;
}

static void op_identify(struct gw_conn *c, json_t *d)
{
    capi_gateway *gw = c->gw;
    const char *token;
    struct hs_user user;
    if (!json_is_object(d) || parse_token(d, &token) < 0) {
        conn_close(c, 4002, "Decode error: IDENTIFY needs a token.");
        return;
    }
    if (hs_auth_token(gw->db, token, -1, &user, NULL) < 0) {
        conn_close(c, 4004, "Authentication failed.");
        return;
    }
    uint64_t intents = I_KNOWN;
    uint64_t app_id = 0;
    json_t *ji = json_object_get(d, "intents");
    if (user.bot) {
        if (!json_is_integer(ji) || json_integer_value(ji) < 0 ||
            ((uint64_t)json_integer_value(ji) & ~I_KNOWN)) {
            conn_close(c, 4013, "Invalid intent(s).");
            return;
        }
        intents = (uint64_t)json_integer_value(ji);
        struct hs_app app;
        if (hs_app_of_bot(gw->db, user.id, &app, NULL) == 0)
            app_id = app.id;
        if (intents & I_PRIVILEGED & ~privileged_allowed(hs_app_flags(gw->db, app_id))) {
            conn_close(c, 4014, "Disallowed intent(s).");
            return;
        }
    }
    int shard_id = 0, shard_count = 1;
    json_t *js = json_object_get(d, "shard");
    if (js && !json_is_null(js)) {
        if (!json_is_array(js) || json_array_size(js) != 2 ||
            !json_is_integer(json_array_get(js, 0)) || !json_is_integer(json_array_get(js, 1))) {
            conn_close(c, 4010, "Invalid shard.");
            return;
        }
        json_int_t id = json_integer_value(json_array_get(js, 0));
        json_int_t n = json_integer_value(json_array_get(js, 1));
        if (n < 1 || n > 1024 || id < 0 || id >= n) {
            conn_close(c, 4010, "Invalid shard.");
            return;
        }
        shard_id = (int)id;
        shard_count = (int)n;
    }

    struct gw_session *s = hs_xcalloc(1, sizeof(*s));
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(s->id, sizeof(s->id), rnd, sizeof(rnd));
    s->user_id = user.id;
    s->bot = user.bot;
    s->app_id = app_id;
    s->intents = intents;
    s->shard_id = shard_id;
    s->shard_count = shard_count;
    s->next = gw->sessions;
    if (gw->sessions)
        gw->sessions->prev = s;
    gw->sessions = s;
    gw->nsessions++;
    s->conn = c;
    c->sess = s;
    json_t *jp = json_object_get(d, "presence");
    if (!jp || set_presence(gw, s, jp) < 0) {
        snprintf(s->status, sizeof(s->status), "online");
        s->activities = json_array();
        s->presence_at = ++gw->presence_clock;
    }

    size_t n = 0;
    uint64_t *ids = hs_guild_ids_for_user(gw->db, user.id, &n);
    json_t *stubs = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!shard_owns(s, ids[i]))
            continue;
        session_add_guild(s, ids[i]);
        json_array_append_new(stubs,
                              json_pack("{s:o, s:b}", "id", hs_json_id(ids[i]), "unavailable", 1));
    }
    char url[300];
    snprintf(url, sizeof(url), "ws://%s/gateway", c->params.host[0] ? c->params.host : "localhost");
    json_t *ready =
        json_pack("{s:i, s:o, s:o, s:s, s:s, s:s, s:[], s:[], s:[], s:{}, s:[], s:[], s:[s]}", "v",
                  10, "user", hs_user_json(gw->db, user.id, 1), "guilds", stubs, "session_id",
                  s->id, "resume_gateway_url", url, "session_type", "normal", "private_channels",
                  "relationships", "presences", "user_settings", "guild_join_requests",
                  "geo_ordered_rtc_regions", "_trace", "hearth-gateway");
    HS_ASSERT(ready);
    /* A user's open DMs and group DMs; bots get theirs as CHANNEL_CREATE when used. */
    if (!user.bot)
        json_object_set_new(ready, "private_channels", hs_dm_list(gw->db, user.id));
    if (app_id)
        json_object_set_new(ready, "application",
                            json_pack("{s:o, s:I}", "id", hs_json_id(app_id), "flags",
                                      (json_int_t)hs_app_flags(gw->db, app_id)));
    if (js && !json_is_null(js))
        json_object_set_new(ready, "shard", json_pack("[i, i]", shard_id, shard_count));
    dispatch_json(gw, s, "READY", ready);
    for (size_t i = 0; i < s->nguilds; i++)
        send_guild_create(gw, s, s->guilds[i]);
    free(ids);
    broadcast_presence(gw, user.id);
    hs_log(HS_LOG_DEBUG, "gateway", "session %s identified (user %" PRIu64 ", %zu guilds)", s->id,
           user.id, s->nguilds);
}

static void op_resume(struct gw_conn *c, json_t *d)
{
    capi_gateway *gw = c->gw;
    const char *token;
    struct hs_user user;
    json_t *sid = json_object_get(d, "session_id");
    json_t *seqj = json_object_get(d, "seq");
    if (!json_is_object(d) || parse_token(d, &token) < 0 || !json_is_string(sid) ||
        !(json_is_integer(seqj) || json_is_null(seqj))) {
        conn_close(c, 4002, "Decode error: RESUME needs token, session_id and seq.");
        return;
    }
    if (hs_auth_token(gw->db, token, -1, &user, NULL) < 0) {
        conn_close(c, 4004, "Authentication failed.");
        return;
    }
    struct gw_session *s = session_find(gw, json_string_value(sid));
    if (!s || s->user_id != user.id) {
        /* Unknown, expired or someone else's: start over with IDENTIFY. */
        send_invalid_session(c);
        return;
    }
    uint64_t seq = json_is_integer(seqj) && json_integer_value(seqj) > 0
                       ? (uint64_t)json_integer_value(seqj)
                       : 0;
    if (seq > s->seq) {
        conn_close(c, 4007, "Invalid seq.");
        return;
    }
    uint64_t oldest = s->ring_len ? s->ring[s->ring_start]->seq : s->seq + 1;
    if (seq < s->acked || seq + 1 < oldest) {
        /* Some of what it missed has left the ring: it cannot be made whole. */
        session_free(gw, s);
        send_invalid_session(c);
        return;
    }
    if (s->conn) {
        struct gw_conn *old = s->conn;
        old->sess = NULL;
        conn_close(old, 4000, "Session resumed elsewhere.");
    }
    s->conn = c;
    c->sess = s;
    for (size_t i = 0; i < s->ring_len; i++) {
        struct gw_frame *f = s->ring[(s->ring_start + i) % s->ring_cap];
        if (f->seq > seq)
            conn_send(c, f->data, f->len);
    }
    dispatch(gw, s, "RESUMED", "{}", 2);
    broadcast_presence(gw, s->user_id);
    hs_log(HS_LOG_DEBUG, "gateway", "session %s resumed from seq %" PRIu64, s->id, seq);
}

#define GW_CHUNK 1000 /* members per GUILD_MEMBERS_CHUNK */

static void send_chunk(capi_gateway *gw, struct gw_session *s, uint64_t gid, json_t *members,
                       int index, int count, json_t *not_found, json_t *nonce, int presences)
{
    json_t *d = json_pack("{s:o, s:o, s:i, s:i}", "guild_id", hs_json_id(gid), "members", members,
                          "chunk_index", index, "chunk_count", count);
    if (not_found)
        json_object_set_new(d, "not_found", not_found);
    if (nonce)
        json_object_set(d, "nonce", nonce);
    if (presences) {
        json_t *list = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(members, i, m)
        {
            uint64_t uid = 0;
            hs_parse_u64(json_string_value(json_object_get(json_object_get(m, "user"), "id")),
                         &uid);
            struct gw_session *src = presence_source(gw, uid);
            if (src && strcmp(src->status, "invisible") != 0)
                json_array_append_new(list, presence_json(gw, uid, gid));
        }
        json_object_set_new(d, "presences", list);
    }
    dispatch_json(gw, s, "GUILD_MEMBERS_CHUNK", d);
}

/* REQUEST_GUILD_MEMBERS (op 8): by user_ids, by username/nickname prefix, or (query "" and
 * limit 0) everyone, in chunks of GW_CHUNK. */
static void op_request_members(struct gw_conn *c, json_t *d)
{
    capi_gateway *gw = c->gw;
    struct gw_session *s = c->sess;
    uint64_t gid = 0;
    json_t *jg = json_object_get(d, "guild_id");
    json_t *nonce = json_object_get(d, "nonce");
    json_t *ids = json_object_get(d, "user_ids");
    const char *query = json_string_value(json_object_get(d, "query"));
    json_t *jl = json_object_get(d, "limit");
    int presences = json_is_true(json_object_get(d, "presences"));
    if (!json_is_string(jg) || hs_parse_u64(json_string_value(jg), &gid) < 0 ||
        (nonce && (!json_is_string(nonce) || json_string_length(nonce) > 32)) ||
        (!ids && (!query || !json_is_integer(jl))) ||
        (ids && !json_is_array(ids) && !json_is_string(ids))) {
        conn_close(c, 4001, "Invalid REQUEST_GUILD_MEMBERS.");
        return;
    }
    if (!session_has_guild(s, gid))
        return; /* Not in that guild: nothing to tell. */
    if (ids) {
        json_t *members = json_array(), *not_found = json_array();
        json_t *list = json_is_string(ids) ? json_pack("[O]", ids) : json_incref(ids);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            uint64_t uid;
            json_t *m = NULL;
            if (i >= 100)
                break;
            if (json_is_string(v) && hs_parse_u64(json_string_value(v), &uid) == 0)
                m = hs_member_json(gw->db, gid, uid);
            if (m)
                json_array_append_new(members, m);
            else
                json_array_append(not_found, v);
        }
        json_decref(list);
        send_chunk(gw, s, gid, members, 0, 1, not_found, nonce, presences);
        return;
    }
    json_int_t limit = json_integer_value(jl);
    if (query[0] || limit > 0) {
        int lim = limit <= 0 || limit > 100 ? 100 : (int)limit;
        send_chunk(gw, s, gid, hs_member_search(gw->db, gid, query, lim), 0, 1, NULL, nonce,
                   presences);
        return;
    }
    int64_t total = hs_member_count(gw->db, gid);
    int count = (int)((total + GW_CHUNK - 1) / GW_CHUNK);
    if (count == 0)
        count = 1;
    uint64_t after = 0;
    for (int i = 0; i < count; i++) {
        json_t *members = hs_member_list(gw->db, gid, after, GW_CHUNK);
        size_t n = json_array_size(members);
        if (n)
            hs_parse_u64(json_string_value(json_object_get(
                             json_object_get(json_array_get(members, n - 1), "user"), "id")),
                         &after);
        send_chunk(gw, s, gid, members, i, count, NULL, nonce, presences);
    }
}

static void handle_payload(struct gw_conn *c, const uint8_t *msg, size_t len)
{
    uint64_t now = now_ms();
    if (c->closing || c->dead)
        return;
    if (now - c->rl_start_ms >= GW_RATE_WINDOW_MS) {
        c->rl_start_ms = now;
        c->rl_count = 0;
    }
    if (++c->rl_count > GW_RATE_EVENTS) {
        conn_close(c, 4008, "Rate limited.");
        return;
    }
    if (len > GW_MAX_PAYLOAD) {
        conn_close(c, 4002, "Decode error: payload over 4096 bytes.");
        return;
    }
    json_error_t jerr;
    json_t *p = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *op = json_object_get(p, "op");
    if (!json_is_object(p) || !json_is_integer(op)) {
        json_decref(p);
        conn_close(c, 4002, "Decode error.");
        return;
    }
    json_t *d = json_object_get(p, "d");
    switch (json_integer_value(op)) {
    case 1: /* HEARTBEAT */
        c->last_beat_ms = now;
        if (c->sess && json_is_integer(d) && json_integer_value(d) > 0)
            session_acked(c->sess, (uint64_t)json_integer_value(d));
        conn_sendf_json(c, json_pack("{s:i}", "op", 11));
        break;
    case 2: /* IDENTIFY */
        if (c->sess)
            conn_close(c, 4005, "Already authenticated.");
        else
            op_identify(c, d);
        break;
    case 6: /* RESUME */
        if (c->sess)
            conn_close(c, 4005, "Already authenticated.");
        else
            op_resume(c, d);
        break;
    case 3: /* PRESENCE_UPDATE */
        if (!c->sess)
            conn_close(c, 4003, "Not authenticated.");
        else if (set_presence(c->gw, c->sess, d) < 0)
            conn_close(c, 4001, "Invalid presence.");
        else
            broadcast_presence(c->gw, c->sess->user_id);
        break;
    case 8: /* REQUEST_GUILD_MEMBERS */
        if (!c->sess)
            conn_close(c, 4003, "Not authenticated.");
        else
            op_request_members(c, d);
        break;
    case 4: /* VOICE_STATE_UPDATE */
        if (!c->sess)
            conn_close(c, 4003, "Not authenticated.");
        /* Accepted; voice arrives with the SFU. */
        break;
    default:
        if (!c->sess)
            conn_close(c, 4003, "Not authenticated.");
        else
            conn_close(c, 4001, "Unknown opcode.");
    }
    json_decref(p);
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

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user_data)
{
    struct gw_conn *c = user_data;
    int sflags = MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0);
    ssize_t n = send(c->fd, data, len, sflags);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user_data)
{
    struct gw_conn *c = user_data;
    (void)ctx;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
        handle_payload(c, arg->msg, arg->msg_length);
        break;
    case WSLAY_BINARY_FRAME:
        conn_close(c, 4002, "Decode error: send JSON in text frames.");
        break;
    case WSLAY_CONNECTION_CLOSE:
        /* 1000 and 1001 end the session; any other code leaves it resumable. */
        if (arg->status_code == 1000 || arg->status_code == 1001)
            c->end_session = 1;
        c->closing = 1;
        c->closing_ms = now_ms();
        conn_mark_dirty(c);
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
 * An idle connection holds no wslay context (about 9 KiB each): it is made when bytes
 * arrive or a frame is queued, and given back when nothing is queued to send and no
 * partial frame has been read (DESIGN.md §3).
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

static void ws_release_if_idle(struct gw_conn *c)
{
    if (c->ws && !c->closing && !wslay_event_want_write(c->ws) && c->in_read == c->in_framed &&
        !c->in_fragmented && c->extra_off == c->extra_len) {
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
        s->detached_ms = now_ms();
        if (c->end_session)
            session_free(gw, s);
        if (!presence_source(gw, uid))
            broadcast_presence(gw, uid); /* its last connection: now offline */
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        gw->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->extra);
    free(c);
    gw->nconns--;
}

/* Sends what is queued and updates the epoll interest; marks the connection dead when it
 * is finished. */
static void conn_flush(struct gw_conn *c)
{
    if (c->dead)
        return;
    int want_read = !c->closing, want_write = 0;
    if (c->ws) {
        if (wslay_event_send(c->ws) != 0) {
            c->dead = 1;
            return;
        }
        want_read = wslay_event_want_read(c->ws) && !c->closing;
        want_write = wslay_event_want_write(c->ws);
        if ((c->closing && !want_write) || (!want_read && !want_write)) {
            c->dead = 1;
            return;
        }
        ws_release_if_idle(c);
    }
    uint32_t ev = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0) | EPOLLRDHUP;
    if (ev != c->ep_events) {
        struct epoll_event e = {.events = ev, .data.ptr = c};
        epoll_ctl(c->gw->epfd, EPOLL_CTL_MOD, c->fd, &e);
        c->ep_events = ev;
    }
}

static void conn_readable(struct gw_conn *c)
{
    if (c->dead)
        return;
    ws_ensure(c);
    if (wslay_event_recv(c->ws) != 0) {
        c->dead = 1;
        return;
    }
    conn_mark_dirty(c);
}

static void adopt(capi_gateway *gw, struct gw_msg *m)
{
    struct gw_conn *c = hs_xcalloc(1, sizeof(*c));
    c->gw = gw;
    c->fd = m->fd;
    c->params = m->params;
    c->extra = m->extra;
    c->extra_len = m->extra_len;
    m->extra = NULL;
    c->opened_ms = c->last_beat_ms = c->rl_start_ms = now_ms();
    c->next = gw->conns;
    if (gw->conns)
        gw->conns->prev = c;
    gw->conns = c;
    gw->nconns++;

    struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    c->ep_events = e.events;
    if (epoll_ctl(gw->epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) {
        hs_log(HS_LOG_WARN, "gateway", "epoll_ctl: %s", strerror(errno));
        c->dead = 1;
        return;
    }
    if (c->params.version && c->params.version != 9 && c->params.version != 10) {
        conn_close(c, 4012, "Invalid API version.");
        return;
    }
    if (c->params.bad_encoding || c->params.bad_compress) {
        conn_close(c, 4002, "Decode error: only encoding=json and compress=zlib-stream.");
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
    conn_sendf_json(c, json_pack("{s:i, s:{s:i, s:[s]}, s:n, s:n}", "op", 10, "d",
                                 "heartbeat_interval", gw->cfg->gateway_heartbeat_ms, "_trace",
                                 "hearth-gateway", "s", "t"));
    if (c->extra_len)
        conn_readable(c);
}

/* ------------------------------------------------------------------ events */

static int mentions_user(json_t *msg, uint64_t uid)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(msg, "mentions"), i, u)
    {
        uint64_t id;
        if (hs_parse_u64(json_string_value(json_object_get(u, "id")), &id) == 0 && id == uid)
            return 1;
    }
    return 0;
}

/* Which sessions hear of an event (spec/client-api.md §6.4). */
enum audience {
    AUD_CHANNEL,      /* sessions that may view ev->channel_id (guild members or recipients) */
    AUD_CHANNEL_PERM, /* ... and hold `perm` in it */
    AUD_GUILD,        /* sessions in ev->guild_id */
    AUD_GUILD_PERM,   /* ... holding the guild-level permission `perm` */
    AUD_SELF,         /* the sessions of ev->actor_id (the user the event is about) */
    AUD_MEMBER_ADD,
    AUD_MEMBER_REMOVE,
    AUD_MEMBER_UPDATE,
    AUD_GUILD_DELETE,
};

struct route {
    const char *type;
    int audience;
    uint64_t intent;    /* in a guild */
    uint64_t dm_intent; /* in a DM (0: the same as intent) */
    uint64_t perm;
    int has_content; /* blank content for bots without MESSAGE_CONTENT */
};

#define I_GUILD_MODERATION (1u << 2)
#define I_GUILD_INVITES (1u << 6)
#define I_GUILD_MESSAGE_REACTIONS (1u << 10)
#define I_DIRECT_MESSAGES (1u << 12)
#define I_DIRECT_MESSAGE_REACTIONS (1u << 13)
#define I_DIRECT_MESSAGE_TYPING (1u << 14)
#define I_AUTOMOD_CONFIGURATION (1u << 20)
#define I_AUTOMOD_EXECUTION (1u << 21)
#define I_ALWAYS ((uint64_t)-1)

static const struct route routes[] = {
    {"MESSAGE_CREATE", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 1},
    {"MESSAGE_UPDATE", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 1},
    {"MESSAGE_DELETE", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 0},
    {"MESSAGE_DELETE_BULK", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 0},
    {"MESSAGE_REACTION_ADD", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS, I_DIRECT_MESSAGE_REACTIONS, 0,
     0},
    {"MESSAGE_REACTION_REMOVE", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS, I_DIRECT_MESSAGE_REACTIONS,
     0, 0},
    {"MESSAGE_REACTION_REMOVE_ALL", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS,
     I_DIRECT_MESSAGE_REACTIONS, 0, 0},
    {"MESSAGE_REACTION_REMOVE_EMOJI", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS,
     I_DIRECT_MESSAGE_REACTIONS, 0, 0},
    {"TYPING_START", AUD_CHANNEL, I_GUILD_MESSAGE_TYPING, I_DIRECT_MESSAGE_TYPING, 0, 0},
    {"CHANNEL_CREATE", AUD_CHANNEL, I_GUILDS, I_ALWAYS, 0, 0},
    {"CHANNEL_UPDATE", AUD_CHANNEL, I_GUILDS, I_ALWAYS, 0, 0},
    {"CHANNEL_DELETE", AUD_CHANNEL, I_GUILDS, I_ALWAYS, 0, 0},
    {"CHANNEL_PINS_UPDATE", AUD_CHANNEL, I_GUILDS, I_DIRECT_MESSAGES, 0, 0},
    {"CHANNEL_RECIPIENT_ADD", AUD_CHANNEL, I_ALWAYS, I_ALWAYS, 0, 0},
    {"CHANNEL_RECIPIENT_REMOVE", AUD_CHANNEL, I_ALWAYS, I_ALWAYS, 0, 0},
    {"THREAD_CREATE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_UPDATE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_DELETE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_MEMBERS_UPDATE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_MEMBER_UPDATE", AUD_SELF, I_GUILDS, 0, 0, 0},
    {"INVITE_CREATE", AUD_CHANNEL_PERM, I_GUILD_INVITES, 0, HS_PERM_MANAGE_CHANNELS, 0},
    {"INVITE_DELETE", AUD_CHANNEL_PERM, I_GUILD_INVITES, 0, HS_PERM_MANAGE_CHANNELS, 0},
    {"GUILD_UPDATE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_DELETE", AUD_GUILD_DELETE, I_ALWAYS, 0, 0, 0},
    {"GUILD_ROLE_CREATE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_ROLE_UPDATE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_ROLE_DELETE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_MEMBER_ADD", AUD_MEMBER_ADD, I_GUILD_MEMBERS, 0, 0, 0},
    {"GUILD_MEMBER_UPDATE", AUD_MEMBER_UPDATE, I_GUILD_MEMBERS, 0, 0, 0},
    {"GUILD_MEMBER_REMOVE", AUD_MEMBER_REMOVE, I_GUILD_MEMBERS, 0, 0, 0},
    {"GUILD_BAN_ADD", AUD_GUILD_PERM, I_GUILD_MODERATION, 0, HS_PERM_BAN_MEMBERS, 0},
    {"GUILD_BAN_REMOVE", AUD_GUILD_PERM, I_GUILD_MODERATION, 0, HS_PERM_BAN_MEMBERS, 0},
    {"GUILD_AUDIT_LOG_ENTRY_CREATE", AUD_GUILD_PERM, I_GUILD_MODERATION, 0, HS_PERM_VIEW_AUDIT_LOG,
     0},
    {"AUTO_MODERATION_RULE_CREATE", AUD_GUILD_PERM, I_AUTOMOD_CONFIGURATION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"AUTO_MODERATION_RULE_UPDATE", AUD_GUILD_PERM, I_AUTOMOD_CONFIGURATION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"AUTO_MODERATION_RULE_DELETE", AUD_GUILD_PERM, I_AUTOMOD_CONFIGURATION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"AUTO_MODERATION_ACTION_EXECUTION", AUD_GUILD_PERM, I_AUTOMOD_EXECUTION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"USER_UPDATE", AUD_SELF, I_ALWAYS, 0, 0, 0},
};

static const struct route *route_of(const char *type)
{
    for (size_t i = 0; i < HS_ARRAY_LEN(routes); i++)
        if (strcmp(routes[i].type, type) == 0)
            return &routes[i];
    return NULL;
}

/* The event's bytes for one session, serialised at most twice per event. */
struct ev_text {
    char *full, *blank;
};

static const char *text_for(struct ev_text *t, hs_event *ev, const struct gw_session *s,
                            const struct route *r)
{
    if (r->has_content && s->bot && !(s->intents & I_MESSAGE_CONTENT) &&
        ev->actor_id != s->user_id && !mentions_user(ev->data, s->user_id)) {
        /* Without MESSAGE_CONTENT a bot sees that a message exists, not what it says. */
        if (!t->blank) {
            json_t *copy = json_deep_copy(ev->data);
            json_object_set_new(copy, "content", json_string(""));
            json_object_set_new(copy, "embeds", json_array());
            json_object_set_new(copy, "attachments", json_array());
            json_object_set_new(copy, "components", json_array());
            t->blank = json_dumps(copy, JSON_COMPACT);
            json_decref(copy);
        }
        return t->blank;
    }
    if (!t->full)
        t->full = json_dumps(ev->data, JSON_COMPACT);
    return t->full;
}

static uint64_t user_of(json_t *data)
{
    uint64_t uid = 0;
    json_t *user = json_object_get(data, "user");
    hs_parse_u64(json_string_value(json_object_get(user, "id")), &uid);
    return uid;
}

/* Whether session s is in the audience of ev (intents aside). */
static int hears(capi_gateway *gw, const struct route *r, hs_event *ev, struct gw_session *s)
{
    uint64_t perms = 0;
    switch (r->audience) {
    case AUD_CHANNEL:
    case AUD_CHANNEL_PERM:
        if (ev->guild_id && !session_has_guild(s, ev->guild_id))
            return 0;
        /* Deleted channels still count, so that those who saw it hear it is gone. */
        if (hs_perm_channel(gw->db, ev->channel_id, s->user_id, 1, &perms, NULL) < 0 ||
            !(perms & HS_PERM_VIEW_CHANNEL))
            return 0;
        return r->audience == AUD_CHANNEL || (perms & r->perm) == r->perm;
    case AUD_GUILD:
        return session_has_guild(s, ev->guild_id);
    case AUD_GUILD_PERM:
        return session_has_guild(s, ev->guild_id) &&
               hs_perm_guild(gw->db, ev->guild_id, s->user_id, &perms, NULL) == 0 &&
               (perms & r->perm) == r->perm;
    case AUD_SELF:
        return s->user_id == ev->actor_id;
    }
    return 0;
}

static void fan_out(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    struct ev_text t = {NULL, NULL};
    uint64_t intent = !ev->guild_id && r->dm_intent ? r->dm_intent : r->intent;
    for (struct gw_session *s = gw->sessions; s; s = s->next) {
        if ((intent != I_ALWAYS && !(s->intents & intent)) || !hears(gw, r, ev, s))
            continue;
        const char *text = text_for(&t, ev, s, r);
        dispatch(gw, s, ev->type, text, strlen(text));
    }
    free(t.full);
    free(t.blank);
}

/* GUILD_MEMBER_ADD: the new member's own sessions get the guild (GUILD_CREATE); the others
 * in the guild get the event. */
static void member_added(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    uint64_t uid = user_of(ev->data);
    struct ev_text t = {NULL, NULL};
    for (struct gw_session *s = gw->sessions; s; s = s->next) {
        if (s->user_id == uid) {
            if (!session_has_guild(s, ev->guild_id) && shard_owns(s, ev->guild_id)) {
                session_add_guild(s, ev->guild_id);
                send_guild_create(gw, s, ev->guild_id);
            }
        } else if (session_has_guild(s, ev->guild_id) && (s->intents & r->intent)) {
            const char *text = text_for(&t, ev, s, r);
            dispatch(gw, s, ev->type, text, strlen(text));
        }
    }
    free(t.full);
}

static void session_drop_guild(struct gw_session *s, uint64_t gid)
{
    for (size_t i = 0; i < s->nguilds; i++) {
        if (s->guilds[i] == gid) {
            memmove(&s->guilds[i], &s->guilds[i + 1], (s->nguilds - i - 1) * sizeof(*s->guilds));
            s->nguilds--;
            return;
        }
    }
}

static void send_guild_delete(capi_gateway *gw, struct gw_session *s, uint64_t gid)
{
    session_drop_guild(s, gid);
    dispatch_json(gw, s, "GUILD_DELETE", json_pack("{s:o}", "id", hs_json_id(gid)));
}

/* GUILD_MEMBER_REMOVE (leave, kick, ban): the member's sessions lose the guild
 * (GUILD_DELETE without `unavailable`); the others in the guild get the event. */
static void member_removed(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    uint64_t uid = user_of(ev->data);
    struct ev_text t = {NULL, NULL};
    for (struct gw_session *s = gw->sessions; s; s = s->next) {
        if (!session_has_guild(s, ev->guild_id))
            continue;
        if (s->user_id == uid) {
            send_guild_delete(gw, s, ev->guild_id);
        } else if (s->intents & r->intent) {
            const char *text = text_for(&t, ev, s, r);
            dispatch(gw, s, ev->type, text, strlen(text));
        }
    }
    free(t.full);
}

/* GUILD_MEMBER_UPDATE: to the guild with GUILD_MEMBERS, and to the member itself always. */
static void member_updated(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    uint64_t uid = user_of(ev->data);
    struct ev_text t = {NULL, NULL};
    for (struct gw_session *s = gw->sessions; s; s = s->next) {
        if (!session_has_guild(s, ev->guild_id) || (s->user_id != uid && !(s->intents & r->intent)))
            continue;
        const char *text = text_for(&t, ev, s, r);
        dispatch(gw, s, ev->type, text, strlen(text));
    }
    free(t.full);
}

static void guild_deleted(capi_gateway *gw, hs_event *ev)
{
    for (struct gw_session *s = gw->sessions; s; s = s->next)
        if (session_has_guild(s, ev->guild_id))
            send_guild_delete(gw, s, ev->guild_id);
}

static void on_event(capi_gateway *gw, hs_event *ev)
{
    const struct route *r = route_of(ev->type);
    if (!r)
        return;
    switch (r->audience) {
    case AUD_MEMBER_ADD:
        member_added(gw, r, ev);
        break;
    case AUD_MEMBER_REMOVE:
        member_removed(gw, r, ev);
        break;
    case AUD_MEMBER_UPDATE:
        member_updated(gw, r, ev);
        break;
    case AUD_GUILD_DELETE:
        guild_deleted(gw, ev);
        break;
    default:
        fan_out(gw, r, ev);
    }
}

/* ------------------------------------------------------------------ the loop */

static void sweep(capi_gateway *gw)
{
    uint64_t now = now_ms();
    uint64_t beat = (uint64_t)gw->cfg->gateway_heartbeat_ms;
    for (struct gw_conn *c = gw->conns; c; c = c->next) {
        if (c->dead)
            continue;
        if (c->closing) {
            if (now - c->closing_ms > GW_CLOSE_GRACE_MS)
                c->dead = 1;
        } else if (!c->sess && now - c->opened_ms > beat) {
            conn_close(c, 4003, "Not authenticated.");
        } else if (c->sess && now - c->last_beat_ms > beat + beat / 2) {
            conn_close(c, 4009, "Session timed out.");
        }
    }
    uint64_t keep = (uint64_t)gw->cfg->gateway_resume_seconds * 1000;
    for (struct gw_session *s = gw->sessions, *next; s; s = next) {
        next = s->next;
        if (!s->conn && now - s->detached_ms > keep)
            session_free(gw, s);
    }
}

static void flush_and_reap(capi_gateway *gw)
{
    while (gw->dirty) {
        struct gw_conn *c = gw->dirty;
        gw->dirty = c->next_dirty;
        c->dirty = 0;
        conn_flush(c);
    }
    for (struct gw_conn *c = gw->conns, *next; c; c = next) {
        next = c->next;
        if (c->dead)
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
            on_event(gw, m->ev);
            hs_event_unref(m->ev);
            break;
        case MSG_RECONNECT_ALL:
            for (struct gw_conn *c = gw->conns; c; c = c->next)
                conn_close(c, 4000, "Reconnect and resume.");
            break;
        }
        free(m->extra);
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
                conn_mark_dirty(c);
        }
        uint64_t now = now_ms();
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
        conn_close(c, 4000, "Server restarting.");
    flush_and_reap(gw);
    while (gw->conns)
        conn_drop(gw->conns);
    while (gw->sessions)
        session_free(gw, gw->sessions);
    return NULL;
}

capi_gateway *capi_gateway_new(hs_core *core)
{
    capi_gateway *gw = hs_xcalloc(1, sizeof(*gw));
    gw->core = core;
    gw->cfg = hs_core_config(core);
    pthread_mutex_init(&gw->lock, NULL);
    gw->epfd = epoll_create1(EPOLL_CLOEXEC);
    gw->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    HS_ASSERT(gw->epfd >= 0 && gw->evfd >= 0);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = gw};
    epoll_ctl(gw->epfd, EPOLL_CTL_ADD, gw->evfd, &e);
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
    for (struct gw_msg *m = gw->head, *next; m; m = next) {
        next = m->next;
        if (m->fd >= 0)
            close(m->fd);
        if (m->ev)
            hs_event_unref(m->ev);
        free(m->extra);
        free(m);
    }
    close(gw->epfd);
    close(gw->evfd);
    pthread_mutex_destroy(&gw->lock);
    free(gw);
}
