/*
 * hs_members.h: what moderators and members do to membership (spec/rest-members.md):
 * nicknames, a member's roles, timeouts, kicks, leaving, bans and unbans.
 *
 * The member object and the member lists are hs_guilds.h's (hs_member_json,
 * hs_member_list, hs_member_search); this module owns the writes that change a membership
 * after it exists, and the bans table. Every write checks, inside its transaction, the
 * actor's guild permissions and the role hierarchy (hs_perm_outranks, hs_perm_outranks_role)
 * and records its events (GUILD_MEMBER_UPDATE, GUILD_MEMBER_REMOVE, GUILD_BAN_ADD/REMOVE,
 * MESSAGE_DELETE(_BULK) for a ban that deletes messages) and its audit log entry.
 *
 * Reads take the calling thread's hs_db; writes are hs_write_fn functions for the writer
 * thread.
 */
#ifndef HS_MEMBERS_H
#define HS_MEMBERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_core.h"

#define HS_NICK_MAX 32                                      /* code points */
#define HS_TIMEOUT_MAX_MS ((uint64_t)28 * 24 * 3600 * 1000) /* how far ahead a timeout may end */
#define HS_BAN_DELETE_MAX_SECONDS 604800                    /* 7 days of messages */
#define HS_MEMBER_ROLES_MAX 250

/* 1 when user_id is banned from guild_id, else 0 (also for unknown ids). */
int hs_member_is_banned(hs_db *db, uint64_t guild_id, uint64_t user_id);

/* The ban object {reason, user}; new JSON, NULL when user_id is not banned. */
json_t *hs_ban_json(hs_db *db, uint64_t guild_id, uint64_t user_id);
/* Bans of a guild ascending by user id: with after, the first limit above it; with only
 * before, the last limit below it (still ascending); limit 1..1000. The caller checked
 * BAN_MEMBERS. */
json_t *hs_ban_list(hs_db *db, uint64_t guild_id, uint64_t before, uint64_t after, int limit);

/*
 * Write: edits a member. Flags in `set` say which fields the request carried:
 * - nick (NULL or "" clears; at most HS_NICK_MAX): oneself with CHANGE_NICKNAME or
 *   MANAGE_NICKNAMES, others with MANAGE_NICKNAMES and the hierarchy;
 * - roles (the full new list; @everyone is ignored): MANAGE_ROLES, the hierarchy over the
 *   member (unless oneself) and over every role added or removed; managed roles can be
 *   neither; unknown roles are HS_R_UNKNOWN_ROLE;
 * - timeout (unix ms, 0 or past clears; at most HS_TIMEOUT_MAX_MS ahead): MODERATE_MEMBERS
 *   and the hierarchy; never on a member with ADMINISTRATOR (nor the owner).
 * Errors: HS_R_MISSING_ACCESS (actor not a member), HS_R_UNKNOWN_MEMBER,
 * HS_R_MISSING_PERMISSIONS, HS_R_FORM (nick, communication_disabled_until).
 * Records GUILD_MEMBER_UPDATE when something changed, and MEMBER_UPDATE (nick, timeout)
 * and MEMBER_ROLE_UPDATE ($add, $remove) audit entries.
 */
enum {
    HS_MEMBER_SET_NICK = 1,
    HS_MEMBER_SET_ROLES = 2,
    HS_MEMBER_SET_TIMEOUT = 4,
};
struct hs_member_edit {
    uint64_t guild_id, actor_id, user_id;
    int set;
    const char *nick;
    const uint64_t *roles; /* borrowed */
    size_t nroles;
    uint64_t timeout_until_ms;
    const char *reason; /* X-Audit-Log-Reason, NULL for none */
    json_t *member;     /* out: new reference */
};
int hs_member_edit_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: gives (add = 1) or takes one role, with the roles rules of hs_member_edit_fn.
 * Giving a role the member has, or taking one it lacks, changes nothing. */
struct hs_member_role {
    uint64_t guild_id, actor_id, user_id, role_id;
    int add;
    const char *reason;
};
int hs_member_role_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: removes a member: KICK_MEMBERS and the hierarchy; MEMBER_KICK audit entry. */
struct hs_member_kick {
    uint64_t guild_id, actor_id, user_id;
    const char *reason;
};
int hs_member_kick_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: the user's last gateway session has ended, so it leaves every guild it joined
 * through a temporary invite and where it still has no role (Discord's temporary
 * membership). Records GUILD_MEMBER_REMOVE for each; removed counts them.
 */
struct hs_member_expire {
    uint64_t user_id;
    int removed; /* out */
};
int hs_member_expire_temporary_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: user_id leaves guild_id. HS_R_UNKNOWN_GUILD when not a member,
 * HS_R_OWNER_CANNOT_LEAVE for the owner. */
struct hs_member_leave {
    uint64_t guild_id, user_id;
};
int hs_member_leave_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: bans a user (a member or not): BAN_MEMBERS and, for a member, the hierarchy;
 * nobody bans themself. A member is removed (GUILD_MEMBER_REMOVE); GUILD_BAN_ADD and a
 * MEMBER_BAN_ADD audit entry follow. delete_message_seconds (0..HS_BAN_DELETE_MAX_SECONDS)
 * deletes the user's messages of that period in every channel of the guild
 * (MESSAGE_DELETE_BULK per channel and 100 messages, MESSAGE_DELETE for a lone one).
 * Banning someone already banned deletes the messages asked for and changes nothing else.
 * HS_R_UNKNOWN_USER when the user does not exist.
 */
struct hs_ban_create {
    uint64_t guild_id, actor_id, user_id;
    int delete_message_seconds;
    const char *reason;
};
int hs_ban_create_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: lifts a ban: BAN_MEMBERS; HS_R_UNKNOWN_BAN when there is none. GUILD_BAN_REMOVE
 * and a MEMBER_BAN_REMOVE audit entry. */
struct hs_ban_delete {
    uint64_t guild_id, actor_id, user_id;
    const char *reason;
};
int hs_ban_delete_fn(hs_txn *txn, void *arg, hs_error *err);

#endif
