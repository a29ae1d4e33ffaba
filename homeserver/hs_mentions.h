/*
 * hs_mentions.h: who a message mentions (spec/rest-messages.md §2).
 *
 * Mentions are written in the content as Discord writes them: <@USER>, <@!USER> (the old
 * nickname form), <@&ROLE>, @everyone and @here. hs_mentions_scan finds them (a pure
 * function of the text); hs_mentions_resolve decides, against the database and the
 * author's permissions, which of them count, honouring allowed_mentions exactly as Discord
 * does. The result is what the message row stores (mentions, mention_roles,
 * mention_everyone) and what the gateway's MESSAGE_CONTENT rule looks at. Any thread, with
 * that thread's hs_db (the writer's, inside a write).
 */
#ifndef HS_MENTIONS_H
#define HS_MENTIONS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_channels.h"
#include "hs_store.h"

/* Distinct users (and, separately, roles) one message can mention; more are ignored, as
 * are the ids of allowed_mentions beyond it (Discord's limit on those lists). */
#define HS_MENTIONS_MAX 100

struct hs_mention_scan {
    uint64_t users[HS_MENTIONS_MAX]; /* in order of first appearance, distinct */
    size_t nusers;
    uint64_t roles[HS_MENTIONS_MAX];
    size_t nroles;
    int everyone; /* @everyone or @here appears */
};

/* Finds the mentions in content (NULL is empty). Ids of 0 or beyond 63 bits are not ids. */
void hs_mentions_scan(const char *content, struct hs_mention_scan *out);

/*
 * A message's allowed_mentions. When `given` is 0 the object was absent and everything in
 * the content counts (and a reply mentions the replied-to author). When given, a kind
 * counts only if `parse` names it or the id is listed; replied_user defaults to 0 there.
 */
struct hs_allowed_mentions {
    int given;
    int parse_users, parse_roles, parse_everyone;
    uint64_t users[HS_MENTIONS_MAX];
    size_t nusers;
    uint64_t roles[HS_MENTIONS_MAX];
    size_t nroles;
    int replied_user;
};

struct hs_mention_result {
    uint64_t users[HS_MENTIONS_MAX + 1]; /* + the replied-to author */
    size_t nusers;
    uint64_t roles[HS_MENTIONS_MAX];
    size_t nroles;
    int everyone;
};

/*
 * Resolves the mentions of content, written by an author holding author_perms in channel
 * ch. Users count when they exist and are members of the guild (recipients, for a DM);
 * roles when they are roles of the guild other than @everyone, and mentionable or the
 * author holds MENTION_EVERYONE; @everyone/@here when the author holds MENTION_EVERYONE.
 * allowed (NULL: absent) filters each kind. replied_user (0: none) is the author of the
 * message replied to, added when it is a member and allowed. Never fails.
 */
void hs_mentions_resolve(hs_db *db, const struct hs_channel *ch, uint64_t author_perms,
                         const char *content, const struct hs_allowed_mentions *allowed,
                         uint64_t replied_user, struct hs_mention_result *out);

/* Whether user_id is a member of ch's guild, or a recipient of the DM ch. */
int hs_mention_is_member(hs_db *db, const struct hs_channel *ch, uint64_t user_id);

/* A JSON array of id strings, as the message row stores it; returns new JSON. */
json_t *hs_ids_json(const uint64_t *ids, size_t n);

#endif
