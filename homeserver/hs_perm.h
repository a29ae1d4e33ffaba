/*
 * hs_perm.h: Discord's permission bits and the one function that computes what a member
 * may do (spec/client-api.md "Permissions"). Every endpoint asks these functions; none
 * reads roles itself. Any thread, with that thread's hs_db.
 */
#ifndef HS_PERM_H
#define HS_PERM_H

#include <stdint.h>

#include "hs_error.h"
#include "hs_store.h"

#define HS_P(bit) ((uint64_t)1 << (bit))
#define HS_PERM_CREATE_INSTANT_INVITE HS_P(0)
#define HS_PERM_KICK_MEMBERS HS_P(1)
#define HS_PERM_BAN_MEMBERS HS_P(2)
#define HS_PERM_ADMINISTRATOR HS_P(3)
#define HS_PERM_MANAGE_CHANNELS HS_P(4)
#define HS_PERM_MANAGE_GUILD HS_P(5)
#define HS_PERM_ADD_REACTIONS HS_P(6)
#define HS_PERM_VIEW_AUDIT_LOG HS_P(7)
#define HS_PERM_VIEW_CHANNEL HS_P(10)
#define HS_PERM_SEND_MESSAGES HS_P(11)
#define HS_PERM_MANAGE_MESSAGES HS_P(13)
#define HS_PERM_READ_MESSAGE_HISTORY HS_P(16)
#define HS_PERM_MANAGE_ROLES HS_P(28)
/* Every bit Discord defines today (0..52, bit 47 unassigned). */
#define HS_PERM_ALL ((HS_P(53) - 1) & ~HS_P(47))
/* What @everyone gets in a new guild (spec/client-api.md, DEFAULT_EVERYONE). */
#define HS_PERM_DEFAULT_EVERYONE ((uint64_t)1799872721571393ULL)

/*
 * Computes user's guild-level permissions in guild. Returns HS_ENOTFOUND with
 * HS_R_UNKNOWN_GUILD when the guild does not exist, HS_EPERM with HS_R_MISSING_ACCESS when
 * the user is not a member.
 */
int hs_perm_guild(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t *perms, hs_error *err);

#endif
