/*
 * DESIGN: full-text message search on SQLite FTS5 (spec/rest-search.md).
 *
 * The index. `message_fts` is a contentless FTS5 table (content=''): it stores only the
 * inverted index, never a second copy of the text, so the index costs a fraction of the
 * messages it covers. Its rowid is the message id (ids are unique across channels, and
 * their order is time order, so "newest first" is simply rowid order, which FTS5 walks
 * natively in either direction and bounds natively with `rowid > min_id AND rowid <
 * max_id`). `messages` is WITHOUT ROWID keyed (channel_id, id), so a small rowid table
 * `message_search (id -> channel_id, guild_id, bot)` maps a hit back to the row that
 * hs_msg_get reads. Triggers on `messages` (hs_search.h, HS_SEARCH_MIGRATION) write
 * both in the transaction of every create, edit and delete: no lag, no stale hit.
 *
 * Why filters are FTS tokens. Column `text` holds the words; column `meta` holds one
 * token per filterable fact: c<channel>, g<guild>, a<author>, m<mention>, r<role>,
 * tbot, pinned, everyone, hlink, hembed, hfile, himage, hvideo, hsound. Every filter
 * Discord offers (author_id, author_type, channel_id, mentions, has, pinned, the guild
 * scope itself) is then a posting list, and a query is one FTS5 boolean expression:
 * `text:"rare" AND meta:"g1" AND meta:"a7" NOT (meta:"pinned")`. FTS5 intersects posting
 * lists with skips through its doclist indexes, so a selective filter makes a query over
 * a common word cheap, and counting hits never touches a table row: counting is a walk
 * over compressed doclists (~200 ns a hit for a word and the guild token), where any
 * per-row lookup costs about a microsecond. Even so, counting every hit of a word in half
 * of a million messages took 150 ms, so total_results stops at HS_SEARCH_TOTAL_MAX
 * (10,000: as far as offset + limit can reach) and every count is bounded. The meta tokens are
 * derived only from the messages row and its message_search row, because a contentless FTS5 delete
 * must be handed exactly the tokens that were indexed; guild and bot status are copied into
 * message_search at insert for that reason.
 *
 * Permissions, at query time. The searcher's right to read is never stored. For a query
 * Q (already scoped to the guild or channel):
 *   1. n = count(Q) up to small_limit + 1, over the index only.
 *   2. If n is small (<= small_limit), the distinct channels of the hits and their counts
 *      come from one GROUP BY over the hits (one message_search lookup per hit). Else the
 *      candidate channels are the scope's channels (channel rows are never removed, only
 *      marked deleted), and each hidden one is tested for a hit: count(Q AND c<id>) up
 *      to 1.
 *   3. hs_perm_channel decides each candidate channel once per query (cached): visible
 *      means VIEW_CHANNEL and READ_MESSAGE_HISTORY (for a thread, from its parent, plus the
 *      private-thread rule; a deleted channel, a guild left or a ban give nothing).
 *   4. V = Q NOT (c<hidden with hits>...). total_results = n minus the hidden channels'
 *      hits when n is small, else count(V) up to HS_SEARCH_TOTAL_MAX; the page is read
 *      with V, so hidden hits can neither show, nor count, nor shift offsets. Each row of
 *      the page is checked against the cache once more before it is returned.
 * The whole search runs in one read transaction, so counts and page agree.
 *
 * Untrusted text. No input text reaches FTS5 syntax: `content` is split into words and
 * "phrases", each run through the index's own tokenizer (unicode61 remove_diacritics 2,
 * via the fts5_api), and the MATCH expression is rebuilt from those tokens, each quoted.
 * Ids are printed as decimal numbers. The expression is bound as a parameter.
 */
#include "hs_search.h"
#include "hs_channels.h"
#include "hs_core.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_util.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_buf.h"

/* Above this many hits, step 2 above enumerates the scope's channels instead. */
static long small_limit = 4096;
/* total_results stops counting here (spec/rest-search.md §3). */
static long total_max = HS_SEARCH_TOTAL_MAX;

void hs_search_set_small_limit(long n)
{
    small_limit = n;
}

void hs_search_set_total_max(long n)
{
    total_max = n;
}

/* ---------------------------------------------------------------- names and values */

static const struct {
    const char *name;
    unsigned bit;
    const char *token; /* NULL: nothing stored can have it */
} has_names[] = {
    {"link", HS_HAS_LINK, "hlink"},      {"embed", HS_HAS_EMBED, "hembed"},
    {"file", HS_HAS_FILE, "hfile"},      {"image", HS_HAS_IMAGE, "himage"},
    {"video", HS_HAS_VIDEO, "hvideo"},   {"sound", HS_HAS_SOUND, "hsound"},
    {"sticker", HS_HAS_STICKER, NULL},   {"poll", HS_HAS_POLL, NULL},
    {"snapshot", HS_HAS_SNAPSHOT, NULL},
};

unsigned hs_search_has_bit(const char *name)
{
    for (size_t i = 0; i < HS_ARRAY_LEN(has_names); i++)
        if (strcmp(name, has_names[i].name) == 0)
            return has_names[i].bit;
    return 0;
}

unsigned hs_search_author_bit(const char *name)
{
    if (strcmp(name, "user") == 0)
        return HS_AUTHOR_USER;
    if (strcmp(name, "bot") == 0)
        return HS_AUTHOR_BOT;
    if (strcmp(name, "webhook") == 0)
        return HS_AUTHOR_WEBHOOK;
    return 0;
}

void hs_search_query_init(struct hs_search_query *q)
{
    memset(q, 0, sizeof(*q));
    q->pinned = -1;
    q->mention_everyone = -1;
    q->limit = HS_SEARCH_LIMIT_MAX;
}

void hs_search_query_release(struct hs_search_query *q)
{
    free(q->content);
    q->content = NULL;
}

void hs_search_box_release(struct hs_search_box *b)
{
    free(b->content);
    for (size_t i = 0; i < b->n_from; i++)
        free(b->from[i]);
    for (size_t i = 0; i < b->n_mentions; i++)
        free(b->mentions[i]);
    for (size_t i = 0; i < b->n_in; i++)
        free(b->in[i]);
    memset(b, 0, sizeof(*b));
    b->pinned = -1;
}

