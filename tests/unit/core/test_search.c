/*
 * Unit tests for hs_search.h: the search-box parser, the MATCH-expression builder and its
 * quoting of hostile input, highlighting, and searches through a real core whose rows are
 * partly crafted through the write connection (attachments, embeds, mentions, pins, bots,
 * DMs, hidden channels, private threads, departed members), so that every filter and every
 * permission rule is exercised before the features that fill those columns exist.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <inttypes.h>
#include <sqlite3.h>

#include "hs_buf.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_search.h"
#include "hs_snowflake.h"
#include "hs_util.h"

#include "testkit.h"

/* ---------------------------------------------------------------- the parser */

static void test_parse_filters(void **state)
{
    (void)state;
    struct hs_search_box b;
    hs_error err;
    assert_int_equal(hs_search_parse("from:alice in:#general has:link before:2026-01-01 "
                                     "pinned:true \"exact phrase\" more words",
                                     &b, &err),
                     0);
    assert_int_equal(b.n_from, 1);
    assert_string_equal(b.from[0], "alice");
    assert_int_equal(b.n_in, 1);
    assert_string_equal(b.in[0], "#general");
    assert_int_equal(b.has, HS_HAS_LINK);
    assert_int_equal(b.has_not, 0);
    assert_int_equal(b.pinned, 1);
    /* before: ids below the first id of 2026-01-01 00:00 UTC (1767225600000 ms). */
    assert_true(b.max_id == hs_snowflake_from_unix_ms(1767225600000ULL));
    assert_true(b.min_id == 0);
    assert_string_equal(b.content, "\"exact phrase\" more words");
    hs_search_box_release(&b);

    /* Negation both ways, several values, case-insensitive keys, quoted values. */
    assert_int_equal(hs_search_parse("-has:file HAS:-image has:video author_type:-bot "
                                     "From:\"bob\" mentions:<@123> in:<#456> in:789 pinned:no",
                                     &b, &err),
                     0);
    assert_int_equal(b.has, HS_HAS_VIDEO);
    assert_int_equal(b.has_not, HS_HAS_FILE | HS_HAS_IMAGE);
    assert_int_equal(b.author_types_not, HS_AUTHOR_BOT);
    assert_int_equal(b.author_types, 0);
    assert_string_equal(b.from[0], "bob");
    assert_string_equal(b.mentions[0], "<@123>");
    assert_int_equal(b.n_in, 2);
    assert_int_equal(b.pinned, 0);
    assert_string_equal(b.content, "");
    hs_search_box_release(&b);

    /* after: from the next day on; during: the day itself. */
    uint64_t d = 1767225600000ULL, day = 86400000ULL;
    assert_int_equal(hs_search_parse("after:2026-01-01", &b, &err), 0);
    assert_true(b.min_id == hs_snowflake_from_unix_ms(d + day) - 1 && b.max_id == 0);
    hs_search_box_release(&b);
    assert_int_equal(hs_search_parse("during:2026-01-01 x", &b, &err), 0);
    assert_true(b.min_id == hs_snowflake_from_unix_ms(d) - 1);
    assert_true(b.max_id == hs_snowflake_from_unix_ms(d + day));
    assert_string_equal(b.content, "x");
    hs_search_box_release(&b);
    /* Two bounds narrow each other; a date before the epoch of ids means "nothing". */
    assert_int_equal(
        hs_search_parse("before:2026-03-01 before:2026-02-01 before:2010-01-01", &b, &err), 0);
    assert_true(b.max_id == 1);
    hs_search_box_release(&b);
}

static void test_parse_text(void **state)
{
    (void)state;
    struct hs_search_box b;
    hs_error err;
    /* Unknown keys, empty values, negated non-negatable keys and URLs stay text. */
    assert_int_equal(
        hs_search_parse("  note:this from: -from:bob https://x.y/z \"from:alice in quotes\" ", &b,
                        &err),
        0);
    assert_int_equal(b.n_from, 0);
    assert_string_equal(b.content,
                        "note:this from: -from:bob https://x.y/z \"from:alice in quotes\"");
    hs_search_box_release(&b);
    assert_int_equal(hs_search_parse(NULL, &b, &err), 0);
    assert_string_equal(b.content, "");
    hs_search_box_release(&b);
    assert_int_equal(hs_search_parse("", &b, &err), 0);
    hs_search_box_release(&b);
}

static void expect_box_error(const char *text)
{
    struct hs_search_box b;
    hs_error err;
    hs_error_clear(&err);
    if (hs_search_parse(text, &b, &err) != HS_EINVAL)
        fail_msg("'%.40s' parsed", text);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.field, "q");
    hs_search_box_release(&b);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_box_error("has:nothing");
    expect_box_error("has:-");
    expect_box_error("author_type:robot");
    expect_box_error("pinned:maybe");
    expect_box_error("before:2026-13-01");
    expect_box_error("before:2026-02-30");
    expect_box_error("before:2025-02-29");
    expect_box_error("after:yesterday");
    expect_box_error("during:2026-1-1");
    expect_box_error("x \xff\xfe y");
    expect_box_error("\xc0\xaf"); /* overlong */
    char *big = malloc(HS_SEARCH_BOX_MAX + 2);
    memset(big, 'a', HS_SEARCH_BOX_MAX + 1);
    big[HS_SEARCH_BOX_MAX + 1] = '\0';
    expect_box_error(big);
    big[HS_SEARCH_BOX_MAX] = '\0';
    struct hs_search_box b;
    hs_error err;
    assert_int_equal(hs_search_parse(big, &b, &err), 0); /* exactly the limit */
    hs_search_box_release(&b);
    free(big);
    /* 2024-02-29 exists. */
    assert_int_equal(hs_search_parse("before:2024-02-29", &b, &err), 0);
    hs_search_box_release(&b);
    /* 101 from: values. */
    hs_buf many = HS_BUF_INIT;
    for (int i = 0; i <= HS_SEARCH_MAX_IDS; i++)
        hs_buf_addf(&many, "from:u%d ", i);
    expect_box_error(many.data);
    hs_buf_release(&many);
}

