/*
 * Messages (spec/client-api.md "Messages", spec/rest-messages.md): create (JSON, or
 * multipart/form-data with files), fetch, edit, delete, history, typing.
 *
 * DESIGN: a message with files is parsed on the HTTP thread (the body is complete and
 * bounded by max-upload-bytes), checked against the caller's permissions on the read
 * connection so that nobody fills the disk with files they may not post, and then handed
 * to the pool: a pool thread stores each file durably (hs_attachment_store: write, fsync,
 * rename) and only then runs the write that creates the message, waiting for its commit.
 * So an acknowledged message never names a file that is not on disk, and no HTTP thread
 * waits on a disk.
 */
#include "capi_internal.h"
#include "capi_multipart.h"
#include "hs_attachments.h"
#include "hs_channels.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_time.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESCRIPTION_MAX 1024

/* One file of a multipart message, and the names the attachment gets. */
struct upload {
    const struct capi_part *part;
    char filename[HS_ATTACHMENT_FILENAME_MAX + 1];
    char content_type[HS_CONTENT_TYPE_MAX + 1];
};

struct msg_req {
    union {
        struct hs_msg_create create;
        struct hs_msg_edit edit;
        struct hs_msg_delete del;
    } op;
    json_t *result; /* points at op.create.message or op.edit.message once done */
    json_t *body;
    struct hs_allowed_mentions allowed;
    struct hs_msg_reference ref;
    uint64_t keep[HS_MSG_MAX_ATTACHMENTS]; /* edit: attachment ids to keep */
    /* A multipart create. */
    struct capi_part *parts;
    struct upload uploads[HS_MSG_MAX_ATTACHMENTS];
    struct hs_msg_attachment attachments[HS_MSG_MAX_ATTACHMENTS];
    size_t nuploads;
};

static void msg_req_free(void *p)
{
    struct msg_req *r = p;
    json_decref(r->result);
    json_decref(r->body);
    free(r->parts);
    free(r);
}

/* ---- input ---- */

/* A snowflake given as a decimal string or a non-negative integer. */
static int id_of(json_t *v, uint64_t *out)
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

