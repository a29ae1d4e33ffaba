/*
 * Threads: creation, members, listings, and the thread halves of channel edits, deletions
 * and posts (spec/rest-channels.md §5-§7).
 *
 * DESIGN: a thread has no permissions of its own. hs_perm_channel computes them from the
 * parent's overwrites (SEND_MESSAGES_IN_THREADS standing in for SEND_MESSAGES) and hides a
 * private thread from everyone but its members and MANAGE_THREADS holders; so joining or
 * leaving a private thread is what changes who may see it, and the gateway, which asks
 * hs_perm_channel per event, follows at once. A thread archives itself after
 * auto_archive_duration minutes without a message (hs_thread_archive_idle_fn, run by the
 * core's housekeeping); a post by someone who may send brings it back.
 */
#include "hs_threads.h"
#include "hs_audit.h"
#include "hs_guilds.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_FLAG_HAS_THREAD (1 << 5)

static int missing_permissions(hs_error *err)
{
    return hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
}

int hs_thread_archive_duration_ok(int minutes)
{
    return minutes == 60 || minutes == 1440 || minutes == 4320 || minutes == 10080;
}

static const char *const thread_audit_keys[] = {
    "name",      "type", "archived", "locked", "auto_archive_duration", "rate_limit_per_user",
    "invitable", NULL,
};

/* What hs_channel_get does not carry. */
struct thread_row {
    uint64_t owner_id;
    int invitable, auto_archive_duration;
};

static void thread_row(hs_db *db, uint64_t id, struct thread_row *t)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT owner_id, invitable, coalesce(auto_archive_duration, "
                                     "4320) FROM channels WHERE id = ?");
    hs_bind_id(s, 1, id);
    *t = (struct thread_row){0};
    if (sqlite3_step(s) == SQLITE_ROW) {
        t->owner_id = hs_col_id(s, 0);
        t->invitable = sqlite3_column_int(s, 1);
        t->auto_archive_duration = sqlite3_column_int(s, 2);
    }
    sqlite3_reset(s);
}

static int check_thread_name(const char *name, hs_error *err)
{
    size_t len = name ? hs_utf8_len(name, strlen(name)) : 0;
    if (len < 1 || len > 100)
        return hs_error_form(err, "name", "BASE_TYPE_BAD_LENGTH",
                             "Must be between 1 and 100 in length.");
    return 0;
}

/* ------------------------------------------------------------------ members */

json_t *hs_thread_member_json(hs_db *db, uint64_t thread_id, uint64_t user_id, int with_member)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT tm.join_timestamp, tm.flags, c.guild_id FROM "
                                     "thread_members tm JOIN channels c ON c.id = tm.thread_id "
                                     "WHERE tm.thread_id = ? AND tm.user_id = ?");
    hs_bind_id(s, 1, thread_id);
    hs_bind_id(s, 2, user_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    json_t *tm = json_pack("{s:o, s:o, s:o, s:i}", "id", hs_json_id(thread_id), "user_id",
                           hs_json_id(user_id), "join_timestamp",
                           hs_json_time((uint64_t)sqlite3_column_int64(s, 0)), "flags",
                           sqlite3_column_int(s, 1));
    uint64_t guild_id = hs_col_id(s, 2);
    sqlite3_reset(s);
    HS_ASSERT(tm);
    if (with_member) {
        json_t *m = hs_member_json(db, guild_id, user_id);
        json_object_set_new(tm, "member", m ? m : json_null());
    }
    return tm;
}

json_t *hs_thread_member_list(hs_db *db, uint64_t thread_id, uint64_t after, int limit,
                              int with_member)
{
    uint64_t *ids = hs_xcalloc((size_t)(limit > 0 ? limit : 1), sizeof(*ids));
    int n = 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT user_id FROM thread_members WHERE thread_id = ? AND "
                                     "user_id > ? ORDER BY user_id LIMIT ?");
    hs_bind_id(s, 1, thread_id);
    hs_bind_id(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    while (n < limit && sqlite3_step(s) == SQLITE_ROW)
        ids[n++] = hs_col_id(s, 0);
    sqlite3_reset(s);
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        json_t *tm = hs_thread_member_json(db, thread_id, ids[i], with_member);
        if (tm)
            json_array_append_new(out, tm);
    }
    free(ids);
    return out;
}

