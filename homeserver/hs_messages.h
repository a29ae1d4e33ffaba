/*
 * hs_messages.h: messages: create, edit, delete, fetch one, page through history.
 *
 * Message ids are drawn inside the write transaction, so id order is commit order within a
 * channel (spec/client-api.md §5). History pages read one range of the messages table,
 * which is clustered by (channel_id, id).
 */
#ifndef HS_MESSAGES_H
#define HS_MESSAGES_H

#include <jansson.h>
#include <stdint.h>

#include "hs_core.h"

/* Write: a new message. Needs VIEW_CHANNEL and SEND_MESSAGES in a text channel. */
struct hs_msg_create {
    uint64_t channel_id, author_id;
    const char *content;
    int tts;
    int max_chars;   /* the configured content limit */
    json_t *nonce;   /* borrowed; echoed in the result and the event, NULL for none */
    json_t *message; /* out: new reference */
};
int hs_msg_create_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: new content for a message; the author only. */
struct hs_msg_edit {
    uint64_t channel_id, message_id, actor_id;
    const char *content;
    int max_chars;
    json_t *message; /* out: new reference */
};
int hs_msg_edit_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: deletes a message; its author or a member with MANAGE_MESSAGES. */
struct hs_msg_delete {
    uint64_t channel_id, message_id, actor_id;
};
int hs_msg_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/* One message of a channel the caller already may read; HS_R_UNKNOWN_MESSAGE if absent. */
int hs_msg_get(hs_db *db, uint64_t channel_id, uint64_t message_id, json_t **out, hs_error *err);

/*
 * A history page, newest first (spec/client-api.md "Messages"). At most one of before,
 * after (after_given), around is given; limit is 1..100. The caller checked access.
 */
struct hs_history_query {
    uint64_t before, after, around;
    int after_given; /* `after` was given, even as 0 (then: the oldest messages) */
    int limit;
};
json_t *hs_msg_history(hs_db *db, uint64_t channel_id, const struct hs_history_query *q);

/* Validates message content against max_chars code points; HS_R_FORM or
 * HS_R_EMPTY_MESSAGE. */
int hs_msg_check_content(const char *content, int max_chars, hs_error *err);

#endif
