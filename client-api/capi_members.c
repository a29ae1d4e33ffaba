/*
 * Roles, members, moderation (kick, ban, timeout) and the audit log (spec/rest-members.md).
 *
 * Handlers validate the request's form here and leave every permission and hierarchy
 * decision to the core write (hs_roles.c, hs_members.c), which takes it inside its
 * transaction; reads ask hs_perm_guild on the HTTP thread's read connection.
 */
#include "capi_internal.h"
#include "hs_audit.h"
#include "hs_guilds.h"
#include "hs_members.h"
#include "hs_perm.h"
#include "hs_roles.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every write of this module: its core operation, the parsed body and lists it borrows. */
struct members_req {
    union {
        struct hs_role_create role_create;
        struct hs_role_edit role_edit;
        struct hs_role_delete role_delete;
        struct hs_role_move role_move;
        struct hs_member_edit member_edit;
        struct hs_member_role member_role;
        struct hs_member_kick kick;
        struct hs_member_leave leave;
        struct hs_ban_create ban;
        struct hs_ban_delete unban;
    } op;
    json_t *body;
    json_t *result; /* the operation's JSON output, once written */
    uint64_t *ids;
    int *positions;
};

static struct members_req *req_new(json_t *body)
{
    struct members_req *r = hs_xcalloc(1, sizeof(*r));
    r->body = body;
    return r;
}

static void req_free(void *p)
{
    struct members_req *r = p;
    json_decref(r->result);
    json_decref(r->body);
    free(r->ids);
    free(r->positions);
    free(r);
}

/* The body as an object; an empty body counts as {} (POST roles and PUT bans may have
 * none). NULL after answering 50109. */
static json_t *body_or_empty(capi_req *req)
{
    return req->body.len == 0 ? json_object() : capi_body_object(req);
}

static void respond_result(capi_req *req, int rc, const hs_error *err, json_t **result)
{
    struct members_req *r = req->op;
    r->result = *result;
    *result = NULL;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(r->result));
}

static void finish_204(capi_req *req, int rc, const hs_error *err)
{
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 204, NULL);
}

/* Checks that the caller is a member (and holds `need`, when not 0); answers otherwise. */
static hs_db *member_db(capi_req *req, uint64_t need)
{
    hs_db *db = capi_read_db(req);
    uint64_t perms;
    hs_error err;
    if (!db)
        return NULL;
    int rc = hs_perm_guild(db, req->params[0], req->user.id, &perms, &err);
    if (rc == 0 && (perms & need) != need)
        rc = hs_error_reason(&err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return NULL;
    }
    return db;
}

/* A permissions bit set: a decimal string (Discord's form) or a non-negative integer. */
static int get_permissions(capi_req *req, json_t *body, uint64_t *out)
{
    json_t *v = json_object_get(body, "permissions");
    uint64_t p;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v) && hs_parse_u64(json_string_value(v), &p) == 0) {
        *out = p;
        return 1;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    capi_form_error(req, "permissions", "NUMBER_TYPE_COERCE", "Value is not a permission set.");
    return -1;
}

/*
 * A role's colour: `color`, or Discord's newer `colors {primary_color, secondary_color,
 * tertiary_color}`, the only form discord.js sends since 14.19. A role has one colour here
 * (no ENHANCED_ROLE_COLORS feature): primary_color is that colour and the other two are
 * ignored, as Discord ignores them without the feature. `colors` wins over `color`.
 * Returns capi_get_int's convention.
 */
static int get_color(capi_req *req, json_t *body, int *out)
{
    int rc = capi_get_int(req, body, "color", 0, HS_ROLE_COLOR_MAX, out);
    json_t *colors = json_object_get(body, "colors");
    if (rc < 0 || !colors || json_is_null(colors))
        return rc;
    if (!json_is_object(colors)) {
        capi_form_error(req, "colors", "MODEL_TYPE_CONVERT", "Only dictionaries may be used.");
        return -1;
    }
    json_t *v = json_object_get(colors, "primary_color");
    if (!v || json_is_null(v))
        return rc;
    if (!json_is_integer(v)) {
        capi_form_error(req, "colors.primary_color", "NUMBER_TYPE_COERCE", "Value is not int.");
        return -1;
    }
    json_int_t n = json_integer_value(v);
    if (n < 0) {
        capi_form_error(req, "colors.primary_color", "NUMBER_TYPE_MIN",
                        "int value should be greater than or equal to 0.");
        return -1;
    }
    if (n > HS_ROLE_COLOR_MAX) {
        capi_form_error(req, "colors.primary_color", "NUMBER_TYPE_MAX",
                        "int value should be less than or equal to 16777215.");
        return -1;
    }
    *out = (int)n;
    return 1;
}

