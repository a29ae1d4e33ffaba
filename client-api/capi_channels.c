/*
 * Channel edits, deletion and positions, permission overwrites, and threads
 * (spec/rest-channels.md). Handlers check the shape of the input; the core (hs_channels.c,
 * hs_threads.c) checks permissions, existence and limits inside the write.
 */
#include "capi_internal.h"
#include "hs_channels.h"
#include "hs_perm.h"
#include "hs_threads.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ shared */

/* Every write of this module: the op, the parsed body its strings borrow from, and the
 * JSON the op returns (its first json_t * out field, if any). */
struct chan_req {
    union {
        struct hs_channel_update update;
        struct hs_channel_delete del;
        struct hs_channel_positions positions;
        struct hs_overwrite_put overwrite;
        struct hs_thread_create thread;
        struct hs_thread_member_op member;
    } op;
    json_t **result; /* where the op leaves its JSON; NULL for none */
    json_t *body;
    struct hs_channel_position *items;
};

static void chan_req_free(void *p)
{
    struct chan_req *r = p;
    if (r->result)
        json_decref(*r->result);
    json_decref(r->body);
    free(r->items);
    free(r);
}

static void finish_result(capi_req *req, int rc, const hs_error *err, unsigned status)
{
    struct chan_req *r = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, status, json_incref(*r->result));
}

static void finish_200(capi_req *req, int rc, const hs_error *err)
{
    finish_result(req, rc, err, 200);
}

static void finish_201(capi_req *req, int rc, const hs_error *err)
{
    finish_result(req, rc, err, 201);
}

static void finish_204(capi_req *req, int rc, const hs_error *err)
{
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 204, NULL);
}

static struct chan_req *chan_req_new(json_t *body)
{
    struct chan_req *r = hs_xcalloc(1, sizeof(*r));
    r->body = body;
    return r;
}

/* Whether obj has field at all (null included): "parent_id": null means "no parent". */
static int has_field(json_t *obj, const char *field)
{
    return json_object_get(obj, field) != NULL;
}

static void get_archive_duration(capi_req *req, json_t *body, int *out)
{
    int v;
    if (capi_get_int(req, body, "auto_archive_duration", 0, 100000, &v) == 1) {
        if (hs_thread_archive_duration_ok(v))
            *out = v;
        else
            capi_form_error(req, "auto_archive_duration", "BASE_TYPE_CHOICES",
                            "Value must be one of (60, 1440, 4320, 10080).");
    }
}

/*
 * A permission bitfield: Discord sends decimal strings; integers are accepted too. Returns
 * like the capi_get_* readers.
 */
static int get_bits(capi_req *req, json_t *obj, const char *field, uint64_t *out)
{
    json_t *v = json_object_get(obj, field);
    uint64_t bits = 0;
    int parsed = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        parsed = hs_parse_u64(json_string_value(v), &bits) == 0;
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        bits = (uint64_t)json_integer_value(v);
        parsed = 1;
    }
    if (parsed && !(bits & ~HS_PERM_ALL)) {
        *out = bits;
        return 1;
    }
    capi_form_error(req, field, "PERMISSIONS_INVALID", "Invalid permissions.");
    return -1;
}

/* The read side: the channel, if the caller may view it; answers the error otherwise. */
static hs_db *read_channel(capi_req *req, uint64_t id, struct hs_channel *ch, uint64_t *perms)
{
    hs_db *db = capi_read_db(req);
    hs_error err;
    if (!db)
        return NULL;
    int rc = hs_channel_access(db, id, req->user.id, ch, perms, &err);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return NULL;
    }
    return db;
}

static void respond_reason(capi_req *req, int code, int reason)
{
    hs_error err;
    hs_error_reason(&err, code, reason, "refused");
    capi_respond_error(req, code, &err);
}

/* ------------------------------------------------------------------ channels */

