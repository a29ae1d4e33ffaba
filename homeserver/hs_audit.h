/*
 * hs_audit.h: the guild audit log (spec/client-api.md "Audit log").
 *
 * Every moderation-relevant write records one entry in its own transaction with
 * hs_audit_record, which also records a GUILD_AUDIT_LOG_ENTRY_CREATE event. Reading needs
 * VIEW_AUDIT_LOG, which the caller checks.
 */
#ifndef HS_AUDIT_H
#define HS_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "hs_core.h"

/* Discord's audit log action types. */
enum hs_audit_action {
    HS_AUDIT_GUILD_UPDATE = 1,
    HS_AUDIT_CHANNEL_CREATE = 10,
    HS_AUDIT_CHANNEL_UPDATE = 11,
    HS_AUDIT_CHANNEL_DELETE = 12,
    HS_AUDIT_CHANNEL_OVERWRITE_CREATE = 13,
    HS_AUDIT_CHANNEL_OVERWRITE_UPDATE = 14,
    HS_AUDIT_CHANNEL_OVERWRITE_DELETE = 15,
    HS_AUDIT_MEMBER_KICK = 20,
    HS_AUDIT_MEMBER_BAN_ADD = 22,
    HS_AUDIT_MEMBER_BAN_REMOVE = 23,
    HS_AUDIT_MEMBER_UPDATE = 24,
    HS_AUDIT_MEMBER_ROLE_UPDATE = 25,
    HS_AUDIT_BOT_ADD = 28,
    HS_AUDIT_ROLE_CREATE = 30,
    HS_AUDIT_ROLE_UPDATE = 31,
    HS_AUDIT_ROLE_DELETE = 32,
    HS_AUDIT_INVITE_CREATE = 40,
    HS_AUDIT_INVITE_UPDATE = 41,
    HS_AUDIT_INVITE_DELETE = 42,
    HS_AUDIT_MESSAGE_DELETE = 72,
    HS_AUDIT_MESSAGE_BULK_DELETE = 73,
    HS_AUDIT_MESSAGE_PIN = 74,
    HS_AUDIT_MESSAGE_UNPIN = 75,
    HS_AUDIT_THREAD_CREATE = 110,
    HS_AUDIT_THREAD_UPDATE = 111,
    HS_AUDIT_THREAD_DELETE = 112,
    HS_AUDIT_AUTO_MODERATION_RULE_CREATE = 140,
    HS_AUDIT_AUTO_MODERATION_RULE_UPDATE = 141,
    HS_AUDIT_AUTO_MODERATION_RULE_DELETE = 142,
    HS_AUDIT_AUTO_MODERATION_BLOCK_MESSAGE = 143,
    HS_AUDIT_AUTO_MODERATION_FLAG_TO_CHANNEL = 144,
    HS_AUDIT_AUTO_MODERATION_USER_TIMED_OUT = 145,
};

/*
 * Records an entry inside a write. changes (an array of {key, old_value?, new_value?}) and
 * options (an object of strings) are taken and may be NULL; reason (the
 * X-Audit-Log-Reason header, at most 512 characters) may be NULL.
 */
int hs_audit_record(hs_txn *txn, uint64_t guild_id, uint64_t user_id, int action,
                    uint64_t target_id, json_t *changes, json_t *options, const char *reason,
                    hs_error *err);

/* Builds one change entry for hs_audit_record's changes; takes old_value and new_value
 * (either may be NULL). */
json_t *hs_audit_change(const char *key, json_t *old_value, json_t *new_value);

struct hs_audit_query {
    uint64_t user_id; /* 0: anyone */
    int action_type;  /* 0: any */
    uint64_t before;  /* 0: none */
    uint64_t after;   /* 0: none */
    int limit;        /* 1..100 */
};

/* {audit_log_entries, users, integrations: [], threads: [], webhooks: [],
 * auto_moderation_rules: [], application_commands: [], guild_scheduled_events: []}, newest
 * first (oldest first when only `after` is given, as Discord does). */
json_t *hs_audit_list(hs_db *db, uint64_t guild_id, const struct hs_audit_query *q);

#endif
