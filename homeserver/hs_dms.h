/*
 * hs_dms.h: direct messages (type 1) and group DMs (type 3) (spec/rest-invites.md "DMs").
 *
 * A DM or group DM is a channels row with no guild; its members are its rows in
 * `recipients`, and hs_perm_channel gives them (and nobody else) HS_PERM_DM, so messages,
 * history and reactions work through the ordinary channel endpoints. A 1:1 DM is unique per
 * pair of users (channels.dm_key = "lowid:highid"): opening it again returns the same
 * channel. Closing a DM hides it for the closer only (recipients.closed_id) until it is
 * opened again or a newer message arrives; leaving a group DM removes the recipient.
 *
 * Who may DM whom: two users who share a guild, or who already have a DM. Two bots never.
 *
 * Reads take the calling thread's hs_db (any thread); writes are hs_write_fn functions for
 * the writer thread. JSON results are new references the caller releases.
 */
#ifndef HS_DMS_H
#define HS_DMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_core.h"

#define HS_GROUP_DM_MAX_RECIPIENTS 10 /* the owner included, as Discord */
#define HS_GROUP_DM_NAME_MAX 100

/* Whether user a may open a DM with user b (a shared guild, or a DM already). */
int hs_dm_allowed(hs_db *db, uint64_t a, uint64_t b);

/*
 * A DM or group DM as viewer sees it: the channel object whose `recipients` leaves out
 * the viewer, as Discord's does. NULL when the channel does not exist.
 */
json_t *hs_dm_channel_json(hs_db *db, uint64_t channel_id, uint64_t viewer_id);
/* Takes viewer_id out of a DM channel object's `recipients` (in place): a user's view. */
void hs_dm_view_for(json_t *channel, uint64_t viewer_id);

/* The DMs and group DMs of user_id that are open for them, most recently active first. */
json_t *hs_dm_list(hs_db *db, uint64_t user_id);
/* The user ids of a DM's recipients; *n gets the count. New memory (free()), NULL if none. */
uint64_t *hs_dm_recipient_ids(hs_db *db, uint64_t channel_id, size_t *n);

/*
 * Write: opens (creating it if needed) the DM between actor and recipient and reopens it
 * for the actor if they had closed it. Errors: HS_R_UNKNOWN_USER, HS_R_INVALID_RECIPIENT
 * (oneself), HS_R_CANNOT_DM (no shared guild and no DM yet, or two bots). A new DM records
 * CHANNEL_CREATE.
 */
struct hs_dm_open {
    uint64_t actor_id, recipient_id;
    json_t *channel; /* out: new reference, as the actor sees it */
    int created;     /* out */
};
int hs_dm_open_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: a new group DM owned by the actor with the given other users (duplicates and the
 * actor are ignored): 1..9 of them (more: HS_R_MAX_RECIPIENTS). Each must exist
 * (HS_R_UNKNOWN_USER), not be a bot (HS_R_INVALID_RECIPIENT) and be someone the actor may
 * DM (HS_R_CANNOT_DM). name: NULL or empty for none, at most 100 characters.
 */
struct hs_group_dm_create {
    uint64_t actor_id;
    const uint64_t *recipients; /* borrowed */
    size_t nrecipients;
    const char *name;
    json_t *channel; /* out: new reference, as the actor sees it */
};
int hs_group_dm_create_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: adds user_id to a group DM. Any recipient may add someone they may DM, up to 10
 * recipients. Already there: nothing changes (changed = 0). Errors: as
 * hs_channel_access, HS_R_CHANNEL_TYPE (not a group DM), HS_R_UNKNOWN_USER,
 * HS_R_INVALID_RECIPIENT (a bot), HS_R_CANNOT_DM, HS_R_MAX_RECIPIENTS.
 * Records CHANNEL_RECIPIENT_ADD {channel_id, user}.
 */
struct hs_dm_recipient {
    uint64_t channel_id, actor_id, user_id;
    int changed; /* out */
};
int hs_dm_recipient_add_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: removes user_id from a group DM: the owner may remove anyone, anyone may remove
 * themself (HS_R_MISSING_PERMISSIONS otherwise; HS_R_UNKNOWN_USER when not a recipient).
 * Records CHANNEL_RECIPIENT_REMOVE {channel_id, user}. When the owner leaves, the remaining
 * recipient with the lowest id becomes the owner (CHANNEL_UPDATE); when nobody is left the
 * channel is deleted.
 */
int hs_dm_recipient_remove_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: DELETE /channels/{id} for a DM or group DM. A DM is closed for the actor only (the
 * other recipient keeps it; the actor keeps access and sees it again once a newer message
 * arrives or they open it again); a group DM is left (as hs_dm_recipient_remove_fn on
 * oneself). A guild channel is HS_R_CHANNEL_TYPE: deleting those is the channels
 * module's (the route dispatches on guild_id).
 */
struct hs_dm_close {
    uint64_t channel_id, actor_id;
    json_t *channel; /* out: new reference, the channel as the actor saw it */
};
int hs_dm_close_fn(hs_txn *txn, void *arg, hs_error *err);

#endif
