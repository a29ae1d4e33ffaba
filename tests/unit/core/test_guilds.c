/*
 * Unit tests for hs_guilds.h and hs_perm.h through a real core: the new guild (its
 * @everyone role, "general" system channel, owner membership), channel creation rules,
 * adding a bot (OAuth2 "bot" scope), the permission computation of spec/client-api.md
 * "Permissions until the roles issue lands", and the user's guild list.
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
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_util.h"

#include "testkit.h"

/* An id that names nothing in these tests (real ids are snowflakes of today). */
#define UNKNOWN_ID ((uint64_t)424242)

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, guild, general;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fx->core = tk_core_open(fx->dir, &fx->cfg, "guilds");
    fx->owner = tk_register(fx->core, "owner");
    fx->guild = tk_guild(fx->core, fx->owner, "Test Guild", &fx->general);
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

static uint64_t perms_of(struct fx *fx, uint64_t guild, uint64_t user, int *rc, hs_error *err)
{
    uint64_t p = 0xABCDEF;
    hs_error_clear(err);
    *rc = hs_perm_guild(tk_rdb(fx->core), guild, user, &p, err);
    return p;
}

/* An application owned by owner, and its bot's user id. */
static uint64_t create_app(struct fx *fx, uint64_t owner, const char *name, uint64_t *bot)
{
    struct hs_app_create op = {.owner_id = owner, .name = name};
    hs_error err;
    if (hs_writer_run(hs_core_writer(fx->core), hs_app_create_fn, &op, &err) != 0)
        fail_msg("app: %s", err.msg);
    *bot = tk_json_id(json_object_get(op.app, "bot"), "id");
    json_decref(op.app);
    return op.app_id;
}

static int authorize(struct fx *fx, uint64_t app, uint64_t actor, uint64_t guild, uint64_t perms,
                     int *added, hs_error *err)
{
    struct hs_bot_authorize op = {
        .app_id = app, .actor_id = actor, .guild_id = guild, .permissions = perms, .added = -1};
    hs_error_clear(err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_bot_authorize_fn, &op, err);
    if (added)
        *added = op.added;
    return rc;
}

static long long count(struct fx *fx, const char *sql, uint64_t bind)
{
    sqlite3_stmt *s = NULL;
    sqlite3 *db = hs_db_handle(tk_rdb(fx->core));
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (bind)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)bind);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* ---- tests ---- */

static void test_permission_constants(void **state)
{
    (void)state;
    /* DEFAULT_EVERYONE is exactly the bits spec/client-api.md lists. */
    const int bits[] = {0,  6,  9,  10, 11, 14, 15, 16, 18, 20, 21, 25, 26,
                        31, 32, 35, 36, 37, 38, 39, 42, 45, 46, 49, 50};
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        v |= (uint64_t)1 << bits[i];
    assert_int_equal(v, HS_PERM_DEFAULT_EVERYONE);
    assert_int_equal(HS_PERM_DEFAULT_EVERYONE, 1799872721571393ULL);
    assert_true(HS_PERM_DEFAULT_EVERYONE & HS_PERM_VIEW_CHANNEL);
    assert_true(HS_PERM_DEFAULT_EVERYONE & HS_PERM_SEND_MESSAGES);
    assert_true(HS_PERM_DEFAULT_EVERYONE & HS_PERM_READ_MESSAGE_HISTORY);
    assert_false(HS_PERM_DEFAULT_EVERYONE & HS_PERM_ADMINISTRATOR);
    assert_false(HS_PERM_DEFAULT_EVERYONE & HS_PERM_MANAGE_MESSAGES);
    assert_false(HS_PERM_DEFAULT_EVERYONE & HS_PERM_MANAGE_CHANNELS);
    /* ALL: bits 0..52 without 47. */
    assert_true(HS_PERM_ALL & HS_P(52));
    assert_false(HS_PERM_ALL & HS_P(53));
    assert_false(HS_PERM_ALL & HS_P(47));
    assert_int_equal(HS_PERM_DEFAULT_EVERYONE & ~HS_PERM_ALL, 0);
}

