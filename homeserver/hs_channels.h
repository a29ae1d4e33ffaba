/*
 * hs_channels.h: channels of every kind: guild text, voice and category channels, threads,
 * DMs and group DMs (spec/client-api.md "Channels"); their edits, deletion, positions and
 * permission overwrites, and the rules a post must pass (spec/rest-channels.md). Threads'
 * own operations are in hs_threads.h.
 *
 * Access to a channel is always decided by hs_channel_access (which asks hs_perm_channel).
 * Deleted channels are kept as rows marked deleted, so that the gateway can still decide
 * who may hear of the deletion; every read here skips them. Reads: any thread, with its
 * hs_db. Writes (*_fn): the writer thread.
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

/* Limits (spec/rest-channels.md §1). */
#define HS_CHANNEL_MAX_PER_GUILD 500 /* channels that are not threads (Discord's 30013) */
#define HS_CHANNEL_MAX_OVERWRITES 64 /* per channel: what hs_perm_channel loads */

/*
 * Write: a new channel; needs MANAGE_CHANNELS. The capi validated the input's types;
 * overwrites are validated here (shape, targets, and that a non-administrator only allows
 * or denies permissions it holds in the guild). At most HS_CHANNEL_MAX_PER_GUILD channels.
 */
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
    const char *reason; /* borrowed; the audit log reason, NULL for none */
    json_t *channel;    /* out: new reference */
};
int hs_channel_create_fn(hs_txn *txn, void *arg, hs_error *err);

/* Which fields of an hs_channel_update are given. */
enum {
    HS_CHUP_NAME = 1 << 0,
    HS_CHUP_TOPIC = 1 << 1, /* topic NULL clears it */
    HS_CHUP_NSFW = 1 << 2,
    HS_CHUP_RATE_LIMIT = 1 << 3,
    HS_CHUP_POSITION = 1 << 4,
    HS_CHUP_PARENT = 1 << 5, /* parent_id 0 removes the parent */
    HS_CHUP_OVERWRITES = 1 << 6,
    HS_CHUP_ARCHIVED = 1 << 7, /* threads */
    HS_CHUP_LOCKED = 1 << 8,
    HS_CHUP_AUTO_ARCHIVE = 1 << 9,
    HS_CHUP_INVITABLE = 1 << 10,
};

/*
 * Write: PATCH /channels/{id} (spec/rest-channels.md §2). Guild channels need
 * MANAGE_CHANNELS (and MANAGE_ROLES for overwrites, which replace the set); threads need
 * MANAGE_THREADS or, for name/archived/auto_archive_duration, to be the thread's owner.
 * Fields that do not apply to the channel's type are ignored. Records CHANNEL_UPDATE or
 * THREAD_UPDATE and an audit entry when something changed.
 */
struct hs_channel_update {
    uint64_t channel_id, actor_id;
    unsigned set; /* HS_CHUP_* */
    const char *name, *topic;
    int nsfw, rate_limit_per_user, position;
    uint64_t parent_id;
    json_t *overwrites; /* borrowed: an array of {id, type, allow, deny} */
    int archived, locked, auto_archive_duration, invitable;
    const char *reason; /* borrowed */
    json_t *channel;    /* out: new reference */
};
int hs_channel_update_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: DELETE /channels/{id}: marks the channel deleted (and its threads; a category's
 * children lose their parent). MANAGE_CHANNELS, MANAGE_THREADS for a thread. Records
 * CHANNEL_DELETE (THREAD_DELETE for a thread) and an audit entry.
 */
struct hs_channel_delete {
    uint64_t channel_id, actor_id;
    const char *reason; /* borrowed */
    json_t *channel;    /* out: new reference, the channel as it was */
};
int hs_channel_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: PATCH /guilds/{id}/channels: new positions (and parents) for channels of a
 * guild; MANAGE_CHANNELS. Records CHANNEL_UPDATE for each channel that changed. */
struct hs_channel_position {
    uint64_t id;
    int position;   /* -1: unchanged */
    int set_parent; /* parent_id was given */
    uint64_t parent_id;
};
struct hs_channel_positions {
    uint64_t guild_id, actor_id;
    const struct hs_channel_position *items; /* borrowed */
    size_t n;
    const char *reason; /* borrowed */
};
int hs_channel_positions_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: PUT /channels/{id}/permissions/{target} (type 0 role, 1 member) and DELETE (put
 * with remove set). MANAGE_ROLES in the channel; a non-administrator changes only bits it
 * holds there. Records CHANNEL_UPDATE and CHANNEL_OVERWRITE_CREATE/UPDATE/DELETE.
 */
struct hs_overwrite_put {
    uint64_t channel_id, target_id, actor_id;
    int type;
    uint64_t allow, deny;
    int remove;         /* DELETE: the overwrite must exist (HS_R_UNKNOWN_OVERWRITE) */
    const char *reason; /* borrowed */
};
int hs_overwrite_put_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * For hs_msg_create_fn, after its access and SEND_MESSAGES checks: the rules a post must
 * pass beyond permissions. In a thread: locked needs MANAGE_THREADS (HS_R_THREAD_LOCKED),
 * an archived thread is unarchived (THREAD_UPDATE), message_count counts the post. Slowmode:
 * a member without MANAGE_MESSAGES, MANAGE_CHANNELS, BYPASS_SLOWMODE (MANAGE_THREADS in a
 * thread) posts at most once per rate_limit_per_user seconds (HS_R_SLOWMODE, with the wait
 * in ms as decimal text in err->field).
 */
int hs_channel_check_post(hs_txn *txn, const struct hs_channel *ch, uint64_t perms,
                          uint64_t author_id, hs_error *err);

/* For core modules: the audit log changes between two channel objects for the given keys
 * (a key absent at the top level is looked up in thread_metadata). New JSON, or NULL when
 * nothing changed. */
json_t *hs_channel_changes(json_t *before, json_t *after, const char *const *keys);

/* For core modules: inserts a channel row (no checks, no event). */
int hs_channel_insert(hs_txn *txn, uint64_t id, uint64_t guild_id, int type, const char *name,
                      int position, uint64_t parent_id, const char *topic, int nsfw, int rate_limit,
                      hs_error *err);
/* Folds a text channel name as Discord does (lower case, spaces to '-'); new string. */
char *hs_channel_fold_name(const char *name, int type);

#endif