static int64_t member_count(hs_db *db, uint64_t thread_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT count(*) FROM thread_members WHERE thread_id = ?");
    hs_bind_id(s, 1, thread_id);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

static int is_thread_member(hs_db *db, uint64_t thread_id, uint64_t user_id)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT 1 FROM thread_members WHERE thread_id = ? AND user_id = ?");
    hs_bind_id(s, 1, thread_id);
    hs_bind_id(s, 2, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

/* Adds user_id to the thread and records THREAD_MEMBER_UPDATE (for the user's own sessions)
 * and THREAD_MEMBERS_UPDATE (for those who see the thread). */
static int member_add(hs_txn *txn, const struct hs_channel *th, uint64_t user_id, uint64_t actor_id,
                      hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO thread_members (thread_id, user_id, "
                                     "join_timestamp) VALUES (?, ?, ?)");
    hs_bind_id(s, 1, th->id);
    hs_bind_id(s, 2, user_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)hs_txn_now_ms(txn));
    int rc = hs_db_step_done(db, s, err, "adding a thread member");
    if (rc < 0)
        return rc;
    json_t *self = hs_thread_member_json(db, th->id, user_id, 0);
    json_object_set_new(self, "guild_id", hs_json_id(th->guild_id));
    /* The added user is the one the event is about: actor_id picks its sessions. */
    rc = hs_txn_event(txn, "THREAD_MEMBER_UPDATE", th->guild_id, th->id, user_id, self, err);
    if (rc < 0)
        return rc;
    json_t *added = hs_thread_member_json(db, th->id, user_id, 1);
    json_object_set_new(added, "presence", json_null());
    json_t *ev = json_pack("{s:o, s:o, s:I, s:[o]}", "id", hs_json_id(th->id), "guild_id",
                           hs_json_id(th->guild_id), "member_count",
                           (json_int_t)member_count(db, th->id), "added_members", added);
    return hs_txn_event(txn, "THREAD_MEMBERS_UPDATE", th->guild_id, th->id, actor_id, ev, err);
}

static int member_remove(hs_txn *txn, const struct hs_channel *th, uint64_t user_id,
                         uint64_t actor_id, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s =
        hs_db_stmt(db, "DELETE FROM thread_members WHERE thread_id = ? AND user_id = ?");
    hs_bind_id(s, 1, th->id);
    hs_bind_id(s, 2, user_id);
    int rc = hs_db_step_done(db, s, err, "removing a thread member");
    if (rc < 0)
        return rc;
    json_t *ev =
        json_pack("{s:o, s:o, s:I, s:[o]}", "id", hs_json_id(th->id), "guild_id",
                  hs_json_id(th->guild_id), "member_count", (json_int_t)member_count(db, th->id),
                  "removed_member_ids", hs_json_id(user_id));
    return hs_txn_event(txn, "THREAD_MEMBERS_UPDATE", th->guild_id, th->id, actor_id, ev, err);
}

int hs_thread_member_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_thread_member_op *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel th;
    struct thread_row row;
    uint64_t perms;
    int rc = hs_channel_access(db, op->thread_id, op->actor_id, &th, &perms, err);
    if (rc < 0)
        return rc;
    if (!HS_CHANNEL_IS_THREAD(th.type))
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    if (th.archived)
        return hs_error_reason(err, HS_EINVAL, HS_R_THREAD_ARCHIVED, "Thread is archived");
    thread_row(db, th.id, &row);
    int self = op->user_id == op->actor_id;
    int mod = (perms & HS_PERM_MANAGE_THREADS) != 0;
    int member = is_thread_member(db, th.id, op->user_id);

    if (op->add) {
        if (!self) {
            /* In a thread, SEND_MESSAGES is SEND_MESSAGES_IN_THREADS (hs_perm_compute). */
            if (!(perms & HS_PERM_SEND_MESSAGES) ||
                (th.type == HS_CHANNEL_PRIVATE_THREAD && !row.invitable && !mod))
                return missing_permissions(err);
            uint64_t theirs;
            rc = hs_perm_channel(db, th.parent_id, op->user_id, 0, &theirs, NULL);
            if (rc == HS_EPERM)
                return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER, "Unknown Member");
            if (rc < 0 || !(theirs & HS_PERM_VIEW_CHANNEL))
                return hs_error_reason(err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");
        }
        return member ? 0 : member_add(txn, &th, op->user_id, op->actor_id, err);
    }
    if (!self && !mod && row.owner_id != op->actor_id)
        return missing_permissions(err);
    if (!member)
        return self ? 0 : hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MEMBER, "Unknown Member");
    return member_remove(txn, &th, op->user_id, op->actor_id, err);
}

