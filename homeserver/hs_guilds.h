/*
 * hs_guilds.h: guilds, their roles, channels and members.
 *
 * Object shapes are those of spec/client-api.md (Discord's). Reads take the calling
 * thread's hs_db; writes are hs_write_fn functions for the writer thread. Every write
 * records its event (GUILD_CREATE, CHANNEL_CREATE, GUILD_MEMBER_ADD, GUILD_ROLE_CREATE...)
 * in its transaction.
 */
#ifndef HS_GUILDS_H
#define HS_GUILDS_H

#include <jansson.h>
#include <stdint.h>

#include "hs_channels.h"
#include "hs_core.h"

/* Write: a new guild owned by owner_id, with @everyone and a "general" text channel. */
struct hs_guild_create {
    uint64_t owner_id;
    const char *name;
    json_t *guild; /* out: new reference, the full guild object */
};
int hs_guild_create_fn(hs_txn *txn, void *arg, hs_error *err);

/* The guild object with its roles; with_counts adds approximate counts. NULL if unknown. */
json_t *hs_guild_json(hs_db *db, uint64_t guild_id, int with_counts);

/* The partial guilds user_id is a member of, ascending by id, with before/after (0: none)
 * and limit. */
json_t *hs_guild_list_for_user(hs_db *db, uint64_t user_id, uint64_t before, uint64_t after,
                               int limit);

/* Write: adds an application's bot to a guild (OAuth2 "bot" scope). The actor needs
 * MANAGE_GUILD; the application must be public or the actor's. permissions != 0 gives the
 * bot a managed role with them. */
struct hs_bot_authorize {
    uint64_t app_id, actor_id, guild_id;
    uint64_t permissions;
    int added; /* out: 0 when the bot was already a member */
};
int hs_bot_authorize_fn(hs_txn *txn, void *arg, hs_error *err);

/* The member object of user_id in guild_id, NULL if not a member. */
json_t *hs_member_json(hs_db *db, uint64_t guild_id, uint64_t user_id);
/* Members of a guild with user id > after, ascending, at most limit. */
json_t *hs_member_list(hs_db *db, uint64_t guild_id, uint64_t after, int limit);
int64_t hs_member_count(hs_db *db, uint64_t guild_id);
/* Members whose username or nickname starts with prefix (case-insensitive, ASCII),
 * ascending by user id, at most limit. */
json_t *hs_member_search(hs_db *db, uint64_t guild_id, const char *prefix, int limit);
/* The ids of the guilds user_id is a member of, ascending; *n gets the count. Returns new
 * memory (free with free()), NULL when there are none. */
uint64_t *hs_guild_ids_for_user(hs_db *db, uint64_t user_id, size_t *n);

#endif