/* A snowflake given as a decimal string or an integer: 0, or -1 when it is not one. */
static int id_value(json_t *v, uint64_t *out)
{
    uint64_t id;
    if (json_is_string(v) && hs_parse_u64(json_string_value(v), &id) == 0 &&
        id <= (uint64_t)INT64_MAX) {
        *out = id;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    return -1;
}

/* A form error on element i of a top-level array body ("3.position"; key NULL: "3"). */
static void form_error_at(capi_req *req, size_t i, const char *key, const char *code,
                          const char *message)
{
    char field[48];
    if (key)
        snprintf(field, sizeof(field), "%zu.%s", i, key);
    else
        snprintf(field, sizeof(field), "%zu", i);
    capi_form_error(req, field, code, message);
}

/* ------------------------------------------------------------------------------ roles */

static void roles_get(capi_req *req)
{
    hs_db *db = member_db(req, 0);
    if (db)
        capi_respond(req, 200, hs_role_list(db, req->params[0]));
}

static void role_get(capi_req *req)
{
    hs_db *db = member_db(req, 0);
    struct hs_role r;
    hs_error err;
    if (!db)
        return;
    if (hs_role_get(db, req->params[0], req->params[1], &r, &err) < 0)
        capi_respond_error(req, HS_ENOTFOUND, &err);
    else
        capi_respond(req, 200, hs_role_json(db, r.id));
}

static void role_create_finish(capi_req *req, int rc, const hs_error *err)
{
    struct members_req *r = req->op;
    respond_result(req, rc, err, &r->op.role_create.role);
}

static void role_create(capi_req *req)
{
    json_t *body = body_or_empty(req);
    if (!body)
        return;
    struct members_req *r = req_new(body);
    struct hs_role_create *op = &r->op.role_create;
    op->guild_id = req->params[0];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    capi_get_string(req, body, "name", &op->name);
    op->has_permissions = get_permissions(req, body, &op->permissions) == 1;
    get_color(req, body, &op->color);
    capi_get_bool(req, body, "hoist", &op->hoist);
    capi_get_bool(req, body, "mentionable", &op->mentionable);
    if (capi_form_failed(req)) {
        req_free(r);
        return;
    }
    capi_write(req, hs_role_create_fn, r, req_free, role_create_finish);
}

static void role_edit_finish(capi_req *req, int rc, const hs_error *err)
{
    struct members_req *r = req->op;
    respond_result(req, rc, err, &r->op.role_edit.role);
}

static void role_edit(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct members_req *r = req_new(body);
    struct hs_role_edit *op = &r->op.role_edit;
    op->guild_id = req->params[0];
    op->role_id = req->params[1];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    if (capi_get_string(req, body, "name", &op->name) == 1)
        op->set |= HS_ROLE_SET_NAME;
    if (get_permissions(req, body, &op->permissions) == 1)
        op->set |= HS_ROLE_SET_PERMISSIONS;
    if (get_color(req, body, &op->color) == 1)
        op->set |= HS_ROLE_SET_COLOR;
    if (capi_get_bool(req, body, "hoist", &op->hoist) == 1)
        op->set |= HS_ROLE_SET_HOIST;
    if (capi_get_bool(req, body, "mentionable", &op->mentionable) == 1)
        op->set |= HS_ROLE_SET_MENTIONABLE;
    if (capi_form_failed(req)) {
        req_free(r);
        return;
    }
    capi_write(req, hs_role_edit_fn, r, req_free, role_edit_finish);
}

static void role_delete(capi_req *req)
{
    struct members_req *r = req_new(NULL);
    struct hs_role_delete *op = &r->op.role_delete;
    op->guild_id = req->params[0];
    op->role_id = req->params[1];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    capi_write(req, hs_role_delete_fn, r, req_free, finish_204);
}

static void roles_move_finish(capi_req *req, int rc, const hs_error *err)
{
    struct members_req *r = req->op;
    respond_result(req, rc, err, &r->op.role_move.roles);
}

/* PATCH /guilds/{id}/roles: [{id, position}], at most HS_ROLES_MAX entries. */
static void roles_move(capi_req *req)
{
    json_error_t jerr;
    json_t *body = req->body.len ? json_loadb(req->body.data, req->body.len,
                                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr)
                                 : NULL;
    if (!body) {
        capi_respond_code(req, 400, 50109, "The request body contains invalid JSON.");
        return;
    }
    struct members_req *r = req_new(body);
    struct hs_role_move *op = &r->op.role_move;
    op->guild_id = req->params[0];
    op->actor_id = req->user.id;
    op->reason = capi_audit_reason(req);
    if (!json_is_array(body)) {
        capi_form_error(req, "", "BASE_TYPE_ARRAY", "Must be an array.");
    } else if (json_array_size(body) > HS_ROLES_MAX) {
        capi_form_error(req, "", "BASE_TYPE_MAX_LENGTH", "Must be 250 or fewer in length.");
    } else {
        size_t n = json_array_size(body);
        r->ids = hs_xcalloc(n ? n : 1, sizeof(*r->ids));
        r->positions = hs_xcalloc(n ? n : 1, sizeof(*r->positions));
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(body, i);
            json_t *pos = json_object_get(e, "position");
            uint64_t id = 0;
            if (!json_is_object(e)) {
                form_error_at(req, i, NULL, "MODEL_TYPE_CONVERT", "Only dictionaries may be used.");
                continue;
            }
            if (!json_object_get(e, "id"))
                form_error_at(req, i, "id", "BASE_TYPE_REQUIRED", "This field is required");
            else if (id_value(json_object_get(e, "id"), &id) < 0)
                form_error_at(req, i, "id", "NUMBER_TYPE_COERCE", "Value is not snowflake.");
            if (pos && !json_is_null(pos) && !json_is_integer(pos))
                form_error_at(req, i, "position", "NUMBER_TYPE_COERCE", "Value is not int.");
            else if (json_is_integer(pos) && json_integer_value(pos) < 0)
                form_error_at(req, i, "position", "NUMBER_TYPE_MIN",
                              "int value should be greater than or equal to 0.");
            else if (json_is_integer(pos) && id) {
                /* (A role listed without a position stays where it is.) */
                json_int_t v = json_integer_value(pos);
                r->ids[op->n] = id;
                r->positions[op->n++] = v > HS_ROLES_MAX ? HS_ROLES_MAX : (int)v;
            }
        }
        op->ids = r->ids;
        op->positions = r->positions;
    }
    if (capi_form_failed(req)) {
        req_free(r);
        return;
    }
    capi_write(req, hs_role_move_fn, r, req_free, roles_move_finish);
}

