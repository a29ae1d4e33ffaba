/*
 * Unit tests for channel edits, overwrites, slowmode and threads (homeserver/hs_channels.c,
 * hs_threads.c) against a real core in a temporary data directory. Users, members and roles
 * are inserted with plain SQL so that each case states exactly the permissions it is about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hs_channels.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_threads.h"
#include "hs_util.h"

#include "testkit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, alice, bob, carol; /* alice: the moderator role; bob, carol: @everyone */
    uint64_t guild, general, mod_role;
};

/* ------------------------------------------------------------------ helpers */

struct sql_op {
    char *sql;
};

/* The data of the newest event of a type about a channel (new JSON). */
static json_t *last_event(struct fx *f, const char *type, uint64_t channel_id)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(hs_db_handle(tk_rdb(f->core)),
                                        "SELECT data FROM events WHERE type = ? AND channel_id = "
                                        "? ORDER BY seq DESC LIMIT 1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)channel_id);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    json_t *data = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
    sqlite3_finalize(s);
    assert_non_null(data);
    return data;
}

static uint64_t user(struct fx *f, const char *name, uint64_t id)
{
    tk_sql(f->core, "INSERT INTO users (id, username, created_at) VALUES (%" PRIu64 ", '%s', 0)",
           id, name);
    return id;
}

static void member(struct fx *f, uint64_t uid)
{
    tk_sql(f->core,
           "INSERT INTO members (guild_id, user_id, joined_at) VALUES (%" PRIu64 ", %" PRIu64
           ", 0)",
           f->guild, uid);
}

static uint64_t new_channel(struct fx *f, const char *name, int type, int rate_limit)
{
    struct hs_channel_create op = {.guild_id = f->guild,
                                   .actor_id = f->owner,
                                   .name = name,
                                   .type = type,
                                   .position = -1,
                                   .rate_limit_per_user = rate_limit};
    hs_error err;
    assert_int_equal(tk_run(f->core, hs_channel_create_fn, &op, &err), 0);
    uint64_t id = tk_json_id(op.channel, "id");
    json_decref(op.channel);
    return id;
}

static int put_ow(struct fx *f, uint64_t actor, uint64_t channel, uint64_t target, int type,
                  uint64_t allow, uint64_t deny, hs_error *err)
{
    struct hs_overwrite_put op = {.channel_id = channel,
                                  .target_id = target,
                                  .actor_id = actor,
                                  .type = type,
                                  .allow = allow,
                                  .deny = deny};
    return tk_run(f->core, hs_overwrite_put_fn, &op, err);
}

static int del_ow(struct fx *f, uint64_t actor, uint64_t channel, uint64_t target, hs_error *err)
{
    struct hs_overwrite_put op = {
        .channel_id = channel, .target_id = target, .actor_id = actor, .remove = 1};
    return tk_run(f->core, hs_overwrite_put_fn, &op, err);
}

static int post(struct fx *f, uint64_t author, uint64_t channel, hs_error *err)
{
    struct hs_msg_create op = {
        .channel_id = channel, .author_id = author, .content = "hi", .max_chars = 2000};
    int rc = tk_run(f->core, hs_msg_create_fn, &op, err);
    json_decref(op.message);
    return rc;
}

static uint64_t new_thread(struct fx *f, uint64_t actor, uint64_t parent, int type, int invitable)
{
    struct hs_thread_create op = {.parent_id = parent,
                                  .actor_id = actor,
                                  .name = "thread",
                                  .type = type,
                                  .invitable = invitable};
    hs_error err;
    assert_int_equal(tk_run(f->core, hs_thread_create_fn, &op, &err), 0);
    uint64_t id = tk_json_id(op.thread, "id");
    json_decref(op.thread);
    return id;
}

static int thread_edit(struct fx *f, uint64_t actor, uint64_t thread, unsigned set, int archived,
                       int locked, hs_error *err)
{
    struct hs_channel_update op = {.channel_id = thread,
                                   .actor_id = actor,
                                   .set = set,
                                   .archived = archived,
                                   .locked = locked};
    int rc = tk_run(f->core, hs_channel_update_fn, &op, err);
    json_decref(op.channel);
    return rc;
}

