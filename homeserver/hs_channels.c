#include "hs_channels.h"
#include "hs_accounts.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int step_done(hs_db *db, sqlite3_stmt *s, hs_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(db, err, what);
}

int hs_channel_get(hs_db *db, uint64_t channel_id, struct hs_channel *ch, hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT guild_id, type, parent_id, archived, locked, "
                                     "rate_limit_per_user FROM channels WHERE id = ? AND "
                                     "deleted = 0");
    hs_bind_id(s, 1, channel_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        ch->id = channel_id;
        ch->guild_id = hs_col_id(s, 0);
        ch->type = sqlite3_column_int(s, 1);
        ch->parent_id = hs_col_id(s, 2);
        ch->archived = sqlite3_column_int(s, 3);
        ch->locked = sqlite3_column_int(s, 4);
        ch->rate_limit_per_user = sqlite3_column_int(s, 5);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_CHANNEL, "Unknown Channel");
    return 0;
}

int hs_channel_access(hs_db *db, uint64_t channel_id, uint64_t user_id, struct hs_channel *ch,
                      uint64_t *perms, hs_error *err)
{
    int rc = hs_channel_get(db, channel_id, ch, err);
    if (rc == 0)
        rc = hs_perm_channel(db, channel_id, user_id, 0, perms, err);
    if (rc == 0 && !(*perms & HS_PERM_VIEW_CHANNEL))
        rc = hs_error_reason(err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");
    return rc;
}

#define CHANNEL_COLUMNS                                                                            \
    "id, guild_id, type, name, position, parent_id, topic, nsfw, rate_limit_per_user, "            \
    "last_message_id, owner_id, icon, archived, locked, invitable, auto_archive_duration, "        \
    "archive_timestamp, message_count, channel_flags"

static json_t *overwrites_json(hs_db *db, uint64_t channel_id)
{
    json_t *out = json_array();
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT target_id, type, allow, deny FROM overwrites WHERE "
                                     "channel_id = ? ORDER BY target_id");
    hs_bind_id(s, 1, channel_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        char allow[24], deny[24];
        snprintf(allow, sizeof(allow), "%" PRIu64, (uint64_t)sqlite3_column_int64(s, 2));
        snprintf(deny, sizeof(deny), "%" PRIu64, (uint64_t)sqlite3_column_int64(s, 3));
        json_array_append_new(
            out, json_pack("{s:o, s:i, s:s, s:s}", "id", hs_json_id(hs_col_id(s, 0)), "type",
                           sqlite3_column_int(s, 1), "allow", allow, "deny", deny));
    }
    sqlite3_reset(s);
    return out;
}

static json_t *recipients_json(hs_db *db, uint64_t channel_id)
{
    uint64_t ids[16];
    size_t n = 0;
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT user_id FROM recipients WHERE channel_id = ? ORDER BY user_id");
    hs_bind_id(s, 1, channel_id);
    while (n < HS_ARRAY_LEN(ids) && sqlite3_step(s) == SQLITE_ROW)
        ids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *u = hs_user_json(db, ids[i], 0);
        if (u)
            json_array_append_new(out, u);
    }
    return out;
}

