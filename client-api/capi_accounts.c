/*
 * Accounts, applications and bots (spec/client-api.md "Accounts", "Applications and bots").
 */
#include "capi_internal.h"
#include "hs_guilds.h"
#include "hs_util.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Register and login hash passwords, so they run on the pool (capi_run_job). */
struct account_op {
    json_t *body;
    const char *username, *password, *global_name;
};

static void account_op_free(void *p)
{
    struct account_op *op = p;
    json_decref(op->body);
    free(op);
}

static void respond_token(capi_req *req, unsigned status, const char *token, uint64_t uid)
{
    capi_respond(req, status, json_pack("{s:s, s:o}", "token", token, "user_id", hs_json_id(uid)));
}

static void register_job(capi_req *req)
{
    struct account_op *op = req->op;
    char token[HS_TOKEN_MAX];
    uint64_t uid;
    hs_error err;
    int rc = hs_account_register(req->srv->core, op->username, op->password, op->global_name, token,
                                 &uid, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        respond_token(req, 201, token, uid);
    sodium_memzero(token, sizeof(token));
}

static void login_job(capi_req *req)
{
    struct account_op *op = req->op;
    char token[HS_TOKEN_MAX];
    uint64_t uid;
    hs_error err;
    int rc = hs_account_login(req->srv->core, op->username, op->password, token, &uid, &err);
    if (rc == HS_EAUTH) {
        capi_form_error(req, "login", "INVALID_LOGIN", "Login or password is invalid.");
        capi_form_error(req, "password", "INVALID_LOGIN", "Login or password is invalid.");
        capi_form_failed(req);
    } else if (rc < 0) {
        capi_respond_error(req, rc, &err);
    } else {
        respond_token(req, 200, token, uid);
    }
    sodium_memzero(token, sizeof(token));
}

static void account_request(capi_req *req, const char *name_field, capi_job job)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct account_op *op = hs_xcalloc(1, sizeof(*op));
    op->body = body;
    req->op = op;
    req->op_free = account_op_free;
    if (capi_get_string(req, body, name_field, &op->username) == 0)
        capi_form_required(req, name_field);
    if (capi_get_string(req, body, "password", &op->password) == 0)
        capi_form_required(req, "password");
    if (job == register_job)
        capi_get_string(req, body, "global_name", &op->global_name);
    if (capi_form_failed(req))
        return;
    if (job == register_job) {
        /* Cheap checks here, so a bad request never costs a hash. */
        char folded[HS_USERNAME_MAX + 1];
        hs_error err;
        if (hs_username_check(op->username, folded, &err) < 0 ||
            hs_password_check(op->password, &err) < 0 ||
            (op->global_name && hs_utf8_len(op->global_name, strlen(op->global_name)) > 32 &&
             hs_error_form(&err, "global_name", "BASE_TYPE_MAX_LENGTH",
                           "Must be 32 or fewer in length.") < 0)) {
            capi_respond_error(req, HS_EINVAL, &err);
            return;
        }
    }
    capi_run_job(req, job);
}

void capi_register(capi_req *req)
{
    account_request(req, "username", register_job);
}

void capi_login(capi_req *req)
{
    account_request(req, "login", login_job);
}

void capi_me(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    if (db)
        capi_respond(req, 200, hs_user_json(db, req->user.id, 1));
}

void capi_user_get(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    if (!db)
        return;
    json_t *u = hs_user_json(db, req->params[0], req->params[0] == req->user.id);
    if (!u)
        capi_respond_code(req, 404, 10013, "Unknown User");
    else
        capi_respond(req, 200, u);
}

/* The body stays alive with the op: op.name points into it. */
struct app_create_req {
    struct hs_app_create op;
    json_t *body;
};

static void app_create_free(void *p)
{
    struct app_create_req *r = p;
    json_decref(r->op.app);
    json_decref(r->body);
    free(r);
}

static void app_create_finish(capi_req *req, int rc, const hs_error *err)
{
    struct app_create_req *r = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 201, json_incref(r->op.app));
}

