/*
 * capi_internal.h: what the client-API modules share: the request being served, the route
 * table, and helpers for JSON input, output and errors. Not a public header.
 *
 * A capi_req lives from the first byte of a request until libmicrohttpd reports it
 * completed. It belongs to the HTTP thread serving it, except while it is suspended for a
 * write or a pool job: then the writer (or pool) thread owns it until it resumes the
 * connection.
 */
#ifndef CAPI_INTERNAL_H
#define CAPI_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>

#include "capi.h"
#include "capi_gateway.h"
#include "capi_ratelimit.h"
#include "hs_accounts.h"
#include "hs_buf.h"

struct capi_server {
    hs_core *core;
    const hs_config *cfg;
    struct MHD_Daemon *daemon;
    capi_gateway *gw;
    /* HTTP rate limits (capi_ratelimit.c). */
    capi_ratelimit *ratelimit;
    atomic_int suspended;   /* requests waiting on the writer or the pool */
    atomic_size_t buffered; /* bytes of request bodies held by all requests */
    atomic_int stopping;    /* shutting down: new requests are answered 503 */
    int port;
};

typedef struct capi_req capi_req;
typedef void (*capi_handler)(capi_req *req);
/* Runs on the writer thread after the write committed or failed: build the response. */
typedef void (*capi_finish)(capi_req *req, int rc, const hs_error *err);
/* Runs on a pool thread; may block; builds the response. */
typedef void (*capi_job)(capi_req *req);

#define CAPI_MAX_PARAMS 4

struct capi_req {
    capi_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char *path; /* the request path after /api/vN, without the query */
    hs_buf body;
    int body_too_large;

    uint64_t params[CAPI_MAX_PARAMS]; /* snowflakes from the path, in order */
    int nparams;
    struct hs_user user; /* the authenticated caller */
    char *audit_reason;  /* decoded X-Audit-Log-Reason, owned */
    /* What the X-RateLimit-* headers of the response say (capi_ratelimit.c). */
    struct capi_rl_note ratelimit;

    /* The pending write or job. */
    void *op;
    void (*op_free)(void *op);
    hs_write_fn write_fn;
    capi_finish finish;
    capi_job job;
    int state; /* enum in capi_http.c */

    /* A WebSocket upgrade (capi_ws.c). */
    struct capi_gw_params *gw_params;
    struct MHD_Response *upgrade_resp;

    /* The response. */
    unsigned status;
    struct {
        const char *name; /* a string literal */
        char *value;      /* owned */
    } headers[8];
    int nheaders;
    json_t *resp;                  /* NULL: empty body */
    struct MHD_Response *raw_resp; /* a prepared non-JSON body (a file), sent with status */
    json_t *form_errors;           /* collected 50035 errors */
};

/* Routing (capi_routes.c). A route table is an array ending with a NULL method. A pattern
 * is literal segments, ":name" segments that take a snowflake and "*" segments that take
 * any non-empty segment (an invite code, an emoji, a filename: the handler reads it back
 * from req->path). */
enum { CAPI_AUTH = 1 }; /* the route needs a token */

struct capi_route {
    const char *method;
    const char *pattern;
    capi_handler handler;
    int flags;
};

/* Each module's table (listed in capi_routes.c). */
extern const struct capi_route capi_routes_core[];     /* capi_routes.c */
extern const struct capi_route capi_routes_members[];  /* roles, members, bans, audit log */
extern const struct capi_route capi_routes_channels[]; /* channel edits, overwrites, threads */
extern const struct capi_route capi_routes_invites[];  /* invites, DMs, group DMs */
extern const struct capi_route capi_routes_messages[]; /* pins, reactions, bulk, uploads */
extern const struct capi_route capi_routes_search[];   /* message search */
extern const struct capi_route capi_routes_automod[];  /* AutoMod rules, spam settings */

/* Paths outside /api and /gateway: the web client's files (capi_static.c). */
void capi_static_serve(capi_req *req, const char *url);

void capi_route(capi_req *req);

