/*
 * Messages (spec/client-api.md "Messages", spec/rest-messages.md).
 *
 * DESIGN: a message row stores what was decided when it was written: its mentions (user
 * and role ids, resolved once, so history shows what notified whom), its reply target and
 * its attachments (the attachment objects as JSON; the attachments table, keyed by id,
 * is what downloads look up). The message object is built from a row plus a few indexed
 * reads: the mentioned users (with their partial member), the reactions as the viewer
 * sees them, and for a reply the message it answers. A row is copied out of its statement
 * before those reads run, because they may reuse the same cached statement (a reply
 * loads its target through msg_load again).
 */
#include "hs_messages.h"
#include "hs_accounts.h"
#include "hs_audit.h"
#include "hs_automod.h"
#include "hs_channels.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_COLUMNS                                                                                \
    "m.id, m.author_id, m.content, m.edited_at, m.type, m.flags, m.tts, u.username, "              \
    "u.global_name, u.bot, m.pinned_at, m.ref_message_id, m.ref_channel_id, m.mention_everyone, "  \
    "m.mentions, m.mention_roles, m.attachments, m.embeds"
#define MSG_FROM " FROM messages m JOIN users u ON u.id = m.author_id "

/* One row of MSG_COLUMNS, copied out of its statement. */
struct msg_row {
    uint64_t id, author_id, edited_at, pinned_at, ref_message_id, ref_channel_id;
    int type, flags, tts, bot, mention_everyone;
    char *content, *username, *global_name, *mentions, *mention_roles, *attachments, *embeds;
};

static char *dup_or_null(const char *s)
{
    return s ? hs_xstrdup(s) : NULL;
}

static void row_read(sqlite3_stmt *s, struct msg_row *r)
{
    r->id = hs_col_id(s, 0);
    r->author_id = hs_col_id(s, 1);
    r->content = hs_xstrdup(hs_col_text(s, 2) ? hs_col_text(s, 2) : "");
    r->edited_at = (uint64_t)sqlite3_column_int64(s, 3);
    r->type = sqlite3_column_int(s, 4);
    r->flags = sqlite3_column_int(s, 5);
    r->tts = sqlite3_column_int(s, 6);
    r->username = hs_xstrdup(hs_col_text(s, 7) ? hs_col_text(s, 7) : "");
    r->global_name = dup_or_null(hs_col_text(s, 8));
    r->bot = sqlite3_column_int(s, 9);
    r->pinned_at = (uint64_t)sqlite3_column_int64(s, 10);
    r->ref_message_id = hs_col_id(s, 11);
    r->ref_channel_id = hs_col_id(s, 12);
    r->mention_everyone = sqlite3_column_int(s, 13);
    r->mentions = dup_or_null(hs_col_text(s, 14));
    r->mention_roles = dup_or_null(hs_col_text(s, 15));
    r->attachments = dup_or_null(hs_col_text(s, 16));
    r->embeds = dup_or_null(hs_col_text(s, 17));
}

static void row_release(struct msg_row *r)
{
    free(r->content);
    free(r->username);
    free(r->global_name);
    free(r->mentions);
    free(r->mention_roles);
    free(r->attachments);
    free(r->embeds);
}

/* A stored JSON array (NULL or unreadable: empty). */
static json_t *stored_array(const char *text)
{
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static uint64_t channel_guild(hs_db *db, uint64_t channel_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT guild_id FROM channels WHERE id = ?");
    hs_bind_id(s, 1, channel_id);
    uint64_t g = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return g;
}

/* Discord's partial member: the member object without its user. NULL when not a member. */
static json_t *partial_member(hs_db *db, uint64_t guild_id, uint64_t user_id)
{
    json_t *m = guild_id ? hs_member_json(db, guild_id, user_id) : NULL;
    if (m)
        json_object_del(m, "user");
    return m;
}

/* The mentioned users: user objects, each with its partial member in a guild. */
static json_t *mentions_json(hs_db *db, const char *stored, uint64_t guild_id)
{
    json_t *ids = stored_array(stored);
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        uint64_t uid;
        if (hs_parse_u64(json_string_value(v), &uid) < 0)
            continue;
        json_t *u = hs_user_json(db, uid, 0);
        if (!u)
            continue;
        json_t *m = partial_member(db, guild_id, uid);
        if (m)
            json_object_set_new(u, "member", m);
        json_array_append_new(out, u);
    }
    json_decref(ids);
    return out;
}

