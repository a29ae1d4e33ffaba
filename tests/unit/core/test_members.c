/*
 * Unit tests for hs_members.h through a real core: member edits (nickname, roles, timeout)
 * with their permission and hierarchy rules, kicks, leaving, bans with message deletion,
 * unbans and hs_member_is_banned, and the events and audit entries each records.
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

#include "hs_accounts.h"
#include "hs_audit.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_members.h"
#include "hs_perm.h"
#include "hs_roles.h"
#include "hs_snowflake.h"
#include "hs_time.h"
#include "hs_util.h"

#include "testkit.h"

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, mod, peer, member, stranger, guild, text;
    uint64_t mod_role; /* every moderation permission; mod and peer have it */
    uint64_t low;      /* a plain role below it */
};

static uint64_t create_role(struct fx *fx, const char *name, uint64_t perms)
{
    struct hs_role_create op = {.guild_id = fx->guild,
                                .actor_id = fx->owner,
                                .name = name,
                                .has_permissions = 1,
                                .permissions = perms};
    hs_error err;
    if (tk_run(fx->core, hs_role_create_fn, &op, &err) != 0)
        fail_msg("role %s: %s", name, err.msg);
    uint64_t id = tk_json_id(op.role, "id");
    json_decref(op.role);
    return id;
}

static void join(struct fx *fx, uint64_t user)
{
    tk_sql(fx->core,
           "INSERT INTO members (guild_id, user_id, joined_at) VALUES (%" PRIu64 ", %" PRIu64
           ", 1)",
           fx->guild, user);
}

