/*
 * Unit tests for hs_mentions.h (spec/rest-messages.md §2): the scanner as a pure function
 * (every form Discord writes, malformed tags, duplicates, the cap), then resolution against
 * a real core: members and strangers, mentionable and managed roles, @everyone with and
 * without MENTION_EVERYONE, allowed_mentions in each combination, the replied-to author,
 * and DM recipients. Rows the REST surface of this module cannot create (a second human
 * member, a mentionable role, a DM) are inserted by write functions of this file.
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
#include "hs_mentions.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_util.h"

#include "testkit.h"

/* ---- the scanner ---- */

static void test_scan_forms(void **state)
{
    (void)state;
    struct hs_mention_scan s;
    hs_mentions_scan("hi <@123> and <@!456>, <@&789> @everyone", &s);
    assert_int_equal(s.nusers, 2);
    assert_true(s.users[0] == 123 && s.users[1] == 456);
    assert_int_equal(s.nroles, 1);
    assert_true(s.roles[0] == 789);
    assert_true(s.everyone);

    hs_mentions_scan("@here", &s);
    assert_true(s.everyone);
    assert_int_equal(s.nusers + s.nroles, 0);
    hs_mentions_scan("mail me at x@everyone.org", &s); /* Discord matches it anywhere */
    assert_true(s.everyone);
    hs_mentions_scan("@every one, @her, @ here, everyone", &s);
    assert_false(s.everyone);
    hs_mentions_scan(NULL, &s);
    assert_int_equal(s.nusers + s.nroles + (size_t)s.everyone, 0);
    hs_mentions_scan("", &s);
    assert_int_equal(s.nusers, 0);
}

static void test_scan_malformed(void **state)
{
    (void)state;
    struct hs_mention_scan s;
    const char *bad[] = {
        "<@>",
        "<@abc>",
        "<@123",
        "<@ 123>",
        "<@-5>",
        "<@0>",
        "<@!>",
        "<@&>",
        "<@!&1>",
        "<@&!1>",
        "< @1>",
        "<@1 >",
        "<#123>",
        "<@9223372036854775808>", /* INT64_MAX + 1 */
        "<@99999999999999999999>",
        "<@00000000000000000001>", /* 20 digits */
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++) {
        hs_mentions_scan(bad[i], &s);
        if (s.nusers || s.nroles)
            fail_msg("'%s' scanned as a mention", bad[i]);
    }
    hs_mentions_scan("<@9223372036854775807>", &s);
    assert_int_equal(s.nusers, 1);
    assert_true(s.users[0] == (uint64_t)INT64_MAX);
    /* A broken tag does not hide the good one right after it. */
    hs_mentions_scan("<@<@42>><@&<@&7>", &s);
    assert_int_equal(s.nusers, 1);
    assert_true(s.users[0] == 42);
    assert_int_equal(s.nroles, 1);
    assert_true(s.roles[0] == 7);
}

static void test_scan_dedupes_and_caps(void **state)
{
    (void)state;
    struct hs_mention_scan s;
    hs_mentions_scan("<@5> <@!5> <@6> <@5> <@&5> <@&5>", &s);
    assert_int_equal(s.nusers, 2);
    assert_true(s.users[0] == 5 && s.users[1] == 6);
    assert_int_equal(s.nroles, 1);

    char *text = calloc(1, 200 * 16);
    char *p = text;
    for (int i = 1; i <= 150; i++)
        p += sprintf(p, "<@%d><@&%d>", i, i);
    hs_mentions_scan(text, &s);
    assert_int_equal(s.nusers, HS_MENTIONS_MAX);
    assert_int_equal(s.nroles, HS_MENTIONS_MAX);
    assert_true(s.users[99] == 100 && s.roles[0] == 1);
    free(text);
}