/* The reactions as viewer_id sees them, in the order their emoji first appeared. */
static json_t *reactions_json(hs_db *db, uint64_t channel_id, uint64_t message_id,
                              uint64_t viewer_id)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT emoji, count(*), max(user_id = ?3), min(created_at) AS first FROM "
                       "reactions WHERE channel_id = ?1 AND message_id = ?2 GROUP BY emoji "
                       "ORDER BY first, emoji");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, message_id);
    hs_bind_id(s, 3, viewer_id);
    json_t *out = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_int_t count = sqlite3_column_int64(s, 1);
        json_t *r = json_pack("{s:I, s:{s:i, s:I}, s:b, s:b, s:[], s:{s:n, s:s}}", "count", count,
                              "count_details", "burst", 0, "normal", count, "me",
                              viewer_id && sqlite3_column_int(s, 2), "me_burst", 0, "burst_colors",
                              "emoji", "id", "name", hs_col_text(s, 0));
        HS_ASSERT(r);
        json_array_append_new(out, r);
    }
    sqlite3_reset(s);
    return out;
}

static json_t *msg_load_depth(hs_db *db, uint64_t channel_id, uint64_t message_id,
                              uint64_t guild_id, uint64_t viewer_id, int depth);

static json_t *reference_json(uint64_t message_id, uint64_t channel_id, uint64_t guild_id)
{
    json_t *ref = json_pack("{s:i, s:o, s:o}", "type", 0, "message_id", hs_json_id(message_id),
                            "channel_id", hs_json_id(channel_id));
    if (guild_id)
        json_object_set_new(ref, "guild_id", hs_json_id(guild_id));
    return ref;
}

/* The message object of a row. depth 0 includes a reply's referenced_message (built at
 * depth 1, without its own). */
static json_t *msg_build(hs_db *db, const struct msg_row *r, uint64_t channel_id, uint64_t guild_id,
                         uint64_t viewer_id, int depth)
{
    json_t *author =
        json_pack("{s:o, s:s, s:s, s:o, s:n, s:b, s:i, s:i}", "id", hs_json_id(r->author_id),
                  "username", r->username, "discriminator", "0", "global_name",
                  r->global_name ? json_string(r->global_name) : json_null(), "avatar", "bot",
                  r->bot, "flags", 0, "public_flags", 0);
    json_t *m = json_pack(
        "{s:o, s:o, s:o, s:s, s:o, s:o, s:b, s:b, s:o, s:o, s:o, s:o, s:b, s:i, s:i, s:[]}", "id",
        hs_json_id(r->id), "channel_id", hs_json_id(channel_id), "author", author, "content",
        r->content, "timestamp", hs_json_time(hs_snowflake_unix_ms(r->id)), "edited_timestamp",
        hs_json_time_or_null(r->edited_at), "tts", r->tts, "mention_everyone", r->mention_everyone,
        "mentions", mentions_json(db, r->mentions, guild_id), "mention_roles",
        stored_array(r->mention_roles), "attachments", stored_array(r->attachments), "embeds",
        stored_array(r->embeds), "pinned", r->pinned_at != 0, "type", r->type, "flags", r->flags,
        "components");
    HS_ASSERT(m);
    json_t *reactions = reactions_json(db, channel_id, r->id, viewer_id);
    if (json_array_size(reactions))
        json_object_set_new(m, "reactions", reactions);
    else
        json_decref(reactions);
    if (r->ref_message_id) {
        uint64_t ref_channel = r->ref_channel_id ? r->ref_channel_id : channel_id;
        json_object_set_new(m, "message_reference",
                            reference_json(r->ref_message_id, ref_channel, guild_id));
        if (r->type == HS_MSG_REPLY && depth == 0) {
            json_t *target =
                msg_load_depth(db, ref_channel, r->ref_message_id, guild_id, viewer_id, 1);
            json_object_set_new(m, "referenced_message", target ? target : json_null());
        }
    }
    return m;
}

