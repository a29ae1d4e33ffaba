/*
 * DESIGN: the algorithm (hs_perm_compute) is kept apart from the loading of its inputs so
 * that it reads like Discord's documentation and is tested as a table of cases
 * (tests/unit/core/test_perm.c). The loaders read a member's roles, timeout and the
 * channel's overwrites with a handful of indexed queries on the caller's connection.
 */
#include "hs_perm.h"
#include "hs_time.h"
#include "hs_util.h"

#include <stdlib.h>

#define MAX_ROLES 250 /* Discord's limit on roles per guild (30005) */

/* Permissions that mean nothing without CONNECT in a voice channel. */
#define VOICE_NEEDS_CONNECT                                                                        \
    (HS_PERM_SPEAK | HS_PERM_MUTE_MEMBERS | HS_PERM_DEAFEN_MEMBERS | HS_PERM_MOVE_MEMBERS |        \
     HS_PERM_USE_VAD | HS_PERM_PRIORITY_SPEAKER | HS_PERM_STREAM)
/* Permissions that mean nothing without SEND_MESSAGES. */
#define SEND_DEPENDENT                                                                             \
    (HS_PERM_MENTION_EVERYONE | HS_PERM_SEND_TTS_MESSAGES | HS_PERM_ATTACH_FILES |                 \
     HS_PERM_EMBED_LINKS)

static int has_role(const struct hs_perm_input *in, uint64_t id)
{
    for (size_t i = 0; i < in->nroles; i++)
        if (in->role_ids[i] == id)
            return 1;
    return 0;
}

uint64_t hs_perm_compute(const struct hs_perm_input *in)
{
    if (in->is_owner)
        return HS_PERM_ALL;
    uint64_t p = in->everyone;
    for (size_t i = 0; i < in->nroles; i++)
        p |= in->role_perms[i];
    if (p & HS_PERM_ADMINISTRATOR)
        return HS_PERM_ALL;
    if (in->scope == HS_SCOPE_GUILD)
        return in->timed_out ? p & HS_PERM_TIMEOUT_KEEP : p;

    /* 1. @everyone overwrite, 2. role overwrites OR-ed together, 3. the member's own. */
    const struct hs_overwrite *everyone = NULL, *member = NULL;
    uint64_t allow = 0, deny = 0;
    for (size_t i = 0; i < in->noverwrites; i++) {
        const struct hs_overwrite *o = &in->overwrites[i];
        if (o->type == HS_OVERWRITE_ROLE && o->id == in->guild_id) {
            everyone = o;
        } else if (o->type == HS_OVERWRITE_ROLE && has_role(in, o->id)) {
            allow |= o->allow;
            deny |= o->deny;
        } else if (o->type == HS_OVERWRITE_MEMBER && o->id == in->user_id) {
            member = o;
        }
    }
    if (everyone)
        p = (p & ~everyone->deny) | everyone->allow;
    p = (p & ~deny) | allow;
    if (member)
        p = (p & ~member->deny) | member->allow;

    /* Implicit rules. */
    if (in->scope == HS_SCOPE_THREAD) {
        /* In a thread, posting is governed by SEND_MESSAGES_IN_THREADS. */
        p &= ~HS_PERM_SEND_MESSAGES;
        if (p & HS_PERM_SEND_MESSAGES_IN_THREADS)
            p |= HS_PERM_SEND_MESSAGES;
    }
    if (!(p & HS_PERM_VIEW_CHANNEL))
        return 0;
    if (!(p & HS_PERM_SEND_MESSAGES))
        p &= ~SEND_DEPENDENT;
    if (in->scope == HS_SCOPE_VOICE && !(p & HS_PERM_CONNECT))
        p &= ~VOICE_NEEDS_CONNECT;
    if (in->timed_out)
        p &= HS_PERM_TIMEOUT_KEEP;
    return p;
}

struct member_ctx {
    struct hs_perm_input in;
    uint64_t role_ids[MAX_ROLES];
    uint64_t role_perms[MAX_ROLES];
};

/* Loads everything but the overwrites. Returns 0, or an error for an unknown guild or a
 * non-member. */
static int load_member(hs_db *db, uint64_t guild_id, uint64_t user_id, struct member_ctx *m,
                       hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT g.owner_id, (SELECT permissions FROM roles WHERE id = g.id), "
            "mb.user_id, mb.communication_disabled_until FROM guilds g LEFT JOIN members mb "
            "ON mb.guild_id = g.id AND mb.user_id = ?2 WHERE g.id = ?1");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_GUILD, "Unknown Guild");
    }
    struct hs_perm_input *in = &m->in;
    *in = (struct hs_perm_input){.guild_id = guild_id, .user_id = user_id};
    in->is_owner = hs_col_id(s, 0) == user_id;
    in->everyone = (uint64_t)sqlite3_column_int64(s, 1);
    int member = sqlite3_column_type(s, 2) != SQLITE_NULL;
    in->timed_out = sqlite3_column_type(s, 3) != SQLITE_NULL &&
                    (uint64_t)sqlite3_column_int64(s, 3) > hs_now_ms();
    sqlite3_reset(s);
    if (!member)
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");

    s = hs_db_stmt(db, "SELECT r.id, r.permissions FROM member_roles mr JOIN roles r ON r.id = "
                       "mr.role_id WHERE mr.guild_id = ? AND mr.user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    size_t n = 0;
    while (n < MAX_ROLES && sqlite3_step(s) == SQLITE_ROW) {
        m->role_ids[n] = hs_col_id(s, 0);
        m->role_perms[n] = (uint64_t)sqlite3_column_int64(s, 1);
        n++;
    }
    sqlite3_reset(s);
    in->role_ids = m->role_ids;
    in->role_perms = m->role_perms;
    in->nroles = n;
    return 0;
}