/* Whether s (len bytes) is well-formed UTF-8 without NUL; *chars gets the code points. */
static int utf8_check(const char *s, size_t len, size_t *chars)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t n = 0;
    while (p < end) {
        unsigned c = *p;
        size_t k;
        unsigned min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            p++;
            n++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            k = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            k = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            k = 3, min = 0x10000, c &= 0x07;
        else
            return 0;
        if ((size_t)(end - p) <= k)
            return 0;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return 0;
        p += k + 1;
        n++;
    }
    *chars = n;
    return 1;
}

/* ---------------------------------------------------------------- the search box */

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Parses YYYY-MM-DD (UTC) into the unix ms of its midnight. */
static int parse_date(const char *s, uint64_t *ms)
{
    unsigned y, m, d;
    int n = 0;
    if (sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || s[n] != '\0' || n != 10)
        return -1;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return -1;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    *ms = (uint64_t)days_from_civil(y, m, d) * 86400000ULL;
    return 0;
}

/* The first id at unix ms (1 when that is before any id: "nothing before this"). */
static uint64_t id_at(uint64_t ms)
{
    uint64_t id = hs_snowflake_from_unix_ms(ms);
    return id ? id : 1;
}

static void narrow_max(uint64_t *max, uint64_t v)
{
    if (!*max || v < *max)
        *max = v;
}

static void narrow_min(uint64_t *min, uint64_t v)
{
    if (v > *min)
        *min = v;
}

/* A search-box error: 50035 on field "q". */
#define box_error(err, ...)                                                                        \
    (hs_error_form((err), "q", "SEARCH_QUERY_INVALID", __VA_ARGS__), HS_EINVAL)

static int push_name(char **list, size_t *n, size_t max, const char *v, const char *key,
                     hs_error *err)
{
    if (*n >= max)
        return box_error(err, "Too many %s: filters.", key);
    list[(*n)++] = hs_xstrdup(v);
    return 0;
}

/* Applies one key:value filter; returns 1 when key is not a filter key (text). */
static int box_filter(struct hs_search_box *b, const char *key, int neg, const char *v,
                      hs_error *err)
{
    uint64_t ms;
    if (strcmp(key, "has") == 0 || strcmp(key, "author_type") == 0) {
        int has = key[0] == 'h';
        if (v[0] == '-') {
            neg = !neg;
            v++;
        }
        unsigned bit = has ? hs_search_has_bit(v) : hs_search_author_bit(v);
        if (!bit)
            return has ? box_error(err, "Unknown has: value '%s'.", v)
                       : box_error(err, "Unknown author_type: value '%s'.", v);
        if (has)
            *(neg ? &b->has_not : &b->has) |= bit;
        else
            *(neg ? &b->author_types_not : &b->author_types) |= bit;
        return 0;
    }
    if (neg)
        return 1; /* only has: and author_type: negate; "-from:x" is text */
    if (strcmp(key, "from") == 0)
        return push_name(b->from, &b->n_from, HS_SEARCH_MAX_IDS, v, key, err);
    if (strcmp(key, "mentions") == 0)
        return push_name(b->mentions, &b->n_mentions, HS_SEARCH_MAX_IDS, v, key, err);
    if (strcmp(key, "in") == 0)
        return push_name(b->in, &b->n_in, HS_SEARCH_MAX_CHANNELS, v, key, err);
    if (strcmp(key, "pinned") == 0) {
        if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0)
            b->pinned = 1;
        else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0)
            b->pinned = 0;
        else
            return box_error(err, "pinned: takes true or false, not '%s'.", v);
        return 0;
    }
    if (strcmp(key, "before") == 0 || strcmp(key, "after") == 0 || strcmp(key, "during") == 0 ||
        strcmp(key, "on") == 0) {
        if (parse_date(v, &ms) < 0)
            return box_error(err, "Dates are YYYY-MM-DD, not '%s'.", v);
        uint64_t next = ms + 86400000ULL;
        if (key[0] == 'b') {
            narrow_max(&b->max_id, id_at(ms));
        } else if (key[0] == 'a') {
            narrow_min(&b->min_id, id_at(next) - 1);
        } else {
            narrow_min(&b->min_id, id_at(ms) - 1);
            narrow_max(&b->max_id, id_at(next));
        }
        return 0;
    }
    return 1;
}

int hs_search_parse(const char *text, struct hs_search_box *out, hs_error *err)
{
    memset(out, 0, sizeof(*out));
    out->pinned = -1;
    size_t len = text ? strlen(text) : 0, chars = 0;
    if (!utf8_check(text ? text : "", len, &chars))
        return box_error(err, "The search text is not valid UTF-8.");
    if (chars > HS_SEARCH_BOX_MAX)
        return box_error(err, "The search text is too long.");

    hs_buf rest = HS_BUF_INIT;
    const char *p = text ? text : "";
    int rc = 0;
    while (*p && rc == 0) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        /* One item: a run of non-space characters, where a "quoted part" may hold spaces. */
        const char *start = p;
        int inq = 0;
        while (*p && (inq || !isspace((unsigned char)*p))) {
            if (*p == '"')
                inq = !inq;
            p++;
        }
        size_t n = (size_t)(p - start);
        char *item = hs_xstrndup(start, n);
        const char *colon = strchr(item, ':');
        int handled = 0;
        if (colon && item[0] != '"') {
            int neg = item[0] == '-';
            char key[16];
            size_t klen = (size_t)(colon - item) - (size_t)neg;
            const char *v = colon + 1;
            if (klen > 0 && klen < sizeof(key) && *v) {
                for (size_t i = 0; i < klen; i++)
                    key[i] = (char)tolower((unsigned char)item[neg + i]);
                key[klen] = '\0';
                /* A "quoted value" loses its quotes. */
                char *val = hs_xstrdup(v);
                size_t vl = strlen(val);
                if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
                    memmove(val, val + 1, vl - 2);
                    val[vl - 2] = '\0';
                } else if (val[0] == '"') {
                    memmove(val, val + 1, vl);
                }
                if (*val) {
                    int r = box_filter(out, key, neg, val, err);
                    if (r < 0)
                        rc = r;
                    handled = r <= 0;
                }
                free(val);
            }
        }
        if (!handled && rc == 0) {
            if (rest.len)
                hs_buf_add(&rest, " ", 1);
            hs_buf_add(&rest, item, n);
        }
        free(item);
    }
    out->content = hs_buf_detach(&rest);
    return rc;
}

/* ---------------------------------------------------------------- resolving names */