/* ------------------------------------------------------------------ create */

int hs_thread_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_thread_create *op = arg;
    hs_db *db = hs_txn_db(txn);
    struct hs_channel parent;
    uint64_t perms;
    int rc = hs_channel_access(db, op->parent_id, op->actor_id, &parent, &perms, err);
    if (rc < 0)
        return rc;
    if (parent.type != HS_CHANNEL_TEXT)
        return hs_error_reason(err, HS_EINVAL, HS_R_CHANNEL_TYPE,
                               "Cannot execute action on this channel type");
    int type = op->message_id ? HS_CHANNEL_PUBLIC_THREAD : op->type;
    if (type != HS_CHANNEL_PUBLIC_THREAD && type != HS_CHANNEL_PRIVATE_THREAD)
        return hs_error_form(err, "type", "BASE_TYPE_CHOICES", "Value must be one of (11, 12).");
    if ((rc = check_thread_name(op->name, err)) < 0)
        return rc;
    int archive = op->auto_archive_duration ? op->auto_archive_duration : HS_THREAD_ARCHIVE_DEFAULT;
    if (!hs_thread_archive_duration_ok(archive))
        return hs_error_form(err, "auto_archive_duration", "BASE_TYPE_CHOICES",
                             "Value must be one of (60, 1440, 4320, 10080).");
    if (op->rate_limit_per_user < 0 || op->rate_limit_per_user > 21600)
        return hs_error_form(err, "rate_limit_per_user", "NUMBER_TYPE_MAX",
                             "int value should be between 0 and 21600.");
    if (!(perms & (type == HS_CHANNEL_PRIVATE_THREAD ? HS_PERM_CREATE_PRIVATE_THREADS
                                                     : HS_PERM_CREATE_PUBLIC_THREADS)))
        return missing_permissions(err);

    uint64_t id;
    if (op->message_id) {
        /* As on Discord, a thread started from a message has the message's id. */
        sqlite3_stmt *s = hs_db_stmt(db, "SELECT 1 FROM messages WHERE channel_id = ? AND id = ?");
        hs_bind_id(s, 1, parent.id);
        hs_bind_id(s, 2, op->message_id);
        int found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_reset(s);
        if (!found)
            return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE, "Unknown Message");
        s = hs_db_stmt(db, "SELECT 1 FROM channels WHERE id = ?");
        hs_bind_id(s, 1, op->message_id);
        found = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_reset(s);
        if (found)
            return hs_error_reason(err, HS_EEXIST, HS_R_THREAD_EXISTS,
                                   "A thread has already been created for this message");
        s = hs_db_stmt(db, "UPDATE messages SET flags = flags | ? WHERE channel_id = ? AND id = ?");
        sqlite3_bind_int(s, 1, MESSAGE_FLAG_HAS_THREAD);
        hs_bind_id(s, 2, parent.id);
        hs_bind_id(s, 3, op->message_id);
        if ((rc = hs_db_step_done(db, s, err, "marking a thread's message")) < 0)
            return rc;
        id = op->message_id;
    } else {
        id = hs_txn_new_id(txn);
    }
    sqlite3_stmt *s = hs_db_stmt(
        db, "INSERT INTO channels (id, guild_id, type, name, position, parent_id, "
            "rate_limit_per_user, owner_id, invitable, auto_archive_duration, archive_timestamp) "
            "VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, parent.guild_id);
    sqlite3_bind_int(s, 3, type);
    hs_bind_text(s, 4, op->name);
    hs_bind_id(s, 5, parent.id);
    sqlite3_bind_int(s, 6, op->rate_limit_per_user);
    hs_bind_id(s, 7, op->actor_id);
    sqlite3_bind_int(s, 8, type == HS_CHANNEL_PRIVATE_THREAD ? !!op->invitable : 1);
    sqlite3_bind_int(s, 9, archive);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)hs_txn_now_ms(txn));
    if ((rc = hs_db_step_done(db, s, err, "storing a thread")) < 0)
        return rc;

    /* THREAD_CREATE first, so that clients know the thread before its member events; the
     * creator joins in the same transaction, so a private thread is dispatched to them. */
    struct hs_channel th;
    HS_ASSERT(hs_channel_get(db, id, &th, NULL) == 0);
    sqlite3_stmt *ins = hs_db_stmt(db, "INSERT INTO thread_members (thread_id, user_id, "
                                       "join_timestamp) VALUES (?, ?, ?)");
    hs_bind_id(ins, 1, id);
    hs_bind_id(ins, 2, op->actor_id);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)hs_txn_now_ms(txn));
    if ((rc = hs_db_step_done(db, ins, err, "adding a thread member")) < 0)
        return rc;
    op->thread = hs_channel_json(db, id);
    json_t *ev = json_deep_copy(op->thread);
    json_object_set_new(ev, "newly_created", json_true());
    rc = hs_txn_event(txn, "THREAD_CREATE", parent.guild_id, id, op->actor_id, ev, err);
    if (rc < 0)
        return rc;
    json_t *self = hs_thread_member_json(db, id, op->actor_id, 0);
    json_object_set_new(self, "guild_id", hs_json_id(parent.guild_id));
    rc = hs_txn_event(txn, "THREAD_MEMBER_UPDATE", parent.guild_id, id, op->actor_id, self, err);
    if (rc < 0)
        return rc;
    return hs_audit_record(txn, parent.guild_id, op->actor_id, HS_AUDIT_THREAD_CREATE, id,
                           hs_channel_changes(NULL, op->thread, thread_audit_keys), NULL,
                           op->reason, err);
}