/* ---------------------------------------------------------------- a core to search */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, member, bot, stranger, guild, chan;
};

static uint64_t next_user = 1000;

static uint64_t add_user(struct fx *fx, const char *name, int bot)
{
    uint64_t id = hs_snowflake_next(hs_core_ids(fx->core));
    tk_sql(fx->core,
           "INSERT INTO users (id, username, bot, created_at) VALUES (%" PRIu64 ", '%s', %d, 0)",
           id, name, bot);
    next_user++;
    return id;
}

static void add_member(struct fx *fx, uint64_t user)
{
    tk_sql(fx->core,
           "INSERT INTO members (guild_id, user_id, joined_at) VALUES (%" PRIu64 ", %" PRIu64
           ", 0)",
           fx->guild, user);
}

static uint64_t post(struct fx *fx, uint64_t chan, uint64_t author, const char *content)
{
    struct hs_msg_create op = {.channel_id = chan,
                               .author_id = author,
                               .content = content,
                               .max_chars = fx->cfg.message_max_chars};
    hs_error err;
    if (hs_writer_run(hs_core_writer(fx->core), hs_msg_create_fn, &op, &err) != 0)
        fail_msg("post '%s': %s", content, err.msg);
    uint64_t id = tk_json_id(op.message, "id");
    json_decref(op.message);
    return id;
}

static uint64_t add_channel(struct fx *fx, uint64_t guild, int type, const char *name,
                            uint64_t parent)
{
    uint64_t id = hs_snowflake_next(hs_core_ids(fx->core));
    char g[32] = "NULL", p[32] = "NULL";
    if (guild)
        snprintf(g, sizeof(g), "%" PRIu64, guild);
    if (parent)
        snprintf(p, sizeof(p), "%" PRIu64, parent);
    tk_sql(fx->core,
           "INSERT INTO channels (id, guild_id, type, name, parent_id) VALUES (%" PRIu64
           ", %s, %d, '%s', %s)",
           id, g, type, name, p);
    return id;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    fx->core = tk_core_open(fx->dir, &fx->cfg, "search");
    fx->owner = add_user(fx, "owner", 0);
    fx->guild = tk_guild(fx->core, fx->owner, "Search Guild", &fx->chan);
    fx->member = add_user(fx, "member", 0);
    fx->bot = add_user(fx, "robot", 1);
    fx->stranger = add_user(fx, "stranger", 0);
    add_member(fx, fx->member);
    add_member(fx, fx->bot);
    hs_search_set_small_limit(4096);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tk_core_close(fx->core, &fx->cfg, fx->dir);
    free(fx);
    hs_search_set_small_limit(4096);
    hs_search_set_total_max(HS_SEARCH_TOTAL_MAX);
    return 0;
}

/* ---------------------------------------------------------------- the MATCH builder */

static char *match_of(struct fx *fx, struct hs_search_query *q, uint64_t guild, uint64_t chan)
{
    char *m = NULL;
    hs_error err;
    if (hs_search_match(tk_rdb(fx->core), guild, chan, q, &m, &err) != 0)
        fail_msg("match: %s", err.msg);
    return m;
}

static void expect_match(struct fx *fx, const char *content, const char *want)
{
    struct hs_search_query q;
    hs_search_query_init(&q);
    q.content = content ? hs_xstrdup(content) : NULL;
    char *m = match_of(fx, &q, 5, 0);
    if (!m || strcmp(m, want) != 0)
        fail_msg("content '%s'\n  got:  %s\n  want: %s", content, m ? m : "(null)", want);
    free(m);
    hs_search_query_release(&q);
}

static void test_match_content(void **state)
{
    struct fx *fx = *state;
    expect_match(fx, NULL, "(meta:\"g5\")");
    expect_match(fx, "   ", "(meta:\"g5\")");
    expect_match(fx, "Hello", "(meta:\"g5\" AND text:\"hello\")");
    /* Diacritics and case fold as the index folds them; phrases; prefixes. */
    expect_match(fx, "Résumé \"Quick  BROWN fox\" qu* \"jump ov\"*",
                 "(meta:\"g5\" AND text:\"resume\" AND text:\"quick brown fox\" AND text:\"qu\" "
                 "* AND text:\"jump ov\" *)");
    /* A word the tokenizer splits is a phrase of its parts. */
    expect_match(fx, "e-mail C++", "(meta:\"g5\" AND text:\"e mail\" AND text:\"c\")");
    /* FTS5 syntax in the input is only text: operators become words, punctuation goes. */
    expect_match(fx, "a OR b NOT c NEAR(d e) col:f ^g {h} \"i",
                 "(meta:\"g5\" AND text:\"a\" AND text:\"or\" AND text:\"b\" AND text:\"not\" "
                 "AND text:\"c\" AND text:\"near d\" AND text:\"e\" AND text:\"col f\" AND "
                 "text:\"g\" AND text:\"h\" AND text:\"i\")");
    expect_match(fx, "\"\"\"x\"\"\" '; DROP TABLE messages; --",
                 "(meta:\"g5\" AND text:\"x\" AND text:\"drop\" AND text:\"table\" AND "
                 "text:\"messages\")");
    /* Punctuation-only terms vanish; emoji are not tokens. */
    expect_match(fx, "hi !!! \xf0\x9f\x98\x80 ***", "(meta:\"g5\" AND text:\"hi\")");
}

static void expect_content_error(struct fx *fx, const char *content, const char *code)
{
    hs_error err;
    hs_error_clear(&err);
    if (hs_search_check_content(tk_rdb(fx->core), content, &err) != HS_EINVAL)
        fail_msg("'%.40s' accepted", content);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.field, "content");
    assert_string_equal(err.form_code, code);
}

