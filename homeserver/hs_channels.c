/*
 * Channels: reads, creation, edits, deletion, positions and permission overwrites
 * (spec/client-api.md "Guilds and channels", spec/rest-channels.md §1-§4). The thread halves
 * of edits, deletions and posts live in hs_threads.c.
 *
 * DESIGN: overwrites are the one input of hs_perm_channel that this module writes, and every
 * endpoint and the gateway ask hs_perm_channel at the moment they act, so a change here
 * takes effect everywhere with the commit that makes it: nothing caches permissions.
 * Deletion is a mark (deleted = 1), not a DELETE: the gateway decides who hears of a
 * deletion from the same rows (hs_perm_channel with include_deleted).
 */
#include "hs_channels.h"
#include "hs_accounts.h"
#include "hs_audit.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_threads.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return hs_db_step_done(db, s, err, "storing a channel");
}

/* ------------------------------------------------------------------ overwrites */

/* A permission bitfield given as a decimal string (Discord's form) or an integer. */
static int parse_bits(json_t *v, uint64_t *out)
{
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (json_is_string(v))
        return hs_parse_u64(json_string_value(v), out) == 0 && !(*out & ~HS_PERM_ALL) ? 0 : -1;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return *out & ~HS_PERM_ALL ? -1 : 0;
    }
    return -1;
}

static int parse_id(json_t *v, uint64_t *out)
{
    if (json_is_string(v))
        return hs_parse_u64(json_string_value(v), out) == 0 && *out <= (uint64_t)INT64_MAX ? 0 : -1;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    return -1;
}

/*
 * Parses an array of {id, type, allow, deny} into out (at most HS_CHANNEL_MAX_OVERWRITES).
 * Form errors name the element: "permission_overwrites.2.allow".
 */
static int overwrites_parse(json_t *arr, struct hs_overwrite *out, size_t *n, hs_error *err)
{
    static const char field[] = "permission_overwrites";
    char path[64];
    size_t i;
    json_t *o;
    if (!json_is_array(arr))
        return hs_error_form(err, field, "BASE_TYPE_ARRAY", "Must be an array.");
    if (json_array_size(arr) > HS_CHANNEL_MAX_OVERWRITES)
        return hs_error_form(err, field, "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.",
                             HS_CHANNEL_MAX_OVERWRITES);
    *n = 0;
    json_array_foreach(arr, i, o)
    {
        struct hs_overwrite *w = &out[i];
        json_t *type = json_object_get(o, "type");
        if (!json_is_object(o)) {
            snprintf(path, sizeof(path), "%s.%zu", field, i);
            return hs_error_form(err, path, "MODEL_TYPE_CONVERT", "Must be an object.");
        }
        snprintf(path, sizeof(path), "%s.%zu.id", field, i);
        if (parse_id(json_object_get(o, "id"), &w->id) < 0)
            return hs_error_form(err, path, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        snprintf(path, sizeof(path), "%s.%zu.type", field, i);
        if (!json_is_integer(type) || (json_integer_value(type) != HS_OVERWRITE_ROLE &&
                                       json_integer_value(type) != HS_OVERWRITE_MEMBER))
            return hs_error_form(err, path, "BASE_TYPE_CHOICES", "Value must be one of (0, 1).");
        w->type = (int)json_integer_value(type);
        snprintf(path, sizeof(path), "%s.%zu.allow", field, i);
        if (parse_bits(json_object_get(o, "allow"), &w->allow) < 0)
            return hs_error_form(err, path, "PERMISSIONS_INVALID", "Invalid permissions.");
        snprintf(path, sizeof(path), "%s.%zu.deny", field, i);
        if (parse_bits(json_object_get(o, "deny"), &w->deny) < 0)
            return hs_error_form(err, path, "PERMISSIONS_INVALID", "Invalid permissions.");
        for (size_t j = 0; j < i; j++) {
            if (out[j].id == w->id) {
                snprintf(path, sizeof(path), "%s.%zu.id", field, i);
                return hs_error_form(err, path, "DUPLICATE_VALUE", "Each target may appear once.");
            }
        }
        *n = i + 1;
    }
    return 0;
}

/* The role (type 0) or member (type 1) an overwrite names must exist in the guild. */
static int overwrite_target_check(hs_db *db, uint64_t guild_id, uint64_t target_id, int type,
                                  hs_error *err)
{
    sqlite3_stmt *s =
        type == HS_OVERWRITE_ROLE
            ? hs_db_stmt(db, "SELECT 1 FROM roles WHERE id = ? AND guild_id = ?")
            : hs_db_stmt(db, "SELECT 1 FROM members WHERE user_id = ? AND guild_id = ?");
    hs_bind_id(s, 1, target_id);
    hs_bind_id(s, 2, guild_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    if (found)
        return 0;
    if (type == HS_OVERWRITE_ROLE)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_ROLE, "Unknown Role");
    return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER, "Unknown Member");
}