/* ------------------------------------------------------------------ edit, delete, post */

int hs_thread_update(hs_txn *txn, struct hs_channel_update *op, const struct hs_channel *ch,
                     uint64_t perms, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    struct thread_row row;
    thread_row(db, ch->id, &row);
    int mod = (perms & HS_PERM_MANAGE_THREADS) != 0;
    int owner = row.owner_id == op->actor_id;
    json_t *before = hs_channel_json(db, ch->id), *changes = NULL;
    int rc = 0;

    unsigned set = op->set & (HS_CHUP_NAME | HS_CHUP_ARCHIVED | HS_CHUP_LOCKED |
                              HS_CHUP_AUTO_ARCHIVE | HS_CHUP_RATE_LIMIT);
    if (ch->type == HS_CHANNEL_PRIVATE_THREAD)
        set |= op->set & HS_CHUP_INVITABLE;
    /* Only what would change needs a right to change it. */
    const char *name = json_string_value(json_object_get(before, "name"));
    if ((set & HS_CHUP_NAME) && op->name && name && strcmp(op->name, name) == 0)
        set &= ~(unsigned)HS_CHUP_NAME;
    if ((set & HS_CHUP_ARCHIVED) && !op->archived == !ch->archived)
        set &= ~(unsigned)HS_CHUP_ARCHIVED;
    if ((set & HS_CHUP_LOCKED) && !op->locked == !ch->locked)
        set &= ~(unsigned)HS_CHUP_LOCKED;
    if ((set & HS_CHUP_INVITABLE) && !op->invitable == !row.invitable)
        set &= ~(unsigned)HS_CHUP_INVITABLE;
    if ((set & HS_CHUP_AUTO_ARCHIVE) && op->auto_archive_duration == row.auto_archive_duration)
        set &= ~(unsigned)HS_CHUP_AUTO_ARCHIVE;
    if ((set & HS_CHUP_RATE_LIMIT) && op->rate_limit_per_user == ch->rate_limit_per_user)
        set &= ~(unsigned)HS_CHUP_RATE_LIMIT;

    int unarchiving = (set & HS_CHUP_ARCHIVED) && !op->archived;
    int locked_after = (set & HS_CHUP_LOCKED) ? op->locked : ch->locked;
    /* An archived thread: a locked one is moderators' alone; otherwise it must be
     * unarchived before anything but its lock changes. */
    if (ch->archived && ch->locked && !mod) {
        rc = hs_error_reason(err, HS_EPERM, HS_R_THREAD_LOCKED, "Thread is locked");
        goto out;
    }
    if (ch->archived && !unarchiving && (set & ~(unsigned)(HS_CHUP_LOCKED | HS_CHUP_ARCHIVED))) {
        rc = hs_error_reason(err, HS_EINVAL, HS_R_THREAD_ARCHIVED, "Thread is archived");
        goto out;
    }
    if (!mod) {
        int denied = 0;
        denied |= (set & (HS_CHUP_LOCKED | HS_CHUP_RATE_LIMIT | HS_CHUP_INVITABLE)) != 0;
        denied |= (set & (HS_CHUP_NAME | HS_CHUP_AUTO_ARCHIVE)) && !owner;
        /* Archiving: the owner. Unarchiving an unlocked thread: anyone who may post in it. */
        denied |= (set & HS_CHUP_ARCHIVED) && !unarchiving && !owner;
        denied |= unarchiving && (locked_after || !(owner || (perms & HS_PERM_SEND_MESSAGES)));
        if (denied) {
            rc = missing_permissions(err);
            goto out;
        }
    }
    if ((set & HS_CHUP_NAME) && (rc = check_thread_name(op->name, err)) < 0)
        goto out;
    if ((set & HS_CHUP_AUTO_ARCHIVE) && !hs_thread_archive_duration_ok(op->auto_archive_duration)) {
        rc = hs_error_form(err, "auto_archive_duration", "BASE_TYPE_CHOICES",
                           "Value must be one of (60, 1440, 4320, 10080).");
        goto out;
    }
    if ((set & HS_CHUP_RATE_LIMIT) &&
        (op->rate_limit_per_user < 0 || op->rate_limit_per_user > 21600)) {
        rc = hs_error_form(err, "rate_limit_per_user", "NUMBER_TYPE_MAX",
                           "int value should be between 0 and 21600.");
        goto out;
    }

    sqlite3_stmt *s = hs_db_stmt(
        db, "UPDATE channels SET name = CASE WHEN ?2 THEN ?3 ELSE name END, "
            "archived = CASE WHEN ?4 THEN ?5 ELSE archived END, "
            "archive_timestamp = CASE WHEN ?4 THEN ?6 ELSE archive_timestamp END, "
            "locked = CASE WHEN ?7 THEN ?8 ELSE locked END, "
            "auto_archive_duration = CASE WHEN ?9 THEN ?10 ELSE auto_archive_duration END, "
            "rate_limit_per_user = CASE WHEN ?11 THEN ?12 ELSE rate_limit_per_user END, "
            "invitable = CASE WHEN ?13 THEN ?14 ELSE invitable END WHERE id = ?1");
    hs_bind_id(s, 1, ch->id);
    sqlite3_bind_int(s, 2, !!(set & HS_CHUP_NAME));
    hs_bind_text(s, 3, op->name);
    sqlite3_bind_int(s, 4, !!(set & HS_CHUP_ARCHIVED));
    sqlite3_bind_int(s, 5, !!op->archived);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)hs_txn_now_ms(txn));
    sqlite3_bind_int(s, 7, !!(set & HS_CHUP_LOCKED));
    sqlite3_bind_int(s, 8, !!op->locked);
    sqlite3_bind_int(s, 9, !!(set & HS_CHUP_AUTO_ARCHIVE));
    sqlite3_bind_int(s, 10, op->auto_archive_duration);
    sqlite3_bind_int(s, 11, !!(set & HS_CHUP_RATE_LIMIT));
    sqlite3_bind_int(s, 12, op->rate_limit_per_user);
    sqlite3_bind_int(s, 13, !!(set & HS_CHUP_INVITABLE));
    sqlite3_bind_int(s, 14, !!op->invitable);
    if ((rc = hs_db_step_done(db, s, err, "updating a thread")) < 0)
        goto out;
    op->channel = hs_channel_json(db, ch->id);
    changes = hs_channel_changes(before, op->channel, thread_audit_keys);
    if (!changes)
        goto out;
    rc = hs_txn_event(txn, "THREAD_UPDATE", ch->guild_id, ch->id, op->actor_id,
                      json_incref(op->channel), err);
    if (rc == 0)
        rc = hs_audit_record(txn, ch->guild_id, op->actor_id, HS_AUDIT_THREAD_UPDATE, ch->id,
                             changes, NULL, op->reason, err);
    else
        json_decref(changes);
