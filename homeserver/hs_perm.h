/*
 * hs_perm.h: Discord's permission bits and the one computation of what a member may do
 * (spec/client-api.md §7). Every endpoint and the gateway ask these functions; nothing else
 * reads roles or overwrites to decide access.
 *
 * hs_perm_compute is the algorithm as a pure function of its inputs, so it can be tested
 * case by case; hs_perm_guild and hs_perm_channel load those inputs from the database.
 * Any thread, with that thread's hs_db.
 */
#ifndef HS_PERM_H
#define HS_PERM_H

#include <stddef.h>
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
#define HS_PERM_PRIORITY_SPEAKER HS_P(8)
#define HS_PERM_STREAM HS_P(9)
#define HS_PERM_VIEW_CHANNEL HS_P(10)
#define HS_PERM_SEND_MESSAGES HS_P(11)
#define HS_PERM_SEND_TTS_MESSAGES HS_P(12)
#define HS_PERM_MANAGE_MESSAGES HS_P(13)
#define HS_PERM_EMBED_LINKS HS_P(14)
#define HS_PERM_ATTACH_FILES HS_P(15)
#define HS_PERM_READ_MESSAGE_HISTORY HS_P(16)
#define HS_PERM_MENTION_EVERYONE HS_P(17)
#define HS_PERM_USE_EXTERNAL_EMOJIS HS_P(18)
#define HS_PERM_CONNECT HS_P(20)
#define HS_PERM_SPEAK HS_P(21)
#define HS_PERM_MUTE_MEMBERS HS_P(22)
#define HS_PERM_DEAFEN_MEMBERS HS_P(23)
#define HS_PERM_MOVE_MEMBERS HS_P(24)
#define HS_PERM_USE_VAD HS_P(25)
#define HS_PERM_CHANGE_NICKNAME HS_P(26)
#define HS_PERM_MANAGE_NICKNAMES HS_P(27)
#define HS_PERM_MANAGE_ROLES HS_P(28)
#define HS_PERM_MANAGE_WEBHOOKS HS_P(29)
#define HS_PERM_MANAGE_THREADS HS_P(34)
#define HS_PERM_CREATE_PUBLIC_THREADS HS_P(35)
#define HS_PERM_CREATE_PRIVATE_THREADS HS_P(36)
#define HS_PERM_SEND_MESSAGES_IN_THREADS HS_P(38)
#define HS_PERM_MODERATE_MEMBERS HS_P(40)
#define HS_PERM_SEND_VOICE_MESSAGES HS_P(46)
#define HS_PERM_SEND_POLLS HS_P(49)
#define HS_PERM_PIN_MESSAGES HS_P(51)
/* Every bit Discord defines today (0..52, bit 47 unassigned). */
#define HS_PERM_ALL ((HS_P(53) - 1) & ~HS_P(47))
/* What @everyone gets in a new guild (spec/client-api.md, DEFAULT_EVERYONE). */
#define HS_PERM_DEFAULT_EVERYONE ((uint64_t)1799872721571393ULL)
/* What a timed-out member keeps. */
#define HS_PERM_TIMEOUT_KEEP (HS_PERM_VIEW_CHANNEL | HS_PERM_READ_MESSAGE_HISTORY)
/* What a recipient may do in a DM or group DM. */
#define HS_PERM_DM                                                                                 \
    (HS_PERM_VIEW_CHANNEL | HS_PERM_SEND_MESSAGES | HS_PERM_READ_MESSAGE_HISTORY |                 \
     HS_PERM_ADD_REACTIONS | HS_PERM_EMBED_LINKS | HS_PERM_ATTACH_FILES |                          \
     HS_PERM_USE_EXTERNAL_EMOJIS | HS_PERM_CONNECT | HS_PERM_SPEAK | HS_PERM_USE_VAD |             \
     HS_PERM_STREAM | HS_PERM_SEND_VOICE_MESSAGES | HS_PERM_SEND_POLLS | HS_PERM_PIN_MESSAGES)

