/*
 * Gateway sessions: the guilds each one hears, its replay ring for RESUME, presence, and
 * the GUILD_CREATE payload (spec/client-api.md §6.2, §6.5). The gateway thread only.
 */
#include "capi_gw.h"
#include "hs_accounts.h"
#include "hs_buf.h"
#include "hs_channels.h"
#include "hs_dms.h"
#include "hs_guilds.h"
#include "hs_log.h"
#include "hs_members.h"
#include "hs_perm.h"
#include "hs_threads.h"
#include "hs_time.h"
#include "hs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ sessions */

static struct gw_guild_ref *guild_ref(const struct gw_session *s, uint64_t gid)
{
    size_t lo = 0, hi = s->nguilds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->guilds[mid].gid == gid)
            return &s->guilds[mid];
        if (s->guilds[mid].gid < gid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int gw_session_has_guild(const struct gw_session *s, uint64_t gid)
{
    return guild_ref(s, gid) != NULL;
}

static size_t gslot(uint64_t gid, size_t cap)
{
    return (size_t)((gid * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1);
}

struct gw_guild *gw_guild_find(capi_gateway *gw, uint64_t gid, int create)
{
    if (gw->gcap) {
        for (size_t i = gslot(gid, gw->gcap);; i = (i + 1) & (gw->gcap - 1)) {
            if (!gw->gtable[i])
                break;
            if (gw->gtable[i]->id == gid)
                return gw->gtable[i];
        }
    }
    if (!create)
        return NULL;
    if ((gw->gcount + 1) * 2 > gw->gcap) {
        /* Grow at half full; entries are never removed (a guild costs ~64 bytes). */
        size_t ncap = gw->gcap ? gw->gcap * 2 : 64;
        struct gw_guild **nt = hs_xcalloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < gw->gcap; i++) {
            if (!gw->gtable[i])
                continue;
            size_t j = gslot(gw->gtable[i]->id, ncap);
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = gw->gtable[i];
        }
        free(gw->gtable);
        gw->gtable = nt;
        gw->gcap = ncap;
    }
    struct gw_guild *g = hs_xcalloc(1, sizeof(*g));
    g->id = gid;
    g->epoch = 1;
    size_t i = gslot(gid, gw->gcap);
    while (gw->gtable[i])
        i = (i + 1) & (gw->gcap - 1);
    gw->gtable[i] = g;
    gw->gcount++;
    return g;
}

static struct gw_user *user_find(capi_gateway *gw, uint64_t uid, int create)
{
    if (gw->ucap) {
        for (size_t i = gslot(uid, gw->ucap);; i = (i + 1) & (gw->ucap - 1)) {
            if (!gw->utable[i])
                break;
            if (gw->utable[i]->id == uid)
                return gw->utable[i];
        }
    }
    if (!create)
        return NULL;
    if ((gw->ucount + 1) * 2 > gw->ucap) {
        size_t ncap = gw->ucap ? gw->ucap * 2 : 64;
        struct gw_user **nt = hs_xcalloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < gw->ucap; i++) {
            if (!gw->utable[i])
                continue;
            size_t j = gslot(gw->utable[i]->id, ncap);
            while (nt[j])
                j = (j + 1) & (ncap - 1);
            nt[j] = gw->utable[i];
        }
        free(gw->utable);
        gw->utable = nt;
        gw->ucap = ncap;
    }
    struct gw_user *u = hs_xcalloc(1, sizeof(*u));
    u->id = uid;
    size_t i = gslot(uid, gw->ucap);
    while (gw->utable[i])
        i = (i + 1) & (gw->ucap - 1);
    gw->utable[i] = u;
    gw->ucount++;
    return u;
}

struct gw_session *gw_user_sessions(capi_gateway *gw, uint64_t uid)
{
    struct gw_user *u = user_find(gw, uid, 0);
    return u ? u->first : NULL;
}

void gw_session_link(capi_gateway *gw, struct gw_session *s)
{
    s->next = gw->sessions;
    if (gw->sessions)
        gw->sessions->prev = s;
    gw->sessions = s;
    gw->nsessions++;
    struct gw_user *u = user_find(gw, s->user_id, 1);
    s->user_next = u->first;
    if (u->first)
        u->first->user_prev = s;
    u->first = s;
}

void gw_guilds_free(capi_gateway *gw)
{
    for (size_t i = 0; i < gw->gcap; i++) {
        if (gw->gtable[i]) {
            free(gw->gtable[i]->members);
            free(gw->gtable[i]);
        }
    }
    free(gw->gtable);
    gw->gtable = NULL;
    gw->gcap = gw->gcount = 0;
    for (size_t i = 0; i < gw->ucap; i++)
        free(gw->utable[i]);
    free(gw->utable);
    gw->utable = NULL;
    gw->ucap = gw->ucount = 0;
}