out:
    json_decref(before);
    return rc;
}

int hs_thread_delete(hs_txn *txn, struct hs_channel_delete *op, const struct hs_channel *ch,
                     uint64_t perms, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    if (!(perms & HS_PERM_MANAGE_THREADS))
        return missing_permissions(err);
    sqlite3_stmt *s = hs_db_stmt(db, "UPDATE channels SET deleted = 1 WHERE id = ?");
    hs_bind_id(s, 1, ch->id);
    int rc = hs_db_step_done(db, s, err, "deleting a thread");
    if (rc < 0)
        return rc;
    op->channel = hs_channel_json_any(db, ch->id, 1);
    json_t *ev = json_pack("{s:o, s:o, s:o, s:i}", "id", hs_json_id(ch->id), "guild_id",
                           hs_json_id(ch->guild_id), "parent_id", hs_json_id(ch->parent_id), "type",
                           ch->type);
    rc = hs_txn_event(txn, "THREAD_DELETE", ch->guild_id, ch->id, op->actor_id, ev, err);
    if (rc < 0)
        return rc;
    return hs_audit_record(txn, ch->guild_id, op->actor_id, HS_AUDIT_THREAD_DELETE, ch->id,
                           hs_channel_changes(op->channel, NULL, thread_audit_keys), NULL,
                           op->reason, err);
}

