/*
 * Responses, errors and input validation in Discord's forms (spec/client-api.md §3).
 */
#include "capi_internal.h"
#include "hs_log.h"
#include "hs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void capi_respond(capi_req *req, unsigned status, json_t *body)
{
    json_decref(req->resp);
    req->status = status;
    req->resp = body;
}

void capi_add_header(capi_req *req, const char *name, const char *value)
{
    HS_ASSERT(req->nheaders < (int)HS_ARRAY_LEN(req->headers));
    req->headers[req->nheaders].name = name;
    req->headers[req->nheaders].value = hs_xstrdup(value);
    req->nheaders++;
}

void capi_respond_code(capi_req *req, unsigned status, int code, const char *message)
{
    capi_respond(req, status, json_pack("{s:s, s:i}", "message", message, "code", code));
}

/* Adds {"_errors":[{code,message}]} at the dotted path inside errors. */
static void add_form_error(json_t *errors, const char *field, const char *code, const char *message)
{
    json_t *node = errors;
    char *path = hs_xstrdup(field);
    char *save = NULL;
    for (char *part = strtok_r(path, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
        json_t *next = json_object_get(node, part);
        if (!next) {
            next = json_object();
            json_object_set_new(node, part, next);
        }
        node = next;
    }
    free(path);
    json_t *list = json_object_get(node, "_errors");
    if (!list) {
        list = json_array();
        json_object_set_new(node, "_errors", list);
    }
    json_array_append_new(list, json_pack("{s:s, s:s}", "code", code, "message", message));
}

void capi_form_error(capi_req *req, const char *field, const char *code, const char *message)
{
    if (!req->form_errors)
        req->form_errors = json_object();
    add_form_error(req->form_errors, field, code, message);
}

void capi_form_required(capi_req *req, const char *field)
{
    capi_form_error(req, field, "BASE_TYPE_REQUIRED", "This field is required");
}

int capi_form_failed(capi_req *req)
{
    if (!req->form_errors)
        return 0;
    capi_respond(req, 400,
                 json_pack("{s:s, s:i, s:O}", "message", "Invalid Form Body", "code", 50035,
                           "errors", req->form_errors));
    return 1;
}

struct reason_map {
    int reason;
    unsigned status;
    int code;
    const char *message;
};

static const struct reason_map reasons[] = {
    {HS_R_UNKNOWN_GUILD, 404, 10004, "Unknown Guild"},
    {HS_R_UNKNOWN_CHANNEL, 404, 10003, "Unknown Channel"},
    {HS_R_UNKNOWN_MESSAGE, 404, 10008, "Unknown Message"},
    {HS_R_UNKNOWN_USER, 404, 10013, "Unknown User"},
    {HS_R_UNKNOWN_APPLICATION, 404, 10002, "Unknown Application"},
    {HS_R_MISSING_ACCESS, 403, 50001, "Missing Access"},
    {HS_R_MISSING_PERMISSIONS, 403, 50013, "Missing Permissions"},
    {HS_R_NOT_AUTHOR, 403, 50005, "Cannot edit a message authored by another user"},
    {HS_R_EMPTY_MESSAGE, 400, 50006, "Cannot send an empty message"},
    {HS_R_NON_TEXT_CHANNEL, 400, 50008, "Cannot send messages in a non-text channel"},
    {HS_R_BOT_FORBIDDEN, 403, 20001, "Bots cannot use this endpoint"},
    {HS_R_UNKNOWN_ROLE, 404, 10011, "Unknown Role"},
    {HS_R_UNKNOWN_MEMBER, 404, 10007, "Unknown Member"},
    {HS_R_UNKNOWN_INVITE, 404, 10006, "Unknown Invite"},
    {HS_R_UNKNOWN_BAN, 404, 10026, "Unknown Ban"},
    {HS_R_UNKNOWN_EMOJI, 400, 10014, "Unknown Emoji"},
    {HS_R_UNKNOWN_OVERWRITE, 404, 10009, "Unknown Overwrite"},
    {HS_R_UNKNOWN_ATTACHMENT, 404, 10012, "Unknown Attachment"},
    {HS_R_MAX_PINS, 400, 30003, "Maximum number of pins reached (250)"},
    {HS_R_MAX_ROLES, 400, 30005, "Maximum number of guild roles reached (250)"},
    {HS_R_MAX_CHANNELS, 400, 30013, "Maximum number of guild channels reached (500)"},
    {HS_R_MAX_REACTIONS, 400, 30010, "Maximum number of reactions reached (20)"},
    {HS_R_MAX_RECIPIENTS, 400, 30011, "Maximum number of group DM recipients reached (10)"},
    {HS_R_BANNED, 403, 40007, "The user is banned from this guild."},
    {HS_R_THREAD_ARCHIVED, 400, 50083, "Thread is archived"},
    {HS_R_THREAD_LOCKED, 403, 160005, "Thread is locked"},
    {HS_R_MESSAGE_TOO_OLD, 400, 50034, "A message provided was too old to bulk delete"},
    {HS_R_CANNOT_DM, 403, 50007, "Cannot send messages to this user"},
    {HS_R_INVALID_RECIPIENT, 400, 50033, "Invalid Recipient(s)"},
    {HS_R_SLOWMODE, 429, 20016, "This action cannot be performed due to slowmode rate limit."},
    {HS_R_ENTITY_TOO_LARGE, 413, 40005, "Request entity too large"},
    {HS_R_INVALID_EMOJI, 400, 10014, "Unknown Emoji"},
    {HS_R_ALREADY_MEMBER, 400, 40062, "Already a member"},
    {HS_R_OWNER_CANNOT_LEAVE, 400, 50055, "Invalid Guild"},
    {HS_R_NONCE_REUSED, 400, 50035, "Invalid Form Body"},
    {HS_R_THREAD_EXISTS, 400, 160004, "A thread has already been created for this message"},
    {HS_R_CHANNEL_TYPE, 400, 50024, "Cannot execute action on this channel type"},
    {HS_R_SYSTEM_MESSAGE, 400, 50021, "Cannot execute action on a system message"},
    {HS_R_AUTOMOD_BLOCKED, 400, 200000, "Message was blocked by automatic moderation"},
    /* Discord documents no code for this one (spec/rest-automod.md). */
    {HS_R_UNKNOWN_AUTOMOD_RULE, 404, 0, "Unknown Auto Moderation Rule"},
};

void capi_respond_error(capi_req *req, int rc, const hs_error *err)
{
    int reason = err ? err->reason : HS_R_NONE;
    if (reason == HS_R_FORM) {
        json_decref(req->form_errors);
        req->form_errors = NULL;
        capi_form_error(req, err->field, err->form_code, err->msg);
        capi_form_failed(req);
        return;
    }
    for (size_t i = 0; i < HS_ARRAY_LEN(reasons); i++) {
        if (reasons[i].reason == reason) {
            capi_respond_code(req, reasons[i].status, reasons[i].code, reasons[i].message);
            /* Slowmode says how long to wait, as Discord's 429 bodies do (seconds). */
            if (reason == HS_R_SLOWMODE && err->field[0])
                json_object_set_new(req->resp, "retry_after",
                                    json_real(strtod(err->field, NULL) / 1000.0));
            return;
        }
    }
    if (rc == HS_EAUTH) {
        capi_respond_code(req, 401, 0, "401: Unauthorized");
        return;
    }
    /* Not the client's doing: the one place such an error is logged. */
    hs_log(HS_LOG_ERROR, "http", "%s %s failed: %s (%s)", req->method, req->path ? req->path : "?",
           err ? err->msg : "", hs_strerror(rc));
    capi_respond_code(req, 500, 0, "500: Internal Server Error");
}

json_t *capi_body_object(capi_req *req)
{
    json_error_t jerr;
    json_t *obj = NULL;
    if (req->body.len)
        obj = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        capi_respond_code(req, 400, 50109, "The request body contains invalid JSON.");
        return NULL;
    }
    return obj;
}

