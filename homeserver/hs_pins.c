/*
 * Pins (spec/rest-messages.md §5).
 *
 * DESIGN: a pin is the message row's pinned_at, indexed per channel (messages_pinned), so
 * listing pins is one index range and the 250 limit one count over it. pinned_at is made
 * unique within a channel (one millisecond after the channel's latest pin when two pins
 * fall in the same millisecond, as a group commit makes likely), so that paging pins by
 * `before` never skips or repeats one.
 */
#include "hs_audit.h"
#include "hs_channels.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <stdlib.h>

/* The latest pinned_at in a channel, 0 when nothing is pinned. */
static uint64_t last_pin(hs_db *db, uint64_t channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT max(pinned_at) FROM messages WHERE channel_id = ? "
                                     "AND pinned_at IS NOT NULL");
    hs_bind_id(s, 1, channel_id);
    uint64_t t = sqlite3_step(s) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return t;
}

static int64_t pin_count(hs_db *db, uint64_t channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM messages WHERE channel_id = ? AND "
                                     "pinned_at IS NOT NULL");
    hs_bind_id(s, 1, channel_id);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

/* Posts "X pinned a message" (type 6, empty content, referencing the pinned message). */
static int post_pin_notice(hs_txn *txn, const struct hs_channel *ch, uint64_t actor_id,
                           uint64_t message_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t id = hs_txn_new_id(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO messages (channel_id, id, author_id, content, "
                                     "type, ref_message_id, ref_channel_id) VALUES (?, ?, ?, '', "
                                     "?, ?, ?)");
    hs_bind_id(s, 1, ch->id);
    hs_bind_id(s, 2, id);
    hs_bind_id(s, 3, actor_id);
    sqlite3_bind_int(s, 4, HS_MSG_CHANNEL_PINNED);
    hs_bind_id(s, 5, message_id);
    hs_bind_id(s, 6, ch->id);
    int rc = hs_db_step_done(db, s, err, "posting a pin notice");
    if (rc < 0)
        return rc;
    s = hs_db_stmt(db, "UPDATE channels SET last_message_id = ? WHERE id = ?");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, ch->id);
    rc = hs_db_step_done(db, s, err, "updating a channel");
    if (rc < 0)
        return rc;
    json_t *ev = hs_msg_json(db, ch->id, id, 0);
    HS_ASSERT(ev);
    if (ch->guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch->guild_id));
    return hs_txn_event(txn, "MESSAGE_CREATE", ch->guild_id, ch->id, actor_id, ev, err);
}

int hs_pin_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_pin *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    op->changed = 0;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & (HS_PERM_PIN_MESSAGES | HS_PERM_MANAGE_MESSAGES)))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT author_id, pinned_at, type FROM messages WHERE "
                                     "channel_id = ? AND id = ?");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    uint64_t author = found ? hs_col_id(s, 0) : 0;
    int pinned = found && sqlite3_column_type(s, 1) != SQLITE_NULL;
    int type = found ? sqlite3_column_int(s, 2) : 0;
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    if (type == HS_MSG_CHANNEL_PINNED && op->pin)
        return hs_error_reason(err, HS_EINVAL, HS_R_SYSTEM_MESSAGE,
                               "Cannot execute action on a system message");
    if (pinned == op->pin)
        return 0;
    if (op->pin && pin_count(db, op->channel_id) >= HS_MSG_MAX_PINS)
        return hs_error_reason(err, HS_ELIMIT, HS_R_MAX_PINS, "Maximum number of pins reached");

    uint64_t at = 0;
    if (op->pin) {
        uint64_t last = last_pin(db, op->channel_id);
        at = hs_txn_now_ms(txn);
        if (at <= last)
            at = last + 1;
    }
    s = hs_db_stmt(db, "UPDATE messages SET pinned_at = ? WHERE channel_id = ? AND id = ?");
    if (at)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)at);
    hs_bind_id(s, 2, op->channel_id);
    hs_bind_id(s, 3, op->message_id);
    rc = hs_db_step_done(db, s, err, "pinning a message");
    if (rc < 0)
        return rc;
    op->changed = 1;

    /* The message itself changed (pinned), the channel's pins changed, and a pin says so in
     * the channel: the three events Discord sends. */
    json_t *msg = hs_msg_json(db, op->channel_id, op->message_id, 0);
    HS_ASSERT(msg);
    if (ch.guild_id)
        json_object_set_new(msg, "guild_id", hs_json_id(ch.guild_id));
    rc = hs_txn_event(txn, "MESSAGE_UPDATE", ch.guild_id, op->channel_id, op->actor_id, msg, err);
    if (rc < 0)
        return rc;
    json_t *pins =
        json_pack("{s:o, s:o}", "channel_id", hs_json_id(op->channel_id), "last_pin_timestamp",
                  hs_json_time_or_null(last_pin(db, op->channel_id)));
    if (ch.guild_id)
        json_object_set_new(pins, "guild_id", hs_json_id(ch.guild_id));
    rc = hs_txn_event(txn, "CHANNEL_PINS_UPDATE", ch.guild_id, op->channel_id, op->actor_id, pins,
                      err);
    if (rc < 0)
        return rc;
    if (ch.guild_id) {
        json_t *options = json_pack("{s:o, s:o}", "channel_id", hs_json_id(op->channel_id),
                                    "message_id", hs_json_id(op->message_id));
        rc = hs_audit_record(txn, ch.guild_id, op->actor_id,
                             op->pin ? HS_AUDIT_MESSAGE_PIN : HS_AUDIT_MESSAGE_UNPIN, author, NULL,
                             options, op->reason, err);
        if (rc < 0)
            return rc;
    }
    return op->pin ? post_pin_notice(txn, &ch, op->actor_id, op->message_id, err) : 0;
}

json_t *hs_pins_list(hs_db *db, uint64_t channel_id, uint64_t viewer_id, uint64_t before_ms,
                     int limit, int *has_more)
{
    uint64_t ids[HS_MSG_MAX_PINS + 1];
    uint64_t at[HS_MSG_MAX_PINS + 1];
    int n = 0;
    if (limit < 1)
        limit = 1;
    if (limit > HS_MSG_MAX_PINS)
        limit = HS_MSG_MAX_PINS;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id, pinned_at FROM messages WHERE channel_id = ? AND "
                                     "pinned_at IS NOT NULL AND pinned_at < ? ORDER BY "
                                     "pinned_at DESC LIMIT ?");
    hs_bind_id(s, 1, channel_id);
    sqlite3_bind_int64(s, 2,
                       before_ms && before_ms < INT64_MAX ? (sqlite3_int64)before_ms : INT64_MAX);
    sqlite3_bind_int(s, 3, limit + 1);
    while (n <= limit && sqlite3_step(s) == SQLITE_ROW) {
        ids[n] = hs_col_id(s, 0);
        at[n] = (uint64_t)sqlite3_column_int64(s, 1);
        n++;
    }
    sqlite3_reset(s);
    *has_more = n > limit;
    if (n > limit)
        n = limit;
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        json_t *m = hs_msg_json(db, channel_id, ids[i], viewer_id);
        if (m)
            json_array_append_new(
                items, json_pack("{s:o, s:o}", "pinned_at", hs_json_time(at[i]), "message", m));
    }
    return items;
}