/* A snowflake at obj[key], reported at path. Same convention as capi_get_id. */
static int get_id_at(capi_req *req, json_t *obj, const char *key, const char *path, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (id_of(v, out) == 0)
        return 1;
    capi_form_error(req, path, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
    return -1;
}

/* A list of at most HS_MENTIONS_MAX snowflakes at obj[key]. */
static void get_id_list(capi_req *req, json_t *obj, const char *key, const char *path,
                        uint64_t *ids, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        capi_form_error(req, path, "BASE_TYPE_ARRAY", "Could not interpret value as array.");
        return;
    }
    if (json_array_size(v) > HS_MENTIONS_MAX) {
        capi_form_error(req, path, "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (id_of(item, &ids[*n]) == 0) {
            (*n)++;
        } else {
            char at[64];
            snprintf(at, sizeof(at), "%s.%zu", path, i);
            capi_form_error(req, at, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        }
    }
}

/* allowed_mentions {parse, users, roles, replied_user} (spec/rest-messages.md §2). */
static void get_allowed_mentions(capi_req *req, json_t *body, struct hs_allowed_mentions *am)
{
    json_t *v = json_object_get(body, "allowed_mentions");
    memset(am, 0, sizeof(*am));
    if (!v || json_is_null(v))
        return;
    if (!json_is_object(v)) {
        capi_form_error(req, "allowed_mentions", "MODEL_TYPE_CONVERT",
                        "Only dictionaries may be used in a ModelType");
        return;
    }
    am->given = 1;
    json_t *parse = json_object_get(v, "parse");
    if (parse && !json_is_null(parse)) {
        if (!json_is_array(parse)) {
            capi_form_error(req, "allowed_mentions.parse", "BASE_TYPE_ARRAY",
                            "Could not interpret value as array.");
        } else {
            size_t i;
            json_t *kind;
            json_array_foreach(parse, i, kind)
            {
                const char *k = json_string_value(kind);
                if (k && strcmp(k, "users") == 0) {
                    am->parse_users = 1;
                } else if (k && strcmp(k, "roles") == 0) {
                    am->parse_roles = 1;
                } else if (k && strcmp(k, "everyone") == 0) {
                    am->parse_everyone = 1;
                } else {
                    char path[48];
                    snprintf(path, sizeof(path), "allowed_mentions.parse.%zu", i);
                    capi_form_error(req, path, "BASE_TYPE_CHOICES",
                                    "Value must be one of ('everyone', 'users', 'roles').");
                }
            }
        }
    }
    get_id_list(req, v, "users", "allowed_mentions.users", am->users, &am->nusers);
    get_id_list(req, v, "roles", "allowed_mentions.roles", am->roles, &am->nroles);
    json_t *replied = json_object_get(v, "replied_user");
    if (replied && !json_is_null(replied)) {
        if (json_is_boolean(replied))
            am->replied_user = json_is_true(replied);
        else
            capi_form_error(req, "allowed_mentions.replied_user", "BASE_TYPE_BOOLEAN",
                            "Must be either true or false.");
    }
    /* Discord: listing ids and parsing the same kind contradict each other. */
    if ((am->parse_users && am->nusers) || (am->parse_roles && am->nroles))
        capi_form_error(req, "allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        "parse and users/roles are mutually exclusive for the same kind.");
}

/* message_reference {message_id, channel_id?, guild_id?, fail_if_not_exists?, type?}.
 * Returns 1 when present and well formed. */
static int get_reference(capi_req *req, json_t *body, struct hs_msg_reference *ref)
{
    json_t *v = json_object_get(body, "message_reference");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        capi_form_error(req, "message_reference", "MODEL_TYPE_CONVERT",
                        "Only dictionaries may be used in a ModelType");
        return -1;
    }
    memset(ref, 0, sizeof(*ref));
    ref->fail_if_not_exists = 1;
    int ok = 1;
    if (get_id_at(req, v, "message_id", "message_reference.message_id", &ref->message_id) != 1) {
        if (!json_object_get(v, "message_id") || json_is_null(json_object_get(v, "message_id")))
            capi_form_required(req, "message_reference.message_id");
        ok = 0;
    }
    if (get_id_at(req, v, "channel_id", "message_reference.channel_id", &ref->channel_id) < 0 ||
        get_id_at(req, v, "guild_id", "message_reference.guild_id", &ref->guild_id) < 0)
        ok = 0;
    json_t *fail = json_object_get(v, "fail_if_not_exists");
    if (fail && !json_is_null(fail)) {
        if (json_is_boolean(fail)) {
            ref->fail_if_not_exists = json_is_true(fail);
        } else {
            capi_form_error(req, "message_reference.fail_if_not_exists", "BASE_TYPE_BOOLEAN",
                            "Must be either true or false.");
            ok = 0;
        }
    }
    json_t *type = json_object_get(v, "type");
    if (type && !json_is_null(type) && !(json_is_integer(type) && json_integer_value(type) == 0)) {
        /* Only replies (type 0); forwards are not supported. */
        capi_form_error(req, "message_reference.type", "BASE_TYPE_CHOICES",
                        "Value must be one of (0,).");
        ok = 0;
    }
    return ok ? 1 : -1;
}

/* The fields create shares between its JSON and multipart forms. */
static void get_create_fields(capi_req *req, json_t *body, struct msg_req *r)
{
    struct hs_msg_create *op = &r->op.create;
    op->channel_id = req->params[0];
    op->author_id = req->user.id;
    op->max_chars = req->srv->cfg->message_max_chars;
    capi_get_string(req, body, "content", &op->content);
    capi_get_bool(req, body, "tts", &op->tts);
    capi_get_bool(req, body, "enforce_nonce", &op->enforce_nonce);
    json_t *nonce = json_object_get(body, "nonce");
    if (nonce && !json_is_null(nonce)) {
        if (json_is_integer(nonce) || (json_is_string(nonce) && json_string_length(nonce) <= 25))
            op->nonce = nonce;
        else
            capi_form_error(req, "nonce", "BASE_TYPE_BAD_LENGTH",
                            "Must be a string of 25 or fewer characters, or an integer.");
    }
    get_allowed_mentions(req, body, &r->allowed);
    op->allowed_mentions = &r->allowed;
    if (get_reference(req, body, &r->ref) == 1)
        op->reference = &r->ref;
}

/* ---- create ---- */

static void create_finish(capi_req *req, int rc, const hs_error *err)
{
    struct msg_req *r = req->op;
    r->result = r->op.create.message;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(r->result));
}

