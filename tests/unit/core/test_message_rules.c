/*
 * Unit tests for the rules of hs_messages.h beyond plain text (spec/rest-messages.md): the
 * emoji check, bulk deletion's two-week rule (with message ids crafted in the past, which
 * no client can make), the enforce_nonce window (with a nonce row aged by hand), pins
 * (limit, unique pinned_at, paging, system messages), reactions (order, limit, who may do
 * what) and replies whose target goes away.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hs_accounts.h"
#include "hs_channels.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_time.h"
#include "hs_util.h"

#include "testkit.h"

#define DAY_MS (24ULL * 3600 * 1000)

/* ---- emoji ---- */

/* A plain UTF-8 validity check, independent of the one under test. */
static int utf8_plain_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (!n)
            return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

static void test_emoji_check(void **state)
{
    (void)state;
    const char *good[] = {
        "\xF0\x9F\x91\x8D",                             /* thumbs up */
        "\xE2\x9D\xA4\xEF\xB8\x8F",                     /* heart + VS16 */
        "1\xEF\xB8\x8F\xE2\x83\xA3",                    /* keycap 1 */
        "#\xE2\x83\xA3",                                /* keycap # without VS16 */
        "*\xEF\xB8\x8F\xE2\x83\xA3",                    /* keycap * */
        "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",             /* flag FR */
        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x92\xBB", /* man technologist (ZWJ) */
        "\xC2\xA9",                                     /* (c), a plain BMP symbol */
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(good); i++) {
        hs_error err;
        if (hs_emoji_check(good[i], &err) != 0)
            fail_msg("good emoji %zu refused: %s", i, err.msg);
    }
    struct {
        const char *e;
        int reason;
    } bad[] = {
        {"", HS_R_INVALID_EMOJI},
        {NULL, HS_R_INVALID_EMOJI},
        {"a", HS_R_INVALID_EMOJI},
        {"1", HS_R_INVALID_EMOJI},
        {"1\xE2\x83", HS_R_INVALID_EMOJI},                /* truncated keycap */
        {"a\xE2\x83\xA3", HS_R_INVALID_EMOJI},            /* a letter is no keycap */
        {"\xF0\x9F\x91\x8D ", HS_R_INVALID_EMOJI},        /* trailing space */
        {"\xF0\x9F\x91\x8Dx", HS_R_INVALID_EMOJI},        /* a letter after */
        {"\x80", HS_R_INVALID_EMOJI},                     /* lone continuation byte */
        {"\xC0\xAF", HS_R_INVALID_EMOJI},                 /* overlong '/' */
        {"\xED\xA0\x80", HS_R_INVALID_EMOJI},             /* a surrogate */
        {"\xF4\x90\x80\x80", HS_R_INVALID_EMOJI},         /* past U+10FFFF */
        {"\xF0\x9F\x91", HS_R_INVALID_EMOJI},             /* truncated */
        {"\xC2\x85", HS_R_INVALID_EMOJI},                 /* NEL, a C1 control */
        {"\xE2\x80\x8B", HS_R_INVALID_EMOJI},             /* zero width space alone */
        {"\xE2\x80\x8D\xEF\xB8\x8F", HS_R_INVALID_EMOJI}, /* ZWJ + VS16: nothing visible */
        {"\xE2\x80\xA8", HS_R_INVALID_EMOJI},             /* line separator */
        {"name:123456", HS_R_UNKNOWN_EMOJI},              /* a custom emoji */
        {"a:name:1", HS_R_UNKNOWN_EMOJI},
        {"name:", HS_R_INVALID_EMOJI},
        {":)", HS_R_INVALID_EMOJI},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++) {
        hs_error err;
        hs_error_clear(&err);
        if (hs_emoji_check(bad[i].e, &err) == 0)
            fail_msg("bad emoji %zu accepted", i);
        if (err.reason != bad[i].reason)
            fail_msg("bad emoji %zu: reason %d, expected %d", i, err.reason, bad[i].reason);
    }
    /* 32 bytes pass, 33 do not. */
    char buf[64] = "";
    for (int i = 0; i < 8; i++)
        strcat(buf, "\xF0\x9F\x98\x80");
    assert_int_equal(hs_emoji_check(buf, NULL), 0);
    strcat(buf, "\xC2\xA9");
    assert_int_not_equal(hs_emoji_check(buf, NULL), 0);
    /* Random byte strings: any answer, but never a read past the end (ASan), and whatever
     * passes is valid UTF-8 of at most 32 bytes. */
    uint32_t rng = 7;
    for (int round = 0; round < 50000; round++) {
        char r[40];
        rng = rng * 1103515245u + 12345u;
        size_t len = 1 + (rng >> 8) % 36;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 1103515245u + 12345u;
            r[i] = (char)(0x80 | ((rng >> 16) & 0x7f));
            if ((rng >> 24) % 5 == 0)
                r[i] = (char)((rng >> 12) & 0xff);
        }
        r[len] = '\0';
        if (hs_emoji_check(r, NULL) == 0) {
            assert_true(strlen(r) <= HS_EMOJI_MAX_BYTES);
            assert_true(utf8_plain_valid(r));
        }
    }
}

