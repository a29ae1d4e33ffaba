/*
 * The schema, as a list of migrations (spec/storage.md §2). Migration N takes a database
 * from user_version N-1 to N. Never edit a migration that has shipped: add the next one.
 */
#include "hs_search.h"
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

    /* 4: the Discord REST surface: overwrites, timeouts, bans, invites, pins, replies,
     * mentions, reactions, idempotent sends, attachments, threads, DMs, the audit log. */
    "CREATE TABLE overwrites ("
    "  channel_id INTEGER NOT NULL,"
    "  target_id INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  allow INTEGER NOT NULL DEFAULT 0,"
    "  deny INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (channel_id, target_id)) WITHOUT ROWID;"
    "ALTER TABLE members ADD COLUMN communication_disabled_until INTEGER;"
    "CREATE TABLE bans ("
    "  guild_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  reason TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (guild_id, user_id)) WITHOUT ROWID;"
    "CREATE TABLE invites ("
    "  code TEXT PRIMARY KEY,"
    "  guild_id INTEGER NOT NULL,"
    "  channel_id INTEGER NOT NULL,"
    "  inviter_id INTEGER NOT NULL,"
    "  max_age INTEGER NOT NULL,"
    "  max_uses INTEGER NOT NULL,"
    "  uses INTEGER NOT NULL DEFAULT 0,"
    "  temporary INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER);"
    "CREATE INDEX invites_by_guild ON invites (guild_id);"
    "CREATE INDEX invites_by_channel ON invites (channel_id);"
    "ALTER TABLE messages ADD COLUMN pinned_at INTEGER;"
    "ALTER TABLE messages ADD COLUMN ref_message_id INTEGER;"
    "ALTER TABLE messages ADD COLUMN ref_channel_id INTEGER;"
    "ALTER TABLE messages ADD COLUMN mention_everyone INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN mentions TEXT;"      /* JSON array of user ids */
    "ALTER TABLE messages ADD COLUMN mention_roles TEXT;" /* JSON array of role ids */
    "ALTER TABLE messages ADD COLUMN attachments TEXT;"   /* JSON array of attachments */
    "ALTER TABLE messages ADD COLUMN embeds TEXT;"        /* JSON array of embeds */
    "CREATE INDEX messages_pinned ON messages (channel_id, pinned_at) WHERE pinned_at IS NOT "
    "NULL;"
    "CREATE INDEX messages_by_author ON messages (author_id, channel_id);"
    "CREATE TABLE reactions ("
    "  channel_id INTEGER NOT NULL,"
    "  message_id INTEGER NOT NULL,"
    "  emoji TEXT NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (channel_id, message_id, emoji, user_id)) WITHOUT ROWID;"
    "CREATE TABLE nonces ("
    "  channel_id INTEGER NOT NULL,"
    "  author_id INTEGER NOT NULL,"
    "  nonce TEXT NOT NULL,"
    "  message_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (channel_id, author_id, nonce)) WITHOUT ROWID;"
    "CREATE TABLE attachments ("
    "  id INTEGER PRIMARY KEY,"
    "  channel_id INTEGER NOT NULL,"
    "  message_id INTEGER,"
    "  sha256 TEXT NOT NULL,"
    "  filename TEXT NOT NULL,"
    "  content_type TEXT,"
    "  size INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX attachments_by_message ON attachments (channel_id, message_id);"
    "ALTER TABLE channels ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE channels ADD COLUMN owner_id INTEGER;" /* thread creator, group DM owner */
    "ALTER TABLE channels ADD COLUMN icon TEXT;"
    "ALTER TABLE channels ADD COLUMN dm_key TEXT;" /* 'lowid:highid' of a 1:1 DM */
    "ALTER TABLE channels ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE channels ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE channels ADD COLUMN invitable INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE channels ADD COLUMN auto_archive_duration INTEGER;"
    "ALTER TABLE channels ADD COLUMN archive_timestamp INTEGER;"
    "ALTER TABLE channels ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE channels ADD COLUMN channel_flags INTEGER NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX channels_dm_key ON channels (dm_key) WHERE dm_key IS NOT NULL;"
    "CREATE INDEX channels_by_parent ON channels (parent_id) WHERE parent_id IS NOT NULL;"
    "CREATE TABLE thread_members ("
    "  thread_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  join_timestamp INTEGER NOT NULL,"
    "  flags INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (thread_id, user_id)) WITHOUT ROWID;"
    "CREATE INDEX thread_members_by_user ON thread_members (user_id, thread_id);"
    "CREATE TABLE recipients ("
    "  channel_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  PRIMARY KEY (channel_id, user_id)) WITHOUT ROWID;"
    "CREATE INDEX recipients_by_user ON recipients (user_id, channel_id);"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER NOT NULL,"
    "  user_id INTEGER,"
    "  action_type INTEGER NOT NULL,"
    "  target_id INTEGER,"
    "  changes TEXT,"
    "  options TEXT,"
    "  reason TEXT);"
    "CREATE INDEX audit_log_by_guild ON audit_log (guild_id, id);",

    /* 5: closing a DM hides it for one recipient only (spec/rest-invites.md "DMs"):
     * closed_id is an id drawn when the recipient closed it; the DM is listed again once a
     * message newer than that id arrives, or when the recipient opens it again. */
    "ALTER TABLE recipients ADD COLUMN closed_id INTEGER;",

    /* 6: the full-text search index (homeserver/hs_search.c explains the design): a
     * contentless FTS5 table keyed by message id, a side table mapping that id back to its
     * channel, and triggers that keep both in the transaction of every message write.
     * Existing messages are indexed here. */
    HS_SEARCH_MIGRATION,

    /* 7: temporary membership (an invite's `temporary`): such a member is removed when its
     * last gateway session ends, unless it has been given a role (spec/rest-invites.md). */
    "ALTER TABLE members ADD COLUMN temporary INTEGER NOT NULL DEFAULT 0;",

    /* 8: AutoMod (homeserver/hs_automod.c, spec/rest-automod.md): rules in Discord's shape,
     * their trigger metadata, actions and exempt lists as canonical JSON; per guild a
     * version stamp, a fresh id at every change of its rules or spam settings (the writer's
     * cache of compiled rules compares it), and the spam settings as JSON. */
    "CREATE TABLE IF NOT EXISTS automod_rules ("
    "  id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  creator_id INTEGER NOT NULL,"
    "  event_type INTEGER NOT NULL,"
    "  trigger_type INTEGER NOT NULL,"
    "  trigger_metadata TEXT NOT NULL,"
    "  actions TEXT NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  exempt_roles TEXT NOT NULL,"
    "  exempt_channels TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS automod_rules_by_guild ON automod_rules (guild_id, id);"
    "CREATE TABLE IF NOT EXISTS automod_guilds ("
    "  guild_id INTEGER PRIMARY KEY,"
    "  version INTEGER NOT NULL,"
    "  spam TEXT);",
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
