/*
 * Reactions (spec/rest-messages.md §6).
 *
 * DESIGN: one row per (message, emoji, user), keyed so that a message's reactions, one
 * emoji's users in id order (the `after` cursor of GET .../reactions/{emoji}) and "did I
 * react" are all prefix ranges of the primary key. Only Unicode emoji exist on Hearth for
 * now: a custom "name:id" is an unknown emoji (10014), which is what Discord answers for
 * a custom emoji it does not know.
 *
 * A message lists its reactions in the order their emoji first appeared on it, and an
 * emoji keeps its place for as long as anyone still reacts with it. So created_at is the
 * time the emoji appeared, not the time this user reacted: a reaction to an emoji already
 * there inherits the emoji's time, and the list orders by it.
 */
#include "hs_accounts.h"
#include "hs_channels.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <string.h>

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length, 0 when invalid
 * (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        len = 2, c = s[0] & 0x1F, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, c = s[0] & 0x0F, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Whether a code point shows anything by itself: not a space, a joiner, a variation
 * selector, a tag or another invisible format character. Those may join an emoji
 * sequence (ZWJ, VS16, tags) but are no emoji alone. */
static int visible(uint32_t cp)
{
    return !(cp == 0xA0 || cp == 0xAD || (cp >= 0x2000 && cp <= 0x200F) ||
             (cp >= 0x202A && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 ||
             (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || (cp >= 0xE0000 && cp <= 0xE007F));
}

/* "name:id", the form of a custom emoji in a path. */
static int is_custom(const char *e)
{
    const char *colon = strrchr(e, ':');
    if (!colon || colon == e || !colon[1])
        return 0;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

int hs_emoji_check(const char *emoji, hs_error *err)
{
    if (emoji && is_custom(emoji))
        return hs_error_reason(err, HS_EINVAL, HS_R_UNKNOWN_EMOJI, "Unknown Emoji");
    size_t n = emoji ? strlen(emoji) : 0;
    if (n == 0 || n > HS_EMOJI_MAX_BYTES)
        return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_EMOJI, "Unknown Emoji");
    const unsigned char *s = (const unsigned char *)emoji;
    int wide = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        if (len == 0)
            return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_EMOJI, "Unknown Emoji");
        if (cp < 0x80) {
            /* ASCII only as the base of a keycap: [0-9#*] U+FE0F? U+20E3. */
            size_t j = i + 1;
            uint32_t next;
            size_t l2 = j < n ? utf8_decode(s + j, n - j, &next) : 0;
            if (l2 && next == 0xFE0F) {
                j += l2;
                l2 = j < n ? utf8_decode(s + j, n - j, &next) : 0;
            }
            int keycap_base = (cp >= '0' && cp <= '9') || cp == '#' || cp == '*';
            if (!keycap_base || !l2 || next != 0x20E3)
                return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_EMOJI, "Unknown Emoji");
        } else if (cp <= 0x9F || cp == 0x2028 || cp == 0x2029) {
            /* C1 controls and line separators are no part of an emoji. */
            return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_EMOJI, "Unknown Emoji");
        } else if (visible(cp)) {
            wide = 1;
        }
        i += len;
    }
    if (!wide)
        return hs_error_reason(err, HS_EINVAL, HS_R_INVALID_EMOJI, "Unknown Emoji");
    return 0;
}

static int step_changes(hs_db *db, sqlite3_stmt *s, int *changes, hs_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hs_db_error(db, err, what);
    *changes = sqlite3_changes(hs_db_handle(db));
    return 0;
}

static json_t *emoji_json(const char *emoji)
{
    return json_pack("{s:n, s:s}", "id", "name", emoji);
}

/* The common part of the reaction events. */
static json_t *reaction_event(const struct hs_channel *ch, uint64_t message_id)
{
    json_t *ev = json_pack("{s:o, s:o}", "channel_id", hs_json_id(ch->id), "message_id",
                           hs_json_id(message_id));
    if (ch->guild_id)
        json_object_set_new(ev, "guild_id", hs_json_id(ch->guild_id));
    return ev;
}

static int add_reaction(hs_txn *txn, struct hs_reaction *op, const struct hs_channel *ch,
                        uint64_t perms, uint64_t author, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    /* A timed-out member keeps reading but may not react at all, as on Discord (the
     * permissions it keeps would otherwise let it join an existing reaction). */
    if (ch->guild_id && hs_perm_timed_out(db, ch->guild_id, op->actor_id))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT count(*), max(user_id = ?4), min(created_at) FROM reactions WHERE "
                       "channel_id = ?1 AND message_id = ?2 AND emoji = ?3");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    hs_bind_text(s, 3, op->emoji);
    hs_bind_id(s, 4, op->actor_id);
    int64_t count = 0;
    int mine = 0;
    uint64_t since = hs_txn_now_ms(txn);
    if (sqlite3_step(s) == SQLITE_ROW) {
        count = sqlite3_column_int64(s, 0);
        mine = sqlite3_column_int(s, 1);
        if (count)
            since = (uint64_t)sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    if (mine)
        return 0;
    if (count == 0) {
        /* A new emoji on the message: that takes ADD_REACTIONS, and room for it. */
        if (!(perms & HS_PERM_ADD_REACTIONS))
            return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
        s = hs_db_stmt(db, "SELECT count(DISTINCT emoji) FROM reactions WHERE channel_id = ? AND "
                           "message_id = ?");
        hs_bind_id(s, 1, op->channel_id);
        hs_bind_id(s, 2, op->message_id);
        int64_t distinct = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (distinct >= HS_MSG_MAX_REACTIONS)
            return hs_error_reason(err, HS_ELIMIT, HS_R_MAX_REACTIONS,
                                   "Maximum number of reactions reached");
    }
    s = hs_db_stmt(db, "INSERT INTO reactions (channel_id, message_id, emoji, user_id, "
                       "created_at) VALUES (?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    hs_bind_text(s, 3, op->emoji);
    hs_bind_id(s, 4, op->actor_id);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)since);
    int changes;
    int rc = step_changes(db, s, &changes, err, "storing a reaction");
    if (rc < 0)
        return rc;
    op->changed = 1;
    json_t *ev = reaction_event(ch, op->message_id);
    json_object_set_new(ev, "user_id", hs_json_id(op->actor_id));
    json_object_set_new(ev, "emoji", emoji_json(op->emoji));
    json_object_set_new(ev, "message_author_id", hs_json_id(author));
    json_object_set_new(ev, "burst", json_false());
    json_object_set_new(ev, "burst_colors", json_array());
    json_object_set_new(ev, "type", json_integer(0));
    if (ch->guild_id) {
        json_t *member = hs_member_json(db, ch->guild_id, op->actor_id);
        if (member)
            json_object_set_new(ev, "member", member);
    }
    return hs_txn_event(txn, "MESSAGE_REACTION_ADD", ch->guild_id, op->channel_id, op->actor_id, ev,
                        err);
}

