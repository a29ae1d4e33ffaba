/*
 * DESIGN: DMs reuse the channel machinery: a channels row without a guild, its recipients
 * in `recipients`, access through hs_channel_access (HS_PERM_DM for recipients), so the
 * message, history and reaction code needs nothing DM-specific. What is DM-specific lives
 * here: who may open one, the one-DM-per-pair rule (a unique index on dm_key makes it hold
 * even against a racing writer), group DM membership and ownership, and closing.
 *
 * Closing a DM must hide it for one recipient and leave it whole for the other, and must
 * keep delivering messages to both (Discord reopens a closed DM when a message arrives).
 * So the closer stays a recipient and their row gets closed_id, an id drawn at close time:
 * a message id is always above it if the message came later, so "closed_id IS NULL OR
 * last_message_id > closed_id" is the open condition, with no write on the message path.
 */
#include "hs_dms.h"
#include "hs_accounts.h"
#include "hs_channels.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dm_key(uint64_t a, uint64_t b, char out[48])
{
    snprintf(out, 48, "%" PRIu64 ":%" PRIu64, a < b ? a : b, a < b ? b : a);
}

/* The existing DM of a pair, 0 when none. */
static uint64_t dm_of_pair(hs_db *db, uint64_t a, uint64_t b)
{
    char key[48];
    dm_key(a, b, key);
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM channels WHERE dm_key = ?");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    uint64_t id = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return id;
}

/* 1 bot, 0 user; HS_R_UNKNOWN_USER when the user does not exist. */
static int user_kind(hs_db *db, uint64_t user_id, int *bot, hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT bot FROM users WHERE id = ?");
    hs_bind_id(s, 1, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found)
        *bot = sqlite3_column_int(s, 0) != 0;
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_USER, "Unknown User");
    return 0;
}

int hs_dm_allowed(hs_db *db, uint64_t a, uint64_t b)
{
    if (dm_of_pair(db, a, b))
        return 1;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM members x JOIN members y ON y.guild_id = "
                                     "x.guild_id AND y.user_id = ?2 WHERE x.user_id = ?1 LIMIT 1");
    hs_bind_id(s, 1, a);
    hs_bind_id(s, 2, b);
    int shared = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return shared;
}

void hs_dm_view_for(json_t *channel, uint64_t viewer_id)
{
    json_t *recipients = json_object_get(channel, "recipients");
    size_t i = 0;
    while (i < json_array_size(recipients)) {
        uint64_t id = 0;
        json_t *u = json_array_get(recipients, i);
        if (hs_parse_u64(json_string_value(json_object_get(u, "id")), &id) == 0 && id == viewer_id)
            json_array_remove(recipients, i);
        else
            i++;
    }
}

json_t *hs_dm_channel_json(hs_db *db, uint64_t channel_id, uint64_t viewer_id)
{
    json_t *c = hs_channel_json_any(db, channel_id, 1);
    hs_dm_view_for(c, viewer_id);
    return c;
}

json_t *hs_dm_list(hs_db *db, uint64_t user_id)
{
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT c.id FROM recipients r JOIN channels c ON c.id = r.channel_id AND c.deleted = "
            "0 WHERE r.user_id = ? AND (r.closed_id IS NULL OR coalesce(c.last_message_id, 0) > "
            "r.closed_id) ORDER BY coalesce(c.last_message_id, c.id) DESC, c.id DESC");
    hs_bind_id(s, 1, user_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = hs_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = hs_col_id(s, 0);
    }
    sqlite3_reset(s);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = hs_dm_channel_json(db, ids[i], user_id);
        if (c)
            json_array_append_new(out, c);
    }
    free(ids);
    return out;
}