static json_t *msg_load_depth(hs_db *db, uint64_t channel_id, uint64_t message_id,
                              uint64_t guild_id, uint64_t viewer_id, int depth)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " MSG_COLUMNS MSG_FROM "WHERE m.channel_id = ? AND m.id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, message_id);
    struct msg_row row;
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found)
        row_read(s, &row);
    sqlite3_reset(s);
    if (!found)
        return NULL;
    json_t *m = msg_build(db, &row, channel_id, guild_id, viewer_id, depth);
    row_release(&row);
    return m;
}

json_t *hs_msg_json(hs_db *db, uint64_t channel_id, uint64_t message_id, uint64_t viewer_id)
{
    return msg_load_depth(db, channel_id, message_id, channel_guild(db, channel_id), viewer_id, 0);
}

uint64_t hs_msg_author(hs_db *db, uint64_t channel_id, uint64_t message_id)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT author_id FROM messages WHERE channel_id = ? AND id = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, message_id);
    uint64_t author = sqlite3_step(s) == SQLITE_ROW ? hs_col_id(s, 0) : 0;
    sqlite3_reset(s);
    return author;
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

/* Content may be empty when the message carries attachments. */
static int check_body(const char *content, size_t nattachments, int max_chars, hs_error *err)
{
    if (nattachments && (!content || !*content))
        return 0;
    return hs_msg_check_content(content, max_chars, err);
}

/* Binds a JSON value as compact text (NULL: SQL NULL); takes v. */
static void bind_json(sqlite3_stmt *s, int i, json_t *v)
{
    if (!v) {
        sqlite3_bind_null(s, i);
        return;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    HS_ASSERT(text);
    sqlite3_bind_text(s, i, text, -1, free);
}

/* The nonce as stored: strings as they are, integers in decimal (Discord treats the two
 * alike). */
static char *nonce_text(json_t *nonce)
{
    if (json_is_string(nonce))
        return hs_xstrdup(json_string_value(nonce));
    return hs_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(nonce));
}

/* The message an earlier request with this nonce created, if still within the window and
 * still there; 0 otherwise. */
static uint64_t nonce_lookup(hs_txn *txn, uint64_t channel_id, uint64_t author_id,
                             const char *nonce)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT message_id, created_at FROM nonces WHERE "
                                     "channel_id = ? AND author_id = ? AND nonce = ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, author_id);
    sqlite3_bind_text(s, 3, nonce, -1, SQLITE_STATIC);
    uint64_t id = 0;
    if (sqlite3_step(s) == SQLITE_ROW &&
        (uint64_t)sqlite3_column_int64(s, 1) + HS_MSG_NONCE_WINDOW_MS > hs_txn_now_ms(txn))
        id = hs_col_id(s, 0);
    sqlite3_reset(s);
    return id && hs_msg_author(db, channel_id, id) ? id : 0;
}

static int nonce_store(hs_txn *txn, uint64_t channel_id, uint64_t author_id, const char *nonce,
                       uint64_t message_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t now = hs_txn_now_ms(txn);
    /* Forget this author's expired nonces in this channel (an index range, never a scan). */
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM nonces WHERE channel_id = ? AND author_id = ? "
                                     "AND created_at < ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, author_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)(now - HS_MSG_NONCE_WINDOW_MS));
    int rc = hs_db_step_done(db, s, err, "forgetting nonces");
    if (rc < 0)
        return rc;
    s = hs_db_stmt(db, "INSERT OR REPLACE INTO nonces (channel_id, author_id, nonce, message_id, "
                       "created_at) VALUES (?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, author_id);
    sqlite3_bind_text(s, 3, nonce, -1, SQLITE_STATIC);
    hs_bind_id(s, 4, message_id);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)now);
    return hs_db_step_done(db, s, err, "remembering a nonce");
}