int hs_reaction_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_reaction *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    uint64_t perms;
    op->changed = 0;
    int rc = hs_channel_access(db, op->channel_id, op->actor_id, &ch, &perms, err);
    if (rc < 0)
        return rc;
    if (op->op != HS_REACT_REMOVE_ALL) {
        rc = hs_emoji_check(op->emoji, err);
        if (rc < 0)
            return rc;
    }
    int moderating = op->op == HS_REACT_REMOVE_EMOJI || op->op == HS_REACT_REMOVE_ALL ||
                     (op->op == HS_REACT_REMOVE_USER && op->user_id != op->actor_id);
    if (moderating && !(perms & HS_PERM_MANAGE_MESSAGES))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (op->op == HS_REACT_ADD && !(perms & HS_PERM_READ_MESSAGE_HISTORY))
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    uint64_t author = hs_msg_author(db, op->channel_id, op->message_id);
    if (!author)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    if (op->op == HS_REACT_ADD)
        return add_reaction(txn, op, &ch, perms, author, err);

    sqlite3_stmt *s;
    const char *type;
    uint64_t user = op->op == HS_REACT_REMOVE_OWN ? op->actor_id : op->user_id;
    if (op->op == HS_REACT_REMOVE_ALL) {
        s = hs_db_stmt(db, "DELETE FROM reactions WHERE channel_id = ? AND message_id = ?");
        type = "MESSAGE_REACTION_REMOVE_ALL";
    } else if (op->op == HS_REACT_REMOVE_EMOJI) {
        s = hs_db_stmt(db, "DELETE FROM reactions WHERE channel_id = ? AND message_id = ? AND "
                           "emoji = ?");
        hs_bind_text(s, 3, op->emoji);
        type = "MESSAGE_REACTION_REMOVE_EMOJI";
    } else {
        s = hs_db_stmt(db, "DELETE FROM reactions WHERE channel_id = ? AND message_id = ? AND "
                           "emoji = ? AND user_id = ?");
        hs_bind_text(s, 3, op->emoji);
        hs_bind_id(s, 4, user);
        type = "MESSAGE_REACTION_REMOVE";
    }
    hs_bind_id(s, 1, op->channel_id);
    hs_bind_id(s, 2, op->message_id);
    int changes = 0;
    rc = step_changes(db, s, &changes, err, "removing reactions");
    if (rc < 0 || changes == 0)
        return rc;
    op->changed = 1;
    json_t *ev = reaction_event(&ch, op->message_id);
    if (op->op != HS_REACT_REMOVE_ALL)
        json_object_set_new(ev, "emoji", emoji_json(op->emoji));
    if (op->op == HS_REACT_REMOVE_OWN || op->op == HS_REACT_REMOVE_USER) {
        json_object_set_new(ev, "user_id", hs_json_id(user));
        json_object_set_new(ev, "burst", json_false());
        json_object_set_new(ev, "type", json_integer(0));
    }
    return hs_txn_event(txn, type, ch.guild_id, op->channel_id, op->actor_id, ev, err);
}

int hs_reaction_users(hs_db *db, uint64_t channel_id, uint64_t message_id, const char *emoji,
                      uint64_t after, int limit, json_t **out, hs_error *err)
{
    *out = NULL;
    if (!hs_msg_author(db, channel_id, message_id))
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
    uint64_t ids[100];
    int n = 0;
    if (limit < 1)
        limit = 1;
    if (limit > (int)HS_ARRAY_LEN(ids))
        limit = (int)HS_ARRAY_LEN(ids);
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT user_id FROM reactions WHERE channel_id = ? AND "
                                     "message_id = ? AND emoji = ? AND user_id > ? ORDER BY "
                                     "user_id LIMIT ?");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, message_id);
    hs_bind_text(s, 3, emoji);
    sqlite3_bind_int64(s, 4, after > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)after);
    sqlite3_bind_int(s, 5, limit);
    while (n < limit && sqlite3_step(s) == SQLITE_ROW)
        ids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *u = hs_user_json(db, ids[i], 0);
        if (u)
            json_array_append_new(*out, u);
    }
    return 0;
}