/* ---- resolution, against a core ---- */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, member, stranger, herald;
    uint64_t guild, chan;
    uint64_t role_plain, role_mentionable, other_guild_role;
    uint64_t dm;
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
    fx->core = tk_core_open(fx->dir, &fx->cfg, "mentions");
    fx->owner = tk_register(fx->core, "owner");
    fx->member = tk_register(fx->core, "member");
    fx->stranger = tk_register(fx->core, "stranger");
    fx->herald = tk_register(fx->core, "herald");
    fx->guild = tk_guild(fx->core, fx->owner, "Mentions", &fx->chan);
    uint64_t other = tk_guild(fx->core, fx->stranger, "Mentions", NULL);
    run_sql(fx, "INSERT INTO members (guild_id, user_id, joined_at) VALUES (?, ?, 1)", 2,
            (int64_t)fx->guild, (int64_t)fx->member, 0, 0);
    run_sql(fx, "INSERT INTO members (guild_id, user_id, joined_at) VALUES (?, ?, 1)", 2,
            (int64_t)fx->guild, (int64_t)fx->herald, 0, 0);
    fx->role_plain = fx->guild + 1001;
    fx->role_mentionable = fx->guild + 1002;
    fx->other_guild_role = other + 1003;
    /* A role granting MENTION_EVERYONE, for the herald. */
    run_sql(fx,
            "INSERT INTO roles (id, guild_id, name, permissions, position, mentionable) VALUES "
            "(?, ?, 'plain', ?, 1, 0)",
            3, (int64_t)fx->role_plain, (int64_t)fx->guild, (int64_t)HS_PERM_MENTION_EVERYONE, 0);
    run_sql(fx,
            "INSERT INTO roles (id, guild_id, name, permissions, position, mentionable) VALUES "
            "(?, ?, 'loud', 0, 2, 1)",
            2, (int64_t)fx->role_mentionable, (int64_t)fx->guild, 0, 0);
    run_sql(fx,
            "INSERT INTO roles (id, guild_id, name, permissions, position, mentionable) VALUES "
            "(?, ?, 'elsewhere', 0, 1, 1)",
            2, (int64_t)fx->other_guild_role, (int64_t)other, 0, 0);
    run_sql(fx, "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (?, ?, ?)", 3,
            (int64_t)fx->guild, (int64_t)fx->herald, (int64_t)fx->role_plain, 0);
    /* A DM between the owner and the stranger. */
    fx->dm = fx->guild + 2001;
    run_sql(fx, "INSERT INTO channels (id, guild_id, type) VALUES (?, NULL, 1)", 1, (int64_t)fx->dm,
            0, 0, 0);
    run_sql(fx, "INSERT INTO recipients (channel_id, user_id) VALUES (?, ?)", 2, (int64_t)fx->dm,
            (int64_t)fx->owner, 0, 0);
    run_sql(fx, "INSERT INTO recipients (channel_id, user_id) VALUES (?, ?)", 2, (int64_t)fx->dm,
            (int64_t)fx->stranger, 0, 0);
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

static struct hs_channel chan_of(struct fx *fx, uint64_t id)
{
    struct hs_channel ch;
    hs_error err;
    if (hs_channel_get(tk_rdb(fx->core), id, &ch, &err) != 0)
        fail_msg("channel: %s", err.msg);
    return ch;
}

static uint64_t perms_of(struct fx *fx, uint64_t chan, uint64_t user)
{
    uint64_t p = 0;
    hs_error err;
    if (hs_perm_channel(tk_rdb(fx->core), chan, user, 0, &p, &err) != 0)
        fail_msg("perms: %s", err.msg);
    return p;
}

static void resolve(struct fx *fx, uint64_t chan, uint64_t author, const char *content,
                    const struct hs_allowed_mentions *am, uint64_t replied,
                    struct hs_mention_result *out)
{
    struct hs_channel ch = chan_of(fx, chan);
    hs_mentions_resolve(tk_rdb(fx->core), &ch, perms_of(fx, chan, author), content, am, replied,
                        out);
}