static int insert_dm_channel(hs_txn *txn, uint64_t id, int type, const char *key, uint64_t owner,
                             const char *name, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO channels (id, guild_id, type, name, dm_key, "
                                     "owner_id) VALUES (?, NULL, ?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    sqlite3_bind_int(s, 2, type);
    hs_bind_text(s, 3, name);
    hs_bind_text(s, 4, key);
    if (owner)
        hs_bind_id(s, 5, owner);
    return hs_db_step_done(db, s, err, "storing a DM channel");
}

static int insert_recipient(hs_txn *txn, uint64_t channel_id, uint64_t user_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO recipients (channel_id, user_id) VALUES (?, ?)");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, user_id);
    return hs_db_step_done(db, s, err, "storing a DM recipient");
}

/* CHANNEL_CREATE for a new DM. Its `recipients` lists everyone; the gateway takes each
 * receiver out of its own copy (capi_gw_events.c), as hs_dm_channel_json does. */
static int created_event(hs_txn *txn, uint64_t channel_id, uint64_t actor_id, hs_error *err)
{
    json_t *c = hs_channel_json_any(hs_txn_db(txn), channel_id, 1);
    HS_ASSERT(c);
    return hs_txn_event(txn, "CHANNEL_CREATE", 0, channel_id, actor_id, c, err);
}

int hs_dm_open_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_dm_open *op = arg;
    hs_db *db = hs_txn_db(txn);
    int actor_bot = 0, other_bot = 0;
    int rc = user_kind(db, op->recipient_id, &other_bot, err);
    if (rc == 0)
        rc = user_kind(db, op->actor_id, &actor_bot, err);
    if (rc < 0)
        return rc;
    if (op->recipient_id == op->actor_id)
        return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_RECIPIENT, "Invalid Recipient(s)");

    uint64_t id = dm_of_pair(db, op->actor_id, op->recipient_id);
    if (id) {
        /* Opening it again shows it again to the actor; the other side is not touched. */
        sqlite3_stmt *s = hs_db_stmt(db, "UPDATE recipients SET closed_id = NULL WHERE "
                                         "channel_id = ? AND user_id = ?");
        hs_bind_id(s, 1, id);
        hs_bind_id(s, 2, op->actor_id);
        rc = hs_db_step_done(db, s, err, "reopening a DM");
        if (rc < 0)
            return rc;
        op->channel = hs_dm_channel_json(db, id, op->actor_id);
        op->created = 0;
        return 0;
    }
    if ((actor_bot && other_bot) || !hs_dm_allowed(db, op->actor_id, op->recipient_id))
        return hs_error_reason(err, HS_EPERM, HS_R_CANNOT_DM, "Cannot send messages to this user");

    char key[48];
    dm_key(op->actor_id, op->recipient_id, key);
    id = hs_txn_new_id(txn);
    rc = insert_dm_channel(txn, id, HS_CHANNEL_DM, key, 0, NULL, err);
    if (rc == 0)
        rc = insert_recipient(txn, id, op->actor_id, err);
    if (rc == 0)
        rc = insert_recipient(txn, id, op->recipient_id, err);
    if (rc == 0)
        rc = created_event(txn, id, op->actor_id, err);
    if (rc < 0)
        return rc;
    op->channel = hs_dm_channel_json(db, id, op->actor_id);
    op->created = 1;
    return 0;
}

/* Checks that the actor may put user_id in a group DM. */
static int check_group_recipient(hs_db *db, uint64_t actor_id, uint64_t user_id, hs_error *err)
{
    int bot = 0;
    int rc = user_kind(db, user_id, &bot, err);
    if (rc < 0)
        return rc;
    if (bot)
        return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_RECIPIENT, "Invalid Recipient(s)");
    if (!hs_dm_allowed(db, actor_id, user_id))
        return hs_error_reason(err, HS_EPERM, HS_R_CANNOT_DM, "Cannot send messages to this user");
    return 0;
}

int hs_group_dm_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_group_dm_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    /* The distinct others, in the order given. */
    uint64_t others[HS_GROUP_DM_MAX_RECIPIENTS];
    size_t n = 0;
    for (size_t i = 0; i < op->nrecipients; i++) {
        uint64_t id = op->recipients[i];
        int seen = id == op->actor_id;
        for (size_t j = 0; j < n && !seen; j++)
            seen = others[j] == id;
        if (seen)
            continue;
        if (n + 1 >= HS_GROUP_DM_MAX_RECIPIENTS)
            return hs_error_reason(err, HS_ELIMIT, HS_R_MAX_RECIPIENTS,
                                   "Maximum number of group DM recipients reached (10)");
        others[n++] = id;
    }
    if (n == 0)
        return hs_error_form(err, "recipients", "BASE_TYPE_MIN_LENGTH",
                             "Must be 1 or more in length.");
    const char *name = op->name && *op->name ? op->name : NULL;
    if (name && hs_utf8_len(name, strlen(name)) > HS_GROUP_DM_NAME_MAX)
        return hs_error_form(err, "name", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.",
                             HS_GROUP_DM_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        int rc = check_group_recipient(db, op->actor_id, others[i], err);
        if (rc < 0)
            return rc;
    }
    uint64_t id = hs_txn_new_id(txn);
    int rc = insert_dm_channel(txn, id, HS_CHANNEL_GROUP_DM, NULL, op->actor_id, name, err);
    if (rc == 0)
        rc = insert_recipient(txn, id, op->actor_id, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = insert_recipient(txn, id, others[i], err);
    if (rc == 0)
        rc = created_event(txn, id, op->actor_id, err);
    if (rc < 0)
        return rc;
    op->channel = hs_dm_channel_json(db, id, op->actor_id);
    return 0;
}

static int is_recipient(hs_db *db, uint64_t channel_id, uint64_t user_id)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT 1 FROM recipients WHERE channel_id = ? AND user_id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, user_id);
    int yes = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return yes;
}