int hs_thread_check_post(hs_txn *txn, const struct hs_channel *ch, uint64_t perms, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    int rc;
    if (ch->locked && !(perms & HS_PERM_MANAGE_THREADS))
        return hs_error_reason(err, HS_EPERM, HS_R_THREAD_LOCKED, "Thread is locked");
    if (ch->archived) {
        /* A post from someone who may send brings an unlocked thread back (Discord). */
        sqlite3_stmt *s =
            hs_db_stmt(db, "UPDATE channels SET archived = 0, archive_timestamp = ? WHERE id = ?");
        sqlite3_bind_int64(s, 1, (sqlite3_int64)hs_txn_now_ms(txn));
        hs_bind_id(s, 2, ch->id);
        if ((rc = hs_db_step_done(db, s, err, "unarchiving a thread")) < 0)
            return rc;
        rc = hs_txn_event(txn, "THREAD_UPDATE", ch->guild_id, ch->id, 0,
                          hs_channel_json(db, ch->id), err);
        if (rc < 0)
            return rc;
    }
    sqlite3_stmt *s =
        hs_db_stmt(db, "UPDATE channels SET message_count = message_count + 1 WHERE id = ?");
    hs_bind_id(s, 1, ch->id);
    return hs_db_step_done(db, s, err, "counting a thread's message");
}

/* ------------------------------------------------------------------ listings */

static uint64_t *collect_ids(sqlite3_stmt *s, size_t *n)
{
    uint64_t *ids = NULL;
    size_t cap = 0;
    *n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            ids = hs_xrealloc(ids, cap * sizeof(*ids));
        }
        ids[(*n)++] = hs_col_id(s, 0);
    }
    sqlite3_reset(s);
    return ids;
}

json_t *hs_thread_active(hs_db *db, uint64_t guild_id, uint64_t user_id, json_t **members)
{
    size_t n;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT id FROM channels WHERE guild_id = ? AND type IN "
                                     "(10, 11, 12) AND deleted = 0 AND archived = 0 ORDER BY id");
    hs_bind_id(s, 1, guild_id);
    uint64_t *ids = collect_ids(s, &n);
    json_t *threads = json_array(), *mine = json_array();
    for (size_t i = 0; i < n; i++) {
        uint64_t perms;
        if (hs_perm_channel(db, ids[i], user_id, 0, &perms, NULL) < 0 ||
            !(perms & HS_PERM_VIEW_CHANNEL))
            continue;
        json_t *t = hs_channel_json(db, ids[i]);
        if (t)
            json_array_append_new(threads, t);
        json_t *tm = hs_thread_member_json(db, ids[i], user_id, 0);
        if (tm)
            json_array_append_new(mine, tm);
    }
    free(ids);
    if (members)
        *members = mine;
    else
        json_decref(mine);
    return threads;
}