enum hs_overwrite_type { HS_OVERWRITE_ROLE = 0, HS_OVERWRITE_MEMBER = 1 };

struct hs_overwrite {
    uint64_t id; /* a role id (the guild id for @everyone) or a user id */
    int type;    /* enum hs_overwrite_type */
    uint64_t allow, deny;
};

enum hs_perm_scope {
    HS_SCOPE_GUILD = 0, /* guild-level permissions: no overwrites, no implicit rules */
    HS_SCOPE_TEXT,      /* a text or category channel */
    HS_SCOPE_VOICE,     /* a voice channel */
    HS_SCOPE_THREAD,    /* a thread: the parent's overwrites, SEND_MESSAGES_IN_THREADS rules */
};

/* Everything the algorithm looks at. Pointers are borrowed. */
struct hs_perm_input {
    uint64_t guild_id, user_id;
    int is_owner;
    uint64_t everyone;          /* the @everyone role's permissions */
    const uint64_t *role_ids;   /* the member's roles (not @everyone) */
    const uint64_t *role_perms; /* their permissions, index for index */
    size_t nroles;
    int scope;                             /* enum hs_perm_scope */
    const struct hs_overwrite *overwrites; /* the channel's (the parent's, for a thread) */
    size_t noverwrites;
    int timed_out; /* communication_disabled_until is in the future */
};

/*
 * Discord's algorithm: the owner has everything; otherwise @everyone OR the member's roles,
 * where ADMINISTRATOR means everything; then, in a channel, the @everyone overwrite, the
 * OR of the member's role overwrites (deny then allow), the member's overwrite; then the
 * implicit rules (no VIEW_CHANNEL: nothing; no SEND_MESSAGES: no MENTION_EVERYONE, TTS,
 * ATTACH_FILES, EMBED_LINKS; no CONNECT in voice: no voice permissions; in threads
 * SEND_MESSAGES_IN_THREADS stands in for SEND_MESSAGES); a timed-out member keeps only
 * VIEW_CHANNEL and READ_MESSAGE_HISTORY.
 */
uint64_t hs_perm_compute(const struct hs_perm_input *in);

/*
 * Computes user's guild-level permissions in guild. Returns HS_ENOTFOUND with
 * HS_R_UNKNOWN_GUILD when the guild does not exist, HS_EPERM with HS_R_MISSING_ACCESS when
 * the user is not a member.
 */
int hs_perm_guild(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t *perms, hs_error *err);

/*
 * Computes user's permissions in a channel of a guild (for a thread: from its parent, plus
 * the private-thread rule) or of a DM (HS_PERM_DM for recipients). Deleted channels count
 * only when include_deleted is set (the gateway deciding who hears of a deletion). Errors:
 * HS_ENOTFOUND/HS_R_UNKNOWN_CHANNEL, HS_EPERM/HS_R_MISSING_ACCESS when not a member or
 * recipient. Having no VIEW_CHANNEL is not an error here: *perms is then 0.
 */
int hs_perm_channel(hs_db *db, uint64_t channel_id, uint64_t user_id, int include_deleted,
                    uint64_t *perms, hs_error *err);

/* Whether user is timed out in guild (communication_disabled_until in the future). */
int hs_perm_timed_out(hs_db *db, uint64_t guild_id, uint64_t user_id);

/*
 * Role hierarchy: the highest position among user's roles in guild (0 for none). The owner
 * ranks above everyone.
 */
int hs_perm_top_position(hs_db *db, uint64_t guild_id, uint64_t user_id);
/*
 * Whether actor may act on target (kick, ban, time out, edit roles or nickname): the owner
 * may act on anyone but themself; nobody acts on the owner; otherwise the actor's top role
 * must be strictly above the target's.
 */
int hs_perm_outranks(hs_db *db, uint64_t guild_id, uint64_t actor_id, uint64_t target_id);
/* Whether actor's top role is strictly above role_id's position (owner: always); 0 when role_id
 * is not a role of guild_id. */
int hs_perm_outranks_role(hs_db *db, uint64_t guild_id, uint64_t actor_id, uint64_t role_id);

#endif