static size_t overwrites_load(hs_db *db, uint64_t channel_id, struct hs_overwrite *out, size_t max)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT target_id, type, allow, deny FROM overwrites WHERE "
                                     "channel_id = ? ORDER BY target_id");
    hs_bind_id(s, 1, channel_id);
    size_t n = 0;
    while (n < max && sqlite3_step(s) == SQLITE_ROW) {
        out[n].id = hs_col_id(s, 0);
        out[n].type = sqlite3_column_int(s, 1);
        out[n].allow = (uint64_t)sqlite3_column_int64(s, 2);
        out[n].deny = (uint64_t)sqlite3_column_int64(s, 3);
        n++;
    }
    sqlite3_reset(s);
    return n;
}

static const struct hs_overwrite *overwrite_find(const struct hs_overwrite *ows, size_t n,
                                                 uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ows[i].id == id)
            return &ows[i];
    return NULL;
}

/*
 * The bits whose state an overwrite change touches. An actor without ADMINISTRATOR must hold
 * every one of them (spec/rest-channels.md §3): granting, denying, or lifting an allow or a
 * deny of a permission are all ways of deciding it, so lifting a deny one does not hold is
 * refused too.
 */
static uint64_t overwrite_delta(const struct hs_overwrite *old, const struct hs_overwrite *new)
{
    uint64_t oa = old ? old->allow : 0, od = old ? old->deny : 0;
    uint64_t na = new ? new->allow : 0, nd = new ? new->deny : 0;
    return (oa ^ na) | (od ^ nd);
}

static int overwrite_store(hs_db *db, uint64_t channel_id, const struct hs_overwrite *w,
                           hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT OR REPLACE INTO overwrites (channel_id, target_id, "
                                     "type, allow, deny) VALUES (?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, w->id);
    sqlite3_bind_int(s, 3, w->type);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)w->allow);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)w->deny);
    return hs_db_step_done(db, s, err, "storing an overwrite");
}

static int overwrite_remove(hs_db *db, uint64_t channel_id, uint64_t target_id, hs_error *err)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "DELETE FROM overwrites WHERE channel_id = ? AND target_id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, target_id);
    return hs_db_step_done(db, s, err, "removing an overwrite");
}

/*
 * Validates a new overwrite set for a channel (or a channel being created, old = NULL) and
 * the actor's right to make the change: every target exists, and the actor holds (`held`)
 * every bit the change touches.
 */
static int overwrites_check(hs_db *db, uint64_t guild_id, const struct hs_overwrite *new,
                            size_t nnew, const struct hs_overwrite *old, size_t nold, uint64_t held,
                            hs_error *err)
{
    uint64_t touched = 0;
    for (size_t i = 0; i < nnew; i++) {
        const struct hs_overwrite *prev = overwrite_find(old, nold, new[i].id);
        if (prev && prev->type != new[i].type)
            prev = NULL; /* the same id as another kind of target: a different overwrite */
        /* An unchanged overwrite is kept as it is, even if its target is gone. */
        if (!prev || overwrite_delta(prev, &new[i])) {
            int rc = overwrite_target_check(db, guild_id, new[i].id, new[i].type, err);
            if (rc < 0)
                return rc;
        }
        touched |= overwrite_delta(prev, &new[i]);
    }
    for (size_t i = 0; i < nold; i++)
        if (!overwrite_find(new, nnew, old[i].id))
            touched |= overwrite_delta(&old[i], NULL);
    if (touched & ~held)
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    return 0;
}

static int overwrites_replace(hs_db *db, uint64_t channel_id, const struct hs_overwrite *ows,
                              size_t n, hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM overwrites WHERE channel_id = ?");
    hs_bind_id(s, 1, channel_id);
    int rc = hs_db_step_done(db, s, err, "replacing overwrites");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = overwrite_store(db, channel_id, &ows[i], err);
    return rc;
}