json_t *hs_thread_archived(hs_db *db, const struct hs_thread_archived_query *q)
{
    sqlite3_stmt *s;
    if (q->joined_only) {
        s = hs_db_stmt(db, "SELECT c.id FROM channels c JOIN thread_members tm ON tm.thread_id "
                           "= c.id AND tm.user_id = ?2 WHERE c.parent_id = ?1 AND c.type = ?3 "
                           "AND c.archived = 1 AND c.deleted = 0 AND c.id < ?4 ORDER BY c.id "
                           "DESC LIMIT ?5");
        sqlite3_bind_int64(s, 4, q->before_id ? (sqlite3_int64)q->before_id : INT64_MAX);
    } else {
        s = hs_db_stmt(db, "SELECT id FROM channels WHERE parent_id = ?1 AND type = ?3 AND "
                           "archived = 1 AND deleted = 0 AND archive_timestamp < ?4 ORDER "
                           "BY archive_timestamp DESC, id DESC LIMIT ?5");
        sqlite3_bind_int64(s, 4, q->before_ms ? (sqlite3_int64)q->before_ms : INT64_MAX);
    }
    hs_bind_id(s, 1, q->parent_id);
    hs_bind_id(s, 2, q->user_id);
    sqlite3_bind_int(s, 3, q->type);
    sqlite3_bind_int(s, 5, q->limit + 1); /* one more says whether there are more */
    size_t n;
    uint64_t *ids = collect_ids(s, &n);
    int has_more = n > (size_t)q->limit;
    if (has_more)
        n = (size_t)q->limit;
    json_t *threads = json_array(), *members = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *t = hs_channel_json(db, ids[i]);
        if (t)
            json_array_append_new(threads, t);
        json_t *tm = hs_thread_member_json(db, ids[i], q->user_id, 0);
        if (tm)
            json_array_append_new(members, tm);
    }
    free(ids);
    return json_pack("{s:o, s:o, s:b}", "threads", threads, "members", members, "has_more",
                     has_more);
}

int hs_thread_archive_idle_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_thread_archive_idle *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t now = hs_txn_now_ms(txn);
    /* Last activity: the newest message (its snowflake's time) or the creation or last
     * unarchiving (archive_timestamp), whichever is later. */
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT id, guild_id FROM channels WHERE type IN (10, 11, 12) AND archived = 0 AND "
            "deleted = 0 AND max(coalesce(archive_timestamp, 0), coalesce((last_message_id >> "
            "22) + ?1, 0)) + coalesce(auto_archive_duration, ?2) * ?3 <= ?4 LIMIT ?5");
    sqlite3_bind_int64(s, 1, (sqlite3_int64)HS_EPOCH_MS);
    sqlite3_bind_int(s, 2, HS_THREAD_ARCHIVE_DEFAULT);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)op->minute_ms);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
    sqlite3_bind_int(s, 5, HS_THREAD_ARCHIVE_BATCH);
    uint64_t ids[HS_THREAD_ARCHIVE_BATCH], guilds[HS_THREAD_ARCHIVE_BATCH];
    size_t n = 0;
    while (n < HS_THREAD_ARCHIVE_BATCH && sqlite3_step(s) == SQLITE_ROW) {
        ids[n] = (uint64_t)sqlite3_column_int64(s, 0);
        guilds[n] = (uint64_t)sqlite3_column_int64(s, 1);
        n++;
    }
    sqlite3_reset(s);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        s = hs_db_stmt(db, "UPDATE channels SET archived = 1, archive_timestamp = ? WHERE id = ?");
        sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
        hs_bind_id(s, 2, ids[i]);
        rc = hs_db_step_done(db, s, err, "archiving an idle thread");
        if (rc == 0)
            rc = hs_txn_event(txn, "THREAD_UPDATE", guilds[i], ids[i], 0,
                              hs_channel_json(db, ids[i]), err);
    }
    op->archived = rc == 0 ? (int)n : 0;
    return rc;
}
