/*
 * DESIGN: each write re-reads everything it decides on (the actor's permissions, the
 * hierarchy, the target's membership) inside its own transaction, so a decision can never
 * be made on state that a concurrent write has already changed. A member's removal (kick,
 * ban, leave) is one helper, so the three leave the same traces: the membership, its roles
 * and thread memberships go, a bot's managed role is deleted as Discord does, and
 * GUILD_MEMBER_REMOVE is recorded (the gateway turns it into GUILD_DELETE for the member's
 * own sessions).
 */
#include "hs_members.h"
#include "hs_accounts.h"
#include "hs_audit.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_roles.h"
#include "hs_snowflake.h"
#include "hs_util.h"

#include <stdlib.h>
#include <string.h>

#define BULK_EVENT_MAX 100 /* message ids per MESSAGE_DELETE_BULK, as Discord's bulk delete */

static int missing_permissions(hs_error *err)
{
    return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
}

static uint64_t guild_owner(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT owner_id FROM guilds WHERE id = ?");
    hs_bind_id(s, 1, guild_id);
    uint64_t owner = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return owner;
}

static int is_member(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM members WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

static int user_exists(hs_db *db, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM users WHERE id = ?");
    hs_bind_id(s, 1, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

int hs_member_is_banned(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM bans WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

/* {reason, user} from a (user_id, reason) row. */
static json_t *ban_json_row(hs_db *db, uint64_t user_id, const char *reason)
{
    json_t *u = hs_user_json(db, user_id, 0);
    return json_pack("{s:o, s:o}", "reason", reason ? json_string(reason) : json_null(), "user",
                     u ? u : json_pack("{s:o}", "id", hs_json_id(user_id)));
}

json_t *hs_ban_json(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT reason FROM bans WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    const char *r = hs_col_text(s, 0);
    char *reason = r ? hs_xstrdup(r) : NULL;
    sqlite3_reset(s);
    json_t *b = ban_json_row(db, user_id, reason);
    free(reason);
    return b;
}

json_t *hs_ban_list(hs_db *db, uint64_t guild_id, uint64_t before, uint64_t after, int limit)
{
    /* Only `before`: the nearest ones below it, read downwards and returned ascending. */
    int downwards = before && !after;
    sqlite3_stmt *s = hs_db_stmt(
        db, downwards ? "SELECT user_id, reason FROM bans WHERE guild_id = ?1 AND user_id > ?2 AND "
                        "user_id < ?3 ORDER BY user_id DESC LIMIT ?4"
                      : "SELECT user_id, reason FROM bans WHERE guild_id = ?1 AND user_id > ?2 AND "
                        "user_id < ?3 ORDER BY user_id LIMIT ?4");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, after);
    sqlite3_bind_int64(s, 3, before ? (sqlite3_int64)before : INT64_MAX);
    sqlite3_bind_int(s, 4, limit);
    /* Collected first: the user objects are read with other statements. */
    uint64_t *ids = hs_xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*ids));
    char **reasons = hs_xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*reasons));
    int n = 0;
    while (n < limit && sqlite3_step(s) == SQLITE_ROW) {
        const char *r = hs_col_text(s, 1);
        ids[n] = hs_col_id(s, 0);
        reasons[n++] = r ? hs_xstrdup(r) : NULL;
    }
    sqlite3_reset(s);
    json_t *out = json_array();
    for (int k = 0; k < n; k++) {
        int i = downwards ? n - 1 - k : k;
        json_array_append_new(out, ban_json_row(db, ids[i], reasons[i]));
    }
    for (int i = 0; i < n; i++)
        free(reasons[i]);
    free(reasons);
    free(ids);
    return out;
}

/* The member's roles (not @everyone), at most HS_MEMBER_ROLES_MAX. */
static size_t member_roles(hs_db *db, uint64_t guild_id, uint64_t user_id,
                           uint64_t out[HS_MEMBER_ROLES_MAX])
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT role_id FROM member_roles WHERE guild_id = ? AND "
                                     "user_id = ? ORDER BY role_id");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    size_t n = 0;
    while (n < HS_MEMBER_ROLES_MAX && sqlite3_step(s) == SQLITE_ROW)
        out[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    return n;
}