/* ---------------------------------------------------------------------------- members */

static void members_list(capi_req *req)
{
    uint64_t after = 0;
    int limit = 1;
    capi_query_id(req, "after", &after);
    capi_query_int(req, "limit", 1, 1000, &limit);
    if (capi_form_failed(req))
        return;
    hs_db *db = member_db(req, 0);
    if (db)
        capi_respond(req, 200, hs_member_list(db, req->params[0], after, limit));
}

static void members_search(capi_req *req)
{
    int limit = 1;
    const char *query = capi_query(req, "query");
    if (!query)
        capi_form_required(req, "query");
    capi_query_int(req, "limit", 1, 1000, &limit);
    if (capi_form_failed(req))
        return;
    hs_db *db = member_db(req, 0);
    if (db)
        capi_respond(req, 200, hs_member_search(db, req->params[0], query, limit));
}

static void member_get(capi_req *req)
{
    hs_db *db = member_db(req, 0);
    if (!db)
        return;
    json_t *m = hs_member_json(db, req->params[0], req->params[1]);
    if (m)
        capi_respond(req, 200, m);
    else
        capi_respond_code(req, 404, 10007, "Unknown Member");
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

/*
 * ISO 8601 as clients send it: "YYYY-MM-DDTHH:MM:SS", an optional fraction, then "Z",
 * "+HH:MM", "-HH:MM" or nothing (UTC). Returns unix ms (0 for anything before 1970) or -1.
 */
static int parse_iso8601(const char *s, uint64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, ms = 0;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ || digits(&p, 2, &h) ||
        *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        int scale = 100, any = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, any = 1) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (!any)
            return -1;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || (*p == ':' && !*++p) || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 3600L + om * 60L);
    }
    if (*p)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    int64_t t = (int64_t)timegm(&tm) - offset;
    *out = t > 0 ? (uint64_t)t * 1000 + (uint64_t)ms : 0;
    return 0;
}

