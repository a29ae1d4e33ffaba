/*
 * Unit tests for hs_roles.h through a real core: creation (defaults, the shift that keeps
 * positions dense, the 250-role limit), edits, deletion and moves, each with the
 * permission and hierarchy rules, and the events and audit entries they record.
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
#include "hs_perm.h"
#include "hs_roles.h"
#include "hs_util.h"

#include "testkit.h"

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, mod, member, stranger, guild, text;
    uint64_t mod_role; /* MANAGE_ROLES | KICK, given to mod */
};

/* Creates a role as actor; returns its id (fails the test on error). */
static uint64_t create(struct fx *fx, uint64_t actor, const char *name, uint64_t perms)
{
    struct hs_role_create op = {.guild_id = fx->guild,
                                .actor_id = actor,
                                .name = name,
                                .has_permissions = 1,
                                .permissions = perms};
    hs_error err;
    if (tk_run(fx->core, hs_role_create_fn, &op, &err) != 0)
        fail_msg("create %s: %s", name, err.msg);
    uint64_t id = tk_json_id(op.role, "id");
    json_decref(op.role);
    return id;
}

static int create_rc(struct fx *fx, uint64_t actor, const char *name, int has_perms, uint64_t perms,
                     hs_error *err)
{
    struct hs_role_create op = {.guild_id = fx->guild,
                                .actor_id = actor,
                                .name = name,
                                .has_permissions = has_perms,
                                .permissions = perms};
    int rc = tk_run(fx->core, hs_role_create_fn, &op, err);
    json_decref(op.role);
    return rc;
}

static void give(struct fx *fx, uint64_t user, uint64_t role)
{
    tk_sql(fx->core,
           "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (%" PRIu64 ", %" PRIu64
           ", %" PRIu64 ")",
           fx->guild, user, role);
}

static struct hs_role role(struct fx *fx, uint64_t id)
{
    struct hs_role r;
    hs_error err;
    if (hs_role_get(tk_rdb(fx->core), fx->guild, id, &r, &err) != 0)
        fail_msg("role %" PRIu64 ": %s", id, err.msg);
    return r;
}

/* Fails unless the guild's roles hold positions 0..n-1, @everyone at 0. */
static void assert_dense(struct fx *fx)
{
    int64_t n =
        tk_count(fx->core, "SELECT count(*) FROM roles WHERE guild_id = %" PRIu64, fx->guild);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(DISTINCT position) FROM roles WHERE guild_id = %" PRIu64,
                 fx->guild),
        n);
    assert_int_equal(
        tk_count(fx->core, "SELECT max(position) FROM roles WHERE guild_id = %" PRIu64, fx->guild),
        n - 1);
    assert_int_equal(role(fx, fx->guild).position, 0);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    fx->core = tk_core_open(fx->dir, &fx->cfg, "roles");
    fx->owner = tk_register(fx->core, "owner");
    fx->mod = tk_register(fx->core, "mod");
    fx->member = tk_register(fx->core, "member");
    fx->stranger = tk_register(fx->core, "stranger");
    fx->guild = tk_guild(fx->core, fx->owner, "Roles Guild", &fx->text);
    tk_sql(fx->core,
           "INSERT INTO members (guild_id, user_id, joined_at) VALUES (%" PRIu64 ", %" PRIu64
           ", 1), (%" PRIu64 ", %" PRIu64 ", 1)",
           fx->guild, fx->mod, fx->guild, fx->member);
    fx->mod_role = create(fx, fx->owner, "Mod", HS_PERM_MANAGE_ROLES | HS_PERM_KICK_MEMBERS);
    give(fx, fx->mod, fx->mod_role);
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

