/*
 * DESIGN: roles are few (at most 250 a guild) and change rarely, so every write here keeps
 * the positions dense (@everyone 0, the others 1..n) and pays for it with one
 * GUILD_ROLE_UPDATE per role it moves. In exchange the role hierarchy is a comparison of
 * two integers with no ties, a listed role can be put exactly where the client asked, and
 * a move that only touches roles below the actor can be proved not to shift any role above
 * it (hs_role_move_fn checks exactly that, role by role, after computing the new order).
 */
#include "hs_roles.h"
#include "hs_audit.h"
#include "hs_channels.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_COLUMNS "id, name, permissions, position, color, hoist, mentionable, managed, bot_id"

static json_t *perms_string(uint64_t perms)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, perms);
    return json_string(buf);
}

/* Builds the role object from a ROLE_COLUMNS row. */
static json_t *role_json_row(sqlite3_stmt *s)
{
    int color = sqlite3_column_int(s, 4);
    json_t *r = json_pack(
        "{s:o, s:s, s:i, s:{s:i, s:n, s:n}, s:b, s:n, s:n, s:i, s:o, s:b, s:b, s:i}", "id",
        hs_json_id(hs_col_id(s, 0)), "name", hs_col_text(s, 1), "color", color, "colors",
        "primary_color", color, "secondary_color", "tertiary_color", "hoist",
        sqlite3_column_int(s, 5), "icon", "unicode_emoji", "position", sqlite3_column_int(s, 3),
        "permissions", perms_string((uint64_t)sqlite3_column_int64(s, 2)), "managed",
        sqlite3_column_int(s, 7), "mentionable", sqlite3_column_int(s, 6), "flags", 0);
    HS_ASSERT(r);
    if (sqlite3_column_type(s, 8) != SQLITE_NULL)
        json_object_set_new(r, "tags", json_pack("{s:o}", "bot_id", hs_json_id(hs_col_id(s, 8))));
    return r;
}

json_t *hs_role_json(hs_db *db, uint64_t role_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT " ROLE_COLUMNS " FROM roles WHERE id = ?");
    hs_bind_id(s, 1, role_id);
    json_t *r = sqlite3_step(s) == SQLITE_ROW ? role_json_row(s) : NULL;
    sqlite3_reset(s);
    return r;
}

json_t *hs_role_list(hs_db *db, uint64_t guild_id)
{
    json_t *roles = json_array();
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT " ROLE_COLUMNS
                                     " FROM roles WHERE guild_id = ? ORDER BY position, id");
    hs_bind_id(s, 1, guild_id);
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(roles, role_json_row(s));
    sqlite3_reset(s);
    return roles;
}

int hs_role_count(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM roles WHERE guild_id = ?");
    hs_bind_id(s, 1, guild_id);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

int hs_role_get(hs_db *db, uint64_t guild_id, uint64_t role_id, struct hs_role *out, hs_error *err)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " ROLE_COLUMNS " FROM roles WHERE id = ? AND guild_id = ?");
    hs_bind_id(s, 1, role_id);
    hs_bind_id(s, 2, guild_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        memset(out, 0, sizeof(*out));
        out->id = role_id;
        out->guild_id = guild_id;
        snprintf(out->name, sizeof(out->name), "%s", hs_col_text(s, 1));
        out->permissions = (uint64_t)sqlite3_column_int64(s, 2);
        out->position = sqlite3_column_int(s, 3);
        out->color = sqlite3_column_int(s, 4);
        out->hoist = sqlite3_column_int(s, 5);
        out->mentionable = sqlite3_column_int(s, 6);
        out->managed = sqlite3_column_int(s, 7);
        out->bot_id = hs_col_id(s, 8);
    }
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_ROLE, "Unknown Role");
    return 0;
}

/* Inserts a full role row. */
static int insert_full(hs_txn *txn, uint64_t id, uint64_t guild_id, const char *name,
                       uint64_t perms, int position, int color, int hoist, int mentionable,
                       int managed, uint64_t bot_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(
        db, "INSERT INTO roles (id, guild_id, name, permissions, position, color, "
            "hoist, mentionable, managed, bot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, guild_id);
    hs_bind_text(s, 3, name);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)perms);
    sqlite3_bind_int(s, 5, position);
    sqlite3_bind_int(s, 6, color);
    sqlite3_bind_int(s, 7, hoist ? 1 : 0);
    sqlite3_bind_int(s, 8, mentionable ? 1 : 0);
    sqlite3_bind_int(s, 9, managed ? 1 : 0);
    if (bot_id)
        hs_bind_id(s, 10, bot_id);
    return hs_db_step_done(db, s, err, "storing a role");
}

