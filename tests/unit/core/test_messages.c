/*
 * Unit tests for hs_messages.h through a real core: history pagination edge cases
 * (spec/client-api.md "Messages": before / after / around / limit), content validation,
 * and the rules on who may post, edit and delete where.
 *
 * The pagination fixture posts 30 messages, "m1" (oldest) .. "m30" (newest), to the
 * system channel of a new guild; ids[i] is the id of message i + 1. Pages are compared
 * as lists of message numbers, newest first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "hs_accounts.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_time.h"
#include "hs_util.h"

#include "testkit.h"

#define NMSG 30

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, guild, chan;
    uint64_t ids[NMSG];
};

/* Posts content as author to chan; returns the new id, or 0 with *rc and err filled. */
static uint64_t post(struct fx *fx, uint64_t chan, uint64_t author, const char *content, int *rc,
                     hs_error *err)
{
    struct hs_msg_create op = {.channel_id = chan,
                               .author_id = author,
                               .content = content,
                               .max_chars = fx->cfg.message_max_chars};
    hs_error_clear(err);
    *rc = hs_writer_run(hs_core_writer(fx->core), hs_msg_create_fn, &op, err);
    if (*rc < 0) {
        assert_null(op.message);
        return 0;
    }
    assert_non_null(op.message);
    uint64_t id = tk_json_id(op.message, "id");
    json_decref(op.message);
    return id;
}

static uint64_t must_post(struct fx *fx, uint64_t chan, uint64_t author, const char *content)
{
    int rc;
    hs_error err;
    uint64_t id = post(fx, chan, author, content, &rc, &err);
    if (rc != 0)
        fail_msg("post '%s': %s", content, err.msg);
    return id;
}

static int build(struct fx *fx, int nmsg)
{
    fx->core = tk_core_open(fx->dir, &fx->cfg, "messages");
    fx->owner = tk_register(fx->core, "owner");
    fx->guild = tk_guild(fx->core, fx->owner, "Test Guild", &fx->chan);
    for (int i = 0; i < nmsg; i++) {
        char content[16];
        snprintf(content, sizeof(content), "m%d", i + 1);
        fx->ids[i] = must_post(fx, fx->chan, fx->owner, content);
        /* Id order is post (commit) order. */
        if (i > 0 && fx->ids[i] <= fx->ids[i - 1])
            return -1;
    }
    return 0;
}

static void destroy(struct fx *fx)
{
    tk_core_close(fx->core, &fx->cfg, fx->dir);
    free(fx);
}

