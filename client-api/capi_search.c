/*
 * Message search (spec/rest-search.md): GET /guilds/{id}/messages/search and GET
 * /channels/{id}/messages/search.
 *
 * The handler reads Discord's query parameters (repeatable ones such as author_id may
 * appear many times) into an hs_search_query on the HTTP thread, answering 50035 for
 * anything malformed, then runs the search on the pool: counting the hits of a common
 * word in a large guild reads the whole posting list, which must not hold an HTTP thread.
 */
#include "capi_internal.h"
#include "hs_search.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct search_op {
    struct hs_search_query q;
    struct hs_search_box box;
    int has_box;
    uint64_t guild_id, channel_id;
};

static void search_op_free(void *p)
{
    struct search_op *op = p;
    hs_search_query_release(&op->q);
    hs_search_box_release(&op->box);
    free(op);
}

/* The state of one pass over the query parameters. */
struct params {
    capi_req *req;
    struct search_op *op;
    int content_seen, q_seen;
    size_t n_author, n_channel, n_mention, n_has, n_type; /* values seen, for error indexes */
};

static void id_param(struct params *p, const char *key, const char *v, size_t *seen, uint64_t *list,
                     size_t *n, size_t max)
{
    char field[48];
    uint64_t id;
    size_t idx = (*seen)++;
    snprintf(field, sizeof(field), "%s.%zu", key, idx);
    if (!v || hs_parse_u64(v, &id) < 0 || id > (uint64_t)INT64_MAX) {
        capi_form_error(p->req, field, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        return;
    }
    for (size_t i = 0; i < *n; i++)
        if (list[i] == id)
            return;
    if (*n >= max) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Must be %zu or fewer in length.", max);
        if (*seen == max + 1)
            capi_form_error(p->req, key, "BASE_TYPE_MAX_LENGTH", msg);
        return;
    }
    list[(*n)++] = id;
}

/* has / author_type: a name, negated by a leading '-'. */
static void choice_param(struct params *p, const char *key, const char *v, size_t *seen,
                         unsigned (*bit_of)(const char *), unsigned *yes, unsigned *no,
                         const char *choices)
{
    char field[48];
    snprintf(field, sizeof(field), "%s.%zu", key, (*seen)++);
    int neg = v && v[0] == '-';
    unsigned bit = v ? bit_of(v + neg) : 0;
    if (!bit) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Value must be one of %s.", choices);
        capi_form_error(p->req, field, "BASE_TYPE_CHOICES", msg);
        return;
    }
    *(neg ? no : yes) |= bit;
}

static void bool_param(struct params *p, const char *key, const char *v, int *out)
{
    if (v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "True") == 0))
        *out = 1;
    else if (v && (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "False") == 0))
        *out = 0;
    else
        capi_form_error(p->req, key, "BASE_TYPE_BOOLEAN", "Must be either true or false.");
}