static void test_content_limits(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    expect_content_error(fx, "!!!", "BASE_TYPE_BAD_LENGTH");
    expect_content_error(fx, "\"\" * ()", "BASE_TYPE_BAD_LENGTH");
    expect_content_error(fx, "bad \xc3 utf8", "BASE_TYPE_STRING");
    char *big = malloc(HS_SEARCH_CONTENT_MAX + 2);
    memset(big, 'a', HS_SEARCH_CONTENT_MAX + 1);
    big[HS_SEARCH_CONTENT_MAX + 1] = '\0';
    expect_content_error(fx, big, "BASE_TYPE_MAX_LENGTH");
    big[HS_SEARCH_CONTENT_MAX] = '\0';
    assert_int_equal(hs_search_check_content(tk_rdb(fx->core), big, &err), 0);
    /* 1024 two-byte characters are 1024 characters. */
    char *wide = malloc(2 * HS_SEARCH_CONTENT_MAX + 1);
    for (int i = 0; i < HS_SEARCH_CONTENT_MAX; i++)
        memcpy(wide + 2 * i, "\xc3\xa9", 2);
    wide[2 * HS_SEARCH_CONTENT_MAX] = '\0';
    assert_int_equal(hs_search_check_content(tk_rdb(fx->core), wide, &err), 0);
    free(wide);
    free(big);
    hs_buf many = HS_BUF_INIT;
    for (int i = 0; i < HS_SEARCH_MAX_TERMS; i++)
        hs_buf_addf(&many, "w%d ", i);
    assert_int_equal(hs_search_check_content(tk_rdb(fx->core), many.data, &err), 0);
    hs_buf_adds(&many, "one-more");
    expect_content_error(fx, many.data, "BASE_TYPE_MAX_LENGTH");
    hs_buf_release(&many);
    assert_int_equal(hs_search_check_content(tk_rdb(fx->core), NULL, &err), 0);
    assert_int_equal(hs_search_check_content(tk_rdb(fx->core), "", &err), 0);
}

static void test_match_filters(void **state)
{
    struct fx *fx = *state;
    struct hs_search_query *q = malloc(sizeof(*q));
    hs_search_query_init(q);
    q->content = hs_xstrdup("x");
    q->author_ids[q->n_authors++] = 7;
    q->author_ids[q->n_authors++] = 8;
    q->channel_ids[q->n_channels++] = 9;
    q->mentions[q->n_mentions++] = 10;
    q->has = HS_HAS_LINK | HS_HAS_IMAGE;
    q->has_not = HS_HAS_FILE | HS_HAS_STICKER;
    q->pinned = 0;
    q->mention_everyone = 1;
    q->author_types_not = HS_AUTHOR_BOT;
    char *m = match_of(fx, q, 0, 42);
    assert_string_equal(m, "(meta:\"c42\" AND text:\"x\" AND (meta:\"a7\" OR meta:\"a8\") AND "
                           "(meta:\"c9\") AND (meta:\"m10\") AND meta:\"hlink\" AND "
                           "meta:\"himage\" AND meta:\"everyone\") NOT (meta:\"tbot\" OR "
                           "meta:\"hfile\" OR meta:\"pinned\")");
    free(m);

    /* Author types: bot only; both kinds (no condition); contradictions match nothing. */
    hs_search_query_release(q);
    hs_search_query_init(q);
    q->author_types = HS_AUTHOR_BOT;
    m = match_of(fx, q, 5, 0);
    assert_string_equal(m, "(meta:\"g5\" AND meta:\"tbot\")");
    free(m);
    q->author_types = HS_AUTHOR_BOT | HS_AUTHOR_USER;
    m = match_of(fx, q, 5, 0);
    assert_string_equal(m, "(meta:\"g5\")");
    free(m);
    q->author_types_not = HS_AUTHOR_BOT | HS_AUTHOR_USER;
    assert_null(match_of(fx, q, 5, 0));
    hs_search_query_init(q);
    q->author_types = HS_AUTHOR_WEBHOOK;
    assert_null(match_of(fx, q, 5, 0));
    q->author_types = 0;
    q->author_types_not = HS_AUTHOR_WEBHOOK;
    m = match_of(fx, q, 5, 0);
    assert_string_equal(m, "(meta:\"g5\")");
    free(m);
    /* Nothing stored has a sticker; every message lacks one. */
    hs_search_query_init(q);
    q->has = HS_HAS_STICKER;
    assert_null(match_of(fx, q, 5, 0));
    q->has = 0;
    q->has_not = HS_HAS_STICKER | HS_HAS_POLL;
    m = match_of(fx, q, 5, 0);
    assert_string_equal(m, "(meta:\"g5\")");
    free(m);
    q->pinned = 1;
    q->impossible = 1;
    assert_null(match_of(fx, q, 5, 0));
    free(q);
}

static void test_highlight(void **state)
{
    struct fx *fx = *state;
    struct {
        const char *content, *query, *want;
    } cases[] = {
        {"The quick brown fox", "quick brown", "The **quick brown** fox"},
        {"The quick brown fox", "\"brown fox\"", "The quick **brown fox**"},
        {"brown then quick", "\"quick brown\"", "brown then quick"},
        {"the Quick-Brown fox", "\"quick brown\"", "the **Quick-Brown** fox"},
        {"quick, brown", "quick brown", "**quick**, **brown**"},
        {"apple apple pie", "apple", "**apple apple** pie"},
        {"Résumé, RESUME and resumes", "resume", "**Résumé**, **RESUME** and resumes"},
        {"Résumé, RESUME and resumes", "res*", "**Résumé**, **RESUME** and **resumes**"},
        {"no match here", "zzz", "no match here"},
        {"emoji \xf0\x9f\x98\x80 word", "word", "emoji \xf0\x9f\x98\x80 **word**"},
        {"a**b", "b", "a****b**"},
        {"", "x", ""},
        {"keep me", NULL, "keep me"},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        char *h = hs_search_highlight(tk_rdb(fx->core), cases[i].content, cases[i].query);
        if (strcmp(h, cases[i].want) != 0)
            fail_msg("highlight '%s' / '%s': got '%s'", cases[i].content,
                     cases[i].query ? cases[i].query : "", h);
        free(h);
    }
}

/* ---------------------------------------------------------------- searching */

/* Runs a search and returns the response (fails the test on error). */
static json_t *search_as(struct fx *fx, uint64_t user, uint64_t guild, uint64_t chan,
                         struct hs_search_query *q)
{
    json_t *r = NULL;
    hs_error err;
    if (hs_search_run(tk_rdb(fx->core), user, guild, chan, q, &r, &err) != 0)
        fail_msg("search: %s", err.msg);
    return r;
}

