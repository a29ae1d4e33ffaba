/*
 * Unit tests for hs_perm.h (spec/client-api.md §7, Discord's permissions.mdx).
 *
 * First a table of cases for hs_perm_compute, the algorithm as a pure function: the owner,
 * ADMINISTRATOR, the three overwrite layers and their precedence, the implicit denials,
 * threads, timeouts and the guild scope. Then cases against a real database for what only
 * the loaders decide: private thread membership, DM recipients, timeouts read from the
 * member row, overwrite loading, and the role hierarchy (hs_perm_outranks,
 * hs_perm_outranks_role).
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
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_time.h"
#include "hs_util.h"

#include "testkit.h"

/* ------------------------------------------------------------------ the pure algorithm */

#define G 100 /* the guild, and its @everyone role */
#define U 200 /* the member */
#define OTHER 201
#define R1 301
#define R2 302
#define R3 303

#define VIEW HS_PERM_VIEW_CHANNEL
#define SEND HS_PERM_SEND_MESSAGES
#define HIST HS_PERM_READ_MESSAGE_HISTORY
#define MM HS_PERM_MANAGE_MESSAGES
#define EMBED HS_PERM_EMBED_LINKS
#define ATTACH HS_PERM_ATTACH_FILES
#define TTS HS_PERM_SEND_TTS_MESSAGES
#define MENTION HS_PERM_MENTION_EVERYONE
#define REACT HS_PERM_ADD_REACTIONS
#define CONNECT HS_PERM_CONNECT
#define SPEAK HS_PERM_SPEAK
#define STREAM HS_PERM_STREAM
#define VAD HS_PERM_USE_VAD
#define MUTE HS_PERM_MUTE_MEMBERS
#define PRIO HS_PERM_PRIORITY_SPEAKER
#define SMIT HS_PERM_SEND_MESSAGES_IN_THREADS
#define ADMIN HS_PERM_ADMINISTRATOR
#define KICK HS_PERM_KICK_MEMBERS
#define EVERYONE_OW(a, d)                                                                          \
    {                                                                                              \
        G, HS_OVERWRITE_ROLE, (a), (d)                                                             \
    }
#define ROLE_OW(id, a, d)                                                                          \
    {                                                                                              \
        (id), HS_OVERWRITE_ROLE, (a), (d)                                                          \
    }
#define MEMBER_OW(id, a, d)                                                                        \
    {                                                                                              \
        (id), HS_OVERWRITE_MEMBER, (a), (d)                                                        \
    }

struct perm_case {
    const char *name;
    int is_owner;
    uint64_t everyone;
    size_t nroles;
    uint64_t role_ids[3];
    uint64_t role_perms[3];
    int scope;
    size_t nows;
    struct hs_overwrite ows[4];
    int timed_out;
    uint64_t want;
};

