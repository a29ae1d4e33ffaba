#include "hs_messages.h"
#include "hs_accounts.h"
#include "hs_channels.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_util.h"

#include <string.h>

#define MSG_COLUMNS                                                                                \
    "m.id, m.author_id, m.content, m.edited_at, m.type, m.flags, m.tts, u.username, "              \
    "u.global_name, u.bot"
#define MSG_FROM " FROM messages m JOIN users u ON u.id = m.author_id "

static json_t *msg_json_row(sqlite3_stmt *s, uint64_t channel_id)
{
    uint64_t id = hs_col_id(s, 0);
    const char *gn = hs_col_text(s, 8);
    json_t *author = json_pack(
        "{s:o, s:s, s:s, s:o, s:n, s:b, s:i, s:i}", "id", hs_json_id(hs_col_id(s, 1)), "username",
        hs_col_text(s, 7), "discriminator", "0", "global_name", gn ? json_string(gn) : json_null(),
        "avatar", "bot", sqlite3_column_int(s, 9), "flags", 0, "public_flags", 0);
    json_t *m = json_pack(
        "{s:o, s:o, s:o, s:s, s:o, s:o, s:b, s:b, s:[], s:[], s:[], s:[], s:b, s:i, s:i, s:[]}",
        "id", hs_json_id(id), "channel_id", hs_json_id(channel_id), "author", author, "content",
        hs_col_text(s, 2), "timestamp", hs_json_time(hs_snowflake_unix_ms(id)), "edited_timestamp",
        hs_json_time_or_null((uint64_t)sqlite3_column_int64(s, 3)), "tts", sqlite3_column_int(s, 6),
        "mention_everyone", 0, "mentions", "mention_roles", "attachments", "embeds", "pinned", 0,
        "type", sqlite3_column_int(s, 4), "flags", sqlite3_column_int(s, 5), "components");
    HS_ASSERT(m);
    return m;
}

static json_t *msg_load(hs_db *db, uint64_t channel_id, uint64_t message_id)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " MSG_COLUMNS MSG_FROM "WHERE m.channel_id = ? AND m.id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, message_id);
    json_t *m = sqlite3_step(s) == SQLITE_ROW ? msg_json_row(s, channel_id) : NULL;
    sqlite3_reset(s);
    return m;
}

int hs_msg_check_content(const char *content, int max_chars, hs_error *err)
{
    size_t bytes = content ? strlen(content) : 0;
    if (bytes == 0)
        return hs_error_reason(err, HS_EINVAL, HS_R_EMPTY_MESSAGE, "Cannot send an empty message");
    if (hs_utf8_len(content, bytes) > (size_t)max_chars) {
        hs_error_form(err, "content", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.",
                      max_chars);
        return HS_EINVAL;
    }
    return 0;
}

static int step_done(hs_db *db, sqlite3_stmt *s, hs_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(db, err, what);
}

int hs_msg_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_msg_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->author_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_SEND_MESSAGES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (ch.type == HS_CHANNEL_VOICE || ch.type == HS_CHANNEL_CATEGORY)
        return hs_error_reason(err, HS_EINVAL, HS_R_NON_TEXT_CHANNEL,
                               "Cannot send messages in a non-text channel");
    /* Slowmode and thread rules (hs_channels.c, spec/rest-channels.md §5). */
    rc = hs_channel_check_post(txn, &ch, perms, op->author_id, err);
    if (rc < 0)
        return rc;
    rc = hs_msg_check_content(op->content, op->max_chars, err);
    if (rc < 0)
        return rc;

    uint64_t id = hs_txn_new_id(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO messages (channel_id, id, author_id, content, "
                                     "tts) VALUES (?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, id);
    hs_bind_id(s, 3, op->author_id);
    sqlite3_bind_text(s, 4, op->content, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, op->tts ? 1 : 0);
    rc = step_done(db, s, err, "storing a message");
    if (rc < 0)
        return rc;
    s = hs_db_stmt(db, "UPDATE channels SET last_message_id = ? WHERE id = ?");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, op->channel_id);
    rc = step_done(db, s, err, "updating a channel");
    if (rc < 0)
        return rc;

    op->message = msg_load(db, op->channel_id, id);
    HS_ASSERT(op->message);
    if (op->nonce)
        json_object_set(op->message, "nonce", op->nonce);
    json_t *ev = json_deep_copy(op->message);
    if (ch.guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch.guild_id));
    return hs_txn_event(txn, "MESSAGE_CREATE", ch.guild_id, op->channel_id, op->author_id, ev, err);
}