static int thread_member(struct fx *f, uint64_t actor, uint64_t thread, uint64_t user_id, int add,
                         hs_error *err)
{
    struct hs_thread_member_op op = {
        .thread_id = thread, .actor_id = actor, .user_id = user_id, .add = add};
    return tk_run(f->core, hs_thread_member_fn, &op, err);
}

static int setup(void **state)
{
    struct fx *f = hs_xcalloc(1, sizeof(*f));
    f->core = tk_core_open(f->dir, &f->cfg, "channels");

    f->owner = user(f, "owner", 1001);
    f->alice = user(f, "alice", 1002);
    f->bob = user(f, "bob", 1003);
    f->carol = user(f, "carol", 1004);
    f->guild = tk_guild(f->core, f->owner, "Unit Guild", &f->general);
    member(f, f->alice);
    member(f, f->bob);
    member(f, f->carol);
    /* alice moderates: channels, roles, messages, threads. */
    f->mod_role = 5000;
    tk_sql(f->core,
           "INSERT INTO roles (id, guild_id, name, permissions, position) VALUES (%" PRIu64
           ", %" PRIu64 ", 'mod', %" PRIu64 ", 1)",
           f->mod_role, f->guild,
           HS_PERM_MANAGE_CHANNELS | HS_PERM_MANAGE_ROLES | HS_PERM_MANAGE_MESSAGES |
               HS_PERM_MANAGE_THREADS);
    tk_sql(f->core,
           "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (%" PRIu64 ", %" PRIu64
           ", %" PRIu64 ")",
           f->guild, f->alice, f->mod_role);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tk_core_close(f->core, &f->cfg, f->dir);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ cases */

static void test_overwrite_bits_held(void **state)
{
    struct fx *f = *state;
    hs_error err;
    uint64_t c = new_channel(f, "bits", HS_CHANNEL_TEXT, 0);
    /* alice holds SEND_MESSAGES: she may grant or deny it... */
    assert_int_equal(put_ow(f, f->alice, c, f->bob, 1, HS_PERM_SEND_MESSAGES, 0, &err), 0);
    assert_int_equal(put_ow(f, f->alice, c, f->bob, 1, 0, HS_PERM_SEND_MESSAGES, &err), 0);
    /* ...but not MANAGE_GUILD, which she lacks. */
    assert_int_equal(put_ow(f, f->alice, c, f->bob, 1, HS_PERM_MANAGE_GUILD, 0, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    /* The owner denies @everyone ADD_REACTIONS here: alice loses it in this channel, so she
     * may not lift that deny, not even by deleting the overwrite. */
    assert_int_equal(put_ow(f, f->owner, c, f->guild, 0, 0, HS_PERM_ADD_REACTIONS, &err), 0);
    assert_int_equal(put_ow(f, f->alice, c, f->guild, 0, 0, 0, &err), HS_EPERM);
    assert_int_equal(del_ow(f, f->alice, c, f->guild, &err), HS_EPERM);
    /* Re-stating it unchanged touches no bit and is allowed. */
    assert_int_equal(put_ow(f, f->alice, c, f->guild, 0, 0, HS_PERM_ADD_REACTIONS, &err), 0);
    assert_int_equal(del_ow(f, f->owner, c, f->guild, &err), 0);
    /* bob has no MANAGE_ROLES at all. */
    assert_int_equal(put_ow(f, f->bob, c, f->carol, 1, 0, 0, &err), HS_EPERM);
    assert_int_equal(
        tk_count(f->core, "SELECT count(*) FROM overwrites WHERE channel_id = %" PRIu64, c), 1);
}

static void test_overwrite_targets_and_limits(void **state)
{
    struct fx *f = *state;
    hs_error err;
    uint64_t c = new_channel(f, "targets", HS_CHANNEL_TEXT, 0);
    assert_int_equal(put_ow(f, f->owner, c, 777, 0, 0, 0, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_ROLE);
    assert_int_equal(put_ow(f, f->owner, c, 777, 1, 0, 0, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MEMBER);
    assert_int_equal(put_ow(f, f->owner, c, f->mod_role, 1, 0, 0, &err), HS_ENOTFOUND);
    assert_int_equal(put_ow(f, f->owner, c, f->bob, 2, 0, 0, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.field, "type");
    assert_int_equal(put_ow(f, f->owner, c, f->bob, 1, HS_P(47), 0, &err), HS_EINVAL);
    assert_int_equal(del_ow(f, f->owner, c, f->bob, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_OVERWRITE);
    /* At most HS_CHANNEL_MAX_OVERWRITES per channel: what hs_perm_channel reads. */
    for (int i = 0; i < HS_CHANNEL_MAX_OVERWRITES; i++) {
        tk_sql(f->core,
               "INSERT INTO roles (id, guild_id, name, permissions) VALUES (%d, %" PRIu64
               ", 'r', 0)",
               9000 + i, f->guild);
        assert_int_equal(put_ow(f, f->owner, c, (uint64_t)(9000 + i), 0, 0, 0, &err), 0);
    }
    tk_sql(f->core,
           "INSERT INTO roles (id, guild_id, name, permissions) VALUES (8999, %" PRIu64 ", 'r', 0)",
           f->guild);
    assert_int_equal(put_ow(f, f->owner, c, 8999, 0, 0, 0, &err), HS_EINVAL);
    assert_int_equal(
        tk_count(f->core, "SELECT count(*) FROM overwrites WHERE channel_id = %" PRIu64, c),
        HS_CHANNEL_MAX_OVERWRITES);
    /* Threads and DMs have no overwrites of their own. */
    uint64_t t = new_thread(f, f->owner, f->general, HS_CHANNEL_PUBLIC_THREAD, 1);
    assert_int_equal(put_ow(f, f->owner, t, f->bob, 1, 0, 0, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_CHANNEL_TYPE);
}

static void test_overwrite_takes_effect_at_once(void **state)
{
    struct fx *f = *state;
    hs_error err;
    struct hs_channel ch;
    uint64_t perms;
    uint64_t c = new_channel(f, "hide", HS_CHANNEL_TEXT, 0);
    assert_int_equal(hs_channel_access(tk_rdb(f->core), c, f->bob, &ch, &perms, &err), 0);
    assert_int_equal(put_ow(f, f->owner, c, f->guild, 0, 0, HS_PERM_VIEW_CHANNEL, &err), 0);
    assert_int_equal(hs_channel_access(tk_rdb(f->core), c, f->bob, &ch, &perms, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    json_t *list = hs_channel_list(tk_rdb(f->core), f->guild, f->bob);
    for (size_t i = 0; i < json_array_size(list); i++)
        assert_int_not_equal(tk_json_id(json_array_get(list, i), "id"), c);
    json_decref(list);
    /* The event that announced the change carries the new overwrites. */
    json_t *ev = last_event(f, "CHANNEL_UPDATE", c);
    json_t *ow = json_array_get(json_object_get(ev, "permission_overwrites"), 0);
    assert_string_equal(json_string_value(json_object_get(ow, "deny")), "1024");
    assert_int_equal(tk_json_id(ow, "id"), f->guild);
    json_decref(ev);
    assert_int_equal(post(f, f->bob, c, &err), HS_EPERM);
}

static void test_update_validation_and_noop(void **state)
{
    struct fx *f = *state;
    hs_error err;
    uint64_t c = new_channel(f, "valid", HS_CHANNEL_TEXT, 0);
    uint64_t text = new_channel(f, "text", HS_CHANNEL_TEXT, 0);
    uint64_t cat = new_channel(f, "cat", HS_CHANNEL_CATEGORY, 0);
    struct hs_channel_update op = {
        .channel_id = c, .actor_id = f->owner, .set = HS_CHUP_PARENT, .parent_id = text};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &op, &err), HS_EINVAL);
    assert_string_equal(err.field, "parent_id");
    /* A category cannot have a parent: the field is ignored for it. */
    op = (struct hs_channel_update){
        .channel_id = cat, .actor_id = f->owner, .set = HS_CHUP_PARENT, .parent_id = cat};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &op, &err), 0);
    json_decref(op.channel);
    op = (struct hs_channel_update){
        .channel_id = c, .actor_id = f->bob, .set = HS_CHUP_NAME, .name = "nope"};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &op, &err), HS_EPERM);
    /* alice has MANAGE_CHANNELS: an edit that changes nothing records no event. */
    int64_t before =
        tk_count(f->core, "SELECT count(*) FROM events WHERE channel_id = %" PRIu64, c);
    op = (struct hs_channel_update){
        .channel_id = c, .actor_id = f->alice, .set = HS_CHUP_NAME, .name = "valid"};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &op, &err), 0);
    json_decref(op.channel);
    assert_int_equal(
        tk_count(f->core, "SELECT count(*) FROM events WHERE channel_id = %" PRIu64, c), before);
    op = (struct hs_channel_update){
        .channel_id = c, .actor_id = f->alice, .set = HS_CHUP_NAME, .name = "Re Named"};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &op, &err), 0);
    assert_string_equal(json_string_value(json_object_get(op.channel, "name")), "re-named");
    json_decref(op.channel);
    assert_int_equal(tk_count(f->core,
                              "SELECT count(*) FROM audit_log WHERE target_id = %" PRIu64
                              " AND action_type = 11",
                              c),
                     1);
}