/* Inserts the attachment rows of a new message and returns their objects. */
static int store_attachments(hs_txn *txn, uint64_t channel_id, uint64_t message_id,
                             const struct hs_msg_attachment *a, size_t n, json_t **out,
                             hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    *out = n ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = hs_txn_new_id(txn);
        sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO attachments (id, channel_id, message_id, "
                                         "sha256, filename, content_type, size, created_at) "
                                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        hs_bind_id(s, 1, id);
        hs_bind_id(s, 2, channel_id);
        hs_bind_id(s, 3, message_id);
        hs_bind_text(s, 4, a[i].sha256);
        hs_bind_text(s, 5, a[i].filename);
        hs_bind_text(s, 6, a[i].content_type);
        sqlite3_bind_int64(s, 7, (sqlite3_int64)a[i].size);
        sqlite3_bind_int64(s, 8, (sqlite3_int64)hs_txn_now_ms(txn));
        int rc = hs_db_step_done(db, s, err, "storing an attachment");
        if (rc < 0)
            return rc;
        /* Hearth has no CDN: files are served by hearthd itself, at a path of its origin. */
        char *url =
            hs_xasprintf("/attachments/%" PRIu64 "/%" PRIu64 "/%s", channel_id, id, a[i].filename);
        json_t *o =
            json_pack("{s:o, s:s, s:I, s:s, s:s}", "id", hs_json_id(id), "filename", a[i].filename,
                      "size", (json_int_t)a[i].size, "url", url, "proxy_url", url);
        free(url);
        HS_ASSERT(o);
        if (a[i].description)
            json_object_set_new(o, "description", json_string(a[i].description));
        if (a[i].content_type)
            json_object_set_new(o, "content_type", json_string(a[i].content_type));
        if (a[i].width > 0 && a[i].height > 0) {
            json_object_set_new(o, "width", json_integer(a[i].width));
            json_object_set_new(o, "height", json_integer(a[i].height));
        }
        json_array_append_new(*out, o);
    }
    return 0;
}

/* The event form of a message: the object for nobody in particular, with guild_id and the
 * author's partial member in guilds (Discord's MESSAGE_CREATE / MESSAGE_UPDATE). */
static json_t *msg_event(hs_db *db, const struct hs_channel *ch, uint64_t message_id,
                         uint64_t author_id)
{
    json_t *ev = msg_load_depth(db, ch->id, message_id, ch->guild_id, 0, 0);
    HS_ASSERT(ev);
    if (ch->guild_id) {
        json_object_set_new(ev, "guild_id", hs_json_id(ch->guild_id));
        json_t *member = partial_member(db, ch->guild_id, author_id);
        if (member)
            json_object_set_new(ev, "member", member);
    }
    return ev;
}

/* Where a reply points, or 0 when it points nowhere valid (another channel or guild, or a
 * message that is not there). */
