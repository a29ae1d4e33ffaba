#include "hs_guilds.h"
#include "hs_channels.h"
#include "hs_accounts.h"
#include "hs_audit.h"
#include "hs_members.h"
#include "hs_roles.h"
#include "hs_buf.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *hs_guild_json(hs_db *db, uint64_t guild_id, int with_counts)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT name, owner_id, system_channel_id FROM guilds WHERE id = ?");
    hs_bind_id(s, 1, guild_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    json_t *g = json_pack(
        "{s:o, s:s, s:n, s:n, s:n, s:o, s:n, s:i, s:i, s:i, s:i, s:[], s:[], s:i, s:n, s:o, s:i, "
        "s:n, s:i, s:n, s:n, s:n, s:i, s:i, s:s, s:n, s:i, s:[], s:b}",
        "id", hs_json_id(guild_id), "name", hs_col_text(s, 0), "icon", "splash", "discovery_splash",
        "owner_id", hs_json_id(hs_col_id(s, 1)), "afk_channel_id", "afk_timeout", 300,
        "verification_level", 0, "default_message_notifications", 0, "explicit_content_filter", 0,
        "emojis", "features", "mfa_level", 0, "application_id", "system_channel_id",
        hs_json_id_or_null(hs_col_id(s, 2)), "system_channel_flags", 0, "rules_channel_id",
        "max_members", 250000, "vanity_url_code", "description", "banner", "premium_tier", 0,
        "premium_subscription_count", 0, "preferred_locale", "en-US", "public_updates_channel_id",
        "nsfw_level", 0, "stickers", "premium_progress_bar_enabled", 0);
    sqlite3_reset(s);
    HS_ASSERT(g);

    json_object_set_new(g, "roles", hs_role_list(db, guild_id));

    if (with_counts) {
        json_object_set_new(g, "approximate_member_count",
                            json_integer(hs_member_count(db, guild_id)));
        /* Presence arrives with the gateway; until then nobody counts as online. */
        json_object_set_new(g, "approximate_presence_count", json_integer(0));
    }
    return g;
}

json_t *hs_guild_list_for_user(hs_db *db, uint64_t user_id, uint64_t before, uint64_t after,
                               int limit)
{
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT g.id, g.name, g.owner_id FROM members m JOIN guilds g ON g.id = m.guild_id "
            "WHERE m.user_id = ?1 AND m.guild_id > ?2 AND m.guild_id < ?3 ORDER BY m.guild_id "
            "LIMIT ?4");
    json_t *out = json_array();
    /* Ids are stored as SQLite integers: cursors beyond 2^63 - 1 are clamped. */
    if (after >= (uint64_t)INT64_MAX)
        return out;
    if (before > (uint64_t)INT64_MAX)
        before = (uint64_t)INT64_MAX;
    hs_bind_id(s, 1, user_id);
    hs_bind_id(s, 2, after);
    sqlite3_bind_int64(s, 3, before ? (sqlite3_int64)before : INT64_MAX);
    sqlite3_bind_int(s, 4, limit);
    /* Collect first: computing permissions reuses statements of this connection. */
    uint64_t ids[200];
    int n = 0;
    while (n < limit && n < 200 && sqlite3_step(s) == SQLITE_ROW) {
        ids[n++] = hs_col_id(s, 0);
        json_array_append_new(out, json_pack("{s:o, s:s, s:n, s:n, s:b, s:[]}", "id",
                                             hs_json_id(hs_col_id(s, 0)), "name", hs_col_text(s, 1),
                                             "icon", "banner", "owner", hs_col_id(s, 2) == user_id,
                                             "features"));
    }
    sqlite3_reset(s);
    for (int i = 0; i < n; i++) {
        uint64_t perms = 0;
        char buf[24];
        hs_perm_guild(db, ids[i], user_id, &perms, NULL);
        snprintf(buf, sizeof(buf), "%" PRIu64, perms);
        json_object_set_new(json_array_get(out, (size_t)i), "permissions", json_string(buf));
    }
    return out;
}