/* ------------------------------------------------------------------ audit helpers */

static json_t *lookup(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v ? v : json_object_get(json_object_get(obj, "thread_metadata"), key);
}

json_t *hs_channel_changes(json_t *before, json_t *after, const char *const *keys)
{
    json_t *changes = json_array();
    for (const char *const *k = keys; *k; k++) {
        json_t *a = before ? lookup(before, *k) : NULL;
        json_t *b = after ? lookup(after, *k) : NULL;
        if ((!a && !b) || (a && b && json_equal(a, b)))
            continue;
        json_array_append_new(
            changes, hs_audit_change(*k, a ? json_incref(a) : NULL, b ? json_incref(b) : NULL));
    }
    if (json_array_size(changes) == 0) {
        json_decref(changes);
        return NULL;
    }
    return changes;
}

static const char *const channel_audit_keys[] = {
    "name",
    "type",
    "topic",
    "nsfw",
    "rate_limit_per_user",
    "position",
    "parent_id",
    "permission_overwrites",
    NULL,
};

/* ------------------------------------------------------------------ create */

/* Whether actor may see the channel: one that is hidden from someone can be neither moved
 * nor used as a parent by them (else its existence would show). */
static int viewable(hs_db *db, uint64_t channel_id, uint64_t actor_id)
{
    uint64_t perms;
    return hs_perm_channel(db, channel_id, actor_id, 0, &perms, NULL) == 0 &&
           (perms & HS_PERM_VIEW_CHANNEL);
}

static int is_category_of(hs_db *db, uint64_t channel_id, uint64_t guild_id, uint64_t actor_id)
{
    struct hs_channel parent;
    return hs_channel_get(db, channel_id, &parent, NULL) == 0 && parent.guild_id == guild_id &&
           parent.type == HS_CHANNEL_CATEGORY && viewable(db, channel_id, actor_id);
}

static int check_name(const char *name, hs_error *err)
{
    size_t len = hs_utf8_len(name, strlen(name));
    if (len < 1 || len > 100)
        return hs_error_form(err, "name", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 1 and 100 in length.");
    return 0;
}

static int check_topic(const char *topic, hs_error *err)
{
    if (topic && hs_utf8_len(topic, strlen(topic)) > 1024)
        return hs_error_form(err, "topic", "BASE_TYPE_MAX_LENGTH",
                             "Must be 1024 or fewer in length.");
    return 0;
}

static int check_rate_limit(int v, hs_error *err)
{
    if (v < 0 || v > 21600)
        return hs_error_form(err, "rate_limit_per_user", "NUMBER_TYPE_MAX",
                             "int value should be between 0 and 21600.");
    return 0;
}

static int64_t guild_channel_count(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM channels WHERE guild_id = ? AND "
                                     "deleted = 0 AND type NOT IN (10, 11, 12)");
    hs_bind_id(s, 1, guild_id);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

int hs_channel_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_channel_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_overwrite ows[HS_CHANNEL_MAX_OVERWRITES];
    size_t nows = 0;
    uint64_t perms;
    int rc = hs_perm_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_CHANNELS))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (op->type != HS_CHANNEL_TEXT && op->type != HS_CHANNEL_VOICE &&
        op->type != HS_CHANNEL_CATEGORY)
        return hs_error_form(err, "type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4}.");
    if ((rc = check_name(op->name, err)) < 0 || (rc = check_topic(op->topic, err)) < 0 ||
        (rc = check_rate_limit(op->rate_limit_per_user, err)) < 0)
        return rc;
    if (op->parent_id && (op->type == HS_CHANNEL_CATEGORY ||
                          !is_category_of(db, op->parent_id, op->guild_id, op->actor_id)))
        return hs_error_form(err, "parent_id", "CHANNEL_PARENT_INVALID",
                             "Not a category of this guild.");
    if (op->overwrites && !json_is_null(op->overwrites)) {
        /* A new channel has no overwrites to start from: the actor must hold, in the guild,
         * every bit it allows or denies. */
        if ((rc = overwrites_parse(op->overwrites, ows, &nows, err)) < 0 ||
            (rc = overwrites_check(db, op->guild_id, ows, nows, NULL, 0, perms, err)) < 0)
            return rc;
    }
    if (guild_channel_count(db, op->guild_id) >= HS_CHANNEL_MAX_PER_GUILD)
        return hs_error_reason(err, HS_ELIMIT, HS_R_MAX_CHANNELS,
                               "Maximum number of guild channels reached (500)");
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
    if (rc == 0)
        rc = overwrites_replace(db, id, ows, nows, err);
    if (rc < 0)
        return rc;
    op->channel = hs_channel_json(db, id);
    rc = hs_txn_event(txn, "CHANNEL_CREATE", op->guild_id, id, op->actor_id,
                      json_incref(op->channel), err);
    if (rc < 0)
        return rc;
    return hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_CHANNEL_CREATE, id,
                           hs_channel_changes(NULL, op->channel, channel_audit_keys), NULL,
                           op->reason, err);
}