void capi_app_create(capi_req *req)
{
    if (req->user.bot) {
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct app_create_req *r = hs_xcalloc(1, sizeof(*r));
    r->body = body;
    r->op.owner_id = req->user.id;
    if (capi_get_string(req, body, "name", &r->op.name) == 0)
        capi_form_required(req, "name");
    if (capi_form_failed(req)) {
        app_create_free(r);
        return;
    }
    capi_write(req, hs_app_create_fn, &r->op, app_create_free, app_create_finish);
}

static void respond_app(capi_req *req, uint64_t app_id, int owner_only)
{
    hs_db *db = capi_read_db(req);
    struct hs_app app;
    hs_error err;
    if (!db)
        return;
    int rc = hs_app_get(db, app_id, &app, &err);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    if (owner_only && app.owner_id != req->user.id && app.bot_user_id != req->user.id) {
        capi_respond_code(req, 403, 50013, "Missing Permissions");
        return;
    }
    capi_respond(req, 200, hs_app_json(db, app_id));
}

void capi_app_get(capi_req *req)
{
    respond_app(req, req->params[0], 1);
}

void capi_app_me(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    struct hs_app app;
    hs_error err;
    if (!db)
        return;
    if (!req->user.bot || hs_app_of_bot(db, req->user.id, &app, &err) < 0) {
        capi_respond_code(req, 404, 10002, "Unknown Application");
        return;
    }
    respond_app(req, app.id, 0);
}

static void app_reset_free(void *p)
{
    sodium_memzero(p, sizeof(struct hs_app_reset));
    free(p);
}

static void app_reset_finish(capi_req *req, int rc, const hs_error *err)
{
    struct hs_app_reset *op = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_pack("{s:s}", "token", op->token));
}

void capi_app_reset(capi_req *req)
{
    if (req->user.bot) {
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    struct hs_app_reset *op = hs_xcalloc(1, sizeof(*op));
    op->app_id = req->params[0];
    op->actor_id = req->user.id;
    capi_write(req, hs_app_reset_fn, op, app_reset_free, app_reset_finish);
}

static void authorize_finish(capi_req *req, int rc, const hs_error *err)
{
    struct hs_bot_authorize *op = req->op;
    if (rc < 0) {
        capi_respond_error(req, rc, err);
        return;
    }
    char loc[128];
    snprintf(loc, sizeof(loc), "/oauth2/authorized?guild_id=%" PRIu64, op->guild_id);
    capi_respond(req, 200, json_pack("{s:s}", "location", loc));
}

void capi_oauth2_authorize(capi_req *req)
{
    if (req->user.bot) {
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    uint64_t app_id = 0, guild_id = 0, perms = 0;
    int authorize = 0;
    const char *scope = capi_query(req, "scope");
    if (capi_query_id(req, "client_id", &app_id) == 0)
        capi_form_required(req, "client_id");
    if (!scope)
        capi_form_required(req, "scope");
    else if (strcmp(scope, "bot") != 0 && strcmp(scope, "bot applications.commands") != 0)
        capi_form_error(req, "scope", "BASE_TYPE_CHOICES", "Only the bot scope is supported.");
    if (capi_get_id(req, body, "guild_id", &guild_id) == 0)
        capi_form_required(req, "guild_id");
    json_t *p = json_object_get(body, "permissions");
    if (p && !json_is_null(p)) {
        uint64_t v;
        if (json_is_string(p) && hs_parse_u64(json_string_value(p), &v) == 0)
            perms = v;
        else if (json_is_integer(p) && json_integer_value(p) >= 0)
            perms = (uint64_t)json_integer_value(p);
        else
            capi_form_error(req, "permissions", "NUMBER_TYPE_COERCE",
                            "Value is not a permission bitfield.");
    }
    capi_get_bool(req, body, "authorize", &authorize);
    json_decref(body);
    if (capi_form_failed(req))
        return;
    if (!authorize) {
        capi_respond(req, 200, json_pack("{s:s}", "location", "/oauth2/denied"));
        return;
    }
    struct hs_bot_authorize *op = hs_xcalloc(1, sizeof(*op));
    op->app_id = app_id;
    op->actor_id = req->user.id;
    op->guild_id = guild_id;
    op->permissions = perms;
    capi_write(req, hs_bot_authorize_fn, op, free, authorize_finish);
}

static void app_edit_free(void *p)
{
    struct hs_app_edit *op = p;
    json_decref(op->app);
    free(op);
}

static void app_edit_finish(capi_req *req, int rc, const hs_error *err)
{
    struct hs_app_edit *op = req->op;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(op->app));
}

void capi_app_edit(capi_req *req)
{
    if (req->user.bot) {
        capi_respond_code(req, 403, 20001, "Bots cannot use this endpoint");
        return;
    }
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct hs_app_edit *op = hs_xcalloc(1, sizeof(*op));
    op->app_id = req->params[0];
    op->actor_id = req->user.id;
    json_t *flags = json_object_get(body, "flags");
    if (!json_is_integer(flags) || json_integer_value(flags) < 0)
        capi_form_error(req, "flags", "NUMBER_TYPE_COERCE", "Value is not int.");
    else
        op->flags = (uint64_t)json_integer_value(flags);
    json_decref(body);
    if (capi_form_failed(req)) {
        app_edit_free(op);
        return;
    }
    capi_write(req, hs_app_edit_fn, op, app_edit_free, app_edit_finish);
}
