/*
 * The route table (spec/client-api.md §4). A pattern is a path of literal segments,
 * ":name" segments that take a snowflake and "*" segments that take any non-empty segment
 * (an invite code, an emoji, a filename: the handler reads it from req->path); literal
 * routes are listed before the patterns they would otherwise match ("users/@me" before
 * "users/:user_id"). A path that matches a pattern with another method answers 405; a path
 * that matches nothing, 404. Each module keeps its routes in its own table; capi_route
 * searches them all. A routed request passes the rate limits (capi_ratelimit.c) before its
 * handler runs.
 */
#include "capi_internal.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct capi_route capi_routes_core[] = {
    {"GET", "/gateway", capi_gateway_get, 0},
    {"GET", "/gateway/bot", capi_gateway_bot, CAPI_AUTH},
    {"POST", "/auth/register", capi_register, 0},
    {"POST", "/auth/login", capi_login, 0},
    {"GET", "/users/@me", capi_me, CAPI_AUTH},
    {"GET", "/users/@me/guilds", capi_my_guilds, CAPI_AUTH},
    {"GET", "/users/:user_id", capi_user_get, CAPI_AUTH},
    {"POST", "/applications", capi_app_create, CAPI_AUTH},
    {"GET", "/applications/@me", capi_app_me, CAPI_AUTH},
    {"GET", "/applications/:application_id", capi_app_get, CAPI_AUTH},
    {"PATCH", "/applications/:application_id", capi_app_edit, CAPI_AUTH},
    {"POST", "/applications/:application_id/bot/reset", capi_app_reset, CAPI_AUTH},
    {"POST", "/oauth2/authorize", capi_oauth2_authorize, CAPI_AUTH},
    {"POST", "/guilds", capi_guild_create, CAPI_AUTH},
    {"GET", "/guilds/:guild_id", capi_guild_get, CAPI_AUTH},
    {"GET", "/guilds/:guild_id/channels", capi_channels_get, CAPI_AUTH},
    {"POST", "/guilds/:guild_id/channels", capi_channel_create, CAPI_AUTH},
    {"GET", "/channels/:channel_id", capi_channel_get, CAPI_AUTH},
    {"GET", "/channels/:channel_id/messages", capi_messages_get, CAPI_AUTH},
    {"POST", "/channels/:channel_id/messages", capi_message_create, CAPI_AUTH},
    {"POST", "/channels/:channel_id/typing", capi_typing, CAPI_AUTH},
    {"GET", "/channels/:channel_id/messages/:message_id", capi_message_get, CAPI_AUTH},
    {"PATCH", "/channels/:channel_id/messages/:message_id", capi_message_edit, CAPI_AUTH},
    {"DELETE", "/channels/:channel_id/messages/:message_id", capi_message_delete, CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};

enum match { NO_MATCH, MATCH, BAD_PARAM };

/* Matches path against pattern, filling req->params. On BAD_PARAM, *bad names the param. */
static enum match match(const char *pattern, const char *path, capi_req *req, const char **bad,
                        size_t *badlen)
{
    const char *p = pattern, *s = path;
    int n = 0;
    int bad_param = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return NO_MATCH;
        p++;
        s++;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        if (*p == ':') {
            char seg[32];
            uint64_t v;
            if (slen == 0)
                return NO_MATCH;
            if (slen >= sizeof(seg) || (memcpy(seg, s, slen), seg[slen] = '\0',
                                        hs_parse_u64(seg, &v) < 0 || v > (uint64_t)INT64_MAX)) {
                if (!bad_param) {
                    *bad = p + 1;
                    *badlen = plen - 1;
                }
                bad_param = 1;
                v = 0;
            }
            HS_ASSERT(n < CAPI_MAX_PARAMS);
            req->params[n++] = v;
        } else if (plen == 1 && *p == '*') {
            if (slen == 0) /* any one non-empty segment; the handler reads it from the path */
                return NO_MATCH;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return NO_MATCH;
        }
        p += plen;
        s += slen;
    }
    if (*p || (*s && strcmp(s, "/") != 0))
        return NO_MATCH;
    req->nparams = n;
    return bad_param ? BAD_PARAM : MATCH;
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