static int contains(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* The actor of a member write: guild permissions (errors for a non-member), ownership. */
struct actor {
    uint64_t id, perms;
    int owner;
};

static int load_actor(hs_db *db, uint64_t guild_id, uint64_t actor_id, struct actor *a,
                      hs_error *err)
{
    a->id = actor_id;
    int rc = hs_perm_guild(db, guild_id, actor_id, &a->perms, err);
    if (rc == 0)
        a->owner = guild_owner(db, guild_id) == actor_id;
    return rc;
}

/* Whether the actor may give or take role r: MANAGE_ROLES checked by the caller; the role
 * must be the guild's, not @everyone, not managed and strictly below the actor's top. */
static int check_role_change(hs_db *db, uint64_t guild_id, const struct actor *a, uint64_t role_id,
                             hs_error *err)
{
    struct hs_role r;
    if (role_id == guild_id)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_ROLE, "Unknown Role");
    int rc = hs_role_get(db, guild_id, role_id, &r, err);
    if (rc < 0)
        return rc;
    if (r.managed || !hs_perm_outranks_role(db, guild_id, a->id, role_id))
        return missing_permissions(err);
    return 0;
}

/* {id, name} of a role, for the $add / $remove audit changes. */
static json_t *role_ref(hs_db *db, uint64_t guild_id, uint64_t role_id)
{
    struct hs_role r;
    if (hs_role_get(db, guild_id, role_id, &r, NULL) < 0)
        return json_pack("{s:o}", "id", hs_json_id(role_id));
    return json_pack("{s:o, s:s}", "id", hs_json_id(role_id), "name", r.name);
}

static int member_update_event(hs_txn *txn, uint64_t guild_id, uint64_t user_id, uint64_t actor_id,
                               json_t **out, hs_error *err)
{
    json_t *m = hs_member_json(hs_txn_db(txn), guild_id, user_id);
    HS_ASSERT(m);
    if (out)
        *out = json_incref(m);
    json_object_set_new(m, "guild_id", hs_json_id(guild_id));
    return hs_txn_event(txn, "GUILD_MEMBER_UPDATE", guild_id, 0, actor_id, m, err);
}

static int set_member_role(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t role_id,
                           int add, hs_error *err)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, add ? "INSERT OR IGNORE INTO member_roles (guild_id, user_id, role_id) "
                             "VALUES (?, ?, ?)"
                           : "DELETE FROM member_roles WHERE guild_id = ? AND user_id = ? AND "
                             "role_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    hs_bind_id(s, 3, role_id);
    return hs_db_step_done(db, s, err, add ? "giving a role" : "taking a role");
}

/* The member's nick and timeout as stored. */
struct member_row {
    char *nick; /* owned, NULL for none */
    uint64_t timeout_ms;
};

static int read_member(hs_db *db, uint64_t guild_id, uint64_t user_id, struct member_row *m,
                       hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT nick, communication_disabled_until FROM members "
                                     "WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        const char *nick = hs_col_text(s, 0);
        m->nick = nick ? hs_xstrdup(nick) : NULL;
        m->timeout_ms = (uint64_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER, "Unknown Member");
    return 0;
}

