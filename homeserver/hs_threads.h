/*
 * hs_threads.h: threads (public 11 and private 12), their members, and the thread half of
 * channel edits, deletions and posts (spec/rest-channels.md §5-§7).
 *
 * A thread is a row of the channels table with its parent in parent_id; its members are
 * rows of thread_members. Permissions in a thread are the parent's (hs_perm_channel), with
 * SEND_MESSAGES_IN_THREADS standing in for SEND_MESSAGES, and a private thread is visible
 * to its members and MANAGE_THREADS holders only. Reads take the calling thread's hs_db;
 * writes run on the writer thread.
 */
#ifndef HS_THREADS_H
#define HS_THREADS_H

#include <jansson.h>
#include <stdint.h>

#include "hs_channels.h"
#include "hs_core.h"

/* Discord's auto_archive_duration values, in minutes; the default is 4320. */
#define HS_THREAD_ARCHIVE_DEFAULT 4320
int hs_thread_archive_duration_ok(int minutes);

/*
 * Write: a new thread in a text channel. With message_id, a public thread started from that
 * message (its id is the message's; one thread per message); else a thread of `type` (11 or
 * 12) with a fresh id. Needs VIEW_CHANNEL and CREATE_PUBLIC_THREADS or
 * CREATE_PRIVATE_THREADS in the parent. The creator joins. Records THREAD_CREATE
 * (newly_created), THREAD_MEMBER_UPDATE for the creator, and an audit entry.
 */
struct hs_thread_create {
    uint64_t parent_id, actor_id;
    uint64_t message_id; /* 0: not from a message */
    const char *name;
    int type;                  /* 11 or 12 when message_id is 0 */
    int auto_archive_duration; /* 0: the default */
    int rate_limit_per_user;
    int invitable;      /* private threads */
    const char *reason; /* borrowed */
    json_t *thread;     /* out: new reference */
};
int hs_thread_create_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: adds (PUT) or removes (DELETE) user_id as a member of a thread. Joining or leaving
 * oneself needs only access to the thread; adding another needs SEND_MESSAGES_IN_THREADS
 * and, in a private thread, invitable or MANAGE_THREADS; removing another needs
 * MANAGE_THREADS or to own the thread. The thread must not be archived. Records
 * THREAD_MEMBERS_UPDATE (and THREAD_MEMBER_UPDATE for the added user) when it changed.
 */
struct hs_thread_member_op {
    uint64_t thread_id, actor_id, user_id;
    int add;
};
int hs_thread_member_fn(hs_txn *txn, void *arg, hs_error *err);

/* Archives threads idle for their auto_archive_duration (minutes of minute_ms each): no
 * message and no (un)archiving for that long. Each gets THREAD_UPDATE. At most
 * HS_THREAD_ARCHIVE_BATCH per call; `archived` says how many. */
#define HS_THREAD_ARCHIVE_BATCH 500
struct hs_thread_archive_idle {
    uint64_t minute_ms;
    int archived;
};
int hs_thread_archive_idle_fn(hs_txn *txn, void *arg, hs_error *err);

/* The thread member object {id, user_id, join_timestamp, flags} (with the guild `member`
 * when with_member), or NULL when user_id is not a member. */
json_t *hs_thread_member_json(hs_db *db, uint64_t thread_id, uint64_t user_id, int with_member);
/* A thread's members with user id > after, ascending, at most limit. */
json_t *hs_thread_member_list(hs_db *db, uint64_t thread_id, uint64_t after, int limit,
                              int with_member);

/* The guild's active (not archived) threads user_id may view, by id; *members (if not NULL)
 * gets new JSON: user_id's thread member objects in those threads. */
json_t *hs_thread_active(hs_db *db, uint64_t guild_id, uint64_t user_id, json_t **members);

/* Archived threads of a channel, newest archive first (spec/rest-channels.md §7). */
struct hs_thread_archived_query {
    uint64_t parent_id, user_id;
    int type;           /* 11 public, 12 private */
    int joined_only;    /* only threads user_id is a member of */
    uint64_t before_ms; /* archive_timestamp (or, joined_only, thread id) before; 0: none */
    uint64_t before_id; /* joined_only: thread id before; 0: none */
    int limit;
};
/* {threads, members, has_more}; the caller checked access to the parent. */
json_t *hs_thread_archived(hs_db *db, const struct hs_thread_archived_query *q);

/* For hs_channels.c: the thread halves of its writes; ch is the thread, perms the actor's
 * permissions in it. */
int hs_thread_update(hs_txn *txn, struct hs_channel_update *op, const struct hs_channel *ch,
                     uint64_t perms, hs_error *err);
int hs_thread_delete(hs_txn *txn, struct hs_channel_delete *op, const struct hs_channel *ch,
                     uint64_t perms, hs_error *err);
int hs_thread_check_post(hs_txn *txn, const struct hs_channel *ch, uint64_t perms, hs_error *err);

#endif