int hs_msg_edit_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_msg_edit *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT author_id FROM messages WHERE channel_id = ? AND id = ?");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    uint64_t author = found ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    if (author != op->actor_id)
        return hs_error_reason(err, HS_EPERM, HS_R_NOT_AUTHOR,
                               "Cannot edit a message authored by another user");
    rc = hs_msg_check_content(op->content, op->max_chars, err);
    if (rc < 0)
        return rc;
    s = hs_db_stmt(db, "UPDATE messages SET content = ?, edited_at = ? WHERE channel_id = ? AND "
                       "id = ?");
    sqlite3_bind_text(s, 1, op->content, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)hs_txn_now_ms(txn));
    hs_bind_id(s, 3, op->channel_id);
    hs_bind_id(s, 4, op->message_id);
    rc = step_done(db, s, err, "editing a message");
    if (rc < 0)
        return rc;
    op->message = msg_load(db, op->channel_id, op->message_id);
    json_t *ev = json_deep_copy(op->message);
    if (ch.guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch.guild_id));
    return hs_txn_event(txn, "MESSAGE_UPDATE", ch.guild_id, op->channel_id, op->actor_id, ev, err);
}

int hs_msg_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_msg_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT author_id FROM messages WHERE channel_id = ? AND id = ?");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    uint64_t author = found ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    if (author != op->actor_id && !(perms & HS_PERM_MANAGE_MESSAGES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    s = hs_db_stmt(db, "DELETE FROM messages WHERE channel_id = ? AND id = ?");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    rc = step_done(db, s, err, "deleting a message");
    if (rc < 0)
        return rc;
    json_t *ev = json_pack("{s:o, s:o}", "id", hs_json_id(op->message_id), "channel_id",
                           hs_json_id(op->channel_id));
    if (ch.guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch.guild_id));
    return hs_txn_event(txn, "MESSAGE_DELETE", ch.guild_id, op->channel_id, op->actor_id, ev, err);
}

int hs_msg_get(hs_db *db, uint64_t channel_id, uint64_t message_id, json_t **out, hs_error *err)
{
    *out = msg_load(db, channel_id, message_id);
    if (!*out)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    return 0;
}

/* Appends up to limit rows of s (already bound) to arr. Returns the number added. */
static int collect(sqlite3_stmt *s, uint64_t channel_id, json_t *arr)
{
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_array_append_new(arr, msg_json_row(s, channel_id));
        n++;
    }
    sqlite3_reset(s);
    return n;
}

static void reverse(json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(arr, i));
        json_t *b = json_incref(json_array_get(arr, n - 1 - i));
        json_array_set_new(arr, i, b);
        json_array_set_new(arr, n - 1 - i, a);
    }
}

json_t *hs_msg_history(hs_db *db, uint64_t channel_id, const struct hs_history_query *q)
{
    static const char older[] = "SELECT " MSG_COLUMNS MSG_FROM
                                "WHERE m.channel_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?";
    static const char newer[] =
        "SELECT " MSG_COLUMNS MSG_FROM "WHERE m.channel_id = ? AND m.id >= ? ORDER BY m.id LIMIT ?";
    json_t *out = json_array();
    sqlite3_stmt *s;
    /* Ids are stored as SQLite integers: cursors beyond 2^63 - 1 mean "no bound". */
    uint64_t before = q->before > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : q->before;
    uint64_t around = q->around > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : q->around;

    if (around) {
        /* limit/2 older ones, then the message itself and newer ones to fill the page. */
        json_t *earlier = json_array();
        s = hs_db_stmt(db, older);
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, around);
        sqlite3_bind_int(s, 3, q->limit / 2);
        int got = collect(s, channel_id, earlier);
        s = hs_db_stmt(db, newer);
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, around);
        sqlite3_bind_int(s, 3, q->limit - got);
        collect(s, channel_id, out);
        reverse(out);
        json_array_extend(out, earlier);
        json_decref(earlier);
    } else if (q->after || q->after_given) {
        if (q->after >= (uint64_t)INT64_MAX)
            return out;
        s = hs_db_stmt(db, newer);
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, q->after + 1);
        sqlite3_bind_int(s, 3, q->limit);
        collect(s, channel_id, out);
        reverse(out);
    } else {
        s = hs_db_stmt(db, older);
        hs_bind_id(s, 1, channel_id);
        sqlite3_bind_int64(s, 2, before ? (sqlite3_int64)before : INT64_MAX);
        sqlite3_bind_int(s, 3, q->limit);
        collect(s, channel_id, out);
    }
    return out;
}
