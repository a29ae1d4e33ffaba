/*
 * Pins, reactions, bulk deletion and attachment downloads (spec/rest-messages.md). The
 * message create/edit handlers, including multipart uploads, are in capi_messages.c.
 *
 * Path segments that are not snowflakes (an emoji, a filename) match "*" in the route
 * table and are read back here from req->path. libmicrohttpd has already percent-decoded
 * the path once (%F0%9F%91%8D arrives as the emoji's bytes, %25 as '%'), so they are used
 * as they are: decoding again would let "%2541" mean 'A'.
 */
#include "capi_internal.h"
#include "hs_attachments.h"
#include "hs_channels.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Segment index of req->path (0 is the first after the leading '/'); new string or NULL. */
static char *path_segment(const char *path, int index)
{
    const char *p = path;
    for (int i = 0; i <= index; i++) {
        if (*p != '/')
            return NULL;
        p++;
        size_t len = strcspn(p, "/");
        if (i == index)
            return len ? hs_xstrndup(p, len) : NULL;
        p += len;
    }
    return NULL;
}

/* The channel and the caller's permissions in it, or NULL after answering. */
static hs_db *channel_read(capi_req *req, uint64_t *perms)
{
    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    hs_error err;
    if (!db)
        return NULL;
    int rc = hs_channel_access(db, req->params[0], req->user.id, &ch, perms, &err);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return NULL;
    }
    return db;
}

static void finish_204(capi_req *req, int rc, const hs_error *err)
{
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 204, NULL);
}

/* ---- pins ---- */

/* Parses an ISO 8601 UTC timestamp ("2026-11-27T23:04:05.123000+00:00", "...Z", or an
 * offset) into unix ms; -1 when it is not one. */
static int parse_iso8601(const char *s, uint64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    const char *p = s + n;
    long ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    long offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 || oh > 23 || om > 59)
            return -1;
        offset = (oh * 60L + om) * 60L * (*p == '+' ? 1 : -1);
        p += 6;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || t - offset < 0)
        return -1;
    *out = (uint64_t)(t - offset) * 1000 + (uint64_t)ms;
    return 0;
}

/* GET /channels/{id}/messages/pins?before&limit → {items: [{pinned_at, message}], has_more} */
static void pins_get(capi_req *req)
{
    int limit = 50;
    uint64_t before = 0;
    const char *b = capi_query(req, "before");
    if (b && parse_iso8601(b, &before) < 0)
        capi_form_error(req, "before", "BASE_TYPE_DATETIME",
                        "Could not parse the value: should be an ISO 8601 timestamp.");
    capi_query_int(req, "limit", 1, 50, &limit);
    if (capi_form_failed(req))
        return;
    uint64_t perms;
    hs_db *db = channel_read(req, &perms);
    if (!db)
        return;
    int has_more = 0;
    json_t *items = perms & HS_PERM_READ_MESSAGE_HISTORY
                        ? hs_pins_list(db, req->params[0], req->user.id, before, limit, &has_more)
                        : json_array();
    capi_respond(req, 200, json_pack("{s:o, s:b}", "items", items, "has_more", has_more));
}

/* GET /channels/{id}/pins (the older route): every pinned message, last pinned first. */
static void pins_get_legacy(capi_req *req)
{
    uint64_t perms;
    hs_db *db = channel_read(req, &perms);
    if (!db)
        return;
    json_t *out = json_array();
    if (perms & HS_PERM_READ_MESSAGE_HISTORY) {
        int more;
        json_t *items = hs_pins_list(db, req->params[0], req->user.id, 0, HS_MSG_MAX_PINS, &more);
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item) json_array_append(out, json_object_get(item, "message"));
        json_decref(items);
    }
    capi_respond(req, 200, out);
}

static void pin_write(capi_req *req, int pin)
{
    struct hs_pin *op = hs_xcalloc(1, sizeof(*op));
    op->channel_id = req->params[0];
    op->message_id = req->params[1];
    op->actor_id = req->user.id;
    op->pin = pin;
    op->reason = capi_audit_reason(req);
    capi_write(req, hs_pin_fn, op, free, finish_204);
}