static void channel_edit(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct chan_req *r = chan_req_new(body);
    struct hs_channel_update *op = &r->op.update;
    r->result = &op->channel;
    op->channel_id = req->params[0];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    if (capi_get_string(req, body, "name", &op->name) == 1)
        op->set |= HS_CHUP_NAME;
    if (has_field(body, "topic") && capi_get_string(req, body, "topic", &op->topic) >= 0)
        op->set |= HS_CHUP_TOPIC;
    if (capi_get_bool(req, body, "nsfw", &op->nsfw) == 1)
        op->set |= HS_CHUP_NSFW;
    if (capi_get_int(req, body, "rate_limit_per_user", 0, 21600, &op->rate_limit_per_user) == 1)
        op->set |= HS_CHUP_RATE_LIMIT;
    if (capi_get_int(req, body, "position", 0, 100000, &op->position) == 1)
        op->set |= HS_CHUP_POSITION;
    if (has_field(body, "parent_id") && capi_get_id(req, body, "parent_id", &op->parent_id) >= 0)
        op->set |= HS_CHUP_PARENT;
    json_t *ows = json_object_get(body, "permission_overwrites");
    if (ows && !json_is_null(ows)) {
        if (json_is_array(ows)) {
            op->overwrites = ows;
            op->set |= HS_CHUP_OVERWRITES;
        } else {
            capi_form_error(req, "permission_overwrites", "BASE_TYPE_ARRAY", "Must be an array.");
        }
    }
    if (capi_get_bool(req, body, "archived", &op->archived) == 1)
        op->set |= HS_CHUP_ARCHIVED;
    if (capi_get_bool(req, body, "locked", &op->locked) == 1)
        op->set |= HS_CHUP_LOCKED;
    if (capi_get_bool(req, body, "invitable", &op->invitable) == 1)
        op->set |= HS_CHUP_INVITABLE;
    op->auto_archive_duration = 0;
    get_archive_duration(req, body, &op->auto_archive_duration);
    if (op->auto_archive_duration)
        op->set |= HS_CHUP_AUTO_ARCHIVE;
    if (capi_form_failed(req)) {
        chan_req_free(r);
        return;
    }
    capi_write(req, hs_channel_update_fn, r, chan_req_free, finish_200);
}

static void channel_delete(capi_req *req)
{
    /* On a DM or group DM, DELETE means close or leave it (capi_invites.c). */
    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    if (!db)
        return;
    if (hs_channel_get(db, req->params[0], &ch, NULL) == 0 && !ch.guild_id) {
        capi_dm_close(req);
        return;
    }
    struct chan_req *r = chan_req_new(NULL);
    r->op.del.channel_id = req->params[0];
    r->op.del.actor_id = req->user.id;
    r->op.del.reason = capi_audit_reason(req);
    r->result = &r->op.del.channel;
    capi_write(req, hs_channel_delete_fn, r, chan_req_free, finish_200);
}

/* PATCH /guilds/{id}/channels: the body is an array, not an object. */
static void channel_positions(capi_req *req)
{
    json_error_t jerr;
    json_t *body = req->body.len
                       ? json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr)
                       : NULL;
    if (!json_is_array(body)) {
        json_decref(body);
        capi_respond_code(req, 400, 50109, "The request body contains invalid JSON.");
        return;
    }
    struct chan_req *r = chan_req_new(body);
    size_t n = json_array_size(body), i;
    json_t *o;
    if (n > HS_CHANNEL_MAX_PER_GUILD)
        capi_form_error(req, "", "BASE_TYPE_MAX_LENGTH", "Must be 500 or fewer in length.");
    r->items = hs_xcalloc(n ? n : 1, sizeof(*r->items));
    json_array_foreach(body, i, o)
    {
        char path[32];
        struct hs_channel_position *p = &r->items[i];
        p->position = -1;
        if (!json_is_object(o)) {
            snprintf(path, sizeof(path), "%zu", i);
            capi_form_error(req, path, "MODEL_TYPE_CONVERT", "Must be an object.");
            continue;
        }
        /* Error paths name the element: "3.position". */
        json_t *id = json_object_get(o, "id");
        snprintf(path, sizeof(path), "%zu.id", i);
        if (!id || json_is_null(id))
            capi_form_required(req, path);
        else if (!json_is_string(id) || hs_parse_u64(json_string_value(id), &p->id) < 0 ||
                 p->id > (uint64_t)INT64_MAX)
            capi_form_error(req, path, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        snprintf(path, sizeof(path), "%zu.position", i);
        json_t *pos = json_object_get(o, "position");
        if (pos && !json_is_null(pos)) {
            if (json_is_integer(pos) && json_integer_value(pos) >= 0 &&
                json_integer_value(pos) <= 100000)
                p->position = (int)json_integer_value(pos);
            else
                capi_form_error(req, path, "NUMBER_TYPE_COERCE",
                                "Value must be an integer between 0 and 100000.");
        }
        if (has_field(o, "parent_id")) {
            p->set_parent = 1;
            json_t *pid = json_object_get(o, "parent_id");
            snprintf(path, sizeof(path), "%zu.parent_id", i);
            if (!json_is_null(pid) &&
                (!json_is_string(pid) || hs_parse_u64(json_string_value(pid), &p->parent_id) < 0 ||
                 p->parent_id > (uint64_t)INT64_MAX))
                capi_form_error(req, path, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        }
    }
    if (capi_form_failed(req)) {
        chan_req_free(r);
        return;
    }
    struct hs_channel_positions *op = &r->op.positions;
    op->guild_id = req->params[0];
    op->actor_id = req->user.id;
    op->items = r->items;
    op->n = n;
    op->reason = capi_audit_reason(req);
    capi_write(req, hs_channel_positions_fn, r, chan_req_free, finish_204);
}

/* ------------------------------------------------------------------ overwrites */

static void overwrite_put(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct chan_req *r = chan_req_new(body);
    struct hs_overwrite_put *op = &r->op.overwrite;
    op->channel_id = req->params[0];
    op->target_id = req->params[1];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    op->type = -1;
    if (capi_get_int(req, body, "type", 0, 1, &op->type) == 0)
        capi_form_required(req, "type");
    get_bits(req, body, "allow", &op->allow);
    get_bits(req, body, "deny", &op->deny);
    if (capi_form_failed(req)) {
        chan_req_free(r);
        return;
    }
    capi_write(req, hs_overwrite_put_fn, r, chan_req_free, finish_204);
}

static void overwrite_delete(capi_req *req)
{
    struct chan_req *r = chan_req_new(NULL);
    struct hs_overwrite_put *op = &r->op.overwrite;
    op->channel_id = req->params[0];
    op->target_id = req->params[1];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    op->remove = 1;
    capi_write(req, hs_overwrite_put_fn, r, chan_req_free, finish_204);
}

/* ------------------------------------------------------------------ threads */

static void thread_start(capi_req *req, uint64_t message_id)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct chan_req *r = chan_req_new(body);
    struct hs_thread_create *op = &r->op.thread;
    r->result = &op->thread;
    op->parent_id = req->params[0];
    op->message_id = message_id;
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    op->type = HS_CHANNEL_PRIVATE_THREAD; /* Discord's default for POST .../threads */
    op->invitable = 1;
    if (capi_get_string(req, body, "name", &op->name) == 0)
        capi_form_required(req, "name");
    get_archive_duration(req, body, &op->auto_archive_duration);
    capi_get_int(req, body, "rate_limit_per_user", 0, 21600, &op->rate_limit_per_user);
    if (!message_id) {
        if (capi_get_int(req, body, "type", 0, 100, &op->type) == 1 &&
            op->type != HS_CHANNEL_PUBLIC_THREAD && op->type != HS_CHANNEL_PRIVATE_THREAD)
            capi_form_error(req, "type", "BASE_TYPE_CHOICES", "Value must be one of (11, 12).");
        capi_get_bool(req, body, "invitable", &op->invitable);
    }
    if (capi_form_failed(req)) {
        chan_req_free(r);
        return;
    }
    capi_write(req, hs_thread_create_fn, r, chan_req_free, finish_201);
}