static int64_t thread_member_count(hs_db *db, uint64_t thread_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM thread_members WHERE thread_id = ?");
    hs_bind_id(s, 1, thread_id);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

/* Builds the object from a CHANNEL_COLUMNS row. The row's strings are copied before any
 * other statement of this connection runs. */
static json_t *channel_json_row(sqlite3_stmt *s)
{
    uint64_t id = hs_col_id(s, 0), guild_id = hs_col_id(s, 1), parent = hs_col_id(s, 5);
    int type = sqlite3_column_int(s, 2);
    const char *name = hs_col_text(s, 3), *topic = hs_col_text(s, 6), *icon = hs_col_text(s, 11);
    json_t *c = json_pack("{s:o, s:i, s:i}", "id", hs_json_id(id), "type", type, "flags",
                          sqlite3_column_int(s, 18));
    HS_ASSERT(c);
    json_object_set_new(c, "last_message_id", hs_json_id_or_null(hs_col_id(s, 9)));
    if (guild_id) {
        json_object_set_new(c, "guild_id", hs_json_id(guild_id));
        json_object_set_new(c, "name", json_string(name ? name : ""));
        json_object_set_new(c, "parent_id", hs_json_id_or_null(parent));
    }
    if (type == HS_CHANNEL_TEXT || type == HS_CHANNEL_VOICE || type == HS_CHANNEL_CATEGORY)
        json_object_set_new(c, "position", json_integer(sqlite3_column_int(s, 4)));
    if (type == HS_CHANNEL_TEXT || type == HS_CHANNEL_VOICE || HS_CHANNEL_IS_THREAD(type)) {
        json_object_set_new(c, "rate_limit_per_user", json_integer(sqlite3_column_int(s, 8)));
    }
    if (type == HS_CHANNEL_TEXT || type == HS_CHANNEL_VOICE)
        json_object_set_new(c, "nsfw", json_boolean(sqlite3_column_int(s, 7)));
    if (type == HS_CHANNEL_TEXT)
        json_object_set_new(c, "topic", topic ? json_string(topic) : json_null());
    if (type == HS_CHANNEL_VOICE) {
        json_object_set_new(c, "bitrate", json_integer(64000));
        json_object_set_new(c, "user_limit", json_integer(0));
        json_object_set_new(c, "rtc_region", json_null());
    }
    if (HS_CHANNEL_IS_THREAD(type)) {
        json_object_set_new(c, "owner_id", hs_json_id_or_null(hs_col_id(s, 10)));
        json_object_set_new(c, "message_count", json_integer(sqlite3_column_int(s, 17)));
        json_object_set_new(c, "total_message_sent", json_integer(sqlite3_column_int(s, 17)));
        json_t *meta = json_pack(
            "{s:b, s:i, s:o, s:b}", "archived", sqlite3_column_int(s, 12), "auto_archive_duration",
            sqlite3_column_type(s, 15) == SQLITE_NULL ? 4320 : sqlite3_column_int(s, 15),
            "archive_timestamp",
            hs_json_time(sqlite3_column_type(s, 16) == SQLITE_NULL
                             ? hs_snowflake_unix_ms(id)
                             : (uint64_t)sqlite3_column_int64(s, 16)),
            "locked", sqlite3_column_int(s, 13));
        HS_ASSERT(meta);
        if (type == HS_CHANNEL_PRIVATE_THREAD)
            json_object_set_new(meta, "invitable", json_boolean(sqlite3_column_int(s, 14)));
        json_object_set_new(meta, "create_timestamp", hs_json_time(hs_snowflake_unix_ms(id)));
        json_object_set_new(c, "thread_metadata", meta);
    }
    if (type == HS_CHANNEL_GROUP_DM) {
        json_object_set_new(c, "name", name ? json_string(name) : json_null());
        json_object_set_new(c, "icon", icon ? json_string(icon) : json_null());
        json_object_set_new(c, "owner_id", hs_json_id_or_null(hs_col_id(s, 10)));
    }
    return c;
}

/* Adds what needs other queries (after the row's statement was reset). */
static void channel_json_finish(hs_db *db, json_t *c, uint64_t id, uint64_t guild_id, int type)
{
    if (guild_id && !HS_CHANNEL_IS_THREAD(type))
        json_object_set_new(c, "permission_overwrites", overwrites_json(db, id));
    if (HS_CHANNEL_IS_THREAD(type))
        json_object_set_new(c, "member_count", json_integer(thread_member_count(db, id)));
    if (!guild_id)
        json_object_set_new(c, "recipients", recipients_json(db, id));
}

json_t *hs_channel_json_any(hs_db *db, uint64_t channel_id, int include_deleted)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " CHANNEL_COLUMNS ", deleted FROM channels WHERE id = ?");
    hs_bind_id(s, 1, channel_id);
    json_t *c = NULL;
    uint64_t guild_id = 0;
    int type = 0;
    if (sqlite3_step(s) == SQLITE_ROW && (include_deleted || !sqlite3_column_int(s, 19))) {
        c = channel_json_row(s);
        guild_id = hs_col_id(s, 1);
        type = sqlite3_column_int(s, 2);
    }
    sqlite3_reset(s);
    if (c)
        channel_json_finish(db, c, channel_id, guild_id, type);
    return c;
}

json_t *hs_channel_json(hs_db *db, uint64_t channel_id)
{
    return hs_channel_json_any(db, channel_id, 0);
}

