/*
 * Guilds and channels (spec/client-api.md "Guilds and channels").
 */
#include "capi_internal.h"
#include "hs_channels.h"
#include "hs_dms.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <stdlib.h>
#include <string.h>

struct guild_create_req {
    struct hs_guild_create op;
    json_t *body;
};

static void guild_create_free(void *p)
{
    struct guild_create_req *r = p;
    json_decref(r->op.guild);
    json_decref(r->body);
    free(r);
}

static void guild_create_finish(capi_req *req, int rc, const hs_error *err)
{
    struct guild_create_req *r = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 201, json_incref(r->op.guild));
}

void capi_guild_create(capi_req *req)
{
    if (req->user.bot) {
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct guild_create_req *r = hs_xcalloc(1, sizeof(*r));
    r->body = body;
    r->op.owner_id = req->user.id;
    if (capi_get_string(req, body, "name", &r->op.name) == 0)
        capi_form_required(req, "name");
    if (capi_form_failed(req)) {
        guild_create_free(r);
        return;
    }
    capi_write(req, hs_guild_create_fn, &r->op, guild_create_free, guild_create_finish);
}

void capi_guild_get(capi_req *req)
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
    const char *wc = capi_query(req, "with_counts");
    int with_counts = wc && (strcmp(wc, "true") == 0 || strcmp(wc, "1") == 0);
    capi_respond(req, 200, hs_guild_json(db, req->params[0], with_counts));
}

void capi_my_guilds(capi_req *req)
{
    uint64_t before = 0, after = 0;
    int limit = 200;
    capi_query_id(req, "before", &before);
    capi_query_id(req, "after", &after);
    capi_query_int(req, "limit", 1, 200, &limit);
    if (capi_form_failed(req))
        return;
    hs_db *db = capi_read_db(req);
    if (db)
        capi_respond(req, 200, hs_guild_list_for_user(db, req->user.id, before, after, limit));
}

void capi_channels_get(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    uint64_t perms;
    hs_error err;
    if (!db)
        return;
    int rc = hs_perm_guild(db, req->params[0], req->user.id, &perms, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, hs_channel_list(db, req->params[0], req->user.id));
}

struct channel_create_req {
    struct hs_channel_create op;
    json_t *body;
};

static void channel_create_free(void *p)
{
    struct channel_create_req *r = p;
    json_decref(r->op.channel);
    json_decref(r->body);
    free(r);
}

static void channel_create_finish(capi_req *req, int rc, const hs_error *err)
{
    struct channel_create_req *r = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 201, json_incref(r->op.channel));
}

void capi_channel_create(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct channel_create_req *r = hs_xcalloc(1, sizeof(*r));
    struct hs_channel_create *op = &r->op;
    r->body = body;
    op->guild_id = req->params[0];
    op->actor_id = req->user.id;
    op->position = -1;
    if (capi_get_string(req, body, "name", &op->name) == 0)
        capi_form_required(req, "name");
    capi_get_int(req, body, "type", 0, 100, &op->type);
    capi_get_string(req, body, "topic", &op->topic);
    capi_get_int(req, body, "position", 0, 100000, &op->position);
    capi_get_bool(req, body, "nsfw", &op->nsfw);
    capi_get_int(req, body, "rate_limit_per_user", 0, 21600, &op->rate_limit_per_user);
    capi_get_id(req, body, "parent_id", &op->parent_id);
    /* Validated in the core (hs_channel_create_fn), which knows the roles and members. */
    op->overwrites = json_object_get(body, "permission_overwrites");
    op->reason = capi_audit_reason(req);
    if (capi_form_failed(req)) {
        channel_create_free(r);
        return;
    }
    capi_write(req, hs_channel_create_fn, op, channel_create_free, channel_create_finish);
}

void capi_channel_get(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    uint64_t perms;
    hs_error err;
    if (!db)
        return;
    int rc = hs_channel_access(db, req->params[0], req->user.id, &ch, &perms, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else if (!ch.guild_id) /* a DM lists the other recipients, as Discord does */
        capi_respond(req, 200, hs_dm_channel_json(db, req->params[0], req->user.id));
    else
        capi_respond(req, 200, hs_channel_json(db, req->params[0]));
}