static const struct perm_case cases[] = {
    /* Base permissions. */
    {"owner has everything", 1, 0, 0, {0}, {0}, HS_SCOPE_GUILD, 0, {{0}}, 0, HS_PERM_ALL},
    {"owner in a channel ignores overwrites",
     1,
     0,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     2,
     {EVERYONE_OW(0, VIEW), MEMBER_OW(U, 0, HS_PERM_ALL)},
     0,
     HS_PERM_ALL},
    {"owner is never timed out", 1, 0, 0, {0}, {0}, HS_SCOPE_TEXT, 0, {{0}}, 1, HS_PERM_ALL},
    {"@everyone alone", 0, VIEW | SEND, 0, {0}, {0}, HS_SCOPE_GUILD, 0, {{0}}, 0, VIEW | SEND},
    {"roles are OR-ed onto @everyone",
     0,
     VIEW,
     2,
     {R1, R2},
     {SEND, KICK},
     HS_SCOPE_GUILD,
     0,
     {{0}},
     0,
     VIEW | SEND | KICK},
    {"no permission at all", 0, 0, 0, {0}, {0}, HS_SCOPE_GUILD, 0, {{0}}, 0, 0},
    {"ADMINISTRATOR from a role is everything",
     0,
     VIEW,
     1,
     {R1},
     {ADMIN},
     HS_SCOPE_GUILD,
     0,
     {{0}},
     0,
     HS_PERM_ALL},
    {"ADMINISTRATOR on @everyone is everything",
     0,
     ADMIN,
     0,
     {0},
     {0},
     HS_SCOPE_GUILD,
     0,
     {{0}},
     0,
     HS_PERM_ALL},
    {"ADMINISTRATOR ignores channel denials",
     0,
     VIEW,
     1,
     {R1},
     {ADMIN},
     HS_SCOPE_TEXT,
     2,
     {EVERYONE_OW(0, VIEW | SEND), MEMBER_OW(U, 0, HS_PERM_ALL)},
     0,
     HS_PERM_ALL},
    {"ADMINISTRATOR ignores a timeout",
     0,
     VIEW,
     1,
     {R1},
     {ADMIN},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     1,
     HS_PERM_ALL},
    {"guild scope applies no overwrite",
     0,
     VIEW | SEND,
     0,
     {0},
     {0},
     HS_SCOPE_GUILD,
     1,
     {EVERYONE_OW(0, VIEW | SEND)},
     0,
     VIEW | SEND},
    {"guild scope keeps SEND-dependent bits without SEND",
     0,
     VIEW | EMBED | ATTACH,
     0,
     {0},
     {0},
     HS_SCOPE_GUILD,
     0,
     {{0}},
     0,
     VIEW | EMBED | ATTACH},
    {"guild scope timeout keeps view and history",
     0,
     VIEW | SEND | HIST | KICK,
     0,
     {0},
     {0},
     HS_SCOPE_GUILD,
     0,
     {{0}},
     1,
     VIEW | HIST},

    /* The overwrite layers. */
    {"no overwrites: base permissions",
     0,
     VIEW | SEND | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     0,
     VIEW | SEND | HIST},
    {"@everyone deny",
     0,
     VIEW | SEND | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {EVERYONE_OW(0, SEND)},
     0,
     VIEW | HIST},
    {"@everyone allow",
     0,
     VIEW,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {EVERYONE_OW(SEND | MM, 0)},
     0,
     VIEW | SEND | MM},
    {"@everyone overwrite also binds a role's base permission",
     0,
     VIEW,
     1,
     {R1},
     {SEND},
     HS_SCOPE_TEXT,
     1,
     {EVERYONE_OW(0, SEND)},
     0,
     VIEW},
    {"role allow beats @everyone deny",
     0,
     VIEW | SEND,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     2,
     {EVERYONE_OW(0, SEND), ROLE_OW(R1, SEND, 0)},
     0,
     VIEW | SEND},
    {"role deny removes a base permission",
     0,
     VIEW | SEND,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     1,
     {ROLE_OW(R1, 0, SEND)},
     0,
     VIEW},
    {"role deny beats @everyone allow",
     0,
     VIEW,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     2,
     {EVERYONE_OW(SEND, 0), ROLE_OW(R1, 0, SEND)},
     0,
     VIEW},
    {"role overwrites are OR-ed: one allow beats another's deny",
     0,
     VIEW,
     2,
     {R1, R2},
     {0, 0},
     HS_SCOPE_TEXT,
     2,
     {ROLE_OW(R1, 0, SEND), ROLE_OW(R2, SEND, 0)},
     0,
     VIEW | SEND},
    {"role overwrites are OR-ed whatever the order",
     0,
     VIEW,
     2,
     {R1, R2},
     {0, 0},
     HS_SCOPE_TEXT,
     2,
     {ROLE_OW(R2, SEND, 0), ROLE_OW(R1, 0, SEND)},
     0,
     VIEW | SEND},
    {"one role's allow and deny of the same bit: allow",
     0,
     VIEW,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     1,
     {ROLE_OW(R1, SEND, SEND)},
     0,
     VIEW | SEND},
    {"denies of several roles add up",
     0,
     VIEW | SEND | REACT | HIST,
     2,
     {R1, R2},
     {0, 0},
     HS_SCOPE_TEXT,
     2,
     {ROLE_OW(R1, 0, SEND), ROLE_OW(R2, 0, REACT)},
     0,
     VIEW | HIST},
    {"an overwrite for a role the member lacks is ignored",
     0,
     VIEW | SEND,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     1,
     {ROLE_OW(R3, 0, SEND | VIEW)},
     0,
     VIEW | SEND},
    {"member allow beats role deny",
     0,
     VIEW | SEND,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     2,
     {ROLE_OW(R1, 0, SEND), MEMBER_OW(U, SEND, 0)},
     0,
     VIEW | SEND},
    {"member deny beats role allow",
     0,
     VIEW,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     2,
     {ROLE_OW(R1, SEND, 0), MEMBER_OW(U, 0, SEND)},
     0,
     VIEW},
    {"member allow beats @everyone deny",
     0,
     VIEW | SEND,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     2,
     {EVERYONE_OW(0, VIEW), MEMBER_OW(U, VIEW, 0)},
     0,
     VIEW | SEND},
    {"another member's overwrite is ignored",
     0,
     VIEW | SEND,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {MEMBER_OW(OTHER, 0, VIEW)},
     0,
     VIEW | SEND},
    {"a member overwrite with the guild's id is not @everyone's",
     0,
     VIEW | SEND,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {MEMBER_OW(G, 0, VIEW)},
     0,
     VIEW | SEND},
    {"all three layers in order",
     0,
     VIEW | SEND | REACT,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     3,
     {MEMBER_OW(U, REACT, 0), ROLE_OW(R1, SEND, REACT), EVERYONE_OW(0, SEND | REACT)},
     0,
     VIEW | SEND | REACT},
    {"overwrites grant what no role gives (MANAGE_MESSAGES)",
     0,
     VIEW | SEND,
     1,
     {R1},
     {0},
     HS_SCOPE_TEXT,
     1,
     {ROLE_OW(R1, MM, 0)},
     0,
     VIEW | SEND | MM},

    /* Implicit denials. */
    {"no VIEW_CHANNEL: nothing",
     0,
     SEND | HIST | MM | REACT,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     0,
     0},
    {"VIEW_CHANNEL denied by overwrite: nothing",
     0,
     VIEW | SEND | KICK,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {EVERYONE_OW(0, VIEW)},
     0,
     0},
    {"no SEND_MESSAGES strips mention, TTS, attach, embed",
     0,
     VIEW | HIST | MENTION | TTS | ATTACH | EMBED | REACT,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     0,
     VIEW | HIST | REACT},
    {"SEND_MESSAGES denied by overwrite strips them too",
     0,
     VIEW | SEND | MENTION | TTS | ATTACH | EMBED,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {EVERYONE_OW(0, SEND)},
     0,
     VIEW},
    {"with SEND_MESSAGES they stay",
     0,
     VIEW | SEND | MENTION | TTS | ATTACH | EMBED,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     0,
     VIEW | SEND | MENTION | TTS | ATTACH | EMBED},
    {"voice without CONNECT loses speak, stream, VAD, mute, priority",
     0,
     VIEW | SPEAK | STREAM | VAD | MUTE | PRIO,
     0,
     {0},
     {0},
     HS_SCOPE_VOICE,
     0,
     {{0}},
     0,
     VIEW},
    {"voice with CONNECT keeps them",
     0,
     VIEW | CONNECT | SPEAK | STREAM | VAD,
     0,
     {0},
     {0},
     HS_SCOPE_VOICE,
     0,
     {{0}},
     0,
     VIEW | CONNECT | SPEAK | STREAM | VAD},
    {"voice CONNECT denied by overwrite",
     0,
     VIEW | CONNECT | SPEAK,
     0,
     {0},
     {0},
     HS_SCOPE_VOICE,
     1,
     {EVERYONE_OW(0, CONNECT)},
     0,
     VIEW},
    {"CONNECT means nothing special in a text channel",
     0,
     VIEW | SPEAK,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     0,
     VIEW | SPEAK},

    /* Threads: the parent's overwrites, SEND_MESSAGES_IN_THREADS for posting. */
    {"thread: SEND_MESSAGES alone does not post",
     0,
     VIEW | SEND | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     0,
     {{0}},
     0,
     VIEW | HIST},
    {"thread: SEND_MESSAGES_IN_THREADS posts",
     0,
     VIEW | SMIT | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     0,
     {{0}},
     0,
     VIEW | SMIT | HIST | SEND},
    {"thread: without SEND_MESSAGES_IN_THREADS no attachments",
     0,
     VIEW | SEND | ATTACH | EMBED,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     0,
     {{0}},
     0,
     VIEW},
    {"thread: with it, attachments stay",
     0,
     VIEW | SMIT | ATTACH,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     0,
     {{0}},
     0,
     VIEW | SMIT | SEND | ATTACH},
    {"thread: parent overwrite hides it",
     0,
     VIEW | SMIT,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     1,
     {EVERYONE_OW(0, VIEW)},
     0,
     0},
    {"thread: parent overwrite denies posting",
     0,
     VIEW | SMIT,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     1,
     {EVERYONE_OW(0, SMIT)},
     0,
     VIEW},
    {"thread: parent role overwrite grants posting",
     0,
     VIEW,
     1,
     {R1},
     {0},
     HS_SCOPE_THREAD,
     1,
     {ROLE_OW(R1, SMIT, 0)},
     0,
     VIEW | SMIT | SEND},

    /* Timeouts. */
    {"timed out: only view and history remain",
     0,
     VIEW | SEND | HIST | REACT | MM,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     1,
     VIEW | HIST},
    {"timed out: overwrite allows do not help",
     0,
     VIEW | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     1,
     {MEMBER_OW(U, SEND | MM, 0)},
     1,
     VIEW | HIST},
    {"timed out without VIEW_CHANNEL: nothing",
     0,
     SEND | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_TEXT,
     0,
     {{0}},
     1,
     0},
    {"timed out in a thread",
     0,
     VIEW | SMIT | HIST,
     0,
     {0},
     {0},
     HS_SCOPE_THREAD,
     0,
     {{0}},
     1,
     VIEW | HIST},
    {"timed out in voice",
     0,
     VIEW | CONNECT | SPEAK,
     0,
     {0},
     {0},
     HS_SCOPE_VOICE,
     0,
     {{0}},
     1,
     VIEW},
};