static int setup_n(void **state, int n)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    if (build(fx, n) < 0) {
        destroy(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int setup_30(void **state)
{
    return setup_n(state, NMSG);
}

static int setup_0(void **state)
{
    return setup_n(state, 0);
}

static int teardown(void **state)
{
    destroy(*state);
    return 0;
}

/* ---- pagination ---- */

static json_t *history(struct fx *fx, uint64_t before, uint64_t after, uint64_t around, int limit)
{
    struct hs_history_query q = {
        .before = before, .after = after, .around = around, .limit = limit};
    json_t *page = hs_msg_history(tk_rdb(fx->core), fx->chan, &q, 0);
    assert_non_null(page);
    assert_true(json_is_array(page));
    return page;
}

/* The message number (1..NMSG) of an id, 0 when it is none of them. */
static int msg_number(struct fx *fx, uint64_t id)
{
    for (int i = 0; i < NMSG; i++)
        if (fx->ids[i] == id)
            return i + 1;
    return 0;
}

/* Checks that page holds exactly the messages want[0..n), in that order; takes page. */
static void expect_page(struct fx *fx, json_t *page, const int *want, size_t n)
{
    char got_s[512] = "", want_s[512] = "";
    size_t gl = 0, wl = 0;
    int same = json_array_size(page) == n;
    for (size_t i = 0; i < json_array_size(page); i++) {
        json_t *m = json_array_get(page, i);
        int num = msg_number(fx, tk_json_id(m, "id"));
        gl += (size_t)snprintf(got_s + gl, sizeof(got_s) - gl, "%d ", num);
        if (i < n && num != want[i])
            same = 0;
        /* Each entry is the message object of that message. */
        char content[16];
        snprintf(content, sizeof(content), "m%d", num);
        if (num)
            assert_string_equal(json_string_value(json_object_get(m, "content")), content);
        if (gl >= sizeof(got_s))
            gl = sizeof(got_s) - 1;
    }
    for (size_t i = 0; i < n; i++) {
        wl += (size_t)snprintf(want_s + wl, sizeof(want_s) - wl, "%d ", want[i]);
        if (wl >= sizeof(want_s))
            wl = sizeof(want_s) - 1;
    }
    json_decref(page);
    if (!same)
        fail_msg("page [ %s] != expected [ %s]", got_s, want_s);
}

/* Expects messages hi, hi-1, ..., lo (newest first); lo > hi means an empty page. */
static void expect_range(struct fx *fx, json_t *page, int hi, int lo)
{
    int want[NMSG] = {0};
    size_t n = 0;
    for (int k = hi; k >= lo && lo <= hi; k--)
        want[n++] = k;
    expect_page(fx, page, want, n);
}

static void test_history_no_cursor(void **state)
{
    struct fx *fx = *state;
    /* The default page (limit 50): all 30, newest first. */
    expect_range(fx, history(fx, 0, 0, 0, 50), 30, 1);
    expect_range(fx, history(fx, 0, 0, 0, 100), 30, 1);
    expect_range(fx, history(fx, 0, 0, 0, 30), 30, 1);
    expect_range(fx, history(fx, 0, 0, 0, 29), 30, 2);
    /* limit 1: the newest alone. */
    expect_range(fx, history(fx, 0, 0, 0, 1), 30, 30);
}

static void test_history_before(void **state)
{
    struct fx *fx = *state;
    /* before = the 10th: the 9 older, newest first. */
    expect_range(fx, history(fx, fx->ids[9], 0, 0, 50), 9, 1);
    /* With a smaller limit: the newest of those. */
    expect_range(fx, history(fx, fx->ids[9], 0, 0, 3), 9, 7);
    expect_range(fx, history(fx, fx->ids[9], 0, 0, 1), 9, 9);
    /* before the newest: everything else. */
    expect_range(fx, history(fx, fx->ids[29], 0, 0, 100), 29, 1);
    /* before the oldest: nothing. */
    expect_range(fx, history(fx, fx->ids[0], 0, 0, 50), 0, 1);
    /* before = 0 means "no cursor". */
    expect_range(fx, history(fx, 0, 0, 0, 5), 30, 26);
    /* A cursor that is no message: the time-based cursor of a day from now. */
    uint64_t future = hs_snowflake_from_unix_ms(hs_now_ms() + 86400000);
    expect_range(fx, history(fx, future, 0, 0, 50), 30, 1);
    /* A cursor from before the channel existed. */
    expect_range(fx, history(fx, 1, 0, 0, 50), 0, 1);
    /* One more than an id includes it. */
    expect_range(fx, history(fx, fx->ids[9] + 1, 0, 0, 2), 10, 9);
}

static void test_history_after(void **state)
{
    struct fx *fx = *state;
    /* after = the 10th, limit 5: the oldest five newer ones (11..15), newest first. */
    expect_range(fx, history(fx, 0, fx->ids[9], 0, 5), 15, 11);
    expect_range(fx, history(fx, 0, fx->ids[9], 0, 1), 11, 11);
    expect_range(fx, history(fx, 0, fx->ids[9], 0, 50), 30, 11);
    /* after the oldest, after the second newest. */
    expect_range(fx, history(fx, 0, fx->ids[0], 0, 100), 30, 2);
    expect_range(fx, history(fx, 0, fx->ids[28], 0, 50), 30, 30);
    /* after the newest: nothing. */
    expect_range(fx, history(fx, 0, fx->ids[29], 0, 50), 0, 1);
    /* after = 1 (before every message): the oldest ones. */
    expect_range(fx, history(fx, 0, 1, 0, 4), 4, 1);
    /* after the largest storable id, or beyond: nothing, and no overflow. */
    expect_range(fx, history(fx, 0, (uint64_t)INT64_MAX, 0, 50), 0, 1);
    expect_range(fx, history(fx, 0, (uint64_t)INT64_MAX - 1, 0, 50), 0, 1);
    expect_range(fx, history(fx, 0, (uint64_t)INT64_MAX + 1, 0, 50), 0, 1);
    expect_range(fx, history(fx, 0, UINT64_MAX, 0, 50), 0, 1);
}

static void test_history_around(void **state)
{
    struct fx *fx = *state;
    /* around the 15th, limit 10: 5 older (10..14), the message, then 4 newer (16..19). */
    expect_range(fx, history(fx, 0, 0, fx->ids[14], 10), 19, 10);
    /* Odd limits: limit/2 rounded down on the older side. */
    expect_range(fx, history(fx, 0, 0, fx->ids[14], 5), 17, 13);
    expect_range(fx, history(fx, 0, 0, fx->ids[14], 3), 16, 14);
    expect_range(fx, history(fx, 0, 0, fx->ids[14], 2), 15, 14);
    /* limit 1: just the message. */
    expect_range(fx, history(fx, 0, 0, fx->ids[14], 1), 15, 15);
    /* around the oldest: no older ones, so the page fills from the newer side. */
    expect_range(fx, history(fx, 0, 0, fx->ids[0], 10), 10, 1);
    /* around the second: one older, the rest newer. */
    expect_range(fx, history(fx, 0, 0, fx->ids[1], 10), 10, 1);
    /* around a cursor before every message: the oldest ones. */
    expect_range(fx, history(fx, 0, 0, 1, 6), 6, 1);
    /* around the newest: limit/2 older and the message itself, nothing newer. */
    expect_range(fx, history(fx, 0, 0, fx->ids[29], 10), 30, 25);
    /* A page larger than the channel. */
    expect_range(fx, history(fx, 0, 0, fx->ids[14], 100), 30, 1);
    /* A cursor a day in the future: the newest limit/2. */
    uint64_t future = hs_snowflake_from_unix_ms(hs_now_ms() + 86400000);
    expect_range(fx, history(fx, 0, 0, future, 10), 30, 26);
}

/*
 * Cursors beyond 2^63 - 1 (ids are stored as SQLite integers) are clamped: before =
 * UINT64_MAX gives every message, around = UINT64_MAX the newest limit/2.
 */
static void test_history_cursor_above_int64_max(void **state)
{
    struct fx *fx = *state;
    expect_range(fx, history(fx, UINT64_MAX, 0, 0, 50), 30, 1);
    expect_range(fx, history(fx, (uint64_t)INT64_MAX + 1, 0, 0, 50), 30, 1);
    expect_range(fx, history(fx, 0, 0, UINT64_MAX, 10), 30, 26);
}

static void test_history_other_channels(void **state)
{
    struct fx *fx = *state;
    /* A channel with no messages, and one that does not exist: empty pages. */
    struct hs_history_query q = {.limit = 50};
    json_t *page =
        hs_msg_history(tk_rdb(fx->core), fx->guild, &q, 0); /* the guild id is no channel */
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
    page = hs_msg_history(tk_rdb(fx->core), 12345, &q, 0);
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
}

static void test_message_object(void **state)
{
    struct fx *fx = *state;
    json_t *m = NULL;
    hs_error err;
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, fx->ids[4], 0, &m, &err), 0);
    assert_int_equal(tk_json_id(m, "id"), fx->ids[4]);
    assert_int_equal(tk_json_id(m, "channel_id"), fx->chan);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "m5");
    json_t *author = json_object_get(m, "author");
    assert_int_equal(tk_json_id(author, "id"), fx->owner);
    assert_string_equal(json_string_value(json_object_get(author, "username")), "owner");
    /* timestamp is the id's time, in Discord's format. */
    char ts[HS_ISO8601_LEN];
    hs_iso8601(hs_snowflake_unix_ms(fx->ids[4]), ts);
    assert_string_equal(json_string_value(json_object_get(m, "timestamp")), ts);
    assert_true(json_is_null(json_object_get(m, "edited_timestamp")));
    assert_int_equal(json_integer_value(json_object_get(m, "type")), 0);
    assert_true(json_is_false(json_object_get(m, "tts")));
    assert_true(json_is_array(json_object_get(m, "mentions")));
    json_decref(m);

    /* Not in that channel / unknown. */
    m = (json_t *)1;
    hs_error_clear(&err);
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->guild, fx->ids[4], 0, &m, &err),
                     HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MESSAGE);
    assert_null(m);
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, fx->ids[4] + 1000000, 0, &m, &err),
                     HS_ENOTFOUND);

    /* The channel's last_message_id follows the newest message. */
    json_t *c = hs_channel_json(tk_rdb(fx->core), fx->chan);
    assert_int_equal(tk_json_id(c, "last_message_id"), fx->ids[29]);
    json_decref(c);
}