static void test_create(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int64_t updates = events(fx, "GUILD_ROLE_UPDATE");
    struct hs_role_create op = {.guild_id = fx->guild, .actor_id = fx->owner, .reason = "why"};
    assert_int_equal(tk_run(fx->core, hs_role_create_fn, &op, &err), 0);
    assert_string_equal(json_string_value(json_object_get(op.role, "name")), "new role");
    assert_int_equal(json_integer_value(json_object_get(op.role, "position")), 1);
    char perms[24];
    snprintf(perms, sizeof(perms), "%" PRIu64, (uint64_t)HS_PERM_DEFAULT_EVERYONE);
    assert_string_equal(json_string_value(json_object_get(op.role, "permissions")), perms);
    assert_true(json_is_false(json_object_get(op.role, "managed")));
    uint64_t id = tk_json_id(op.role, "id");
    json_decref(op.role);
    /* The Mod role moved up one, with an update for it. */
    assert_int_equal(role(fx, fx->mod_role).position, 2);
    assert_int_equal(events(fx, "GUILD_ROLE_UPDATE"), updates + 1);
    assert_int_equal(tk_count(fx->core,
                              "SELECT count(*) FROM events WHERE type = 'GUILD_ROLE_CREATE' AND "
                              "json_extract(data, '$.role.id') = '%" PRIu64 "'",
                              id),
                     1);
    assert_dense(fx);
    /* The audit entry, with the reason and the new values. */
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT count(*) FROM audit_log WHERE action_type = %d AND target_id = "
                 "%" PRIu64 " AND user_id = %" PRIu64 " AND reason = 'why' AND "
                 "json_extract(changes, '$[0].new_value') = 'new role'",
                 HS_AUDIT_ROLE_CREATE, id, fx->owner),
        1);
    /* Fields. */
    struct hs_role_create op2 = {.guild_id = fx->guild,
                                 .actor_id = fx->owner,
                                 .name = "Fancy",
                                 .has_permissions = 1,
                                 .permissions = HS_PERM_KICK_MEMBERS | HS_P(60),
                                 .color = 0xABCDEF,
                                 .hoist = 1,
                                 .mentionable = 1};
    assert_int_equal(tk_run(fx->core, hs_role_create_fn, &op2, &err), 0);
    struct hs_role r = role(fx, tk_json_id(op2.role, "id"));
    json_decref(op2.role);
    assert_string_equal(r.name, "Fancy");
    assert_int_equal(r.permissions, HS_PERM_KICK_MEMBERS); /* unknown bits dropped */
    assert_int_equal(r.color, 0xABCDEF);
    assert_true(r.hoist && r.mentionable && !r.managed);
    assert_int_equal(r.position, 1);
    assert_dense(fx);
}