int hs_member_edit_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_member_edit *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t now = hs_txn_now_ms(txn);
    struct actor a;
    struct member_row m = {NULL, 0};
    json_t *changes = NULL, *added = NULL, *removed = NULL;
    uint64_t cur[HS_MEMBER_ROLES_MAX];
    size_t ncur = 0;
    int self = op->actor_id == op->user_id;
    const char *nick = op->nick && *op->nick ? op->nick : NULL;
    uint64_t until = op->timeout_until_ms > now ? op->timeout_until_ms : 0;

    /* The form first, as Discord: a malformed request fails whoever sends it. */
    if ((op->set & HS_MEMBER_SET_NICK) && nick && hs_utf8_len(nick, strlen(nick)) > HS_NICK_MAX)
        return hs_error_form(err, "nick", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.",
                             HS_NICK_MAX);
    if ((op->set & HS_MEMBER_SET_TIMEOUT) && until > now + HS_TIMEOUT_MAX_MS)
        return hs_error_form(err, "communication_disabled_until", "DATE_TOO_FAR",
                             "Timeouts may end at most 28 days from now.");
    if ((op->set & HS_MEMBER_SET_ROLES) && op->nroles > HS_MEMBER_ROLES_MAX)
        return hs_error_form(err, "roles", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.",
                             HS_MEMBER_ROLES_MAX);

    int rc = load_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc == 0)
        rc = read_member(db, op->guild_id, op->user_id, &m, err);
    if (rc < 0)
        goto out;
    int outranks = hs_perm_outranks(db, op->guild_id, op->actor_id, op->user_id);

    if (op->set & HS_MEMBER_SET_NICK) {
        int may = self ? (a.perms & (HS_PERM_CHANGE_NICKNAME | HS_PERM_MANAGE_NICKNAMES)) != 0
                       : (a.perms & HS_PERM_MANAGE_NICKNAMES) && outranks;
        if (!may) {
            rc = missing_permissions(err);
            goto out;
        }
    }
    if (op->set & HS_MEMBER_SET_ROLES) {
        if (!(a.perms & HS_PERM_MANAGE_ROLES) || (!self && !outranks)) {
            rc = missing_permissions(err);
            goto out;
        }
        ncur = member_roles(db, op->guild_id, op->user_id, cur);
        for (size_t i = 0; i < op->nroles && rc == 0; i++) {
            uint64_t id = op->roles[i];
            if (id == op->guild_id || contains(op->roles, i, id))
                continue; /* @everyone, and repeats */
            struct hs_role r;
            rc = hs_role_get(db, op->guild_id, id, &r, err);
            if (rc == 0 && !contains(cur, ncur, id))
                rc = check_role_change(db, op->guild_id, &a, id, err);
        }
        for (size_t i = 0; i < ncur && rc == 0; i++)
            if (!contains(op->roles, op->nroles, cur[i]))
                rc = check_role_change(db, op->guild_id, &a, cur[i], err);
        if (rc < 0)
            goto out;
    }
    if (op->set & HS_MEMBER_SET_TIMEOUT) {
        uint64_t target_perms = 0;
        if (!(a.perms & HS_PERM_MODERATE_MEMBERS) || !outranks) {
            rc = missing_permissions(err);
            goto out;
        }
        /* Administrators cannot be timed out (their permissions would ignore it anyway). */
        hs_perm_guild(db, op->guild_id, op->user_id, &target_perms, NULL);
        if (until && (target_perms & HS_PERM_ADMINISTRATOR)) {
            rc = missing_permissions(err);
            goto out;
        }
    }

    /* Apply. */
    changes = json_array();
    int changed = 0;
    if ((op->set & HS_MEMBER_SET_NICK) &&
        !(nick == NULL ? m.nick == NULL : m.nick && strcmp(nick, m.nick) == 0)) {
        sqlite3_stmt *s =
            hs_db_stmt(db, "UPDATE members SET nick = ? WHERE guild_id = ? AND user_id = ?");
        hs_bind_text(s, 1, nick);
        hs_bind_id(s, 2, op->guild_id);
        hs_bind_id(s, 3, op->user_id);
        rc = hs_db_step_done(db, s, err, "changing a nickname");
        json_array_append_new(changes,
                              hs_audit_change("nick", m.nick ? json_string(m.nick) : json_null(),
                                              nick ? json_string(nick) : json_null()));
        changed = 1;
    }
    uint64_t old_until = m.timeout_ms > now ? m.timeout_ms : 0;
    if (rc == 0 && (op->set & HS_MEMBER_SET_TIMEOUT) && until != m.timeout_ms) {
        sqlite3_stmt *s = hs_db_stmt(db, "UPDATE members SET communication_disabled_until = ? "
                                         "WHERE guild_id = ? AND user_id = ?");
        if (until)
            sqlite3_bind_int64(s, 1, (sqlite3_int64)until);
        hs_bind_id(s, 2, op->guild_id);
        hs_bind_id(s, 3, op->user_id);
        rc = hs_db_step_done(db, s, err, "timing a member out");
        /* A timeout that already ended is no timeout: clearing it changes nothing seen. */
        if (until != old_until) {
            json_array_append_new(changes, hs_audit_change("communication_disabled_until",
                                                           hs_json_time_or_null(old_until),
                                                           hs_json_time_or_null(until)));
            changed = 1;
        }
    }
    if (rc == 0 && (op->set & HS_MEMBER_SET_ROLES)) {
        added = json_array();
        removed = json_array();
        for (size_t i = 0; i < op->nroles && rc == 0; i++) {
            uint64_t id = op->roles[i];
            if (id == op->guild_id || contains(op->roles, i, id) || contains(cur, ncur, id))
                continue;
            rc = set_member_role(db, op->guild_id, op->user_id, id, 1, err);
            json_array_append_new(added, role_ref(db, op->guild_id, id));
        }
        for (size_t i = 0; i < ncur && rc == 0; i++) {
            if (contains(op->roles, op->nroles, cur[i]))
                continue;
            rc = set_member_role(db, op->guild_id, op->user_id, cur[i], 0, err);
            json_array_append_new(removed, role_ref(db, op->guild_id, cur[i]));
        }
        changed |= json_array_size(added) + json_array_size(removed) > 0;
    }
    if (rc < 0)
        goto out;
    if (changed)
        rc = member_update_event(txn, op->guild_id, op->user_id, op->actor_id, &op->member, err);
    else
        op->member = hs_member_json(db, op->guild_id, op->user_id);
    if (rc == 0 && json_array_size(changes) > 0) {
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_MEMBER_UPDATE, op->user_id,
                             changes, NULL, op->reason, err);
        changes = NULL;
    }
    if (rc == 0 && added && json_array_size(added) + json_array_size(removed) > 0) {
        json_t *rchanges = json_array();
        if (json_array_size(added))
            json_array_append_new(rchanges, hs_audit_change("$add", NULL, json_incref(added)));
        if (json_array_size(removed))
            json_array_append_new(rchanges, hs_audit_change("$remove", NULL, json_incref(removed)));
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_MEMBER_ROLE_UPDATE,
                             op->user_id, rchanges, NULL, op->reason, err);
    }
