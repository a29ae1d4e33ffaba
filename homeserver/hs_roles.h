/*
 * hs_roles.h: a guild's roles (spec/rest-members.md "Roles").
 *
 * This module owns the roles table: the role object, creation, edits, deletion and the
 * ordering of roles. Positions are an invariant kept by every write here: @everyone (whose
 * id is the guild's) is at 0 and the other roles of a guild hold the positions 1..n, each
 * once, so "strictly below the actor's highest role" (hs_perm_outranks_role) is a plain
 * comparison. A write that moves other roles to keep the invariant records a
 * GUILD_ROLE_UPDATE for each of them.
 *
 * Reads take the calling thread's hs_db; writes are hs_write_fn functions for the writer
 * thread that check permissions inside their transaction, record GUILD_ROLE_CREATE /
 * UPDATE / DELETE events and an audit log entry (ROLE_CREATE / UPDATE / DELETE).
 */
#ifndef HS_ROLES_H
#define HS_ROLES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_core.h"

#define HS_ROLES_MAX 250     /* roles in a guild, @everyone included (Discord's 30005) */
#define HS_ROLE_NAME_MAX 100 /* code points */
#define HS_ROLE_COLOR_MAX 0xFFFFFF

struct hs_role {
    uint64_t id, guild_id;
    uint64_t permissions;
    uint64_t bot_id; /* the bot of a managed role, 0 otherwise */
    int position, color, hoist, mentionable, managed;
    char name[HS_ROLE_NAME_MAX * 4 + 1];
};

/* Reads role_id of guild_id; HS_ENOTFOUND/HS_R_UNKNOWN_ROLE when it is not a role of that
 * guild. */
int hs_role_get(hs_db *db, uint64_t guild_id, uint64_t role_id, struct hs_role *out, hs_error *err);
/* The role object (spec/client-api.md "Role object"); new JSON, NULL when unknown. */
json_t *hs_role_json(hs_db *db, uint64_t role_id);
/* Every role of a guild, by position then id; new JSON (an empty array for none). */
json_t *hs_role_list(hs_db *db, uint64_t guild_id);
/* The number of roles of a guild, @everyone included. */
int hs_role_count(hs_db *db, uint64_t guild_id);

/*
 * For core modules: inserts a role row as is (no checks, no event). The caller keeps the
 * position invariant (a new guild's @everyone at 0, a bot's managed role on top).
 */
int hs_role_insert(hs_txn *txn, uint64_t id, uint64_t guild_id, const char *name, uint64_t perms,
                   int position, int managed, uint64_t bot_id, hs_error *err);

/*
 * For core modules: deletes a role (not @everyone) with no permission check: its members
 * lose it, the channel overwrites naming it go (CHANNEL_UPDATE for each such channel), the
 * roles above move down one (GUILD_ROLE_UPDATE each) and GUILD_ROLE_DELETE is recorded
 * with actor_id. Used for a bot's managed role when the bot leaves.
 */
int hs_role_remove(hs_txn *txn, uint64_t guild_id, uint64_t role_id, uint64_t actor_id,
                   hs_error *err);

/*
 * Write: a new role at position 1 (every other role moves up one, as on Discord). Needs
 * MANAGE_ROLES; the actor must hold every permission it grants and (unless owner) have a
 * role, so that the new one is below it. Defaults: name "new role", @everyone's
 * permissions, color 0, not hoisted, not mentionable. HS_R_MAX_ROLES past HS_ROLES_MAX.
 */
struct hs_role_create {
    uint64_t guild_id, actor_id;
    const char *name; /* NULL: "new role" */
    int has_permissions;
    uint64_t permissions;
    int color, hoist, mentionable;
    const char *reason; /* X-Audit-Log-Reason, NULL for none */
    json_t *role;       /* out: new reference */
};
int hs_role_create_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: edits the fields flagged in `set`. Needs MANAGE_ROLES and a highest role strictly
 * above the role (the owner: any); added permissions must be the actor's own. @everyone
 * keeps its name (HS_R_MISSING_PERMISSIONS otherwise).
 */
enum {
    HS_ROLE_SET_NAME = 1,
    HS_ROLE_SET_PERMISSIONS = 2,
    HS_ROLE_SET_COLOR = 4,
    HS_ROLE_SET_HOIST = 8,
    HS_ROLE_SET_MENTIONABLE = 16,
};
struct hs_role_edit {
    uint64_t guild_id, actor_id, role_id;
    int set; /* HS_ROLE_SET_* */
    const char *name;
    uint64_t permissions;
    int color, hoist, mentionable;
    const char *reason;
    json_t *role; /* out: new reference */
};
int hs_role_edit_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: deletes a role. Needs MANAGE_ROLES and a highest role strictly above it; neither
 * @everyone nor a managed role may be deleted (HS_R_MISSING_PERMISSIONS). */
struct hs_role_delete {
    uint64_t guild_id, actor_id, role_id;
    const char *reason;
};
int hs_role_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: moves roles. Each listed role goes to its requested position (1..n, n the number
 * of roles other than @everyone); the unlisted ones keep their order and fill the other
 * positions. Needs MANAGE_ROLES; unless owner, every listed role must be strictly below the
 * actor's highest role both where it is and where it goes. @everyone may be listed only at
 * position 0 (and then stays). Unknown ids: HS_R_UNKNOWN_ROLE.
 */
struct hs_role_move {
    uint64_t guild_id, actor_id;
    const uint64_t *ids; /* borrowed */
    const int *positions;
    size_t n;
    const char *reason;
    json_t *roles; /* out: new reference, every role of the guild as hs_role_list */
};
int hs_role_move_fn(hs_txn *txn, void *arg, hs_error *err);

#endif