/* The ids of a response's messages, and its total. */
static size_t hits(json_t *r, uint64_t *ids, size_t max, int64_t *total)
{
    json_t *msgs = json_object_get(r, "messages");
    size_t n = json_array_size(msgs);
    for (size_t i = 0; i < n && i < max; i++) {
        json_t *m = json_array_get(json_array_get(msgs, i), 0);
        assert_true(json_is_true(json_object_get(m, "hit")));
        assert_non_null(json_object_get(m, "highlight"));
        ids[i] = tk_json_id(m, "id");
    }
    *total = json_integer_value(json_object_get(r, "total_results"));
    return n;
}

/* Expects exactly the messages want[0..n) (in that order) and total. */
static void expect_hits(struct fx *fx, uint64_t user, uint64_t guild, uint64_t chan,
                        struct hs_search_query *q, int64_t total, const uint64_t *want, size_t n)
{
    json_t *r = search_as(fx, user, guild, chan, q);
    uint64_t got[32];
    int64_t t;
    size_t k = hits(r, got, 32, &t);
    int same = k == n && t == total;
    for (size_t i = 0; same && i < n; i++)
        same = got[i] == want[i];
    if (!same) {
        char *s = json_dumps(r, JSON_COMPACT);
        fail_msg("content '%s': got %zu hits (total %" PRId64 "), want %zu (total %" PRId64
                 "): %.600s",
                 q->content ? q->content : "", k, t, n, total, s);
    }
    json_decref(r);
}

static struct hs_search_query *query(const char *content)
{
    struct hs_search_query *q = malloc(sizeof(*q));
    hs_search_query_init(q);
    q->content = content ? hs_xstrdup(content) : NULL;
    return q;
}

static void query_free(struct hs_search_query *q)
{
    hs_search_query_release(q);
    free(q);
}

#define EXPECT(fx, user, q, total, ...)                                                            \
    do {                                                                                           \
        uint64_t want_[] = {0, __VA_ARGS__};                                                       \
        expect_hits((fx), (user), (fx)->guild, 0, (q), (total), want_ + 1,                         \
                    HS_ARRAY_LEN(want_) - 1);                                                      \
    } while (0)
#define EXPECT_NONE(fx, user, q) expect_hits((fx), (user), (fx)->guild, 0, (q), 0, NULL, 0)

static void test_index_follows_writes(void **state)
{
    struct fx *fx = *state;
    uint64_t a = post(fx, fx->chan, fx->owner, "alpha beta");
    uint64_t b = post(fx, fx->chan, fx->member, "beta gamma");
    struct hs_search_query *q = query("beta");
    EXPECT(fx, fx->owner, q, 2, b, a);
    /* An edit: the old words stop matching at once, the new ones match. */
    struct hs_msg_edit e = {.channel_id = fx->chan,
                            .message_id = a,
                            .actor_id = fx->owner,
                            .content = "delta epsilon",
                            .max_chars = 2000};
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_edit_fn, &e, &err), 0);
    json_decref(e.message);
    EXPECT(fx, fx->owner, q, 1, b);
    query_free(q);
    q = query("alpha");
    EXPECT_NONE(fx, fx->owner, q);
    query_free(q);
    q = query("epsilon");
    EXPECT(fx, fx->owner, q, 1, a);
    /* A delete: gone at once. */
    struct hs_msg_delete d = {.channel_id = fx->chan, .message_id = a, .actor_id = fx->owner};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &d, &err), 0);
    EXPECT_NONE(fx, fx->owner, q);
    query_free(q);
    /* The index and the side table agree with the messages table. */
    sqlite3_stmt *s;
    sqlite3 *h = hs_db_handle(tk_rdb(fx->core));
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT (SELECT count(*) FROM messages), (SELECT count(*) "
                                        "FROM message_search), (SELECT count(*) FROM message_fts "
                                        "WHERE message_fts MATCH 'meta:g"
                                        "' || ?1)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)fx->guild);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    assert_int_equal(sqlite3_column_int(s, 1), 1);
    assert_int_equal(sqlite3_column_int(s, 2), 1);
    sqlite3_finalize(s);
    tk_sql(fx->core, "INSERT INTO message_fts (message_fts, rank) VALUES ('integrity-check', 0)");
}

