/*
 * hs_channels.h: channels of every kind: guild text, voice and category channels, threads,
 * DMs and group DMs (spec/client-api.md "Channels").
 *
 * Access to a channel is always decided by hs_channel_access (which asks hs_perm_channel).
 * Deleted channels are kept as rows marked deleted, so that the gateway can still decide
 * who may hear of the deletion; every read here skips them.
 */
#ifndef HS_CHANNELS_H
#define HS_CHANNELS_H

#include <jansson.h>
#include <stdint.h>

#include "hs_core.h"

enum hs_channel_type {
    HS_CHANNEL_TEXT = 0,
    HS_CHANNEL_DM = 1,
    HS_CHANNEL_VOICE = 2,
    HS_CHANNEL_GROUP_DM = 3,
    HS_CHANNEL_CATEGORY = 4,
    HS_CHANNEL_ANNOUNCEMENT_THREAD = 10,
    HS_CHANNEL_PUBLIC_THREAD = 11,
    HS_CHANNEL_PRIVATE_THREAD = 12,
};

#define HS_CHANNEL_IS_THREAD(t) ((t) == 10 || (t) == 11 || (t) == 12)

struct hs_channel {
    uint64_t id, guild_id, parent_id; /* guild_id 0 for DMs */
    int type;
    int archived, locked; /* threads */
    int rate_limit_per_user;
};

/* Reads a (not deleted) channel row; HS_ENOTFOUND/HS_R_UNKNOWN_CHANNEL when absent. */
int hs_channel_get(hs_db *db, uint64_t channel_id, struct hs_channel *ch, hs_error *err);

/*
 * Looks a channel up and checks that user_id may view it. Fills *ch and *perms (the user's
 * permissions in the channel). Errors: HS_ENOTFOUND/HS_R_UNKNOWN_CHANNEL,
 * HS_EPERM/HS_R_MISSING_ACCESS (not a member or recipient, or no VIEW_CHANNEL).
 */
int hs_channel_access(hs_db *db, uint64_t channel_id, uint64_t user_id, struct hs_channel *ch,
                      uint64_t *perms, hs_error *err);

/*
 * The channel object (spec/client-api.md): guild channels with permission_overwrites,
 * threads with thread_metadata, member_count and message_count, DMs with recipients.
 * NULL when unknown. include_deleted returns deleted rows too (for CHANNEL_DELETE).
 */
json_t *hs_channel_json(hs_db *db, uint64_t channel_id);
json_t *hs_channel_json_any(hs_db *db, uint64_t channel_id, int include_deleted);
/* The channels (not threads) of a guild that user_id may view, by position then id. */
json_t *hs_channel_list(hs_db *db, uint64_t guild_id, uint64_t user_id);

/* Write: a new channel; needs MANAGE_CHANNELS. The capi validated the input's types. */
struct hs_channel_create {
    uint64_t guild_id, actor_id;
    const char *name;
    const char *topic; /* NULL: none */
    int type;
    int position; /* -1: after the last */
    int nsfw;
    int rate_limit_per_user;
    uint64_t parent_id; /* 0: none */
    json_t *overwrites; /* borrowed; NULL or an array of {id, type, allow, deny} */
    json_t *channel;    /* out: new reference */
};
int hs_channel_create_fn(hs_txn *txn, void *arg, hs_error *err);

/* For core modules: inserts a channel row (no checks, no event). */
int hs_channel_insert(hs_txn *txn, uint64_t id, uint64_t guild_id, int type, const char *name,
                      int position, uint64_t parent_id, const char *topic, int nsfw, int rate_limit,
                      hs_error *err);
/* Folds a text channel name as Discord does (lower case, spaces to '-'); new string. */
char *hs_channel_fold_name(const char *name, int type);

#endif