static enum MHD_Result on_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *v)
{
    struct params *p = cls;
    struct hs_search_query *q = &p->op->q;
    (void)kind;
    if (!key)
        return MHD_YES;
    if (strcmp(key, "content") == 0) {
        /* Discord's `content` is one string; a repeated one is ignored after the first. */
        if (!p->content_seen++ && v)
            q->content = hs_xstrdup(v);
    } else if (strcmp(key, "author_id") == 0) {
        id_param(p, key, v, &p->n_author, q->author_ids, &q->n_authors, HS_SEARCH_MAX_IDS);
    } else if (strcmp(key, "channel_id") == 0) {
        id_param(p, key, v, &p->n_channel, q->channel_ids, &q->n_channels, HS_SEARCH_MAX_CHANNELS);
    } else if (strcmp(key, "mentions") == 0) {
        id_param(p, key, v, &p->n_mention, q->mentions, &q->n_mentions, HS_SEARCH_MAX_IDS);
    } else if (strcmp(key, "has") == 0) {
        choice_param(p, key, v, &p->n_has, hs_search_has_bit, &q->has, &q->has_not,
                     "link, embed, file, image, video, sound, sticker, poll, snapshot (or "
                     "their negation with -)");
    } else if (strcmp(key, "author_type") == 0) {
        choice_param(p, key, v, &p->n_type, hs_search_author_bit, &q->author_types,
                     &q->author_types_not, "user, bot, webhook (or their negation with -)");
    } else if (strcmp(key, "pinned") == 0) {
        bool_param(p, key, v, &q->pinned);
    } else if (strcmp(key, "mention_everyone") == 0) {
        bool_param(p, key, v, &q->mention_everyone);
    } else if (strcmp(key, "sort_by") == 0) {
        if (v && strcmp(v, "timestamp") == 0)
            q->sort_by = HS_SEARCH_SORT_TIMESTAMP;
        else if (v && strcmp(v, "relevance") == 0)
            q->sort_by = HS_SEARCH_SORT_RELEVANCE;
        else
            capi_form_error(p->req, key, "BASE_TYPE_CHOICES",
                            "Value must be one of timestamp, relevance.");
    } else if (strcmp(key, "sort_order") == 0) {
        if (v && (strcmp(v, "asc") == 0 || strcmp(v, "desc") == 0))
            q->sort_asc = v[0] == 'a';
        else
            capi_form_error(p->req, key, "BASE_TYPE_CHOICES", "Value must be one of asc, desc.");
    } else if (strcmp(key, "q") == 0) {
        /* Hearth's extension: the search box's text, parsed by the core (hs_search_parse). */
        hs_error err;
        if (!p->q_seen++ && v) {
            p->op->has_box = 1;
            if (hs_search_parse(v, &p->op->box, &err) < 0)
                capi_form_error(p->req, "q", err.form_code, err.msg);
        }
    }
    /* include_nsfw, slop and Discord's other parameters are accepted and ignored. */
    return MHD_YES;
}

static void search_job(capi_req *req)
{
    struct search_op *op = req->op;
    hs_db *db = capi_read_db(req);
    hs_error err;
    json_t *resp = NULL;
    int rc = 0;
    if (!db)
        return;
    if (op->has_box)
        rc = hs_search_resolve(db, op->guild_id, &op->box, &op->q, &err);
    if (rc == 0)
        rc = hs_search_run(db, req->user.id, op->guild_id, op->channel_id, &op->q, &resp, &err);
    if (rc < 0)
        capi_respond_error(req, rc, &err);
    else
        capi_respond(req, 200, resp);
}

static void search(capi_req *req, uint64_t guild_id, uint64_t channel_id)
{
    struct search_op *op = hs_xcalloc(1, sizeof(*op));
    hs_search_query_init(&op->q);
    op->box.pinned = -1;
    op->guild_id = guild_id;
    op->channel_id = channel_id;
    struct params p = {.req = req, .op = op};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, on_param, &p);
    capi_query_id(req, "min_id", &op->q.min_id);
    capi_query_id(req, "max_id", &op->q.max_id);
    capi_query_int(req, "limit", 1, HS_SEARCH_LIMIT_MAX, &op->q.limit);
    capi_query_int(req, "offset", 0, HS_SEARCH_OFFSET_MAX, &op->q.offset);
    if (capi_form_failed(req)) {
        search_op_free(op);
        return;
    }
    req->op = op;
    req->op_free = search_op_free;
    capi_run_job(req, search_job);
}

static void guild_search(capi_req *req)
{
    search(req, req->params[0], 0);
}

static void channel_search(capi_req *req)
{
    search(req, 0, req->params[0]);
}

const struct capi_route capi_routes_search[] = {
    {"GET", "/guilds/:guild_id/messages/search", guild_search, CAPI_AUTH},
    {"GET", "/channels/:channel_id/messages/search", channel_search, CAPI_AUTH},
    {NULL, NULL, NULL, 0},
};