static void test_history_around_deleted(void **state)
{
    struct fx *fx = *state;
    struct hs_msg_delete del = {
        .channel_id = fx->chan, .message_id = fx->ids[14], .actor_id = fx->owner};
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err), 0);
    json_t *m = NULL;
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, fx->ids[14], 0, &m, &err),
                     HS_ENOTFOUND);
    /* around the deleted 15th, limit 10: 5 older (10..14), then 5 newer (16..20). */
    const int want[] = {20, 19, 18, 17, 16, 14, 13, 12, 11, 10};
    expect_page(fx, history(fx, 0, 0, fx->ids[14], 10), want, 10);
    /* before/after it skip it too. */
    expect_range(fx, history(fx, fx->ids[15], 0, 0, 2), 14, 13);
    expect_range(fx, history(fx, 0, fx->ids[13], 0, 1), 16, 16);
    /* Deleting it again: unknown. */
    hs_error_clear(&err);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err),
                     HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MESSAGE);
}

/* ---- content ---- */

static char *repeat(const char *s, int n)
{
    size_t k = strlen(s);
    char *out = malloc(k * (size_t)n + 1);
    assert_non_null(out);
    for (int i = 0; i < n; i++)
        memcpy(out + k * (size_t)i, s, k);
    out[k * (size_t)n] = '\0';
    return out;
}