static void test_new_guild(void **state)
{
    struct fx *fx = *state;
    json_t *g = hs_guild_json(tk_rdb(fx->core), fx->guild, 1);
    assert_non_null(g);
    assert_string_equal(json_string_value(json_object_get(g, "name")), "Test Guild");
    assert_int_equal(tk_json_id(g, "owner_id"), fx->owner);
    assert_int_equal(tk_json_id(g, "system_channel_id"), fx->general);
    assert_int_equal(json_integer_value(json_object_get(g, "approximate_member_count")), 1);
    /* @everyone: the guild's id, Discord's default permissions as a string. */
    json_t *roles = json_object_get(g, "roles");
    assert_int_equal(json_array_size(roles), 1);
    json_t *everyone = json_array_get(roles, 0);
    assert_int_equal(tk_json_id(everyone, "id"), fx->guild);
    assert_string_equal(json_string_value(json_object_get(everyone, "name")), "@everyone");
    assert_string_equal(json_string_value(json_object_get(everyone, "permissions")),
                        "1799872721571393");
    assert_true(json_is_false(json_object_get(everyone, "managed")));
    json_decref(g);
    /* Without counts, no counts. */
    g = hs_guild_json(tk_rdb(fx->core), fx->guild, 0);
    assert_null(json_object_get(g, "approximate_member_count"));
    json_decref(g);
    assert_null(hs_guild_json(tk_rdb(fx->core), UNKNOWN_ID, 0));

    /* "general", a text channel at position 0. */
    json_t *c = hs_channel_json(tk_rdb(fx->core), fx->general);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "general");
    assert_int_equal(json_integer_value(json_object_get(c, "type")), HS_CHANNEL_TEXT);
    assert_int_equal(tk_json_id(c, "guild_id"), fx->guild);
    assert_int_equal(json_integer_value(json_object_get(c, "position")), 0);
    assert_true(json_is_null(json_object_get(c, "parent_id")));
    assert_true(json_is_null(json_object_get(c, "last_message_id")));
    json_decref(c);

    /* The owner is the first member. */
    json_t *m = hs_member_json(tk_rdb(fx->core), fx->guild, fx->owner);
    assert_non_null(m);
    assert_int_equal(tk_json_id(json_object_get(m, "user"), "id"), fx->owner);
    assert_int_equal(json_array_size(json_object_get(m, "roles")), 0);
    json_decref(m);

    /* Its events: GUILD_CREATE (with the channels), then GUILD_MEMBER_ADD. */
    sqlite3_stmt *s =
        hs_db_stmt(tk_rdb(fx->core), "SELECT type, data FROM events WHERE guild_id = ? "
                                     "ORDER BY seq");
    hs_bind_id(s, 1, fx->guild);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal(hs_col_text(s, 0), "GUILD_CREATE");
    json_t *data = json_loads(hs_col_text(s, 1), 0, NULL);
    assert_int_equal(json_array_size(json_object_get(data, "channels")), 1);
    json_decref(data);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal(hs_col_text(s, 0), "GUILD_MEMBER_ADD");
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
}

static void test_guild_name_length(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    const char *bad[] = {"", "x", NULL};
    char n101[102];
    memset(n101, 'n', 101);
    n101[101] = '\0';
    bad[2] = n101;
    for (size_t i = 0; i < 3; i++) {
        struct hs_guild_create g = {.owner_id = fx->owner, .name = bad[i]};
        hs_error_clear(&err);
        assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_guild_create_fn, &g, &err),
                         HS_EINVAL);
        assert_int_equal(err.reason, HS_R_FORM);
        assert_string_equal(err.field, "name");
        assert_string_equal(err.form_code, "BASE_TYPE_BAD_LENGTH");
    }
    /* 2 and 100 code points (multi-byte) are fine. */
    tk_guild(fx->core, fx->owner, "\xc3\xa9\xc3\xa9", NULL);
    n101[100] = '\0';
    tk_guild(fx->core, fx->owner, n101, NULL);
    assert_int_equal(count(fx, "SELECT count(*) FROM guilds", 0), 3);
}