/* Every check of a create, and nothing else: when they pass, it fails on purpose so that the
 * writer rolls back what the checks touched (a post unarchives its thread). */
static int create_check_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_msg_create *op = arg;
    int rc = hs_msg_create_fn(txn, op, err);
    return rc == 0 && op->checked ? HS_EINVAL : rc;
}

/* The files of a multipart message: pool thread. Stores them durably, then writes. */
static void upload_job(capi_req *req)
{
    struct msg_req *r = req->op;
    hs_writer *writer = hs_core_writer(req->srv->core);
    hs_error err;
    hs_error_clear(&err);
    /* Every check of the write first (content, reply target, slowmode, a locked thread, a
     * retried nonce), so that a message that will be refused stores no file: files are
     * content-addressed and may be shared, so none is ever removed once written. */
    r->op.create.check_only = 1;
    int rc = hs_writer_run(writer, create_check_fn, &r->op.create, &err);
    r->op.create.check_only = 0;
    if (!r->op.create.checked) { /* refused, or a retried nonce answered */
        create_finish(req, rc, rc < 0 ? &err : NULL);
        return;
    }
    r->op.create.checked = 0;
    for (size_t i = 0; i < r->nuploads; i++) {
        const struct capi_part *part = r->uploads[i].part;
        struct hs_msg_attachment *a = &r->attachments[i];
        rc = hs_attachment_store(req->srv->cfg->data_dir, part->data, part->len, a->sha256, &err);
        if (rc < 0) {
            capi_respond_error(req, rc, &err);
            return;
        }
        hs_attachment_dimensions(part->data, part->len, &a->width, &a->height);
    }
    rc = hs_writer_run(writer, hs_msg_create_fn, &r->op.create, &err);
    create_finish(req, rc, rc < 0 ? &err : NULL);
}

/* "files[N]" with N in 0..HS_MSG_MAX_ATTACHMENTS-1; -1 when the name is not that. */
static int file_index(const char *name)
{
    if (strncmp(name, "files[", 6) != 0)
        return -1;
    const char *p = name + 6;
    if (p[0] < '0' || p[0] > '9' || p[1] != ']' || p[2] != '\0')
        return -1;
    return p[0] - '0';
}