/* Removes s from g's list in O(1): the last member takes its place. */
static void guild_unlist(struct gw_guild *g, size_t pos)
{
    struct gw_session *last = g->members[--g->n];
    if (pos < g->n) {
        g->members[pos] = last;
        guild_ref(last, g->id)->pos = pos;
    }
}

uint64_t gw_session_perms(capi_gateway *gw, struct gw_session *s, uint64_t guild_id, uint64_t id,
                          int guild_level)
{
    struct gw_guild *g = guild_id ? gw_guild_find(gw, guild_id, 0) : NULL;
    uint64_t epoch = g ? g->epoch : gw->dm_epoch;
    uint64_t now = gw_now_ms();
    struct gw_pcache *e = &s->pcache[((id >> 22) ^ id) % GW_PCACHE];
    if (e->id == id && e->epoch == epoch && e->guild_level == guild_level &&
        now - e->at_ms < GW_PCACHE_TTL_MS)
        return e->perms;
    uint64_t perms = 0;
    int rc = guild_level ? hs_perm_guild(gw->db, id, s->user_id, &perms, NULL)
                         : hs_perm_channel(gw->db, id, s->user_id, 1, &perms, NULL);
    if (rc < 0)
        perms = 0;
    *e = (struct gw_pcache){id, epoch, now, perms, guild_level};
    return perms;
}

int gw_shard_owns(const struct gw_session *s, uint64_t gid)
{
    return s->shard_count <= 1 || (int)((gid >> 22) % (uint64_t)s->shard_count) == s->shard_id;
}

void gw_session_add_guild(capi_gateway *gw, struct gw_session *s, uint64_t gid)
{
    if (gw_session_has_guild(s, gid))
        return;
    struct gw_guild *g = gw_guild_find(gw, gid, 1);
    if (!s->guilds) {
        s->guilds = s->guilds_inline;
        s->capguilds = GW_GUILDS_INLINE;
    }
    if (s->nguilds == s->capguilds) {
        s->capguilds *= 2;
        if (s->guilds == s->guilds_inline) {
            s->guilds = hs_xmalloc(s->capguilds * sizeof(*s->guilds));
            memcpy(s->guilds, s->guilds_inline, sizeof(s->guilds_inline));
        } else {
            s->guilds = hs_xrealloc(s->guilds, s->capguilds * sizeof(*s->guilds));
        }
    }
    size_t i = s->nguilds;
    while (i > 0 && s->guilds[i - 1].gid > gid) {
        s->guilds[i] = s->guilds[i - 1];
        i--;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        g->members = hs_xrealloc(g->members, g->cap * sizeof(*g->members));
    }
    s->guilds[i] = (struct gw_guild_ref){gid, g, g->n};
    g->members[g->n++] = s;
    s->nguilds++;
}

static void expire_done(void *arg, int rc, const hs_error *err)
{
    (void)rc;
    (void)err;
    free(arg);
}

size_t gw_frame_len(uint64_t seq, const struct gw_body *b)
{
    size_t digits = 1;
    for (uint64_t v = seq; v >= 10; v /= 10)
        digits++;
    return b->plen + digits + b->slen;
}

/* Drops the ring's oldest dispatch. */
static void ring_pop(capi_gateway *gw, struct gw_session *s)
{
    struct gw_slot *e = &s->ring[s->ring_start];
    size_t len = gw_frame_len(e->seq, e->b);
    s->ring_bytes -= len;
    gw->ring_freed += len;
    gw_body_unref(e->b);
    s->ring_start = (s->ring_start + 1) % s->ring_cap;
    s->ring_len--;
}

void gw_session_free(capi_gateway *gw, struct gw_session *s)
{
    if (s->conn)
        s->conn->sess = NULL;
    if (s->prev)
        s->prev->next = s->next;
    else
        gw->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->user_prev) {
        s->user_prev->user_next = s->user_next;
    } else {
        struct gw_user *u = user_find(gw, s->user_id, 0);
        if (u)
            u->first = s->user_next;
    }
    if (s->user_next)
        s->user_next->user_prev = s->user_prev;
    s->conn = NULL;
    if (!gw->stopping_sessions) {
        gw_presence_update(gw, s);
    } else {
        /* Everything is going: no new source is looked for (that would be O(N^2)). */
        struct gw_user *u = user_find(gw, s->user_id, 0);
        if (u && u->source == s)
            u->source = NULL;
    }
    if (!gw->stopping_sessions && !gw_user_sessions(gw, s->user_id)) {
        /* The user's last session is over: temporary memberships end (not when the server
         * itself stops, which ends every session). */
        struct hs_member_expire *op = hs_xcalloc(1, sizeof(*op));
        op->user_id = s->user_id;
        hs_writer_submit(hs_core_writer(gw->core), hs_member_expire_temporary_fn, expire_done, op);
    }
    while (s->ring_len)
        ring_pop(gw, s);
    free(s->ring);
    for (size_t i = 0; i < s->nguilds; i++)
        guild_unlist(s->guilds[i].g, s->guilds[i].pos);
    if (s->guilds != s->guilds_inline)
        free(s->guilds);
    json_decref(s->activities);
    hs_slab_put(gw->sess_slab, s);
    gw->nsessions--;
}