static void give(struct fx *fx, uint64_t user, uint64_t role)
{
    tk_sql(fx->core,
           "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (%" PRIu64 ", %" PRIu64
           ", %" PRIu64 ")",
           fx->guild, user, role);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    fx->core = tk_core_open(fx->dir, &fx->cfg, "members");
    fx->owner = tk_register(fx->core, "owner");
    fx->mod = tk_register(fx->core, "mod");
    fx->peer = tk_register(fx->core, "peer");
    fx->member = tk_register(fx->core, "member");
    fx->stranger = tk_register(fx->core, "stranger");
    fx->guild = tk_guild(fx->core, fx->owner, "Members Guild", &fx->text);
    join(fx, fx->mod);
    join(fx, fx->peer);
    join(fx, fx->member);
    fx->mod_role = create_role(fx, "Mod",
                               HS_PERM_KICK_MEMBERS | HS_PERM_BAN_MEMBERS | HS_PERM_MANAGE_ROLES |
                                   HS_PERM_MANAGE_NICKNAMES | HS_PERM_MODERATE_MEMBERS);
    fx->low = create_role(fx, "Low", 0);
    give(fx, fx->mod, fx->mod_role);
    give(fx, fx->peer, fx->mod_role);
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

static int64_t events(struct fx *fx, const char *type)
{
    return tk_count(fx->core,
                    "SELECT count(*) FROM events WHERE type = '%s' AND guild_id = %" PRIu64, type,
                    fx->guild);
}

static int64_t audits(struct fx *fx, int action)
{
    return tk_count(fx->core, "SELECT count(*) FROM audit_log WHERE action_type = %d", action);
}

static int is_member(struct fx *fx, uint64_t user)
{
    return tk_count(fx->core,
                    "SELECT count(*) FROM members WHERE guild_id = %" PRIu64
                    " AND user_id = %" PRIu64,
                    fx->guild, user) == 1;
}

static int edit(struct fx *fx, struct hs_member_edit *op, hs_error *err)
{
    op->guild_id = fx->guild;
    int rc = tk_run(fx->core, hs_member_edit_fn, op, err);
    json_decref(op->member);
    op->member = NULL;
    return rc;
}

static const char *nick_of(struct fx *fx, uint64_t user, char buf[64])
{
    json_t *m = hs_member_json(tk_rdb(fx->core), fx->guild, user);
    const char *n = json_string_value(json_object_get(m, "nick"));
    snprintf(buf, 64, "%s", n ? n : "(null)");
    json_decref(m);
    return buf;
}

static void test_nick(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    char buf[64];
    struct hs_member_edit op = {.actor_id = fx->mod,
                                .user_id = fx->member,
                                .set = HS_MEMBER_SET_NICK,
                                .nick = "Nick",
                                .reason = "r"};
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_string_equal(nick_of(fx, fx->member, buf), "Nick");
    assert_int_equal(events(fx, "GUILD_MEMBER_UPDATE"), 1);
    assert_int_equal(audits(fx, HS_AUDIT_MEMBER_UPDATE), 1);
    /* The same again changes nothing: no event, no entry. */
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(events(fx, "GUILD_MEMBER_UPDATE"), 1);
    assert_int_equal(audits(fx, HS_AUDIT_MEMBER_UPDATE), 1);
    /* "" clears. */
    op.nick = "";
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_string_equal(nick_of(fx, fx->member, buf), "(null)");
    /* 32 code points (here of 3 bytes each) fit, 33 do not. */
    char longnick[128] = "";
    for (int i = 0; i < 33; i++)
        strcat(longnick, "\xe2\x9c\x93");
    op.nick = longnick;
    assert_int_equal(edit(fx, &op, &err), HS_EINVAL);
    assert_string_equal(err.field, "nick");
    longnick[32 * 3] = '\0';
    assert_int_equal(edit(fx, &op, &err), 0);
    /* Refusals: an equal, the owner, without MANAGE_NICKNAMES, non-member, unknown member. */
    struct {
        uint64_t actor, target;
        int rc, reason;
    } refused[] = {
        {fx->mod, fx->peer, HS_EPERM, HS_R_MISSING_PERMISSIONS},
        {fx->mod, fx->owner, HS_EPERM, HS_R_MISSING_PERMISSIONS},
        {fx->member, fx->mod, HS_EPERM, HS_R_MISSING_PERMISSIONS},
        {fx->stranger, fx->member, HS_EPERM, HS_R_MISSING_ACCESS},
        {fx->mod, fx->stranger, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        struct hs_member_edit r = {.actor_id = refused[i].actor,
                                   .user_id = refused[i].target,
                                   .set = HS_MEMBER_SET_NICK,
                                   .nick = "x"};
        assert_int_equal(edit(fx, &r, &err), refused[i].rc);
        assert_int_equal(err.reason, refused[i].reason);
    }
    assert_string_equal(nick_of(fx, fx->peer, buf), "(null)");
    /* Oneself: CHANGE_NICKNAME from @everyone; without it, refused; the owner always. */
    struct hs_member_edit self = {
        .actor_id = fx->member, .user_id = fx->member, .set = HS_MEMBER_SET_NICK, .nick = "Me"};
    assert_int_equal(edit(fx, &self, &err), 0);
    tk_sql(fx->core,
           "UPDATE roles SET permissions = permissions & ~%" PRIu64 " WHERE id = %" PRIu64,
           (uint64_t)HS_PERM_CHANGE_NICKNAME, fx->guild);
    self.nick = "Not me";
    assert_int_equal(edit(fx, &self, &err), HS_EPERM);
    assert_string_equal(nick_of(fx, fx->member, buf), "Me");
    self.actor_id = self.user_id = fx->owner;
    assert_int_equal(edit(fx, &self, &err), 0);
    self.actor_id = self.user_id = fx->mod; /* MANAGE_NICKNAMES covers oneself */
    assert_int_equal(edit(fx, &self, &err), 0);
}

static size_t roles_of(struct fx *fx, uint64_t user)
{
    return (size_t)tk_count(fx->core,
                            "SELECT count(*) FROM member_roles WHERE guild_id = %" PRIu64
                            " AND user_id = %" PRIu64,
                            fx->guild, user);
}

static void test_roles(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t low2 = create_role(fx, "Low2", 0);
    uint64_t list[] = {fx->low, low2, fx->low, fx->guild};
    struct hs_member_edit op = {.actor_id = fx->mod,
                                .user_id = fx->member,
                                .set = HS_MEMBER_SET_ROLES,
                                .roles = list,
                                .nroles = 4};
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(roles_of(fx, fx->member), 2);
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT json_array_length(json_extract(changes, '$[0].new_value')) FROM "
                 "audit_log WHERE action_type = %d",
                 HS_AUDIT_MEMBER_ROLE_UPDATE),
        2);
    op.nroles = 1; /* [low]: low2 removed */
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(roles_of(fx, fx->member), 1);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM audit_log WHERE action_type = %d AND "
                              "json_extract(changes, '$[0].key') = '$remove'",
                              HS_AUDIT_MEMBER_ROLE_UPDATE),
                     1);
    /* Refusals, each leaving the member as it was. */
    tk_sql(fx->core,
           "INSERT INTO roles (id, guild_id, name, permissions, position, managed, bot_id) VALUES "
           "(777, %" PRIu64 ", 'bot', 0, 1, 1, %" PRIu64 ")",
           fx->guild, fx->peer);
    struct {
        uint64_t actor, target, role;
        int rc, reason;
    } refused[] = {
        {fx->mod, fx->member, fx->mod_role, HS_EPERM, HS_R_MISSING_PERMISSIONS}, /* its own */
        {fx->mod, fx->member, 777, HS_EPERM, HS_R_MISSING_PERMISSIONS},          /* managed */
        {fx->owner, fx->member, 777, HS_EPERM, HS_R_MISSING_PERMISSIONS},
        {fx->mod, fx->member, 4242, HS_ENOTFOUND, HS_R_UNKNOWN_ROLE},
        {fx->mod, fx->peer, fx->low, HS_EPERM, HS_R_MISSING_PERMISSIONS},  /* an equal */
        {fx->mod, fx->owner, fx->low, HS_EPERM, HS_R_MISSING_PERMISSIONS}, /* the owner */
        {fx->member, fx->member, fx->low, HS_EPERM, HS_R_MISSING_PERMISSIONS},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        size_t before = roles_of(fx, refused[i].target);
        uint64_t one[] = {fx->low, refused[i].role};
        struct hs_member_edit r = {.actor_id = refused[i].actor,
                                   .user_id = refused[i].target,
                                   .set = HS_MEMBER_SET_ROLES,
                                   .roles = one,
                                   .nroles = 2};
        assert_int_equal(edit(fx, &r, &err), refused[i].rc);
        assert_int_equal(err.reason, refused[i].reason);
        assert_int_equal(roles_of(fx, refused[i].target), before);
        struct hs_member_role put = {.guild_id = fx->guild,
                                     .actor_id = refused[i].actor,
                                     .user_id = refused[i].target,
                                     .role_id = refused[i].role,
                                     .add = 1};
        assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), refused[i].rc);
        assert_int_equal(roles_of(fx, refused[i].target), before);
    }
    /* The managed role may not be taken by omission either. */
    give(fx, fx->peer, 777);
    struct hs_member_edit strip = {.actor_id = fx->owner,
                                   .user_id = fx->peer,
                                   .set = HS_MEMBER_SET_ROLES,
                                   .roles = (uint64_t[]){fx->mod_role},
                                   .nroles = 1};
    assert_int_equal(edit(fx, &strip, &err), HS_EPERM);
    assert_int_equal(roles_of(fx, fx->peer), 2);
    /* PUT/DELETE of one role: idempotent, @everyone unknown. */
    int64_t updates = events(fx, "GUILD_MEMBER_UPDATE");
    struct hs_member_role put = {.guild_id = fx->guild,
                                 .actor_id = fx->mod,
                                 .user_id = fx->member,
                                 .role_id = low2,
                                 .add = 1};
    assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), 0);
    assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), 0);
    assert_int_equal(events(fx, "GUILD_MEMBER_UPDATE"), updates + 1);
    put.add = 0;
    assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), 0);
    assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), 0);
    assert_int_equal(events(fx, "GUILD_MEMBER_UPDATE"), updates + 2);
    put.role_id = fx->guild;
    assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_ROLE);
    /* Oneself: roles below one's own. */
    put = (struct hs_member_role){.guild_id = fx->guild,
                                  .actor_id = fx->mod,
                                  .user_id = fx->mod,
                                  .role_id = fx->low,
                                  .add = 1};
    assert_int_equal(tk_run(fx->core, hs_member_role_fn, &put, &err), 0);
}

