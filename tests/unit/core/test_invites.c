/*
 * Unit tests for hs_invites.h and hs_dms.h through a real core: invite codes, creation
 * rules and permissions, reuse of equivalent invites, expiry and use counting, joining
 * (banned users, members already), deletion rights, the events and audit entries the
 * writes record; DMs (one per pair, who may open one, closing and reopening) and group
 * DMs (the recipient limit, adding, removing, ownership).
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
#include <sodium.h>

#include "hs_accounts.h"
#include "hs_channels.h"
#include "hs_core.h"
#include "hs_dms.h"
#include "hs_guilds.h"
#include "hs_invites.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_time.h"
#include "hs_util.h"

#include "testkit.h"

#define UNKNOWN_ID ((uint64_t)424242)

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, member, outsider;
    uint64_t guild, general;
    int nusers;
};

static uint64_t register_user(struct fx *fx)
{
    char tok[HS_TOKEN_MAX], name[32];
    uint64_t uid = 0;
    hs_error err;
    snprintf(name, sizeof(name), "user%d", ++fx->nusers);
    if (hs_account_register(fx->core, name, "a long password", NULL, tok, &uid, &err) != 0)
        fail_msg("register %s: %s", name, err.msg);
    return uid;
}

struct sql_op {
    char *sql;
};

/* An unlimited invite of the owner's to general (fresh each time: unique). */
static char *make_invite(struct fx *fx, int max_age, int max_uses)
{
    struct hs_invite_create op = {.channel_id = fx->general,
                                  .actor_id = fx->owner,
                                  .max_age = max_age,
                                  .max_uses = max_uses,
                                  .unique = 1};
    hs_error err;
    if (tk_run(fx->core, hs_invite_create_fn, &op, &err) != 0)
        fail_msg("invite: %s", err.msg);
    char *code = hs_xstrdup(json_string_value(json_object_get(op.invite, "code")));
    json_decref(op.invite);
    return code;
}

static int join(struct fx *fx, const char *code, uint64_t user, int *joined, hs_error *err)
{
    struct hs_invite_accept op = {.code = code, .user_id = user};
    int rc = tk_run(fx->core, hs_invite_accept_fn, &op, err);
    if (joined)
        *joined = op.joined;
    json_decref(op.invite);
    return rc;
}

/* Adds a user to the guild through an invite. */
static void add_member(struct fx *fx, uint64_t user)
{
    char *code = make_invite(fx, 0, 0);
    hs_error err;
    if (join(fx, code, user, NULL, &err) != 0)
        fail_msg("join: %s", err.msg);
    free(code);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fx->core = tk_core_open(fx->dir, &fx->cfg, "invites");
    *state = fx;
    fx->owner = register_user(fx);
    fx->member = register_user(fx);
    fx->outsider = register_user(fx);
    fx->guild = tk_guild(fx->core, fx->owner, "Invite Guild", &fx->general);
    add_member(fx, fx->member);
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tk_core_close(fx->core, &fx->cfg, fx->dir);
    free(fx);
    return 0;
}

static uint64_t make_channel(struct fx *fx, const char *name, int type)
{
    struct hs_channel_create op = {
        .guild_id = fx->guild, .actor_id = fx->owner, .name = name, .type = type, .position = -1};
    hs_error err;
    if (tk_run(fx->core, hs_channel_create_fn, &op, &err) != 0)
        fail_msg("channel: %s", err.msg);
    uint64_t id = tk_json_id(op.channel, "id");
    json_decref(op.channel);
    return id;
}

static long long invites_in_guild(struct fx *fx)
{
    return tk_count(fx->core, "SELECT count(*) FROM invites WHERE guild_id = %" PRIu64, fx->guild);
}

/* ------------------------------------------------------------------ codes */

static int cmp_code(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_codes(void **state)
{
    (void)state;
    enum { N = 3000 };
    static char codes[N][HS_INVITE_CODE_MAX + 1];
    int lengths[HS_INVITE_CODE_MAX + 1] = {0};
    for (int i = 0; i < N; i++) {
        hs_invite_code_new(codes[i]);
        size_t len = strlen(codes[i]);
        assert_in_range(len, HS_INVITE_CODE_MIN, HS_INVITE_CODE_MAX);
        lengths[len]++;
        for (size_t j = 0; j < len; j++) {
            char c = codes[i][j];
            assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
        }
        assert_true(hs_invite_code_ok(codes[i]));
    }
    for (int len = HS_INVITE_CODE_MIN; len <= HS_INVITE_CODE_MAX; len++)
        assert_true(lengths[len] > N / 6); /* each length about a third of the time */
    qsort(codes, N, sizeof(codes[0]), cmp_code);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(codes[i - 1], codes[i]) != 0);

    assert_true(hs_invite_code_ok("abc-DEF09"));
    assert_false(hs_invite_code_ok(""));
    assert_false(hs_invite_code_ok("a b"));
    assert_false(hs_invite_code_ok("abc!"));
    assert_false(hs_invite_code_ok("abc/def"));
    assert_false(hs_invite_code_ok("0123456789012345678901234567890123"));
}