/* ------------------------------------------------------------------ update */

static int record_update(hs_txn *txn, const struct hs_channel *ch, uint64_t actor_id,
                         const char *reason, json_t *before, json_t *after, hs_error *err)
{
    json_t *changes = hs_channel_changes(before, after, channel_audit_keys);
    if (!changes)
        return 0; /* nothing changed: no event, no entry */
    int rc = hs_txn_event(txn, "CHANNEL_UPDATE", ch->guild_id, ch->id, actor_id, json_incref(after),
                          err);
    if (rc < 0) {
        json_decref(changes);
        return rc;
    }
    return hs_audit_record(txn, ch->guild_id, actor_id, HS_AUDIT_CHANNEL_UPDATE, ch->id, changes,
                           NULL, reason, err);
}

int hs_channel_update_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_channel_update *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    struct hs_overwrite ows[HS_CHANNEL_MAX_OVERWRITES], old[HS_CHANNEL_MAX_OVERWRITES];
    size_t nows = 0;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!ch.guild_id)
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    if (HS_CHANNEL_IS_THREAD(ch.type))
        return hs_thread_update(txn, op, &ch, perms, err);

    /* Fields that do not apply to this kind of channel are ignored, as Discord does. */
    unsigned set = op->set & (HS_CHUP_NAME | HS_CHUP_POSITION | HS_CHUP_OVERWRITES);
    if (ch.type == HS_CHANNEL_TEXT)
        set |= op->set & HS_CHUP_TOPIC;
    if (ch.type == HS_CHANNEL_TEXT || ch.type == HS_CHANNEL_VOICE)
        set |= op->set & (HS_CHUP_NSFW | HS_CHUP_RATE_LIMIT | HS_CHUP_PARENT);
    if (!(perms & HS_PERM_MANAGE_CHANNELS) ||
        ((set & HS_CHUP_OVERWRITES) && !(perms & HS_PERM_MANAGE_ROLES)))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if ((set & HS_CHUP_NAME) && (rc = check_name(op->name, err)) < 0)
        return rc;
    if ((set & HS_CHUP_TOPIC) && (rc = check_topic(op->topic, err)) < 0)
        return rc;
    if ((set & HS_CHUP_RATE_LIMIT) && (rc = check_rate_limit(op->rate_limit_per_user, err)) < 0)
        return rc;
    if ((set & HS_CHUP_PARENT) && op->parent_id &&
        !is_category_of(db, op->parent_id, ch.guild_id, op->actor_id))
        return hs_error_form(err, "parent_id", "CHANNEL_PARENT_INVALID",
                             "Not a category of this guild.");
    if (set & HS_CHUP_OVERWRITES) {
        size_t nold = overwrites_load(db, ch.id, old, HS_ARRAY_LEN(old));
        if ((rc = overwrites_parse(op->overwrites, ows, &nows, err)) < 0 ||
            (rc = overwrites_check(db, ch.guild_id, ows, nows, old, nold, perms, err)) < 0)
            return rc;
    }

    json_t *before = hs_channel_json(db, ch.id);
    char *name = (set & HS_CHUP_NAME) ? hs_channel_fold_name(op->name, ch.type) : NULL;
    sqlite3_stmt *s =
        hs_db_stmt(db, "UPDATE channels SET name = CASE WHEN ?2 THEN ?3 ELSE name END, "
                       "topic = CASE WHEN ?4 THEN ?5 ELSE topic END, "
                       "nsfw = CASE WHEN ?6 THEN ?7 ELSE nsfw END, "
                       "rate_limit_per_user = CASE WHEN ?8 THEN ?9 ELSE rate_limit_per_user END, "
                       "position = CASE WHEN ?10 THEN ?11 ELSE position END, "
                       "parent_id = CASE WHEN ?12 THEN ?13 ELSE parent_id END WHERE id = ?1");
    hs_bind_id(s, 1, ch.id);
    sqlite3_bind_int(s, 2, !!(set & HS_CHUP_NAME));
    hs_bind_text(s, 3, name);
    sqlite3_bind_int(s, 4, !!(set & HS_CHUP_TOPIC));
    hs_bind_text(s, 5, op->topic && *op->topic ? op->topic : NULL);
    sqlite3_bind_int(s, 6, !!(set & HS_CHUP_NSFW));
    sqlite3_bind_int(s, 7, op->nsfw ? 1 : 0);
    sqlite3_bind_int(s, 8, !!(set & HS_CHUP_RATE_LIMIT));
    sqlite3_bind_int(s, 9, op->rate_limit_per_user);
    sqlite3_bind_int(s, 10, !!(set & HS_CHUP_POSITION));
    sqlite3_bind_int(s, 11, op->position);
    sqlite3_bind_int(s, 12, !!(set & HS_CHUP_PARENT));
    if (op->parent_id)
        hs_bind_id(s, 13, op->parent_id);
    rc = hs_db_step_done(db, s, err, "updating a channel");
    free(name);
    if (rc == 0 && (set & HS_CHUP_OVERWRITES))
        rc = overwrites_replace(db, ch.id, ows, nows, err);
    if (rc < 0) {
        json_decref(before);
        return rc;
    }
    op->channel = hs_channel_json(db, ch.id);
    rc = record_update(txn, &ch, op->actor_id, op->reason, before, op->channel, err);
    json_decref(before);
    return rc;
}

