/*
 * hs_invites.h: guild invites: create, list, look up, delete, and join a guild by one
 * (spec/rest-invites.md "Invites").
 *
 * An invite is a code of 8-10 random base62 characters (libsodium randombytes) naming a
 * channel of a guild, with an optional lifetime (max_age seconds) and number of uses
 * (max_uses). An invite that expired or was used up is gone: every read treats it as
 * unknown (HS_R_UNKNOWN_INVITE), and the use that exhausts it deletes it. Writes check the
 * caller's permissions inside their transaction and record INVITE_CREATE / INVITE_DELETE
 * (with the event's channel_id set to the invite's channel, so the gateway sends them to
 * members holding MANAGE_CHANNELS there) and the audit log entries.
 *
 * Reads take the calling thread's hs_db and run on any thread; writes are hs_write_fn
 * functions for the writer thread. JSON results are new references the caller releases.
 */
#ifndef HS_INVITES_H
#define HS_INVITES_H

#include <jansson.h>
#include <stdint.h>

#include "hs_core.h"

#define HS_INVITE_CODE_MIN 8
#define HS_INVITE_CODE_MAX 10
#define HS_INVITE_MAX_AGE 604800 /* seconds: 7 days */
#define HS_INVITE_MAX_USES 100
#define HS_INVITE_DEFAULT_MAX_AGE 86400

/* Writes a fresh random code (HS_INVITE_CODE_MIN..MAX base62 characters, NUL-terminated).
 * Any thread; libsodium must be initialised. */
void hs_invite_code_new(char out[HS_INVITE_CODE_MAX + 1]);
/* Whether code has the form of an invite code (1..32 characters of [A-Za-z0-9-]); anything
 * else cannot name an invite. */
int hs_invite_code_ok(const char *code);

/* Write: an invite to a guild channel (text, voice); needs CREATE_INSTANT_INVITE there. */
struct hs_invite_create {
    uint64_t channel_id, actor_id;
    int max_age;        /* seconds, 0..HS_INVITE_MAX_AGE; 0: never expires */
    int max_uses;       /* 0..HS_INVITE_MAX_USES; 0: unlimited */
    int temporary;      /* membership that ends with the session (stored, not enforced yet) */
    int unique;         /* 0: return an equivalent live invite of the same inviter if any */
    const char *reason; /* X-Audit-Log-Reason, borrowed, may be NULL */
    json_t *invite;     /* out: new reference, the invite object with metadata */
    int created;        /* out: 0 when an existing invite was returned */
};
int hs_invite_create_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * The invite object of a live invite, for anyone: {type, code, guild, channel, inviter,
 * max_age, max_uses, uses, temporary, created_at, expires_at}; with_counts adds
 * approximate_member_count and approximate_presence_count. now_ms decides expiry.
 * Errors: HS_ENOTFOUND/HS_R_UNKNOWN_INVITE.
 */
int hs_invite_get(hs_db *db, const char *code, uint64_t now_ms, int with_counts, json_t **out,
                  hs_error *err);

/* The live invites of a channel (the caller needs MANAGE_CHANNELS there) or of a guild
 * (MANAGE_GUILD), oldest first. Errors as hs_channel_access / hs_perm_guild, and
 * HS_R_MISSING_PERMISSIONS. */
int hs_invite_list_channel(hs_db *db, uint64_t channel_id, uint64_t user_id, uint64_t now_ms,
                           json_t **out, hs_error *err);
int hs_invite_list_guild(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t now_ms,
                         json_t **out, hs_error *err);

/* Write: deletes an invite; MANAGE_CHANNELS in its channel or MANAGE_GUILD. */
struct hs_invite_delete {
    const char *code;
    uint64_t actor_id;
    const char *reason;
    json_t *invite; /* out: new reference, the invite as it was */
};
int hs_invite_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: user_id joins the invite's guild. A member already: nothing changes (joined = 0).
 * Otherwise the membership is stored, the use counted (the last allowed use deletes the
 * invite, with INVITE_DELETE) and GUILD_MEMBER_ADD recorded. A banned user gets
 * HS_EPERM/HS_R_BANNED.
 */
struct hs_invite_accept {
    const char *code;
    uint64_t user_id;
    json_t *invite; /* out: new reference, the invite object (uses after this join) */
    int joined;     /* out */
};
int hs_invite_accept_fn(hs_txn *txn, void *arg, hs_error *err);

#endif