static uint64_t timeout_of(struct fx *fx, uint64_t user)
{
    return (uint64_t)tk_count(fx->core,
                              "SELECT coalesce(communication_disabled_until, 0) FROM members WHERE "
                              "guild_id = %" PRIu64 " AND user_id = %" PRIu64,
                              fx->guild, user);
}

static void test_timeout(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t now = hs_now_ms();
    struct hs_member_edit op = {.actor_id = fx->mod,
                                .user_id = fx->member,
                                .set = HS_MEMBER_SET_TIMEOUT,
                                .timeout_until_ms = now + 60000};
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(timeout_of(fx, fx->member), now + 60000);
    uint64_t p;
    assert_int_equal(hs_perm_guild(tk_rdb(fx->core), fx->guild, fx->member, &p, &err), 0);
    assert_int_equal(p, HS_PERM_TIMEOUT_KEEP);
    json_t *m = hs_member_json(tk_rdb(fx->core), fx->guild, fx->member);
    assert_true(json_is_string(json_object_get(m, "communication_disabled_until")));
    json_decref(m);
    assert_int_equal(audits(fx, HS_AUDIT_MEMBER_UPDATE), 1);
    /* Cleared by 0 and by a time already past. */
    op.timeout_until_ms = 0;
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(timeout_of(fx, fx->member), 0);
    op.timeout_until_ms = now + 60000;
    assert_int_equal(edit(fx, &op, &err), 0);
    op.timeout_until_ms = now - 1000;
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(timeout_of(fx, fx->member), 0);
    /* At most 28 days ahead. */
    op.timeout_until_ms = hs_now_ms() + HS_TIMEOUT_MAX_MS + 60000;
    assert_int_equal(edit(fx, &op, &err), HS_EINVAL);
    assert_string_equal(err.field, "communication_disabled_until");
    op.timeout_until_ms = hs_now_ms() + HS_TIMEOUT_MAX_MS - 60000;
    assert_int_equal(edit(fx, &op, &err), 0);
    /* Not on an equal, the owner, oneself, an administrator; not without the permission. */
    uint64_t admin = create_role(fx, "Admin", HS_PERM_ADMINISTRATOR);
    give(fx, fx->stranger, admin);
    join(fx, fx->stranger);
    struct {
        uint64_t actor, target;
    } refused[] = {{fx->mod, fx->peer},
                   {fx->mod, fx->owner},
                   {fx->mod, fx->mod},
                   {fx->owner, fx->stranger},
                   {fx->member, fx->peer}};
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        struct hs_member_edit r = {.actor_id = refused[i].actor,
                                   .user_id = refused[i].target,
                                   .set = HS_MEMBER_SET_TIMEOUT,
                                   .timeout_until_ms = hs_now_ms() + 60000};
        assert_int_equal(edit(fx, &r, &err), HS_EPERM);
        assert_int_equal(timeout_of(fx, refused[i].target), 0);
    }
}