/* ------------------------------------------------------------------ delete */

int hs_channel_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_channel_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!ch.guild_id)
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    if (HS_CHANNEL_IS_THREAD(ch.type))
        return hs_thread_delete(txn, op, &ch, perms, err);
    if (!(perms & HS_PERM_MANAGE_CHANNELS))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");

    /* The channel and its threads are marked, not removed: the gateway still decides who
     * may hear of the deletion from the rows and their overwrites. */
    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE channels SET deleted = 1 WHERE id = ?1 OR "
                                     "(parent_id = ?1 AND type IN (10, 11, 12))");
    hs_bind_id(s, 1, ch.id);
    rc = hs_db_step_done(db, s, err, "deleting a channel");
    if (rc < 0)
        return rc;
    op->channel = hs_channel_json_any(db, ch.id, 1);
    rc = hs_txn_event(txn, "CHANNEL_DELETE", ch.guild_id, ch.id, op->actor_id,
                      json_incref(op->channel), err);
    if (rc < 0)
        return rc;

    /* A deleted category's channels stay, without a parent (as on Discord). */
    if (ch.type == HS_CHANNEL_CATEGORY) {
        uint64_t *kids = NULL;
        size_t n = 0, cap = 0;
        s = hs_db_stmt(db, "SELECT id FROM channels WHERE parent_id = ? AND deleted = 0");
        hs_bind_id(s, 1, ch.id);
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                kids = hs_xrealloc(kids, cap * sizeof(*kids));
            }
            kids[n++] = hs_col_id(s, 0);
        }
        sqlite3_reset(s);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            s = hs_db_stmt(db, "UPDATE channels SET parent_id = NULL WHERE id = ?");
            hs_bind_id(s, 1, kids[i]);
            rc = hs_db_step_done(db, s, err, "detaching a channel");
            if (rc == 0)
                rc = hs_txn_event(txn, "CHANNEL_UPDATE", ch.guild_id, kids[i], op->actor_id,
                                  hs_channel_json(db, kids[i]), err);
        }
        free(kids);
        if (rc < 0)
            return rc;
    }
    return hs_audit_record(txn, ch.guild_id, op->actor_id, HS_AUDIT_CHANNEL_DELETE, ch.id,
                           hs_channel_changes(op->channel, NULL, channel_audit_keys), NULL,
                           op->reason, err);
}

/* ------------------------------------------------------------------ positions */

