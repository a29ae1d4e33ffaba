/*
 * What gateway clients send (spec/client-api.md §6.2, §6.3, §6.6): IDENTIFY, RESUME,
 * heartbeats, presence and member requests, with their limits and close codes. The gateway
 * thread only.
 */
#include "capi_gw.h"
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
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ client ops */

static void send_invalid_session(struct gw_conn *c)
{
    gw_conn_send_json(c, json_pack("{s:i, s:b, s:n, s:n}", "op", 9, "d", 0, "s", "t"));
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
        gw_conn_close(c, 4002, "Decode error: IDENTIFY needs a token.");
        return;
    }
    if (hs_auth_token(gw->db, token, -1, &user, NULL) < 0) {
        gw_conn_close(c, 4004, "Authentication failed.");
        return;
    }
    uint64_t intents = I_KNOWN;
    uint64_t app_id = 0;
    json_t *ji = json_object_get(d, "intents");
    if (user.bot) {
        if (!json_is_integer(ji) || json_integer_value(ji) < 0 ||
            ((uint64_t)json_integer_value(ji) & ~I_KNOWN)) {
            gw_conn_close(c, 4013, "Invalid intent(s).");
            return;
        }
        intents = (uint64_t)json_integer_value(ji);
        struct hs_app app;
        if (hs_app_of_bot(gw->db, user.id, &app, NULL) == 0)
            app_id = app.id;
        if (intents & I_PRIVILEGED & ~privileged_allowed(hs_app_flags(gw->db, app_id))) {
            gw_conn_close(c, 4014, "Disallowed intent(s).");
            return;
        }
    }
    int shard_id = 0, shard_count = 1;
    json_t *js = json_object_get(d, "shard");
    if (js && !json_is_null(js)) {
        if (!json_is_array(js) || json_array_size(js) != 2 ||
            !json_is_integer(json_array_get(js, 0)) || !json_is_integer(json_array_get(js, 1))) {
            gw_conn_close(c, 4010, "Invalid shard.");
            return;
        }
        json_int_t id = json_integer_value(json_array_get(js, 0));
        json_int_t n = json_integer_value(json_array_get(js, 1));
        if (n < 1 || n > 1024 || id < 0 || id >= n) {
            gw_conn_close(c, 4010, "Invalid shard.");
            return;
        }
        shard_id = (int)id;
        shard_count = (int)n;
    }

    struct gw_session *s = hs_slab_alloc(gw->sess_slab);
    unsigned char rnd[16];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(s->id, sizeof(s->id), rnd, sizeof(rnd));
    s->user_id = user.id;
    s->bot = user.bot;
    s->app_id = app_id;
    s->intents = intents;
    s->shard_id = shard_id;
    s->shard_count = shard_count;
    gw_session_link(gw, s);
    s->conn = c;
    c->sess = s;
    json_t *jp = json_object_get(d, "presence");
    if (!jp || gw_set_presence(gw, s, jp) < 0) {
        snprintf(s->status, sizeof(s->status), "online");
        s->activities = NULL;
        s->presence_at = ++gw->presence_clock;
    }
    gw_presence_update(gw, s);

    size_t n = 0;
    uint64_t *ids = hs_guild_ids_for_user(gw->db, user.id, &n);
    json_t *stubs = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!gw_shard_owns(s, ids[i]))
            continue;
        gw_session_add_guild(gw, s, ids[i]);
        json_array_append_new(stubs,
                              json_pack("{s:o, s:b}", "id", hs_json_id(ids[i]), "unavailable", 1));
    }
    char url[300];
    snprintf(url, sizeof(url), "ws://%s/gateway", c->params.host ? c->params.host : "localhost");
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
    gw_dispatch_json(gw, s, "READY", ready);
    free(c->params.host); /* only READY needed it */
    c->params.host = NULL;
    for (size_t i = 0; i < s->nguilds; i++)
        gw_send_guild_create(gw, s, s->guilds[i].gid);
    free(ids);
    gw_broadcast_presence(gw, user.id);
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
        gw_conn_close(c, 4002, "Decode error: RESUME needs token, session_id and seq.");
        return;
    }
    if (hs_auth_token(gw->db, token, -1, &user, NULL) < 0) {
        gw_conn_close(c, 4004, "Authentication failed.");
        return;
    }
    struct gw_session *s = gw_session_find(gw, json_string_value(sid));
    if (!s || s->user_id != user.id) {
        /* Unknown, expired or someone else's: start over with IDENTIFY. */
        send_invalid_session(c);
        return;
    }
    uint64_t seq = json_is_integer(seqj) && json_integer_value(seqj) > 0
                       ? (uint64_t)json_integer_value(seqj)
                       : 0;
    if (seq > s->seq) {
        gw_conn_close(c, 4007, "Invalid seq.");
        return;
    }
    uint64_t oldest = s->ring_len ? s->ring[s->ring_start].seq : s->seq + 1;
    if (seq < s->acked || seq + 1 < oldest) {
        /* Some of what it missed has left the ring: it cannot be made whole. */
        gw_session_free(gw, s);
        send_invalid_session(c);
        return;
    }
    if (s->conn) {
        struct gw_conn *old = s->conn;
        old->sess = NULL;
        gw_conn_close(old, 4000, "Session resumed elsewhere.");
    }
    s->conn = c;
    c->sess = s;
    gw_presence_update(gw, s);
    c->sent = seq; /* the flush writes every dispatch after it from the ring */
    gw_conn_mark_dirty(c);
    gw_dispatch(gw, s, "RESUMED", "{}", 2);
    gw_broadcast_presence(gw, s->user_id);
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
            struct gw_session *src = gw_presence_source(gw, uid);
            if (src && strcmp(src->status, "invisible") != 0)
                json_array_append_new(list, gw_presence_json(gw, uid, gid));
        }
        json_object_set_new(d, "presences", list);
    }
    gw_dispatch_json(gw, s, "GUILD_MEMBERS_CHUNK", d);
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
        gw_conn_close(c, 4001, "Invalid REQUEST_GUILD_MEMBERS.");
        return;
    }
    if (!gw_session_has_guild(s, gid))
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