static void test_check_content(void **state)
{
    (void)state;
    hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_msg_check_content("", 2000, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_EMPTY_MESSAGE);
    hs_error_clear(&err);
    assert_int_equal(hs_msg_check_content(NULL, 2000, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_EMPTY_MESSAGE);
    assert_int_equal(hs_msg_check_content("x", 2000, &err), 0);
    assert_int_equal(hs_msg_check_content(" ", 2000, NULL), 0);

    /* Code points count, not bytes: exactly max is fine with 2-, 3- and 4-byte text. */
    const char *units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        char *ok = repeat(units[u], 2000);
        hs_error_clear(&err);
        if (hs_msg_check_content(ok, 2000, &err) != 0)
            fail_msg("2000 x '%s' rejected: %s", units[u], err.msg);
        free(ok);
        char *over = repeat(units[u], 2001);
        hs_error_clear(&err);
        assert_int_equal(hs_msg_check_content(over, 2000, &err), HS_EINVAL);
        assert_int_equal(err.code, HS_EINVAL);
        assert_int_equal(err.reason, HS_R_FORM);
        assert_string_equal(err.field, "content");
        assert_string_equal(err.form_code, "BASE_TYPE_MAX_LENGTH");
        assert_non_null(strstr(err.msg, "2000"));
        free(over);
    }
    /* A small configured limit. */
    assert_int_equal(hs_msg_check_content("\xc3\xa9\xc3\xa9\xc3\xa9", 3, &err), 0);
    assert_int_equal(hs_msg_check_content("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3, &err), HS_EINVAL);
    assert_int_equal(hs_msg_check_content("a", 1, &err), 0);
    assert_int_equal(hs_msg_check_content("ab", 1, &err), HS_EINVAL);
}

static void test_create_validation(void **state)
{
    struct fx *fx = *state;
    int rc;
    hs_error err;
    post(fx, fx->chan, fx->owner, "", &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_int_equal(err.reason, HS_R_EMPTY_MESSAGE);
    post(fx, fx->chan, fx->owner, NULL, &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_int_equal(err.reason, HS_R_EMPTY_MESSAGE);
    char *over = repeat("\xf0\x9f\x98\x80", 2001);
    post(fx, fx->chan, fx->owner, over, &rc, &err);
    free(over);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.form_code, "BASE_TYPE_MAX_LENGTH");
    char *max = repeat("\xf0\x9f\x98\x80", 2000);
    uint64_t id = must_post(fx, fx->chan, fx->owner, max);
    json_t *m = NULL;
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, id, 0, &m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "content")), max);
    json_decref(m);
    free(max);
    /* Unknown channel; a user who is not a member. */
    post(fx, 999, fx->owner, "hi", &rc, &err);
    assert_int_equal(rc, HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_CHANNEL);
    uint64_t stranger = tk_register(fx->core, "stranger");
    post(fx, fx->chan, stranger, "hi", &rc, &err);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    /* Only the valid one was stored, with its one event. */
    struct hs_history_query q = {.limit = 100};
    json_t *page = hs_msg_history(tk_rdb(fx->core), fx->chan, &q, 0);
    assert_int_equal(json_array_size(page), 1);
    json_decref(page);
    sqlite3_stmt *s =
        hs_db_stmt(tk_rdb(fx->core), "SELECT count(*) FROM events WHERE type = 'MESSAGE_CREATE'");
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_reset(s);
}