static int authenticate(capi_req *req)
{
    const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    hs_error err;
    hs_db *db;
    if (!h || !*h) {
        capi_respond_code(req, 401, 0, "401: Unauthorized");
        return -1;
    }
    int bot = strncmp(h, "Bot ", 4) == 0;
    if (!(db = capi_read_db(req)))
        return -1;
    if (hs_auth_token(db, bot ? h + 4 : h, bot, &req->user, &err) < 0) {
        capi_respond_code(req, 401, 0, "401: Unauthorized");
        return -1;
    }
    return 0;
}

static const struct capi_route *const tables[] = {
    capi_routes_core,     capi_routes_members, capi_routes_channels, capi_routes_invites,
    capi_routes_messages, capi_routes_search,  capi_routes_automod,
};

void capi_route(capi_req *req)
{
    /* Two passes: a route whose pattern and method match wins over one where a ":name"
     * segment did not hold a snowflake ("pins" against ":message_id"). */
    const struct capi_route *bad_route = NULL;
    const char *bad = NULL;
    size_t badlen = 0;
    int path_matched = 0;
    for (size_t t = 0; t < HS_ARRAY_LEN(tables); t++) {
        for (const struct capi_route *r = tables[t]; r->method; r++) {
            const char *b = NULL;
            size_t blen = 0;
            enum match m = match(r->pattern, req->path, req, &b, &blen);
            if (m == NO_MATCH)
                continue;
            path_matched = 1;
            if (strcmp(r->method, req->method) != 0)
                continue;
            if (m == BAD_PARAM) {
                if (!bad_route) {
                    bad_route = r;
                    bad = b;
                    badlen = blen;
                }
                continue;
            }
            if ((r->flags & CAPI_AUTH) && authenticate(req) < 0)
                return;
            if (capi_ratelimit_check(req, r))
                return; /* answered 429 */
            r->handler(req);
            return;
        }
    }
    if (bad_route) {
        if ((bad_route->flags & CAPI_AUTH) && authenticate(req) < 0)
            return;
        char field[48];
        snprintf(field, sizeof(field), "%.*s", (int)badlen, bad);
        capi_form_error(req, field, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        capi_form_failed(req);
    } else if (path_matched) {
        capi_respond_code(req, 405, 0, "405: Method Not Allowed");
    } else {
        capi_respond_code(req, 404, 0, "404: Not Found");
    }
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0: overlong forms,
 * surrogates, values past U+10FFFF and cut-off sequences are not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t c, min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, c = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, c = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, c = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    return c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) ? 0 : len;
}

const char *capi_audit_reason(capi_req *req)
{
    if (req->audit_reason)
        return req->audit_reason;
    const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Audit-Log-Reason");
    if (!h || !*h)
        return NULL;
    size_t n = strlen(h);
    char *dec = hs_xmalloc(n + 1), *o = dec;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (h[i] == '%' && i + 2 < n && (hi = hexval(h[i + 1])) >= 0 &&
            (lo = hexval(h[i + 2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = h[i];
        }
    }
    *o = '\0'; /* NUL bytes end it */
    /* The reason is stored and sent back as a JSON string, so it must be UTF-8: bytes that
     * do not decode become U+FFFD (jansson refuses the text otherwise, and a ban whose reason
     * cannot be serialised could not be read back). At most 512 characters, as Discord. */
    size_t len = strlen(dec), chars = 0;
    char *out = hs_xmalloc(3 * len + 1);
    o = out;
    for (size_t i = 0; i < len && chars < 512; chars++) {
        size_t k = utf8_seq((const unsigned char *)dec + i, len - i);
        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(o, dec + i, k);
            o += k;
            i += k;
        }
    }
    *o = '\0';
    free(dec);
    req->audit_reason = out;
    return out;
}