static int64_t recipient_count(hs_db *db, uint64_t channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM recipients WHERE channel_id = ?");
    hs_bind_id(s, 1, channel_id);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

static uint64_t channel_owner(hs_db *db, uint64_t channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT owner_id FROM channels WHERE id = ?");
    hs_bind_id(s, 1, channel_id);
    uint64_t owner = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return owner;
}

static int recipient_event(hs_txn *txn, const char *type, uint64_t channel_id, uint64_t user_id,
                           uint64_t actor_id, hs_error *err)
{
    json_t *u = hs_user_json(hs_txn_db(txn), user_id, 0);
    HS_ASSERT(u);
    json_t *data = json_pack("{s:o, s:o}", "channel_id", hs_json_id(channel_id), "user", u);
    return hs_txn_event(txn, type, 0, channel_id, actor_id, data, err);
}

/* Looks the channel up for a recipient operation: the actor must be a recipient of a
 * group DM. */
static int group_dm_access(hs_db *db, uint64_t channel_id, uint64_t actor_id, hs_error *err)
{
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, channel_id, actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (ch.type != HS_CHANNEL_GROUP_DM)
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    return 0;
}

int hs_dm_recipient_add_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_dm_recipient *op = arg;
    hs_db *db = hs_txn_db(txn);
    int rc = group_dm_access(db, op->channel_id, op->actor_id, err);
    if (rc < 0)
        return rc;
    if (is_recipient(db, op->channel_id, op->user_id)) {
        op->changed = 0;
        return 0;
    }
    rc = check_group_recipient(db, op->actor_id, op->user_id, err);
    if (rc < 0)
        return rc;
    if (recipient_count(db, op->channel_id) >= HS_GROUP_DM_MAX_RECIPIENTS)
        return hs_error_reason(err, HS_ELIMIT, HS_R_MAX_RECIPIENTS,
                               "Maximum number of group DM recipients reached (10)");
    rc = insert_recipient(txn, op->channel_id, op->user_id, err);
    if (rc == 0)
        rc = recipient_event(txn, "CHANNEL_RECIPIENT_ADD", op->channel_id, op->user_id,
                             op->actor_id, err);
    op->changed = rc == 0;
    return rc;
}

/* Takes user_id out of a group DM (the checks are done): the event, then a new owner or,
 * with nobody left, the channel's end. */
static int leave_group(hs_txn *txn, uint64_t channel_id, uint64_t user_id, uint64_t actor_id,
                       hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t owner = channel_owner(db, channel_id);
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM recipients WHERE channel_id = ? AND user_id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, user_id);
    int rc = hs_db_step_done(db, s, err, "removing a DM recipient");
    if (rc == 0)
        rc = recipient_event(txn, "CHANNEL_RECIPIENT_REMOVE", channel_id, user_id, actor_id, err);
    if (rc < 0 || owner != user_id)
        return rc;

    s = hs_db_stmt(db, "SELECT min(user_id) FROM recipients WHERE channel_id = ?");
    hs_bind_id(s, 1, channel_id);
    uint64_t heir = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    if (!heir) {
        /* Nobody is left to see it: the group DM ends. */
        s = hs_db_stmt(db, "UPDATE channels SET deleted = 1 WHERE id = ?");
        hs_bind_id(s, 1, channel_id);
        return hs_db_step_done(db, s, err, "ending a group DM");
    }
    s = hs_db_stmt(db, "UPDATE channels SET owner_id = ? WHERE id = ?");
    hs_bind_id(s, 1, heir);
    hs_bind_id(s, 2, channel_id);
    rc = hs_db_step_done(db, s, err, "handing a group DM over");
    if (rc < 0)
        return rc;
    json_t *c = hs_channel_json(db, channel_id);
    HS_ASSERT(c);
    return hs_txn_event(txn, "CHANNEL_UPDATE", 0, channel_id, actor_id, c, err);
}

int hs_dm_recipient_remove_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_dm_recipient *op = arg;
    hs_db *db = hs_txn_db(txn);
    int rc = group_dm_access(db, op->channel_id, op->actor_id, err);
    if (rc < 0)
        return rc;
    if (!is_recipient(db, op->channel_id, op->user_id))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_USER, "Unknown User");
    if (op->user_id != op->actor_id && channel_owner(db, op->channel_id) != op->actor_id)
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    rc = leave_group(txn, op->channel_id, op->user_id, op->actor_id, err);
    op->changed = rc == 0;
    return rc;
}

int hs_dm_close_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_dm_close *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (ch.type != HS_CHANNEL_DM && ch.type != HS_CHANNEL_GROUP_DM)
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    op->channel = hs_dm_channel_json(db, op->channel_id, op->actor_id);
    if (ch.type == HS_CHANNEL_GROUP_DM)
        return leave_group(txn, op->channel_id, op->actor_id, op->actor_id, err);
    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE recipients SET closed_id = ? WHERE channel_id = ? "
                                     "AND user_id = ?");
    hs_bind_id(s, 1, hs_txn_new_id(txn));
    hs_bind_id(s, 2, op->channel_id);
    hs_bind_id(s, 3, op->actor_id);
    return hs_db_step_done(db, s, err, "closing a DM");
}

uint64_t *hs_dm_recipient_ids(hs_db *db, uint64_t channel_id, size_t *n)
{
    uint64_t *ids = NULL;
    size_t cap = 0;
    *n = 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT user_id FROM recipients WHERE channel_id = ?");
    hs_bind_id(s, 1, channel_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            ids = hs_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[(*n)++] = hs_col_id(s, 0);
    }
    sqlite3_reset(s);
    return ids;
}