static void test_resolve_users(void **state)
{
    struct fx *fx = *state;
    struct hs_mention_result r;
    char text[256];
    snprintf(text, sizeof(text), "<@%llu> <@%llu> <@%llu> <@424242> <@%llu>",
             (unsigned long long)fx->stranger, (unsigned long long)fx->member,
             (unsigned long long)fx->owner, (unsigned long long)fx->member);
    resolve(fx, fx->chan, fx->member, text, NULL, 0, &r);
    /* Members only (the author too), in order, once; strangers and unknown ids are text. */
    assert_int_equal(r.nusers, 2);
    assert_true(r.users[0] == fx->member && r.users[1] == fx->owner);
    assert_int_equal(r.nroles, 0);
    assert_false(r.everyone);
    /* In a DM, the recipients count. */
    resolve(fx, fx->dm, fx->owner, text, NULL, 0, &r);
    assert_int_equal(r.nusers, 2);
    assert_true(r.users[0] == fx->stranger && r.users[1] == fx->owner);
}

static void test_resolve_roles(void **state)
{
    struct fx *fx = *state;
    struct hs_mention_result r;
    char text[256];
    snprintf(text, sizeof(text), "<@&%llu> <@&%llu> <@&%llu> <@&%llu> <@&77>",
             (unsigned long long)fx->role_plain, (unsigned long long)fx->role_mentionable,
             (unsigned long long)fx->guild, (unsigned long long)fx->other_guild_role);
    /* Without MENTION_EVERYONE: the mentionable role of this guild only. */
    resolve(fx, fx->chan, fx->member, text, NULL, 0, &r);
    assert_int_equal(r.nroles, 1);
    assert_true(r.roles[0] == fx->role_mentionable);
    /* With it (a role, or ownership): any role of this guild but @everyone. */
    resolve(fx, fx->chan, fx->herald, text, NULL, 0, &r);
    assert_int_equal(r.nroles, 2);
    assert_true(r.roles[0] == fx->role_plain && r.roles[1] == fx->role_mentionable);
    resolve(fx, fx->chan, fx->owner, text, NULL, 0, &r);
    assert_int_equal(r.nroles, 2);
    /* A DM has no roles. */
    resolve(fx, fx->dm, fx->owner, text, NULL, 0, &r);
    assert_int_equal(r.nroles, 0);
}

static void test_resolve_everyone(void **state)
{
    struct fx *fx = *state;
    struct hs_mention_result r;
    resolve(fx, fx->chan, fx->member, "@everyone", NULL, 0, &r);
    assert_false(r.everyone);
    resolve(fx, fx->chan, fx->herald, "@here", NULL, 0, &r);
    assert_true(r.everyone);
    resolve(fx, fx->chan, fx->owner, "@everyone", NULL, 0, &r);
    assert_true(r.everyone);
    resolve(fx, fx->chan, fx->owner, "everyone", NULL, 0, &r);
    assert_false(r.everyone);
    /* A DM recipient has no MENTION_EVERYONE. */
    resolve(fx, fx->dm, fx->owner, "@everyone", NULL, 0, &r);
    assert_false(r.everyone);
}

static void test_resolve_allowed_mentions(void **state)
{
    struct fx *fx = *state;
    struct hs_mention_result r;
    char text[256];
    snprintf(text, sizeof(text), "<@%llu> <@%llu> <@&%llu> <@&%llu> @everyone",
             (unsigned long long)fx->member, (unsigned long long)fx->herald,
             (unsigned long long)fx->role_plain, (unsigned long long)fx->role_mentionable);
    struct hs_allowed_mentions am = {.given = 1};
    resolve(fx, fx->chan, fx->owner, text, &am, 0, &r);
    assert_int_equal(r.nusers + r.nroles + (size_t)r.everyone, 0);

    am = (struct hs_allowed_mentions){.given = 1, .parse_users = 1};
    resolve(fx, fx->chan, fx->owner, text, &am, 0, &r);
    assert_int_equal(r.nusers, 2);
    assert_int_equal(r.nroles + (size_t)r.everyone, 0);

    am = (struct hs_allowed_mentions){.given = 1, .parse_roles = 1, .parse_everyone = 1};
    resolve(fx, fx->chan, fx->owner, text, &am, 0, &r);
    assert_int_equal(r.nusers, 0);
    assert_int_equal(r.nroles, 2);
    assert_true(r.everyone);

    /* Listed ids: only those, and only if the content mentions them. */
    am = (struct hs_allowed_mentions){.given = 1, .nusers = 2, .nroles = 1};
    am.users[0] = fx->herald;
    am.users[1] = fx->stranger;
    am.roles[0] = fx->role_mentionable;
    resolve(fx, fx->chan, fx->owner, text, &am, 0, &r);
    assert_int_equal(r.nusers, 1);
    assert_true(r.users[0] == fx->herald);
    assert_int_equal(r.nroles, 1);
    assert_true(r.roles[0] == fx->role_mentionable);
    assert_false(r.everyone);
    /* Listing a role does not make it mentionable. */
    am.roles[0] = fx->role_plain;
    resolve(fx, fx->chan, fx->member, text, &am, 0, &r);
    assert_int_equal(r.nroles, 0);
    /* An absent object (given = 0) is "everything". */
    am = (struct hs_allowed_mentions){.given = 0};
    resolve(fx, fx->chan, fx->owner, text, &am, 0, &r);
    assert_int_equal(r.nusers, 2);
    assert_int_equal(r.nroles, 2);
    assert_true(r.everyone);
}