static int insert_member(hs_txn *txn, uint64_t guild_id, uint64_t user_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s =
        hs_db_stmt(db, "INSERT INTO members (guild_id, user_id, joined_at) VALUES (?, ?, ?)");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)hs_txn_now_ms(txn));
    return hs_db_step_done(db, s, err, "storing a member");
}

static int member_event(hs_txn *txn, uint64_t guild_id, uint64_t user_id, uint64_t actor_id,
                        hs_error *err)
{
    json_t *m = hs_member_json(hs_txn_db(txn), guild_id, user_id);
    HS_ASSERT(m);
    json_object_set_new(m, "guild_id", hs_json_id(guild_id));
    return hs_txn_event(txn, "GUILD_MEMBER_ADD", guild_id, 0, actor_id, m, err);
}

int hs_guild_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_guild_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    size_t len = hs_utf8_len(op->name, strlen(op->name));
    if (len < 2 || len > 100)
        return hs_error_form(err, "name", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 2 and 100 in length.");
    uint64_t gid = hs_txn_new_id(txn);
    uint64_t general = hs_txn_new_id(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO guilds (id, name, owner_id, system_channel_id, "
                                     "created_at) VALUES (?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, gid);
    hs_bind_text(s, 2, op->name);
    hs_bind_id(s, 3, op->owner_id);
    hs_bind_id(s, 4, general);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)hs_txn_now_ms(txn));
    int rc = hs_db_step_done(db, s, err, "storing a guild");
    if (rc == 0)
        rc = hs_role_insert(txn, gid, gid, "@everyone", HS_PERM_DEFAULT_EVERYONE, 0, 0, 0, err);
    if (rc == 0)
        rc =
            hs_channel_insert(txn, general, gid, HS_CHANNEL_TEXT, "general", 0, 0, NULL, 0, 0, err);
    if (rc == 0)
        rc = insert_member(txn, gid, op->owner_id, err);
    if (rc < 0)
        return rc;
    op->guild = hs_guild_json(db, gid, 0);
    json_t *ev = json_deep_copy(op->guild);
    json_t *channels = json_array();
    json_array_append_new(channels, hs_channel_json(db, general));
    json_object_set_new(ev, "channels", channels);
    rc = hs_txn_event(txn, "GUILD_CREATE", gid, 0, op->owner_id, ev, err);
    if (rc == 0)
        rc = member_event(txn, gid, op->owner_id, op->owner_id, err);
    return rc;
}

int hs_bot_authorize_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_bot_authorize *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_app app;
    uint64_t perms;
    int rc = hs_app_get(db, op->app_id, &app, err);
    if (rc < 0)
        return rc;
    rc = hs_perm_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_GUILD) || (!app.bot_public && app.owner_id != op->actor_id))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");

    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM members WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, op->guild_id);
    hs_bind_id(s, 2, app.bot_user_id);
    int member = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    if (member) {
        op->added = 0;
        return 0;
    }
    if (hs_member_is_banned(db, op->guild_id, app.bot_user_id))
        return hs_error_reason(err, HS_EPERM, HS_R_BANNED, "The user is banned from this guild.");
    rc = insert_member(txn, op->guild_id, app.bot_user_id, err);
    if (rc < 0)
        return rc;
    if (op->permissions) {
        uint64_t role_id = hs_txn_new_id(txn);
        sqlite3_stmt *q = hs_db_stmt(db, "SELECT name FROM applications WHERE id = ?");
        hs_bind_id(q, 1, app.id);
        char *name = hs_xstrdup(sqlite3_step(q) == SQLITE_ROW ? hs_col_text(q, 0) : "bot");
        sqlite3_reset(q);
        q = hs_db_stmt(db, "SELECT coalesce(max(position) + 1, 1) FROM roles WHERE guild_id = ?");
        hs_bind_id(q, 1, op->guild_id);
        int position = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 1;
        sqlite3_reset(q);
        rc = hs_role_insert(txn, role_id, op->guild_id, name, op->permissions & HS_PERM_ALL,
                            position, 1, app.bot_user_id, err);
        free(name);
        if (rc < 0)
            return rc;
        q = hs_db_stmt(db,
                       "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES (?, ?, ?)");
        hs_bind_id(q, 1, op->guild_id);
        hs_bind_id(q, 2, app.bot_user_id);
        hs_bind_id(q, 3, role_id);
        rc = hs_db_step_done(db, q, err, "giving a role");
        if (rc < 0)
            return rc;
        json_t *ev = json_pack("{s:o, s:o}", "guild_id", hs_json_id(op->guild_id), "role",
                               hs_role_json(db, role_id));
        rc = hs_txn_event(txn, "GUILD_ROLE_CREATE", op->guild_id, 0, op->actor_id, ev, err);
        if (rc < 0)
            return rc;
    }
    op->added = 1;
    rc = member_event(txn, op->guild_id, app.bot_user_id, op->actor_id, err);
    if (rc == 0)
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_BOT_ADD, app.bot_user_id,
                             NULL, NULL, NULL, err);
    return rc;
}