/* An id from "123", "<@123>", "<@!123>", "<#123>" (the sigil given); -1 when not one. */
static int parse_ref(const char *v, const char *sigil, uint64_t *id)
{
    char buf[40];
    size_t n = strlen(v), sl = strlen(sigil);
    if (n >= sizeof(buf))
        return -1;
    if (v[0] == '<' && n > sl + 2 && strncmp(v + 1, sigil, sl) == 0 && v[n - 1] == '>') {
        const char *s = v + 1 + sl;
        if (*s == '!' && sigil[0] == '@')
            s++;
        size_t k = (size_t)(v + n - 1 - s);
        memcpy(buf, s, k);
        buf[k] = '\0';
        v = buf;
    }
    if (hs_parse_u64(v, id) < 0 || *id == 0 || *id > (uint64_t)INT64_MAX)
        return -1;
    return 0;
}

static int add_id(uint64_t *list, size_t *n, size_t max, uint64_t id, const char *field,
                  hs_error *err)
{
    for (size_t i = 0; i < *n; i++)
        if (list[i] == id)
            return 0;
    if (*n >= max) {
        hs_error_form(err, field, "BASE_TYPE_MAX_LENGTH", "Must be %zu or fewer in length.", max);
        return HS_EINVAL;
    }
    list[(*n)++] = id;
    return 0;
}

