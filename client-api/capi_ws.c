/*
 * The WebSocket handshake (RFC 6455 §4.2) and the hand-over of the socket to the gateway.
 *
 * libmicrohttpd parses the HTTP request and sends the 101 response; its upgrade callback
 * gives us the socket. We duplicate the descriptor and tell libmicrohttpd to close its
 * copy at once, so none of its per-connection memory (a 32 KiB pool) stays with a
 * long-lived WebSocket (DESIGN.md §3). The SHA-1 of the accept key comes from GnuTLS and
 * the base64 from libsodium; wslay, in the gateway, does the framing.
 */
#include "capi_gateway.h"
#include "capi_internal.h"
#include "hs_log.h"
#include "hs_util.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Does the comma-separated header value list contain token (case-insensitive)? */
static int header_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = value;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == tlen && strncasecmp(p, token, tlen) == 0)
            return 1;
        p += len;
    }
    return 0;
}

int capi_ws_accept_key(const char *key, char out[29])
{
    unsigned char raw[16];
    size_t rawlen = 0;
    if (strlen(key) != 24 ||
        sodium_base642bin(raw, sizeof(raw), key, 24, NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        rawlen != 16)
        return -1;
    char buf[24 + sizeof(WS_GUID)];
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char digest[20];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, 24 + sizeof(WS_GUID) - 1, digest) != 0)
        return -1;
    sodium_bin2base64(out, 29, digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/*
 * Whether a Host header may go into a URL we hand out (GET /gateway, READY's
 * resume_gateway_url): a host name, an IPv4 or bracketed IPv6 address and an optional port,
 * at most 255 bytes. Anything else (a quote, a slash, bytes that are not ASCII) is replaced
 * by a default: those URLs are JSON strings, and jansson refuses text that is not UTF-8.
 */
static int host_ok(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

static void on_upgraded(void *cls, struct MHD_Connection *connection, void *req_cls,
                        const char *extra_in, size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    capi_req *req = req_cls;
    (void)cls;
    (void)connection;
    int fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    if (fd < 0) {
        hs_log(HS_LOG_WARN, "gateway", "cannot take over an upgraded socket");
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    capi_gateway_adopt(req->srv->gw, fd, extra_in, extra_in_size, req->gw_params);
}

/* Answers GET /gateway: a 101 hand-over, or a JSON error. Sets req->upgrade_resp. */
void capi_ws_upgrade(capi_req *req)
{
    struct MHD_Connection *conn = req->conn;
    const char *upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
    const char *connection = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
    const char *version =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    char accept[29];

    if (strcmp(req->method, "GET") != 0) {
        capi_respond_code(req, 405, 0, "405: Method Not Allowed");
        return;
    }
    if (!upgrade || !header_has_token(upgrade, "websocket") || !connection ||
        !header_has_token(connection, "upgrade")) {
        capi_respond_code(req, 400, 0, "The gateway speaks WebSocket: send an Upgrade request.");
        return;
    }
    if (!version || strcmp(version, "13") != 0) {
        capi_respond_code(req, 426, 0, "Sec-WebSocket-Version 13 is required.");
        capi_add_header(req, "Sec-WebSocket-Version", "13"); /* RFC 6455 §4.4 */
        return;
    }
    if (!key || capi_ws_accept_key(key, accept) < 0) {
        capi_respond_code(req, 400, 0, "Bad Sec-WebSocket-Key.");
        return;
    }

    struct capi_gw_params *p = hs_xcalloc(1, sizeof(*p));
    const char *v = capi_query(req, "v");
    const char *enc = capi_query(req, "encoding");
    const char *comp = capi_query(req, "compress");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (v)
        p->version = strcmp(v, "9") == 0 ? 9 : strcmp(v, "10") == 0 ? 10 : -1;
    p->bad_encoding = enc && strcmp(enc, "json") != 0;
    p->zlib_stream = comp && strcmp(comp, "zlib-stream") == 0;
    p->bad_compress = comp && !p->zlib_stream;
    if (host_ok(host) && strlen(host) < 256)
        p->host = hs_xstrdup(host);
    req->gw_params = p;

    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgraded, NULL);
    MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    req->upgrade_resp = r;
}

static json_t *gateway_url(capi_req *req)
{
    const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Host");
    char url[300];
    if (!host_ok(host))
        host = req->srv->cfg->listen;
    snprintf(url, sizeof(url), "ws://%s/gateway", host);
    return json_string(url);
}

void capi_gateway_get(capi_req *req)
{
    capi_respond(req, 200, json_pack("{s:o}", "url", gateway_url(req)));
}

void capi_gateway_bot(capi_req *req)
{
    if (!req->user.bot) {
        capi_respond_code(req, 401, 0, "401: Unauthorized");
        return;
    }
    /* Hearth does not ration IDENTIFYs yet; the figures are Discord's defaults. */
    capi_respond(req, 200,
                 json_pack("{s:o, s:i, s:{s:i, s:i, s:i, s:i}}", "url", gateway_url(req), "shards",
                           1, "session_start_limit", "total", 1000, "remaining", 1000,
                           "reset_after", 86400000, "max_concurrency", 1));
}