static uint64_t reply_target_author(hs_db *db, const struct hs_channel *ch,
                                    const struct hs_msg_reference *ref)
{
    if ((ref->channel_id && ref->channel_id != ch->id) ||
        (ref->guild_id && ref->guild_id != ch->guild_id))
        return 0;
    return hs_msg_author(db, ch->id, ref->message_id);
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
    rc = check_body(op->content, op->nattachments, op->max_chars, err);
    if (rc < 0)
        return rc;
    if (op->nattachments && !(perms & HS_PERM_ATTACH_FILES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (op->nattachments > HS_MSG_MAX_ATTACHMENTS)
        return hs_error_form(err, "attachments", "BASE_TYPE_MAX_LENGTH",
                             "Must be %d or fewer in length.", HS_MSG_MAX_ATTACHMENTS);

    /* spec/rest-messages.md §4: the same nonce again returns the first message. */
    char *nonce = op->enforce_nonce && op->nonce ? nonce_text(op->nonce) : NULL;
    if (nonce) {
        uint64_t earlier = nonce_lookup(txn, op->channel_id, op->author_id, nonce);
        if (earlier) {
            free(nonce);
            op->message = hs_msg_json(db, op->channel_id, earlier, op->author_id);
            HS_ASSERT(op->message);
            json_object_set(op->message, "nonce", op->nonce);
            op->deduplicated = 1;
            return 0;
        }
    }
    /* Slowmode and thread rules (hs_channels.c, spec/rest-channels.md §5); after the nonce,
     * so that a retried send gets its first answer rather than a slowmode refusal. */
    rc = hs_channel_check_post(txn, &ch, perms, op->author_id, err);
    if (rc < 0) {
        free(nonce);
        return rc;
    }

    int type = HS_MSG_DEFAULT;
    uint64_t replied_user = 0;
    if (op->reference) {
        replied_user = reply_target_author(db, &ch, op->reference);
        if (replied_user) {
            type = HS_MSG_REPLY;
        } else if (op->reference->fail_if_not_exists) {
            free(nonce);
            return hs_error_form(err, "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                 "Unknown message");
        }
    }
    if (op->check_only) {
        free(nonce);
        op->checked = 1;
        return 0;
    }
    struct hs_mention_result *men = hs_xmalloc(sizeof(*men));
    hs_mentions_resolve(db, &ch, perms, op->content, op->allowed_mentions, replied_user, men);

    uint64_t id = hs_txn_new_id(txn);
    /* ---- AutoMod and spam detection (hs_automod.h): before anything is stored. A blocked
     * message fails this write; AutoMod's trace is recorded after the rollback. ---- */
    {
        struct hs_automod_msg am = {&ch, op->author_id, perms, id, op->content, 0};
        rc = hs_automod_check_message(txn, &am, err);
        if (rc < 0) {
            free(men);
            free(nonce);
            return rc;
        }
    }
    /* ---- end AutoMod ---- */
    json_t *attachments = NULL;
    rc = store_attachments(txn, op->channel_id, id, op->attachments, op->nattachments, &attachments,
                           err);
    if (rc == 0) {
        sqlite3_stmt *s = hs_db_stmt(
            db, "INSERT INTO messages (channel_id, id, author_id, content, tts, type, "
                "ref_message_id, ref_channel_id, mention_everyone, mentions, mention_roles, "
                "attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        hs_bind_id(s, 1, op->channel_id);
        hs_bind_id(s, 2, id);
        hs_bind_id(s, 3, op->author_id);
        sqlite3_bind_text(s, 4, op->content ? op->content : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, op->tts ? 1 : 0);
        sqlite3_bind_int(s, 6, type);
        if (type == HS_MSG_REPLY) {
            hs_bind_id(s, 7, op->reference->message_id);
            hs_bind_id(s, 8, op->channel_id);
        }
        sqlite3_bind_int(s, 9, men->everyone);
        bind_json(s, 10, men->nusers ? hs_ids_json(men->users, men->nusers) : NULL);
        bind_json(s, 11, men->nroles ? hs_ids_json(men->roles, men->nroles) : NULL);
        bind_json(s, 12, attachments);
        rc = hs_db_step_done(db, s, err, "storing a message");
    } else {
        json_decref(attachments);
    }
    free(men);
    if (rc == 0) {
        sqlite3_stmt *s = hs_db_stmt(db, "UPDATE channels SET last_message_id = ? WHERE id = ?");
        hs_bind_id(s, 1, id);
        hs_bind_id(s, 2, op->channel_id);
        rc = hs_db_step_done(db, s, err, "updating a channel");
    }
    if (rc == 0 && nonce)
        rc = nonce_store(txn, op->channel_id, op->author_id, nonce, id, err);
    free(nonce);
    if (rc < 0)
        return rc;

    op->message = hs_msg_json(db, op->channel_id, id, op->author_id);
    HS_ASSERT(op->message);
    json_t *ev = msg_event(db, &ch, id, op->author_id);
    if (op->nonce) {
        json_object_set(op->message, "nonce", op->nonce);
        json_object_set(ev, "nonce", op->nonce);
    }
    return hs_txn_event(txn, "MESSAGE_CREATE", ch.guild_id, op->channel_id, op->author_id, ev, err);
}

/* The attachments a message keeps after an edit; unknown ids are a form error. */
static int keep_attachments(hs_txn *txn, const struct hs_msg_edit *op, const char *stored,
                            json_t **out, hs_error *err)
{
    json_t *old = stored_array(stored);
    json_t *kept = json_array();
    for (size_t k = 0; k < op->nkeep; k++) {
        int found = 0;
        size_t i;
        json_t *a;
        json_array_foreach(old, i, a)
        {
            uint64_t aid;
            if (hs_parse_u64(json_string_value(json_object_get(a, "id")), &aid) == 0 &&
                aid == op->keep_attachments[k]) {
                found = 1;
                json_array_append(kept, a);
            }
        }
        if (!found) {
            json_decref(old);
            json_decref(kept);
            char field[48];
            snprintf(field, sizeof(field), "attachments.%zu.id", k);
            return hs_error_form(err, field, "ATTACHMENT_NOT_FOUND", "Unknown attachment");
        }
    }
    /* The rest become unreachable: their rows go (the files are content-addressed and may
     * be shared, so they stay on disk). */
    hs_db *db = hs_txn_db(txn);
    size_t i;
    json_t *a;
    json_array_foreach(old, i, a)
    {
        uint64_t aid;
        int keep = 0;
        if (hs_parse_u64(json_string_value(json_object_get(a, "id")), &aid) < 0)
            continue;
        for (size_t k = 0; k < op->nkeep; k++)
            keep |= op->keep_attachments[k] == aid;
        if (keep)
            continue;
        sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM attachments WHERE id = ?");
        hs_bind_id(s, 1, aid);
        int rc = hs_db_step_done(db, s, err, "removing an attachment");
        if (rc < 0) {
            json_decref(old);
            json_decref(kept);
            return rc;
        }
    }
    json_decref(old);
    *out = kept;
    return 0;
}

/* Whether the stored mention list holds user_id. */
static int stored_mentions_has(const char *stored, uint64_t user_id)
{
    json_t *ids = stored_array(stored);
    size_t i;
    json_t *v;
    int found = 0;
    json_array_foreach(ids, i, v)
    {
        uint64_t id;
        if (hs_parse_u64(json_string_value(v), &id) == 0 && id == user_id)
            found = 1;
    }
    json_decref(ids);
    return found;
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
        hs_db_stmt(db, "SELECT " MSG_COLUMNS MSG_FROM "WHERE m.channel_id = ? AND m.id = ?");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    struct msg_row row;
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found)
        row_read(s, &row);
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    json_t *attachments = NULL;
    struct hs_mention_result *men = NULL;
    const char *content = op->content ? op->content : row.content;
    if (row.author_id != op->actor_id) {
        rc = hs_error_reason(err, HS_EPERM, HS_R_NOT_AUTHOR,
                             "Cannot edit a message authored by another user");
        goto out;
    }
    if (row.type == HS_MSG_CHANNEL_PINNED || row.type == HS_MSG_AUTO_MODERATION_ACTION) {
        rc = hs_error_reason(err, HS_EINVAL, HS_R_SYSTEM_MESSAGE,
                             "Cannot execute action on a system message");
        goto out;
    }
    /* ---- AutoMod (hs_automod.h): new content is checked as a new message is. ---- */
    if (op->content) {
        struct hs_automod_msg am = {&ch, op->actor_id, perms, op->message_id, op->content, 1};
        rc = hs_automod_check_message(txn, &am, err);
        if (rc < 0)
            goto out;
    }
    /* ---- end AutoMod ---- */
    if (op->keep_attachments) {
        rc = keep_attachments(txn, op, row.attachments, &attachments, err);
        if (rc < 0)
            goto out;
    } else {
        attachments = stored_array(row.attachments);
    }
    rc = check_body(content, json_array_size(attachments), op->max_chars, err);
    if (rc < 0)
        goto out;

    men = hs_xcalloc(1, sizeof(*men));
    if (op->content) {
        /* A reply keeps mentioning its target's author only if it did and still may. */
        uint64_t replied = 0;
        if (row.type == HS_MSG_REPLY) {
            uint64_t target = hs_msg_author(db, op->channel_id, row.ref_message_id);
            if (target && stored_mentions_has(row.mentions, target))
                replied = target;
        }
        hs_mentions_resolve(db, &ch, perms, content, op->allowed_mentions, replied, men);
    }
    s = hs_db_stmt(db, "UPDATE messages SET content = ?1, edited_at = ?2, attachments = ?3, "
                       "mention_everyone = CASE WHEN ?7 THEN ?4 ELSE mention_everyone END, "
                       "mentions = CASE WHEN ?7 THEN ?5 ELSE mentions END, "
                       "mention_roles = CASE WHEN ?7 THEN ?6 ELSE mention_roles END "
                       "WHERE channel_id = ?8 AND id = ?9");
    sqlite3_bind_text(s, 1, content, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)hs_txn_now_ms(txn));
    bind_json(s, 3, json_array_size(attachments) ? json_incref(attachments) : NULL);
    sqlite3_bind_int(s, 4, men->everyone);
    bind_json(s, 5, men->nusers ? hs_ids_json(men->users, men->nusers) : NULL);
    bind_json(s, 6, men->nroles ? hs_ids_json(men->roles, men->nroles) : NULL);
    sqlite3_bind_int(s, 7, op->content != NULL);
    hs_bind_id(s, 8, op->channel_id);
    hs_bind_id(s, 9, op->message_id);
    rc = hs_db_step_done(db, s, err, "editing a message");
    if (rc < 0)
        goto out;
    op->message = hs_msg_json(db, op->channel_id, op->message_id, op->actor_id);
    rc = hs_txn_event(txn, "MESSAGE_UPDATE", ch.guild_id, op->channel_id, op->actor_id,
                      msg_event(db, &ch, op->message_id, row.author_id), err);
out:
    free(men);
    json_decref(attachments);
    row_release(&row);
    return rc;
}

/* Removes a message and what hangs off it (its reactions; its attachments become
 * unreachable). */
static int delete_rows(hs_db *db, uint64_t channel_id, uint64_t message_id, hs_error *err)
{
    static const char *const sql[] = {
        "DELETE FROM messages WHERE channel_id = ? AND id = ?",
        "DELETE FROM reactions WHERE channel_id = ? AND message_id = ?",
        "DELETE FROM attachments WHERE channel_id = ? AND message_id = ?",
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(sql); i++) {
        sqlite3_stmt *s = hs_db_stmt(db, sql[i]);
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, message_id);
        int rc = hs_db_step_done(db, s, err, "deleting a message");
        if (rc < 0)
            return rc;
    }
    return 0;
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
    uint64_t author = hs_msg_author(db, op->channel_id, op->message_id);
    if (!author)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    if (author != op->actor_id && !(perms & HS_PERM_MANAGE_MESSAGES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    rc = delete_rows(db, op->channel_id, op->message_id, err);
    if (rc < 0)
        return rc;
    if (author != op->actor_id && ch.guild_id) {
        /* A moderator removed someone else's message (Discord's MESSAGE_DELETE entry). */
        json_t *options =
            json_pack("{s:o, s:s}", "channel_id", hs_json_id(op->channel_id), "count", "1");
        rc = hs_audit_record(txn, ch.guild_id, op->actor_id, HS_AUDIT_MESSAGE_DELETE, author, NULL,
                             options, op->reason, err);
        if (rc < 0)
            return rc;
    }
    json_t *ev = json_pack("{s:o, s:o}", "id", hs_json_id(op->message_id), "channel_id",
                           hs_json_id(op->channel_id));
    if (ch.guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch.guild_id));
    return hs_txn_event(txn, "MESSAGE_DELETE", ch.guild_id, op->channel_id, op->actor_id, ev, err);
}

int hs_msg_bulk_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_msg_bulk_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (!(perms & HS_PERM_MANAGE_MESSAGES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    /* Every id is checked before anything is deleted: one old id fails the whole request. */
    uint64_t now = hs_txn_now_ms(txn);
    for (size_t i = 0; i < op->nids; i++)
        if (hs_snowflake_unix_ms(op->ids[i]) + HS_MSG_BULK_MAX_AGE_MS < now)
            return hs_error_reason(err, HS_EINVAL, HS_R_MESSAGE_TOO_OLD,
                                   "A message provided was too old to bulk delete");
    json_t *ids = json_array();
    op->deleted = 0;
    for (size_t i = 0; i < op->nids && rc == 0; i++) {
        if (!hs_msg_author(db, op->channel_id, op->ids[i]))
            continue;
        rc = delete_rows(db, op->channel_id, op->ids[i], err);
        json_array_append_new(ids, hs_json_id(op->ids[i]));
        op->deleted++;
    }
    if (rc < 0 || op->deleted == 0) {
        json_decref(ids);
        return rc;
    }
    if (ch.guild_id) {
        char count[24];
        snprintf(count, sizeof(count), "%zu", op->deleted);
        rc = hs_audit_record(txn, ch.guild_id, op->actor_id, HS_AUDIT_MESSAGE_BULK_DELETE,
                             op->channel_id, NULL, json_pack("{s:s}", "count", count), op->reason,
                             err);
        if (rc < 0) {
            json_decref(ids);
            return rc;
        }
    }
    json_t *ev = json_pack("{s:o, s:o}", "ids", ids, "channel_id", hs_json_id(op->channel_id));
    if (ch.guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch.guild_id));
    return hs_txn_event(txn, "MESSAGE_DELETE_BULK", ch.guild_id, op->channel_id, op->actor_id, ev,
                        err);
}

int hs_msg_get(hs_db *db, uint64_t channel_id, uint64_t message_id, uint64_t viewer_id,
               json_t **out, hs_error *err)
{
    *out = hs_msg_json(db, channel_id, message_id, viewer_id);
    if (!*out)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    return 0;
}

/* Appends the rows of s (already bound) to arr as messages. Returns the number added. */
static int collect(hs_db *db, sqlite3_stmt *s, uint64_t channel_id, uint64_t guild_id,
                   uint64_t viewer_id, json_t *arr)
{
    struct msg_row rows[100];
    int n = 0;
    while (n < (int)HS_ARRAY_LEN(rows) && sqlite3_step(s) == SQLITE_ROW)
        row_read(s, &rows[n++]);
    sqlite3_reset(s);
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, msg_build(db, &rows[i], channel_id, guild_id, viewer_id, 0));
        row_release(&rows[i]);
    }
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

/* Ids are stored as signed 64-bit integers: a cursor beyond that range means "past every
 * message" (before/around) and is clamped rather than bound as a negative number. */
static sqlite3_int64 clamp_cursor(uint64_t id)
{
    return id > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)id;
}