static uint64_t user_by_name(hs_db *db, const char *name)
{
    if (name[0] == '@')
        name++;
    sqlite3_stmt *s = NULL;
    uint64_t id = 0;
    if (sqlite3_prepare_v2(hs_db_handle(db), "SELECT id FROM users WHERE username = lower(?1)", -1,
                           &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            id = hs_col_id(s, 0);
    }
    sqlite3_finalize(s);
    return id;
}

static int resolve_users(hs_db *db, char *const *names, size_t n, uint64_t *list, size_t *count,
                         const char *field, struct hs_search_query *q, hs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (parse_ref(names[i], "@", &id) < 0 && !(id = user_by_name(db, names[i]))) {
            q->impossible = 1;
            continue;
        }
        int rc = add_id(list, count, HS_SEARCH_MAX_IDS, id, field, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int hs_search_resolve(hs_db *db, uint64_t guild_id, const struct hs_search_box *b,
                      struct hs_search_query *q, hs_error *err)
{
    int rc =
        resolve_users(db, b->from, b->n_from, q->author_ids, &q->n_authors, "author_id", q, err);
    if (rc == 0)
        rc = resolve_users(db, b->mentions, b->n_mentions, q->mentions, &q->n_mentions, "mentions",
                           q, err);
    for (size_t i = 0; rc == 0 && i < b->n_in; i++) {
        uint64_t id;
        if (parse_ref(b->in[i], "#", &id) == 0) {
            rc = add_id(q->channel_ids, &q->n_channels, HS_SEARCH_MAX_CHANNELS, id, "channel_id",
                        err);
            continue;
        }
        const char *name = b->in[i][0] == '#' ? b->in[i] + 1 : b->in[i];
        sqlite3_stmt *s = NULL;
        int found = 0;
        if (guild_id && sqlite3_prepare_v2(hs_db_handle(db),
                                           "SELECT id FROM channels WHERE guild_id = ?1 AND "
                                           "lower(name) = lower(?2) AND deleted = 0",
                                           -1, &s, NULL) == SQLITE_OK) {
            hs_bind_id(s, 1, guild_id);
            sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
            while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
                found = 1;
                rc = add_id(q->channel_ids, &q->n_channels, HS_SEARCH_MAX_CHANNELS, hs_col_id(s, 0),
                            "channel_id", err);
            }
        }
        sqlite3_finalize(s);
        if (!found)
            q->impossible = 1;
    }
    if (rc < 0)
        return rc;
    q->has |= b->has;
    q->has_not |= b->has_not;
    q->author_types |= b->author_types;
    q->author_types_not |= b->author_types_not;
    if (b->pinned >= 0) {
        if (q->pinned >= 0 && q->pinned != b->pinned)
            q->impossible = 1;
        q->pinned = b->pinned;
    }
    if (b->min_id)
        narrow_min(&q->min_id, b->min_id);
    if (b->max_id)
        narrow_max(&q->max_id, b->max_id);
    if (b->content && *b->content) {
        char *c = q->content && *q->content ? hs_xasprintf("%s %s", q->content, b->content)
                                            : hs_xstrdup(b->content);
        free(q->content);
        q->content = c;
    }
    return 0;
}

/* ---------------------------------------------------------------- the tokenizer */

/* The index's tokenizer, from the connection's fts5_api. */
struct tokenizer {
    fts5_tokenizer api;
    Fts5Tokenizer *tok;
};

/* The connection's FTS5 API (version 2 or later), or NULL. */
static fts5_api *fts5_api_of(sqlite3 *h)
{
    fts5_api *api = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(h, "SELECT fts5(?1)", -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return api && api->iVersion >= 2 ? api : NULL;
}

static int tokenizer_open(hs_db *db, struct tokenizer *t)
{
    void *ud = NULL;
    memset(t, 0, sizeof(*t));
    fts5_api *api = fts5_api_of(hs_db_handle(db));
    if (!api || api->xFindTokenizer(api, "unicode61", &ud, &t->api) != 0)
        return -1;
    const char *args[] = {"remove_diacritics", "2"};
    if (t->api.xCreate(ud, args, 2, &t->tok) != SQLITE_OK)
        return -1;
    return 0;
}

static void tokenizer_close(struct tokenizer *t)
{
    if (t->tok)
        t->api.xDelete(t->tok);
    t->tok = NULL;
}

/* A token of some text: its folded form and where it came from. */
struct token {
    char *text;
    int start, end;
};

struct token_list {
    struct token *v;
    size_t n, cap;
};

static int collect_token(void *ctx, int flags, const char *tok, int ntok, int start, int end)
{
    struct token_list *l = ctx;
    (void)flags;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = hs_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = (struct token){hs_xstrndup(tok, (size_t)ntok), start, end};
    return SQLITE_OK;
}

static void token_list_release(struct token_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].text);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void tokenize(struct tokenizer *t, int flags, const char *text, size_t len,
                     struct token_list *out)
{
    t->api.xTokenize(t->tok, out, flags, text, (int)len, collect_token);
}

/* ---------------------------------------------------------------- content terms */

/* One word or "phrase" of `content`, as the tokens the index would hold. */
struct term {
    struct token_list toks;
    int prefix; /* the last token is a prefix (word* or "phrase"*) */
};

struct terms {
    struct term v[HS_SEARCH_MAX_TERMS];
    size_t n;
    int blank; /* content had no non-space character */
};

static void terms_release(struct terms *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        token_list_release(&ts->v[i].toks);
    ts->n = 0;
}

static int content_error(hs_error *err, const char *code, const char *msg)
{
    hs_error_form(err, "content", code, "%s", msg);
    return HS_EINVAL;
}

/*
 * Splits content into terms: "quoted phrases" (an unclosed quote runs to the end) and
 * space-separated words; a trailing * makes the last token a prefix. Terms the tokenizer
 * finds no token in ("!!!", emoji) are dropped. Errors as hs_search_check_content.
 */
static int split_terms(struct tokenizer *t, const char *content, struct terms *ts, hs_error *err)
{
    size_t len = content ? strlen(content) : 0, chars = 0;
    memset(ts, 0, sizeof(*ts));
    ts->blank = 1;
    if (!utf8_check(content ? content : "", len, &chars))
        return content_error(err, "BASE_TYPE_STRING", "Must be valid UTF-8.");
    if (chars > HS_SEARCH_CONTENT_MAX)
        return content_error(err, "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.");
    const char *p = content ? content : "";
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        ts->blank = 0;
        const char *s, *e;
        if (*p == '"') {
            s = ++p;
            while (*p && *p != '"')
                p++;
            e = p;
            if (*p == '"')
                p++;
        } else {
            s = p;
            while (*p && !isspace((unsigned char)*p) && *p != '"')
                p++;
            e = p;
        }
        int prefix = 0;
        while (e > s && e[-1] == '*') {
            e--;
            prefix = 1;
        }
        while (*p == '*') {
            p++;
            prefix = 1;
        }
        struct token_list toks = {0};
        tokenize(t, FTS5_TOKENIZE_QUERY | (prefix ? FTS5_TOKENIZE_PREFIX : 0), s, (size_t)(e - s),
                 &toks);
        if (toks.n == 0) {
            token_list_release(&toks);
            continue;
        }
        if (ts->n == HS_SEARCH_MAX_TERMS) {
            token_list_release(&toks);
            terms_release(ts);
            return content_error(err, "BASE_TYPE_MAX_LENGTH",
                                 "Must have 64 or fewer words and phrases.");
        }
        ts->v[ts->n++] = (struct term){toks, prefix};
    }
    if (!ts->blank && ts->n == 0)
        return content_error(err, "BASE_TYPE_BAD_LENGTH", "Must contain a searchable word.");
    return 0;
}

int hs_search_check_content(hs_db *db, const char *content, hs_error *err)
{
    struct tokenizer t;
    struct terms *ts = hs_xcalloc(1, sizeof(*ts));
    int rc;
    if (tokenizer_open(db, &t) < 0) {
        rc = hs_error_set(err, HS_EIO, "the FTS5 tokenizer is not available");
    } else {
        rc = split_terms(&t, content, ts, err);
        terms_release(ts);
    }
    tokenizer_close(&t);
    free(ts);
    return rc;
}

/* ---------------------------------------------------------------- the MATCH expression */

/* Appends a quoted FTS5 string (a "" stands for a " inside). */
static void add_quoted(hs_buf *b, const char *s)
{
    hs_buf_add(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            hs_buf_add(b, "\"", 1);
        hs_buf_add(b, s, 1);
    }
    hs_buf_add(b, "\"", 1);
}

/* Appends `meta:"<prefix><id>"`. */
static void add_meta(hs_buf *b, const char *prefix, uint64_t id)
{
    hs_buf_addf(b, "meta:\"%s%" PRIu64 "\"", prefix, id);
}

static void add_meta_or(hs_buf *b, const char *prefix, const uint64_t *ids, size_t n)
{
    hs_buf_adds(b, " AND (");
    for (size_t i = 0; i < n; i++) {
        if (i)
            hs_buf_adds(b, " OR ");
        add_meta(b, prefix, ids[i]);
    }
    hs_buf_adds(b, ")");
}

/* Builds the expression from already split terms; NULL when nothing can match. */
static char *build_match(const struct terms *ts, uint64_t guild_id, uint64_t channel_id,
                         const struct hs_search_query *q)
{
    if (q->impossible)
        return NULL;
    hs_buf pos = HS_BUF_INIT, neg = HS_BUF_INIT;
    /* The scope is always a positive posting list, so negations have a base. */
    hs_buf_adds(&pos, "(");
    if (guild_id)
        add_meta(&pos, "g", guild_id);
    else
        add_meta(&pos, "c", channel_id);
    for (size_t i = 0; i < ts->n; i++) {
        const struct term *t = &ts->v[i];
        hs_buf phrase = HS_BUF_INIT;
        for (size_t j = 0; j < t->toks.n; j++) {
            if (j)
                hs_buf_add(&phrase, " ", 1);
            hs_buf_adds(&phrase, t->toks.v[j].text);
        }
        hs_buf_adds(&pos, " AND text:");
        add_quoted(&pos, phrase.data);
        if (t->prefix)
            hs_buf_adds(&pos, " *");
        hs_buf_release(&phrase);
    }
    if (q->n_authors)
        add_meta_or(&pos, "a", q->author_ids, q->n_authors);
    if (q->n_channels)
        add_meta_or(&pos, "c", q->channel_ids, q->n_channels);
    if (q->n_mentions)
        add_meta_or(&pos, "m", q->mentions, q->n_mentions);

    /* Author types: the kinds a message's author may be, given what was asked. */
    unsigned kinds = (q->author_types ? q->author_types : ~0u) & ~q->author_types_not &
                     (HS_AUTHOR_USER | HS_AUTHOR_BOT);
    int impossible = kinds == 0;
    if (kinds == HS_AUTHOR_BOT)
        hs_buf_adds(&pos, " AND meta:\"tbot\"");
    else if (kinds == HS_AUTHOR_USER)
        hs_buf_adds(&neg, " OR meta:\"tbot\"");

    for (size_t i = 0; i < HS_ARRAY_LEN(has_names); i++) {
        unsigned bit = has_names[i].bit;
        const char *tok = has_names[i].token;
        if (q->has & bit) {
            if (!tok)
                impossible = 1;
            else
                hs_buf_addf(&pos, " AND meta:\"%s\"", tok);
        }
        if ((q->has_not & bit) && tok)
            hs_buf_addf(&neg, " OR meta:\"%s\"", tok);
    }
    if (q->pinned == 1)
        hs_buf_adds(&pos, " AND meta:\"pinned\"");
    else if (q->pinned == 0)
        hs_buf_adds(&neg, " OR meta:\"pinned\"");
    if (q->mention_everyone == 1)
        hs_buf_adds(&pos, " AND meta:\"everyone\"");
    else if (q->mention_everyone == 0)
        hs_buf_adds(&neg, " OR meta:\"everyone\"");
    hs_buf_adds(&pos, ")");
    if (neg.len)
        hs_buf_addf(&pos, " NOT (%s)", neg.data + 4); /* skip the first " OR " */
    hs_buf_release(&neg);
    if (impossible) {
        hs_buf_release(&pos);
        return NULL;
    }
    return hs_buf_detach(&pos);
}

int hs_search_match(hs_db *db, uint64_t guild_id, uint64_t channel_id,
                    const struct hs_search_query *q, char **out, hs_error *err)
{
    struct tokenizer t;
    struct terms *ts = hs_xcalloc(1, sizeof(*ts));
    int rc;
    *out = NULL;
    if (tokenizer_open(db, &t) < 0) {
        rc = hs_error_set(err, HS_EIO, "the FTS5 tokenizer is not available");
    } else {
        rc = split_terms(&t, q->content, ts, err);
        if (rc == 0)
            *out = build_match(ts, guild_id, channel_id, q);
        terms_release(ts);
    }
    tokenizer_close(&t);
    free(ts);
    return rc;
}

/* ---------------------------------------------------------------- highlighting */

static int token_matches(const struct token *doc, const struct term *t, size_t j)
{
    const char *want = t->toks.v[j].text;
    if (t->prefix && j + 1 == t->toks.n)
        return strncmp(doc->text, want, strlen(want)) == 0;
    return strcmp(doc->text, want) == 0;
}

/* Whether content[from, to) is only white space (marked tokens across it form one run). */
static int only_spaces(const char *content, int from, int to)
{
    for (int i = from; i < to; i++)
        if (!isspace((unsigned char)content[i]))
            return 0;
    return from <= to;
}

static char *highlight_terms(struct tokenizer *tk, const char *content, const struct terms *ts)
{
    struct token_list doc = {0};
    size_t len = strlen(content);
    tokenize(tk, FTS5_TOKENIZE_DOCUMENT, content, len, &doc);
    unsigned char *mark = hs_xcalloc(doc.n + 1, 1);
    for (size_t i = 0; i < ts->n; i++) {
        const struct term *t = &ts->v[i];
        for (size_t at = 0; at + t->toks.n <= doc.n; at++) {
            size_t j = 0;
            while (j < t->toks.n && token_matches(&doc.v[at + j], t, j))
                j++;
            if (j < t->toks.n)
                continue;
            /* 1: a match starts here; 2: it goes on from the token before. */
            if (!mark[at])
                mark[at] = 1;
            memset(mark + at + 1, 2, t->toks.n - 1);
        }
    }
    /* The tokens of one phrase match, and matches with only spaces between them, become
     * one marked run. */
    hs_buf out = HS_BUF_INIT;
    size_t pos = 0;
    for (size_t i = 0; i < doc.n; i++) {
        if (!mark[i])
            continue;
        size_t last = i;
        while (last + 1 < doc.n &&
               (mark[last + 1] == 2 ||
                (mark[last + 1] && only_spaces(content, doc.v[last].end, doc.v[last + 1].start))))
            last++;
        size_t s = (size_t)doc.v[i].start, e = (size_t)doc.v[last].end;
        if (s < pos || e > len)
            continue; /* offsets out of order: leave this run unmarked */
        hs_buf_add(&out, content + pos, s - pos);
        hs_buf_adds(&out, "**");
        hs_buf_add(&out, content + s, e - s);
        hs_buf_adds(&out, "**");
        pos = e;
        i = last;
    }
    hs_buf_add(&out, content + pos, len - pos);
    free(mark);
    token_list_release(&doc);
    return hs_buf_detach(&out);
}

char *hs_search_highlight(hs_db *db, const char *content, const char *q_content)
{
    struct tokenizer t;
    struct terms *ts = hs_xcalloc(1, sizeof(*ts));
    char *out;
    if (tokenizer_open(db, &t) < 0 || split_terms(&t, q_content, ts, NULL) < 0)
        out = hs_xstrdup(content);
    else
        out = highlight_terms(&t, content, ts);
    terms_release(ts);
    tokenizer_close(&t);
    free(ts);
    return out;
}

/* ---------------------------------------------------------------- rebuilding */

int hs_search_reindex_fn(hs_txn *txn, void *arg, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3 *h = hs_db_handle(db);
    /* The statements of migration 6 (HS_SEARCH_MIGRATION), after emptying both tables,
     * then FTS5's 'optimize'. */
    static const char sql[] =
        "DELETE FROM message_search;"
        "INSERT INTO message_fts (message_fts) VALUES ('delete-all');"
        "INSERT INTO message_search (id, channel_id, guild_id, bot) SELECT m.id, m.channel_id, "
        "c.guild_id, coalesce(u.bot, 0) != 0 FROM messages m LEFT JOIN channels c ON c.id = "
        "m.channel_id LEFT JOIN users u ON u.id = m.author_id;"
        "INSERT INTO message_fts (rowid, text, meta) SELECT m.id, m.content, " HS_SEARCH_META(
            "m", "s") " FROM messages m JOIN message_search s ON s.id = m.id;"
                      /* One segment: the bulk load leaves a dozen big segments at several levels,
                       * and FTS5's incremental merges, run by every later message write, then
                       * rewrite them a few pages at a time (1,450 messages/s into 10,000,000
                       * against 7,700 after this, which took 13 s there; BENCHMARKS.md, Search). */
                      "INSERT INTO message_fts (message_fts) VALUES ('optimize');";
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
        return hs_error_set(err, HS_EIO, "reindexing: %s", sqlite3_errmsg(h));
    if (arg) {
        sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM message_search");
        *(int64_t *)arg = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
    }
    return 0;
}

/* ---------------------------------------------------------------- relevance */

/*
 * hs_rank(message_fts, first, count): FTS5's bm25 (k1 = 1.2, b = 0.75, the score negated
 * so that smaller is better) over phrases first .. first + count - 1, the `content` terms
 * (build_match puts the scope token first, then the terms; the filter tokens after them
 * weigh nothing, exactly as bm25(message_fts, 1.0, 0.0) weighs them). One difference: a
 * term's document frequency is counted up to HS_SEARCH_TOTAL_MAX (total_max), so a term
 * in more messages weighs as if it were in that many. bm25 counts every document of every phrase
 * once per query, the guild token included: a walk over every message of the guild
 * (100 ms a million) before the first row is scored.
 */
#define RANK_K1 1.2
#define RANK_B 0.75

struct rank_data {
    int first, n;
    double avgdl;
    double *idf, *freq; /* n each */
};

static void rank_data_free(void *p)
{
    struct rank_data *d = p;
    if (d) {
        free(d->idf);
        free(d->freq);
    }
    free(d);
}

static int rank_count_cb(const Fts5ExtensionApi *api, Fts5Context *fts, void *arg)
{
    int64_t *df = arg;
    (void)api;
    (void)fts;
    /* SQLITE_DONE ends xQueryPhrase early without an error. */
    return ++*df >= total_max ? SQLITE_DONE : SQLITE_OK;
}

static struct rank_data *rank_data_make(const Fts5ExtensionApi *api, Fts5Context *fts, int first,
                                        int n)
{
    sqlite3_int64 rows = 0, tokens = 0;
    int nphrase = api->xPhraseCount(fts);
    if (first < 0 || n < 0 || first + n > nphrase || api->xRowCount(fts, &rows) != SQLITE_OK ||
        api->xColumnTotalSize(fts, -1, &tokens) != SQLITE_OK)
        return NULL;
    struct rank_data *d = hs_xcalloc(1, sizeof(*d));
    d->first = first;
    d->n = n;
    d->avgdl = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1.0;
    d->idf = hs_xcalloc((size_t)n + 1, sizeof(double));
    d->freq = hs_xcalloc((size_t)n + 1, sizeof(double));
    for (int i = 0; i < n; i++) {
        int64_t df = 0;
        if (api->xQueryPhrase(fts, first + i, &df, rank_count_cb) != SQLITE_OK) {
            rank_data_free(d);
            return NULL;
        }
        double idf = log(((double)rows - (double)df + 0.5) / ((double)df + 0.5));
        d->idf[i] = idf > 0.0 ? idf : 1e-6; /* as bm25: a very common term still counts */
    }
    return d;
}

static void rank_fn(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nval,
                    sqlite3_value **val)
{
    struct rank_data *d = api->xGetAuxdata(fts, 0);
    if (!d) {
        d = nval == 2
                ? rank_data_make(api, fts, sqlite3_value_int(val[0]), sqlite3_value_int(val[1]))
                : NULL;
        if (!d || api->xSetAuxdata(fts, d, rank_data_free) != SQLITE_OK) {
            sqlite3_result_error(ctx, "hs_rank: bad arguments or FTS5 error", -1);
            return;
        }
    }
    int ninst = 0, dl = 0;
    memset(d->freq, 0, (size_t)d->n * sizeof(double));
    if (api->xInstCount(fts, &ninst) != SQLITE_OK || api->xColumnSize(fts, -1, &dl) != SQLITE_OK) {
        sqlite3_result_error(ctx, "hs_rank: FTS5 error", -1);
        return;
    }
    for (int i = 0; i < ninst; i++) {
        int ip, ic, io;
        if (api->xInst(fts, i, &ip, &ic, &io) == SQLITE_OK && ic == 0 && ip >= d->first &&
            ip < d->first + d->n)
            d->freq[ip - d->first] += 1.0;
    }
    double score = 0.0;
    for (int i = 0; i < d->n; i++)
        score += d->idf[i] * (d->freq[i] * (RANK_K1 + 1.0)) /
                 (d->freq[i] + RANK_K1 * (1.0 - RANK_B + RANK_B * (double)dl / d->avgdl));
    sqlite3_result_double(ctx, -score);
}

/* Prepares sql, which calls hs_rank, registering hs_rank on this connection first if it
 * has not been yet (FTS5 auxiliary functions are per connection). */
static int prepare_ranked(sqlite3 *h, const char *sql, sqlite3_stmt **s)
{
    if (sqlite3_prepare_v2(h, sql, -1, s, NULL) == SQLITE_OK)
        return SQLITE_OK;
    sqlite3_finalize(*s);
    *s = NULL;
    fts5_api *api = fts5_api_of(h);
    if (!api || api->xCreateFunction(api, "hs_rank", NULL, rank_fn, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    return sqlite3_prepare_v2(h, sql, -1, s, NULL);
}

/* ---------------------------------------------------------------- running a query */

/* Which channels the searcher may read, decided once per channel per query. */
struct vis_entry {
    uint64_t channel_id;
    int visible;
    int64_t hits; /* hits of this channel, when known */
};

struct search_ctx {
    hs_db *db;
    sqlite3 *h;
    uint64_t user_id, guild_id, channel_id;
    const struct hs_search_query *q;
    uint64_t lo, hi; /* exclusive rowid bounds */
    struct vis_entry *vis;
    size_t nvis, capvis;
};

static struct vis_entry *vis_find(struct search_ctx *c, uint64_t channel_id)
{
    for (size_t i = 0; i < c->nvis; i++)
        if (c->vis[i].channel_id == channel_id)
            return &c->vis[i];
    return NULL;
}

/* The searcher may read channel_id: VIEW_CHANNEL and READ_MESSAGE_HISTORY, asked of
 * hs_perm_channel the first time the query meets the channel. */
static struct vis_entry *vis_get(struct search_ctx *c, uint64_t channel_id)
{
    struct vis_entry *e = vis_find(c, channel_id);
    if (e)
        return e;
    uint64_t perms = 0;
    hs_error err;
    int ok = hs_perm_channel(c->db, channel_id, c->user_id, 0, &perms, &err) == 0 &&
             (perms & HS_PERM_VIEW_CHANNEL) && (perms & HS_PERM_READ_MESSAGE_HISTORY);
    if (c->nvis == c->capvis) {
        c->capvis = c->capvis ? c->capvis * 2 : 16;
        c->vis = hs_xrealloc(c->vis, c->capvis * sizeof(*c->vis));
    }
    e = &c->vis[c->nvis++];
    *e = (struct vis_entry){channel_id, ok, -1};
    return e;
}

static int sql_error(struct search_ctx *c, hs_error *err)
{
    return hs_error_set(err, HS_EIO, "search: %s", sqlite3_errmsg(c->h));
}

static int prepare(struct search_ctx *c, const char *sql, sqlite3_stmt **s, hs_error *err)
{
    if (sqlite3_prepare_v2(c->h, sql, -1, s, NULL) != SQLITE_OK) {
        sqlite3_finalize(*s);
        *s = NULL;
        return sql_error(c, err);
    }
    return 0;
}

static void bind_range(struct search_ctx *c, sqlite3_stmt *s, const char *match)
{
    sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
    hs_bind_id(s, 2, c->lo);
    hs_bind_id(s, 3, c->hi);
}

/* The hits of match, counted up to max: FTS5 stops walking the doclists there. */
static int fts_count(struct search_ctx *c, const char *match, int64_t max, int64_t *n,
                     hs_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = prepare(c,
                     "SELECT count(*) FROM (SELECT rowid FROM message_fts WHERE message_fts MATCH "
                     "?1 AND rowid > ?2 AND rowid < ?3 LIMIT ?4)",
                     &s, err);
    if (rc < 0)
        return rc;
    bind_range(c, s, match);
    sqlite3_bind_int64(s, 4, max);
    if (sqlite3_step(s) == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    else
        rc = sql_error(c, err);
    sqlite3_finalize(s);
    return rc;
}

/* Step 2, few hits: the distinct channels of the hits, with their counts. */
static int channels_of_hits(struct search_ctx *c, const char *match, hs_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc = prepare(c,
                     "SELECT s.channel_id, count(*) FROM message_fts f JOIN message_search s ON "
                     "s.id = f.rowid WHERE f.message_fts MATCH ?1 AND f.rowid > ?2 AND f.rowid "
                     "< ?3 GROUP BY s.channel_id",
                     &s, err);
    if (rc < 0)
        return rc;
    bind_range(c, s, match);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        vis_get(c, hs_col_id(s, 0))->hits = sqlite3_column_int64(s, 1);
    if (step != SQLITE_DONE)
        rc = sql_error(c, err);
    sqlite3_finalize(s);
    return rc;
}

/* Step 2, many hits: the scope's channels; whether each hidden one holds a hit at all. */
static int channels_of_scope(struct search_ctx *c, const char *match, hs_error *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (!c->guild_id) {
        vis_get(c, c->channel_id)->hits = -1;
        return 0;
    }
    rc = prepare(c, "SELECT id FROM channels WHERE guild_id = ?1 AND type <> 4", &s, err);
    if (rc < 0)
        return rc;
    hs_bind_id(s, 1, c->guild_id);
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ids = hs_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = hs_col_id(s, 0);
    }
    if (step != SQLITE_DONE)
        rc = sql_error(c, err);
    sqlite3_finalize(s);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct vis_entry *e = vis_get(c, ids[i]);
        if (e->visible)
            continue;
        char *m = hs_xasprintf("(%s) AND meta:\"c%" PRIu64 "\"", match, ids[i]);
        rc = fts_count(c, m, 1, &e->hits, err);
        free(m);
    }
    free(ids);
    return rc;
}

/* Q NOT (c<hidden>...): what the page is read with. New string. */
static char *visible_match(struct search_ctx *c, const char *match)
{
    hs_buf b = HS_BUF_INIT;
    int any = 0;
    hs_buf_addf(&b, "(%s)", match);
    for (size_t i = 0; i < c->nvis; i++) {
        if (c->vis[i].visible || c->vis[i].hits == 0)
            continue;
        hs_buf_adds(&b, any ? " OR " : " NOT (");
        add_meta(&b, "c", c->vis[i].channel_id);
        any = 1;
    }
    if (any)
        hs_buf_adds(&b, ")");
    return hs_buf_detach(&b);
}

static const char *const page_sql[2][2] = {
    /* timestamp: desc, asc */
    {"SELECT rowid FROM message_fts WHERE message_fts MATCH ?1 AND rowid > ?2 AND rowid < ?3 "
     "ORDER BY rowid DESC LIMIT ?5 OFFSET ?6",
     "SELECT rowid FROM message_fts WHERE message_fts MATCH ?1 AND rowid > ?2 AND rowid < ?3 "
     "ORDER BY rowid ASC LIMIT ?5 OFFSET ?6"},
    /* relevance (hs_rank over the content terms, the newest ?4 hits): most relevant first,
     * last */
    {"SELECT rowid FROM (SELECT rowid, hs_rank(message_fts, 1, ?7) AS score FROM message_fts "
     "WHERE message_fts MATCH ?1 AND rowid > ?2 AND rowid < ?3 ORDER BY rowid DESC LIMIT ?4) "
     "ORDER BY score ASC, rowid DESC LIMIT ?5 OFFSET ?6",
     "SELECT rowid FROM (SELECT rowid, hs_rank(message_fts, 1, ?7) AS score FROM message_fts "
     "WHERE message_fts MATCH ?1 AND rowid > ?2 AND rowid < ?3 ORDER BY rowid DESC LIMIT ?4) "
     "ORDER BY score DESC, rowid ASC LIMIT ?5 OFFSET ?6"},
};

static int channel_of(struct search_ctx *c, uint64_t id, uint64_t *channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(c->db, "SELECT channel_id FROM message_search WHERE id = ?");
    hs_bind_id(s, 1, id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    *channel_id = found ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return found ? 0 : -1;
}

/* Adds the thread (and the searcher's thread member object) of a hit in a thread. */
static void add_thread(struct search_ctx *c, uint64_t channel_id, json_t *threads, json_t *members)
{
    size_t i;
    json_t *t;
    json_array_foreach(threads, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        uint64_t v;
        if (id && hs_parse_u64(id, &v) == 0 && v == channel_id)
            return;
    }
    struct hs_channel ch;
    if (hs_channel_get(c->db, channel_id, &ch, NULL) < 0 || !HS_CHANNEL_IS_THREAD(ch.type))
        return;
    json_t *obj = hs_channel_json(c->db, channel_id);
    if (!obj)
        return;
    json_array_append_new(threads, obj);
    sqlite3_stmt *s = hs_db_stmt(c->db, "SELECT join_timestamp, flags FROM thread_members WHERE "
                                        "thread_id = ? AND user_id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, c->user_id);
    if (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(members,
                              json_pack("{s:o, s:o, s:o, s:i}", "id", hs_json_id(channel_id),
                                        "user_id", hs_json_id(c->user_id), "join_timestamp",
                                        hs_json_time((uint64_t)sqlite3_column_int64(s, 0)), "flags",
                                        sqlite3_column_int(s, 1)));
    sqlite3_reset(s);
}

static int read_page(struct search_ctx *c, const char *match, const struct terms *ts,
                     struct tokenizer *tk, json_t *messages, json_t *threads, json_t *members,
                     hs_error *err)
{
    const struct hs_search_query *q = c->q;
    sqlite3_stmt *s = NULL;
    int relevance = q->sort_by == HS_SEARCH_SORT_RELEVANCE, rc = 0;
    const char *sql = page_sql[relevance][q->sort_asc != 0];
    if (relevance && prepare_ranked(c->h, sql, &s) != SQLITE_OK)
        return sql_error(c, err);
    if (!relevance && (rc = prepare(c, sql, &s, err)) < 0)
        return rc;
    bind_range(c, s, match);
    if (relevance)
        sqlite3_bind_int(s, 7, (int)ts->n); /* the terms follow the scope token (build_match) */
    sqlite3_bind_int(s, 4, HS_SEARCH_RELEVANCE_WINDOW);
    sqlite3_bind_int(s, 5, q->limit);
    sqlite3_bind_int(s, 6, q->offset);
    uint64_t *ids = hs_xcalloc((size_t)q->limit + 1, sizeof(*ids));
    size_t n = 0;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW && n < (size_t)q->limit)
        ids[n++] = hs_col_id(s, 0);
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        rc = sql_error(c, err);
    sqlite3_finalize(s);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t channel_id;
        json_t *m = NULL;
        /* Checked once more, row by row: a hidden hit must never be returned. */
        if (channel_of(c, ids[i], &channel_id) < 0 || !vis_get(c, channel_id)->visible ||
            hs_msg_get(c->db, channel_id, ids[i], 0, &m, NULL) < 0)
            continue;
        json_object_del(m, "reactions");
        json_object_set_new(m, "hit", json_true());
        const char *content = json_string_value(json_object_get(m, "content"));
        char *hl = tk->tok ? highlight_terms(tk, content ? content : "", ts)
                           : hs_xstrdup(content ? content : "");
        json_object_set_new(m, "highlight", json_string(hl));
        free(hl);
        json_array_append_new(messages, json_pack("[o]", m));
        add_thread(c, channel_id, threads, members);
    }
    free(ids);
    return rc;
}

/* Checks the scope: the guild's membership, or the channel's VIEW and READ_MESSAGE_HISTORY. */
static int check_scope(struct search_ctx *c, hs_error *err)
{
    uint64_t perms = 0;
    if (c->guild_id)
        return hs_perm_guild(c->db, c->guild_id, c->user_id, &perms, err);
    struct hs_channel ch;
    int rc = hs_channel_access(c->db, c->channel_id, c->user_id, &ch, &perms, err);
    if (rc == 0 && !(perms & HS_PERM_READ_MESSAGE_HISTORY))
        rc = hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    return rc;
}

static int run(struct search_ctx *c, json_t *resp, hs_error *err)
{
    const struct hs_search_query *q = c->q;
    struct tokenizer tk;
    struct terms *ts = hs_xcalloc(1, sizeof(*ts));
    char *match = NULL, *vmatch = NULL;
    int64_t n = 0, total = 0;
    json_t *messages = json_array(), *threads = json_array(), *members = json_array();
    int rc = check_scope(c, err);
    if (rc < 0)
        goto out;
    if (tokenizer_open(c->db, &tk) < 0) {
        rc = hs_error_set(err, HS_EIO, "the FTS5 tokenizer is not available");
        goto out;
    }
    rc = split_terms(&tk, q->content, ts, err);
    if (rc < 0)
        goto out_tk;
    match = build_match(ts, c->guild_id, c->channel_id, q);
    c->lo = q->min_id;
    c->hi = q->max_id && q->max_id <= (uint64_t)INT64_MAX ? q->max_id : (uint64_t)INT64_MAX;
    if (!match || c->lo >= c->hi)
        goto out_tk;

    /* Steps 1-2: few hits are grouped by channel, exactly; past small_limit the count
     * stops and the scope's channels are asked instead. */
    rc = fts_count(c, match, small_limit + 1, &n, err);
    if (rc == 0 && n > 0)
        rc = n <= small_limit ? channels_of_hits(c, match, err) : channels_of_scope(c, match, err);
    if (rc < 0 || n == 0)
        goto out_tk;
    vmatch = visible_match(c, match);
    if (n <= small_limit) {
        total = n;
        for (size_t i = 0; i < c->nvis; i++)
            if (!c->vis[i].visible && c->vis[i].hits > 0)
                total -= c->vis[i].hits;
        if (total > total_max)
            total = total_max;
    } else {
        /* The visible hits, up to total_max: hidden channels are outside vmatch, so they
         * can neither be counted nor stop the count early. */
        rc = fts_count(c, vmatch, total_max, &total, err);
        if (rc < 0)
            goto out_tk;
    }
    /* A capped total may be below offset while hits remain: the page is read regardless. */
    if (total > 0)
        rc = read_page(c, vmatch, ts, &tk, messages, threads, members, err);
out_tk:
    terms_release(ts);
    tokenizer_close(&tk);
out:
    if (rc == 0) {
        json_object_set_new(resp, "total_results", json_integer(total > 0 ? total : 0));
        json_object_set_new(resp, "messages", json_incref(messages));
        json_object_set_new(resp, "threads", json_incref(threads));
        json_object_set_new(resp, "members", json_incref(members));
        json_object_set_new(resp, "doing_deep_historical_index", json_false());
    }
    json_decref(messages);
    json_decref(threads);
    json_decref(members);
    free(match);
    free(vmatch);
    free(ts);
    return rc;
}

int hs_search_run(hs_db *db, uint64_t user_id, uint64_t guild_id, uint64_t channel_id,
                  const struct hs_search_query *q, json_t **out, hs_error *err)
{
    struct search_ctx c = {.db = db,
                           .h = hs_db_handle(db),
                           .user_id = user_id,
                           .guild_id = guild_id,
                           .channel_id = channel_id,
                           .q = q};
    *out = NULL;
    /* One read transaction: the count, the permissions and the page see one snapshot. */
    int own_txn =
        sqlite3_get_autocommit(c.h) && sqlite3_exec(c.h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    json_t *resp = json_object();
    int rc = run(&c, resp, err);
    if (own_txn)
        sqlite3_exec(c.h, "COMMIT", NULL, NULL, NULL);
    free(c.vis);
    if (rc < 0)
        json_decref(resp);
    else
        *out = resp;
    return rc;
}
