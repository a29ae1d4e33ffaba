/*
 * hs_automod.h: AutoMod and spam detection, run inside the homeserver before a message is
 * stored (spec/rest-automod.md).
 *
 * This module owns the automod_rules and automod_guilds tables: a guild's rules in
 * Discord's shape (KEYWORD, SPAM, KEYWORD_PRESET and MENTION_SPAM triggers; BLOCK_MESSAGE,
 * SEND_ALERT_MESSAGE and TIMEOUT actions; exempt roles and channels), and per guild a
 * version stamp and the spam heuristics' settings (hs_spam.h). Rule writes check
 * MANAGE_GUILD inside their transaction, record AUTO_MODERATION_RULE_CREATE / UPDATE /
 * DELETE and audit log entries 140-142.
 *
 * hs_automod_check_message is the one call hs_messages.c makes, in the write that creates
 * or edits a message, before the message is stored. It decides from the guild's compiled
 * rules (hs_automod_match.h) and the spam tracker, both cached on the writer thread
 * (hs_txn_state) and recompiled only when the guild's version stamp changes, so a guild
 * without rules costs one indexed lookup per message. What AutoMod does (audit log 143-145,
 * alert messages, timeouts, AUTO_MODERATION_ACTION_EXECUTION) is recorded in the same
 * transaction; for a blocked message it is recorded by hs_txn_on_failure after the
 * message's write was rolled back, so nothing of the message is stored and the trace is.
 *
 * Reads take the calling thread's hs_db; writes are hs_write_fn functions for the writer.
 */
#ifndef HS_AUTOMOD_H
#define HS_AUTOMOD_H

#include <jansson.h>
#include <stdint.h>

#include "hs_channels.h"
#include "hs_core.h"

/* Discord's bounds (spec/rest-automod.md §2). */
#define HS_AUTOMOD_KEYWORD_RULES 6 /* the default of automod-max-keyword-rules */
#define HS_AUTOMOD_NAME_MAX 100
#define HS_AUTOMOD_MAX_KEYWORDS 1000
#define HS_AUTOMOD_MAX_ALLOW_KEYWORD 100
#define HS_AUTOMOD_MAX_ALLOW_PRESET 1000
#define HS_AUTOMOD_MAX_MENTION_LIMIT 50
#define HS_AUTOMOD_MAX_EXEMPT_ROLES 20
#define HS_AUTOMOD_MAX_EXEMPT_CHANNELS 50
#define HS_AUTOMOD_MAX_ACTIONS 3
#define HS_AUTOMOD_CUSTOM_MESSAGE_MAX 150
#define HS_AUTOMOD_TIMEOUT_MAX_SECONDS 2419200
/* The window of mention raid protection (mention_raid_protection_enabled). */
#define HS_AUTOMOD_MENTION_RAID_WINDOW_MS (60 * 1000)

enum hs_automod_event { HS_AUTOMOD_MESSAGE_SEND = 1 };
enum hs_automod_trigger {
    HS_AUTOMOD_KEYWORD = 1,
    HS_AUTOMOD_SPAM = 3,
    HS_AUTOMOD_KEYWORD_PRESET = 4,
    HS_AUTOMOD_MENTION_SPAM = 5,
};
enum hs_automod_action {
    HS_AUTOMOD_BLOCK_MESSAGE = 1,
    HS_AUTOMOD_SEND_ALERT_MESSAGE = 2,
    HS_AUTOMOD_TIMEOUT = 3,
};

/* ---- rules ---- */

/* Every rule of a guild, ascending by id; new JSON. The caller checked MANAGE_GUILD. */
json_t *hs_automod_rule_list(hs_db *db, uint64_t guild_id);
/* One rule; HS_ENOTFOUND/HS_R_UNKNOWN_AUTOMOD_RULE when it is not a rule of guild_id. */
int hs_automod_rule_get(hs_db *db, uint64_t guild_id, uint64_t rule_id, json_t **out,
                        hs_error *err);

/*
 * Write: creates a rule (rule_id 0) or edits one from a request body (borrowed), checked
 * here field by field (HS_R_FORM naming the first bad field). Needs MANAGE_GUILD, and
 * MODERATE_MEMBERS for a TIMEOUT action. At most max_keyword_rules KEYWORD rules and one
 * rule of each other trigger type per guild (50035 AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED).
 * An edit cannot change trigger_type.
 */
struct hs_automod_rule_write {
    uint64_t guild_id, rule_id, actor_id;
    json_t *body;
    int max_keyword_rules;
    const char *reason; /* X-Audit-Log-Reason, NULL for none */
    json_t *rule;       /* out: new reference */
};
int hs_automod_rule_create_fn(hs_txn *txn, void *arg, hs_error *err);
int hs_automod_rule_edit_fn(hs_txn *txn, void *arg, hs_error *err);

/* Write: deletes a rule; needs MANAGE_GUILD. */
struct hs_automod_rule_delete {
    uint64_t guild_id, rule_id, actor_id;
    const char *reason;
};
int hs_automod_rule_delete_fn(hs_txn *txn, void *arg, hs_error *err);

/* ---- spam settings (the /hearth/spam extension) ---- */

/* The guild's spam settings object (defaults when never set); new JSON. */
json_t *hs_automod_spam_json(hs_db *db, uint64_t guild_id);

/* Write: changes the fields present in body; needs MANAGE_GUILD. The alert channel must be
 * a text channel of the guild, exempt roles and channels the guild's. Audit log entry
 * GUILD_UPDATE with the changed fields as hearth_spam.FIELD. */
struct hs_automod_spam_edit {
    uint64_t guild_id, actor_id;
    json_t *body;
    const char *reason;
    json_t *settings; /* out: new reference */
};
int hs_automod_spam_edit_fn(hs_txn *txn, void *arg, hs_error *err);

/* ---- the check ---- */

struct hs_automod_msg {
    const struct hs_channel *channel; /* where it is posted (guild_id 0: a DM, not checked) */
    uint64_t author_id;
    uint64_t perms;      /* the author's permissions in the channel */
    uint64_t message_id; /* the id the message will have (an edit: its id) */
    const char *content; /* NULL or empty: nothing to check */
    int edit;            /* an edit: rules and link checks only, no duplicate/velocity/raid */
};

/*
 * Inside the write that stores the message, before it does: runs the guild's enabled rules
 * and spam heuristics on the message. Returns 0 when it may be stored (after recording any
 * alerts, timeouts and flags), or HS_EINVAL with HS_R_AUTOMOD_BLOCKED when it must not be
 * (the caller fails its write; the trace is recorded after the rollback). Members with
 * ADMINISTRATOR or MANAGE_GUILD are never checked. Writer thread only.
 */
int hs_automod_check_message(hs_txn *txn, const struct hs_automod_msg *m, hs_error *err);

#endif