int hs_role_insert(hs_txn *txn, uint64_t id, uint64_t guild_id, const char *name, uint64_t perms,
                   int position, int managed, uint64_t bot_id, hs_error *err)
{
    return insert_full(txn, id, guild_id, name, perms, position, 0, 0, 0, managed, bot_id, err);
}

/* Records GUILD_ROLE_CREATE or GUILD_ROLE_UPDATE {guild_id, role}. */
static int role_event(hs_txn *txn, const char *type, uint64_t guild_id, uint64_t role_id,
                      uint64_t actor_id, hs_error *err)
{
    json_t *role = hs_role_json(hs_txn_db(txn), role_id);
    HS_ASSERT(role);
    return hs_txn_event(txn, type, guild_id, 0, actor_id,
                        json_pack("{s:o, s:o}", "guild_id", hs_json_id(guild_id), "role", role),
                        err);
}

/* Records a GUILD_ROLE_UPDATE for each of ids. */
static int update_events(hs_txn *txn, uint64_t guild_id, const uint64_t *ids, size_t n,
                         uint64_t actor_id, hs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = role_event(txn, "GUILD_ROLE_UPDATE", guild_id, ids[i], actor_id, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The ids of the guild's roles other than @everyone with position >= from, ascending by
 * position; at most HS_ROLES_MAX. */
static size_t roles_from(hs_db *db, uint64_t guild_id, int from, uint64_t ids[HS_ROLES_MAX])
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM roles WHERE guild_id = ?1 AND id != ?1 AND "
                                     "position >= ?2 ORDER BY position, id");
    hs_bind_id(s, 1, guild_id);
    sqlite3_bind_int(s, 2, from);
    size_t n = 0;
    while (n < HS_ROLES_MAX && sqlite3_step(s) == SQLITE_ROW)
        ids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    return n;
}

static int set_position(hs_db *db, uint64_t role_id, int position, hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE roles SET position = ? WHERE id = ?");
    sqlite3_bind_int(s, 1, position);
    hs_bind_id(s, 2, role_id);
    return hs_db_step_done(db, s, err, "moving a role");
}

static uint64_t guild_owner(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT owner_id FROM guilds WHERE id = ?");
    hs_bind_id(s, 1, guild_id);
    uint64_t owner = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return owner;
}

/* What the actor may do with roles: its guild permissions (MANAGE_ROLES checked), whether
 * it owns the guild and its highest role's position. */
struct actor {
    uint64_t perms;
    int owner;
    int top;
};

