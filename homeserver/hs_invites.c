/*
 * DESIGN: an invite row is kept until it is deleted or its last use is taken; expiry is
 * decided when the row is read (every query carries the "live" condition with the time of
 * the read, or of the transaction for writes), so no timer is needed and a clock reading
 * taken once per group decides consistently for every write of that group. Expired rows
 * of a guild are swept when a new invite of that guild is created, which bounds them by
 * the rate invites are made.
 *
 * Joining takes the membership and the use in one transaction, so two joins racing for
 * the last use of an invite cannot both succeed: the writer serialises them and the
 * second finds the invite gone.
 */
#include "hs_invites.h"
#include "hs_members.h"
#include "hs_accounts.h"
#include "hs_audit.h"
#include "hs_channels.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BASE62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

void hs_invite_code_new(char out[HS_INVITE_CODE_MAX + 1])
{
    size_t len =
        HS_INVITE_CODE_MIN + randombytes_uniform(HS_INVITE_CODE_MAX - HS_INVITE_CODE_MIN + 1);
    for (size_t i = 0; i < len; i++)
        out[i] = BASE62[randombytes_uniform((uint32_t)(sizeof(BASE62) - 1))];
    out[len] = '\0';
}

int hs_invite_code_ok(const char *code)
{
    size_t n = 0;
    for (const char *p = code; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return 0;
    }
    return n >= 1 && n <= 32;
}

struct invite_row {
    char code[33]; /* stored codes are 8-10 characters; a lookup may name up to 32 */
    uint64_t guild_id, channel_id, inviter_id;
    int max_age, max_uses, uses, temporary;
    uint64_t created_at, expires_at; /* unix ms; expires_at 0: never */
};

/* Every query selects these columns and joins the channel, which must not be deleted: the
 * invites of a deleted channel are gone with it. */
#define INVITE_COLUMNS                                                                             \
    "i.code, i.guild_id, i.channel_id, i.inviter_id, i.max_age, i.max_uses, i.uses, "              \
    "i.temporary, i.created_at, i.expires_at FROM invites i JOIN channels c ON c.id = "            \
    "i.channel_id AND c.deleted = 0 "
/* An invite is live while it has not expired (?2: now) and has uses left. */
#define INVITE_LIVE                                                                                \
    " (i.expires_at IS NULL OR i.expires_at > ?2) AND (i.max_uses = 0 OR i.uses < i.max_uses) "

static void read_row(sqlite3_stmt *s, struct invite_row *r)
{
    const char *code = hs_col_text(s, 0);
    snprintf(r->code, sizeof(r->code), "%s", code ? code : "");
    r->guild_id = hs_col_id(s, 1);
    r->channel_id = hs_col_id(s, 2);
    r->inviter_id = hs_col_id(s, 3);
    r->max_age = sqlite3_column_int(s, 4);
    r->max_uses = sqlite3_column_int(s, 5);
    r->uses = sqlite3_column_int(s, 6);
    r->temporary = sqlite3_column_int(s, 7);
    r->created_at = (uint64_t)sqlite3_column_int64(s, 8);
    r->expires_at = (uint64_t)sqlite3_column_int64(s, 9);
}

/* Loads a live invite; HS_R_UNKNOWN_INVITE when there is none. */
static int load_live(hs_db *db, const char *code, uint64_t now_ms, struct invite_row *r,
                     hs_error *err)
{
    if (!hs_invite_code_ok(code))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_INVITE, "Unknown Invite");
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT " INVITE_COLUMNS "WHERE i.code = ?1 AND" INVITE_LIVE);
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now_ms);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found)
        read_row(s, r);
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_INVITE, "Unknown Invite");
    return 0;
}

/* The partial guild of an invite, as Discord shows it to anyone holding the code. */
static json_t *guild_partial(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT name FROM guilds WHERE id = ?");
    hs_bind_id(s, 1, guild_id);
    json_t *name = sqlite3_step(s) == SQLITE_ROW ? json_string(hs_col_text(s, 0)) : json_null();
    sqlite3_reset(s);
    json_t *g = json_pack("{s:o, s:o, s:n, s:n, s:n, s:n, s:[], s:i, s:n, s:i, s:i}", "id",
                          hs_json_id(guild_id), "name", name, "splash", "banner", "description",
                          "icon", "features", "verification_level", 0, "vanity_url_code",
                          "nsfw_level", 0, "premium_subscription_count", 0);
    HS_ASSERT(g);
    return g;
}