static void test_filters_on_crafted_rows(void **state)
{
    struct fx *fx = *state;
    uint64_t plain = post(fx, fx->chan, fx->owner, "report plain");
    uint64_t link = post(fx, fx->chan, fx->owner, "report see HTTPS://example.org/x");
    uint64_t img = post(fx, fx->chan, fx->member, "report picture");
    uint64_t vid = post(fx, fx->chan, fx->member, "report clip");
    uint64_t snd = post(fx, fx->chan, fx->member, "report tune");
    uint64_t emb = post(fx, fx->chan, fx->owner, "report embedded");
    uint64_t men = post(fx, fx->chan, fx->owner, "report hey you");
    uint64_t pin = post(fx, fx->chan, fx->owner, "report pinned one");
    uint64_t bot = post(fx, fx->chan, fx->bot, "report from a bot");
    /* What the messages helpers will write: attachments, embeds, mentions, pins. */
    tk_sql(fx->core,
           "UPDATE messages SET attachments = '[{\"id\":\"1\",\"filename\":\"a.png\","
           "\"content_type\":\"image/png\"}]' WHERE id = %" PRIu64 ";"
           "UPDATE messages SET attachments = '[{\"filename\":\"b.mp4\",\"content_type\":"
           "\"video/mp4\"}, {\"filename\":\"c.txt\"}]' WHERE id = %" PRIu64 ";"
           "UPDATE messages SET attachments = '[{\"filename\":\"d.ogg\",\"content_type\":"
           "\"audio/ogg\"}]' WHERE id = %" PRIu64 ";"
           "UPDATE messages SET embeds = '[{\"type\":\"rich\",\"title\":\"t\"}]' WHERE id = "
           "%" PRIu64 ";"
           "UPDATE messages SET mentions = '[\"%" PRIu64 "\", %" PRIu64 "]', mention_everyone = 1 "
           "WHERE id = %" PRIu64 ";"
           "UPDATE messages SET pinned_at = 1 WHERE id = %" PRIu64 ";",
           img, vid, snd, emb, fx->member, fx->bot, men, pin);
    struct hs_search_query *q = query("report");
    EXPECT(fx, fx->owner, q, 9, bot, pin, men, emb, snd, vid, img, link, plain);
    struct {
        unsigned has, has_not;
        int n;
        uint64_t want[9];
    } cases[] = {
        {HS_HAS_LINK, 0, 1, {link}},
        {HS_HAS_FILE, 0, 3, {snd, vid, img}},
        {HS_HAS_IMAGE, 0, 1, {img}},
        {HS_HAS_VIDEO, 0, 1, {vid}},
        {HS_HAS_SOUND, 0, 1, {snd}},
        {HS_HAS_EMBED, 0, 1, {emb}},
        {HS_HAS_FILE, HS_HAS_IMAGE, 2, {snd, vid}},
        {0, HS_HAS_FILE | HS_HAS_LINK, 5, {bot, pin, men, emb, plain}},
        {HS_HAS_IMAGE | HS_HAS_VIDEO, 0, 0, {0}},
        {HS_HAS_STICKER, 0, 0, {0}},
        {0, HS_HAS_STICKER, 9, {bot, pin, men, emb, snd, vid, img, link, plain}},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        q->has = cases[i].has;
        q->has_not = cases[i].has_not;
        expect_hits(fx, fx->owner, fx->guild, 0, q, cases[i].n, cases[i].want, (size_t)cases[i].n);
    }
    q->has = q->has_not = 0;
    q->mentions[q->n_mentions++] = fx->member;
    EXPECT(fx, fx->owner, q, 1, men);
    q->mentions[0] = fx->bot; /* mentioned as a JSON number */
    EXPECT(fx, fx->owner, q, 1, men);
    q->mentions[0] = fx->owner;
    EXPECT_NONE(fx, fx->owner, q);
    q->n_mentions = 0;
    q->mention_everyone = 1;
    EXPECT(fx, fx->owner, q, 1, men);
    q->mention_everyone = -1;
    q->pinned = 1;
    EXPECT(fx, fx->owner, q, 1, pin);
    q->pinned = 0;
    EXPECT(fx, fx->owner, q, 8, bot, men, emb, snd, vid, img, link, plain);
    q->pinned = -1;
    q->author_types = HS_AUTHOR_BOT;
    EXPECT(fx, fx->owner, q, 1, bot);
    q->author_types = 0;
    q->author_types_not = HS_AUTHOR_BOT;
    EXPECT(fx, fx->owner, q, 8, pin, men, emb, snd, vid, img, link, plain);
    q->author_types_not = 0;
    q->author_ids[q->n_authors++] = fx->member;
    EXPECT(fx, fx->owner, q, 3, snd, vid, img);
    q->author_ids[q->n_authors++] = fx->bot;
    EXPECT(fx, fx->owner, q, 4, bot, snd, vid, img);
    /* Combined: member's files that are not images, in this channel. */
    q->has = HS_HAS_FILE;
    q->has_not = HS_HAS_IMAGE;
    q->channel_ids[q->n_channels++] = fx->chan;
    EXPECT(fx, fx->owner, q, 2, snd, vid);
    q->channel_ids[0] = fx->chan + 1;
    EXPECT_NONE(fx, fx->owner, q);
    /* Unpinning takes the token away; a row with garbage JSON still saves and indexes. */
    tk_sql(fx->core,
           "UPDATE messages SET pinned_at = NULL WHERE id = %" PRIu64 ";"
           "UPDATE messages SET attachments = 'not json', embeds = '{\"a\":1}', mentions = '7' "
           "WHERE id = %" PRIu64,
           pin, img);
    query_free(q);
    q = query("report");
    q->pinned = 1;
    EXPECT_NONE(fx, fx->owner, q);
    q->pinned = -1;
    q->has = HS_HAS_FILE;
    EXPECT(fx, fx->owner, q, 2, snd, vid);
    query_free(q);
    /* Deleting crafted rows hands FTS5 the very tokens it indexed. */
    tk_sql(fx->core, "DELETE FROM messages WHERE channel_id = %" PRIu64, fx->chan);
    q = query(NULL);
    EXPECT_NONE(fx, fx->owner, q);
    query_free(q);
    tk_sql(fx->core, "INSERT INTO message_fts (message_fts, rank) VALUES ('integrity-check', 0)");
}

static void test_order_and_paging(void **state)
{
    struct fx *fx = *state;
    uint64_t ids[40];
    for (int i = 0; i < 40; i++) {
        char c[64];
        /* Every 5th message repeats the word: bm25 ranks those first. */
        snprintf(c, sizeof(c), i % 5 == 0 ? "word word word %d" : "word and filler text %d", i);
        ids[i] = post(fx, fx->chan, fx->owner, c);
    }
    struct hs_search_query *q = query("word");
    /* Newest first, then oldest first. */
    q->limit = 3;
    EXPECT(fx, fx->owner, q, 40, ids[39], ids[38], ids[37]);
    q->sort_asc = 1;
    EXPECT(fx, fx->owner, q, 40, ids[0], ids[1], ids[2]);
    /* Paging without duplicates or gaps: 25 + 15 in both orders. */
    for (int asc = 0; asc < 2; asc++) {
        q->sort_asc = asc;
        q->limit = 25;
        uint64_t seen[40];
        size_t n = 0;
        for (q->offset = 0; q->offset < 40; q->offset += 25) {
            json_t *r = search_as(fx, fx->owner, fx->guild, 0, q);
            int64_t t;
            n += hits(r, seen + n, 40 - n, &t);
            assert_int_equal(t, 40);
            json_decref(r);
        }
        assert_int_equal(n, 40);
        for (int i = 0; i < 40; i++)
            assert_true(seen[i] == ids[asc ? i : 39 - i]);
    }
    q->offset = 40;
    EXPECT(fx, fx->owner, q, 40, );
    /* Relevance: the repeated-word messages first (newest first among equals), then the
     * rest; ascending relevance puts them last. */
    q->offset = 0;
    q->sort_asc = 0;
    q->sort_by = HS_SEARCH_SORT_RELEVANCE;
    q->limit = 9;
    EXPECT(fx, fx->owner, q, 40, ids[35], ids[30], ids[25], ids[20], ids[15], ids[10], ids[5],
           ids[0], ids[39]);
    q->sort_asc = 1;
    q->limit = 25;
    q->offset = 32;
    EXPECT(fx, fx->owner, q, 40, ids[0], ids[5], ids[10], ids[15], ids[20], ids[25], ids[30],
           ids[35]);
    /* min_id / max_id bound the ids (exclusive) and the total. */
    q->sort_by = HS_SEARCH_SORT_TIMESTAMP;
    q->sort_asc = 0;
    q->offset = 0;
    q->min_id = ids[10];
    q->max_id = ids[14];
    EXPECT(fx, fx->owner, q, 3, ids[13], ids[12], ids[11]);
    q->min_id = ids[14];
    EXPECT_NONE(fx, fx->owner, q);
    query_free(q);
}