static void test_resolve_replied_user(void **state)
{
    struct fx *fx = *state;
    struct hs_mention_result r;
    /* Without allowed_mentions a reply mentions its target's author, after the others. */
    char text[64];
    snprintf(text, sizeof(text), "<@%llu>", (unsigned long long)fx->herald);
    resolve(fx, fx->chan, fx->owner, text, NULL, fx->member, &r);
    assert_int_equal(r.nusers, 2);
    assert_true(r.users[0] == fx->herald && r.users[1] == fx->member);
    /* Already mentioned: once. */
    resolve(fx, fx->chan, fx->owner, text, NULL, fx->herald, &r);
    assert_int_equal(r.nusers, 1);
    /* With allowed_mentions, only replied_user: true; parse users does not imply it. */
    struct hs_allowed_mentions am = {.given = 1, .parse_users = 1};
    resolve(fx, fx->chan, fx->owner, "", &am, fx->member, &r);
    assert_int_equal(r.nusers, 0);
    am.replied_user = 1;
    resolve(fx, fx->chan, fx->owner, "", &am, fx->member, &r);
    assert_int_equal(r.nusers, 1);
    /* Someone who left is not mentioned. */
    resolve(fx, fx->chan, fx->owner, "", NULL, fx->stranger, &r);
    assert_int_equal(r.nusers, 0);
}

/* Through hs_msg_create_fn: what is stored is what history shows. */
static void test_stored_with_the_message(void **state)
{
    struct fx *fx = *state;
    char text[128];
    snprintf(text, sizeof(text), "<@%llu> <@&%llu> @everyone", (unsigned long long)fx->herald,
             (unsigned long long)fx->role_mentionable);
    struct hs_msg_create op = {
        .channel_id = fx->chan, .author_id = fx->member, .content = text, .max_chars = 2000};
    hs_error err;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_create_fn, &op, &err), 0);
    uint64_t id = tk_json_id(op.message, "id");
    json_decref(op.message);
    json_t *m = hs_msg_json(tk_rdb(fx->core), fx->chan, id, 0);
    json_t *mentions = json_object_get(m, "mentions");
    assert_int_equal(json_array_size(mentions), 1);
    json_t *u = json_array_get(mentions, 0);
    assert_true(tk_json_id(u, "id") == fx->herald);
    json_t *member = json_object_get(u, "member");
    assert_non_null(member);
    assert_null(json_object_get(member, "user"));
    assert_int_equal(json_array_size(json_object_get(member, "roles")), 1);
    assert_int_equal(json_array_size(json_object_get(m, "mention_roles")), 1);
    assert_false(json_is_true(json_object_get(m, "mention_everyone")));
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_forms),
        cmocka_unit_test(test_scan_malformed),
        cmocka_unit_test(test_scan_dedupes_and_caps),
        cmocka_unit_test_setup_teardown(test_resolve_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_everyone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_allowed_mentions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_replied_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stored_with_the_message, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