static void test_create_validation(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    char name[512];
    int64_t n = tk_count(fx->core, "SELECT count(*) FROM roles");
    assert_int_equal(create_rc(fx, fx->owner, "", 0, 0, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.field, "name");
    memset(name, 'x', 101);
    name[101] = '\0';
    assert_int_equal(create_rc(fx, fx->owner, name, 0, 0, &err), HS_EINVAL);
    assert_string_equal(err.form_code, "BASE_TYPE_BAD_LENGTH");
    struct hs_role_create op = {.guild_id = fx->guild, .actor_id = fx->owner, .color = 1 << 24};
    assert_int_equal(tk_run(fx->core, hs_role_create_fn, &op, &err), HS_EINVAL);
    assert_string_equal(err.field, "color");
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM roles"), n);
    /* 100 code points of two bytes each is fine. */
    for (int i = 0; i < 100; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[200] = '\0';
    assert_int_equal(create_rc(fx, fx->owner, name, 0, 0, &err), 0);
}

static void test_create_permissions(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int64_t n = tk_count(fx->core, "SELECT count(*) FROM roles");
    assert_int_equal(create_rc(fx, fx->stranger, "x", 0, 0, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    assert_int_equal(create_rc(fx, fx->member, "x", 0, 0, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    /* The moderator grants only what it holds (its role's and @everyone's). */
    assert_int_equal(create_rc(fx, fx->mod, "x", 1, HS_PERM_ADMINISTRATOR, &err), HS_EPERM);
    assert_int_equal(create_rc(fx, fx->mod, "x", 1, HS_PERM_BAN_MEMBERS, &err), HS_EPERM);
    struct hs_role_create unknown = {.guild_id = 4242, .actor_id = fx->owner, .name = "x"};
    assert_int_equal(tk_run(fx->core, hs_role_create_fn, &unknown, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_GUILD);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM roles"), n);
    assert_int_equal(
        create_rc(fx, fx->mod, "ok", 1, HS_PERM_KICK_MEMBERS | HS_PERM_VIEW_CHANNEL, &err), 0);
    assert_true(role(fx, fx->mod_role).position > 1);
    /* MANAGE_ROLES through @everyone, with no role of one's own: refused. */
    tk_sql(fx->core, "UPDATE roles SET permissions = permissions | %" PRIu64 " WHERE id = %" PRIu64,
           (uint64_t)HS_PERM_MANAGE_ROLES, fx->guild);
    assert_int_equal(create_rc(fx, fx->member, "x", 0, 0, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
}

static void test_create_limit(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    /* Fill up to 250 (with @everyone and Mod) by rows, keeping positions dense. */
    int have =
        (int)tk_count(fx->core, "SELECT count(*) FROM roles WHERE guild_id = %" PRIu64, fx->guild);
    tk_sql(fx->core, "UPDATE roles SET position = %d WHERE id = %" PRIu64, HS_ROLES_MAX - 1,
           fx->mod_role);
    for (int i = have; i < HS_ROLES_MAX; i++)
        tk_sql(fx->core,
               "INSERT INTO roles (id, guild_id, name, permissions, position) VALUES (%d, %" PRIu64
               ", 'filler', 0, %d)",
               100000 + i, fx->guild, i - have + 1);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM roles WHERE guild_id = %" PRIu64, fx->guild),
        HS_ROLES_MAX);
    assert_dense(fx);
    assert_int_equal(create_rc(fx, fx->owner, "one more", 0, 0, &err), HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_MAX_ROLES);
    /* One deleted, one created. */
    struct hs_role_delete del = {
        .guild_id = fx->guild, .actor_id = fx->owner, .role_id = 100000 + have};
    assert_int_equal(tk_run(fx->core, hs_role_delete_fn, &del, &err), 0);
    assert_int_equal(create_rc(fx, fx->owner, "fits", 0, 0, &err), 0);
    assert_dense(fx);
}

/* Moves ids[i] to positions[i] as actor; checks the answer lists every role. */
static int move(struct fx *fx, uint64_t actor, const uint64_t *ids, const int *pos, size_t n,
                hs_error *err)
{
    struct hs_role_move op = {
        .guild_id = fx->guild, .actor_id = actor, .ids = ids, .positions = pos, .n = n};
    int rc = tk_run(fx->core, hs_role_move_fn, &op, err);
    if (rc == 0) {
        assert_true(json_is_array(op.roles));
        assert_int_equal(
            json_array_size(op.roles),
            tk_count(fx->core, "SELECT count(*) FROM roles WHERE guild_id = %" PRIu64, fx->guild));
    }
    json_decref(op.roles);
    return rc;
}

static int edit(struct fx *fx, struct hs_role_edit *op, hs_error *err)
{
    op->guild_id = fx->guild;
    int rc = tk_run(fx->core, hs_role_edit_fn, op, err);
    json_decref(op->role);
    op->role = NULL;
    return rc;
}

static void test_edit(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t low = create(fx, fx->owner, "Low", HS_PERM_BAN_MEMBERS); /* mod lacks BAN */
    int64_t audits = tk_count(fx->core, "SELECT count(*) FROM audit_log WHERE action_type = %d",
                              HS_AUDIT_ROLE_UPDATE);
    struct hs_role_edit op = {.actor_id = fx->owner,
                              .role_id = low,
                              .set = HS_ROLE_SET_NAME | HS_ROLE_SET_COLOR | HS_ROLE_SET_HOIST,
                              .name = "Lower",
                              .color = 5,
                              .hoist = 1};
    assert_int_equal(edit(fx, &op, &err), 0);
    struct hs_role r = role(fx, low);
    assert_string_equal(r.name, "Lower");
    assert_int_equal(r.color, 5);
    assert_true(r.hoist && !r.mentionable);
    assert_int_equal(r.permissions, HS_PERM_BAN_MEMBERS);
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT json_array_length(changes) FROM audit_log WHERE action_type = "
                 "%d ORDER BY id DESC LIMIT 1",
                 HS_AUDIT_ROLE_UPDATE),
        3);
    /* The same values again: an update event, no audit entry. */
    audits += 1;
    assert_int_equal(edit(fx, &op, &err), 0);
    assert_int_equal(tk_count(fx->core, "SELECT count(*) FROM audit_log WHERE action_type = %d",
                              HS_AUDIT_ROLE_UPDATE),
                     audits);

    /* The moderator: below its role, keeps BAN it lacks, may not add ADMINISTRATOR. */
    struct hs_role_edit m = {.actor_id = fx->mod,
                             .role_id = low,
                             .set = HS_ROLE_SET_PERMISSIONS,
                             .permissions = HS_PERM_BAN_MEMBERS | HS_PERM_KICK_MEMBERS};
    assert_int_equal(edit(fx, &m, &err), 0);
    m.permissions = HS_PERM_BAN_MEMBERS | HS_PERM_ADMINISTRATOR;
    assert_int_equal(edit(fx, &m, &err), HS_EPERM);
    assert_int_equal(role(fx, low).permissions, HS_PERM_BAN_MEMBERS | HS_PERM_KICK_MEMBERS);
    m.permissions = 0; /* dropping is fine */
    assert_int_equal(edit(fx, &m, &err), 0);
    /* Not its own role, nor one above it. */
    uint64_t high = create(fx, fx->owner, "High", 0);
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){high}, (int[]){HS_ROLES_MAX}, 1, &err), 0);
    assert_true(role(fx, high).position > role(fx, fx->mod_role).position);
    struct hs_role_edit up = {
        .actor_id = fx->mod, .role_id = fx->mod_role, .set = HS_ROLE_SET_COLOR, .color = 1};
    assert_int_equal(edit(fx, &up, &err), HS_EPERM);
    up.role_id = high;
    assert_int_equal(edit(fx, &up, &err), HS_EPERM);
    assert_int_equal(role(fx, high).color, 0);
    /* No MANAGE_ROLES, not a member, unknown role. */
    up.actor_id = fx->member;
    up.role_id = low;
    assert_int_equal(edit(fx, &up, &err), HS_EPERM);
    up.actor_id = fx->stranger;
    assert_int_equal(edit(fx, &up, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    up.actor_id = fx->owner;
    up.role_id = 4242;
    assert_int_equal(edit(fx, &up, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_ROLE);
    /* @everyone: permissions yes, a new name no. */
    struct hs_role_edit ev = {
        .actor_id = fx->owner, .role_id = fx->guild, .set = HS_ROLE_SET_NAME, .name = "all"};
    assert_int_equal(edit(fx, &ev, &err), HS_EPERM);
    ev.name = "@everyone";
    assert_int_equal(edit(fx, &ev, &err), 0);
    ev.set = HS_ROLE_SET_PERMISSIONS;
    ev.permissions = HS_PERM_VIEW_CHANNEL;
    assert_int_equal(edit(fx, &ev, &err), 0);
    assert_string_equal(role(fx, fx->guild).name, "@everyone");
    assert_int_equal(role(fx, fx->guild).permissions, HS_PERM_VIEW_CHANNEL);
}

static void test_delete(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t a = create(fx, fx->owner, "A", 0);
    uint64_t b = create(fx, fx->owner, "B", 0); /* B=1, A=2, Mod=3 */
    give(fx, fx->member, a);
    tk_sql(fx->core, "INSERT INTO overwrites VALUES (%" PRIu64 ", %" PRIu64 ", 0, 0, 1024)",
           fx->text, a);
    int64_t chan_updates = events(fx, "CHANNEL_UPDATE");
    struct hs_role_delete op = {
        .guild_id = fx->guild, .actor_id = fx->mod, .role_id = a, .reason = "gone"};
    assert_int_equal(tk_run(fx->core, hs_role_delete_fn, &op, &err), 0);
    assert_int_equal(hs_role_get(tk_rdb(fx->core), fx->guild, a, &(struct hs_role){0}, &err),
                     HS_ENOTFOUND);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM member_roles WHERE role_id = %" PRIu64, a), 0);
    assert_int_equal(
        tk_count(fx->core, "SELECT count(*) FROM overwrites WHERE target_id = %" PRIu64, a), 0);
    assert_int_equal(events(fx, "CHANNEL_UPDATE"), chan_updates + 1);
    assert_int_equal(events(fx, "GUILD_ROLE_DELETE"), 1);
    assert_int_equal(role(fx, b).position, 1);
    assert_int_equal(role(fx, fx->mod_role).position, 2);
    assert_dense(fx);
    assert_int_equal(
        tk_count(fx->core,
                 "SELECT count(*) FROM audit_log WHERE action_type = %d AND target_id = "
                 "%" PRIu64 " AND reason = 'gone'",
                 HS_AUDIT_ROLE_DELETE, a),
        1);
    /* Again: unknown. */
    assert_int_equal(tk_run(fx->core, hs_role_delete_fn, &op, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_ROLE);
    /* @everyone, a managed role, the moderator's own role, without MANAGE_ROLES. */
    tk_sql(fx->core,
           "INSERT INTO roles (id, guild_id, name, permissions, position, managed, bot_id) VALUES "
           "(555, %" PRIu64 ", 'bot', 0, 1, 1, %" PRIu64 ")",
           fx->guild, fx->member);
    uint64_t refused[][2] = {
        {fx->owner, fx->guild}, {fx->owner, 555}, {fx->mod, fx->mod_role}, {fx->member, b}};
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        struct hs_role_delete d = {
            .guild_id = fx->guild, .actor_id = refused[i][0], .role_id = refused[i][1]};
        assert_int_equal(tk_run(fx->core, hs_role_delete_fn, &d, &err), HS_EPERM);
        assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    }
    assert_int_equal(events(fx, "GUILD_ROLE_DELETE"), 1);
}

static void test_move(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t a = create(fx, fx->owner, "A", 0);
    uint64_t b = create(fx, fx->owner, "B", 0);
    uint64_t c = create(fx, fx->owner, "C", 0); /* C=1 B=2 A=3 Mod=4 */
    assert_int_equal(role(fx, a).position, 3);
    /* C to the top of the three. */
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){c}, (int[]){3}, 1, &err), 0);
    assert_int_equal(role(fx, b).position, 1);
    assert_int_equal(role(fx, a).position, 2);
    assert_int_equal(role(fx, c).position, 3);
    assert_int_equal(role(fx, fx->mod_role).position, 4);
    assert_dense(fx);
    /* Two at once, one past the end (clamped to the top). */
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){fx->mod_role, a}, (int[]){1, 99}, 2, &err),
                     0);
    assert_int_equal(role(fx, fx->mod_role).position, 1);
    assert_int_equal(role(fx, a).position, 4);
    assert_dense(fx);
    /* Two asking for the same place: the first listed gets it, the other the next one. */
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){b, c}, (int[]){2, 2}, 2, &err), 0);
    assert_int_equal(role(fx, b).position, 2);
    assert_int_equal(role(fx, c).position, 3);
    assert_dense(fx);
    /* Audit entries only for listed roles that moved (not for those shifted aside). */
