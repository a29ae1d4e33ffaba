/*
 * DESIGN: libmicrohttpd runs a small pool of epoll threads. A request's body is collected
 * (bounded by max-body-bytes), then routed. Reads answer at once. A write suspends the
 * connection and goes to the core's writer thread; when its group commits, the writer
 * builds the response into the request and resumes the connection, and libmicrohttpd
 * calls us once more to send it. So an HTTP thread never waits for an fsync, and every
 * write that arrives while a commit is in flight joins the next group.
 */
#include "capi_internal.h"
#include "hs_log.h"
#include "hs_util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* REQ_EARLY: answered before its body was read (framing_ok); the rest is ignored. */
enum { REQ_NEW, REQ_PENDING, REQ_READY, REQ_EARLY };

static void req_free(capi_req *req)
{
    if (!req->body_too_large)
        atomic_fetch_sub(&req->srv->buffered, req->body.len);
    if (req->op_free)
        req->op_free(req->op);
    if (req->upgrade_resp)
        MHD_destroy_response(req->upgrade_resp);
    if (req->raw_resp)
        MHD_destroy_response(req->raw_resp);
    if (req->gw_params)
        free(req->gw_params->host);
    free(req->gw_params);
    free(req->audit_reason);
    for (int i = 0; i < req->nheaders; i++)
        free(req->headers[i].value);
    json_decref(req->resp);
    json_decref(req->form_errors);
    hs_buf_release(&req->body);
    free(req->path);
    free(req);
}

static enum MHD_Result send_response(capi_req *req)
{
    struct MHD_Response *r;
    if (req->upgrade_resp)
        return MHD_queue_response(req->conn, MHD_HTTP_SWITCHING_PROTOCOLS, req->upgrade_resp);
    if (req->raw_resp)
        return MHD_queue_response(req->conn, req->status ? req->status : 500, req->raw_resp);
    if (req->resp) {
        /* Reals (a 429's retry_after) with 10 significant digits: 4.99, not 4.9900000000000002. */
        char *text = json_dumps(req->resp, JSON_COMPACT | JSON_REAL_PRECISION(10));
        HS_ASSERT(text);
        r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(r, req->headers[i].name, req->headers[i].value);
    capi_ratelimit_headers(req, r);
    enum MHD_Result ret = MHD_queue_response(req->conn, req->status ? req->status : 500, r);
    MHD_destroy_response(r);
    return ret;
}

/* Splits off "/api/v10" or "/api/v9"; returns the rest ("/channels/1") or NULL. Attachment
 * downloads live at the root, as on Discord's CDN, and route like API paths. */
static const char *api_path(const char *url)
{
    if (strncmp(url, "/api/v10/", 9) == 0)
        return url + 8;
    if (strncmp(url, "/api/v9/", 8) == 0)
        return url + 7;
    if (strncmp(url, "/attachments/", 13) == 0)
        return url;
    return NULL;
}

/* Whether the request is a message create (POST /channels/{id}/messages), the one route that
 * takes files. */
static int takes_files(const char *method, const char *url)
{
    const char *p = api_path(url);
    if (!p || strcmp(method, "POST") != 0 || strncmp(p, "/channels/", 10) != 0)
        return 0;
    p += 10;
    size_t n = strcspn(p, "/");
    return n > 0 && (strcmp(p + n, "/messages") == 0 || strcmp(p + n, "/messages/") == 0);
}

/* A message with files comes as multipart/form-data and may be as large as
 * max-upload-bytes; every other body (a multipart one sent elsewhere included) is bounded by
 * max-body-bytes. */
static size_t body_limit(capi_req *req, const char *method, const char *url)
{
    const hs_config *cfg = req->srv->cfg;
    const char *ct =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0 &&
        cfg->max_upload_bytes > cfg->max_body_bytes && takes_files(method, url))
        return (size_t)cfg->max_upload_bytes;
    return (size_t)cfg->max_body_bytes;
}