json_t *hs_channel_list(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    json_t *out = json_array();
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM channels WHERE guild_id = ? AND deleted = 0 "
                                     "AND type IN (0, 2, 4) ORDER BY position, id");
    hs_bind_id(s, 1, guild_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = hs_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = hs_col_id(s, 0);
    }
    sqlite3_reset(s);
    for (size_t i = 0; i < n; i++) {
        uint64_t perms;
        if (hs_perm_channel(db, ids[i], user_id, 0, &perms, NULL) == 0 &&
            (perms & HS_PERM_VIEW_CHANNEL)) {
            json_t *c = hs_channel_json(db, ids[i]);
            if (c)
                json_array_append_new(out, c);
        }
    }
    free(ids);
    return out;
}

/* Folds a text channel name as Discord does: lower case, spaces become '-'. */
char *hs_channel_fold_name(const char *name, int type)
{
    char *out = hs_xstrdup(name);
    if (type != HS_CHANNEL_TEXT)
        return out;
    for (char *p = out; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (*p == ' ')
            *p = '-';
    }
    return out;
}

int hs_channel_insert(hs_txn *txn, uint64_t id, uint64_t guild_id, int type, const char *name,
                      int position, uint64_t parent_id, const char *topic, int nsfw, int rate_limit,
                      hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO channels (id, guild_id, type, name, position, "
                                     "parent_id, topic, nsfw, rate_limit_per_user) VALUES "
                                     "(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, guild_id);
    sqlite3_bind_int(s, 3, type);
    hs_bind_text(s, 4, name);
    sqlite3_bind_int(s, 5, position);
    if (parent_id)
        hs_bind_id(s, 6, parent_id);
    hs_bind_text(s, 7, topic);
    sqlite3_bind_int(s, 8, nsfw);
    sqlite3_bind_int(s, 9, rate_limit);
    return step_done(db, s, err, "storing a channel");
}

int hs_channel_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_channel_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t perms;
    int rc = hs_perm_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_CHANNELS))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (op->type != HS_CHANNEL_TEXT && op->type != HS_CHANNEL_VOICE &&
        op->type != HS_CHANNEL_CATEGORY)
        return hs_error_form(err, "type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4}.");
    size_t len = hs_utf8_len(op->name, strlen(op->name));
    if (len < 1 || len > 100)
        return hs_error_form(err, "name", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 1 and 100 in length.");
    if (op->topic && hs_utf8_len(op->topic, strlen(op->topic)) > 1024)
        return hs_error_form(err, "topic", "BASE_TYPE_MAX_LENGTH",
                             "Must be 1024 or fewer in length.");
    if (op->rate_limit_per_user < 0 || op->rate_limit_per_user > 21600)
        return hs_error_form(err, "rate_limit_per_user", "NUMBER_TYPE_MAX",
                             "int value should be between 0 and 21600.");
    if (op->parent_id) {
        struct hs_channel parent;
        if (op->type == HS_CHANNEL_CATEGORY ||
            hs_channel_get(db, op->parent_id, &parent, NULL) < 0 ||
            parent.guild_id != op->guild_id || parent.type != HS_CHANNEL_CATEGORY)
            return hs_error_form(err, "parent_id", "CHANNEL_PARENT_INVALID",
                                 "Not a category of this guild.");
    }
    int position = op->position;
    if (position < 0) {
        sqlite3_stmt *s = hs_db_stmt(
            db, "SELECT coalesce(max(position) + 1, 0) FROM channels WHERE guild_id = ?");
        hs_bind_id(s, 1, op->guild_id);
        position = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
        sqlite3_reset(s);
    }
    char *name = hs_channel_fold_name(op->name, op->type);
    uint64_t id = hs_txn_new_id(txn);
    rc = hs_channel_insert(txn, id, op->guild_id, op->type, name, position, op->parent_id,
                           op->type == HS_CHANNEL_TEXT ? op->topic : NULL, op->nsfw,
                           op->type == HS_CHANNEL_CATEGORY ? 0 : op->rate_limit_per_user, err);
    free(name);
    if (rc < 0)
        return rc;
    op->channel = hs_channel_json(db, id);
    return hs_txn_event(txn, "CHANNEL_CREATE", op->guild_id, id, op->actor_id,
                        json_incref(op->channel), err);
}