static json_t *channel_partial(hs_db *db, uint64_t channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT name, type FROM channels WHERE id = ?");
    hs_bind_id(s, 1, channel_id);
    json_t *c = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *name = hs_col_text(s, 0);
        c = json_pack("{s:o, s:i, s:o}", "id", hs_json_id(channel_id), "type",
                      sqlite3_column_int(s, 1), "name", name ? json_string(name) : json_null());
    }
    sqlite3_reset(s);
    return c ? c : json_null();
}

static json_t *user_or_null(hs_db *db, uint64_t user_id)
{
    json_t *u = hs_user_json(db, user_id, 0);
    return u ? u : json_null();
}

/* The invite object with its metadata (Discord's "invite metadata" fields included). */
static json_t *invite_json(hs_db *db, const struct invite_row *r, int with_counts)
{
    json_t *inv = json_pack(
        "{s:i, s:s, s:o, s:o, s:o, s:i, s:i, s:i, s:b, s:o, s:o}", "type", 0, "code", r->code,
        "guild", guild_partial(db, r->guild_id), "channel", channel_partial(db, r->channel_id),
        "inviter", user_or_null(db, r->inviter_id), "max_age", r->max_age, "max_uses", r->max_uses,
        "uses", r->uses, "temporary", r->temporary, "created_at", hs_json_time(r->created_at),
        "expires_at", hs_json_time_or_null(r->expires_at));
    HS_ASSERT(inv);
    if (with_counts) {
        json_object_set_new(inv, "approximate_member_count",
                            json_integer(hs_member_count(db, r->guild_id)));
        /* Presence lives in the gateway; like GET /guilds/{id}, nobody counts as online. */
        json_object_set_new(inv, "approximate_presence_count", json_integer(0));
    }
    return inv;
}

int hs_invite_get(hs_db *db, const char *code, uint64_t now_ms, int with_counts, json_t **out,
                  hs_error *err)
{
    struct invite_row r;
    int rc = load_live(db, code, now_ms, &r, err);
    if (rc < 0)
        return rc;
    *out = invite_json(db, &r, with_counts);
    return 0;
}

/* Runs a listing statement (already bound) and builds the objects once it is done: building
 * them runs other statements of the same connection. */
static json_t *list_rows(hs_db *db, sqlite3_stmt *s)
{
    struct invite_row *rows = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = hs_xrealloc(rows, cap * sizeof(*rows));
        }
        read_row(s, &rows[n++]);
    }
    sqlite3_reset(s);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, invite_json(db, &rows[i], 0));
    free(rows);
    return out;
}

int hs_invite_list_channel(hs_db *db, uint64_t channel_id, uint64_t user_id, uint64_t now_ms,
                           json_t **out, hs_error *err)
{
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, channel_id, user_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_CHANNELS))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " INVITE_COLUMNS "WHERE i.channel_id = ?1 AND" INVITE_LIVE
                       "ORDER BY i.created_at, i.code");
    hs_bind_id(s, 1, channel_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now_ms);
    *out = list_rows(db, s);
    return 0;
}

int hs_invite_list_guild(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t now_ms,
                         json_t **out, hs_error *err)
{
    uint64_t perms;
    int rc = hs_perm_guild(db, guild_id, user_id, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_GUILD))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " INVITE_COLUMNS "WHERE i.guild_id = ?1 AND" INVITE_LIVE
                       "ORDER BY i.created_at, i.code");
    hs_bind_id(s, 1, guild_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now_ms);
    *out = list_rows(db, s);
    return 0;
}

/* The audit log's view of an invite: Discord lists these keys for invite entries. */
static json_t *audit_changes(const struct invite_row *r, int created)
{
    struct {
        const char *key;
        json_t *value;
    } kv[] = {
        {"code", json_string(r->code)},
        {"channel_id", hs_json_id(r->channel_id)},
        {"inviter_id", hs_json_id(r->inviter_id)},
        {"uses", json_integer(r->uses)},
        {"max_uses", json_integer(r->max_uses)},
        {"max_age", json_integer(r->max_age)},
        {"temporary", json_boolean(r->temporary)},
    };
    json_t *changes = json_array();
    for (size_t i = 0; i < HS_ARRAY_LEN(kv); i++)
        json_array_append_new(changes, created ? hs_audit_change(kv[i].key, NULL, kv[i].value)
                                               : hs_audit_change(kv[i].key, kv[i].value, NULL));
    return changes;
}