/* ---- a core with a guild ---- */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, member, guild, chan;
};

/* Runs one SQL statement with its first n of four integer arguments bound, in a write. */
static void run_sql(struct fx *fx, const char *sql, int n, int64_t a0, int64_t a1, int64_t a2,
                    int64_t a3)
{
    tk_sql_bind(fx->core, sql, n, (const int64_t[]){a0, a1, a2, a3});
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fx->core = tk_core_open(fx->dir, &fx->cfg, "message-rules");
    fx->owner = tk_register(fx->core, "owner");
    fx->member = tk_register(fx->core, "member");
    fx->guild = tk_guild(fx->core, fx->owner, "Rules", &fx->chan);
    run_sql(fx, "INSERT INTO members (guild_id, user_id, joined_at) VALUES (?, ?, 1)", 2,
            (int64_t)fx->guild, (int64_t)fx->member, 0, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tk_core_close(fx->core, &fx->cfg, fx->dir);
    free(fx);
    return 0;
}

static uint64_t post_full(struct fx *fx, struct hs_msg_create *op, int *rc, hs_error *err)
{
    if (!op->max_chars)
        op->max_chars = 2000;
    hs_error_clear(err);
    *rc = hs_writer_run(hs_core_writer(fx->core), hs_msg_create_fn, op, err);
    if (*rc < 0) {
        assert_null(op->message);
        return 0;
    }
    uint64_t id = tk_json_id(op->message, "id");
    json_decref(op->message);
    op->message = NULL;
    return id;
}

static uint64_t post(struct fx *fx, uint64_t author, const char *content)
{
    struct hs_msg_create op = {.channel_id = fx->chan, .author_id = author, .content = content};
    int rc;
    hs_error err;
    uint64_t id = post_full(fx, &op, &rc, &err);
    if (rc)
        fail_msg("post: %s", err.msg);
    return id;
}

/* Inserts a message with a crafted id (e.g. one of the past). */
static void insert_message(struct fx *fx, uint64_t id, const char *content)
{
    (void)content;
    run_sql(fx, "INSERT INTO messages (channel_id, id, author_id, content) VALUES (?, ?, ?, 'old')",
            3, (int64_t)fx->chan, (int64_t)id, (int64_t)fx->member, 0);
}

static int bulk(struct fx *fx, uint64_t actor, const uint64_t *ids, size_t n, size_t *deleted,
                hs_error *err)
{
    struct hs_msg_bulk_delete op = {
        .channel_id = fx->chan, .actor_id = actor, .ids = ids, .nids = n};
    hs_error_clear(err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_msg_bulk_delete_fn, &op, err);
    *deleted = op.deleted;
    return rc;
}

/* ---- bulk delete ---- */

static void test_bulk_delete_two_week_rule(void **state)
{
    struct fx *fx = *state;
    uint64_t now = hs_now_ms();
    /* A minute inside the window, and a minute outside it. */
    uint64_t young = hs_snowflake_from_unix_ms(now - 14 * DAY_MS + 60000) | 5;
    uint64_t old = hs_snowflake_from_unix_ms(now - 14 * DAY_MS - 60000) | 5;
    uint64_t fresh = post(fx, fx->member, "fresh");
    insert_message(fx, young, "young");
    insert_message(fx, old, "old");
    hs_error err;
    size_t deleted;

    uint64_t with_old[] = {fresh, young, old};
    assert_int_equal(bulk(fx, fx->owner, with_old, 3, &deleted, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_MESSAGE_TOO_OLD);
    /* Nothing was deleted, not even the ids checked before the old one. */
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM messages WHERE channel_id = ?", fx->chan), 3);
    /* An unknown id is judged by its own timestamp too. */
    uint64_t unknown_old[] = {fresh, old + 1};
    assert_int_equal(bulk(fx, fx->owner, unknown_old, 2, &deleted, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_MESSAGE_TOO_OLD);

    uint64_t ok_ids[] = {fresh, young, hs_snowflake_from_unix_ms(now) | 77};
    assert_int_equal(bulk(fx, fx->owner, ok_ids, 3, &deleted, &err), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM messages WHERE channel_id = ?", fx->chan), 1);
    /* One audit entry, with the count actually deleted. */
    assert_int_equal(
        tk_count_u64(fx->core,
                     "SELECT count(*) FROM audit_log WHERE action_type = 73 AND guild_id = ?",
                     fx->guild),
        1);
}

static void test_bulk_delete_needs_manage_messages(void **state)
{
    struct fx *fx = *state;
    uint64_t a = post(fx, fx->member, "a"), b = post(fx, fx->member, "b");
    uint64_t ids[] = {a, b};
    hs_error err;
    size_t deleted;
    assert_int_equal(bulk(fx, fx->member, ids, 2, &deleted, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    /* Nothing there at all: success, no event, no audit entry. */
    uint64_t none[] = {hs_snowflake_from_unix_ms(hs_now_ms()) | 1,
                       hs_snowflake_from_unix_ms(hs_now_ms()) | 2};
    assert_int_equal(bulk(fx, fx->owner, none, 2, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM audit_log WHERE action_type = ?", 73), 0);
}

/* ---- nonces ---- */

static void test_nonce_window(void **state)
{
    struct fx *fx = *state;
    json_t *nonce = json_string("abc");
    struct hs_msg_create op = {.channel_id = fx->chan,
                               .author_id = fx->member,
                               .content = "x",
                               .nonce = nonce,
                               .enforce_nonce = 1};
    int rc;
    hs_error err;
    uint64_t first = post_full(fx, &op, &rc, &err);
    assert_int_equal(rc, 0);
    assert_false(op.deduplicated);
    uint64_t again = post_full(fx, &op, &rc, &err);
    assert_true(op.deduplicated);
    assert_true(again == first);
    /* Aged past the window, the nonce no longer binds. */
    run_sql(fx, "UPDATE nonces SET created_at = created_at - ? WHERE message_id = ?", 2,
            HS_MSG_NONCE_WINDOW_MS + 1000, (int64_t)first, 0, 0);
    op.deduplicated = 0;
    uint64_t later = post_full(fx, &op, &rc, &err);
    assert_false(op.deduplicated);
    assert_true(later != first);
    /* A JSON integer and the same digits as a string are one nonce. */
    json_t *i = json_integer(77), *s = json_string("77");
    op.nonce = i;
    uint64_t n1 = post_full(fx, &op, &rc, &err);
    op.nonce = s;
    uint64_t n2 = post_full(fx, &op, &rc, &err);
    assert_true(n1 == n2);
    /* Without enforce_nonce nothing is remembered. */
    int64_t rows =
        tk_count_u64(fx->core, "SELECT count(*) FROM nonces WHERE author_id = ?", fx->member);
    op.enforce_nonce = 0;
    op.nonce = json_string("fresh");
    post_full(fx, &op, &rc, &err);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM nonces WHERE author_id = ?", fx->member),
        rows);
    json_decref(op.nonce);
    json_decref(i);
    json_decref(s);
    json_decref(nonce);
}

/* ---- pins ---- */

static int pin(struct fx *fx, uint64_t actor, uint64_t msg, int on, hs_error *err)
{
    struct hs_pin op = {.channel_id = fx->chan, .message_id = msg, .actor_id = actor, .pin = on};
    hs_error_clear(err);
    return hs_writer_run(hs_core_writer(fx->core), hs_pin_fn, &op, err);
}

static void test_pins_limit_order_and_paging(void **state)
{
    struct fx *fx = *state;
    uint64_t ids[HS_MSG_MAX_PINS + 1];
    hs_error err;
    for (int i = 0; i <= HS_MSG_MAX_PINS; i++)
        ids[i] = post(fx, fx->member, "pin");
    /* The member lacks PIN_MESSAGES and MANAGE_MESSAGES. */
    assert_int_equal(pin(fx, fx->member, ids[0], 1, &err), HS_EPERM);
    for (int i = 0; i < HS_MSG_MAX_PINS; i++)
        if (pin(fx, fx->owner, ids[i], 1, &err) != 0)
            fail_msg("pin %d: %s", i, err.msg);
    assert_int_equal(pin(fx, fx->owner, ids[HS_MSG_MAX_PINS], 1, &err), HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_MAX_PINS);
    /* pinned_at is unique per channel even for pins within one millisecond. */
    assert_int_equal(
        tk_count_u64(fx->core,
                     "SELECT count(DISTINCT pinned_at) FROM messages WHERE channel_id = "
                     "? AND pinned_at IS NOT NULL",
                     fx->chan),
        HS_MSG_MAX_PINS);
    /* Paging by pinned_at: every pin exactly once, newest first. */
    int more = 1, seen = 0;
    uint64_t before = 0, last_at = UINT64_MAX;
    while (more) {
        json_t *items = hs_pins_list(tk_rdb(fx->core), fx->chan, fx->owner, before, 7, &more);
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
            uint64_t id = tk_json_id(json_object_get(item, "message"), "id");
            assert_true(id == ids[HS_MSG_MAX_PINS - 1 - seen]);
            seen++;
        }
        assert_true(json_array_size(items) > 0);
        /* Next page: before the last pinned_at of this one (ms, from the row). */
        uint64_t at = (uint64_t)tk_count_u64(
            fx->core, "SELECT pinned_at FROM messages WHERE id = ?",
            tk_json_id(
                json_object_get(json_array_get(items, json_array_size(items) - 1), "message"),
                "id"));
        assert_true(at < last_at);
        last_at = before = at;
        json_decref(items);
    }
    assert_int_equal(seen, HS_MSG_MAX_PINS);
    /* A pin notice for each, none of them pinnable. */
    assert_int_equal(tk_count_u64(fx->core,
                                  "SELECT count(*) FROM messages WHERE type = 6 AND channel_id = ?",
                                  fx->chan),
                     HS_MSG_MAX_PINS);
    assert_int_equal(pin(fx, fx->owner, ids[0], 0, &err), 0);
    uint64_t notice = (uint64_t)tk_count_u64(
        fx->core, "SELECT max(id) FROM messages WHERE type = 6 AND channel_id = ?", fx->chan);
    assert_int_equal(pin(fx, fx->owner, notice, 1, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_SYSTEM_MESSAGE);
    struct hs_msg_edit edit = {.channel_id = fx->chan,
                               .message_id = notice,
                               .actor_id = fx->owner,
                               .content = "forged",
                               .max_chars = 2000};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_edit_fn, &edit, &err),
                     HS_EINVAL);
    assert_int_equal(err.reason, HS_R_SYSTEM_MESSAGE);
}

/* ---- reactions ---- */

static int react(struct fx *fx, uint64_t actor, uint64_t msg, const char *emoji, int op_kind,
                 uint64_t user, hs_error *err)
{
    struct hs_reaction op = {.channel_id = fx->chan,
                             .message_id = msg,
                             .actor_id = actor,
                             .user_id = user,
                             .emoji = emoji,
                             .op = op_kind};
    hs_error_clear(err);
    return hs_writer_run(hs_core_writer(fx->core), hs_reaction_fn, &op, err);
}

static const char *reaction_name(json_t *m, size_t i)
{
    return json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(m, "reactions"), i), "emoji"), "name"));
}

static void test_reactions_order_and_limit(void **state)
{
    struct fx *fx = *state;
    uint64_t msg = post(fx, fx->owner, "react");
    hs_error err;
    char emoji[HS_MSG_MAX_REACTIONS + 1][8];
    for (int i = 0; i <= HS_MSG_MAX_REACTIONS; i++)
        snprintf(emoji[i], sizeof(emoji[i]), "\xF0\x9F\x98%c", (char)(0x80 + i));
    for (int i = 0; i < HS_MSG_MAX_REACTIONS; i++)
        assert_int_equal(react(fx, fx->owner, msg, emoji[i], HS_REACT_ADD, 0, &err), 0);
    assert_int_equal(react(fx, fx->owner, msg, emoji[HS_MSG_MAX_REACTIONS], HS_REACT_ADD, 0, &err),
                     HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_MAX_REACTIONS);
    /* The first emoji keeps its place while anyone still reacts with it. */
    assert_int_equal(react(fx, fx->member, msg, emoji[0], HS_REACT_ADD, 0, &err), 0);
    assert_int_equal(react(fx, fx->owner, msg, emoji[0], HS_REACT_REMOVE_OWN, 0, &err), 0);
    json_t *m = hs_msg_json(tk_rdb(fx->core), fx->chan, msg, fx->member);
    assert_string_equal(reaction_name(m, 0), emoji[0]);
    assert_true(
        json_is_true(json_object_get(json_array_get(json_object_get(m, "reactions"), 0), "me")));
    json_decref(m);
    /* Gone entirely and back: it goes to the end. */
    assert_int_equal(react(fx, fx->member, msg, emoji[0], HS_REACT_REMOVE_OWN, 0, &err), 0);
    assert_int_equal(react(fx, fx->member, msg, emoji[0], HS_REACT_ADD, 0, &err), 0);
    m = hs_msg_json(tk_rdb(fx->core), fx->chan, msg, 0);
    assert_string_equal(reaction_name(m, HS_MSG_MAX_REACTIONS - 1), emoji[0]);
    assert_string_equal(reaction_name(m, 0), emoji[1]);
    json_decref(m);
    /* Removing someone else's takes MANAGE_MESSAGES; removing what is not there is no
     * change; every kind of removal on an unknown message is 10008. */
    assert_int_equal(react(fx, fx->member, msg, emoji[1], HS_REACT_REMOVE_USER, fx->owner, &err),
                     HS_EPERM);
    assert_int_equal(react(fx, fx->member, msg, emoji[1], HS_REACT_REMOVE_EMOJI, 0, &err),
                     HS_EPERM);
    assert_int_equal(react(fx, fx->member, msg, NULL, HS_REACT_REMOVE_ALL, 0, &err), HS_EPERM);
    assert_int_equal(react(fx, fx->member, msg, emoji[1], HS_REACT_REMOVE_OWN, 0, &err), 0);
    assert_int_equal(react(fx, fx->owner, msg + 1, emoji[1], HS_REACT_REMOVE_OWN, 0, &err),
                     HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MESSAGE);
    assert_int_equal(react(fx, fx->owner, msg, "x", HS_REACT_ADD, 0, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_INVALID_EMOJI);
    assert_int_equal(react(fx, fx->owner, msg, NULL, HS_REACT_REMOVE_ALL, 0, &err), 0);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM reactions WHERE message_id = ?", msg), 0);
    /* Reactions go with their message. */
    assert_int_equal(react(fx, fx->owner, msg, emoji[2], HS_REACT_ADD, 0, &err), 0);
    struct hs_msg_delete del = {.channel_id = fx->chan, .message_id = msg, .actor_id = fx->owner};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err), 0);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM reactions WHERE message_id = ?", msg), 0);
}