/* The X-Audit-Log-Reason header, URL-decoded (borrowed from req), or NULL. */
const char *capi_audit_reason(capi_req *req);

/* Responding (capi_json.c). Each sets status and body; the last call wins. */
void capi_respond(capi_req *req, unsigned status, json_t *body /* takes; NULL for none */);
void capi_respond_code(capi_req *req, unsigned status, int code, const char *message);
/* Adds a response header (name must be a literal; value is copied). At most 8. */
void capi_add_header(capi_req *req, const char *name, const char *value);
/* Maps a core error to its wire form (spec/client-api.md §3). */
void capi_respond_error(capi_req *req, int rc, const hs_error *err);

/*
 * Form validation: capi_form_error records one field error (dotted path); capi_form_failed
 * answers 50035 with every recorded error and returns 1 when there were any.
 */
void capi_form_error(capi_req *req, const char *field, const char *code, const char *message);
int capi_form_failed(capi_req *req);

/* Parses the body as a JSON object: returns new JSON, or NULL after answering 50109. */
json_t *capi_body_object(capi_req *req);
/*
 * Field readers. Each returns 0 when the field is absent (leaving *out alone), 1 when it
 * was read, and -1 after recording a form error (wrong type or range).
 */
int capi_get_string(capi_req *req, json_t *obj, const char *field, const char **out);
int capi_get_int(capi_req *req, json_t *obj, const char *field, long min, long max, int *out);
int capi_get_bool(capi_req *req, json_t *obj, const char *field, int *out);
/* A snowflake given as a decimal string (or an integer). */
int capi_get_id(capi_req *req, json_t *obj, const char *field, uint64_t *out);
/* Records BASE_TYPE_REQUIRED for field. */
void capi_form_required(capi_req *req, const char *field);

/* Query parameters: same return convention. */
int capi_query_id(capi_req *req, const char *name, uint64_t *out);
int capi_query_int(capi_req *req, const char *name, long min, long max, int *out);
const char *capi_query(capi_req *req, const char *name);

/*
 * Hands a write to the writer thread: suspends the connection and queues fn(op). finish
 * runs after the commit and builds the response; then the connection resumes. op (with
 * op_free, which may be NULL) is owned by the request from here on.
 */
void capi_write(capi_req *req, hs_write_fn fn, void *op, void (*op_free)(void *),
                capi_finish finish);
/* Runs job(req) on the pool with the connection suspended. */
void capi_run_job(capi_req *req, capi_job job);

/* The calling HTTP thread's read connection; answers 500 and returns NULL on failure. */
hs_db *capi_read_db(capi_req *req);

/* The WebSocket handshake (capi_ws.c). */
void capi_ws_upgrade(capi_req *req);
/* Writes the Sec-WebSocket-Accept value for key; -1 when key is not 16 bytes of base64. */
int capi_ws_accept_key(const char *key, char out[29]);

/* Handlers (capi_accounts.c, capi_guilds.c, capi_messages.c, capi_ws.c). */
void capi_gateway_get(capi_req *req);
void capi_gateway_bot(capi_req *req);
void capi_app_edit(capi_req *req);
void capi_register(capi_req *req);
void capi_login(capi_req *req);
void capi_me(capi_req *req);
void capi_user_get(capi_req *req);
void capi_app_create(capi_req *req);
void capi_app_get(capi_req *req);
void capi_app_me(capi_req *req);
void capi_app_reset(capi_req *req);
void capi_oauth2_authorize(capi_req *req);

void capi_guild_create(capi_req *req);
void capi_guild_get(capi_req *req);
void capi_my_guilds(capi_req *req);
void capi_channels_get(capi_req *req);
void capi_channel_create(capi_req *req);
void capi_channel_get(capi_req *req);

void capi_message_create(capi_req *req);
void capi_messages_get(capi_req *req);
void capi_message_get(capi_req *req);
void capi_message_edit(capi_req *req);
void capi_message_delete(capi_req *req);
void capi_typing(capi_req *req);
/* DELETE /channels/{id} for a DM or group DM (capi_invites.c): close or leave it. */
void capi_dm_close(capi_req *req);

#endif