int hs_channel_positions_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_channel_positions *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t perms;
    char path[32];
    int rc = hs_perm_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_CHANNELS))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    /* Validate everything before changing anything. */
    for (size_t i = 0; i < op->n; i++) {
        const struct hs_channel_position *p = &op->items[i];
        struct hs_channel ch;
        if (hs_channel_get(db, p->id, &ch, NULL) < 0 || ch.guild_id != op->guild_id ||
            HS_CHANNEL_IS_THREAD(ch.type) || !viewable(db, p->id, op->actor_id)) {
            snprintf(path, sizeof(path), "%zu.id", i);
            return hs_error_form(err, path, "CHANNEL_INVALID", "Not a channel of this guild.");
        }
        if (p->set_parent && p->parent_id &&
            (ch.type == HS_CHANNEL_CATEGORY ||
             !is_category_of(db, p->parent_id, op->guild_id, op->actor_id))) {
            snprintf(path, sizeof(path), "%zu.parent_id", i);
            return hs_error_form(err, path, "CHANNEL_PARENT_INVALID",
                                 "Not a category of this guild.");
        }
    }
    for (size_t i = 0; i < op->n; i++) {
        const struct hs_channel_position *p = &op->items[i];
        struct hs_channel ch;
        HS_ASSERT(hs_channel_get(db, p->id, &ch, NULL) == 0);
        json_t *before = hs_channel_json(db, p->id);
        sqlite3_stmt *s = hs_db_stmt(
            db, "UPDATE channels SET position = CASE WHEN ?2 >= 0 THEN ?2 ELSE position END, "
                "parent_id = CASE WHEN ?3 THEN ?4 ELSE parent_id END WHERE id = ?1");
        hs_bind_id(s, 1, p->id);
        sqlite3_bind_int(s, 2, p->position);
        sqlite3_bind_int(s, 3, p->set_parent);
        if (p->parent_id)
            hs_bind_id(s, 4, p->parent_id);
        rc = hs_db_step_done(db, s, err, "moving a channel");
        json_t *after = rc == 0 ? hs_channel_json(db, p->id) : NULL;
        if (rc == 0)
            rc = record_update(txn, &ch, op->actor_id, op->reason, before, after, err);
        json_decref(before);
        json_decref(after);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ one overwrite */

int hs_overwrite_put_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_overwrite_put *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    struct hs_overwrite old[HS_CHANNEL_MAX_OVERWRITES];
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!ch.guild_id || HS_CHANNEL_IS_THREAD(ch.type))
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    if (!(perms & HS_PERM_MANAGE_ROLES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    size_t nold = overwrites_load(db, ch.id, old, HS_ARRAY_LEN(old));
    const struct hs_overwrite *prev = overwrite_find(old, nold, op->target_id);
    struct hs_overwrite next = {op->target_id, op->type, op->allow, op->deny};
    if (op->remove) {
        if (!prev)
            return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_OVERWRITE, "Unknown Overwrite");
        if (overwrite_delta(prev, NULL) & ~perms)
            return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    } else {
        if (op->type != HS_OVERWRITE_ROLE && op->type != HS_OVERWRITE_MEMBER)
            return hs_error_form(err, "type", "BASE_TYPE_CHOICES", "Value must be one of (0, 1).");
        if ((op->allow | op->deny) & ~HS_PERM_ALL)
            return hs_error_form(err, (op->allow & ~HS_PERM_ALL) ? "allow" : "deny",
                                 "PERMISSIONS_INVALID", "Invalid permissions.");
        if (prev && prev->type != op->type)
            return hs_error_form(err, "type", "BASE_TYPE_CHOICES",
                                 "The overwrite exists with the other type.");
        if (!prev && nold >= HS_CHANNEL_MAX_OVERWRITES)
            return hs_error_form(err, "overwrite_id", "BASE_TYPE_MAX_LENGTH",
                                 "A channel has at most %d overwrites.", HS_CHANNEL_MAX_OVERWRITES);
        if ((rc = overwrite_target_check(db, ch.guild_id, op->target_id, op->type, err)) < 0)
            return rc;
        if (overwrite_delta(prev, &next) & ~perms)
            return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    }
    struct hs_overwrite was = prev ? *prev : (struct hs_overwrite){0};
    rc = op->remove ? overwrite_remove(db, ch.id, op->target_id, err)
                    : overwrite_store(db, ch.id, &next, err);
    if (rc < 0)
        return rc;
    rc = hs_txn_event(txn, "CHANNEL_UPDATE", ch.guild_id, ch.id, op->actor_id,
                      hs_channel_json(db, ch.id), err);
    if (rc < 0)
        return rc;

    /* The audit entry, in Discord's form: options name the target, changes the masks. */
    char buf[4][24];
    snprintf(buf[0], sizeof(buf[0]), "%" PRIu64, was.allow);
    snprintf(buf[1], sizeof(buf[1]), "%" PRIu64, was.deny);
    snprintf(buf[2], sizeof(buf[2]), "%" PRIu64, next.allow);
    snprintf(buf[3], sizeof(buf[3]), "%" PRIu64, next.deny);
    int type = prev ? prev->type : op->type;
    json_t *changes = json_array(), *options;
    int action;
    if (op->remove) {
        action = HS_AUDIT_CHANNEL_OVERWRITE_DELETE;
        json_array_append_new(changes, hs_audit_change("id", hs_json_id(op->target_id), NULL));
        json_array_append_new(changes, hs_audit_change("type", json_integer(type), NULL));
        json_array_append_new(changes, hs_audit_change("allow", json_string(buf[0]), NULL));
        json_array_append_new(changes, hs_audit_change("deny", json_string(buf[1]), NULL));
    } else if (!prev) {
        action = HS_AUDIT_CHANNEL_OVERWRITE_CREATE;
        json_array_append_new(changes, hs_audit_change("id", NULL, hs_json_id(op->target_id)));
        json_array_append_new(changes, hs_audit_change("type", NULL, json_integer(type)));
        json_array_append_new(changes, hs_audit_change("allow", NULL, json_string(buf[2])));
        json_array_append_new(changes, hs_audit_change("deny", NULL, json_string(buf[3])));
    } else {
        action = HS_AUDIT_CHANNEL_OVERWRITE_UPDATE;
        if (was.allow != next.allow)
            json_array_append_new(
                changes, hs_audit_change("allow", json_string(buf[0]), json_string(buf[2])));
        if (was.deny != next.deny)
            json_array_append_new(
                changes, hs_audit_change("deny", json_string(buf[1]), json_string(buf[3])));
    }
    options = json_pack("{s:o, s:s}", "id", hs_json_id(op->target_id), "type",
                        type == HS_OVERWRITE_ROLE ? "0" : "1");
    if (type == HS_OVERWRITE_ROLE) {
        sqlite3_stmt *s = hs_db_stmt(db, "SELECT name FROM roles WHERE id = ?");
        hs_bind_id(s, 1, op->target_id);
        if (sqlite3_step(s) == SQLITE_ROW)
            json_object_set_new(options, "role_name", json_string(hs_col_text(s, 0)));
        sqlite3_reset(s);
    }
    return hs_audit_record(txn, ch.guild_id, op->actor_id, action, ch.id, changes, options,
                           op->reason, err);
}