static void pin_put(capi_req *req)
{
    pin_write(req, 1);
}

static void pin_delete(capi_req *req)
{
    pin_write(req, 0);
}

/* ---- bulk delete ---- */

struct bulk_req {
    struct hs_msg_bulk_delete op;
    uint64_t ids[HS_MSG_BULK_MAX];
};

static void bulk_delete(capi_req *req)
{
    json_t *body = capi_body_object(req);
    if (!body)
        return;
    struct bulk_req *r = hs_xcalloc(1, sizeof(*r));
    json_t *list = json_object_get(body, "messages");
    if (!list || json_is_null(list)) {
        capi_form_required(req, "messages");
    } else if (!json_is_array(list)) {
        capi_form_error(req, "messages", "BASE_TYPE_ARRAY", "Could not interpret value as array.");
    } else if (json_array_size(list) < HS_MSG_BULK_MIN || json_array_size(list) > HS_MSG_BULK_MAX) {
        capi_form_error(req, "messages", "BASE_TYPE_BAD_LENGTH",
                        "Must be between 2 and 100 in length.");
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            uint64_t id;
            const char *s = json_string_value(v);
            char at[32];
            snprintf(at, sizeof(at), "messages.%zu", i);
            if (!s || hs_parse_u64(s, &id) < 0 || id > (uint64_t)INT64_MAX) {
                capi_form_error(req, at, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
                continue;
            }
            for (size_t k = 0; k < r->op.nids; k++) {
                if (r->ids[k] == id) {
                    capi_form_error(req, at, "DUPLICATE_IDS", "Message ids must be unique.");
                    break;
                }
            }
            r->ids[r->op.nids++] = id;
        }
    }
    json_decref(body);
    if (capi_form_failed(req)) {
        free(r);
        return;
    }
    r->op.channel_id = req->params[0];
    r->op.actor_id = req->user.id;
    r->op.ids = r->ids;
    r->op.reason = capi_audit_reason(req);
    capi_write(req, hs_msg_bulk_delete_fn, r, free, finish_204);
}

/* ---- reactions ---- */

struct reaction_req {
    struct hs_reaction op;
    char *emoji;
};

static void reaction_req_free(void *p)
{
    struct reaction_req *r = p;
    free(r->emoji);
    free(r);
}

/* The emoji is the sixth segment: /channels/C/messages/M/reactions/EMOJI[/...]. */
static void reaction_write(capi_req *req, int op, uint64_t user_id)
{
    struct reaction_req *r = hs_xcalloc(1, sizeof(*r));
    r->emoji = op == HS_REACT_REMOVE_ALL ? NULL : path_segment(req->path, 5);
    r->op.channel_id = req->params[0];
    r->op.message_id = req->params[1];
    r->op.actor_id = req->user.id;
    r->op.user_id = user_id;
    r->op.emoji = r->emoji;
    r->op.op = op;
    capi_write(req, hs_reaction_fn, r, reaction_req_free, finish_204);
}

static void reaction_add(capi_req *req)
{
    reaction_write(req, HS_REACT_ADD, 0);
}

static void reaction_remove_own(capi_req *req)
{
    reaction_write(req, HS_REACT_REMOVE_OWN, req->user.id);
}

static void reaction_remove_user(capi_req *req)
{
    reaction_write(req, HS_REACT_REMOVE_USER, req->params[2]);
}

static void reaction_remove_emoji(capi_req *req)
{
    reaction_write(req, HS_REACT_REMOVE_EMOJI, 0);
}

static void reaction_remove_all(capi_req *req)
{
    reaction_write(req, HS_REACT_REMOVE_ALL, 0);
}