static int delete_row(hs_txn *txn, const struct invite_row *r, uint64_t actor_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM invites WHERE code = ?");
    sqlite3_bind_text(s, 1, r->code, -1, SQLITE_TRANSIENT);
    int rc = hs_db_step_done(db, s, err, "deleting an invite");
    if (rc < 0)
        return rc;
    json_t *ev = json_pack("{s:o, s:o, s:s}", "channel_id", hs_json_id(r->channel_id), "guild_id",
                           hs_json_id(r->guild_id), "code", r->code);
    return hs_txn_event(txn, "INVITE_DELETE", r->guild_id, r->channel_id, actor_id, ev, err);
}

/* An equivalent live invite of the same inviter, for unique = false. */
static int find_equivalent(hs_db *db, const struct hs_invite_create *op, uint64_t now_ms,
                           struct invite_row *r)
{
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT " INVITE_COLUMNS "WHERE i.channel_id = ?1 AND" INVITE_LIVE
            "AND i.inviter_id = ?3 AND i.max_age = ?4 AND i.max_uses = ?5 AND i.temporary = ?6 "
            "ORDER BY i.created_at DESC LIMIT 1");
    hs_bind_id(s, 1, op->channel_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now_ms);
    hs_bind_id(s, 3, op->actor_id);
    sqlite3_bind_int(s, 4, op->max_age);
    sqlite3_bind_int(s, 5, op->max_uses);
    sqlite3_bind_int(s, 6, op->temporary ? 1 : 0);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found)
        read_row(s, r);
    sqlite3_reset(s);
    return found;
}

static int code_taken(hs_db *db, const char *code)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM invites WHERE code = ?");
    sqlite3_bind_text(s, 1, code, -1, SQLITE_TRANSIENT);
    int taken = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return taken;
}

int hs_invite_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_invite_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    /* Invites lead into a guild through a channel one can sit in; not DMs, categories or
     * threads. */
    if (!ch.guild_id || (ch.type != HS_CHANNEL_TEXT && ch.type != HS_CHANNEL_VOICE))
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    if (!(perms & HS_PERM_CREATE_INSTANT_INVITE))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (op->max_age < 0 || op->max_age > HS_INVITE_MAX_AGE)
        return hs_error_form(err, "max_age",
                             op->max_age < 0 ? "NUMBER_TYPE_MIN" : "NUMBER_TYPE_MAX",
                             "int value should be between 0 and %d.", HS_INVITE_MAX_AGE);
    if (op->max_uses < 0 || op->max_uses > HS_INVITE_MAX_USES)
        return hs_error_form(err, "max_uses",
                             op->max_uses < 0 ? "NUMBER_TYPE_MIN" : "NUMBER_TYPE_MAX",
                             "int value should be between 0 and %d.", HS_INVITE_MAX_USES);

    uint64_t now = hs_txn_now_ms(txn);
    struct invite_row r;
    if (!op->unique && find_equivalent(db, op, now, &r)) {
        op->invite = invite_json(db, &r, 0);
        op->created = 0;
        return 0;
    }

    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM invites WHERE guild_id = ? AND expires_at IS "
                                     "NOT NULL AND expires_at <= ?");
    hs_bind_id(s, 1, ch.guild_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
    rc = hs_db_step_done(db, s, err, "sweeping expired invites");
    if (rc < 0)
        return rc;

    memset(&r, 0, sizeof(r));
    /* 62^8 codes: a clash is rare enough that a few draws always find a free one. */
    int tries = 0;
    do {
        if (++tries > 16)
            return hs_error_set(err, HS_EIO, "no free invite code after 16 draws");
        hs_invite_code_new(r.code);
    } while (code_taken(db, r.code));
    r.guild_id = ch.guild_id;
    r.channel_id = ch.id;
    r.inviter_id = op->actor_id;
    r.max_age = op->max_age;
    r.max_uses = op->max_uses;
    r.temporary = op->temporary ? 1 : 0;
    r.created_at = now;
    r.expires_at = op->max_age ? now + (uint64_t)op->max_age * 1000 : 0;

    s = hs_db_stmt(db, "INSERT INTO invites (code, guild_id, channel_id, inviter_id, max_age, "
                       "max_uses, uses, temporary, created_at, expires_at) VALUES (?, ?, ?, ?, "
                       "?, ?, 0, ?, ?, ?)");
    sqlite3_bind_text(s, 1, r.code, -1, SQLITE_TRANSIENT);
    hs_bind_id(s, 2, r.guild_id);
    hs_bind_id(s, 3, r.channel_id);
    hs_bind_id(s, 4, r.inviter_id);
    sqlite3_bind_int(s, 5, r.max_age);
    sqlite3_bind_int(s, 6, r.max_uses);
    sqlite3_bind_int(s, 7, r.temporary);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)r.created_at);
    if (r.expires_at)
        sqlite3_bind_int64(s, 9, (sqlite3_int64)r.expires_at);
    rc = hs_db_step_done(db, s, err, "storing an invite");
    if (rc < 0)
        return rc;

    op->invite = invite_json(db, &r, 0);
    op->created = 1;
    json_t *ev = json_pack("{s:o, s:s, s:o, s:o, s:O, s:i, s:i, s:b, s:i, s:o, s:i}", "channel_id",
                           hs_json_id(r.channel_id), "code", r.code, "created_at",
                           hs_json_time(r.created_at), "guild_id", hs_json_id(r.guild_id),
                           "inviter", json_object_get(op->invite, "inviter"), "max_age", r.max_age,
                           "max_uses", r.max_uses, "temporary", r.temporary, "uses", 0,
                           "expires_at", hs_json_time_or_null(r.expires_at), "type", 0);
    HS_ASSERT(ev);
    rc = hs_txn_event(txn, "INVITE_CREATE", r.guild_id, r.channel_id, op->actor_id, ev, err);
    if (rc == 0)
        rc = hs_audit_record(txn, r.guild_id, op->actor_id, HS_AUDIT_INVITE_CREATE, 0,
                             audit_changes(&r, 1), NULL, op->reason, err);
    return rc;
}