static void test_reaction_users_paging(void **state)
{
    struct fx *fx = *state;
    uint64_t msg = post(fx, fx->owner, "who");
    hs_error err;
    assert_int_equal(react(fx, fx->member, msg, "\xE2\xAD\x90", HS_REACT_ADD, 0, &err), 0);
    assert_int_equal(react(fx, fx->owner, msg, "\xE2\xAD\x90", HS_REACT_ADD, 0, &err), 0);
    json_t *users = NULL;
    assert_int_equal(
        hs_reaction_users(tk_rdb(fx->core), fx->chan, msg, "\xE2\xAD\x90", 0, 100, &users, &err),
        0);
    assert_int_equal(json_array_size(users), 2);
    uint64_t first = tk_json_id(json_array_get(users, 0), "id");
    uint64_t second = tk_json_id(json_array_get(users, 1), "id");
    assert_true(first < second);
    json_decref(users);
    assert_int_equal(hs_reaction_users(tk_rdb(fx->core), fx->chan, msg, "\xE2\xAD\x90", first, 100,
                                       &users, &err),
                     0);
    assert_int_equal(json_array_size(users), 1);
    assert_true(tk_json_id(json_array_get(users, 0), "id") == second);
    json_decref(users);
    assert_int_equal(hs_reaction_users(tk_rdb(fx->core), fx->chan, msg, "\xE2\xAD\x90", UINT64_MAX,
                                       100, &users, &err),
                     0);
    assert_int_equal(json_array_size(users), 0);
    json_decref(users);
    assert_int_equal(
        hs_reaction_users(tk_rdb(fx->core), fx->chan, msg + 1, "\xE2\xAD\x90", 0, 10, &users, &err),
        HS_ENOTFOUND);
}

