/*
 * hs_messages.h: messages and what hangs off them: create (with mentions, replies,
 * idempotent nonces and attachments), edit, delete, bulk delete, fetch one, page through
 * history; pins (hs_pins.c) and reactions (hs_reactions.c). spec/rest-messages.md is the
 * contract; spec/client-api.md "Messages" the basics.
 *
 * Message ids are drawn inside the write transaction, so id order is commit order within a
 * channel (spec/client-api.md §5). History pages read one range of the messages table,
 * which is clustered by (channel_id, id).
 *
 * The message object depends on who looks at it: `reactions[].me` says whether the viewer
 * reacted. Reads take the viewer's id; events, which every viewer shares, are built for
 * viewer 0 (nobody), so their `me` is always false, as in Discord's MESSAGE_CREATE.
 */
#ifndef HS_MESSAGES_H
#define HS_MESSAGES_H

#include <jansson.h>
#include <stdint.h>

#include "hs_core.h"
#include "hs_mentions.h"

/* Discord's message types that Hearth writes. */
enum hs_message_type {
    HS_MSG_DEFAULT = 0,
    HS_MSG_CHANNEL_PINNED = 6, /* "X pinned a message": the system message of a pin */
    HS_MSG_REPLY = 19,
    HS_MSG_AUTO_MODERATION_ACTION = 24, /* an AutoMod alert (hs_automod_check.c) */
};

#define HS_MSG_MAX_ATTACHMENTS 10                         /* files per message */
#define HS_MSG_MAX_PINS 250                               /* pinned messages per channel */
#define HS_MSG_MAX_REACTIONS 20                           /* distinct emoji per message */
#define HS_MSG_NONCE_WINDOW_MS (5 * 60 * 1000)            /* enforce_nonce remembers this long */
#define HS_MSG_BULK_MAX_AGE_MS (14ULL * 24 * 3600 * 1000) /* bulk delete: two weeks */
#define HS_MSG_BULK_MIN 2
#define HS_MSG_BULK_MAX 100

/* A reply's target (message_reference). fail_if_not_exists defaults to 1. */
struct hs_msg_reference {
    uint64_t message_id;
    uint64_t channel_id; /* 0: this channel */
    uint64_t guild_id;   /* 0: this channel's guild */
    int fail_if_not_exists;
};

/* A file already stored content-addressed (hs_attachment_store) and what the message says
 * about it. Strings are borrowed for the duration of the write. */
struct hs_msg_attachment {
    char sha256[65];
    const char *filename;     /* sanitised (hs_attachment_filename) */
    const char *description;  /* NULL: none */
    const char *content_type; /* normalised (hs_attachment_content_type), NULL: unknown */
    uint64_t size;
    int width, height; /* 0: not an image Hearth could measure */
};

/*
 * Write: a new message. Needs VIEW_CHANNEL and SEND_MESSAGES in a text channel (DM,
 * thread), ATTACH_FILES for attachments. content may be empty only with attachments.
 * With enforce_nonce and a nonce this author used in this channel within
 * HS_MSG_NONCE_WINDOW_MS, nothing is written and the earlier message is returned
 * (*deduplicated set). A reply whose target is not a message of this channel fails with
 * 50035 MESSAGE_REFERENCE_UNKNOWN_MESSAGE, unless fail_if_not_exists is 0: then it is a
 * plain message. With check_only, the checks run and, when they pass, *checked is set and
 * nothing more: a message with files asks this before it stores them. The checks may touch
 * rows (a post unarchives its thread), so the caller makes that write fail on purpose to
 * roll them back (capi_messages.c).
 */
struct hs_msg_create {
    uint64_t channel_id, author_id;
    const char *content; /* NULL: empty */
    int tts;
    int max_chars;                                      /* the configured content limit */
    json_t *nonce;                                      /* borrowed; echoed; NULL for none */
    int enforce_nonce;                                  /* dedupe on nonce */
    const struct hs_allowed_mentions *allowed_mentions; /* NULL: absent */
    const struct hs_msg_reference *reference;           /* NULL: not a reply */
    const struct hs_msg_attachment *attachments;        /* nattachments of them */
    size_t nattachments;
    int check_only;   /* stop after the checks */
    int checked;      /* out (check_only): the checks passed */
    json_t *message;  /* out: new reference */
    int deduplicated; /* out: an earlier message was returned */
};
int hs_msg_create_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: edits a message; the author only, and never a system message (HS_R_SYSTEM_MESSAGE).
 * content NULL keeps it (and the mentions);
 * new content re-resolves mentions with allowed_mentions. keep_attachments (NULL: keep
 * all) lists the attachment ids to keep; the others become unreachable. The message may
 * not end up with neither content nor attachments.
 */