/* ------------------------------------------------------------------ creation */

static void test_create_shape_events_audit(void **state)
{
    struct fx *fx = *state;
    struct hs_invite_create op = {.channel_id = fx->general,
                                  .actor_id = fx->owner,
                                  .max_age = 3600,
                                  .max_uses = 7,
                                  .temporary = 1,
                                  .reason = "for friends"};
    hs_error err;
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &op, &err), 0);
    assert_int_equal(op.created, 1);
    json_t *inv = op.invite;
    const char *code = json_string_value(json_object_get(inv, "code"));
    assert_non_null(code);
    assert_int_equal(json_integer_value(json_object_get(inv, "type")), 0);
    assert_int_equal(json_integer_value(json_object_get(inv, "max_age")), 3600);
    assert_int_equal(json_integer_value(json_object_get(inv, "max_uses")), 7);
    assert_int_equal(json_integer_value(json_object_get(inv, "uses")), 0);
    assert_true(json_is_true(json_object_get(inv, "temporary")));
    assert_int_equal(tk_json_id(json_object_get(inv, "guild"), "id"), fx->guild);
    assert_string_equal(json_string_value(json_object_get(json_object_get(inv, "guild"), "name")),
                        "Invite Guild");
    assert_int_equal(tk_json_id(json_object_get(inv, "channel"), "id"), fx->general);
    assert_string_equal(json_string_value(json_object_get(json_object_get(inv, "channel"), "name")),
                        "general");
    assert_int_equal(tk_json_id(json_object_get(inv, "inviter"), "id"), fx->owner);

    /* expires_at is created_at + max_age, both from the row. */
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(hs_db_handle(tk_rdb(fx->core)),
                                        "SELECT created_at, expires_at FROM invites WHERE code = ?",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    uint64_t created = (uint64_t)sqlite3_column_int64(s, 0);
    uint64_t expires = (uint64_t)sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    assert_int_equal(expires, created + 3600 * 1000);
    char iso[HS_ISO8601_LEN];
    hs_iso8601(created, iso);
    assert_string_equal(json_string_value(json_object_get(inv, "created_at")), iso);
    hs_iso8601(expires, iso);
    assert_string_equal(json_string_value(json_object_get(inv, "expires_at")), iso);

    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'INVITE_CREATE' AND "
                              "channel_id = %" PRIu64 " AND guild_id = %" PRIu64
                              " AND json_extract(data, '$.code') = '%s' AND "
                              "json_extract(data, '$.max_uses') = 7",
                              fx->general, fx->guild, code),
                     1);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM audit_log WHERE action_type = 40 AND reason = "
                              "'for friends' AND user_id = %" PRIu64
                              " AND changes LIKE '%%\"new_value\":\"%s\"%%'",
                              fx->owner, code),
                     1);
    json_decref(inv);

    /* max_age 0: never expires. */
    struct hs_invite_create forever = {
        .channel_id = fx->general, .actor_id = fx->owner, .max_age = 0, .unique = 1};
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &forever, &err), 0);
    assert_true(json_is_null(json_object_get(forever.invite, "expires_at")));
    json_t *got = NULL;
    assert_int_equal(hs_invite_get(tk_rdb(fx->core),
                                   json_string_value(json_object_get(forever.invite, "code")),
                                   hs_now_ms() + 365ULL * 86400000, 0, &got, &err),
                     0);
    json_decref(got);
    json_decref(forever.invite);
}

static void expect_create_fails(struct fx *fx, struct hs_invite_create *op, int reason,
                                const char *field)
{
    long long before = invites_in_guild(fx);
    long long events = tk_count(fx->core, "SELECT count(*) FROM events");
    hs_error err;
    assert_true(tk_run(fx->core, hs_invite_create_fn, op, &err) < 0);
    assert_int_equal(err.reason, reason);
    if (field)
        assert_string_equal(err.field, field);
    json_decref(op->invite);
    op->invite = NULL;
    assert_int_equal(invites_in_guild(fx), before);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM events"), events);
}