/* What the framing headers of a request say (framing_ok). */
struct framing {
    int content_lengths, transfer_encodings;
    const char *first_length;
    int lengths_differ;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (f->content_lengths++ == 0)
            f->first_length = value;
        else if (strcmp(f->first_length, value) != 0)
            f->lengths_differ = 1;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encodings++;
    }
    return MHD_YES;
}

/*
 * Whether the request's body framing is unambiguous. libmicrohttpd 0.9.75 reads a body by
 * the first of several Content-Length headers, and by Transfer-Encoding when both are
 * present; a proxy in front may pick the other one, and the bytes one of them takes for
 * a body the other reads as the next request (request smuggling, RFC 9112 §6.3). Such
 * requests are refused before their body is read.
 */
static int framing_ok(struct MHD_Connection *conn)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    return !f.lengths_differ && f.transfer_encodings <= 1 &&
           !(f.transfer_encodings && f.content_lengths);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    capi_server *srv = cls;
    capi_req *req = *con_cls;
    (void)version;

    if (!req) {
        req = hs_xcalloc(1, sizeof(*req));
        req->srv = srv;
        req->conn = conn;
        req->method = method;
        hs_buf_init(&req->body);
        *con_cls = req;
        if (framing_ok(conn))
            return MHD_YES;
        /* Answered before the body is read: the connection cannot be reused. */
        capi_respond_code(req, 400, 0, "400: Bad Request");
        capi_add_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
        req->state = REQ_EARLY;
        return send_response(req);
    }
    if (req->state == REQ_EARLY) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!req->body_too_large) {
            /* Each body is bounded, and so is the sum of all bodies held at once, so that
             * many concurrent uploads cannot exhaust memory. */
            size_t n = *upload_data_size;
            size_t held = atomic_fetch_add(&srv->buffered, n) + n;
            if (req->body.len + n > body_limit(req, method, url) ||
                held > (size_t)srv->cfg->max_buffered_bytes) {
                atomic_fetch_sub(&srv->buffered, req->body.len + n);
                req->body_too_large = 1;
                hs_buf_release(&req->body);
            } else {
                hs_buf_add(&req->body, upload_data, n);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->state == REQ_PENDING)
        return MHD_YES; /* resumed spuriously before the write finished: keep waiting */
    if (req->state == REQ_READY)
        return send_response(req);

    if (atomic_load(&srv->stopping)) {
        capi_respond_code(req, 503, 0, "The server is shutting down.");
        capi_add_header(req, MHD_HTTP_HEADER_CONNECTION, "close");
        capi_add_header(req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return send_response(req);
    }
    if (strcmp(url, "/gateway") == 0) {
        capi_ws_upgrade(req);
    } else if (strcmp(url, "/healthz") == 0) {
        capi_respond(req, 200, json_pack("{s:s}", "status", "ok"));
    } else if (req->body_too_large) {
        capi_respond_code(req, 413, 40005, "Request entity too large");
    } else {
        const char *p = api_path(url);
        if (!p) {
            capi_static_serve(req, url);
        } else {
            req->path = hs_xstrdup(p);
            capi_route(req);
        }
    }
    if (req->state == REQ_PENDING)
        return MHD_YES;
    return send_response(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    capi_req *req = *con_cls;
    if (req)
        req_free(req);
    *con_cls = NULL;
}

static void resume(capi_req *req)
{
    capi_server *srv = req->srv;
    req->state = REQ_READY;
    MHD_resume_connection(req->conn);
    atomic_fetch_sub(&srv->suspended, 1);
}

static int write_fn(hs_txn *txn, void *arg, hs_error *err)
{
    capi_req *req = arg;
    return req->write_fn(txn, req->op, err);
}

static void write_done(void *arg, int rc, const hs_error *err)
{
    capi_req *req = arg;
    req->finish(req, rc, err);
    resume(req);
}

void capi_write(capi_req *req, hs_write_fn fn, void *op, void (*op_free)(void *),
                capi_finish finish)
{
    req->op = op;
    req->op_free = op_free;
    req->finish = finish;
    req->write_fn = fn;
    req->state = REQ_PENDING;
    atomic_fetch_add(&req->srv->suspended, 1);
    /* Suspend before queueing: the writer may finish (and resume) before we return. */
    MHD_suspend_connection(req->conn);
    hs_writer_submit(hs_core_writer(req->srv->core), write_fn, write_done, req);
}

static void job_main(void *arg)
{
    capi_req *req = arg;
    req->job(req);
    resume(req);
}

void capi_run_job(capi_req *req, capi_job job)
{
    req->job = job;
    req->state = REQ_PENDING;
    atomic_fetch_add(&req->srv->suspended, 1);
    MHD_suspend_connection(req->conn);
    hs_pool_submit(hs_core_pool(req->srv->core), job_main, req);
}

hs_db *capi_read_db(capi_req *req)
{
    hs_error err;
    hs_db *db = hs_core_read_db(req->srv->core, &err);
    if (!db)
        capi_respond_error(req, HS_EIO, &err);
    return db;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decoding of the path and the query arguments, as libmicrohttpd's own except that
 * "%00" stays as it is. The path reaches us as a C string: a decoded NUL would end it early
 * and route the request elsewhere ("DELETE .../reactions/%00/@me" as "DELETE .../reactions",
 * removing every reaction; ".../members/U%00/roles/R" as a kick). Left alone, "%00" is
 * three plain characters that no snowflake, emoji or invite code accepts.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *r = s, *w = s;
    int hi, lo;
    (void)cls;
    (void)conn;
    while (*r) {
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi || lo)) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    hs_log(HS_LOG_WARN, "http", "%s", line);
}

int capi_server_new(capi_server **out, hs_core *core, hs_error *err)
{
    const hs_config *cfg = hs_core_config(core);
    char host[256];
    int port;
    int rc = hs_config_listen_addr(cfg, host, sizeof(host), &port, err);
    if (rc < 0)
        return rc;

    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0)
        return hs_error_set(err, HS_EINVAL, "cannot resolve listen host '%s': %s", host,
                            gai_strerror(gai));

    capi_server *srv = hs_xcalloc(1, sizeof(*srv));
    srv->core = core;
    srv->cfg = cfg;
    atomic_init(&srv->suspended, 0);
    atomic_init(&srv->stopping, 0);
    atomic_init(&srv->buffered, 0);
    /* Before the daemon starts: its threads read these from the first request on. */
    srv->ratelimit = capi_ratelimit_new(cfg);
    srv->gw = capi_gateway_new(core);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        capi_gateway_free(srv->gw);
        capi_ratelimit_free(srv->ratelimit);
        free(srv);
        return hs_error_set(err, HS_EIO, "cannot listen on %s (in use, or not allowed?)",
                            cfg->listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    *out = srv;
    return 0;
}

int capi_server_port(capi_server *srv)
{
    return srv->port;
}

void capi_server_free(capi_server *srv)
{
    if (!srv)
        return;
    /* New requests are refused (503) while those in flight finish (their writes commit and
     * their responses go out) before the daemon stops: stopping with suspended connections
     * would drop them. (Not MHD_quiesce_daemon: with a thread pool it races the worker
     * threads, which take the listen socket out of their epoll sets themselves once they
     * see the daemon quiesced, and then aborts the process: "Failed to remove listen FD
     * from epoll set".) */
    atomic_store(&srv->stopping, 1);
    for (int i = 0; i < 3000 && atomic_load(&srv->suspended) > 0; i++)
        usleep(10000);
    MHD_stop_daemon(srv->daemon);
    capi_gateway_free(srv->gw);
    capi_ratelimit_free(srv->ratelimit);
    free(srv);
}

void capi_server_reconnect_all(capi_server *srv)
{
    capi_gateway_reconnect_all(srv->gw);
}