static void thread_from_message(capi_req *req)
{
    thread_start(req, req->params[1]);
}

static void thread_create(capi_req *req)
{
    thread_start(req, 0);
}

static void thread_member_write(capi_req *req, uint64_t user_id, int add)
{
    struct chan_req *r = chan_req_new(NULL);
    r->op.member.thread_id = req->params[0];
    r->op.member.actor_id = req->user.id;
    r->op.member.user_id = user_id;
    r->op.member.add = add;
    capi_write(req, hs_thread_member_fn, r, chan_req_free, finish_204);
}

static void thread_join(capi_req *req)
{
    thread_member_write(req, req->user.id, 1);
}

static void thread_leave(capi_req *req)
{
    thread_member_write(req, req->user.id, 0);
}

static void thread_member_add(capi_req *req)
{
    thread_member_write(req, req->params[1], 1);
}

static void thread_member_remove(capi_req *req)
{
    thread_member_write(req, req->params[1], 0);
}

static int query_bool(capi_req *req, const char *name)
{
    const char *v = capi_query(req, name);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "True") == 0);
}

static hs_db *read_thread(capi_req *req, struct hs_channel *ch)
{
    uint64_t perms;
    hs_db *db = read_channel(req, req->params[0], ch, &perms);
    if (db && !HS_CHANNEL_IS_THREAD(ch->type)) {
        respond_reason(req, HS_EINVAL, HS_R_CHANNEL_TYPE);
        return NULL;
    }
    return db;
}

static void thread_members_get(capi_req *req)
{
    uint64_t after = 0;
    int limit = 100;
    capi_query_id(req, "after", &after);
    capi_query_int(req, "limit", 1, 100, &limit);
    if (capi_form_failed(req))
        return;
    struct hs_channel ch;
    hs_db *db = read_thread(req, &ch);
    if (db)
        capi_respond(
            req, 200,
            hs_thread_member_list(db, ch.id, after, limit, query_bool(req, "with_member")));
}