static void test_create_refusals(void **state)
{
    struct fx *fx = *state;
    struct hs_invite_create op = {.channel_id = fx->general, .actor_id = fx->outsider};
    expect_create_fails(fx, &op, HS_R_MISSING_ACCESS, NULL);
    op = (struct hs_invite_create){.channel_id = UNKNOWN_ID, .actor_id = fx->owner};
    expect_create_fails(fx, &op, HS_R_UNKNOWN_CHANNEL, NULL);
    op = (struct hs_invite_create){.channel_id = make_channel(fx, "Cat", HS_CHANNEL_CATEGORY),
                                   .actor_id = fx->owner};
    expect_create_fails(fx, &op, HS_R_CHANNEL_TYPE, NULL);
    op = (struct hs_invite_create){
        .channel_id = fx->general, .actor_id = fx->owner, .max_age = HS_INVITE_MAX_AGE + 1};
    expect_create_fails(fx, &op, HS_R_FORM, "max_age");
    op = (struct hs_invite_create){
        .channel_id = fx->general, .actor_id = fx->owner, .max_uses = HS_INVITE_MAX_USES + 1};
    expect_create_fails(fx, &op, HS_R_FORM, "max_uses");
    op =
        (struct hs_invite_create){.channel_id = fx->general, .actor_id = fx->owner, .max_uses = -1};
    expect_create_fails(fx, &op, HS_R_FORM, "max_uses");

    /* A voice channel takes invites. */
    uint64_t voice = make_channel(fx, "Voice", HS_CHANNEL_VOICE);
    op = (struct hs_invite_create){.channel_id = voice, .actor_id = fx->member, .unique = 1};
    hs_error err;
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &op, &err), 0);
    json_decref(op.invite);

    /* Without CREATE_INSTANT_INVITE in @everyone a member may not; the owner still may. */
    tk_sql(fx->core, "UPDATE roles SET permissions = %llu WHERE id = %" PRIu64,
           (unsigned long long)(HS_PERM_DEFAULT_EVERYONE & ~HS_PERM_CREATE_INSTANT_INVITE),
           fx->guild);
    op = (struct hs_invite_create){.channel_id = fx->general, .actor_id = fx->member};
    expect_create_fails(fx, &op, HS_R_MISSING_PERMISSIONS, NULL);
    /* ... unless a channel overwrite gives it back to them. */
    tk_sql(fx->core,
           "INSERT INTO overwrites (channel_id, target_id, type, allow, deny) VALUES (%" PRIu64
           ", %" PRIu64 ", 1, %llu, 0)",
           fx->general, fx->member, (unsigned long long)HS_PERM_CREATE_INSTANT_INVITE);
    op = (struct hs_invite_create){.channel_id = fx->general, .actor_id = fx->member};
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &op, &err), 0);
    json_decref(op.invite);
}

static void test_unique_false_reuses(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    struct hs_invite_create a = {
        .channel_id = fx->general, .actor_id = fx->owner, .max_age = 600, .max_uses = 3};
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &a, &err), 0);
    long long events = tk_count(fx->core, "SELECT count(*) FROM events");
    struct hs_invite_create b = a;
    b.invite = NULL;
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &b, &err), 0);
    assert_int_equal(b.created, 0);
    assert_string_equal(json_string_value(json_object_get(a.invite, "code")),
                        json_string_value(json_object_get(b.invite, "code")));
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM events"),
                     events); /* nothing recorded */

    /* Other settings, another inviter, or unique: a new code each. */
    struct hs_invite_create others[] = {
        {.channel_id = fx->general, .actor_id = fx->owner, .max_age = 601, .max_uses = 3},
        {.channel_id = fx->general, .actor_id = fx->owner, .max_age = 600, .max_uses = 4},
        {.channel_id = fx->general,
         .actor_id = fx->owner,
         .max_age = 600,
         .max_uses = 3,
         .temporary = 1},
        {.channel_id = fx->general, .actor_id = fx->member, .max_age = 600, .max_uses = 3},
        {.channel_id = fx->general,
         .actor_id = fx->owner,
         .max_age = 600,
         .max_uses = 3,
         .unique = 1},
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &others[i], &err), 0);
        assert_int_equal(others[i].created, 1);
        assert_string_not_equal(json_string_value(json_object_get(a.invite, "code")),
                                json_string_value(json_object_get(others[i].invite, "code")));
        json_decref(others[i].invite);
    }
    /* A used-up equivalent is not reused. */
    struct hs_invite_create one = {
        .channel_id = fx->general, .actor_id = fx->owner, .max_age = 0, .max_uses = 1};
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &one, &err), 0);
    uint64_t joiner = register_user(fx);
    assert_int_equal(
        join(fx, json_string_value(json_object_get(one.invite, "code")), joiner, NULL, &err), 0);
    struct hs_invite_create again = one;
    again.invite = NULL;
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &again, &err), 0);
    assert_int_equal(again.created, 1);
    json_decref(one.invite);
    json_decref(again.invite);
    json_decref(a.invite);
    json_decref(b.invite);
}

