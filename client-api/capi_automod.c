/*
 * AutoMod rules and the spam settings extension (spec/rest-automod.md).
 *
 * Handlers parse the body as a JSON object and hand it whole to the core write
 * (hs_automod.c), which validates every field inside its transaction, where it can also
 * check the channels and roles the rule names and the guild's rule counts. Reads check
 * MANAGE_GUILD on the HTTP thread's read connection.
 */
#include "capi_internal.h"
#include "hs_automod.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <stdlib.h>

struct automod_req {
    union {
        struct hs_automod_rule_write rule;
        struct hs_automod_rule_delete del;
        struct hs_automod_spam_edit spam;
    } op;
    json_t *body;
    json_t *result;
};

static void req_free(void *p)
{
    struct automod_req *r = p;
    json_decref(r->body);
    json_decref(r->result);
    free(r);
}

/* The read connection once the caller is known to hold MANAGE_GUILD; NULL after answering. */
static hs_db *manager_db(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    uint64_t perms;
    hs_error err;
    if (!db)
        return NULL;
    int rc = hs_perm_guild(db, req->params[0], req->user.id, &perms, &err);
    if (rc == 0 && !(perms & HS_PERM_MANAGE_GUILD))
        rc = hs_error_reason(&err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return NULL;
    }
    return db;
}

static void finish_result(capi_req *req, int rc, const hs_error *err, json_t **result)
{
    struct automod_req *r = req->op;
    r->result = *result;
    *result = NULL;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(r->result));
}

static void rule_finish(capi_req *req, int rc, const hs_error *err)
{
    struct automod_req *r = req->op;
    finish_result(req, rc, err, &r->op.rule.rule);
}

static void spam_finish(capi_req *req, int rc, const hs_error *err)
{
    struct automod_req *r = req->op;
    finish_result(req, rc, err, &r->op.spam.settings);
}

static void finish_204(capi_req *req, int rc, const hs_error *err)
{
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 204, NULL);
}

static void rules_list(capi_req *req)
{
    hs_db *db = manager_db(req);
    if (db)
        capi_respond(req, 200, hs_automod_rule_list(db, req->params[0]));
}

static void rule_get(capi_req *req)
{
    hs_db *db = manager_db(req);
    json_t *rule;
    hs_error err;
    if (!db)
        return;
    int rc = hs_automod_rule_get(db, req->params[0], req->params[1], &rule, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, rule);
}

/* A write of a rule from the request body (rule_id 0: a creation). */
static void rule_write(capi_req *req, uint64_t rule_id, hs_write_fn fn)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct automod_req *r = hs_xcalloc(1, sizeof(*r));
    r->body = body;
    r->op.rule.guild_id = req->params[0];
    r->op.rule.rule_id = rule_id;
    r->op.rule.actor_id = req->user.id;
    r->op.rule.body = body;
    r->op.rule.max_keyword_rules = req->srv->cfg->automod_max_keyword_rules;
    r->op.rule.reason = capi_audit_reason(req);
    capi_write(req, fn, r, req_free, rule_finish);
}

static void rule_create(capi_req *req)
{
    rule_write(req, 0, hs_automod_rule_create_fn);
}

static void rule_edit(capi_req *req)
{
    rule_write(req, req->params[1], hs_automod_rule_edit_fn);
}

static void rule_delete(capi_req *req)
{
    struct automod_req *r = hs_xcalloc(1, sizeof(*r));
    r->op.del.guild_id = req->params[0];
    r->op.del.rule_id = req->params[1];
    r->op.del.actor_id = req->user.id;
    r->op.del.reason = capi_audit_reason(req);
    capi_write(req, hs_automod_rule_delete_fn, r, req_free, finish_204);
}

/* ---- the Hearth extension: spam settings ---- */

static void spam_get(capi_req *req)
{
    hs_db *db = manager_db(req);
    if (db)
        capi_respond(req, 200, hs_automod_spam_json(db, req->params[0]));
}

static void spam_edit(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct automod_req *r = hs_xcalloc(1, sizeof(*r));
    r->body = body;
    r->op.spam.guild_id = req->params[0];
    r->op.spam.actor_id = req->user.id;
    r->op.spam.body = body;
    r->op.spam.reason = capi_audit_reason(req);
    capi_write(req, hs_automod_spam_edit_fn, r, req_free, spam_finish);
}

const struct capi_route capi_routes_automod[] = {
    {"GET", "/guilds/:guild_id/auto-moderation/rules", rules_list, CAPI_AUTH},
    {"POST", "/guilds/:guild_id/auto-moderation/rules", rule_create, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/auto-moderation/rules/:rule_id", rule_get, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/auto-moderation/rules/:rule_id", rule_edit, CAPI_AUTH},
    {"DELETE", "/guilds/:guild_id/auto-moderation/rules/:rule_id", rule_delete, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/hearth/spam", spam_get, CAPI_AUTH},
    {"PATCH", "/guilds/:guild_id/hearth/spam", spam_edit, CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};