out:
    json_decref(changes);
    json_decref(added);
    json_decref(removed);
    free(m.nick);
    return rc;
}

int hs_member_role_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_member_role *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    struct member_row m = {NULL, 0};
    int rc = load_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc == 0)
        rc = read_member(db, op->guild_id, op->user_id, &m, err);
    free(m.nick);
    if (rc == 0 && (!(a.perms & HS_PERM_MANAGE_ROLES) ||
                    (op->actor_id != op->user_id &&
                     !hs_perm_outranks(db, op->guild_id, op->actor_id, op->user_id))))
        rc = missing_permissions(err);
    if (rc == 0)
        rc = check_role_change(db, op->guild_id, &a, op->role_id, err);
    if (rc < 0)
        return rc;
    uint64_t cur[HS_MEMBER_ROLES_MAX];
    size_t ncur = member_roles(db, op->guild_id, op->user_id, cur);
    if (contains(cur, ncur, op->role_id) == !!op->add)
        return 0;
    rc = set_member_role(db, op->guild_id, op->user_id, op->role_id, op->add, err);
    if (rc == 0)
        rc = member_update_event(txn, op->guild_id, op->user_id, op->actor_id, NULL, err);
    if (rc < 0)
        return rc;
    json_t *changes = json_pack(
        "[o]", hs_audit_change(op->add ? "$add" : "$remove", NULL,
                               json_pack("[o]", role_ref(db, op->guild_id, op->role_id))));
    return hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_MEMBER_ROLE_UPDATE,
                           op->user_id, changes, NULL, op->reason, err);
}

/* Removes user_id from guild_id (kick, ban, leave) and records GUILD_MEMBER_REMOVE. */
static int remove_member(hs_txn *txn, uint64_t guild_id, uint64_t user_id, uint64_t actor_id,
                         hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    static const char *const sql[] = {
        "DELETE FROM member_roles WHERE guild_id = ?1 AND user_id = ?2",
        "DELETE FROM thread_members WHERE user_id = ?2 AND thread_id IN (SELECT id FROM channels "
        "WHERE guild_id = ?1)",
        "DELETE FROM members WHERE guild_id = ?1 AND user_id = ?2",
    };
    int rc = 0;
    for (size_t i = 0; i < HS_ARRAY_LEN(sql) && rc == 0; i++) {
        sqlite3_stmt *s = hs_db_stmt(db, sql[i]);
        hs_bind_id(s, 1, guild_id);
        hs_bind_id(s, 2, user_id);
        rc = hs_db_step_done(db, s, err, "removing a member");
    }
    if (rc < 0)
        return rc;
    json_t *u = hs_user_json(db, user_id, 0);
    rc = hs_txn_event(txn, "GUILD_MEMBER_REMOVE", guild_id, 0, actor_id,
                      json_pack("{s:o, s:o}", "guild_id", hs_json_id(guild_id), "user",
                                u ? u : json_pack("{s:o}", "id", hs_json_id(user_id))),
                      err);
    if (rc < 0)
        return rc;
    /* A bot's managed role goes with it. */
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM roles WHERE guild_id = ? AND managed = 1 AND "
                                     "bot_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    uint64_t managed = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    if (managed)
        rc = hs_role_remove(txn, guild_id, managed, actor_id, err);
    return rc;
}

