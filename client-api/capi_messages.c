/*
 * Messages (spec/client-api.md "Messages").
 */
#include "capi_internal.h"
#include "hs_channels.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_time.h"
#include "hs_util.h"

#include <stdlib.h>
#include <string.h>

struct msg_req {
    union {
        struct hs_msg_create create;
        struct hs_msg_edit edit;
        struct hs_msg_delete del;
    } op;
    json_t *result; /* points at op.create.message or op.edit.message once done */
    json_t *body;
};

static void msg_req_free(void *p)
{
    struct msg_req *r = p;
    json_decref(r->result);
    json_decref(r->body);
    free(r);
}

static void create_finish(capi_req *req, int rc, const hs_error *err)
{
    struct msg_req *r = req->op;
    r->result = r->op.create.message;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(r->result));
}

void capi_message_create(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct msg_req *r = hs_xcalloc(1, sizeof(*r));
    struct hs_msg_create *op = &r->op.create;
    r->body = body;
    op->channel_id = req->params[0];
    op->author_id = req->user.id;
    op->max_chars = req->srv->cfg->message_max_chars;
    capi_get_string(req, body, "content", &op->content);
    capi_get_bool(req, body, "tts", &op->tts);
    json_t *nonce = json_object_get(body, "nonce");
    if (nonce && !json_is_null(nonce)) {
        if (json_is_integer(nonce) || (json_is_string(nonce) && json_string_length(nonce) <= 25))
            op->nonce = nonce;
        else
            capi_form_error(req, "nonce", "BASE_TYPE_BAD_LENGTH",
                            "Must be a string of 25 or fewer characters, or an integer.");
    }
    if (capi_form_failed(req)) {
        msg_req_free(r);
        return;
    }
    capi_write(req, hs_msg_create_fn, r, msg_req_free, create_finish);
}

void capi_messages_get(capi_req *req)
{
    struct hs_history_query q = {.limit = 50};
    int given = 0;
    const char *which[] = {"around", "before", "after"};
    uint64_t *slots[] = {&q.around, &q.before, &q.after};
    for (int i = 0; i < 3; i++) {
        int rc = capi_query_id(req, which[i], slots[i]);
        if (rc == 1 && slots[i] == &q.after)
            q.after_given = 1;
        if (rc == 1 && ++given > 1)
            capi_form_error(req, which[i], "BASE_TYPE_CHOICES",
                            "Only one of around, before and after may be given.");
    }
    capi_query_int(req, "limit", 1, 100, &q.limit);
    if (capi_form_failed(req))
        return;

    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    uint64_t perms;
    hs_error err;
    if (!db)
        return;
    int rc = hs_channel_access(db, req->params[0], req->user.id, &ch, &perms, &err);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    if (!(perms & HS_PERM_READ_MESSAGE_HISTORY)) {
        capi_respond(req, 200, json_array());
        return;
    }
    capi_respond(req, 200, hs_msg_history(db, req->params[0], &q));
}

void capi_message_get(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    uint64_t perms;
    hs_error err;
    json_t *m;
    if (!db)
        return;
    int rc = hs_channel_access(db, req->params[0], req->user.id, &ch, &perms, &err);
    if (rc == 0 && !(perms & HS_PERM_READ_MESSAGE_HISTORY))
        rc = hs_error_reason(&err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");
    if (rc == 0)
        rc = hs_msg_get(db, req->params[0], req->params[1], &m, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, m);
}

static void edit_finish(capi_req *req, int rc, const hs_error *err)
{
    struct msg_req *r = req->op;
    r->result = r->op.edit.message;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(r->result));
}

void capi_message_edit(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct msg_req *r = hs_xcalloc(1, sizeof(*r));
    struct hs_msg_edit *op = &r->op.edit;
    r->body = body;
    op->channel_id = req->params[0];
    op->message_id = req->params[1];
    op->actor_id = req->user.id;
    op->max_chars = req->srv->cfg->message_max_chars;
    if (capi_get_string(req, body, "content", &op->content) == 0)
        capi_form_required(req, "content");
    if (capi_form_failed(req)) {
        msg_req_free(r);
        return;
    }
    capi_write(req, hs_msg_edit_fn, r, msg_req_free, edit_finish);
}

static void delete_finish(capi_req *req, int rc, const hs_error *err)
{
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 204, NULL);
}

void capi_message_delete(capi_req *req)
{
    struct msg_req *r = hs_xcalloc(1, sizeof(*r));
    r->op.del.channel_id = req->params[0];
    r->op.del.message_id = req->params[1];
    r->op.del.actor_id = req->user.id;
    capi_write(req, hs_msg_delete_fn, r, msg_req_free, delete_finish);
}

void capi_typing(capi_req *req)
{
    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    uint64_t perms;
    hs_error err;
    if (!db)
        return;
    int rc = hs_channel_access(db, req->params[0], req->user.id, &ch, &perms, &err);
    if (rc == 0 && !(perms & HS_PERM_SEND_MESSAGES))
        rc = hs_error_reason(&err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    /* Typing is ephemeral: published on the bus, never stored (spec/storage.md §3). */
    uint64_t now = hs_now_ms();
    json_t *member = hs_member_json(db, ch.guild_id, req->user.id);
    json_t *d = json_pack("{s:o, s:o, s:o, s:I, s:o}", "channel_id", hs_json_id(ch.id), "guild_id",
                          hs_json_id(ch.guild_id), "user_id", hs_json_id(req->user.id), "timestamp",
                          (json_int_t)(now / 1000), "member", member ? member : json_null());
    hs_event *ev = hs_event_new("TYPING_START", ch.guild_id, ch.id, req->user.id, d);
    ev->created_at = now;
    hs_bus_publish(hs_core_bus(req->srv->core), ev);
    hs_event_unref(ev);
    capi_respond(req, 204, NULL);
}