int capi_get_string(capi_req *req, json_t *obj, const char *field, const char **out)
{
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        capi_form_error(req, field, "BASE_TYPE_STRING", "Could not interpret value as string.");
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        capi_form_error(req, field, "BASE_TYPE_STRING", "Strings may not contain NUL.");
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

static void range_error(capi_req *req, const char *field, long min, long max, long v)
{
    char msg[96];
    if (v < min) {
        snprintf(msg, sizeof(msg), "int value should be greater than or equal to %ld.", min);
        capi_form_error(req, field, "NUMBER_TYPE_MIN", msg);
    } else {
        snprintf(msg, sizeof(msg), "int value should be less than or equal to %ld.", max);
        capi_form_error(req, field, "NUMBER_TYPE_MAX", msg);
    }
}

int capi_get_int(capi_req *req, json_t *obj, const char *field, long min, long max, int *out)
{
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        capi_form_error(req, field, "NUMBER_TYPE_COERCE", "Value is not int.");
        return -1;
    }
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        range_error(req, field, min, max, n < min ? min - 1 : max + 1);
        return -1;
    }
    *out = (int)n;
    return 1;
}

int capi_get_bool(capi_req *req, json_t *obj, const char *field, int *out)
{
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        capi_form_error(req, field, "BASE_TYPE_BOOLEAN", "Must be either true or false.");
        return -1;
    }
    *out = json_is_true(v);
    return 1;
}

/* Snowflakes are stored as SQLite integers, so they must fit in 63 bits. */
static int snowflake_ok(uint64_t v)
{
    return v <= (uint64_t)INT64_MAX;
}

int capi_get_id(capi_req *req, json_t *obj, const char *field, uint64_t *out)
{
    json_t *v = json_object_get(obj, field);
    uint64_t id;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v) && hs_parse_u64(json_string_value(v), &id) == 0 && snowflake_ok(id)) {
        *out = id;
        return 1;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    capi_form_error(req, field, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
    return -1;
}

const char *capi_query(capi_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

int capi_query_id(capi_req *req, const char *name, uint64_t *out)
{
    const char *v = capi_query(req, name);
    uint64_t id;
    if (!v)
        return 0;
    if (hs_parse_u64(v, &id) < 0 || !snowflake_ok(id)) {
        capi_form_error(req, name, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        return -1;
    }
    *out = id;
    return 1;
}

int capi_query_int(capi_req *req, const char *name, long min, long max, int *out)
{
    const char *v = capi_query(req, name);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end) {
        capi_form_error(req, name, "NUMBER_TYPE_COERCE", "Value is not int.");
        return -1;
    }
    if (n < min || n > max) {
        range_error(req, name, min, max, n);
        return -1;
    }
    *out = (int)n;
    return 1;
}