static void test_kick_and_leave(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    give(fx, fx->member, fx->low);
    tk_sql(fx->core,
           "INSERT INTO channels (id, guild_id, type, name, parent_id) VALUES (8001, %" PRIu64
           ", 12, 't', %" PRIu64 ")",
           fx->guild, fx->text);
    tk_sql(fx->core, "INSERT INTO thread_members VALUES (8001, %" PRIu64 ", 1, 0)", fx->member);
    struct hs_member_kick k = {
        .guild_id = fx->guild, .actor_id = fx->mod, .user_id = fx->member, .reason = "out"};
    assert_int_equal(tk_run(fx->core, hs_member_kick_fn, &k, &err), 0);
    assert_false(is_member(fx, fx->member));
    assert_int_equal(roles_of(fx, fx->member), 0);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM thread_members WHERE user_id = %" PRIu64,
                              fx->member),
                     0);
    assert_int_equal(events(fx, "GUILD_MEMBER_REMOVE"), 1);
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT count(*) FROM audit_log WHERE action_type = %d AND target_id = "
                 "%" PRIu64 " AND reason = 'out'",
                 HS_AUDIT_MEMBER_KICK, fx->member),
        1);
    assert_int_equal(tk_run(fx->core, hs_member_kick_fn, &k, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MEMBER);
    uint64_t refused[][2] = {
        {fx->mod, fx->peer}, {fx->mod, fx->owner}, {fx->mod, fx->mod}, {fx->owner, fx->owner}};
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        struct hs_member_kick r = {
            .guild_id = fx->guild, .actor_id = refused[i][0], .user_id = refused[i][1]};
        assert_int_equal(tk_run(fx->core, hs_member_kick_fn, &r, &err), HS_EPERM);
        assert_true(is_member(fx, refused[i][1]));
    }
    /* A bot's managed role goes with it, and the roles above close the gap. */
    join(fx, fx->stranger);
    tk_sql(fx->core,
           "INSERT INTO roles (id, guild_id, name, permissions, position, managed, bot_id) "
           "SELECT 888, %" PRIu64 ", 'bot', 0, max(position) + 1, 1, %" PRIu64
           " FROM roles WHERE guild_id = %" PRIu64,
           fx->guild, fx->stranger, fx->guild);
    give(fx, fx->stranger, 888);
    struct hs_member_leave l = {.guild_id = fx->guild, .user_id = fx->stranger};
    assert_int_equal(tk_run(fx->core, hs_member_leave_fn, &l, &err), 0);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM roles WHERE id = 888"), 0);
    assert_int_equal(events(fx, "GUILD_ROLE_DELETE"), 1);
    assert_int_equal(events(fx, "GUILD_MEMBER_REMOVE"), 2);
    /* Leaving again, leaving an unknown guild, the owner leaving. */
    assert_int_equal(tk_run(fx->core, hs_member_leave_fn, &l, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_GUILD);
    l.guild_id = 4242;
    assert_int_equal(tk_run(fx->core, hs_member_leave_fn, &l, &err), HS_ENOTFOUND);
    l = (struct hs_member_leave){.guild_id = fx->guild, .user_id = fx->owner};
    assert_int_equal(tk_run(fx->core, hs_member_leave_fn, &l, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_OWNER_CANNOT_LEAVE);
    assert_true(is_member(fx, fx->owner));
}

/* Stores a message by author in channel at unix ms `at` (its id is a snowflake of then). */
static uint64_t message_at(struct fx *fx, uint64_t channel, uint64_t author, uint64_t at,
                           unsigned seq)
{
    uint64_t id = hs_snowflake_from_unix_ms(at) + seq;
    tk_sql(fx->core,
           "INSERT INTO messages (channel_id, id, author_id, content) VALUES (%" PRIu64 ", %" PRIu64
           ", %" PRIu64 ", 'm')",
           channel, id, author);
    return id;
}

static void test_ban(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t now = hs_now_ms();
    /* The member's messages: 150 recent ones in the text channel, one older than an hour,
     * one recent in a second channel; someone else's recent one. */
    tk_sql(fx->core,
           "INSERT INTO channels (id, guild_id, type, name) VALUES (8002, %" PRIu64 ", 0, 'b')",
           fx->guild);
    for (unsigned i = 0; i < 150; i++)
        message_at(fx, fx->text, fx->member, now - 60000, i);
    uint64_t old = message_at(fx, fx->text, fx->member, now - 7200 * 1000, 0);
    message_at(fx, 8002, fx->member, now - 1000, 0);
    uint64_t others = message_at(fx, fx->text, fx->mod, now - 1000, 1);
    tk_sql(fx->core, "INSERT INTO reactions VALUES (%" PRIu64 ", %" PRIu64 ", 'x', %" PRIu64 ", 1)",
           fx->text, hs_snowflake_from_unix_ms(now - 60000), fx->mod);

    assert_false(hs_member_is_banned(tk_rdb(fx->core), fx->guild, fx->member));
    struct hs_ban_create b = {.guild_id = fx->guild,
                              .actor_id = fx->mod,
                              .user_id = fx->member,
                              .delete_message_seconds = 3600,
                              .reason = "spam"};
    assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &b, &err), 0);
    assert_true(hs_member_is_banned(tk_rdb(fx->core), fx->guild, fx->member));
    assert_false(hs_member_is_banned(tk_rdb(fx->core), fx->guild, fx->peer));
    assert_false(hs_member_is_banned(tk_rdb(fx->core), 4242, fx->member));
    assert_false(is_member(fx, fx->member));
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM messages WHERE author_id = %" PRIu64, fx->member),
        1);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM messages WHERE id = %" PRIu64, old),
                     1);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM messages WHERE id = %" PRIu64, others), 1);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM reactions"), 0);
    /* 150 in one channel: bulk events of 100 and 50; the lone one: MESSAGE_DELETE. */
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'MESSAGE_DELETE_BULK' AND "
                              "channel_id = %" PRIu64 " AND json_array_length(data, '$.ids') IN "
                              "(100, 50)",
                              fx->text),
                     2);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'MESSAGE_DELETE' AND "
                              "channel_id = 8002"),
                     1);
    assert_int_equal(events(fx, "GUILD_MEMBER_REMOVE"), 1);
    assert_int_equal(events(fx, "GUILD_BAN_ADD"), 1);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM audit_log WHERE action_type = %d AND reason = "
                              "'spam'",
                              HS_AUDIT_MEMBER_BAN_ADD),
                     1);
    json_t *ban = hs_ban_json(tk_rdb(fx->core), fx->guild, fx->member);
    assert_string_equal(json_string_value(json_object_get(ban, "reason")), "spam");
    json_decref(ban);
    /* Again: nothing new. */
    assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &b, &err), 0);
    assert_int_equal(events(fx, "GUILD_BAN_ADD"), 1);
    /* A non-member can be banned; nobody bans themself, an equal or the owner. */
    struct hs_ban_create nb = {.guild_id = fx->guild, .actor_id = fx->mod, .user_id = fx->stranger};
    assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &nb, &err), 0);
    assert_int_equal(events(fx, "GUILD_MEMBER_REMOVE"), 1);
    uint64_t refused[][2] = {
        {fx->mod, fx->mod}, {fx->mod, fx->peer}, {fx->mod, fx->owner}, {fx->owner, fx->owner}};
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        struct hs_ban_create r = {
            .guild_id = fx->guild, .actor_id = refused[i][0], .user_id = refused[i][1]};
        assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &r, &err), HS_EPERM);
        assert_false(hs_member_is_banned(tk_rdb(fx->core), fx->guild, refused[i][1]));
    }
    struct hs_ban_create unknown = {.guild_id = fx->guild, .actor_id = fx->mod, .user_id = 4242};
    assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &unknown, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_USER);
    unknown.user_id = fx->peer;
    unknown.delete_message_seconds = HS_BAN_DELETE_MAX_SECONDS + 1;
    assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &unknown, &err), HS_EINVAL);

    /* The list, paged. */
    json_t *all = hs_ban_list(tk_rdb(fx->core), fx->guild, 0, 0, 1000);
    assert_int_equal(json_array_size(all), 2);
    json_decref(all);
    uint64_t lo = fx->member < fx->stranger ? fx->member : fx->stranger;
    uint64_t hi = fx->member < fx->stranger ? fx->stranger : fx->member;
    json_t *page = hs_ban_list(tk_rdb(fx->core), fx->guild, 0, lo, 10);
    assert_int_equal(json_array_size(page), 1);
    assert_int_equal(tk_json_id(json_object_get(json_array_get(page, 0), "user"), "id"), hi);
    json_decref(page);
    page = hs_ban_list(tk_rdb(fx->core), fx->guild, hi, 0, 1);
    assert_int_equal(tk_json_id(json_object_get(json_array_get(page, 0), "user"), "id"), lo);
    json_decref(page);

    /* Unban. */
    struct hs_ban_delete u = {
        .guild_id = fx->guild, .actor_id = fx->member, .user_id = fx->stranger};
    assert_int_equal(tk_run(fx->core, hs_ban_delete_fn, &u, &err),
                     HS_EPERM); /* banned: not a member */
    u.actor_id = fx->mod;
    assert_int_equal(tk_run(fx->core, hs_ban_delete_fn, &u, &err), 0);
    assert_false(hs_member_is_banned(tk_rdb(fx->core), fx->guild, fx->stranger));
    assert_int_equal(events(fx, "GUILD_BAN_REMOVE"), 1);
    assert_int_equal(audits(fx, HS_AUDIT_MEMBER_BAN_REMOVE), 1);
    assert_int_equal(tk_run(fx->core, hs_ban_delete_fn, &u, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_BAN);
    assert_null(hs_ban_json(tk_rdb(fx->core), fx->guild, fx->stranger));
}