/* ---- replies ---- */

static void test_reply_to_deleted_and_missing(void **state)
{
    struct fx *fx = *state;
    uint64_t target = post(fx, fx->member, "target");
    struct hs_msg_reference ref = {.message_id = target, .fail_if_not_exists = 1};
    struct hs_msg_create op = {
        .channel_id = fx->chan, .author_id = fx->owner, .content = "re", .reference = &ref};
    int rc;
    hs_error err;
    uint64_t reply = post_full(fx, &op, &rc, &err);
    assert_int_equal(rc, 0);
    json_t *m = hs_msg_json(tk_rdb(fx->core), fx->chan, reply, 0);
    assert_int_equal(json_integer_value(json_object_get(m, "type")), HS_MSG_REPLY);
    assert_true(tk_json_id(json_object_get(m, "referenced_message"), "id") == target);
    json_decref(m);
    struct hs_msg_delete del = {
        .channel_id = fx->chan, .message_id = target, .actor_id = fx->member};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err), 0);
    m = hs_msg_json(tk_rdb(fx->core), fx->chan, reply, 0);
    assert_true(json_is_null(json_object_get(m, "referenced_message")));
    assert_true(tk_json_id(json_object_get(m, "message_reference"), "message_id") == target);
    json_decref(m);
    /* Now the target is missing. */
    post_full(fx, &op, &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.form_code, "MESSAGE_REFERENCE_UNKNOWN_MESSAGE");
    ref.fail_if_not_exists = 0;
    uint64_t plain = post_full(fx, &op, &rc, &err);
    assert_int_equal(rc, 0);
    m = hs_msg_json(tk_rdb(fx->core), fx->chan, plain, 0);
    assert_int_equal(json_integer_value(json_object_get(m, "type")), 0);
    assert_null(json_object_get(m, "message_reference"));
    json_decref(m);
    /* A moderator's deletion of someone else's message is audited; one's own is not. */
    uint64_t theirs = post(fx, fx->member, "theirs");
    del =
        (struct hs_msg_delete){.channel_id = fx->chan, .message_id = plain, .actor_id = fx->member};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err),
                     HS_EPERM);
    del.actor_id = fx->owner;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err), 0);
    assert_int_equal(
        tk_count_u64(fx->core,
                     "SELECT count(*) FROM audit_log WHERE action_type = 72 AND guild_id = ?",
                     fx->guild),
        0);
    del = (struct hs_msg_delete){
        .channel_id = fx->chan, .message_id = theirs, .actor_id = fx->owner, .reason = "tidy"};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_delete_fn, &del, &err), 0);
    assert_int_equal(
        tk_count_u64(fx->core,
                     "SELECT count(*) FROM audit_log WHERE action_type = 72 AND reason = "
                     "'tidy' AND target_id = ?",
                     fx->member),
        1);
}