static void test_slowmode(void **state)
{
    struct fx *f = *state;
    hs_error err;
    uint64_t c = new_channel(f, "slow", HS_CHANNEL_TEXT, 10);
    assert_int_equal(post(f, f->bob, c, &err), 0);
    assert_int_equal(post(f, f->bob, c, &err), HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_SLOWMODE);
    long wait = strtol(err.field, NULL, 10);
    assert_true(wait > 0 && wait <= 10000);
    /* Per author: carol is not held back by bob's post. */
    assert_int_equal(post(f, f->carol, c, &err), 0);
    /* alice has MANAGE_MESSAGES, the owner everything. */
    assert_int_equal(post(f, f->alice, c, &err), 0);
    assert_int_equal(post(f, f->alice, c, &err), 0);
    assert_int_equal(post(f, f->owner, c, &err), 0);
    assert_int_equal(post(f, f->owner, c, &err), 0);
    /* BYPASS_SLOWMODE through an overwrite works too. */
    assert_int_equal(put_ow(f, f->owner, c, f->bob, 1, HS_P(52), 0, &err), 0);
    assert_int_equal(post(f, f->bob, c, &err), 0);
    /* A refused post stored nothing. */
    assert_int_equal(tk_count(f->core,
                              "SELECT count(*) FROM messages WHERE channel_id = %" PRIu64
                              " AND author_id = %" PRIu64,
                              c, f->bob),
                     2);
    /* A post older than the window does not count: make bob's last post 11 s old. */
    uint64_t c2 = new_channel(f, "slow2", HS_CHANNEL_TEXT, 10);
    assert_int_equal(post(f, f->carol, c2, &err), 0);
    uint64_t old_id = hs_snowflake_from_unix_ms(
        hs_snowflake_unix_ms((uint64_t)tk_count(f->core,
                                                "SELECT max(id) FROM messages WHERE channel_id = "
                                                "%" PRIu64,
                                                c2)) -
        11000);
    tk_sql(f->core, "UPDATE messages SET id = %" PRIu64 " WHERE channel_id = %" PRIu64, old_id, c2);
    assert_int_equal(post(f, f->carol, c2, &err), 0);
}

