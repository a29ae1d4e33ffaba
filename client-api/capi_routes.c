/*
 * The route table (spec/client-api.md §4). A pattern is a path of literal segments and
 * ":name" segments that take a snowflake; literal routes are listed before the patterns
 * they would otherwise match ("users/@me" before "users/:user_id"). A path that matches a
 * pattern with another method answers 405; a path that matches nothing, 404.
 */
#include "capi_internal.h"
#include "hs_util.h"

#include <stdio.h>
#include <string.h>

enum { AUTH = 1 }; /* the route needs a token */

struct route {
    const char *method;
    const char *pattern;
    capi_handler handler;
    int flags;
};

static const struct route routes[] = {
    {"GET", "/gateway", capi_gateway_get, 0},
    {"GET", "/gateway/bot", capi_gateway_bot, AUTH},
    {"POST", "/auth/register", capi_register, 0},
    {"POST", "/auth/login", capi_login, 0},
    {"GET", "/users/@me", capi_me, AUTH},
    {"GET", "/users/@me/guilds", capi_my_guilds, AUTH},
    {"GET", "/users/:user_id", capi_user_get, AUTH},
    {"POST", "/applications", capi_app_create, AUTH},
    {"GET", "/applications/@me", capi_app_me, AUTH},
    {"GET", "/applications/:application_id", capi_app_get, AUTH},
    {"PATCH", "/applications/:application_id", capi_app_edit, AUTH},
    {"POST", "/applications/:application_id/bot/reset", capi_app_reset, AUTH},
    {"POST", "/oauth2/authorize", capi_oauth2_authorize, AUTH},
    {"POST", "/guilds", capi_guild_create, AUTH},
    {"GET", "/guilds/:guild_id", capi_guild_get, AUTH},
    {"GET", "/guilds/:guild_id/channels", capi_channels_get, AUTH},
    {"POST", "/guilds/:guild_id/channels", capi_channel_create, AUTH},
    {"GET", "/channels/:channel_id", capi_channel_get, AUTH},
    {"GET", "/channels/:channel_id/messages", capi_messages_get, AUTH},
    {"POST", "/channels/:channel_id/messages", capi_message_create, AUTH},
    {"POST", "/channels/:channel_id/typing", capi_typing, AUTH},
    {"GET", "/channels/:channel_id/messages/:message_id", capi_message_get, AUTH},
    {"PATCH", "/channels/:channel_id/messages/:message_id", capi_message_edit, AUTH},
    {"DELETE", "/channels/:channel_id/messages/:message_id", capi_message_delete, AUTH},
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

void capi_route(capi_req *req)
{
    int path_matched = 0;
    for (size_t i = 0; i < HS_ARRAY_LEN(routes); i++) {
        const char *bad = NULL;
        size_t badlen = 0;
        enum match m = match(routes[i].pattern, req->path, req, &bad, &badlen);
        if (m == NO_MATCH)
            continue;
        path_matched = 1;
        if (strcmp(routes[i].method, req->method) != 0)
            continue;
        if ((routes[i].flags & AUTH) && authenticate(req) < 0)
            return;
        if (m == BAD_PARAM) {
            char field[48];
            snprintf(field, sizeof(field), "%.*s", (int)badlen, bad);
            capi_form_error(req, field, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
            capi_form_failed(req);
            return;
        }
        routes[i].handler(req);
        return;
    }
    if (path_matched)
        capi_respond_code(req, 405, 0, "405: Method Not Allowed");
    else
        capi_respond_code(req, 404, 0, "404: Not Found");
}