static int manage_roles_actor(hs_db *db, uint64_t guild_id, uint64_t actor_id, struct actor *a,
                              hs_error *err)
{
    int rc = hs_perm_guild(db, guild_id, actor_id, &a->perms, err);
    if (rc < 0)
        return rc;
    if (!(a->perms & HS_PERM_MANAGE_ROLES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    a->owner = guild_owner(db, guild_id) == actor_id;
    a->top = hs_perm_top_position(db, guild_id, actor_id);
    return 0;
}

/* Whether the actor may manage a role at position (strictly below its highest role). */
static int above(const struct actor *a, int position)
{
    return a->owner || a->top > position;
}

static int check_name(const char *name, hs_error *err)
{
    size_t n = hs_utf8_len(name, strlen(name));
    if (n < 1 || n > HS_ROLE_NAME_MAX)
        return hs_error_form(err, "name", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 1 and %d in length.", HS_ROLE_NAME_MAX);
    return 0;
}

int hs_role_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_role_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    const char *name = op->name ? op->name : "new role";
    int rc = check_name(name, err);
    if (rc == 0 && (op->color < 0 || op->color > HS_ROLE_COLOR_MAX))
        rc = hs_error_form(err, "color", "NUMBER_TYPE_MAX",
                           "int value should be less than or equal to %d.", HS_ROLE_COLOR_MAX);
    if (rc == 0)
        rc = manage_roles_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc < 0)
        return rc;
    uint64_t perms = 0;
    if (op->has_permissions) {
        perms = op->permissions & HS_PERM_ALL;
    } else {
        struct hs_role everyone;
        rc = hs_role_get(db, op->guild_id, op->guild_id, &everyone, err);
        if (rc < 0)
            return rc;
        perms = everyone.permissions;
    }
    /* The new role lands at 1, under every other role (which all move up one): the actor
     * needs a role of its own to be above it, and may grant only what it holds itself. */
    if (!(a.owner || a.top >= 1) || (perms & ~a.perms))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (hs_role_count(db, op->guild_id) >= HS_ROLES_MAX)
        return hs_error_reason(err, HS_ELIMIT, HS_R_MAX_ROLES,
                               "Maximum number of guild roles reached (%d)", HS_ROLES_MAX);

    uint64_t moved[HS_ROLES_MAX];
    size_t nmoved = roles_from(db, op->guild_id, 1, moved);
    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE roles SET position = position + 1 WHERE guild_id = "
                                     "?1 AND id != ?1 AND position >= 1");
    hs_bind_id(s, 1, op->guild_id);
    rc = hs_db_step_done(db, s, err, "moving roles");
    uint64_t id = hs_txn_new_id(txn);
    if (rc == 0)
        rc = insert_full(txn, id, op->guild_id, name, perms, 1, op->color, op->hoist,
                         op->mentionable, 0, 0, err);
    if (rc == 0)
        rc = role_event(txn, "GUILD_ROLE_CREATE", op->guild_id, id, op->actor_id, err);
    if (rc == 0)
        rc = update_events(txn, op->guild_id, moved, nmoved, op->actor_id, err);
    if (rc < 0)
        return rc;
    json_t *changes = json_array();
    json_array_append_new(changes, hs_audit_change("name", NULL, json_string(name)));
    json_array_append_new(changes, hs_audit_change("permissions", NULL, perms_string(perms)));
    json_array_append_new(changes, hs_audit_change("color", NULL, json_integer(op->color)));
    json_array_append_new(changes, hs_audit_change("hoist", NULL, json_boolean(op->hoist)));
    json_array_append_new(changes,
                          hs_audit_change("mentionable", NULL, json_boolean(op->mentionable)));
    rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_ROLE_CREATE, id, changes, NULL,
                         op->reason, err);
    if (rc == 0)
        op->role = hs_role_json(db, id);
    return rc;
}

int hs_role_edit_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_role_edit *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    struct hs_role r;
    int rc = 0;
    if (op->set & HS_ROLE_SET_NAME)
        rc = check_name(op->name, err);
    if (rc == 0 && (op->set & HS_ROLE_SET_COLOR) &&
        (op->color < 0 || op->color > HS_ROLE_COLOR_MAX))
        rc = hs_error_form(err, "color", "NUMBER_TYPE_MAX",
                           "int value should be less than or equal to %d.", HS_ROLE_COLOR_MAX);
    if (rc == 0)
        rc = manage_roles_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc == 0)
        rc = hs_role_get(db, op->guild_id, op->role_id, &r, err);
    if (rc < 0)
        return rc;
    uint64_t perms =
        (op->set & HS_ROLE_SET_PERMISSIONS) ? op->permissions & HS_PERM_ALL : r.permissions;
    int renames = (op->set & HS_ROLE_SET_NAME) && strcmp(op->name, r.name) != 0;
    /* Permissions the actor lacks may stay on a role but may not be added to it. */
    if (!above(&a, r.position) || (perms & ~r.permissions & ~a.perms) ||
        (renames && r.id == op->guild_id))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");

    const char *name = renames ? op->name : r.name;
    int color = (op->set & HS_ROLE_SET_COLOR) ? op->color : r.color;
    int hoist = (op->set & HS_ROLE_SET_HOIST) ? !!op->hoist : r.hoist;
    int mentionable = (op->set & HS_ROLE_SET_MENTIONABLE) ? !!op->mentionable : r.mentionable;
    json_t *changes = json_array();
    if (renames)
        json_array_append_new(changes,
                              hs_audit_change("name", json_string(r.name), json_string(name)));
    if (perms != r.permissions)
        json_array_append_new(changes, hs_audit_change("permissions", perms_string(r.permissions),
                                                       perms_string(perms)));
    if (color != r.color)
        json_array_append_new(changes,
                              hs_audit_change("color", json_integer(r.color), json_integer(color)));
    if (hoist != r.hoist)
        json_array_append_new(changes,
                              hs_audit_change("hoist", json_boolean(r.hoist), json_boolean(hoist)));
    if (mentionable != r.mentionable)
        json_array_append_new(changes, hs_audit_change("mentionable", json_boolean(r.mentionable),
                                                       json_boolean(mentionable)));

    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE roles SET name = ?, permissions = ?, color = ?, "
                                     "hoist = ?, mentionable = ? WHERE id = ?");
    hs_bind_text(s, 1, name);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)perms);
    sqlite3_bind_int(s, 3, color);
    sqlite3_bind_int(s, 4, hoist);
    sqlite3_bind_int(s, 5, mentionable);
    hs_bind_id(s, 6, r.id);
    rc = hs_db_step_done(db, s, err, "editing a role");
    if (rc == 0)
        rc = role_event(txn, "GUILD_ROLE_UPDATE", op->guild_id, r.id, op->actor_id, err);
    if (rc == 0 && json_array_size(changes) > 0) {
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_ROLE_UPDATE, r.id, changes,
                             NULL, op->reason, err);
        changes = NULL;
    }
    json_decref(changes);
    if (rc == 0)
        op->role = hs_role_json(db, r.id);
    return rc;
}