static void test_compute_table(void **state)
{
    (void)state;
    int failures = 0;
    assert_true(HS_ARRAY_LEN(cases) >= 40);
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        const struct perm_case *c = &cases[i];
        struct hs_perm_input in = {
            .guild_id = G,
            .user_id = U,
            .is_owner = c->is_owner,
            .everyone = c->everyone,
            .role_ids = c->role_ids,
            .role_perms = c->role_perms,
            .nroles = c->nroles,
            .scope = c->scope,
            .overwrites = c->ows,
            .noverwrites = c->nows,
            .timed_out = c->timed_out,
        };
        uint64_t got = hs_perm_compute(&in);
        if (got != c->want) {
            print_error("case %zu \"%s\": got %" PRIu64 ", want %" PRIu64 " (diff %" PRIu64 ")\n",
                        i, c->name, got, c->want, got ^ c->want);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void test_constants(void **state)
{
    (void)state;
    assert_true(HS_PERM_ALL & HS_P(52));
    assert_false(HS_PERM_ALL & HS_P(47));
    assert_false(HS_PERM_ALL & HS_P(53));
    assert_int_equal(__builtin_popcountll(HS_PERM_ALL), 52);
    /* Discord's documented value for the default @everyone set is checked in the spec. */
    assert_true((HS_PERM_DEFAULT_EVERYONE & ~HS_PERM_ALL) == 0);
    assert_true(HS_PERM_TIMEOUT_KEEP == (VIEW | HIST));
}

/* ------------------------------------------------------------------ against a database */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, alice, bob, carol, guild, text;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    fx->core = tk_core_open(fx->dir, &fx->cfg, "perm");
    fx->owner = tk_register(fx->core, "owner");
    fx->alice = tk_register(fx->core, "alice");
    fx->bob = tk_register(fx->core, "bob");
    fx->carol = tk_register(fx->core, "carol");
    fx->guild = tk_guild(fx->core, fx->owner, "Perm Guild", &fx->text);
    /* alice and bob join; carol stays out. */
    tk_sql(fx->core,
           "INSERT INTO members (guild_id, user_id, joined_at) VALUES (%" PRIu64 ", %" PRIu64
           ", 1), (%" PRIu64 ", %" PRIu64 ", 1)",
           fx->guild, fx->alice, fx->guild, fx->bob);
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

static uint64_t chan_perms(struct fx *fx, uint64_t channel, uint64_t user, int *rc, hs_error *err)
{
    uint64_t p = 0xDEAD;
    hs_error_clear(err);
    *rc = hs_perm_channel(tk_rdb(fx->core), channel, user, 0, &p, err);
    return p;
}

/* A role at position pos with perms, given to user (0: nobody). Returns its id. */
static uint64_t add_role(struct fx *fx, uint64_t id, int pos, uint64_t perms, uint64_t user)
{
    tk_sql(fx->core,
           "INSERT INTO roles (id, guild_id, name, permissions, position) VALUES (%" PRIu64
           ", %" PRIu64 ", 'r', %" PRIu64 ", %d)",
           id, fx->guild, perms, pos);
    if (user)
        tk_sql(fx->core,
               "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (%" PRIu64 ", %" PRIu64
               ", %" PRIu64 ")",
               fx->guild, user, id);
    return id;
}

static void test_db_text_channel_and_overwrites(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    uint64_t p = chan_perms(fx, fx->text, fx->alice, &rc, &err);
    assert_int_equal(rc, 0);
    assert_true(p & VIEW && p & SEND);
    assert_int_equal(p, HS_PERM_DEFAULT_EVERYONE);
    /* The owner has everything; a non-member is refused; an unknown channel is unknown. */
    assert_int_equal(chan_perms(fx, fx->text, fx->owner, &rc, &err), HS_PERM_ALL);
    chan_perms(fx, fx->text, fx->carol, &rc, &err);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    chan_perms(fx, 999, fx->alice, &rc, &err);
    assert_int_equal(rc, HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_CHANNEL);

    /* A member deny found among many other overwrites: every relevant one is read. */
    for (int i = 0; i < 100; i++)
        tk_sql(fx->core, "INSERT INTO overwrites VALUES (%" PRIu64 ", %d, 1, 0, %" PRIu64 ")",
               fx->text, 5000 + i, VIEW);
    tk_sql(fx->core, "INSERT INTO overwrites VALUES (%" PRIu64 ", %" PRIu64 ", 1, 0, %" PRIu64 ")",
           fx->text, fx->alice, VIEW);
    assert_int_equal(chan_perms(fx, fx->text, fx->alice, &rc, &err), 0);
    assert_int_equal(rc, 0);
    assert_true(chan_perms(fx, fx->text, fx->bob, &rc, &err) & VIEW);
    /* A role overwrite (role given to bob) and @everyone's, read from the table. */
    uint64_t r = add_role(fx, 7001, 1, 0, fx->bob);
    tk_sql(fx->core, "INSERT INTO overwrites VALUES (%" PRIu64 ", %" PRIu64 ", 0, 0, %" PRIu64 ")",
           fx->text, fx->guild, SEND);
    tk_sql(fx->core, "INSERT INTO overwrites VALUES (%" PRIu64 ", %" PRIu64 ", 0, %" PRIu64 ", 0)",
           fx->text, r, MM);
    p = chan_perms(fx, fx->text, fx->bob, &rc, &err);
    assert_true((p & (VIEW | MM)) == (VIEW | MM));
    assert_false(p & SEND);
    /* Deleted channels are unknown unless asked for. */
    tk_sql(fx->core, "UPDATE channels SET deleted = 1 WHERE id = %" PRIu64, fx->text);
    chan_perms(fx, fx->text, fx->bob, &rc, &err);
    assert_int_equal(rc, HS_ENOTFOUND);
    assert_int_equal(hs_perm_channel(tk_rdb(fx->core), fx->text, fx->bob, 1, &p, &err), 0);
    assert_true(p & VIEW);
}

static void test_db_threads(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    /* A public and a private thread of the text channel. */
    tk_sql(fx->core,
           "INSERT INTO channels (id, guild_id, type, name, parent_id) VALUES (8001, %" PRIu64
           ", 11, 'pub', %" PRIu64 "), (8002, %" PRIu64 ", 12, 'priv', %" PRIu64 ")",
           fx->guild, fx->text, fx->guild, fx->text);
    tk_sql(fx->core,
           "INSERT INTO thread_members (thread_id, user_id, join_timestamp) VALUES (8002, %" PRIu64
           ", 1)",
           fx->alice);
    uint64_t p = chan_perms(fx, 8001, fx->alice, &rc, &err);
    assert_int_equal(rc, 0);
    assert_true((p & (VIEW | SEND | SMIT)) == (VIEW | SEND | SMIT));
    /* Private: its member sees it, another member does not, the owner does. */
    assert_true(chan_perms(fx, 8002, fx->alice, &rc, &err) & VIEW);
    assert_int_equal(chan_perms(fx, 8002, fx->bob, &rc, &err), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(chan_perms(fx, 8002, fx->owner, &rc, &err), HS_PERM_ALL);
    /* ... and so does someone with MANAGE_THREADS. */
    add_role(fx, 7002, 1, HS_PERM_MANAGE_THREADS, fx->bob);
    assert_true(chan_perms(fx, 8002, fx->bob, &rc, &err) & VIEW);
    /* Without SEND_MESSAGES_IN_THREADS (an overwrite on the parent) nobody posts in threads,
     * while the parent itself still takes messages. */
    tk_sql(fx->core, "INSERT INTO overwrites VALUES (%" PRIu64 ", %" PRIu64 ", 0, 0, %" PRIu64 ")",
           fx->text, fx->guild, SMIT);
    assert_false(chan_perms(fx, 8001, fx->alice, &rc, &err) & SEND);
    assert_true(chan_perms(fx, fx->text, fx->alice, &rc, &err) & SEND);
    /* The parent's VIEW deny hides both threads. */
    tk_sql(fx->core,
           "UPDATE overwrites SET deny = %" PRIu64 " WHERE channel_id = %" PRIu64
           " AND target_id = %" PRIu64,
           VIEW, fx->text, fx->guild);
    assert_int_equal(chan_perms(fx, 8001, fx->alice, &rc, &err), 0);
    assert_int_equal(chan_perms(fx, 8002, fx->alice, &rc, &err), 0);
    /* A non-member of the guild is refused even if listed as a thread member. */
    tk_sql(fx->core,
           "INSERT INTO thread_members (thread_id, user_id, join_timestamp) VALUES (8002, %" PRIu64
           ", 1)",
           fx->carol);
    chan_perms(fx, 8002, fx->carol, &rc, &err);
    assert_int_equal(rc, HS_EPERM);
}

static void test_db_dms(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    tk_sql(fx->core, "INSERT INTO channels (id, type) VALUES (9001, 1), (9002, 3)");
    tk_sql(fx->core,
           "INSERT INTO recipients (channel_id, user_id) VALUES (9001, %" PRIu64
           "), (9001, %" PRIu64 "), (9002, %" PRIu64 ")",
           fx->alice, fx->carol, fx->bob);
    assert_int_equal(chan_perms(fx, 9001, fx->alice, &rc, &err), HS_PERM_DM);
    assert_int_equal(chan_perms(fx, 9001, fx->carol, &rc, &err), HS_PERM_DM);
    chan_perms(fx, 9001, fx->bob, &rc, &err);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
    /* The guild's owner has no say in DMs. */
    chan_perms(fx, 9001, fx->owner, &rc, &err);
    assert_int_equal(rc, HS_EPERM);
    assert_int_equal(chan_perms(fx, 9002, fx->bob, &rc, &err), HS_PERM_DM);
    assert_false(HS_PERM_DM & HS_PERM_MANAGE_MESSAGES);
}

static void test_db_timeouts(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    uint64_t p;
    uint64_t later = hs_now_ms() + 60000, earlier = hs_now_ms() - 60000;
    tk_sql(fx->core,
           "UPDATE members SET communication_disabled_until = %" PRIu64 " WHERE user_id = %" PRIu64,
           later, fx->alice);
    tk_sql(fx->core,
           "UPDATE members SET communication_disabled_until = %" PRIu64 " WHERE user_id = %" PRIu64,
           earlier, fx->bob);
    assert_int_equal(chan_perms(fx, fx->text, fx->alice, &rc, &err), VIEW | HIST);
    assert_int_equal(hs_perm_guild(tk_rdb(fx->core), fx->guild, fx->alice, &p, &err), 0);
    assert_int_equal(p, VIEW | HIST);
    /* An ended timeout is none. */
    assert_true(chan_perms(fx, fx->text, fx->bob, &rc, &err) & SEND);
    /* An administrator is not held by one. */
    add_role(fx, 7003, 1, ADMIN, fx->alice);
    assert_int_equal(chan_perms(fx, fx->text, fx->alice, &rc, &err), HS_PERM_ALL);
    /* Guild-level errors. */
    assert_int_equal(hs_perm_guild(tk_rdb(fx->core), 12345, fx->alice, &p, &err), HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_UNKNOWN_GUILD);
    assert_int_equal(hs_perm_guild(tk_rdb(fx->core), fx->guild, fx->carol, &p, &err), HS_EPERM);
    assert_int_equal(err.reason, HS_R_MISSING_ACCESS);
}

static void test_db_hierarchy(void **state)
{
    struct fx *fx = *state;
    hs_db *db;
    /* Nobody has roles: nobody outranks anyone but the owner everyone. */
    db = tk_rdb(fx->core);
    assert_int_equal(hs_perm_top_position(db, fx->guild, fx->alice), 0);
    assert_false(hs_perm_outranks(db, fx->guild, fx->alice, fx->bob));
    assert_true(hs_perm_outranks(db, fx->guild, fx->owner, fx->alice));
    assert_false(hs_perm_outranks(db, fx->guild, fx->alice, fx->owner));
    assert_false(hs_perm_outranks(db, fx->guild, fx->owner, fx->owner));
    /* alice at 3, bob at 2 (and 1): alice outranks bob, not herself, and not the owner. */
    uint64_t low = add_role(fx, 7101, 1, 0, fx->bob);
    uint64_t mid = add_role(fx, 7102, 2, 0, fx->bob);
    uint64_t top = add_role(fx, 7103, 3, 0, fx->alice);
    db = tk_rdb(fx->core);
    assert_int_equal(hs_perm_top_position(db, fx->guild, fx->alice), 3);
    assert_int_equal(hs_perm_top_position(db, fx->guild, fx->bob), 2);
    assert_true(hs_perm_outranks(db, fx->guild, fx->alice, fx->bob));
    assert_false(hs_perm_outranks(db, fx->guild, fx->bob, fx->alice));
    assert_false(hs_perm_outranks(db, fx->guild, fx->alice, fx->alice));
    assert_false(hs_perm_outranks(db, fx->guild, fx->alice, fx->owner));
    /* Equal tops: neither outranks the other. */
    tk_sql(fx->core,
           "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (%" PRIu64 ", %" PRIu64
           ", %" PRIu64 ")",
           fx->guild, fx->bob, top);
    db = tk_rdb(fx->core);
    assert_false(hs_perm_outranks(db, fx->guild, fx->alice, fx->bob));
    assert_false(hs_perm_outranks(db, fx->guild, fx->bob, fx->alice));
    /* Roles: strictly below one's top; @everyone (0) is below any role. */
    assert_true(hs_perm_outranks_role(db, fx->guild, fx->alice, mid));
    assert_true(hs_perm_outranks_role(db, fx->guild, fx->alice, low));
    assert_true(hs_perm_outranks_role(db, fx->guild, fx->alice, fx->guild));
    assert_false(hs_perm_outranks_role(db, fx->guild, fx->alice, top));
    assert_false(hs_perm_outranks_role(db, fx->guild, fx->carol, low));
    assert_true(hs_perm_outranks_role(db, fx->guild, fx->owner, top));
    /* A role that is not the guild's is out of everyone's reach, the owner's too. */
    assert_false(hs_perm_outranks_role(db, fx->guild, fx->alice, 4242));
    assert_false(hs_perm_outranks_role(db, fx->guild, fx->owner, 4242));
    /* Someone without roles cannot manage even @everyone. */
    tk_sql(fx->core, "DELETE FROM member_roles WHERE user_id = %" PRIu64, fx->alice);
    assert_false(hs_perm_outranks_role(tk_rdb(fx->core), fx->guild, fx->alice, fx->guild));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_table),
        cmocka_unit_test(test_constants),
        cmocka_unit_test_setup_teardown(test_db_text_channel_and_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_dms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_hierarchy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
