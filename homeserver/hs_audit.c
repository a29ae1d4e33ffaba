#include "hs_audit.h"
#include "hs_accounts.h"
#include "hs_util.h"

#include <stdlib.h>
#include <string.h>

json_t *hs_audit_change(const char *key, json_t *old_value, json_t *new_value)
{
    json_t *c = json_pack("{s:s}", "key", key);
    if (old_value)
        json_object_set_new(c, "old_value", old_value);
    if (new_value)
        json_object_set_new(c, "new_value", new_value);
    return c;
}

static json_t *entry_json(sqlite3_stmt *s)
{
    /* Columns: id, user_id, action_type, target_id, changes, options, reason */
    json_t *e =
        json_pack("{s:o, s:o, s:i, s:o}", "id", hs_json_id(hs_col_id(s, 0)), "user_id",
                  hs_json_id_or_null(hs_col_id(s, 1)), "action_type", sqlite3_column_int(s, 2),
                  "target_id", hs_json_id_or_null(hs_col_id(s, 3)));
    const char *changes = hs_col_text(s, 4), *options = hs_col_text(s, 5);
    const char *reason = hs_col_text(s, 6);
    if (changes)
        json_object_set_new(e, "changes", json_loads(changes, 0, NULL));
    if (options)
        json_object_set_new(e, "options", json_loads(options, 0, NULL));
    if (reason)
        json_object_set_new(e, "reason", json_string(reason));
    return e;
}

int hs_audit_record(hs_txn *txn, uint64_t guild_id, uint64_t user_id, int action,
                    uint64_t target_id, json_t *changes, json_t *options, const char *reason,
                    hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t id = hs_txn_new_id(txn);
    char *ctext = changes ? json_dumps(changes, JSON_COMPACT) : NULL;
    char *otext = options ? json_dumps(options, JSON_COMPACT) : NULL;
    json_decref(changes);
    json_decref(options);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO audit_log (id, guild_id, user_id, action_type, "
                                     "target_id, changes, options, reason) VALUES (?, ?, ?, ?, "
                                     "?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, guild_id);
    if (user_id)
        hs_bind_id(s, 3, user_id);
    sqlite3_bind_int(s, 4, action);
    if (target_id)
        hs_bind_id(s, 5, target_id);
    hs_bind_text(s, 6, ctext);
    hs_bind_text(s, 7, otext);
    hs_bind_text(s, 8, reason);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    free(ctext);
    free(otext);
    if (rc != SQLITE_DONE)
        return hs_db_error(db, err, "recording an audit log entry");
    s = hs_db_stmt(db, "SELECT id, user_id, action_type, target_id, changes, options, reason "
                       "FROM audit_log WHERE id = ?");
    hs_bind_id(s, 1, id);
    json_t *entry = sqlite3_step(s) == SQLITE_ROW ? entry_json(s) : NULL;
    sqlite3_reset(s);
    HS_ASSERT(entry);
    json_object_set_new(entry, "guild_id", hs_json_id(guild_id));
    return hs_txn_event(txn, "GUILD_AUDIT_LOG_ENTRY_CREATE", guild_id, 0, user_id, entry, err);
}

json_t *hs_audit_list(hs_db *db, uint64_t guild_id, const struct hs_audit_query *q)
{
    int ascending = q->after && !q->before;
    sqlite3_stmt *s = hs_db_stmt(
        db, ascending ? "SELECT id, user_id, action_type, target_id, changes, options, reason FROM "
                        "audit_log WHERE guild_id = ?1 AND (?2 = 0 OR user_id = ?2) AND (?3 = 0 OR "
                        "action_type = ?3) AND id > ?4 AND id < ?5 ORDER BY id LIMIT ?6"
                      : "SELECT id, user_id, action_type, target_id, changes, options, reason FROM "
                        "audit_log WHERE guild_id = ?1 AND (?2 = 0 OR user_id = ?2) AND (?3 = 0 OR "
                        "action_type = ?3) AND id > ?4 AND id < ?5 ORDER BY id DESC LIMIT ?6");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, q->user_id);
    sqlite3_bind_int(s, 3, q->action_type);
    hs_bind_id(s, 4, q->after);
    sqlite3_bind_int64(s, 5, q->before ? (sqlite3_int64)q->before : INT64_MAX);
    sqlite3_bind_int(s, 6, q->limit);
    json_t *entries = json_array();
    uint64_t users[100];
    size_t nusers = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_array_append_new(entries, entry_json(s));
        uint64_t uid = hs_col_id(s, 1);
        int seen = 0;
        for (size_t i = 0; i < nusers; i++)
            seen |= users[i] == uid;
        if (uid && !seen && nusers < HS_ARRAY_LEN(users))
            users[nusers++] = uid;
    }
    sqlite3_reset(s);
    json_t *ujson = json_array();
    for (size_t i = 0; i < nusers; i++) {
        json_t *u = hs_user_json(db, users[i], 0);
        if (u)
            json_array_append_new(ujson, u);
    }
    return json_pack("{s:o, s:o, s:[], s:[], s:[], s:[], s:[], s:[]}", "audit_log_entries", entries,
                     "users", ujson, "integrations", "threads", "webhooks", "auto_moderation_rules",
                     "application_commands", "guild_scheduled_events");
}