static void thread_member_get(capi_req *req)
{
    struct hs_channel ch;
    hs_db *db = read_thread(req, &ch);
    if (!db)
        return;
    json_t *tm = hs_thread_member_json(db, ch.id, req->params[1], query_bool(req, "with_member"));
    if (tm)
        capi_respond(req, 200, tm);
    else
        respond_reason(req, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER);
}

static void threads_active(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    uint64_t perms;
    hs_error err;
    if (!db)
        return;
    int rc = hs_perm_guild(db, req->params[0], req->user.id, &perms, &err);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    json_t *members = NULL;
    json_t *threads = hs_thread_active(db, req->params[0], req->user.id, &members);
    capi_respond(req, 200, json_pack("{s:o, s:o}", "threads", threads, "members", members));
}

/*
 * An ISO 8601 timestamp as Discord writes them ("2026-11-27T23:04:05.123000+00:00"; "Z" and
 * other offsets accepted) to unix ms. Returns -1 when s is not one.
 */
static int parse_iso8601(const char *s, uint64_t *out)
{
    struct tm tm = {0};
    int n = 0, oh = 0, om = 0;
    double frac = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        const char *start = p;
        p++;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == start + 1)
            return -1;
        frac = strtod(start, NULL);
    }
    int sign = 0;
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 &&
               n == 5) {
        sign = *p == '+' ? 1 : -1;
        p += 6;
    } else if (*p) {
        return -1;
    }
    if (*p || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || oh > 23 ||
        om > 59)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0)
        return -1;
    int64_t ms = (int64_t)t * 1000 + (int64_t)(frac * 1000) - sign * (oh * 60 + om) * 60000;
    if (ms < 0)
        return -1;
    *out = (uint64_t)ms;
    return 0;
}

static void threads_archived(capi_req *req, int type, int joined_only)
{
    struct hs_thread_archived_query q = {.parent_id = req->params[0],
                                         .user_id = req->user.id,
                                         .type = type,
                                         .joined_only = joined_only,
                                         .limit = 50};
    const char *before = capi_query(req, "before");
    if (joined_only)
        capi_query_id(req, "before", &q.before_id);
    else if (before && parse_iso8601(before, &q.before_ms) < 0)
        capi_form_error(req, "before", "DATE_TIME_TYPE_PARSE", "Could not parse datetime.");
    capi_query_int(req, "limit", 1, 100, &q.limit);
    if (capi_form_failed(req))
        return;
    struct hs_channel ch;
    uint64_t perms;
    hs_db *db = read_channel(req, q.parent_id, &ch, &perms);
    if (!db)
        return;
    if (ch.type != HS_CHANNEL_TEXT) {
        respond_reason(req, HS_EINVAL, HS_R_CHANNEL_TYPE);
        return;
    }
    uint64_t need = HS_PERM_READ_MESSAGE_HISTORY;
    if (type == HS_CHANNEL_PRIVATE_THREAD && !joined_only)
        need |= HS_PERM_MANAGE_THREADS;
    if ((perms & need) != need) {
        respond_reason(req, HS_EPERM, HS_R_MISSING_PERMISSIONS);
        return;
    }
    capi_respond(req, 200, hs_thread_archived(db, &q));
}

static void threads_archived_public(capi_req *req)
{
    threads_archived(req, HS_CHANNEL_PUBLIC_THREAD, 0);
}

static void threads_archived_private(capi_req *req)
{
    threads_archived(req, HS_CHANNEL_PRIVATE_THREAD, 0);
}

static void threads_archived_joined(capi_req *req)
{
    threads_archived(req, HS_CHANNEL_PRIVATE_THREAD, 1);
}

const struct capi_route capi_routes_channels[] = {
    {"PATCH", "/channels/:channel_id", channel_edit, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id", channel_delete, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/channels", channel_positions, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/permissions/:overwrite_id", overwrite_put, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/permissions/:overwrite_id", overwrite_delete, CAPI_AUTH},
    {"POST", "/channels/:channel_id/messages/:message_id/threads", thread_from_message, CAPI_AUTH},
    {"POST", "/channels/:channel_id/threads", thread_create, CAPI_AUTH},
    {"GET", "/channels/:channel_id/thread-members", thread_members_get, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/thread-members/@me", thread_join, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/thread-members/@me", thread_leave, CAPI_AUTH},
    {"GET", "/channels/:channel_id/thread-members/:user_id", thread_member_get, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/thread-members/:user_id", thread_member_add, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/thread-members/:user_id", thread_member_remove, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/threads/active", threads_active, CAPI_AUTH},
    {"GET", "/channels/:channel_id/threads/archived/public", threads_archived_public, CAPI_AUTH},
    {"GET", "/channels/:channel_id/threads/archived/private", threads_archived_private, CAPI_AUTH},
    {"GET", "/channels/:channel_id/users/@me/threads/archived/private", threads_archived_joined,
     CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};