static void test_create_nonce(void **state)
{
    struct fx *fx = *state;
    json_t *nonce = json_string("abc123");
    struct hs_msg_create op = {.channel_id = fx->chan,
                               .author_id = fx->owner,
                               .content = "with nonce",
                               .tts = 1,
                               .max_chars = 2000,
                               .nonce = nonce};
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_create_fn, &op, &err), 0);
    assert_string_equal(json_string_value(json_object_get(op.message, "nonce")), "abc123");
    assert_true(json_is_true(json_object_get(op.message, "tts")));
    json_decref(op.message);
    /* nonce is borrowed: still ours. */
    assert_string_equal(json_string_value(nonce), "abc123");
    json_decref(nonce);
}

/* Adds a bot (of an application owned by the guild owner) to the guild as a plain member
 * with @everyone's permissions; returns its user id. */
static uint64_t add_bot_member(struct fx *fx)
{
    struct hs_app_create app = {.owner_id = fx->owner, .name = "helper"};
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_app_create_fn, &app, &err), 0);
    uint64_t bot = tk_json_id(json_object_get(app.app, "bot"), "id");
    json_decref(app.app);
    struct hs_bot_authorize auth = {
        .app_id = app.app_id, .actor_id = fx->owner, .guild_id = fx->guild};
    if (hs_writer_run(hs_core_writer(fx->core), hs_bot_authorize_fn, &auth, &err) != 0)
        fail_msg("authorize: %s", err.msg);
    assert_int_equal(auth.added, 1);
    uint64_t perms = 0;
    assert_int_equal(hs_perm_guild(tk_rdb(fx->core), fx->guild, bot, &perms, &err), 0);
    assert_int_equal(perms, HS_PERM_DEFAULT_EVERYONE);
    return bot;
}

static int edit(struct fx *fx, uint64_t msg, uint64_t actor, const char *content, hs_error *err)
{
    struct hs_msg_edit op = {.channel_id = fx->chan,
                             .message_id = msg,
                             .actor_id = actor,
                             .content = content,
                             .max_chars = fx->cfg.message_max_chars};
    hs_error_clear(err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_msg_edit_fn, &op, err);
    if (rc == 0) {
        assert_string_equal(json_string_value(json_object_get(op.message, "content")), content);
        assert_true(json_is_string(json_object_get(op.message, "edited_timestamp")));
    }
    json_decref(op.message);
    return rc;
}

static int delete_msg(struct fx *fx, uint64_t msg, uint64_t actor, hs_error *err)
{
    struct hs_msg_delete op = {.channel_id = fx->chan, .message_id = msg, .actor_id = actor};
    hs_error_clear(err);
    return hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &op, err);
}