int hs_invite_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_invite_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct invite_row r;
    uint64_t perms = 0;
    int rc = load_live(db, op->code, hs_txn_now_ms(txn), &r, err);
    if (rc == 0)
        rc = hs_perm_guild(db, r.guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_GUILD)) {
        uint64_t cperms = 0;
        hs_perm_channel(db, r.channel_id, op->actor_id, 0, &cperms, NULL);
        if (!(cperms & HS_PERM_MANAGE_CHANNELS))
            return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    }
    op->invite = invite_json(db, &r, 0);
    rc = delete_row(txn, &r, op->actor_id, err);
    if (rc == 0)
        rc = hs_audit_record(txn, r.guild_id, op->actor_id, HS_AUDIT_INVITE_DELETE, 0,
                             audit_changes(&r, 0), NULL, op->reason, err);
    return rc;
}

static int is_member(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM members WHERE guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    int member = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return member;
}

int hs_invite_accept_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_invite_accept *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct invite_row r;
    int rc = load_live(db, op->code, hs_txn_now_ms(txn), &r, err);
    if (rc < 0)
        return rc;
    if (hs_member_is_banned(db, r.guild_id, op->user_id))
        return hs_error_reason(err, HS_EPERM, HS_R_BANNED, "The user is banned from this guild.");
    if (is_member(db, r.guild_id, op->user_id)) {
        /* Joining again is not a use: nothing changes. */
        op->invite = invite_json(db, &r, 0);
        op->joined = 0;
        return 0;
    }
    sqlite3_stmt *s = hs_db_stmt(
        db, "INSERT INTO members (guild_id, user_id, joined_at, temporary) VALUES (?, ?, ?, ?)");
    hs_bind_id(s, 1, r.guild_id);
    hs_bind_id(s, 2, op->user_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)hs_txn_now_ms(txn));
    sqlite3_bind_int(s, 4, r.temporary);
    rc = hs_db_step_done(db, s, err, "storing a member");
    if (rc < 0)
        return rc;
    s = hs_db_stmt(db, "UPDATE invites SET uses = uses + 1 WHERE code = ?");
    sqlite3_bind_text(s, 1, r.code, -1, SQLITE_TRANSIENT);
    rc = hs_db_step_done(db, s, err, "counting an invite use");
    if (rc < 0)
        return rc;
    r.uses++;
    op->invite = invite_json(db, &r, 0);
    op->joined = 1;

    /* The gateway answers GUILD_MEMBER_ADD with GUILD_CREATE to the joiner's sessions. */
    json_t *m = hs_member_json(db, r.guild_id, op->user_id);
    HS_ASSERT(m);
    json_object_set_new(m, "guild_id", hs_json_id(r.guild_id));
    rc = hs_txn_event(txn, "GUILD_MEMBER_ADD", r.guild_id, 0, op->user_id, m, err);
    if (rc == 0 && r.max_uses && r.uses >= r.max_uses)
        rc = delete_row(txn, &r, op->user_id, err);
    return rc;
}