struct hs_msg_edit {
    uint64_t channel_id, message_id, actor_id;
    const char *content;
    int max_chars;
    const struct hs_allowed_mentions *allowed_mentions; /* NULL: absent */
    const uint64_t *keep_attachments;                   /* nkeep of them; NULL: unchanged */
    size_t nkeep;
    json_t *message; /* out: new reference */
};
int hs_msg_edit_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: deletes a message; its author or a member with MANAGE_MESSAGES (recorded in the
 * audit log when it is someone else's). */
struct hs_msg_delete {
    uint64_t channel_id, message_id, actor_id;
    const char *reason; /* X-Audit-Log-Reason, NULL for none */
};
int hs_msg_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Write: deletes HS_MSG_BULK_MIN..HS_MSG_BULK_MAX messages at once; needs MANAGE_MESSAGES.
 * Any id whose timestamp is older than HS_MSG_BULK_MAX_AGE_MS fails the whole request
 * (HS_R_MESSAGE_TOO_OLD); ids that name no message of the channel are ignored. The caller
 * rejected duplicates and counts outside the range.
 */
struct hs_msg_bulk_delete {
    uint64_t channel_id, actor_id;
    const uint64_t *ids;
    size_t nids;
    const char *reason;
    size_t deleted; /* out */
};
int hs_msg_bulk_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/* One message of a channel the caller already may read, as viewer_id sees it;
 * HS_R_UNKNOWN_MESSAGE if absent. */
int hs_msg_get(hs_db *db, uint64_t channel_id, uint64_t message_id, uint64_t viewer_id,
               json_t **out, hs_error *err);
/* The same, NULL when absent. */
json_t *hs_msg_json(hs_db *db, uint64_t channel_id, uint64_t message_id, uint64_t viewer_id);

/*
 * A history page, newest first (spec/client-api.md "Messages"). At most one of before,
 * after (after_given), around is given; limit is 1..100. The caller checked access.
 */
struct hs_history_query {
    uint64_t before, after, around;
    int after_given; /* `after` was given, even as 0 (then: the oldest messages) */
    int limit;
};
json_t *hs_msg_history(hs_db *db, uint64_t channel_id, const struct hs_history_query *q,
                       uint64_t viewer_id);

/* Validates message content against max_chars code points; HS_R_FORM or
 * HS_R_EMPTY_MESSAGE. */
int hs_msg_check_content(const char *content, int max_chars, hs_error *err);

/* ---- pins (hs_pins.c) ---- */

/*
 * Write: pins (pin = 1) or unpins a message. Needs PIN_MESSAGES or MANAGE_MESSAGES. At most
 * HS_MSG_MAX_PINS per channel (HS_R_MAX_PINS); a system message cannot be pinned
 * (HS_R_SYSTEM_MESSAGE). Pinning a pinned message, or unpinning one
 * that is not, changes nothing (*changed = 0). A pin posts a CHANNEL_PINNED_MESSAGE system
 * message; both record CHANNEL_PINS_UPDATE, MESSAGE_UPDATE and (in guilds) the audit log.
 */
struct hs_pin {
    uint64_t channel_id, message_id, actor_id;
    int pin;
    const char *reason;
    int changed; /* out */
};
int hs_pin_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * Pinned messages, most recently pinned first. before_ms (0: none) keeps those pinned
 * strictly before it; at most limit. Returns [{pinned_at, message}] and sets *has_more.
 */
json_t *hs_pins_list(hs_db *db, uint64_t channel_id, uint64_t viewer_id, uint64_t before_ms,
                     int limit, int *has_more);

/* ---- reactions (hs_reactions.c) ---- */

#define HS_EMOJI_MAX_BYTES 32

/*
 * Checks an emoji as it appears in a reaction path (already percent-decoded): 1 to
 * HS_EMOJI_MAX_BYTES bytes of valid UTF-8 holding at least one visible non-ASCII code
 * point (not only spaces, joiners, variation selectors or tags), no control characters,
 * and no ASCII except inside a keycap sequence ([0-9#*] FE0F? 20E3).
 * A custom emoji "name:id" is HS_R_UNKNOWN_EMOJI (Hearth has no custom emoji yet); anything
 * else bad is HS_R_INVALID_EMOJI. Both answer 10014.
 */
int hs_emoji_check(const char *emoji, hs_error *err);

enum hs_reaction_op {
    HS_REACT_ADD,          /* actor reacts: READ_MESSAGE_HISTORY, ADD_REACTIONS for a new emoji */
    HS_REACT_REMOVE_OWN,   /* actor's own reaction */
    HS_REACT_REMOVE_USER,  /* user_id's reaction: MANAGE_MESSAGES unless user_id is actor */
    HS_REACT_REMOVE_EMOJI, /* every reaction with emoji: MANAGE_MESSAGES */
    HS_REACT_REMOVE_ALL,   /* every reaction on the message: MANAGE_MESSAGES */
};

/* Write: one of enum hs_reaction_op. Adding a reaction that exists, or removing one that
 * does not, changes nothing (*changed = 0) and records no event. */
struct hs_reaction {
    uint64_t channel_id, message_id, actor_id;
    uint64_t user_id;  /* HS_REACT_REMOVE_USER */
    const char *emoji; /* checked with hs_emoji_check; unused for REMOVE_ALL */
    int op;
    int changed; /* out */
};
int hs_reaction_fn(hs_txn *txn, void *arg, hs_error *err);

/* The users who reacted with emoji, ascending by id, with id > after, at most limit; the
 * caller checked access. HS_R_UNKNOWN_MESSAGE when the message is not in the channel. */
int hs_reaction_users(hs_db *db, uint64_t channel_id, uint64_t message_id, const char *emoji,
                      uint64_t after, int limit, json_t **out, hs_error *err);

/* For hs_pins.c and hs_reactions.c: the author of a message of channel_id (0 when there
 * is no such message). */
uint64_t hs_msg_author(hs_db *db, uint64_t channel_id, uint64_t message_id);

#endif