static void member_edit_finish(capi_req *req, int rc, const hs_error *err)
{
    struct members_req *r = req->op;
    respond_result(req, rc, err, &r->op.member_edit.member);
}

/* PATCH /guilds/{id}/members/{user} and /members/@me (nick only). */
static void member_edit_common(capi_req *req, uint64_t user_id, int me)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct members_req *r = req_new(body);
    struct hs_member_edit *op = &r->op.member_edit;
    op->guild_id = req->params[0];
    op->actor_id = req->user.id;
    op->user_id = user_id;
    op->reason = capi_audit_reason(req);

    if (json_object_get(body, "nick")) {
        if (capi_get_string(req, body, "nick", &op->nick) >= 0)
            op->set |= HS_MEMBER_SET_NICK;
    }
    json_t *roles = json_object_get(body, "roles");
    if (!me && roles && !json_is_null(roles)) {
        if (!json_is_array(roles)) {
            capi_form_error(req, "roles", "BASE_TYPE_ARRAY", "Must be an array.");
        } else if (json_array_size(roles) > HS_MEMBER_ROLES_MAX) {
            capi_form_error(req, "roles", "BASE_TYPE_MAX_LENGTH",
                            "Must be 250 or fewer in length.");
        } else {
            size_t n = json_array_size(roles);
            r->ids = hs_xcalloc(n ? n : 1, sizeof(*r->ids));
            for (size_t i = 0; i < n; i++) {
                uint64_t id;
                if (id_value(json_array_get(roles, i), &id) < 0) {
                    char field[48];
                    snprintf(field, sizeof(field), "roles.%zu", i);
                    capi_form_error(req, field, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
                } else {
                    r->ids[op->nroles++] = id;
                }
            }
            op->roles = r->ids;
            op->set |= HS_MEMBER_SET_ROLES;
        }
    }
    json_t *cdu = json_object_get(body, "communication_disabled_until");
    if (!me && cdu) {
        if (json_is_null(cdu)) {
            op->set |= HS_MEMBER_SET_TIMEOUT;
        } else if (!json_is_string(cdu) ||
                   parse_iso8601(json_string_value(cdu), &op->timeout_until_ms) < 0) {
            capi_form_error(req, "communication_disabled_until", "DATE_TIME_TYPE_PARSE",
                            "Could not parse the value. Should be ISO8601.");
        } else {
            op->set |= HS_MEMBER_SET_TIMEOUT;
        }
    }
    if (capi_form_failed(req)) {
        req_free(r);
        return;
    }
    capi_write(req, hs_member_edit_fn, r, req_free, member_edit_finish);
}

static void member_edit(capi_req *req)
{
    member_edit_common(req, req->params[1], 0);
}

static void member_edit_me(capi_req *req)
{
    member_edit_common(req, req->user.id, 1);
}

static void member_kick(capi_req *req)
{
    struct members_req *r = req_new(NULL);
    r->op.kick = (struct hs_member_kick){.guild_id = req->params[0],
                                         .actor_id = req->user.id,
                                         .user_id = req->params[1],
                                         .reason = capi_audit_reason(req)};
    capi_write(req, hs_member_kick_fn, r, req_free, finish_204);
}

static void member_role_common(capi_req *req, int add)
{
    struct members_req *r = req_new(NULL);
    r->op.member_role = (struct hs_member_role){.guild_id = req->params[0],
                                                .actor_id = req->user.id,
                                                .user_id = req->params[1],
                                                .role_id = req->params[2],
                                                .add = add,
                                                .reason = capi_audit_reason(req)};
    capi_write(req, hs_member_role_fn, r, req_free, finish_204);
}

static void member_role_put(capi_req *req)
{
    member_role_common(req, 1);
}

static void member_role_delete(capi_req *req)
{
    member_role_common(req, 0);
}

static void guild_leave(capi_req *req)
{
    struct members_req *r = req_new(NULL);
    r->op.leave = (struct hs_member_leave){.guild_id = req->params[0], .user_id = req->user.id};
    capi_write(req, hs_member_leave_fn, r, req_free, finish_204);
}