static void test_permissions(void **state)
{
    struct fx *fx = *state;
    /* A second guild where member and the stranger are not members. */
    struct hs_guild_create g2 = {.owner_id = fx->stranger, .name = "Other"};
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_guild_create_fn, &g2, &err), 0);
    uint64_t other_guild = tk_json_id(g2.guild, "id"),
             other_chan = tk_json_id(g2.guild, "system_channel_id");
    json_decref(g2.guild);

    uint64_t secret = add_channel(fx, fx->guild, 0, "secret", 0);
    uint64_t nohist = add_channel(fx, fx->guild, 0, "nohist", 0);
    uint64_t thread = add_channel(fx, fx->guild, 11, "public-thread", fx->chan);
    uint64_t priv = add_channel(fx, fx->guild, 12, "private-thread", fx->chan);
    uint64_t dm = add_channel(fx, 0, 1, "", 0);
    uint64_t gone = add_channel(fx, fx->guild, 0, "gone", 0);
    /* @everyone may not view #secret; may view #nohist without its history. */
    tk_sql(fx->core,
           "INSERT INTO overwrites (channel_id, target_id, type, allow, deny) VALUES (%" PRIu64
           ", %" PRIu64 ", 0, 0, %" PRIu64 "), (%" PRIu64 ", %" PRIu64 ", 0, 0, %" PRIu64 ");"
           "INSERT INTO recipients (channel_id, user_id) VALUES (%" PRIu64 ", %" PRIu64
           "), (%" PRIu64 ", %" PRIu64 ");"
           "INSERT INTO thread_members (thread_id, user_id, join_timestamp) VALUES (%" PRIu64
           ", %" PRIu64 ", 5)",
           secret, fx->guild, (uint64_t)HS_PERM_VIEW_CHANNEL, nohist, fx->guild,
           (uint64_t)HS_PERM_READ_MESSAGE_HISTORY, dm, fx->owner, dm, fx->stranger, priv,
           fx->owner);

    uint64_t in_general = post(fx, fx->chan, fx->owner, "needle general");
    uint64_t in_secret = post(fx, secret, fx->owner, "needle secret");
    uint64_t in_nohist = post(fx, nohist, fx->owner, "needle nohist");
    uint64_t in_thread = post(fx, thread, fx->owner, "needle thread");
    uint64_t in_priv = post(fx, priv, fx->owner, "needle private");
    uint64_t in_dm = post(fx, dm, fx->owner, "needle dm");
    uint64_t in_other = post(fx, other_chan, fx->stranger, "needle other guild");
    uint64_t in_gone = post(fx, gone, fx->owner, "needle gone");
    tk_sql(fx->core, "UPDATE channels SET deleted = 1 WHERE id = %" PRIu64, gone);

    struct hs_search_query *q = query("needle");
    for (int path = 0; path < 2; path++) {
        /* Both ways of finding the candidate channels: grouping the hits, and (above the
         * small limit) enumerating the guild's channels. */
        hs_search_set_small_limit(path ? 0 : 4096);
        /* The owner sees every live channel of the guild, never the DM or the other guild,
         * nor the deleted channel. */
        EXPECT(fx, fx->owner, q, 5, in_priv, in_thread, in_nohist, in_secret, in_general);
        /* A member: not #secret, not #nohist (no history), not the private thread. */
        EXPECT(fx, fx->member, q, 2, in_thread, in_general);
        q->limit = 1;
        q->offset = 1;
        EXPECT(fx, fx->member, q, 2, in_general);
        q->offset = 2;
        EXPECT(fx, fx->member, q, 2, );
        q->limit = 25;
        q->offset = 0;
        /* A thread hit brings its thread object (and the owner's thread member). */
        json_t *r = search_as(fx, fx->owner, fx->guild, 0, q);
        assert_int_equal(json_array_size(json_object_get(r, "threads")), 2);
        assert_int_equal(json_array_size(json_object_get(r, "members")), 1);
        json_decref(r);
        /* Asking for hidden channels explicitly changes nothing. */
        q->channel_ids[0] = secret;
        q->channel_ids[1] = priv;
        q->n_channels = 2;
        EXPECT_NONE(fx, fx->member, q);
        q->n_channels = 0;
        /* Once the member left (or was banned: the members row goes), nothing at all. */
        tk_sql(fx->core, "DELETE FROM members WHERE user_id = %" PRIu64, fx->member);
        json_t *out = NULL;
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->member, fx->guild, 0, q, &out, &err),
                         HS_EPERM);
        assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
        assert_null(out);
        add_member(fx, fx->member);
        /* The stranger is in neither the guild nor... */
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->stranger, fx->guild, 0, q, &out, &err),
                         HS_EPERM);
        assert_int_equal(
            hs_search_run(tk_rdb(fx->core), fx->owner, fx->guild + 12345, 0, q, &out, &err),
            HS_ENOTFOUND);
        assert_int_equal(err.reason, HS_R_UNKNOWN_GUILD);
        /* ... it searches its own guild, where the owner of the first cannot. */
        expect_hits(fx, fx->stranger, other_guild, 0, q, 1, &in_other, 1);
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->owner, other_guild, 0, q, &out, &err),
                         HS_EPERM);
        /* ... and it is in the DM, which only its recipients search. */
        expect_hits(fx, fx->stranger, 0, dm, q, 1, &in_dm, 1);
        expect_hits(fx, fx->owner, 0, dm, q, 1, &in_dm, 1);
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->member, 0, dm, q, &out, &err),
                         HS_EPERM);
        assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
        /* Channel search of a guild channel: that channel only, with its rights. */
        expect_hits(fx, fx->member, 0, fx->chan, q, 1, &in_general, 1);
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->member, 0, nohist, q, &out, &err),
                         HS_EPERM);
        assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->member, 0, secret, q, &out, &err),
                         HS_EPERM);
        assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
        assert_int_equal(hs_search_run(tk_rdb(fx->core), fx->member, 0, gone, q, &out, &err),
                         HS_ENOTFOUND);
    }
    (void)in_gone;
    query_free(q);
}