/* ------------------------------------------------------------------ posting */

/* BYPASS_SLOWMODE (bit 52) is not in hs_perm.h's list yet. */
#define PERM_BYPASS_SLOWMODE HS_P(52)

int hs_channel_check_post(hs_txn *txn, const struct hs_channel *ch, uint64_t perms,
                          uint64_t author_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    int thread = HS_CHANNEL_IS_THREAD(ch->type);
    int rc;
    /* Lock, unarchive and count first; a slowmode refusal below rolls them back. */
    if (thread && (rc = hs_thread_check_post(txn, ch, perms, err)) < 0)
        return rc;

    uint64_t exempt = HS_PERM_MANAGE_MESSAGES | HS_PERM_MANAGE_CHANNELS | PERM_BYPASS_SLOWMODE |
                      (thread ? HS_PERM_MANAGE_THREADS : 0);
    if (ch->rate_limit_per_user > 0 && !(perms & exempt)) {
        /* The author's last post here, from the messages index on (author_id, channel_id):
         * its id carries its time, so slowmode needs no state of its own. */
        sqlite3_stmt *s =
            hs_db_stmt(db, "SELECT max(id) FROM messages WHERE author_id = ? AND channel_id = ?");
        hs_bind_id(s, 1, author_id);
        hs_bind_id(s, 2, ch->id);
        uint64_t last = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
        sqlite3_reset(s);
        uint64_t window = (uint64_t)ch->rate_limit_per_user * 1000, now = hs_txn_now_ms(txn);
        uint64_t at = last ? hs_snowflake_unix_ms(last) : 0;
        if (last && now < at + window) {
            rc = hs_error_reason(err, HS_ELIMIT, HS_R_SLOWMODE,
                                 "This action cannot be performed due to slowmode rate limit.");
            if (err)
                snprintf(err->field, sizeof(err->field), "%" PRIu64, at + window - now);
            return rc;
        }
    }
    return 0;
}