int hs_member_expire_temporary_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_member_expire *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t gids[64];
    size_t n = 0;
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT m.guild_id FROM members m WHERE m.user_id = ?1 AND m.temporary = 1 AND NOT "
            "EXISTS (SELECT 1 FROM member_roles r WHERE r.guild_id = m.guild_id AND r.user_id = "
            "?1) AND m.user_id != (SELECT owner_id FROM guilds WHERE id = m.guild_id)");
    hs_bind_id(s, 1, op->user_id);
    while (n < HS_ARRAY_LEN(gids) && sqlite3_step(s) == SQLITE_ROW)
        gids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    for (size_t i = 0; i < n; i++) {
        int rc = remove_member(txn, gids[i], op->user_id, 0, err);
        if (rc < 0)
            return rc;
        op->removed++;
    }
    return 0;
}

int hs_member_kick_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_member_kick *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    int rc = load_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc < 0)
        return rc;
    if (!is_member(db, op->guild_id, op->user_id))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER, "Unknown Member");
    if (!(a.perms & HS_PERM_KICK_MEMBERS) ||
        !hs_perm_outranks(db, op->guild_id, op->actor_id, op->user_id))
        return missing_permissions(err);
    rc = remove_member(txn, op->guild_id, op->user_id, op->actor_id, err);
    if (rc == 0)
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_MEMBER_KICK, op->user_id,
                             NULL, NULL, op->reason, err);
    return rc;
}

int hs_member_leave_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_member_leave *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t owner = guild_owner(db, op->guild_id);
    if (!owner || !is_member(db, op->guild_id, op->user_id))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_GUILD, "Unknown Guild");
    if (owner == op->user_id)
        return hs_error_reason(err, HS_EINVAL, HS_R_OWNER_CANNOT_LEAVE,
                               "The owner cannot leave their guild");
    return remove_member(txn, op->guild_id, op->user_id, op->user_id, err);
}

/* A MESSAGE_DELETE for one id, MESSAGE_DELETE_BULK for more. */
static int delete_event(hs_txn *txn, uint64_t guild_id, uint64_t channel_id, const uint64_t *ids,
                        size_t n, uint64_t actor_id, hs_error *err)
{
    json_t *d;
    if (n == 1) {
        d = json_pack("{s:o, s:o, s:o}", "id", hs_json_id(ids[0]), "channel_id",
                      hs_json_id(channel_id), "guild_id", hs_json_id(guild_id));
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, hs_json_id(ids[i]));
        d = json_pack("{s:o, s:o, s:o}", "ids", list, "channel_id", hs_json_id(channel_id),
                      "guild_id", hs_json_id(guild_id));
    }
    return hs_txn_event(txn, n == 1 ? "MESSAGE_DELETE" : "MESSAGE_DELETE_BULK", guild_id,
                        channel_id, actor_id, d, err);
}

/* Deletes user_id's messages of the last `seconds` in every live channel of the guild. */
static int purge_messages(hs_txn *txn, uint64_t guild_id, uint64_t user_id, int seconds,
                          uint64_t actor_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t now = hs_txn_now_ms(txn), span = (uint64_t)seconds * 1000;
    uint64_t min_id = hs_snowflake_from_unix_ms(now > span ? now - span : 0);
    struct pair {
        uint64_t channel, id;
    } *msgs = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT m.channel_id, m.id FROM channels c JOIN messages m ON m.channel_id = c.id "
            "AND m.author_id = ?2 AND m.id >= ?3 WHERE c.guild_id = ?1 AND c.deleted = 0 ORDER BY "
            "m.channel_id, m.id");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    hs_bind_id(s, 3, min_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            msgs = hs_xrealloc(msgs, cap * sizeof(*msgs));
        }
        msgs[n].channel = hs_col_id(s, 0);
        msgs[n++].id = hs_col_id(s, 1);
    }
    sqlite3_reset(s);

    static const char *const sql[] = {
        "DELETE FROM messages WHERE channel_id = ?1 AND id = ?2",
        "DELETE FROM reactions WHERE channel_id = ?1 AND message_id = ?2",
        "DELETE FROM nonces WHERE channel_id = ?1 AND author_id = ?3 AND message_id = ?2",
    };
    int rc = 0;
    uint64_t batch[BULK_EVENT_MAX];
    size_t nb = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t k = 0; k < HS_ARRAY_LEN(sql) && rc == 0; k++) {
            s = hs_db_stmt(db, sql[k]);
            hs_bind_id(s, 1, msgs[i].channel);
            hs_bind_id(s, 2, msgs[i].id);
            hs_bind_id(s, 3, user_id);
            rc = hs_db_step_done(db, s, err, "deleting a banned user's messages");
        }
        batch[nb++] = msgs[i].id;
        if (rc == 0 &&
            (nb == BULK_EVENT_MAX || i + 1 == n || msgs[i + 1].channel != msgs[i].channel)) {
            rc = delete_event(txn, guild_id, msgs[i].channel, batch, nb, actor_id, err);
            nb = 0;
        }
    }
    free(msgs);
    return rc;
}