/* Maps payload_json's `attachments` (or, without it, every file) to uploads. */
static void map_uploads(capi_req *req, struct msg_req *r, const struct capi_part **files)
{
    json_t *list = json_object_get(r->body, "attachments");
    size_t nfiles = 0;
    for (int i = 0; i < HS_MSG_MAX_ATTACHMENTS; i++)
        nfiles += files[i] != NULL;
    if (list && !json_is_null(list) && !json_is_array(list)) {
        capi_form_error(req, "attachments", "BASE_TYPE_ARRAY",
                        "Could not interpret value as array.");
        return;
    }
    size_t n = list && json_is_array(list) ? json_array_size(list) : nfiles;
    if (n > HS_MSG_MAX_ATTACHMENTS) {
        capi_form_error(req, "attachments", "BASE_TYPE_MAX_LENGTH",
                        "Must be 10 or fewer in length.");
        return;
    }
    int used[HS_MSG_MAX_ATTACHMENTS] = {0};
    int next_file = 0;
    for (size_t i = 0; i < n; i++) {
        char path[48];
        const char *filename = NULL, *description = NULL;
        int idx;
        if (list && json_is_array(list)) {
            json_t *item = json_array_get(list, i);
            json_t *idv = json_is_object(item) ? json_object_get(item, "id") : NULL;
            uint64_t id = UINT64_MAX;
            if (json_is_integer(idv) && json_integer_value(idv) >= 0)
                id = (uint64_t)json_integer_value(idv);
            else if (json_is_string(idv))
                hs_parse_u64(json_string_value(idv), &id);
            idx = id < HS_MSG_MAX_ATTACHMENTS ? (int)id : -1;
            snprintf(path, sizeof(path), "attachments.%zu.id", i);
            if (idx < 0 || !files[idx] || used[idx]) {
                capi_form_error(req, path, "ATTACHMENT_NOT_FOUND", "Unknown attachment");
                continue;
            }
            snprintf(path, sizeof(path), "attachments.%zu", i);
            json_t *fn = json_object_get(item, "filename");
            json_t *desc = json_object_get(item, "description");
            if (json_is_string(fn))
                filename = json_string_value(fn);
            if (json_is_string(desc))
                description = json_string_value(desc);
            if (description && hs_utf8_len(description, strlen(description)) > DESCRIPTION_MAX) {
                snprintf(path, sizeof(path), "attachments.%zu.description", i);
                capi_form_error(req, path, "BASE_TYPE_MAX_LENGTH",
                                "Must be 1024 or fewer in length.");
                continue;
            }
        } else {
            while (!files[next_file])
                next_file++;
            idx = next_file++;
        }
        used[idx] = 1;
        struct upload *u = &r->uploads[r->nuploads];
        struct hs_msg_attachment *a = &r->attachments[r->nuploads];
        u->part = files[idx];
        hs_attachment_filename(filename ? filename : u->part->filename, u->filename,
                               sizeof(u->filename));
        const char *type = hs_attachment_content_type(u->part->content_type, u->content_type,
                                                      sizeof(u->content_type));
        if (!type || strcmp(type, "application/octet-stream") == 0) {
            /* Nothing useful declared: say what the bytes are, if we know. */
            const char *sniffed = hs_attachment_sniff(u->part->data, u->part->len);
            type = sniffed ? strcpy(u->content_type, sniffed) : type;
        }
        a->filename = u->filename;
        a->content_type = type;
        a->description = description;
        a->size = u->part->len;
        r->nuploads++;
    }
}

/* A multipart/form-data create: payload_json plus files[n] parts. Returns the payload (new
 * reference) or NULL after answering. */
static json_t *parse_multipart(capi_req *req, struct msg_req *r, const struct capi_part **files)
{
    char boundary[CAPI_MULTIPART_BOUNDARY_MAX + 1];
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *why = "no boundary in Content-Type";
    r->parts = hs_xcalloc(CAPI_MULTIPART_MAX_PARTS, sizeof(*r->parts));
    int n = -1;
    if (capi_multipart_boundary(ct, boundary) == 0)
        n = capi_multipart_parse(req->body.data ? req->body.data : "", req->body.len, boundary,
                                 r->parts, CAPI_MULTIPART_MAX_PARTS, &why);
    if (n < 0) {
        capi_form_error(req, "files", "MULTIPART_INVALID", why);
        capi_form_failed(req);
        return NULL;
    }
    json_t *payload = NULL;
    for (int i = 0; i < n; i++) {
        struct capi_part *p = &r->parts[i];
        int idx = file_index(p->name);
        if (strcmp(p->name, "payload_json") == 0 && !p->has_filename) {
            json_error_t jerr;
            json_decref(payload);
            payload = json_loadb(p->data, p->len, JSON_REJECT_DUPLICATES, &jerr);
            if (!json_is_object(payload)) {
                json_decref(payload);
                capi_respond_code(req, 400, 50109, "The request body contains invalid JSON.");
                return NULL;
            }
        } else if (idx >= 0) {
            if (files[idx]) {
                capi_form_error(req, p->name, "DUPLICATE_FILE", "The same file part twice.");
            }
            files[idx] = p;
        } else if (p->has_filename || strncmp(p->name, "files[", 6) == 0) {
            char field[80];
            snprintf(field, sizeof(field), "%s", p->name[0] ? p->name : "files");
            capi_form_error(req, field, "BASE_TYPE_MAX_LENGTH",
                            "Files are named files[0] to files[9].");
        }
    }
    return payload ? payload : json_object();
}