/* Removes the overwrites naming role_id and records a CHANNEL_UPDATE per channel. */
static int drop_overwrites(hs_txn *txn, uint64_t guild_id, uint64_t role_id, uint64_t actor_id,
                           hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t *chans = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT o.channel_id FROM overwrites o JOIN channels c ON "
                                     "c.id = o.channel_id WHERE o.target_id = ? AND o.type = 0 "
                                     "AND c.guild_id = ? ORDER BY o.channel_id");
    hs_bind_id(s, 1, role_id);
    hs_bind_id(s, 2, guild_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            chans = hs_xrealloc(chans, cap * sizeof(*chans));
        }
        chans[n++] = hs_col_id(s, 0);
    }
    sqlite3_reset(s);
    s = hs_db_stmt(db, "DELETE FROM overwrites WHERE target_id = ? AND type = 0");
    hs_bind_id(s, 1, role_id);
    int rc = hs_db_step_done(db, s, err, "removing overwrites");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *ch = hs_channel_json(db, chans[i]);
        if (ch) /* deleted channels lose the row and need no event */
            rc = hs_txn_event(txn, "CHANNEL_UPDATE", guild_id, chans[i], actor_id, ch, err);
    }
    free(chans);
    return rc;
}

int hs_role_remove(hs_txn *txn, uint64_t guild_id, uint64_t role_id, uint64_t actor_id,
                   hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    struct hs_role r;
    int rc = hs_role_get(db, guild_id, role_id, &r, err);
    if (rc < 0)
        return rc;
    HS_ASSERT(role_id != guild_id);
    uint64_t moved[HS_ROLES_MAX];
    size_t nmoved = roles_from(db, guild_id, r.position + 1, moved);
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM member_roles WHERE guild_id = ? AND role_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, role_id);
    rc = hs_db_step_done(db, s, err, "taking a role");
    if (rc == 0) {
        s = hs_db_stmt(db, "DELETE FROM roles WHERE id = ?");
        hs_bind_id(s, 1, role_id);
        rc = hs_db_step_done(db, s, err, "deleting a role");
    }
    if (rc == 0) {
        s = hs_db_stmt(db, "UPDATE roles SET position = position - 1 WHERE guild_id = ?1 AND "
                           "id != ?1 AND position > ?2");
        hs_bind_id(s, 1, guild_id);
        sqlite3_bind_int(s, 2, r.position);
        rc = hs_db_step_done(db, s, err, "moving roles");
    }
    if (rc == 0)
        rc = hs_txn_event(txn, "GUILD_ROLE_DELETE", guild_id, 0, actor_id,
                          json_pack("{s:o, s:o}", "guild_id", hs_json_id(guild_id), "role_id",
                                    hs_json_id(role_id)),
                          err);
    if (rc == 0)
        rc = update_events(txn, guild_id, moved, nmoved, actor_id, err);
    if (rc == 0)
        rc = drop_overwrites(txn, guild_id, role_id, actor_id, err);
    return rc;
}

int hs_role_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_role_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    struct hs_role r;
    int rc = manage_roles_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc == 0)
        rc = hs_role_get(db, op->guild_id, op->role_id, &r, err);
    if (rc < 0)
        return rc;
    if (r.id == op->guild_id || r.managed || !above(&a, r.position))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    rc = hs_role_remove(txn, op->guild_id, r.id, op->actor_id, err);
    if (rc < 0)
        return rc;
    json_t *changes = json_array();
    json_array_append_new(changes, hs_audit_change("name", json_string(r.name), NULL));
    json_array_append_new(changes,
                          hs_audit_change("permissions", perms_string(r.permissions), NULL));
    json_array_append_new(changes, hs_audit_change("color", json_integer(r.color), NULL));
    json_array_append_new(changes, hs_audit_change("hoist", json_boolean(r.hoist), NULL));
    json_array_append_new(changes,
                          hs_audit_change("mentionable", json_boolean(r.mentionable), NULL));
    return hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_ROLE_DELETE, r.id, changes,
                           NULL, op->reason, err);
}