/* History cursors beyond 63 bits are clamped, not bound as negative numbers. */
static void test_history_cursors_clamped(void **state)
{
    struct fx *fx = *state;
    uint64_t a = post(fx, fx->owner, "a"), b = post(fx, fx->owner, "b");
    struct hs_history_query q = {.before = UINT64_MAX, .limit = 50};
    json_t *page = hs_msg_history(tk_rdb(fx->core), fx->chan, &q, 0);
    assert_int_equal(json_array_size(page), 2);
    assert_true(tk_json_id(json_array_get(page, 0), "id") == b);
    json_decref(page);
    q = (struct hs_history_query){.around = UINT64_MAX, .limit = 2};
    page = hs_msg_history(tk_rdb(fx->core), fx->chan, &q, 0);
    assert_int_equal(json_array_size(page), 1);
    assert_true(tk_json_id(json_array_get(page, 0), "id") == b);
    json_decref(page);
    q = (struct hs_history_query){.after = a, .limit = 50};
    page = hs_msg_history(tk_rdb(fx->core), fx->chan, &q, 0);
    assert_int_equal(json_array_size(page), 1);
    json_decref(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emoji_check),
        cmocka_unit_test_setup_teardown(test_bulk_delete_two_week_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_delete_needs_manage_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pins_limit_order_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reactions_order_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reaction_users_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_to_deleted_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_cursors_clamped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