static void test_owner_and_stranger_permissions(void **state)
{
    struct fx *fx = *state;
    int rc;
    hs_error err;
    /* The owner holds every permission. */
    assert_int_equal(perms_of(fx, fx->guild, fx->owner, &rc, &err), HS_PERM_ALL);
    assert_int_equal(rc, 0);
    /* A registered user who is not a member. */
    uint64_t stranger = tk_register(fx->core, "stranger");
    perms_of(fx, fx->guild, stranger, &rc, &err);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    /* An unknown guild. */
    perms_of(fx, UNKNOWN_ID, fx->owner, &rc, &err);
    assert_int_equal(rc, HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_GUILD);

    struct hs_channel ch;
    uint64_t p;
    assert_int_equal(hs_channel_access(tk_rdb(fx->core), fx->general, fx->owner, &ch, &p, &err), 0);
    assert_int_equal(ch.id, fx->general);
    assert_int_equal(ch.guild_id, fx->guild);
    assert_int_equal(ch.type, HS_CHANNEL_TEXT);
    assert_int_equal(p, HS_PERM_ALL);
    hs_error_clear(&err);
    assert_int_equal(hs_channel_access(tk_rdb(fx->core), fx->general, stranger, &ch, &p, &err),
                     HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    hs_error_clear(&err);
    assert_int_equal(hs_channel_access(tk_rdb(fx->core), UNKNOWN_ID, fx->owner, &ch, &p, &err),
                     HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_CHANNEL);
    /* A stranger sees no channels of the guild. */
    json_t *list = hs_channel_list(tk_rdb(fx->core), fx->guild, stranger);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

static void test_bot_authorize(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc, added;
    uint64_t bot_plain, bot_admin, bot_mod;
    uint64_t app_plain = create_app(fx, fx->owner, "Plain", &bot_plain);
    uint64_t app_admin = create_app(fx, fx->owner, "Admin", &bot_admin);
    uint64_t app_mod = create_app(fx, fx->owner, "Mod", &bot_mod);

    /* No permissions: a plain member with @everyone's. */
    assert_int_equal(authorize(fx, app_plain, fx->owner, fx->guild, 0, &added, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(perms_of(fx, fx->guild, bot_plain, &rc, &err), HS_PERM_DEFAULT_EVERYONE);
    /* Again: already a member, nothing changes. */
    long long roles_before = count(fx, "SELECT count(*) FROM roles", 0);
    assert_int_equal(
        authorize(fx, app_plain, fx->owner, fx->guild, HS_PERM_ADMINISTRATOR, &added, &err), 0);
    assert_int_equal(added, 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM roles", 0), roles_before);
    assert_int_equal(perms_of(fx, fx->guild, bot_plain, &rc, &err), HS_PERM_DEFAULT_EVERYONE);

    /* A managed role with the requested permissions, OR-ed with @everyone's. */
    assert_int_equal(
        authorize(fx, app_mod, fx->owner, fx->guild, HS_PERM_MANAGE_MESSAGES, &added, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(perms_of(fx, fx->guild, bot_mod, &rc, &err),
                     HS_PERM_DEFAULT_EVERYONE | HS_PERM_MANAGE_MESSAGES);
    json_t *m = hs_member_json(tk_rdb(fx->core), fx->guild, bot_mod);
    assert_int_equal(json_array_size(json_object_get(m, "roles")), 1);
    uint64_t role_id = 0;
    assert_int_equal(
        hs_parse_u64(json_string_value(json_array_get(json_object_get(m, "roles"), 0)), &role_id),
        0);
    json_decref(m);
    json_t *g = hs_guild_json(tk_rdb(fx->core), fx->guild, 1);
    json_t *roles = json_object_get(g, "roles");
    int found = 0;
    for (size_t i = 0; i < json_array_size(roles); i++) {
        json_t *r = json_array_get(roles, i);
        if (tk_json_id(r, "id") != role_id)
            continue;
        found = 1;
        assert_string_equal(json_string_value(json_object_get(r, "name")), "Mod");
        assert_true(json_is_true(json_object_get(r, "managed")));
        assert_int_equal(tk_json_id(json_object_get(r, "tags"), "bot_id"), bot_mod);
        char want[24];
        snprintf(want, sizeof(want), "%" PRIu64, HS_PERM_MANAGE_MESSAGES);
        assert_string_equal(json_string_value(json_object_get(r, "permissions")), want);
        assert_true(json_integer_value(json_object_get(r, "position")) >= 1);
    }
    assert_true(found);
    assert_int_equal(json_integer_value(json_object_get(g, "approximate_member_count")), 3);
    json_decref(g);

    /* ADMINISTRATOR implies everything; undefined bits are dropped. */
    assert_int_equal(authorize(fx, app_admin, fx->owner, fx->guild, UINT64_MAX, &added, &err), 0);
    assert_int_equal(perms_of(fx, fx->guild, bot_admin, &rc, &err), HS_PERM_ALL);
    sqlite3_stmt *s =
        hs_db_stmt(tk_rdb(fx->core), "SELECT permissions FROM roles WHERE bot_id = ?");
    hs_bind_id(s, 1, bot_admin);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal((uint64_t)sqlite3_column_int64(s, 0), HS_PERM_ALL);
    sqlite3_reset(s);
}

/* Write: marks an application private (no API does so yet). */
static int make_private(hs_txn *txn, void *arg, hs_error *err)
{
    uint64_t *app = arg;
    sqlite3_stmt *s = hs_db_stmt(hs_txn_db(txn), "UPDATE applications SET bot_public = 0 "
                                                 "WHERE id = ?");
    hs_bind_id(s, 1, *app);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(hs_txn_db(txn), err, "updating");
}

static void test_bot_authorize_rules(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int added;
    uint64_t bot, bot2;
    uint64_t app = create_app(fx, fx->owner, "Helper", &bot);
    uint64_t other = tk_register(fx->core, "other");
    uint64_t other_guild = tk_guild(fx->core, other, "Other Guild", NULL);

    /* Unknown application. */
    assert_int_equal(authorize(fx, app + 1000, fx->owner, fx->guild, 0, &added, &err),
                     HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_APPLICATION);
    /* Not a member of the guild. */
    assert_int_equal(authorize(fx, app, other, fx->guild, 0, &added, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    /* A public application may be added by another guild's owner to their guild. */
    assert_int_equal(authorize(fx, app, other, other_guild, 0, &added, &err), 0);
    assert_int_equal(added, 1);

    /* A member without MANAGE_GUILD (a plain bot) may not add bots. */
    uint64_t app2 = create_app(fx, fx->owner, "Second", &bot2);
    assert_int_equal(authorize(fx, app, fx->owner, fx->guild, 0, &added, &err), 0);
    assert_int_equal(authorize(fx, app2, bot, fx->guild, 0, &added, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);

    /* A private application: its owner only. */
    struct hs_app a;
    assert_int_equal(hs_app_get(tk_rdb(fx->core), app2, &a, &err), 0);
    assert_int_equal(a.bot_public, 1);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), make_private, &app2, &err), 0);
    assert_int_equal(hs_app_get(tk_rdb(fx->core), app2, &a, &err), 0);
    assert_int_equal(a.bot_public, 0);
    assert_int_equal(authorize(fx, app2, other, other_guild, 0, &added, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(count(fx, "SELECT count(*) FROM members WHERE user_id = ?", bot2), 0);
    assert_int_equal(authorize(fx, app2, fx->owner, fx->guild, 0, &added, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(count(fx, "SELECT count(*) FROM members WHERE user_id = ?", bot2), 1);
}

static uint64_t make_channel(struct fx *fx, uint64_t actor, const char *name, int type,
                             uint64_t parent, int position, int *rc, hs_error *err, json_t **out)
{
    struct hs_channel_create op = {.guild_id = fx->guild,
                                   .actor_id = actor,
                                   .name = name,
                                   .type = type,
                                   .position = position,
                                   .parent_id = parent,
                                   .topic = "a topic",
                                   .rate_limit_per_user = 5};
    hs_error_clear(err);
    *rc = hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, err);
    if (*rc < 0) {
        assert_null(op.channel);
        return 0;
    }
    uint64_t id = tk_json_id(op.channel, "id");
    if (out)
        *out = op.channel;
    else
        json_decref(op.channel);
    return id;
}

static void test_channel_create(void **state)
{
    struct fx *fx = *state;
    int rc;
    hs_error err;
    json_t *c = NULL;

    /* Text names are folded: lower case, spaces to '-'. Position: after the last. */
    uint64_t text =
        make_channel(fx, fx->owner, "Off Topic Chat", HS_CHANNEL_TEXT, 0, -1, &rc, &err, &c);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "off-topic-chat");
    assert_int_equal(json_integer_value(json_object_get(c, "position")), 1);
    assert_string_equal(json_string_value(json_object_get(c, "topic")), "a topic");
    assert_int_equal(json_integer_value(json_object_get(c, "rate_limit_per_user")), 5);
    json_decref(c);

    /* Voice and category names are kept; voice has its own fields and no topic. */
    uint64_t cat =
        make_channel(fx, fx->owner, "Big Category", HS_CHANNEL_CATEGORY, 0, 7, &rc, &err, &c);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Big Category");
    assert_int_equal(json_integer_value(json_object_get(c, "position")), 7);
    assert_null(json_object_get(c, "topic"));
    json_decref(c);
    uint64_t voice =
        make_channel(fx, fx->owner, "Voice Room", HS_CHANNEL_VOICE, cat, -1, &rc, &err, &c);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Voice Room");
    assert_int_equal(json_integer_value(json_object_get(c, "bitrate")), 64000);
    assert_int_equal(tk_json_id(c, "parent_id"), cat);
    assert_int_equal(json_integer_value(json_object_get(c, "position")), 8);
    assert_null(json_object_get(c, "topic"));
    json_decref(c);

    /* The guild's channels, by position then id. */
    json_t *list = hs_channel_list(tk_rdb(fx->core), fx->guild, fx->owner);
    assert_int_equal(json_array_size(list), 4);
    const uint64_t want[] = {fx->general, text, cat, voice};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(tk_json_id(json_array_get(list, i), "id"), want[i]);
    json_decref(list);

    /* Bad input. */
    make_channel(fx, fx->owner, "dm", HS_CHANNEL_DM, 0, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "type");
    assert_string_equal(err.form_code, "BASE_TYPE_CHOICES");
    make_channel(fx, fx->owner, "x", 5, 0, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    make_channel(fx, fx->owner, "", HS_CHANNEL_TEXT, 0, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "name");
    char n101[102];
    memset(n101, 'c', 101);
    n101[101] = '\0';
    make_channel(fx, fx->owner, n101, HS_CHANNEL_TEXT, 0, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "name");
    /* parent_id: a category of this guild, and categories have no parent. */
    make_channel(fx, fx->owner, "child", HS_CHANNEL_TEXT, text, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "parent_id");
    make_channel(fx, fx->owner, "child", HS_CHANNEL_TEXT, 424242, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "parent_id");
    make_channel(fx, fx->owner, "sub", HS_CHANNEL_CATEGORY, cat, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "parent_id");
    /* A category of another guild. */
    uint64_t other = tk_register(fx->core, "other");
    uint64_t og = tk_guild(fx->core, other, "Other", NULL);
    struct hs_channel_create oc = {.guild_id = og,
                                   .actor_id = other,
                                   .name = "theirs",
                                   .type = HS_CHANNEL_CATEGORY,
                                   .position = -1};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &oc, &err), 0);
    uint64_t other_cat = tk_json_id(oc.channel, "id");
    json_decref(oc.channel);
    make_channel(fx, fx->owner, "child", HS_CHANNEL_TEXT, other_cat, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "parent_id");
    /* Non-members and members without MANAGE_CHANNELS. */
    make_channel(fx, other, "nope", HS_CHANNEL_TEXT, 0, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    uint64_t bot;
    uint64_t app = create_app(fx, fx->owner, "Bot", &bot);
    assert_int_equal(authorize(fx, app, fx->owner, fx->guild, 0, NULL, &err), 0);
    make_channel(fx, bot, "nope", HS_CHANNEL_TEXT, 0, -1, &rc, &err, NULL);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    /* Nothing was created by the rejected requests. */
    assert_int_equal(count(fx, "SELECT count(*) FROM channels WHERE guild_id = ?", fx->guild), 4);
}

static void test_channel_limits(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    char topic[1100];
    memset(topic, 't', sizeof(topic) - 1);
    topic[sizeof(topic) - 1] = '\0';
    struct hs_channel_create op = {.guild_id = fx->guild,
                                   .actor_id = fx->owner,
                                   .name = "limits",
                                   .type = HS_CHANNEL_TEXT,
                                   .position = -1,
                                   .topic = topic};
    topic[1025] = '\0';
    hs_error_clear(&err);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, &err),
                     HS_EINVAL);
    assert_string_equal(err.field, "topic");
    topic[1024] = '\0';
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, &err), 0);
    json_decref(op.channel);
    op.channel = NULL;
    op.topic = NULL;
    op.rate_limit_per_user = 21601;
    hs_error_clear(&err);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, &err),
                     HS_EINVAL);
    assert_string_equal(err.field, "rate_limit_per_user");
    op.rate_limit_per_user = -1;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, &err),
                     HS_EINVAL);
    op.rate_limit_per_user = 21600;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &op, &err), 0);
    json_decref(op.channel);
}