int hs_ban_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_ban_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    if (op->delete_message_seconds < 0 || op->delete_message_seconds > HS_BAN_DELETE_MAX_SECONDS)
        return hs_error_form(err, "delete_message_seconds", "NUMBER_TYPE_MAX",
                             "int value should be less than or equal to %d.",
                             HS_BAN_DELETE_MAX_SECONDS);
    int rc = load_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc < 0)
        return rc;
    if (!(a.perms & HS_PERM_BAN_MEMBERS))
        return missing_permissions(err);
    if (!user_exists(db, op->user_id))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_USER, "Unknown User");
    int member = is_member(db, op->guild_id, op->user_id);
    /* A non-member has no roles to outrank, but nobody bans themself (nor the owner, who is
     * always a member). */
    if (op->user_id == op->actor_id ||
        (member && !hs_perm_outranks(db, op->guild_id, op->actor_id, op->user_id)))
        return missing_permissions(err);

    if (!hs_member_is_banned(db, op->guild_id, op->user_id)) {
        sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO bans (guild_id, user_id, reason, created_at) "
                                         "VALUES (?, ?, ?, ?)");
        hs_bind_id(s, 1, op->guild_id);
        hs_bind_id(s, 2, op->user_id);
        hs_bind_text(s, 3, op->reason);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)hs_txn_now_ms(txn));
        rc = hs_db_step_done(db, s, err, "storing a ban");
        if (rc == 0 && member)
            rc = remove_member(txn, op->guild_id, op->user_id, op->actor_id, err);
        if (rc == 0) {
            json_t *u = hs_user_json(db, op->user_id, 0);
            HS_ASSERT(u);
            rc = hs_txn_event(
                txn, "GUILD_BAN_ADD", op->guild_id, 0, op->actor_id,
                json_pack("{s:o, s:o}", "guild_id", hs_json_id(op->guild_id), "user", u), err);
        }
        if (rc == 0)
            rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_MEMBER_BAN_ADD,
                                 op->user_id, NULL, NULL, op->reason, err);
    }
    if (rc == 0 && op->delete_message_seconds > 0)
        rc = purge_messages(txn, op->guild_id, op->user_id, op->delete_message_seconds,
                            op->actor_id, err);
    return rc;
}

int hs_ban_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_ban_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    int rc = load_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc < 0)
        return rc;
    if (!(a.perms & HS_PERM_BAN_MEMBERS))
        return missing_permissions(err);
    if (!hs_member_is_banned(db, op->guild_id, op->user_id))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_BAN, "Unknown Ban");
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM bans WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, op->guild_id);
    hs_bind_id(s, 2, op->user_id);
    rc = hs_db_step_done(db, s, err, "lifting a ban");
    if (rc == 0) {
        json_t *u = hs_user_json(db, op->user_id, 0);
        rc = hs_txn_event(txn, "GUILD_BAN_REMOVE", op->guild_id, 0, op->actor_id,
                          json_pack("{s:o, s:o}", "guild_id", hs_json_id(op->guild_id), "user",
                                    u ? u : json_pack("{s:o}", "id", hs_json_id(op->user_id))),
                          err);
    }
    if (rc == 0)
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_MEMBER_BAN_REMOVE,
                             op->user_id, NULL, NULL, op->reason, err);
    return rc;
}