/* ------------------------------------------------------------------------------- bans */

static void bans_list(capi_req *req)
{
    uint64_t before = 0, after = 0;
    int limit = 1000;
    capi_query_id(req, "before", &before);
    capi_query_id(req, "after", &after);
    capi_query_int(req, "limit", 1, 1000, &limit);
    if (capi_form_failed(req))
        return;
    hs_db *db = member_db(req, HS_PERM_BAN_MEMBERS);
    if (db)
        capi_respond(req, 200, hs_ban_list(db, req->params[0], before, after, limit));
}

static void ban_get(capi_req *req)
{
    hs_db *db = member_db(req, HS_PERM_BAN_MEMBERS);
    if (!db)
        return;
    json_t *b = hs_ban_json(db, req->params[0], req->params[1]);
    if (b)
        capi_respond(req, 200, b);
    else
        capi_respond_code(req, 404, 10026, "Unknown Ban");
}

static void ban_put(capi_req *req)
{
    json_t *body = body_or_empty(req);
    if (!body)
        return;
    struct members_req *r = req_new(body);
    struct hs_ban_create *op = &r->op.ban;
    op->guild_id = req->params[0];
    op->actor_id = req->user.id;
    op->user_id = req->params[1];
    op->reason = capi_audit_reason(req);
    int days = 0;
    /* delete_message_days is the older form (0..7); delete_message_seconds wins. */
    if (capi_get_int(req, body, "delete_message_days", 0, 7, &days) == 1)
        op->delete_message_seconds = days * 86400;
    capi_get_int(req, body, "delete_message_seconds", 0, HS_BAN_DELETE_MAX_SECONDS,
                 &op->delete_message_seconds);
    if (capi_form_failed(req)) {
        req_free(r);
        return;
    }
    capi_write(req, hs_ban_create_fn, r, req_free, finish_204);
}

static void ban_delete(capi_req *req)
{
    struct members_req *r = req_new(NULL);
    r->op.unban = (struct hs_ban_delete){.guild_id = req->params[0],
                                         .actor_id = req->user.id,
                                         .user_id = req->params[1],
                                         .reason = capi_audit_reason(req)};
    capi_write(req, hs_ban_delete_fn, r, req_free, finish_204);
}

/* -------------------------------------------------------------------------- audit log */

static void audit_get(capi_req *req)
{
    struct hs_audit_query q = {.limit = 50};
    capi_query_id(req, "user_id", &q.user_id);
    capi_query_int(req, "action_type", 1, 1000, &q.action_type);
    capi_query_id(req, "before", &q.before);
    capi_query_id(req, "after", &q.after);
    capi_query_int(req, "limit", 1, 100, &q.limit);
    if (capi_form_failed(req))
        return;
    hs_db *db = member_db(req, HS_PERM_VIEW_AUDIT_LOG);
    if (db)
        capi_respond(req, 200, hs_audit_list(db, req->params[0], &q));
}

const struct capi_route capi_routes_members[] = {
    {"GET", "/guilds/:guild_id/roles", roles_get, CAPI_AUTH},
    {"POST", "/guilds/:guild_id/roles", role_create, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/roles", roles_move, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/roles/:role_id", role_get, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/roles/:role_id", role_edit, CAPI_AUTH},
    {"DELETE", "/guilds/:guild_id/roles/:role_id", role_delete, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/members", members_list, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/members/search", members_search, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/members/@me", member_edit_me, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/members/:user_id", member_get, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/members/:user_id", member_edit, CAPI_AUTH},
    {"DELETE", "/guilds/:guild_id/members/:user_id", member_kick, CAPI_AUTH},
    {"PUT", "/guilds/:guild_id/members/:user_id/roles/:role_id", member_role_put, CAPI_AUTH},
    {"DELETE", "/guilds/:guild_id/members/:user_id/roles/:role_id", member_role_delete, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/bans", bans_list, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/bans/:user_id", ban_get, CAPI_AUTH},
    {"PUT", "/guilds/:guild_id/bans/:user_id", ban_put, CAPI_AUTH},
    {"DELETE", "/guilds/:guild_id/bans/:user_id", ban_delete, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/audit-logs", audit_get, CAPI_AUTH},
    {"DELETE", "/users/@me/guilds/:guild_id", guild_leave, CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};