struct slot_role {
    uint64_t id;
    int old_pos, new_pos;
    int listed, want; /* want: the requested position, clamped */
    size_t order;     /* index in the request, for ties */
};

static int by_want(const void *a, const void *b)
{
    const struct slot_role *x = *(struct slot_role *const *)a, *y = *(struct slot_role *const *)b;
    if (x->want != y->want)
        return x->want < y->want ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int hs_role_move_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_role_move *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct actor a;
    int rc = manage_roles_actor(db, op->guild_id, op->actor_id, &a, err);
    if (rc < 0)
        return rc;

    /* Every role but @everyone, in its current order: slot i holds position i + 1. */
    struct slot_role *roles = hs_xcalloc(HS_ROLES_MAX, sizeof(*roles));
    struct slot_role **listed = hs_xcalloc(HS_ROLES_MAX, sizeof(*listed));
    uint64_t *slots = hs_xcalloc(HS_ROLES_MAX, sizeof(*slots));
    uint64_t ids[HS_ROLES_MAX];
    size_t n = roles_from(db, op->guild_id, 1, ids), nlisted = 0;
    for (size_t i = 0; i < n; i++) {
        roles[i].id = ids[i];
        roles[i].old_pos = (int)i + 1; /* the dense invariant, whatever the rows say */
    }
    for (size_t k = 0; rc == 0 && k < op->n; k++) {
        if (op->ids[k] == op->guild_id) {
            if (op->positions[k] != 0)
                rc =
                    hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
            continue;
        }
        struct slot_role *r = NULL;
        for (size_t i = 0; i < n && !r; i++)
            if (roles[i].id == op->ids[k])
                r = &roles[i];
        if (!r) {
            rc = hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_ROLE, "Unknown Role");
            break;
        }
        int want = op->positions[k] < 1 ? 1 : op->positions[k] > (int)n ? (int)n : op->positions[k];
        if (!r->listed)
            listed[nlisted++] = r;
        r->listed = 1;
        r->want = want; /* the last mention of a role wins */
        r->order = k;
    }
    if (rc < 0)
        goto out;

    /* Listed roles first, each at its wish or the nearest free slot above (below when the
     * top is full); then the others, in their order, in the free slots left. */
    qsort(listed, nlisted, sizeof(*listed), by_want);
    for (size_t k = 0; k < nlisted; k++) {
        int p = listed[k]->want - 1;
        while (p < (int)n && slots[p])
            p++;
        if (p == (int)n)
            for (p = listed[k]->want - 1; slots[p]; p--)
                ;
        slots[p] = listed[k]->id;
        listed[k]->new_pos = p + 1;
    }
    for (size_t i = 0, p = 0; i < n; i++) {
        if (roles[i].listed)
            continue;
        while (slots[p])
            p++;
        slots[p] = roles[i].id;
        roles[i].new_pos = (int)p + 1;
    }
    /* Nothing that moves may be at or above the actor's highest role, before or after. */
    for (size_t i = 0; i < n; i++) {
        if (roles[i].new_pos != roles[i].old_pos &&
            (!above(&a, roles[i].old_pos) || !above(&a, roles[i].new_pos))) {
            rc = hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
            goto out;
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *s = hs_db_stmt(db, "SELECT position FROM roles WHERE id = ?");
        hs_bind_id(s, 1, roles[i].id);
        int stored = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
        sqlite3_reset(s);
        if (stored == roles[i].new_pos)
            continue;
        rc = set_position(db, roles[i].id, roles[i].new_pos, err);
        if (rc == 0)
            rc = role_event(txn, "GUILD_ROLE_UPDATE", op->guild_id, roles[i].id, op->actor_id, err);
        if (rc == 0 && roles[i].listed)
            rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_ROLE_UPDATE, roles[i].id,
                                 json_pack("[o]", hs_audit_change("position", json_integer(stored),
                                                                  json_integer(roles[i].new_pos))),
                                 NULL, op->reason, err);
    }
    if (rc == 0)
        op->roles = hs_role_list(db, op->guild_id);
out:
    free(roles);
    free(listed);
    free(slots);
    return rc;
}