/* The client says (in its heartbeat) it has every dispatch up to seq: those leave the
 * replay ring, since a RESUME will never ask for them. An idle session thus keeps no frames
 * once it has heartbeated. */
void gw_session_acked(capi_gateway *gw, struct gw_session *s, uint64_t seq)
{
    if (seq > s->seq)
        return;
    while (s->ring_len > 0 && s->ring[s->ring_start].seq <= seq)
        ring_pop(gw, s);
    if (s->conn && s->conn->sent < seq)
        s->conn->sent = seq; /* it says it has them: they are not written again */
    if (s->ring_len == 0) {
        free(s->ring);
        s->ring = NULL;
        s->ring_cap = s->ring_start = 0;
    }
    s->acked = seq;
}

struct gw_session *gw_session_find(capi_gateway *gw, const char *id)
{
    for (struct gw_session *s = gw->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

struct gw_body *gw_body_new(const char *t, const char *d, size_t dlen)
{
    size_t tlen = strlen(t);
    size_t plen = 6 + tlen + 6;  /* {"t":"T","s": */
    size_t slen = 12 + dlen + 1; /* ,"op":0,"d":D} */
    struct gw_body *b = hs_xmalloc(sizeof(*b) + plen + slen);
    char *o = b->data;
    memcpy(o, "{\"t\":\"", 6), o += 6;
    memcpy(o, t, tlen), o += tlen;
    memcpy(o, "\",\"s\":", 6), o += 6;
    memcpy(o, ",\"op\":0,\"d\":", 12), o += 12;
    memcpy(o, d, dlen), o += dlen;
    *o = '}';
    b->refs = 1;
    b->plen = (uint32_t)plen;
    b->slen = (uint32_t)slen;
    return b;
}

void gw_body_unref(struct gw_body *b)
{
    if (b && --b->refs == 0)
        free(b);
}

void gw_dispatch_body(capi_gateway *gw, struct gw_session *s, struct gw_body *b)
{
    /* No allocation per delivery: a slot in the ring and a reference on the shared body. */
    uint64_t seq = s->seq + 1; /* s->seq moves when the slot is in (a flush may run first) */
    size_t len = gw_frame_len(seq, b);
    size_t max_events = (size_t)gw->cfg->gateway_replay_events;
    size_t max_bytes = (size_t)gw->cfg->gateway_max_queued_bytes;
    if (!s->ring) {
        s->ring_cap = max_events < 64 ? max_events : 64;
        s->ring = hs_xcalloc(s->ring_cap, sizeof(*s->ring));
    }
    while (s->ring_len > 0 && (s->ring_len >= max_events || s->ring_bytes + len > max_bytes)) {
        struct gw_conn *c = s->conn;
        /* (A closing connection is sent no more dispatches: it goes anyway.) */
        if (c && !c->dead && !c->closing && s->ring[s->ring_start].seq > c->sent) {
            /* The oldest is not even written out: write what the socket takes now (one
             * batch of events may pass the bound by itself), and call the consumer slow
             * only if that is not enough. A slow consumer is cut off rather than allowed
             * to grow memory; it may RESUME if it comes back before the ring moves on. */
            gw_conn_flush(c);
            if (!c->dead && s->ring[s->ring_start].seq > c->sent) {
                hs_log(HS_LOG_WARN, "gateway",
                       "closing a slow consumer (%zu dispatches, %zu bytes unread)", s->ring_len,
                       s->ring_bytes);
                gw_conn_kill(c);
            }
        }
        ring_pop(gw, s);
    }
    if (s->ring_len == s->ring_cap) {
        size_t ncap = s->ring_cap * 2 > max_events ? max_events : s->ring_cap * 2;
        struct gw_slot *nr = hs_xcalloc(ncap, sizeof(*nr));
        for (size_t i = 0; i < s->ring_len; i++)
            nr[i] = s->ring[(s->ring_start + i) % s->ring_cap];
        free(s->ring);
        s->ring = nr;
        s->ring_cap = ncap;
        s->ring_start = 0;
    }
    b->refs++;
    s->seq = seq;
    s->ring[(s->ring_start + s->ring_len) % s->ring_cap] = (struct gw_slot){seq, b};
    s->ring_len++;
    s->ring_bytes += len;
    if (s->conn)
        gw_conn_mark_dirty(s->conn);
}

void gw_dispatch(capi_gateway *gw, struct gw_session *s, const char *t, const char *d, size_t dlen)
{
    struct gw_body *b = gw_body_new(t, d, dlen);
    gw_dispatch_body(gw, s, b);
    gw_body_unref(b);
}

void gw_dispatch_json(capi_gateway *gw, struct gw_session *s, const char *t, json_t *d)
{
    char *text = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(d);
    gw_dispatch(gw, s, t, text, strlen(text));
    free(text);
}

/* ------------------------------------------------------------------ presence */

/* The connected session whose presence a user shows: the one updated last. */
struct gw_session *gw_presence_source(capi_gateway *gw, uint64_t uid)
{
    struct gw_user *u = user_find(gw, uid, 0);
    return u ? u->source : NULL;
}

void gw_presence_update(capi_gateway *gw, struct gw_session *s)
{
    struct gw_user *u = user_find(gw, s->user_id, 0);
    if (!u)
        return;
    if (s->conn) {
        if (!u->source || s->presence_at >= u->source->presence_at)
            u->source = s;
    } else if (u->source == s) {
        /* The source left: the user's most recently updated connected session takes over. */
        u->source = NULL;
        for (struct gw_session *o = u->first; o; o = o->user_next)
            if (o->conn && (!u->source || o->presence_at > u->source->presence_at))
                u->source = o;
    }
}

json_t *gw_presence_json(capi_gateway *gw, uint64_t uid, uint64_t gid)
{
    struct gw_session *src = gw_presence_source(gw, uid);
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
void gw_broadcast_presence(capi_gateway *gw, uint64_t uid)
{
    size_t n = 0;
    uint64_t *ids = hs_guild_ids_for_user(gw->db, uid, &n);
    for (size_t i = 0; i < n; i++) {
        struct gw_guild *g = gw_guild_find(gw, ids[i], 0);
        struct gw_body *body = NULL;
        /* In a large guild only sessions that asked for presence (bots with
         * GUILD_PRESENCES) hear every member's; others learn it from member lists, as on
         * Discord. Without this, N members coming online cost N^2 dispatches. */
        int large = g && g->n > GW_LARGE_GUILD;
        for (size_t j = 0; g && j < g->n; j++) {
            struct gw_session *s = g->members[j];
            if (s->user_id == uid || !wants_presence(s) || (large && !s->bot))
                continue;
            if (!body) {
                json_t *p = gw_presence_json(gw, uid, ids[i]);
                char *text = json_dumps(p, JSON_COMPACT);
                json_decref(p);
                body = gw_body_new("PRESENCE_UPDATE", text, strlen(text));
                free(text);
            }
            gw_dispatch_body(gw, s, body);
        }
        gw_body_unref(body);
    }
    free(ids);
}

/* Reads {status, activities} of IDENTIFY's presence or op 3 into s. Returns -1 when it is
 * not a presence. */
int gw_set_presence(capi_gateway *gw, struct gw_session *s, json_t *d)
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
    /* None is NULL: most sessions have none, and an empty array costs two allocations. */
    s->activities = json_is_array(acts) && json_array_size(acts) ? json_deep_copy(acts) : NULL;
    s->presence_at = ++gw->presence_clock;
    gw_presence_update(gw, s);
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
    /* The presences of the members listed above who are online (bounded like them). */
    size_t k;
    json_t *m;
    json_array_foreach(members, k, m)
    {
        uint64_t mid = 0;
        hs_parse_u64(json_string_value(json_object_get(json_object_get(m, "user"), "id")), &mid);
        struct gw_session *o = gw_presence_source(gw, mid);
        if (o && strcmp(o->status, "invisible") != 0)
            json_array_append_new(presences, gw_presence_json(gw, mid, gid));
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

void gw_send_guild_create(capi_gateway *gw, struct gw_session *s, uint64_t gid)
{
    json_t *g = guild_create_payload(gw, gid, s->user_id);
    if (g)
        gw_dispatch_json(gw, s, "GUILD_CREATE", g);
}

void gw_session_drop_guild(struct gw_session *s, uint64_t gid)
{
    struct gw_guild_ref *r = guild_ref(s, gid);
    if (!r)
        return;
    guild_unlist(r->g, r->pos);
    size_t i = (size_t)(r - s->guilds);
    memmove(&s->guilds[i], &s->guilds[i + 1], (s->nguilds - i - 1) * sizeof(*s->guilds));
    s->nguilds--;
}

void gw_send_guild_delete(capi_gateway *gw, struct gw_session *s, uint64_t gid)
{
    gw_session_drop_guild(s, gid);
    gw_dispatch_json(gw, s, "GUILD_DELETE", json_pack("{s:o}", "id", hs_json_id(gid)));
}

/* GUILD_MEMBER_REMOVE (leave, kick, ban): the member's sessions lose the guild
 * (GUILD_DELETE without `unavailable`); the others in the guild get the event. */