static void test_guild_list(void **state)
{
    struct fx *fx = *state;
    /* Five more guilds of the owner, one of someone else that the owner is not in. */
    uint64_t g[6];
    g[0] = fx->guild;
    for (int i = 1; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Guild %d", i);
        g[i] = tk_guild(fx->core, fx->owner, name, NULL);
    }
    uint64_t other = tk_register(fx->core, "other");
    uint64_t theirs = tk_guild(fx->core, other, "Theirs", NULL);

    json_t *list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, 0, 0, 200);
    assert_int_equal(json_array_size(list), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *e = json_array_get(list, i);
        assert_int_equal(tk_json_id(e, "id"), g[i]); /* ascending by id */
        assert_true(json_is_true(json_object_get(e, "owner")));
        char want[24];
        snprintf(want, sizeof(want), "%" PRIu64, HS_PERM_ALL);
        assert_string_equal(json_string_value(json_object_get(e, "permissions")), want);
        assert_int_equal(tk_json_id(e, "id") == theirs, 0);
    }
    json_decref(list);

    /* limit, after, before, and both. */
    list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, 0, 0, 2);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(tk_json_id(json_array_get(list, 1), "id"), g[1]);
    json_decref(list);
    list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, 0, g[2], 200);
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(tk_json_id(json_array_get(list, 0), "id"), g[3]);
    json_decref(list);
    list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, g[2], 0, 200);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(tk_json_id(json_array_get(list, 1), "id"), g[1]);
    json_decref(list);
    list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, g[4], g[1], 200);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(tk_json_id(json_array_get(list, 0), "id"), g[2]);
    assert_int_equal(tk_json_id(json_array_get(list, 1), "id"), g[3]);
    json_decref(list);
    list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, 0, g[5], 200);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);

    /* The other user sees only their guild, as owner. */
    list = hs_guild_list_for_user(tk_rdb(fx->core), other, 0, 0, 200);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(tk_json_id(json_array_get(list, 0), "id"), theirs);
    json_decref(list);
}

/*
 * Cursors beyond 2^63 - 1 (ids are stored as SQLite integers) are clamped: after =
 * UINT64_MAX gives [], before = UINT64_MAX gives every guild.
 */
static void test_guild_list_cursor_above_int64_max(void **state)
{
    struct fx *fx = *state;
    json_t *list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, 0, UINT64_MAX, 200);
    size_t n_after = json_array_size(list);
    json_decref(list);
    list = hs_guild_list_for_user(tk_rdb(fx->core), fx->owner, UINT64_MAX, 0, 200);
    size_t n_before = json_array_size(list);
    json_decref(list);
    if (n_after != 0 || n_before != 1)
        fail_msg("after=UINT64_MAX gave %zu guilds (expected 0), before=UINT64_MAX gave "
                 "%zu (expected 1)",
                 n_after, n_before);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permission_constants),
        T(test_new_guild),
        T(test_guild_name_length),
        T(test_owner_and_stranger_permissions),
        T(test_bot_authorize),
        T(test_bot_authorize_rules),
        T(test_channel_create),
        T(test_channel_limits),
        T(test_guild_list),
        T(test_guild_list_cursor_above_int64_max),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