void capi_message_create(capi_req *req)
{
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int multipart = ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
    struct msg_req *r = hs_xcalloc(1, sizeof(*r));
    const struct capi_part *files[HS_MSG_MAX_ATTACHMENTS] = {0};
    req->op = r;
    req->op_free = msg_req_free;
    r->body = multipart ? parse_multipart(req, r, files) : capi_body_object(req);
    if (!r->body)
        return;
    get_create_fields(req, r->body, r);
    if (multipart) {
        map_uploads(req, r, files);
    } else {
        json_t *list = json_object_get(r->body, "attachments");
        if (json_array_size(list) > 0)
            capi_form_error(req, "attachments.0.id", "ATTACHMENT_NOT_FOUND",
                            "Unknown attachment (files come as multipart/form-data)");
    }
    if (capi_form_failed(req))
        return;
    if (r->nuploads == 0) {
        capi_write(req, hs_msg_create_fn, r, msg_req_free, create_finish);
        return;
    }
    r->op.create.attachments = r->attachments;
    r->op.create.nattachments = r->nuploads;
    /* Refuse early what the write would refuse, before any file touches the disk. The
     * write checks again in its transaction. */
    hs_db *db = capi_read_db(req);
    struct hs_channel ch;
    uint64_t perms;
    hs_error err;
    if (!db)
        return;
    int rc = hs_channel_access(db, req->params[0], req->user.id, &ch, &perms, &err);
    if (rc == 0 && !((perms & HS_PERM_SEND_MESSAGES) && (perms & HS_PERM_ATTACH_FILES)))
        rc = hs_error_reason(&err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (rc < 0) {
        capi_respond_error(req, rc, &err);
        return;
    }
    capi_run_job(req, upload_job);
}

/* ---- reads ---- */

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
    capi_respond(req, 200, hs_msg_history(db, req->params[0], &q, req->user.id));
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
        rc = hs_msg_get(db, req->params[0], req->params[1], req->user.id, &m, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, m);
}

/* ---- edit, delete ---- */

static void edit_finish(capi_req *req, int rc, const hs_error *err)
{
    struct msg_req *r = req->op;
    r->result = r->op.edit.message;
    if (rc < 0)
        capi_respond_error(req, rc, err);
    else
        capi_respond(req, 200, json_incref(r->result));
}

/* attachments on an edit: the existing attachments to keep ([{id}, ...]). */
static int get_keep_list(capi_req *req, json_t *body, struct msg_req *r)
{
    json_t *list = json_object_get(body, "attachments");
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_array(list)) {
        capi_form_error(req, "attachments", "BASE_TYPE_ARRAY",
                        "Could not interpret value as array.");
        return -1;
    }
    if (json_array_size(list) > HS_MSG_MAX_ATTACHMENTS) {
        capi_form_error(req, "attachments", "BASE_TYPE_MAX_LENGTH",
                        "Must be 10 or fewer in length.");
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        char path[48];
        snprintf(path, sizeof(path), "attachments.%zu.id", i);
        if (!json_is_object(item) || get_id_at(req, item, "id", path, &r->keep[i]) != 1) {
            if (!json_is_object(item) || !json_object_get(item, "id"))
                capi_form_required(req, path);
            return -1;
        }
    }
    r->op.edit.keep_attachments = r->keep;
    r->op.edit.nkeep = json_array_size(list);
    return 1;
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
    int content = capi_get_string(req, body, "content", &op->content);
    int keep = get_keep_list(req, body, r);
    get_allowed_mentions(req, body, &r->allowed);
    op->allowed_mentions = &r->allowed;
    if (content == 0 && keep == 0)
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
    r->op.del.reason = capi_audit_reason(req);
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