/* GET .../reactions/{emoji}?after&limit&type → the users who reacted. */
static void reaction_users(capi_req *req)
{
    uint64_t after = 0;
    int limit = 25, type = 0;
    capi_query_id(req, "after", &after);
    capi_query_int(req, "limit", 1, 100, &limit);
    capi_query_int(req, "type", 0, 1, &type);
    if (capi_form_failed(req))
        return;
    uint64_t perms;
    hs_db *db = channel_read(req, &perms);
    if (!db)
        return;
    hs_error err;
    char *emoji = path_segment(req->path, 5);
    json_t *users = NULL;
    int rc = hs_emoji_check(emoji, &err);
    if (rc == 0 && !(perms & HS_PERM_READ_MESSAGE_HISTORY))
        rc = hs_error_reason(&err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (rc == 0)
        rc = hs_reaction_users(db, req->params[0], req->params[1], emoji, after, limit, &users,
                               &err);
    free(emoji);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    if (type == 1) {
        /* Super reactions (burst) do not exist on Hearth. */
        json_decref(users);
        users = json_array();
    }
    capi_respond(req, 200, users);
}

/* ---- attachment downloads ---- */

/* GET /attachments/{channel_id}/{attachment_id}/{filename}, with the caller's token:
 * VIEW_CHANNEL and READ_MESSAGE_HISTORY in the channel. */
static void attachment_get(capi_req *req)
{
    uint64_t perms;
    hs_db *db = channel_read(req, &perms);
    if (!db)
        return;
    hs_error err;
    struct hs_attachment a;
    if (!(perms & HS_PERM_READ_MESSAGE_HISTORY)) {
        hs_error_reason(&err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");
        capi_respond_error(req, HS_EPERM, &err);
        return;
    }
    int rc = hs_attachment_get(db, req->params[0], req->params[1], &a, &err);
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    char *name = path_segment(req->path, 3);
    char *path = hs_attachment_path(req->srv->cfg->data_dir, a.sha256);
    int fd = -1;
    struct stat st;
    if (!name || strcmp(name, a.filename) != 0) {
        rc = hs_error_reason(&err, HS_ENOTFOUND, HS_R_UNKNOWN_ATTACHMENT, "Unknown Attachment");
    } else if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        rc = hs_error_set(&err, HS_EIO, "attachment %s missing: %s", a.sha256, strerror(errno));
    }
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        capi_respond_error(req, rc, &err);
        goto out;
    }
    unsigned char head[64];
    ssize_t got = pread(fd, head, sizeof(head), 0);
    const char *type = hs_attachment_inline_type(a.content_type, head, got > 0 ? (size_t)got : 0);
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    HS_ASSERT(r);
    char *disposition =
        hs_xasprintf("%s; filename=\"%s\"", type ? "inline" : "attachment", a.filename);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            type ? type : "application/octet-stream");
    MHD_add_response_header(r, "Content-Disposition", disposition);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; sandbox");
    MHD_add_response_header(r, "Cache-Control", "private, max-age=3600");
    free(disposition);
    capi_respond(req, 200, NULL);
    req->raw_resp = r;
out:
    free(name);
    free(path);
    hs_attachment_release(&a);
}

const struct capi_route capi_routes_messages[] = {
    {"GET", "/channels/:channel_id/messages/pins", pins_get, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/messages/pins/:message_id", pin_put, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/messages/pins/:message_id", pin_delete, CAPI_AUTH},
    {"GET", "/channels/:channel_id/pins", pins_get_legacy, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/pins/:message_id", pin_put, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/pins/:message_id", pin_delete, CAPI_AUTH},
    {"POST", "/channels/:channel_id/messages/bulk-delete", bulk_delete, CAPI_AUTH},
    {"PUT", "/channels/:channel_id/messages/:message_id/reactions/*/@me", reaction_add, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/@me", reaction_remove_own,
     CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/messages/:message_id/reactions/*/:user_id",
     reaction_remove_user, CAPI_AUTH},
    {"GET", "/channels/:channel_id/messages/:message_id/reactions/*", reaction_users, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/messages/:message_id/reactions/*", reaction_remove_emoji,
     CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/messages/:message_id/reactions", reaction_remove_all,
     CAPI_AUTH},
    {"GET", "/attachments/:channel_id/:attachment_id/*", attachment_get, CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};