json_t *hs_msg_history(hs_db *db, uint64_t channel_id, const struct hs_history_query *q,
                       uint64_t viewer_id)
{
    static const char older[] = "SELECT " MSG_COLUMNS MSG_FROM
                                "WHERE m.channel_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?";
    static const char newer[] =
        "SELECT " MSG_COLUMNS MSG_FROM "WHERE m.channel_id = ? AND m.id >= ? ORDER BY m.id LIMIT ?";
    json_t *out = json_array();
    uint64_t guild_id = channel_guild(db, channel_id);
    int limit = q->limit < 1 ? 1 : q->limit > 100 ? 100 : q->limit;
    sqlite3_stmt *s;

    if (q->around) {
        /* limit/2 older ones, then the message itself and newer ones to fill the page. */
        json_t *earlier = json_array();
        s = hs_db_stmt(db, older);
        hs_bind_id(s, 1, channel_id);
        sqlite3_bind_int64(s, 2, clamp_cursor(q->around));
        sqlite3_bind_int(s, 3, limit / 2);
        int got = collect(db, s, channel_id, guild_id, viewer_id, earlier);
        if (q->around <= (uint64_t)INT64_MAX) {
            s = hs_db_stmt(db, newer);
            hs_bind_id(s, 1, channel_id);
            hs_bind_id(s, 2, q->around);
            sqlite3_bind_int(s, 3, limit - got);
            collect(db, s, channel_id, guild_id, viewer_id, out);
        }
        reverse(out);
        json_array_extend(out, earlier);
        json_decref(earlier);
    } else if (q->after || q->after_given) {
        if (q->after >= (uint64_t)INT64_MAX)
            return out;
        s = hs_db_stmt(db, newer);
        hs_bind_id(s, 1, channel_id);
        hs_bind_id(s, 2, q->after + 1);
        sqlite3_bind_int(s, 3, limit);
        collect(db, s, channel_id, guild_id, viewer_id, out);
        reverse(out);
    } else {
        s = hs_db_stmt(db, older);
        hs_bind_id(s, 1, channel_id);
        sqlite3_bind_int64(s, 2, q->before ? clamp_cursor(q->before) : INT64_MAX);
        sqlite3_bind_int(s, 3, limit);
        collect(db, s, channel_id, guild_id, viewer_id, out);
    }
    return out;
}