static void test_resolve(void **state)
{
    struct fx *fx = *state;
    uint64_t a = post(fx, fx->chan, fx->member, "findme by member");
    uint64_t b = post(fx, fx->chan, fx->owner, "findme by owner");
    uint64_t side = add_channel(fx, fx->guild, 0, "side", 0);
    uint64_t c = post(fx, side, fx->owner, "findme on the side");
    struct {
        const char *box;
        int64_t total;
        uint64_t want[3];
    } cases[] = {
        {"findme from:member", 1, {a}},
        {"findme from:MEMBER", 1, {a}},
        {"findme from:@member", 1, {a}},
        {"from:nobody findme", 0, {0}},
        {"findme in:#side", 1, {c}},
        {"findme in:side from:owner", 1, {c}},
        {"findme in:#nowhere", 0, {0}},
        {"findme in:general", 2, {b, a}},
        {"\"by owner\" findme", 1, {b}},
        {"findme pinned:true", 0, {0}},
        {"findme pinned:false", 3, {c, b, a}},
        {"findme author_type:user", 3, {c, b, a}},
        {"findme author_type:bot", 0, {0}},
        {"findme before:2015-01-02", 0, {0}},
        {"findme after:2015-01-02", 3, {c, b, a}},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        struct hs_search_box box;
        struct hs_search_query *q = query(NULL);
        hs_error err;
        assert_int_equal(hs_search_parse(cases[i].box, &box, &err), 0);
        assert_int_equal(hs_search_resolve(tk_rdb(fx->core), fx->guild, &box, q, &err), 0);
        expect_hits(fx, fx->owner, fx->guild, 0, q, cases[i].total, cases[i].want,
                    (size_t)cases[i].total);
        hs_search_box_release(&box);
        query_free(q);
    }
    /* Ids and mentions resolve without a lookup; the box adds to the API's parameters. */
    struct hs_search_box box;
    struct hs_search_query *q = query("findme");
    hs_error err;
    char text[128];
    snprintf(text, sizeof(text), "from:<@%" PRIu64 "> in:<#%" PRIu64 "> side", fx->owner, side);
    assert_int_equal(hs_search_parse(text, &box, &err), 0);
    assert_int_equal(hs_search_resolve(tk_rdb(fx->core), fx->guild, &box, q, &err), 0);
    assert_string_equal(q->content, "findme side");
    assert_true(q->n_authors == 1 && q->author_ids[0] == fx->owner);
    assert_true(q->n_channels == 1 && q->channel_ids[0] == side);
    expect_hits(fx, fx->owner, fx->guild, 0, q, 1, &c, 1);
    hs_search_box_release(&box);
    query_free(q);
}