static void test_thread_posting_rules(void **state)
{
    struct fx *f = *state;
    hs_error err;
    uint64_t t = new_thread(f, f->bob, f->general, HS_CHANNEL_PUBLIC_THREAD, 1);
    assert_int_equal(post(f, f->carol, t, &err), 0);
    /* Locking is for MANAGE_THREADS; a locked thread takes posts from them only. */
    assert_int_equal(thread_edit(f, f->bob, t, HS_CHUP_LOCKED, 0, 1, &err), HS_EPERM);
    assert_int_equal(thread_edit(f, f->alice, t, HS_CHUP_LOCKED, 0, 1, &err), 0);
    assert_int_equal(post(f, f->carol, t, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_THREAD_LOCKED);
    assert_int_equal(post(f, f->alice, t, &err), 0);
    /* Archived and locked: nobody but moderators may bring it back. */
    assert_int_equal(thread_edit(f, f->alice, t, HS_CHUP_ARCHIVED, 1, 0, &err), 0);
    assert_int_equal(thread_edit(f, f->bob, t, HS_CHUP_ARCHIVED, 0, 0, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_THREAD_LOCKED);
    assert_int_equal(thread_edit(f, f->alice, t, HS_CHUP_LOCKED, 0, 0, &err), 0);
    /* Archived, unlocked: renaming is refused until it is unarchived; a post unarchives. */
    struct hs_channel_update rename = {
        .channel_id = t, .actor_id = f->bob, .set = HS_CHUP_NAME, .name = "new"};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &rename, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_THREAD_ARCHIVED);
    assert_int_equal(post(f, f->carol, t, &err), 0);
    struct hs_channel ch;
    assert_int_equal(hs_channel_get(tk_rdb(f->core), t, &ch, &err), 0);
    assert_int_equal(ch.archived, 0);
    assert_int_equal(tk_count(f->core, "SELECT message_count FROM channels WHERE id = %" PRIu64, t),
                     3);
    /* SEND_MESSAGES_IN_THREADS, not SEND_MESSAGES, governs posting in a thread. */
    assert_int_equal(
        put_ow(f, f->owner, f->general, f->carol, 1, 0, HS_PERM_SEND_MESSAGES_IN_THREADS, &err), 0);
    assert_int_equal(post(f, f->carol, t, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_PERMISSIONS);
    assert_int_equal(post(f, f->carol, f->general, &err), 0);
}

static void test_thread_members(void **state)
{
    struct fx *f = *state;
    hs_error err;
    struct hs_channel ch;
    uint64_t perms;
    uint64_t t = new_thread(f, f->bob, f->general, HS_CHANNEL_PRIVATE_THREAD, 0);
    /* Private: carol cannot see it, and cannot join it herself. */
    assert_int_equal(hs_channel_access(tk_rdb(f->core), t, f->carol, &ch, &perms, &err), HS_EPERM);
    assert_int_equal(thread_member(f, f->carol, t, f->carol, 1, &err), HS_EPERM);
    /* Not invitable: the owner without MANAGE_THREADS may not add; a moderator may. */
    assert_int_equal(thread_member(f, f->bob, t, f->carol, 1, &err), HS_EPERM);
    assert_int_equal(thread_member(f, f->alice, t, f->carol, 1, &err), 0);
    assert_int_equal(hs_channel_access(tk_rdb(f->core), t, f->carol, &ch, &perms, &err), 0);
    /* Adding twice changes nothing and records nothing. */
    int64_t events =
        tk_count(f->core, "SELECT count(*) FROM events WHERE channel_id = %" PRIu64, t);
    assert_int_equal(thread_member(f, f->alice, t, f->carol, 1, &err), 0);
    assert_int_equal(
        tk_count(f->core, "SELECT count(*) FROM events WHERE channel_id = %" PRIu64, t), events);
    /* Removing others: the owner or a moderator; a non-member is 10007. */
    assert_int_equal(thread_member(f, f->carol, t, f->bob, 0, &err), HS_EPERM);
    assert_int_equal(thread_member(f, f->bob, t, f->carol, 0, &err), 0);
    assert_int_equal(thread_member(f, f->bob, t, f->carol, 0, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MEMBER);
    assert_int_equal(hs_channel_access(tk_rdb(f->core), t, f->carol, &ch, &perms, &err), HS_EPERM);
    /* Someone not in the guild cannot be added. */
    uint64_t stranger = user(f, "stranger", 1099);
    assert_int_equal(thread_member(f, f->alice, t, stranger, 1, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_MEMBER);
    /* Archived: no joins or leaves. */
    assert_int_equal(thread_edit(f, f->bob, t, HS_CHUP_ARCHIVED, 1, 0, &err), 0);
    assert_int_equal(thread_member(f, f->bob, t, f->bob, 0, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_THREAD_ARCHIVED);
    /* A thread per message, at most. */
    struct hs_msg_create m = {
        .channel_id = f->general, .author_id = f->bob, .content = "start", .max_chars = 2000};
    assert_int_equal(tk_run(f->core, hs_msg_create_fn, &m, &err), 0);
    struct hs_thread_create tc = {.parent_id = f->general,
                                  .actor_id = f->bob,
                                  .message_id = tk_json_id(m.message, "id"),
                                  .name = "from message"};
    assert_int_equal(tk_run(f->core, hs_thread_create_fn, &tc, &err), 0);
    assert_int_equal(tk_json_id(tc.thread, "id"), tk_json_id(m.message, "id"));
    json_decref(tc.thread);
    tc.thread = NULL;
    assert_int_equal(tk_run(f->core, hs_thread_create_fn, &tc, &err), HS_EEXIST);
    assert_int_equal(err.reason, HS_R_THREAD_EXISTS);
    json_decref(m.message);
}

static void test_delete_cascades(void **state)
{
    struct fx *f = *state;
    hs_error err;
    struct hs_channel ch;
    uint64_t cat = new_channel(f, "cat", HS_CHANNEL_CATEGORY, 0);
    uint64_t kid = new_channel(f, "kid", HS_CHANNEL_TEXT, 0);
    struct hs_channel_update mv = {
        .channel_id = kid, .actor_id = f->owner, .set = HS_CHUP_PARENT, .parent_id = cat};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &mv, &err), 0);
    json_decref(mv.channel);
    uint64_t t = new_thread(f, f->bob, kid, HS_CHANNEL_PUBLIC_THREAD, 1);

    struct hs_channel_delete del = {.channel_id = kid, .actor_id = f->bob};
    assert_int_equal(tk_run(f->core, hs_channel_delete_fn, &del, &err), HS_EPERM);
    del = (struct hs_channel_delete){.channel_id = kid, .actor_id = f->alice};
    assert_int_equal(tk_run(f->core, hs_channel_delete_fn, &del, &err), 0);
    assert_int_equal(tk_json_id(del.channel, "id"), kid);
    json_decref(del.channel);
    assert_int_equal(hs_channel_get(tk_rdb(f->core), kid, &ch, &err), HS_ENOTFOUND);
    assert_int_equal(hs_channel_get(tk_rdb(f->core), t, &ch, &err), HS_ENOTFOUND);
    /* The gateway can still decide who hears of it. */
    uint64_t perms;
    assert_int_equal(hs_perm_channel(tk_rdb(f->core), kid, f->bob, 1, &perms, &err), 0);
    assert_true(perms & HS_PERM_VIEW_CHANNEL);
    json_t *gone = hs_channel_json_any(tk_rdb(f->core), kid, 1);
    assert_non_null(gone);
    json_decref(gone);
    assert_null(hs_channel_json(tk_rdb(f->core), kid));

    uint64_t kid2 = new_channel(f, "kid2", HS_CHANNEL_TEXT, 0);
    mv = (struct hs_channel_update){
        .channel_id = kid2, .actor_id = f->owner, .set = HS_CHUP_PARENT, .parent_id = cat};
    assert_int_equal(tk_run(f->core, hs_channel_update_fn, &mv, &err), 0);
    json_decref(mv.channel);
    del = (struct hs_channel_delete){.channel_id = cat, .actor_id = f->owner};
    assert_int_equal(tk_run(f->core, hs_channel_delete_fn, &del, &err), 0);
    json_decref(del.channel);
    assert_int_equal(hs_channel_get(tk_rdb(f->core), kid2, &ch, &err), 0);
    assert_int_equal(ch.parent_id, 0);
}

static void test_max_channels(void **state)
{
    struct fx *f = *state;
    hs_error err;
    /* general is one; fill up to 500 directly. */
    tk_sql(f->core,
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 499) "
           "INSERT INTO channels (id, guild_id, type, name) SELECT 100000 + i, %" PRIu64
           ", 0, 'c' FROM n",
           f->guild);
    struct hs_channel_create op = {
        .guild_id = f->guild, .actor_id = f->owner, .name = "over", .position = -1};
    assert_int_equal(tk_run(f->core, hs_channel_create_fn, &op, &err), HS_ELIMIT);
    assert_int_equal(err.reason, HS_R_MAX_CHANNELS);
    /* Threads do not count; a deleted channel frees its place. */
    new_thread(f, f->owner, f->general, HS_CHANNEL_PUBLIC_THREAD, 1);
    tk_sql(f->core, "UPDATE channels SET deleted = 1 WHERE id = 100001");
    assert_int_equal(tk_run(f->core, hs_channel_create_fn, &op, &err), 0);
    json_decref(op.channel);
}

static void test_positions_are_all_or_nothing(void **state)
{
    struct fx *f = *state;
    hs_error err;
    uint64_t a = new_channel(f, "a", HS_CHANNEL_TEXT, 0);
    uint64_t t = new_thread(f, f->owner, a, HS_CHANNEL_PUBLIC_THREAD, 1);
    struct hs_channel_position items[] = {{a, 40, 0, 0}, {t, 41, 0, 0}};
    struct hs_channel_positions op = {
        .guild_id = f->guild, .actor_id = f->owner, .items = items, .n = 2};
    assert_int_equal(tk_run(f->core, hs_channel_positions_fn, &op, &err), HS_EINVAL);
    assert_string_equal(err.field, "1.id");
    assert_int_not_equal(tk_count(f->core, "SELECT position FROM channels WHERE id = %" PRIu64, a),
                         40);
    op.n = 1;
    op.actor_id = f->bob;
    assert_int_equal(tk_run(f->core, hs_channel_positions_fn, &op, &err), HS_EPERM);
    op.actor_id = f->alice;
    assert_int_equal(tk_run(f->core, hs_channel_positions_fn, &op, &err), 0);
    assert_int_equal(tk_count(f->core, "SELECT position FROM channels WHERE id = %" PRIu64, a), 40);
}

static void test_channel_changes(void **state)
{
    (void)state;
    static const char *const keys[] = {"name", "topic", "archived", NULL};
    json_t *a =
        json_pack("{s:s, s:n, s:{s:b}}", "name", "x", "topic", "thread_metadata", "archived", 0);
    json_t *b = json_pack("{s:s, s:s, s:{s:b}}", "name", "x", "topic", "t", "thread_metadata",
                          "archived", 1);
    json_t *c = hs_channel_changes(a, b, keys);
    assert_int_equal(json_array_size(c), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "key")), "topic");
    assert_true(json_is_null(json_object_get(json_array_get(c, 0), "old_value")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 1), "key")),
                        "archived");
    json_decref(c);
    assert_null(hs_channel_changes(a, a, keys));
    c = hs_channel_changes(NULL, b, keys); /* creation: new values only */
    assert_int_equal(json_array_size(c), 3);
    assert_null(json_object_get(json_array_get(c, 0), "old_value"));
    json_decref(c);
    json_decref(a);
    json_decref(b);
    assert_true(hs_thread_archive_duration_ok(60) && hs_thread_archive_duration_ok(10080));
    assert_false(hs_thread_archive_duration_ok(0) || hs_thread_archive_duration_ok(1441));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overwrite_bits_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_targets_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite_takes_effect_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_validation_and_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slowmode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_posting_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positions_are_all_or_nothing, setup, teardown),
        cmocka_unit_test(test_channel_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
