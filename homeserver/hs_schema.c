/*
 * The schema, as a list of migrations (spec/storage.md §2). Migration N takes a database
 * from user_version N-1 to N. Never edit a migration that has shipped: add the next one.
 */
#include "hs_store.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const migrations[] = {
    /* 1: accounts, tokens, applications. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  username TEXT NOT NULL UNIQUE,"
    "  global_name TEXT,"
    "  password_hash TEXT,"
    "  bot INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE tokens ("
    "  user_id INTEGER NOT NULL,"
    "  hash BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, hash)) WITHOUT ROWID;"
    "CREATE TABLE applications ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  owner_id INTEGER,"
    "  bot_user_id INTEGER NOT NULL UNIQUE,"
    "  bot_public INTEGER NOT NULL DEFAULT 1,"
    "  created_at INTEGER NOT NULL);",

    /* 2: guilds, roles, channels, members, messages and the event log. Messages are
     * clustered by channel so a history page is one contiguous range of one b-tree. */
    "CREATE TABLE guilds ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  owner_id INTEGER NOT NULL,"
    "  system_channel_id INTEGER,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE roles ("
    "  id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  permissions INTEGER NOT NULL,"
    "  position INTEGER NOT NULL DEFAULT 0,"
    "  color INTEGER NOT NULL DEFAULT 0,"
    "  hoist INTEGER NOT NULL DEFAULT 0,"
    "  mentionable INTEGER NOT NULL DEFAULT 0,"
    "  managed INTEGER NOT NULL DEFAULT 0,"
    "  bot_id INTEGER);"
    "CREATE INDEX roles_by_guild ON roles (guild_id, position);"
    "CREATE TABLE channels ("
    "  id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER,"
    "  type INTEGER NOT NULL,"
    "  name TEXT,"
    "  position INTEGER NOT NULL DEFAULT 0,"
    "  parent_id INTEGER,"
    "  topic TEXT,"
    "  nsfw INTEGER NOT NULL DEFAULT 0,"
    "  rate_limit_per_user INTEGER NOT NULL DEFAULT 0,"
    "  last_message_id INTEGER);"
    "CREATE INDEX channels_by_guild ON channels (guild_id, position);"
    "CREATE TABLE members ("
    "  guild_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  nick TEXT,"
    "  joined_at INTEGER NOT NULL,"
    "  PRIMARY KEY (guild_id, user_id)) WITHOUT ROWID;"
    "CREATE INDEX members_by_user ON members (user_id, guild_id);"
    "CREATE TABLE member_roles ("
    "  guild_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  role_id INTEGER NOT NULL,"
    "  PRIMARY KEY (guild_id, user_id, role_id)) WITHOUT ROWID;"
    "CREATE TABLE messages ("
    "  channel_id INTEGER NOT NULL,"
    "  id INTEGER NOT NULL,"
    "  author_id INTEGER NOT NULL,"
    "  content TEXT NOT NULL,"
    "  edited_at INTEGER,"
    "  type INTEGER NOT NULL DEFAULT 0,"
    "  flags INTEGER NOT NULL DEFAULT 0,"
    "  tts INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (channel_id, id)) WITHOUT ROWID;"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  type TEXT NOT NULL,"
    "  guild_id INTEGER,"
    "  channel_id INTEGER,"
    "  actor_id INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  data TEXT NOT NULL);"
    "CREATE INDEX events_by_guild ON events (guild_id, seq);",

    /* 3: application flags (privileged gateway intents: presence, members and message
     * content allowed by default). */
    "ALTER TABLE applications ADD COLUMN flags INTEGER NOT NULL DEFAULT 282624;",
};

int hs_schema_version_latest(void)
{
    return (int)HS_ARRAY_LEN(migrations);
}

int hs_schema_version(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

int hs_schema_migrate(sqlite3 *db, hs_error *err)
{
    int have = hs_schema_version(db);
    int latest = hs_schema_version_latest();
    if (have < 0)
        return hs_error_set(err, HS_EIO, "cannot read the schema version: %s", sqlite3_errmsg(db));
    if (have > latest)
        return hs_error_set(err, HS_EINVAL,
                            "database schema version %d is newer than this hearthd (%d)", have,
                            latest);
    for (int v = have + 1; v <= latest; v++) {
        char *msg = NULL;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", v);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v - 1], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            int rc = hs_error_set(err, HS_EIO, "migration %d failed: %s", v,
                                  msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return 0;
}