#define MOVES                                                                                      \
    "SELECT count(*) FROM audit_log WHERE action_type = %d AND "                                   \
    "json_extract(changes, '$[0].key') = 'position'"
    int64_t logged = tk_count(fx->core, MOVES, HS_AUDIT_ROLE_UPDATE);
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){b}, (int[]){2}, 1, &err), 0);
    assert_int_equal(tk_count(fx->core, MOVES, HS_AUDIT_ROLE_UPDATE), logged);
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){b}, (int[]){1}, 1, &err), 0);
    assert_int_equal(tk_count(fx->core, MOVES, HS_AUDIT_ROLE_UPDATE), logged + 1);
#undef MOVES
    assert_int_equal(role(fx, fx->mod_role).position, 2);
    /* @everyone at 0 is accepted and stays; elsewhere refused. */
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){fx->guild}, (int[]){0}, 1, &err), 0);
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){fx->guild}, (int[]){1}, 1, &err), HS_EPERM);
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){4242}, (int[]){1}, 1, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_ROLE);
    assert_dense(fx);
}

static void test_move_hierarchy(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    uint64_t a = create(fx, fx->owner, "A", 0);
    uint64_t b = create(fx, fx->owner, "B", 0); /* B=1 A=2 Mod=3 */
    uint64_t top = create(fx, fx->owner, "Top", 0);
    assert_int_equal(move(fx, fx->owner, (uint64_t[]){top}, (int[]){4}, 1, &err), 0);
    /* B=1 A=2 Mod=3 Top=4 */
    assert_int_equal(role(fx, fx->mod_role).position, 3);
    assert_int_equal(move(fx, fx->mod, (uint64_t[]){b}, (int[]){2}, 1, &err), 0);
    assert_int_equal(role(fx, b).position, 2);
    assert_int_equal(role(fx, a).position, 1);
    /* Refused: to its own level or above, its own role, a role above, no MANAGE_ROLES. */
    struct {
        uint64_t actor, id;
        int pos;
    } refused[] = {{fx->mod, a, 3},
                   {fx->mod, a, 4},
                   {fx->mod, fx->mod_role, 1},
                   {fx->mod, top, 1},
                   {fx->member, a, 2}};
    for (size_t i = 0; i < HS_ARRAY_LEN(refused); i++) {
        assert_int_equal(move(fx, refused[i].actor, &refused[i].id, &refused[i].pos, 1, &err),
                         HS_EPERM);
        assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    }
    assert_int_equal(role(fx, a).position, 1);
    assert_int_equal(role(fx, b).position, 2);
    assert_int_equal(role(fx, fx->mod_role).position, 3);
    assert_int_equal(role(fx, top).position, 4);
}

static void test_lists_and_json(void **state)
{
    struct fx *fx = *state;
    create(fx, fx->owner, "Second", 0);
    json_t *list = hs_role_list(tk_rdb(fx->core), fx->guild);
    assert_int_equal(json_array_size(list), 3);
    for (size_t i = 0; i < json_array_size(list); i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(list, i), "position")),
                         (json_int_t)i);
    json_t *everyone = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(everyone, "name")), "@everyone");
    assert_null(json_object_get(everyone, "tags"));
    json_decref(list);
    assert_int_equal(hs_role_count(tk_rdb(fx->core), fx->guild), 3);
    assert_null(hs_role_json(tk_rdb(fx->core), 4242));
    /* A role of another guild is unknown here. */
    hs_error err;
    struct hs_role r;
    assert_int_equal(hs_role_get(tk_rdb(fx->core), 4242, fx->mod_role, &r, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_ROLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_hierarchy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