static void test_edit_rules(void **state)
{
    struct fx *fx = *state;
    uint64_t bot = add_bot_member(fx);
    uint64_t mine = must_post(fx, fx->chan, fx->owner, "owner's");
    uint64_t theirs = must_post(fx, fx->chan, bot, "bot's");
    hs_error err;

    /* Editing another user's message: 50005, even for the owner who holds every
     * permission. */
    assert_int_equal(edit(fx, theirs, fx->owner, "hijack", &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_NOT_AUTHOR);
    assert_int_equal(edit(fx, mine, bot, "hijack", &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_NOT_AUTHOR);
    /* A user who is not a member does not even see the channel. */
    uint64_t stranger = tk_register(fx->core, "stranger");
    assert_int_equal(edit(fx, mine, stranger, "hijack", &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    /* Unknown message. */
    assert_int_equal(edit(fx, mine + 1000000, fx->owner, "x", &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MESSAGE);
    /* The author, with bad then good content. */
    assert_int_equal(edit(fx, mine, fx->owner, "", &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_EMPTY_MESSAGE);
    assert_int_equal(edit(fx, mine, fx->owner, "edited", &err), 0);
    assert_int_equal(edit(fx, theirs, bot, "bot edited", &err), 0);

    json_t *m = NULL;
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, mine, 0, &m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "edited");
    json_decref(m);
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, theirs, 0, &m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "bot edited");
    json_decref(m);

    /* Delete: the bot lacks MANAGE_MESSAGES for the owner's message; the owner may delete
     * the bot's; an author may delete their own. */
    assert_int_equal(delete_msg(fx, mine, bot, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(delete_msg(fx, theirs, fx->owner, &err), 0);
    uint64_t again = must_post(fx, fx->chan, bot, "bot's again");
    assert_int_equal(delete_msg(fx, again, bot, &err), 0);
    assert_int_equal(delete_msg(fx, mine, stranger, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, mine, 0, &m, &err), 0);
    json_decref(m);
}

static uint64_t create_channel(struct fx *fx, const char *name, int type)
{
    struct hs_channel_create op = {
        .guild_id = fx->guild, .actor_id = fx->owner, .name = name, .type = type, .position = -1};
    hs_error err;
    if (hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, &err) != 0)
        fail_msg("channel %s: %s", name, err.msg);
    assert_int_equal(json_integer_value(json_object_get(op.channel, "type")), type);
    uint64_t id = tk_json_id(op.channel, "id");
    json_decref(op.channel);
    return id;
}

static void test_non_text_channels(void **state)
{
    struct fx *fx = *state;
    uint64_t voice = create_channel(fx, "Voice Chat", HS_CHANNEL_VOICE);
    uint64_t category = create_channel(fx, "Stuff", HS_CHANNEL_CATEGORY);
    uint64_t text = create_channel(fx, "Second Text", HS_CHANNEL_TEXT);
    int rc;
    hs_error err;
    post(fx, voice, fx->owner, "hello", &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_int_equal(err.reason, HS_R_NON_TEXT_CHANNEL);
    post(fx, category, fx->owner, "hello", &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_int_equal(err.reason, HS_R_NON_TEXT_CHANNEL);
    /* Nothing was stored in them. */
    struct hs_history_query q = {.limit = 50};
    json_t *page = hs_msg_history(tk_rdb(fx->core), voice, &q, 0);
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
    /* A second text channel takes messages, kept apart from the first's. */
    uint64_t id = must_post(fx, text, fx->owner, "hello");
    page = hs_msg_history(tk_rdb(fx->core), text, &q, 0);
    assert_int_equal(json_array_size(page), 1);
    json_decref(page);
    page = hs_msg_history(tk_rdb(fx->core), fx->chan, &q, 0);
    assert_int_equal(json_array_size(page), 0);
    json_decref(page);
    json_t *m = NULL;
    assert_int_equal(hs_msg_get(tk_rdb(fx->core), fx->chan, id, 0, &m, &err), HS_ENOTFOUND);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    /* Read-only pagination tests share one fixture of 30 messages. */
    const struct CMUnitTest pages[] = {
        cmocka_unit_test(test_history_no_cursor),
        cmocka_unit_test(test_history_before),
        cmocka_unit_test(test_history_after),
        cmocka_unit_test(test_history_around),
        cmocka_unit_test(test_history_cursor_above_int64_max),
        cmocka_unit_test(test_history_other_channels),
        cmocka_unit_test(test_message_object),
    };
    /* Tests that change the channel get their own core. */
    const struct CMUnitTest writes[] = {
        cmocka_unit_test_setup_teardown(test_history_around_deleted, setup_30, teardown),
        cmocka_unit_test(test_check_content),
        cmocka_unit_test_setup_teardown(test_create_validation, setup_0, teardown),
        cmocka_unit_test_setup_teardown(test_create_nonce, setup_0, teardown),
        cmocka_unit_test_setup_teardown(test_edit_rules, setup_0, teardown),
        cmocka_unit_test_setup_teardown(test_non_text_channels, setup_0, teardown),
    };
    int failed = cmocka_run_group_tests_name("pagination", pages, setup_30, teardown);
    failed += cmocka_run_group_tests_name("writes", writes, NULL, NULL);
    return failed;
}