/* ------------------------------------------------------------------ reading */

static void test_expiry_and_lists(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    struct hs_invite_create op = {
        .channel_id = fx->general, .actor_id = fx->owner, .max_age = 10, .unique = 1};
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &op, &err), 0);
    char *code = hs_xstrdup(json_string_value(json_object_get(op.invite, "code")));
    json_decref(op.invite);
    long long created =
        tk_count(fx->core, "SELECT created_at FROM invites WHERE code = '%s'", code);

    json_t *got = NULL;
    assert_int_equal(hs_invite_get(tk_rdb(fx->core), code, (uint64_t)created + 9999, 1, &got, &err),
                     0);
    assert_int_equal(json_integer_value(json_object_get(got, "approximate_member_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(got, "approximate_presence_count")), 0);
    json_decref(got);
    got = NULL;
    assert_int_equal(
        hs_invite_get(tk_rdb(fx->core), code, (uint64_t)created + 10000, 0, &got, &err),
        HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_INVITE);
    assert_null(got);
    assert_int_equal(
        hs_invite_get(tk_rdb(fx->core), "nosuchcode", (uint64_t)created, 0, &got, &err),
        HS_ENOTFOUND);
    assert_int_equal(hs_invite_get(tk_rdb(fx->core), "bad code!", (uint64_t)created, 0, &got, &err),
                     HS_ENOTFOUND);

    /* Lists show it while it lives, not after. */
    json_t *list = NULL;
    assert_int_equal(hs_invite_list_channel(tk_rdb(fx->core), fx->general, fx->owner,
                                            (uint64_t)created, &list, &err),
                     0);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        seen +=
            strcmp(json_string_value(json_object_get(json_array_get(list, i), "code")), code) == 0;
    assert_int_equal(seen, 1);
    json_decref(list);
    assert_int_equal(hs_invite_list_guild(tk_rdb(fx->core), fx->guild, fx->owner,
                                          (uint64_t)created + 10000, &list, &err),
                     0);
    for (size_t i = 0; i < json_array_size(list); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(list, i), "code")),
                                code);
    json_decref(list);

    /* Who may list. */
    list = NULL;
    assert_int_equal(
        hs_invite_list_channel(tk_rdb(fx->core), fx->general, fx->member, hs_now_ms(), &list, &err),
        HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(hs_invite_list_channel(tk_rdb(fx->core), fx->general, fx->outsider,
                                            hs_now_ms(), &list, &err),
                     HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    assert_int_equal(
        hs_invite_list_guild(tk_rdb(fx->core), fx->guild, fx->member, hs_now_ms(), &list, &err),
        HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(
        hs_invite_list_guild(tk_rdb(fx->core), UNKNOWN_ID, fx->owner, hs_now_ms(), &list, &err),
        HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_GUILD);
    assert_null(list);
    free(code);
}

/* ------------------------------------------------------------------ joining */

static void test_join_and_exhaust(void **state)
{
    struct fx *fx = *state;
    char *code = make_invite(fx, 0, 2);
    uint64_t u1 = register_user(fx), u2 = register_user(fx), u3 = register_user(fx);
    hs_error err;
    int joined = -1;
    long long members =
        tk_count(fx->core, "SELECT count(*) FROM members WHERE guild_id = %" PRIu64, fx->guild);

    struct hs_invite_accept op = {.code = code, .user_id = u1};
    assert_int_equal(tk_run(fx->core, hs_invite_accept_fn, &op, &err), 0);
    assert_int_equal(op.joined, 1);
    assert_int_equal(json_integer_value(json_object_get(op.invite, "uses")), 1);
    assert_int_equal(tk_json_id(json_object_get(op.invite, "guild"), "id"), fx->guild);
    json_decref(op.invite);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'GUILD_MEMBER_ADD' AND "
                              "guild_id = %" PRIu64
                              " AND json_extract(data, '$.user.id') = '%" PRIu64
                              "' AND json_extract(data, '$.guild_id') = '%" PRIu64 "'",
                              fx->guild, u1, fx->guild),
                     1);

    /* A member again: no use, no event. */
    long long events = tk_count(fx->core, "SELECT count(*) FROM events");
    assert_int_equal(join(fx, code, u1, &joined, &err), 0);
    assert_int_equal(joined, 0);
    assert_int_equal(tk_count(fx->core, "SELECT uses FROM invites WHERE code = '%s'", code), 1);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM events"), events);

    /* The last use deletes it (INVITE_DELETE); then it is unknown. */
    assert_int_equal(join(fx, code, u2, &joined, &err), 0);
    assert_int_equal(joined, 1);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM invites WHERE code = '%s'", code), 0);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'INVITE_DELETE' AND "
                              "channel_id = %" PRIu64 " AND json_extract(data, '$.code') = '%s'",
                              fx->general, code),
                     1);
    assert_int_equal(join(fx, code, u3, &joined, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_INVITE);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM members WHERE guild_id = %" PRIu64, fx->guild),
        members + 2);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM members WHERE user_id = %" PRIu64, u3), 0);
    free(code);
}

