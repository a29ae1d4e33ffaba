/*
 * Invites, DMs and group DMs (spec/rest-invites.md).
 *
 * Invite codes are not snowflakes, so their routes use a "*" segment (any one segment);
 * the handler reads the code from the path itself.
 *
 * DELETE /channels/{id} is routed to the channels module, whose handler hands channels
 * without a guild (DMs, group DMs) to capi_dm_close here, which closes or leaves them.
 */
#include "capi_internal.h"
#include "hs_dms.h"
#include "hs_invites.h"
#include "hs_time.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One pending write of this module: the core operation, where its JSON result lands, and
 * what the request owns until it completes. */
struct op_req {
    union {
        struct hs_invite_create create;
        struct hs_invite_delete del;
        struct hs_invite_accept accept;
        struct hs_dm_open dm;
        struct hs_group_dm_create group;
        struct hs_dm_recipient recipient;
        struct hs_dm_close close;
    } op;
    json_t **out;    /* the operation's result field, NULL for none */
    unsigned status; /* on success: 200 with *out, or 204 */
    json_t *body;
    uint64_t *ids; /* group DM recipients */
    char code[40];
};

static struct op_req *op_req_new(unsigned status)
{
    struct op_req *r = hs_xcalloc(1, sizeof(*r));
    r->status = status;
    return r;
}

static void op_req_free(void *p)
{
    struct op_req *r = p;
    if (r->out)
        json_decref(*r->out);
    json_decref(r->body);
    free(r->ids);
    free(r);
}

static void op_finish(capi_req *req, int rc, const hs_error *err)
{
    struct op_req *r = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else if (r->status == 204 || !r->out || !*r->out)
        capi_respond(req, 204, NULL);
    else
        capi_respond(req, r->status, json_incref(*r->out));
}

static int with_counts(capi_req *req)
{
    const char *v = capi_query(req, "with_counts");
    return v && (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "1") == 0);
}

/* An optional JSON body: absent means {} (Discord accepts these requests without one). */
static json_t *optional_body(capi_req *req)
{
    if (req->body.len == 0)
        return json_object();
    return capi_body_object(req);
}

/* The invite code: the path's last segment ("/invites/CODE" or "/invites/CODE/"). Anything
 * that cannot be a code becomes "", which names no invite. */
static void path_code(capi_req *req, char out[40])
{
    const char *p = req->path + strlen("/invites/");
    size_t n = strcspn(p, "/");
    out[0] = '\0';
    if (n < 40) {
        memcpy(out, p, n);
        out[n] = '\0';
    }
    if (!hs_invite_code_ok(out))
        out[0] = '\0';
}

/* ------------------------------------------------------------------ invites */

static void invite_create(capi_req *req)
{
    json_t *body = optional_body(req);
    if (!body)
        return;
    struct op_req *r = op_req_new(200);
    struct hs_invite_create *op = &r->op.create;
    r->body = body;
    r->out = &op->invite;
    op->channel_id = req->params[0];
    op->actor_id = req->user.id;
    op->max_age = HS_INVITE_DEFAULT_MAX_AGE;
    op->reason = capi_audit_reason(req);
    capi_get_int(req, body, "max_age", 0, HS_INVITE_MAX_AGE, &op->max_age);
    capi_get_int(req, body, "max_uses", 0, HS_INVITE_MAX_USES, &op->max_uses);
    capi_get_bool(req, body, "temporary", &op->temporary);
    capi_get_bool(req, body, "unique", &op->unique);
    if (capi_form_failed(req)) {
        op_req_free(r);
        return;
    }
    capi_write(req, hs_invite_create_fn, r, op_req_free, op_finish);
}

static void channel_invites(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    json_t *out = NULL;
    hs_error err;
    if (!db)
        return;
    int rc = hs_invite_list_channel(db, req->params[0], req->user.id, hs_now_ms(), &out, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, out);
}

static void guild_invites(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    json_t *out = NULL;
    hs_error err;
    if (!db)
        return;
    int rc = hs_invite_list_guild(db, req->params[0], req->user.id, hs_now_ms(), &out, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, out);
}

static void invite_get(capi_req *req)
{
    char code[40];
    hs_db *db = capi_read_db(req);
    json_t *out = NULL;
    hs_error err;
    if (!db)
        return;
    path_code(req, code);
    int rc = hs_invite_get(db, code, hs_now_ms(), with_counts(req), &out, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, out);
}

static void invite_delete(capi_req *req)
{
    struct op_req *r = op_req_new(200);
    path_code(req, r->code);
    r->out = &r->op.del.invite;
    r->op.del.code = r->code;
    r->op.del.actor_id = req->user.id;
    r->op.del.reason = capi_audit_reason(req);
    capi_write(req, hs_invite_delete_fn, r, op_req_free, op_finish);
}