void gw_handle_payload(struct gw_conn *c, const uint8_t *msg, size_t len)
{
    uint64_t now = gw_now_ms();
    if (c->closing || c->dead)
        return;
    if (now - c->rl_start_ms >= GW_RATE_WINDOW_MS) {
        c->rl_start_ms = now;
        c->rl_count = 0;
    }
    if (++c->rl_count > GW_RATE_EVENTS) {
        gw_conn_close(c, 4008, "Rate limited.");
        return;
    }
    if (len > GW_MAX_PAYLOAD) {
        gw_conn_close(c, 4002, "Decode error: payload over 4096 bytes.");
        return;
    }
    json_error_t jerr;
    json_t *p = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *op = json_object_get(p, "op");
    if (!json_is_object(p) || !json_is_integer(op)) {
        json_decref(p);
        gw_conn_close(c, 4002, "Decode error.");
        return;
    }
    json_t *d = json_object_get(p, "d");
    switch (json_integer_value(op)) {
    case 1: /* HEARTBEAT */
        c->last_beat_ms = now;
        if (c->sess && json_is_integer(d) && json_integer_value(d) > 0)
            gw_session_acked(c->gw, c->sess, (uint64_t)json_integer_value(d));
        gw_conn_send_json(c, json_pack("{s:i}", "op", 11));
        break;
    case 2: /* IDENTIFY */
        if (c->sess)
            gw_conn_close(c, 4005, "Already authenticated.");
        else
            op_identify(c, d);
        break;
    case 6: /* RESUME */
        if (c->sess)
            gw_conn_close(c, 4005, "Already authenticated.");
        else
            op_resume(c, d);
        break;
    case 3: /* PRESENCE_UPDATE */
        if (!c->sess)
            gw_conn_close(c, 4003, "Not authenticated.");
        else if (gw_set_presence(c->gw, c->sess, d) < 0)
            gw_conn_close(c, 4001, "Invalid presence.");
        else
            gw_broadcast_presence(c->gw, c->sess->user_id);
        break;
    case 8: /* REQUEST_GUILD_MEMBERS */
        if (!c->sess)
            gw_conn_close(c, 4003, "Not authenticated.");
        else
            op_request_members(c, d);
        break;
    case 4: /* VOICE_STATE_UPDATE */
        if (!c->sess)
            gw_conn_close(c, 4003, "Not authenticated.");
        /* Accepted; voice arrives with the SFU. */
        break;
    default:
        if (!c->sess)
            gw_conn_close(c, 4003, "Not authenticated.");
        else
            gw_conn_close(c, 4001, "Unknown opcode.");
    }
    json_decref(p);
}