static void test_join_banned(void **state)
{
    struct fx *fx = *state;
    char *code = make_invite(fx, 0, 0);
    uint64_t u = register_user(fx);
    tk_sql(fx->core,
           "INSERT INTO bans (guild_id, user_id, created_at) VALUES (%" PRIu64 ", %" PRIu64 ", 1)",
           fx->guild, u);
    long long events = tk_count(fx->core, "SELECT count(*) FROM events");
    hs_error err;
    assert_int_equal(join(fx, code, u, NULL, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_BANNED);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM members WHERE user_id = %" PRIu64, u),
                     0);
    assert_int_equal(tk_count(fx->core, "SELECT uses FROM invites WHERE code = '%s'", code), 0);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM events"), events);
    /* Unbanned, they may. */
    tk_sql(fx->core, "DELETE FROM bans WHERE user_id = %" PRIu64, u);
    assert_int_equal(join(fx, code, u, NULL, &err), 0);
    free(code);
}

/* ------------------------------------------------------------------ deleting */

static void test_delete_rights(void **state)
{
    struct fx *fx = *state;
    char *code = make_invite(fx, 0, 0);
    hs_error err;
    struct hs_invite_delete op = {.code = code, .actor_id = fx->member};
    assert_int_equal(tk_run(fx->core, hs_invite_delete_fn, &op, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    op = (struct hs_invite_delete){.code = code, .actor_id = fx->outsider};
    assert_int_equal(tk_run(fx->core, hs_invite_delete_fn, &op, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM invites WHERE code = '%s'", code), 1);

    /* MANAGE_CHANNELS in the invite's channel is enough, MANAGE_GUILD is not needed ... */
    tk_sql(fx->core,
           "INSERT OR REPLACE INTO overwrites (channel_id, target_id, type, allow, deny) VALUES "
           "(%" PRIu64 ", %" PRIu64 ", 1, %llu, 0)",
           fx->general, fx->member, (unsigned long long)HS_PERM_MANAGE_CHANNELS);
    op = (struct hs_invite_delete){.code = code, .actor_id = fx->member, .reason = "spam"};
    assert_int_equal(tk_run(fx->core, hs_invite_delete_fn, &op, &err), 0);
    assert_string_equal(json_string_value(json_object_get(op.invite, "code")), code);
    json_decref(op.invite);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM invites WHERE code = '%s'", code), 0);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'INVITE_DELETE' AND "
                              "json_extract(data, '$.code') = '%s' AND json_extract(data, "
                              "'$.guild_id') = '%" PRIu64 "'",
                              code, fx->guild),
                     1);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM audit_log WHERE action_type = 42 AND reason = "
                              "'spam' AND changes LIKE '%%\"old_value\":\"%s\"%%'",
                              code),
                     1);
    op = (struct hs_invite_delete){.code = code, .actor_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_invite_delete_fn, &op, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_INVITE);

    /* ... but it does not reach the guild's list (MANAGE_GUILD) or other channels. */
    json_t *list = NULL;
    assert_int_equal(
        hs_invite_list_guild(tk_rdb(fx->core), fx->guild, fx->member, hs_now_ms(), &list, &err),
        HS_EPERM);
    uint64_t other = make_channel(fx, "other", HS_CHANNEL_TEXT);
    struct hs_invite_create c = {.channel_id = other, .actor_id = fx->owner, .unique = 1};
    assert_int_equal(tk_run(fx->core, hs_invite_create_fn, &c, &err), 0);
    op = (struct hs_invite_delete){.code = json_string_value(json_object_get(c.invite, "code")),
                                   .actor_id = fx->member};
    assert_int_equal(tk_run(fx->core, hs_invite_delete_fn, &op, &err), HS_EPERM);
    json_decref(c.invite);
    free(code);
}