json_t *hs_member_json(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT nick, joined_at, communication_disabled_until FROM "
                                     "members WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    const char *nick = hs_col_text(s, 0);
    json_t *m =
        json_pack("{s:o, s:n, s:o, s:n, s:b, s:b, s:i, s:b, s:o}", "nick",
                  nick ? json_string(nick) : json_null(), "avatar", "joined_at",
                  hs_json_time((uint64_t)sqlite3_column_int64(s, 1)), "premium_since", "deaf", 0,
                  "mute", 0, "flags", 0, "pending", 0, "communication_disabled_until",
                  hs_json_time_or_null((uint64_t)sqlite3_column_int64(s, 2)));
    sqlite3_reset(s);
    HS_ASSERT(m);
    json_t *roles = json_array();
    s = hs_db_stmt(db, "SELECT role_id FROM member_roles WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(roles, hs_json_id(hs_col_id(s, 0)));
    sqlite3_reset(s);
    json_object_set_new(m, "roles", roles);
    json_t *u = hs_user_json(db, user_id, 0);
    json_object_set_new(m, "user", u ? u : json_null());
    return m;
}

int64_t hs_member_count(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM members WHERE guild_id = ?");
    hs_bind_id(s, 1, guild_id);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

json_t *hs_member_list(hs_db *db, uint64_t guild_id, uint64_t after, int limit)
{
    uint64_t *ids = hs_xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*ids));
    int n = 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT user_id FROM members WHERE guild_id = ? AND "
                                     "user_id > ? ORDER BY user_id LIMIT ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    while (n < limit && sqlite3_step(s) == SQLITE_ROW)
        ids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *m = hs_member_json(db, guild_id, ids[i]);
        if (m)
            json_array_append_new(out, m);
    }
    free(ids);
    return out;
}

uint64_t *hs_guild_ids_for_user(hs_db *db, uint64_t user_id, size_t *n)
{
    uint64_t *ids = NULL;
    size_t cap = 0;
    *n = 0;
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT guild_id FROM members WHERE user_id = ? ORDER BY guild_id");
    hs_bind_id(s, 1, user_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            ids = hs_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[(*n)++] = hs_col_id(s, 0);
    }
    sqlite3_reset(s);
    return ids;
}

json_t *hs_member_search(hs_db *db, uint64_t guild_id, const char *prefix, int limit)
{
    /* LIKE with the pattern characters escaped: the prefix is matched literally. */
    hs_buf pat = HS_BUF_INIT;
    for (const char *p = prefix; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            hs_buf_add(&pat, "\\", 1);
        hs_buf_add(&pat, p, 1);
    }
    hs_buf_add(&pat, "%", 1);
    uint64_t *ids = hs_xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*ids));
    int n = 0;
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT m.user_id FROM members m JOIN users u ON u.id = m.user_id WHERE m.guild_id = "
            "?1 AND (u.username LIKE ?2 ESCAPE '\\' OR m.nick LIKE ?2 ESCAPE '\\') ORDER BY "
            "m.user_id LIMIT ?3");
    hs_bind_id(s, 1, guild_id);
    sqlite3_bind_text(s, 2, pat.data, (int)pat.len, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, limit);
    while (n < limit && sqlite3_step(s) == SQLITE_ROW)
        ids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    hs_buf_release(&pat);
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *m = hs_member_json(db, guild_id, ids[i]);
        if (m)
            json_array_append_new(out, m);
    }
    free(ids);
    return out;
}