int hs_perm_guild(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t *perms, hs_error *err)
{
    struct member_ctx *m = hs_xmalloc(sizeof(*m));
    int rc = load_member(db, guild_id, user_id, m, err);
    if (rc == 0) {
        m->in.scope = HS_SCOPE_GUILD;
        *perms = hs_perm_compute(&m->in);
    }
    free(m);
    return rc;
}

int hs_perm_channel(hs_db *db, uint64_t channel_id, uint64_t user_id, int include_deleted,
                    uint64_t *perms, hs_error *err)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT guild_id, type, parent_id, deleted FROM channels WHERE id = ?");
    hs_bind_id(s, 1, channel_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    uint64_t guild_id = found ? hs_col_id(s, 0) : 0;
    int type = found ? sqlite3_column_int(s, 1) : 0;
    uint64_t parent_id = found ? hs_col_id(s, 2) : 0;
    int deleted = found ? sqlite3_column_int(s, 3) : 0;
    sqlite3_reset(s);
    if (!found || (deleted && !include_deleted))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_CHANNEL, "Unknown Channel");

    *perms = 0;
    if (!guild_id) {
        /* A DM or group DM: its recipients, and nobody else. */
        s = hs_db_stmt(db, "SELECT 1 FROM recipients WHERE channel_id = ? AND user_id = ?");
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, user_id);
        int recipient = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_reset(s);
        if (!recipient)
            return hs_error_reason(err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");
        *perms = HS_PERM_DM;
        return 0;
    }

    struct member_ctx *m = hs_xmalloc(sizeof(*m));
    /* Only the overwrites that can apply are read: @everyone's, the member's roles' and the
     * member's own, so none is ever cut off however many the channel has. */
    struct hs_overwrite *ows = hs_xcalloc(MAX_ROLES + 2, sizeof(*ows));
    int rc = load_member(db, guild_id, user_id, m, err);
    if (rc == HS_ENOTFOUND)
        rc = hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_CHANNEL, "Unknown Channel");
    if (rc < 0)
        goto out;
    int thread = type == 10 || type == 11 || type == 12;
    m->in.scope = thread ? HS_SCOPE_THREAD : type == 2 ? HS_SCOPE_VOICE : HS_SCOPE_TEXT;
    s = hs_db_stmt(db, "SELECT target_id, type, allow, deny FROM overwrites WHERE channel_id = ?1 "
                       "AND ((type = 0 AND (target_id = ?2 OR target_id IN (SELECT role_id FROM "
                       "member_roles WHERE guild_id = ?2 AND user_id = ?3))) OR (type = 1 AND "
                       "target_id = ?3))");
    hs_bind_id(s, 1, thread ? parent_id : channel_id);
    hs_bind_id(s, 2, guild_id);
    hs_bind_id(s, 3, user_id);
    size_t n = 0;
    while (n < MAX_ROLES + 2 && sqlite3_step(s) == SQLITE_ROW) {
        ows[n].id = hs_col_id(s, 0);
        ows[n].type = sqlite3_column_int(s, 1);
        ows[n].allow = (uint64_t)sqlite3_column_int64(s, 2);
        ows[n].deny = (uint64_t)sqlite3_column_int64(s, 3);
        n++;
    }
    sqlite3_reset(s);
    m->in.overwrites = ows;
    m->in.noverwrites = n;
    *perms = hs_perm_compute(&m->in);
    if (type == 12 && *perms && !(*perms & HS_PERM_MANAGE_THREADS)) {
        /* A private thread is seen by its members (and thread managers) only. */
        s = hs_db_stmt(db, "SELECT 1 FROM thread_members WHERE thread_id = ? AND user_id = ?");
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, user_id);
        if (sqlite3_step(s) != SQLITE_ROW)
            *perms = 0;
        sqlite3_reset(s);
    }
out:
    free(ows);
    free(m);
    return rc;
}

int hs_perm_timed_out(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT communication_disabled_until FROM members WHERE "
                                     "guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    int out = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL &&
              (uint64_t)sqlite3_column_int64(s, 0) > hs_now_ms();
    sqlite3_reset(s);
    return out;
}

int hs_perm_top_position(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT coalesce(max(r.position), 0) FROM member_roles mr "
                                     "JOIN roles r ON r.id = mr.role_id WHERE mr.guild_id = ? "
                                     "AND mr.user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    int pos = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    return pos;
}

static uint64_t guild_owner(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT owner_id FROM guilds WHERE id = ?");
    hs_bind_id(s, 1, guild_id);
    uint64_t owner = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return owner;
}

int hs_perm_outranks(hs_db *db, uint64_t guild_id, uint64_t actor_id, uint64_t target_id)
{
    uint64_t owner = guild_owner(db, guild_id);
    if (target_id == owner || actor_id == target_id)
        return 0;
    if (actor_id == owner)
        return 1;
    return hs_perm_top_position(db, guild_id, actor_id) >
           hs_perm_top_position(db, guild_id, target_id);
}

int hs_perm_outranks_role(hs_db *db, uint64_t guild_id, uint64_t actor_id, uint64_t role_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT position FROM roles WHERE id = ? AND guild_id = ?");
    hs_bind_id(s, 1, role_id);
    hs_bind_id(s, 2, guild_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    int pos = found ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    /* Another guild's role (or none) is nobody's to manage here, not even the owner's. */
    if (!found)
        return 0;
    return actor_id == guild_owner(db, guild_id) ||
           hs_perm_top_position(db, guild_id, actor_id) > pos;
}