static void test_bot_authorize_respects_bans(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    struct hs_app_create app = {.owner_id = fx->owner, .name = "Banned App"};
    assert_int_equal(tk_run(fx->core, hs_app_create_fn, &app, &err), 0);
    uint64_t bot = tk_json_id(json_object_get(app.app, "bot"), "id");
    json_decref(app.app);
    struct hs_ban_create b = {.guild_id = fx->guild, .actor_id = fx->owner, .user_id = bot};
    assert_int_equal(tk_run(fx->core, hs_ban_create_fn, &b, &err), 0);
    struct hs_bot_authorize a = {
        .app_id = app.app_id, .actor_id = fx->owner, .guild_id = fx->guild};
    assert_int_equal(tk_run(fx->core, hs_bot_authorize_fn, &a, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_BANNED);
    assert_false(is_member(fx, bot));
    struct hs_ban_delete u = {.guild_id = fx->guild, .actor_id = fx->owner, .user_id = bot};
    assert_int_equal(tk_run(fx->core, hs_ban_delete_fn, &u, &err), 0);
    assert_int_equal(tk_run(fx->core, hs_bot_authorize_fn, &a, &err), 0);
    assert_true(is_member(fx, bot));
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT count(*) FROM audit_log WHERE action_type = %d AND target_id = "
                 "%" PRIu64,
                 HS_AUDIT_BOT_ADD, bot),
        1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kick_and_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ban, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bot_authorize_respects_bans, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