/* A database from before the index gets its messages indexed by the index migration. */
static void test_migration_backfill(void **state)
{
    struct fx *fx = *state;
    uint64_t a = post(fx, fx->chan, fx->owner, "older history");
    uint64_t b = post(fx, fx->chan, fx->bot, "older bot history");
    hs_core_close(fx->core);
    fx->core = NULL;
    char path[160];
    snprintf(path, sizeof(path), "%s/data/hearth.db", fx->dir);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "DROP TRIGGER message_search_insert; DROP TRIGGER "
                                  "message_search_update; DROP TRIGGER message_search_delete; "
                                  "DROP TABLE message_fts; DROP TABLE message_search;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* The migration itself, on a database that has messages but no index: later migrations
     * stay applied, so this does not depend on how many come after it. */
    assert_int_equal(sqlite3_exec(h, HS_SEARCH_MIGRATION, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    hs_error err;
    assert_int_equal(hs_core_open(&fx->core, &fx->cfg, &err), 0);
    struct hs_search_query *q = query("history");
    EXPECT(fx, fx->owner, q, 2, b, a);
    q->author_types = HS_AUTHOR_BOT;
    EXPECT(fx, fx->owner, q, 1, b);
    query_free(q);
    /* And the triggers work after it. */
    uint64_t c = post(fx, fx->chan, fx->owner, "newer history");
    q = query("history");
    EXPECT(fx, fx->owner, q, 3, c, b, a);
    query_free(q);
}

/* total_results stops at the cap; hidden hits neither count nor make it stop early. */
static void test_total_cap(void **state)
{
    struct fx *fx = *state;
    uint64_t secret = add_channel(fx, fx->guild, 0, "secret", 0);
    tk_sql(fx->core,
           "INSERT INTO overwrites (channel_id, target_id, type, allow, deny) VALUES (%" PRIu64
           ", %" PRIu64 ", 0, 0, %" PRIu64 ")",
           secret, fx->guild, (uint64_t)HS_PERM_VIEW_CHANNEL);
    uint64_t hay[5], needle[2], hidden[6];
    for (int i = 0; i < 6; i++)
        hidden[i] = post(fx, secret, fx->owner, "needle haystack hidden");
    for (int i = 0; i < 2; i++)
        needle[i] = post(fx, fx->chan, fx->owner, "needle visible");
    for (int i = 0; i < 5; i++)
        hay[i] = post(fx, fx->chan, fx->owner, "haystack visible");
    struct hs_search_query *n = query("needle"), *h = query("haystack visible");
    for (int path = 0; path < 2; path++) {
        hs_search_set_small_limit(path ? 0 : 4096);
        /* Under the cap: exact, visible hits only. */
        hs_search_set_total_max(100);
        EXPECT(fx, fx->member, n, 2, needle[1], needle[0]);
        EXPECT(fx, fx->member, h, 5, hay[4], hay[3], hay[2], hay[1], hay[0]);
        EXPECT(fx, fx->owner, n, 8, needle[1], needle[0], hidden[5], hidden[4], hidden[3],
               hidden[2], hidden[1], hidden[0]);
        /* At a cap of 3: the six hidden hits do not reach it for the member... */
        hs_search_set_total_max(3);
        EXPECT(fx, fx->member, n, 2, needle[1], needle[0]);
        /* ... five visible ones do, and every page is still served. */
        EXPECT(fx, fx->member, h, 3, hay[4], hay[3], hay[2], hay[1], hay[0]);
        EXPECT(fx, fx->owner, n, 3, needle[1], needle[0], hidden[5], hidden[4], hidden[3],
               hidden[2], hidden[1], hidden[0]);
        h->offset = 3;
        EXPECT(fx, fx->member, h, 3, hay[1], hay[0]);
        h->offset = 5;
        EXPECT(fx, fx->member, h, 3, );
        h->offset = 0;
        /* A cap equal to the visible hits is exact. */
        hs_search_set_total_max(5);
        EXPECT(fx, fx->member, h, 5, hay[4], hay[3], hay[2], hay[1], hay[0]);
    }
    query_free(n);
    query_free(h);
}

/* Relevance ranks as FTS5's bm25(message_fts, 1.0, 0.0) would, the filter tokens weighing
 * nothing, while no term is in more than HS_SEARCH_TOTAL_MAX messages. */
static void test_relevance_is_bm25(void **state)
{
    struct fx *fx = *state;
    static const char *const words[] = {"common", "rare", "middle", "other"};
    for (int i = 0; i < 60; i++) {
        char c[160] = "";
        /* Term frequencies and lengths vary; "common" is in 5/6 of the messages, "rare" in
         * 1/7, "middle" in 1/3. */
        for (int w = 0; w < 4; w++) {
            int reps = w == 0   ? (i % 6 != 0) * (1 + i % 3)
                       : w == 1 ? (i % 7 == 0) * (1 + i % 2)
                       : w == 2 ? (i % 3 == 0)
                                : 1 + i % 5;
            for (int r = 0; r < reps; r++) {
                strcat(c, words[w]);
                strcat(c, " ");
            }
        }
        post(fx, i % 2 ? fx->chan : add_channel(fx, fx->guild, 0, "more", 0), fx->owner, c);
    }
    static const char *const queries[] = {"common", "common rare", "common middle",
                                          "rare middle other", "\"common common\" other"};
    for (size_t k = 0; k < HS_ARRAY_LEN(queries); k++) {
        struct hs_search_query *q = query(queries[k]);
        q->sort_by = HS_SEARCH_SORT_RELEVANCE;
        /* The order bm25 gives, read straight from the index. */
        char *m = match_of(fx, q, fx->guild, 0);
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_prepare_v2(hs_db_handle(tk_rdb(fx->core)),
                                            "SELECT rowid FROM message_fts WHERE message_fts "
                                            "MATCH ?1 ORDER BY bm25(message_fts, 1.0, 0.0) ASC, "
                                            "rowid DESC LIMIT 25",
                                            -1, &s, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(s, 1, m, -1, SQLITE_STATIC);
        uint64_t want[25];
        size_t n = 0;
        while (sqlite3_step(s) == SQLITE_ROW)
            want[n++] = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        assert_true(n > 1);
        json_t *r = search_as(fx, fx->owner, fx->guild, 0, q);
        uint64_t got[25];
        int64_t total;
        size_t k2 = hits(r, got, 25, &total);
        json_decref(r);
        assert_int_equal(k2, n);
        for (size_t i = 0; i < n; i++)
            if (got[i] != want[i])
                fail_msg("'%s': hit %zu is %" PRIu64 ", bm25 says %" PRIu64, queries[k], i, got[i],
                         want[i]);
        free(m);
        query_free(q);
    }
}

/* hs_search_reindex_fn rebuilds an emptied or stale index from the messages. */
static void test_reindex(void **state)
{
    struct fx *fx = *state;
    uint64_t a = post(fx, fx->chan, fx->owner, "older history");
    uint64_t b = post(fx, fx->chan, fx->bot, "older bot history");
    /* Written while the triggers are away (a bulk load): not indexed... */
    tk_sql(fx->core, "DROP TRIGGER message_search_insert");
    uint64_t c = post(fx, fx->chan, fx->member, "newer history");
    struct hs_search_query *q = query("history");
    EXPECT(fx, fx->owner, q, 2, b, a);
    /* ... and a stale row the index still has (its message gone without the trigger). */
    tk_sql(fx->core, "DROP TRIGGER message_search_delete; DELETE FROM messages WHERE id = %" PRIu64,
           a);
    EXPECT(fx, fx->owner, q, 2, b); /* the page skips it; the count does not */
    int64_t n = -1;
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_search_reindex_fn, &n, &err), 0);
    assert_int_equal(n, 2);
    EXPECT(fx, fx->owner, q, 2, c, b);
    q->author_types = HS_AUTHOR_BOT;
    EXPECT(fx, fx->owner, q, 1, b);
    q->author_types = 0;
    q->author_ids[q->n_authors++] = fx->member;
    EXPECT(fx, fx->owner, q, 1, c);
    query_free(q);
    /* Twice is the same as once; NULL arg is allowed. */
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_search_reindex_fn, NULL, &err), 0);
    q = query("history");
    EXPECT(fx, fx->owner, q, 2, c, b);
    query_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_filters),
        cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test_setup_teardown(test_match_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_highlight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_follows_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters_on_crafted_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_backfill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_total_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reindex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relevance_is_bm25, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