/* ------------------------------------------------------------------ DMs */

static uint64_t open_dm(struct fx *fx, uint64_t a, uint64_t b, int *created)
{
    struct hs_dm_open op = {.actor_id = a, .recipient_id = b};
    hs_error err;
    if (tk_run(fx->core, hs_dm_open_fn, &op, &err) != 0)
        fail_msg("open dm: %s", err.msg);
    uint64_t id = tk_json_id(op.channel, "id");
    /* The actor sees the other one only. */
    json_t *rec = json_object_get(op.channel, "recipients");
    assert_int_equal(json_array_size(rec), 1);
    assert_int_equal(tk_json_id(json_array_get(rec, 0), "id"), b);
    assert_int_equal(json_integer_value(json_object_get(op.channel, "type")), HS_CHANNEL_DM);
    assert_null(json_object_get(op.channel, "guild_id"));
    if (created)
        *created = op.created;
    json_decref(op.channel);
    return id;
}

static int list_has(struct fx *fx, uint64_t user, uint64_t channel)
{
    json_t *list = hs_dm_list(tk_rdb(fx->core), user);
    int n = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        n += tk_json_id(json_array_get(list, i), "id") == channel;
    json_decref(list);
    return n;
}

static void test_dm_open(void **state)
{
    struct fx *fx = *state;
    int created = 0;
    uint64_t dm = open_dm(fx, fx->owner, fx->member, &created);
    assert_int_equal(created, 1);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'CHANNEL_CREATE' AND "
                              "channel_id = %" PRIu64 " AND guild_id IS NULL",
                              dm),
                     1);
    assert_int_equal(open_dm(fx, fx->owner, fx->member, &created), dm);
    assert_int_equal(created, 0);
    assert_int_equal(open_dm(fx, fx->member, fx->owner, &created), dm);
    assert_int_equal(created, 0);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM channels WHERE type = 1"), 1);
    assert_int_equal(list_has(fx, fx->owner, dm), 1);
    assert_int_equal(list_has(fx, fx->member, dm), 1);
    assert_int_equal(list_has(fx, fx->outsider, dm), 0);

    /* Only its recipients have access. */
    uint64_t perms = 0;
    hs_error err;
    assert_int_equal(hs_perm_channel(tk_rdb(fx->core), dm, fx->member, 0, &perms, &err), 0);
    assert_int_equal(perms, HS_PERM_DM);
    assert_int_equal(hs_perm_channel(tk_rdb(fx->core), dm, fx->outsider, 0, &perms, &err),
                     HS_EPERM);

    struct hs_dm_open op = {.actor_id = fx->owner, .recipient_id = fx->outsider};
    assert_int_equal(tk_run(fx->core, hs_dm_open_fn, &op, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_CANNOT_DM);
    op = (struct hs_dm_open){.actor_id = fx->owner, .recipient_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_dm_open_fn, &op, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_INVALID_RECIPIENT);
    op = (struct hs_dm_open){.actor_id = fx->owner, .recipient_id = UNKNOWN_ID};
    assert_int_equal(tk_run(fx->core, hs_dm_open_fn, &op, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_USER);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM channels WHERE type = 1"), 1);

    /* A DM outlives the shared guild: no longer members together, they may still open it. */
    assert_true(hs_dm_allowed(tk_rdb(fx->core), fx->owner, fx->member));
    tk_sql(fx->core, "DELETE FROM members WHERE user_id = %" PRIu64, fx->member);
    assert_true(hs_dm_allowed(tk_rdb(fx->core), fx->member, fx->owner));
    assert_int_equal(open_dm(fx, fx->member, fx->owner, NULL), dm);
    assert_false(hs_dm_allowed(tk_rdb(fx->core), fx->member, fx->outsider));

    /* Two bots never DM each other, even in a shared guild. */
    uint64_t b1 = register_user(fx), b2 = register_user(fx);
    tk_sql(fx->core, "UPDATE users SET bot = 1 WHERE id IN (%" PRIu64 ", %" PRIu64 ")", b1, b2);
    add_member(fx, b1);
    add_member(fx, b2);
    op = (struct hs_dm_open){.actor_id = b1, .recipient_id = b2};
    assert_int_equal(tk_run(fx->core, hs_dm_open_fn, &op, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_CANNOT_DM);
    /* A bot and a user sharing a guild may. */
    assert_int_not_equal(open_dm(fx, b1, fx->owner, NULL), 0);
}

static void post(struct fx *fx, uint64_t channel, uint64_t author, const char *content)
{
    struct hs_msg_create op = {
        .channel_id = channel, .author_id = author, .content = content, .max_chars = 2000};
    hs_error err;
    if (tk_run(fx->core, hs_msg_create_fn, &op, &err) != 0)
        fail_msg("post: %s", err.msg);
    json_decref(op.message);
}

static void test_dm_close_reopen(void **state)
{
    struct fx *fx = *state;
    uint64_t dm = open_dm(fx, fx->owner, fx->member, NULL);
    post(fx, dm, fx->member, "hello");
    hs_error err;
    struct hs_dm_close op = {.channel_id = dm, .actor_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_dm_close_fn, &op, &err), 0);
    assert_int_equal(tk_json_id(op.channel, "id"), dm);
    json_decref(op.channel);
    assert_int_equal(list_has(fx, fx->owner, dm), 0);
    assert_int_equal(list_has(fx, fx->member, dm), 1); /* the other side keeps it */
    uint64_t perms = 0;
    assert_int_equal(hs_perm_channel(tk_rdb(fx->core), dm, fx->owner, 0, &perms, &err), 0);

    /* A newer message shows it again. */
    post(fx, dm, fx->member, "are you there?");
    assert_int_equal(list_has(fx, fx->owner, dm), 1);
    /* Closed again, then opened again. */
    op = (struct hs_dm_close){.channel_id = dm, .actor_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_dm_close_fn, &op, &err), 0);
    json_decref(op.channel);
    assert_int_equal(list_has(fx, fx->owner, dm), 0);
    assert_int_equal(open_dm(fx, fx->owner, fx->member, NULL), dm);
    assert_int_equal(list_has(fx, fx->owner, dm), 1);

    /* Not for others, not for guild channels. */
    op = (struct hs_dm_close){.channel_id = dm, .actor_id = fx->outsider};
    assert_int_equal(tk_run(fx->core, hs_dm_close_fn, &op, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    op = (struct hs_dm_close){.channel_id = fx->general, .actor_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_dm_close_fn, &op, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_CHANNEL_TYPE);
    json_decref(op.channel);
}

/* ------------------------------------------------------------------ group DMs */

static int group_create(struct fx *fx, uint64_t actor, const uint64_t *ids, size_t n,
                        const char *name, uint64_t *channel, hs_error *err)
{
    struct hs_group_dm_create op = {
        .actor_id = actor, .recipients = ids, .nrecipients = n, .name = name};
    int rc = tk_run(fx->core, hs_group_dm_create_fn, &op, err);
    if (rc == 0 && channel)
        *channel = tk_json_id(op.channel, "id");
    json_decref(op.channel);
    return rc;
}

static long long recipients_of(struct fx *fx, uint64_t channel)
{
    return tk_count(fx->core, "SELECT count(*) FROM recipients WHERE channel_id = %" PRIu64,
                    channel);
}

static void test_group_dm(void **state)
{
    struct fx *fx = *state;
    uint64_t users[12];
    for (int i = 0; i < 12; i++) {
        users[i] = register_user(fx);
        add_member(fx, users[i]);
    }
    hs_error err;
    long long channels = tk_count(fx->core, "SELECT count(*) FROM channels");
    /* Ten others is one too many (the owner counts). */
    assert_int_equal(group_create(fx, fx->owner, users, 10, NULL, NULL, &err), HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_MAX_RECIPIENTS);
    assert_int_equal(group_create(fx, fx->owner, users, 0, NULL, NULL, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.field, "recipients");
    uint64_t with_outsider[] = {users[0], fx->outsider};
    assert_int_equal(group_create(fx, fx->owner, with_outsider, 2, NULL, NULL, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_CANNOT_DM);
    uint64_t unknown[] = {users[0], UNKNOWN_ID};
    assert_int_equal(group_create(fx, fx->owner, unknown, 2, NULL, NULL, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_USER);
    char longname[120];
    memset(longname, 'n', 101);
    longname[101] = '\0';
    assert_int_equal(group_create(fx, fx->owner, users, 2, longname, NULL, &err), HS_EINVAL);
    assert_string_equal(err.field, "name");
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM channels"), channels);

    /* Nine others, with duplicates and the owner repeated: ten recipients. */
    uint64_t nine[12];
    memcpy(nine, users, 9 * sizeof(uint64_t));
    nine[9] = users[0];
    nine[10] = fx->owner;
    nine[11] = users[8];
    uint64_t g = 0;
    assert_int_equal(group_create(fx, fx->owner, nine, 12, "The Group", &g, &err), 0);
    assert_int_equal(recipients_of(fx, g), 10);
    assert_int_equal(tk_count(fx->core, "SELECT owner_id FROM channels WHERE id = %" PRIu64, g),
                     (long long)fx->owner);
    assert_int_equal(list_has(fx, users[3], g), 1);

    /* Full: nobody more. */
    struct hs_dm_recipient r = {.channel_id = g, .actor_id = users[0], .user_id = users[9]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_MAX_RECIPIENTS);
    /* Adding someone already there changes nothing, even when full. */
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = users[0], .user_id = users[1]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), 0);
    assert_int_equal(r.changed, 0);

    /* Removing: not others unless owner; oneself always. */
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = users[0], .user_id = users[1]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_remove_fn, &r, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = users[0], .user_id = users[0]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_remove_fn, &r, &err), 0);
    assert_int_equal(recipients_of(fx, g), 9);
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = fx->owner, .user_id = users[1]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_remove_fn, &r, &err), 0);
    assert_int_equal(recipients_of(fx, g), 8);
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = fx->owner, .user_id = users[1]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_remove_fn, &r, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_USER);
    /* The removed one lost access. */
    uint64_t perms;
    assert_int_equal(hs_perm_channel(tk_rdb(fx->core), g, users[1], 0, &perms, &err), HS_EPERM);

    /* Adding: any recipient, someone they may DM, not a bot. */
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = users[2], .user_id = users[10]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), 0);
    assert_int_equal(r.changed, 1);
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT count(*) FROM events WHERE type = 'CHANNEL_RECIPIENT_ADD' AND "
                 "channel_id = %" PRIu64 " AND json_extract(data, '$.user.id') = '%" PRIu64 "'",
                 g, users[10]),
        1);
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = users[2], .user_id = fx->outsider};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_CANNOT_DM);
    tk_sql(fx->core, "UPDATE users SET bot = 1 WHERE id = %" PRIu64, users[11]);
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = users[2], .user_id = users[11]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_INVALID_RECIPIENT);
    r = (struct hs_dm_recipient){.channel_id = g, .actor_id = fx->outsider, .user_id = users[1]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    uint64_t dm = open_dm(fx, fx->owner, users[5], NULL);
    r = (struct hs_dm_recipient){.channel_id = dm, .actor_id = fx->owner, .user_id = users[6]};
    assert_int_equal(tk_run(fx->core, hs_dm_recipient_add_fn, &r, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_CHANNEL_TYPE);

    /* The owner leaves: the lowest remaining id owns it (CHANNEL_UPDATE). */
    struct hs_dm_close leave = {.channel_id = g, .actor_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_dm_close_fn, &leave, &err), 0);
    json_decref(leave.channel);
    long long heir =
        tk_count(fx->core, "SELECT min(user_id) FROM recipients WHERE channel_id = %" PRIu64, g);
    assert_int_equal(tk_count(fx->core, "SELECT owner_id FROM channels WHERE id = %" PRIu64, g),
                     heir);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'CHANNEL_UPDATE' AND "
                              "channel_id = %" PRIu64
                              " AND json_extract(data, '$.owner_id') = '%lld'",
                              g, heir),
                     1);
    /* Everyone leaves: the group DM is gone. */
    uint64_t left[16];
    size_t nleft = 0;
    sqlite3_stmt *s = NULL;
    char q[128];
    snprintf(q, sizeof(q), "SELECT user_id FROM recipients WHERE channel_id = %" PRIu64, g);
    assert_int_equal(sqlite3_prepare_v2(hs_db_handle(tk_rdb(fx->core)), q, -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW && nleft < 16)
        left[nleft++] = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    for (size_t i = 0; i < nleft; i++) {
        r = (struct hs_dm_recipient){.channel_id = g, .actor_id = left[i], .user_id = left[i]};
        assert_int_equal(tk_run(fx->core, hs_dm_recipient_remove_fn, &r, &err), 0);
    }
    assert_int_equal(tk_count(fx->core, "SELECT deleted FROM channels WHERE id = %" PRIu64, g), 1);
    struct hs_channel ch;
    assert_int_equal(hs_channel_get(tk_rdb(fx->core), g, &ch, &err), HS_ENOTFOUND);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test_setup_teardown(test_create_shape_events_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_false_reuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_and_exhaust, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_banned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dm_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dm_close_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_dm, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