static void invite_accept(capi_req *req)
{
    if (req->user.bot) {
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    struct op_req *r = op_req_new(200);
    path_code(req, r->code);
    r->out = &r->op.accept.invite;
    r->op.accept.code = r->code;
    r->op.accept.user_id = req->user.id;
    capi_write(req, hs_invite_accept_fn, r, op_req_free, op_finish);
}

/* ------------------------------------------------------------------ DMs */

/* Reads `recipients` (an array of snowflakes) into r->ids. */
static size_t read_recipients(capi_req *req, json_t *list, struct op_req *r)
{
    if (!json_is_array(list)) {
        capi_form_error(req, "recipients", "BASE_TYPE_ARRAY", "Must be an array.");
        return 0;
    }
    size_t n = json_array_size(list);
    r->ids = hs_xcalloc(n ? n : 1, sizeof(*r->ids));
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(list, i);
        uint64_t id = 0;
        if (json_is_string(v) && hs_parse_u64(json_string_value(v), &id) == 0 && id > 0 &&
            id <= (uint64_t)INT64_MAX) {
            r->ids[i] = id;
        } else if (json_is_integer(v) && json_integer_value(v) > 0) {
            r->ids[i] = (uint64_t)json_integer_value(v);
        } else {
            char field[40];
            snprintf(field, sizeof(field), "recipients.%zu", i);
            capi_form_error(req, field, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        }
    }
    return n;
}

static void dm_create(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    json_t *rid = json_object_get(body, "recipient_id");
    json_t *list = json_object_get(body, "recipients");
    struct op_req *r = op_req_new(200);
    r->body = body;
    if ((rid && !json_is_null(rid)) || !list || json_is_null(list)) {
        struct hs_dm_open *op = &r->op.dm;
        r->out = &op->channel;
        op->actor_id = req->user.id;
        if (capi_get_id(req, body, "recipient_id", &op->recipient_id) == 0)
            capi_form_required(req, "recipient_id");
        if (capi_form_failed(req)) {
            op_req_free(r);
            return;
        }
        capi_write(req, hs_dm_open_fn, r, op_req_free, op_finish);
        return;
    }
    /* A group DM: user accounts only, as on Discord (bots need OAuth2 access tokens). */
    if (req->user.bot) {
        op_req_free(r);
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    struct hs_group_dm_create *op = &r->op.group;
    r->out = &op->channel;
    op->actor_id = req->user.id;
    op->nrecipients = read_recipients(req, list, r);
    op->recipients = r->ids;
    capi_get_string(req, body, "name", &op->name);
    if (capi_form_failed(req)) {
        op_req_free(r);
        return;
    }
    capi_write(req, hs_group_dm_create_fn, r, op_req_free, op_finish);
}

static void dm_list(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    if (db)
        capi_respond(req, 200, hs_dm_list(db, req->user.id));
}

static void recipient_op(capi_req *req, hs_write_fn fn)
{
    struct op_req *r = op_req_new(204);
    r->op.recipient.channel_id = req->params[0];
    r->op.recipient.user_id = req->params[1];
    r->op.recipient.actor_id = req->user.id;
    capi_write(req, fn, r, op_req_free, op_finish);
}

static void recipient_add(capi_req *req)
{
    recipient_op(req, hs_dm_recipient_add_fn);
}

static void recipient_remove(capi_req *req)
{
    recipient_op(req, hs_dm_recipient_remove_fn);
}

void capi_dm_close(capi_req *req)
{
    struct op_req *r = op_req_new(200);
    r->out = &r->op.close.channel;
    r->op.close.channel_id = req->params[0];
    r->op.close.actor_id = req->user.id;
    capi_write(req, hs_dm_close_fn, r, op_req_free, op_finish);
}

const struct capi_route capi_routes_invites[] = {
    {"POST", "/channels/:channel_id/invites", invite_create, CAPI_AUTH},
    {"GET", "/channels/:channel_id/invites", channel_invites, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/invites", guild_invites, CAPI_AUTH},
    {"GET", "/invites/*", invite_get, CAPI_AUTH},
    {"DELETE", "/invites/*", invite_delete, CAPI_AUTH},
    {"POST", "/invites/*", invite_accept, CAPI_AUTH},
    {"GET", "/users/@me/channels", dm_list, CAPI_AUTH},
    {"POST", "/users/@me/channels", dm_create, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/recipients/:user_id", recipient_add, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/recipients/:user_id", recipient_remove, CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};
