/*
 * AutoMod rules and spam settings: storage, validation, reads and writes (hs_automod.h,
 * spec/rest-automod.md §2-§4). The check that runs on every message is hs_automod_check.c.
 *
 * DESIGN: a request body is turned into a rule's canonical parts (the trigger metadata
 * with every field of its trigger type, the actions with exactly their metadata, the
 * exempt lists as id strings), which are what the table stores and what the API returns,
 * so a rule reads back exactly as it will be enforced. Every change to a guild's rules or
 * spam settings writes a fresh id into automod_guilds.version in the same transaction: the
 * writer's compiled-rules cache compares that stamp and recompiles only when it moved, and
 * because the stamp is never reused, a change that was rolled back cannot leave a stale
 * compilation looking current.
 */
#include "hs_automod.h"
#include "hs_audit.h"
#include "hs_automod_match.h"
#include "hs_perm.h"
#include "hs_roles.h"
#include "hs_spam.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_COLUMNS                                                                               \
    "id, guild_id, name, creator_id, event_type, trigger_type, trigger_metadata, actions, "        \
    "enabled, exempt_roles, exempt_channels"

/* ------------------------------------------------------------------ reads */

static json_t *stored(const char *text, json_t *fallback)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (!v)
        return fallback;
    json_decref(fallback);
    return v;
}

/* The rule object of one row of RULE_COLUMNS. */
static json_t *rule_row_json(sqlite3_stmt *s)
{
    json_t *r = json_pack(
        "{s:o, s:o, s:s, s:o, s:i, s:i, s:o, s:o, s:b, s:o, s:o}", "id",
        hs_json_id(hs_col_id(s, 0)), "guild_id", hs_json_id(hs_col_id(s, 1)), "name",
        hs_col_text(s, 2) ? hs_col_text(s, 2) : "", "creator_id", hs_json_id(hs_col_id(s, 3)),
        "event_type", sqlite3_column_int(s, 4), "trigger_type", sqlite3_column_int(s, 5),
        "trigger_metadata", stored(hs_col_text(s, 6), json_object()), "actions",
        stored(hs_col_text(s, 7), json_array()), "enabled", sqlite3_column_int(s, 8),
        "exempt_roles", stored(hs_col_text(s, 9), json_array()), "exempt_channels",
        stored(hs_col_text(s, 10), json_array()));
    HS_ASSERT(r);
    return r;
}

json_t *hs_automod_rule_list(hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " RULE_COLUMNS " FROM automod_rules WHERE guild_id = ? ORDER BY id");
    hs_bind_id(s, 1, guild_id);
    json_t *out = json_array();
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(out, rule_row_json(s));
    sqlite3_reset(s);
    return out;
}

int hs_automod_rule_get(hs_db *db, uint64_t guild_id, uint64_t rule_id, json_t **out, hs_error *err)
{
    sqlite3_stmt *s =
        hs_db_stmt(db, "SELECT " RULE_COLUMNS " FROM automod_rules WHERE id = ? AND guild_id = ?");
    hs_bind_id(s, 1, rule_id);
    hs_bind_id(s, 2, guild_id);
    *out = sqlite3_step(s) == SQLITE_ROW ? rule_row_json(s) : NULL;
    sqlite3_reset(s);
    if (!*out)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_AUTOMOD_RULE,
                               "Unknown Auto Moderation Rule");
    return 0;
}

static void spam_load(hs_db *db, uint64_t guild_id, struct hs_spam_settings *out)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT spam FROM automod_guilds WHERE guild_id = ?");
    hs_bind_id(s, 1, guild_id);
    const char *text = sqlite3_step(s) == SQLITE_ROW ? hs_col_text(s, 0) : NULL;
    hs_spam_settings_load(out, text);
    sqlite3_reset(s);
}

json_t *hs_automod_spam_json(hs_db *db, uint64_t guild_id)
{
    struct hs_spam_settings set;
    spam_load(db, guild_id, &set);
    return hs_spam_settings_json(&set);
}

/* ------------------------------------------------------------------ validation */

static int step_done(hs_db *db, sqlite3_stmt *s, hs_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(db, err, what);
}

/* A snowflake as a decimal string or a non-negative integer. */
static int id_of(json_t *v, uint64_t *out)
{
    if (json_is_string(v))
        return hs_parse_u64(json_string_value(v), out) == 0 && *out <= (uint64_t)INT64_MAX ? 0 : -1;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    return -1;
}

static size_t chars_of(json_t *v)
{
    return hs_utf8_len(json_string_value(v), json_string_length(v));
}

/* A string field of 1..max code points. */
static int check_string(json_t *v, const char *field, size_t min, size_t max, hs_error *err)
{
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return hs_error_form(err, field, "BASE_TYPE_STRING",
                             "Could not interpret value as string.");
    size_t n = chars_of(v);
    if (n < min || n > max)
        return hs_error_form(err, field, "BASE_TYPE_BAD_LENGTH",
                             "Must be between %zu and %zu in length.", min, max);
    return 0;
}

static int check_int(json_t *v, const char *field, long min, long max, int *out, hs_error *err)
{
    if (!json_is_integer(v))
        return hs_error_form(err, field, "NUMBER_TYPE_COERCE", "Value is not int.");
    json_int_t n = json_integer_value(v);
    if (n < min)
        return hs_error_form(err, field, "NUMBER_TYPE_MIN",
                             "int value should be greater than or equal to %ld.", min);
    if (n > max)
        return hs_error_form(err, field, "NUMBER_TYPE_MAX",
                             "int value should be less than or equal to %ld.", max);
    *out = (int)n;
    return 0;
}

static int check_array(json_t *v, const char *field, size_t max, hs_error *err)
{
    if (!json_is_array(v))
        return hs_error_form(err, field, "BASE_TYPE_ARRAY", "Could not interpret value as array.");
    if (json_array_size(v) > max)
        return hs_error_form(err, field, "BASE_TYPE_MAX_LENGTH", "Must be %zu or fewer in length.",
                             max);
    return 0;
}

/* A keyword list (keyword_filter, allow_list): strings of 1..60 characters that are more
 * than wildcards. Returns a new canonical array in *out. */
static int check_keywords(json_t *v, const char *field, size_t max, json_t **out, hs_error *err)
{
    *out = json_array();
    if (!v || json_is_null(v))
        return 0;
    if (check_array(v, field, max, err) < 0)
        return HS_EINVAL;
    size_t i;
    json_t *k;
    json_array_foreach(v, i, k)
    {
        char at[80];
        snprintf(at, sizeof(at), "%s.%zu", field, i);
        if (check_string(k, at, 1, HS_AM_KEYWORD_MAX_CHARS, err) < 0)
            return HS_EINVAL;
        int lead, trail;
        char *norm = hs_am_keyword_normalise(json_string_value(k), &lead, &trail);
        free(norm);
        if (!norm)
            return hs_error_form(err, at, "AUTO_MODERATION_KEYWORD_EMPTY",
                                 "A keyword needs a character besides wildcards and spaces.");
        json_array_append(*out, k);
    }
    return 0;
}

/* Canonical trigger metadata of a trigger type from v (NULL: absent). */
static int check_metadata(int trigger, json_t *v, json_t **out, hs_error *err)
{
    *out = NULL;
    if (v && !json_is_null(v) && !json_is_object(v))
        return hs_error_form(err, "trigger_metadata", "DICT_TYPE_CONVERT",
                             "Only dictionaries may be used in a DictType");
    json_t *meta = v && json_is_object(v) ? v : NULL;
    json_t *keywords = NULL, *allow = NULL;
    int rc = 0;
    switch (trigger) {
    case HS_AUTOMOD_KEYWORD: {
        /* Hearth compiles no pattern a user wrote (spec/rest-automod.md "Matching"). */
        json_t *regex = json_object_get(meta, "regex_patterns");
        if (regex && !json_is_null(regex)) {
            if (check_array(regex, "trigger_metadata.regex_patterns", 10, err) < 0)
                return HS_EINVAL;
            if (json_array_size(regex) > 0)
                return hs_error_form(err, "trigger_metadata.regex_patterns",
                                     "AUTO_MODERATION_REGEX_UNSUPPORTED",
                                     "Hearth matches no regular expressions: use keyword_filter.");
        }
        rc = check_keywords(json_object_get(meta, "keyword_filter"),
                            "trigger_metadata.keyword_filter", HS_AUTOMOD_MAX_KEYWORDS, &keywords,
                            err);
        if (rc == 0 && json_array_size(keywords) == 0)
            rc = hs_error_form(err, "trigger_metadata.keyword_filter", "BASE_TYPE_REQUIRED",
                               "This field is required");
        if (rc == 0)
            rc = check_keywords(json_object_get(meta, "allow_list"), "trigger_metadata.allow_list",
                                HS_AUTOMOD_MAX_ALLOW_KEYWORD, &allow, err);
        if (rc == 0)
            *out = json_pack("{s:O, s:[], s:O}", "keyword_filter", keywords, "regex_patterns",
                             "allow_list", allow);
        break;
    }
    case HS_AUTOMOD_SPAM:
        *out = json_object();
        break;
    case HS_AUTOMOD_KEYWORD_PRESET: {
        json_t *presets = json_object_get(meta, "presets");
        if (!presets || json_is_null(presets) || json_array_size(presets) == 0)
            return hs_error_form(err, "trigger_metadata.presets", "BASE_TYPE_REQUIRED",
                                 "This field is required");
        if (check_array(presets, "trigger_metadata.presets", 3, err) < 0)
            return HS_EINVAL;
        json_t *canon = json_array();
        size_t i;
        json_t *p;
        int seen[4] = {0};
        json_array_foreach(presets, i, p)
        {
            int n;
            char at[64];
            snprintf(at, sizeof(at), "trigger_metadata.presets.%zu", i);
            if (!json_is_integer(p) || (n = (int)json_integer_value(p)) < 1 || n > 3) {
                json_decref(canon);
                return hs_error_form(err, at, "BASE_TYPE_CHOICES",
                                     "Value must be one of (1, 2, 3).");
            }
            if (!seen[n])
                json_array_append_new(canon, json_integer(n));
            seen[n] = 1;
        }
        rc = check_keywords(json_object_get(meta, "allow_list"), "trigger_metadata.allow_list",
                            HS_AUTOMOD_MAX_ALLOW_PRESET, &allow, err);
        if (rc == 0)
            *out = json_pack("{s:O, s:O}", "presets", canon, "allow_list", allow);
        json_decref(canon);
        break;
    }
    case HS_AUTOMOD_MENTION_SPAM: {
        json_t *limit = json_object_get(meta, "mention_total_limit");
        json_t *raid = json_object_get(meta, "mention_raid_protection_enabled");
        int n = 0;
        if (!limit || json_is_null(limit))
            return hs_error_form(err, "trigger_metadata.mention_total_limit", "BASE_TYPE_REQUIRED",
                                 "This field is required");
        if (check_int(limit, "trigger_metadata.mention_total_limit", 1,
                      HS_AUTOMOD_MAX_MENTION_LIMIT, &n, err) < 0)
            return HS_EINVAL;
        if (raid && !json_is_null(raid) && !json_is_boolean(raid))
            return hs_error_form(err, "trigger_metadata.mention_raid_protection_enabled",
                                 "BASE_TYPE_BOOLEAN", "Must be either true or false.");
        *out = json_pack("{s:i, s:b}", "mention_total_limit", n, "mention_raid_protection_enabled",
                         json_is_true(raid));
        break;
    }
    default:
        HS_BUG("unchecked trigger type");
    }
    json_decref(keywords);
    json_decref(allow);
    return rc;
}

/* Canonical actions; *timeout is set when one is a TIMEOUT. */
static int check_actions(hs_db *db, uint64_t guild_id, int trigger, json_t *v, json_t **out,
                         int *timeout, hs_error *err)
{
    *out = NULL;
    *timeout = 0;
    if (!v || json_is_null(v))
        return hs_error_form(err, "actions", "BASE_TYPE_REQUIRED", "This field is required");
    if (check_array(v, "actions", HS_AUTOMOD_MAX_ACTIONS, err) < 0)
        return HS_EINVAL;
    if (json_array_size(v) == 0)
        return hs_error_form(err, "actions", "BASE_TYPE_MIN_LENGTH",
                             "Must be 1 or more in length.");
    json_t *canon = json_array();
    int seen[4] = {0};
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a)
    {
        char at[64], mat[96];
        int type = 0;
        snprintf(at, sizeof(at), "actions.%zu.type", i);
        if (!json_is_object(a)) {
            snprintf(at, sizeof(at), "actions.%zu", i);
            json_decref(canon);
            return hs_error_form(err, at, "DICT_TYPE_CONVERT",
                                 "Only dictionaries may be used in a DictType");
        }
        json_t *t = json_object_get(a, "type");
        if (!t || json_is_null(t)) {
            json_decref(canon);
            return hs_error_form(err, at, "BASE_TYPE_REQUIRED", "This field is required");
        }
        if (!json_is_integer(t) || (type = (int)json_integer_value(t)) < 1 || type > 3) {
            json_decref(canon);
            return hs_error_form(err, at, "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3).");
        }
        if (seen[type]) {
            json_decref(canon);
            return hs_error_form(err, at, "AUTO_MODERATION_ACTION_DUPLICATE",
                                 "A rule has at most one action of each type.");
        }
        seen[type] = 1;
        json_t *meta = json_object_get(a, "metadata");
        if (meta && !json_is_null(meta) && !json_is_object(meta)) {
            snprintf(mat, sizeof(mat), "actions.%zu.metadata", i);
            json_decref(canon);
            return hs_error_form(err, mat, "DICT_TYPE_CONVERT",
                                 "Only dictionaries may be used in a DictType");
        }
        json_t *m = json_object();
        int rc = 0;
        if (type == HS_AUTOMOD_BLOCK_MESSAGE) {
            json_t *msg = json_object_get(meta, "custom_message");
            snprintf(mat, sizeof(mat), "actions.%zu.metadata.custom_message", i);
            if (msg && !json_is_null(msg)) {
                rc = check_string(msg, mat, 0, HS_AUTOMOD_CUSTOM_MESSAGE_MAX, err);
                if (rc == 0 && json_string_length(msg) > 0)
                    json_object_set(m, "custom_message", msg);
            }
        } else if (type == HS_AUTOMOD_SEND_ALERT_MESSAGE) {
            json_t *c = json_object_get(meta, "channel_id");
            uint64_t cid;
            struct hs_channel ch;
            snprintf(mat, sizeof(mat), "actions.%zu.metadata.channel_id", i);
            if (!c || json_is_null(c))
                rc = hs_error_form(err, mat, "BASE_TYPE_REQUIRED", "This field is required");
            else if (id_of(c, &cid) < 0)
                rc = hs_error_form(err, mat, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
            else if (hs_channel_get(db, cid, &ch, NULL) < 0 || ch.guild_id != guild_id ||
                     ch.type != HS_CHANNEL_TEXT)
                rc = hs_error_form(err, mat, "CHANNEL_INVALID",
                                   "Must be a text channel of this guild.");
            else
                json_object_set_new(m, "channel_id", hs_json_id(cid));
        } else {
            json_t *d = json_object_get(meta, "duration_seconds");
            int secs = 0;
            snprintf(mat, sizeof(mat), "actions.%zu.metadata.duration_seconds", i);
            if (trigger != HS_AUTOMOD_KEYWORD && trigger != HS_AUTOMOD_MENTION_SPAM)
                rc = hs_error_form(err, at, "AUTO_MODERATION_INVALID_ACTION",
                                   "TIMEOUT is for KEYWORD and MENTION_SPAM rules only.");
            else if (!d || json_is_null(d))
                rc = hs_error_form(err, mat, "BASE_TYPE_REQUIRED", "This field is required");
            else
                rc = check_int(d, mat, 1, HS_AUTOMOD_TIMEOUT_MAX_SECONDS, &secs, err);
            if (rc == 0)
                json_object_set_new(m, "duration_seconds", json_integer(secs));
            *timeout = 1;
        }
        if (rc < 0) {
            json_decref(m);
            json_decref(canon);
            return rc;
        }
        json_array_append_new(canon, json_pack("{s:i, s:o}", "type", type, "metadata", m));
    }
    *out = canon;
    return 0;
}

/* Canonical exempt roles (roles = 1) or channels of the guild. */
static int check_exempt(hs_db *db, uint64_t guild_id, json_t *v, const char *field, size_t max,
                        int roles, json_t **out, hs_error *err)
{
    *out = json_array();
    if (!v || json_is_null(v))
        return 0;
    if (check_array(v, field, max, err) < 0)
        return HS_EINVAL;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char at[64];
        uint64_t id;
        snprintf(at, sizeof(at), "%s.%zu", field, i);
        if (id_of(item, &id) < 0)
            return hs_error_form(err, at, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        struct hs_role r;
        struct hs_channel ch;
        if (roles ? hs_role_get(db, guild_id, id, &r, NULL) < 0
                  : (hs_channel_get(db, id, &ch, NULL) < 0 || ch.guild_id != guild_id))
            return hs_error_form(err, at, roles ? "UNKNOWN_ROLE" : "UNKNOWN_CHANNEL",
                                 roles ? "Unknown role" : "Unknown channel");
        json_t *sid = hs_json_id(id);
        int dup = 0;
        size_t j;
        json_t *prev;
        json_array_foreach(*out, j, prev) dup |= json_equal(prev, sid);
        if (dup)
            json_decref(sid);
        else
            json_array_append_new(*out, sid);
    }
    return 0;
}

/* A rule's parts, each a new reference. */
struct rule_form {
    json_t *name, *meta, *actions, *roles, *channels;
    int event_type, trigger_type, enabled, timeout;
};

static void form_release(struct rule_form *f)
{
    json_decref(f->name);
    json_decref(f->meta);
    json_decref(f->actions);
    json_decref(f->roles);
    json_decref(f->channels);
}

/*
 * The rule body applied to old (NULL: a creation, where name, event_type, trigger_type and
 * actions are required). Fields absent from an edit keep their value.
 */
static int check_rule(hs_db *db, uint64_t guild_id, json_t *body, json_t *old, struct rule_form *f,
                      hs_error *err)
{
    memset(f, 0, sizeof(*f));
    json_t *v;
    int rc;
    if (!json_is_object(body))
        return hs_error_form(err, "name", "BASE_TYPE_REQUIRED", "This field is required");
    /* name */
    v = json_object_get(body, "name");
    if (v && !json_is_null(v)) {
        if ((rc = check_string(v, "name", 1, HS_AUTOMOD_NAME_MAX, err)) < 0)
            return rc;
        f->name = json_incref(v);
    } else if (old) {
        f->name = json_incref(json_object_get(old, "name"));
    } else {
        return hs_error_form(err, "name", "BASE_TYPE_REQUIRED", "This field is required");
    }
    /* event_type: Hearth checks messages only */
    v = json_object_get(body, "event_type");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) != HS_AUTOMOD_MESSAGE_SEND)
            return hs_error_form(err, "event_type", "BASE_TYPE_CHOICES",
                                 "Value must be one of (1,).");
        f->event_type = HS_AUTOMOD_MESSAGE_SEND;
    } else if (old) {
        f->event_type = (int)json_integer_value(json_object_get(old, "event_type"));
    } else {
        return hs_error_form(err, "event_type", "BASE_TYPE_REQUIRED", "This field is required");
    }
    /* trigger_type: fixed once created */
    if (old) {
        f->trigger_type = (int)json_integer_value(json_object_get(old, "trigger_type"));
    } else {
        v = json_object_get(body, "trigger_type");
        if (!v || json_is_null(v))
            return hs_error_form(err, "trigger_type", "BASE_TYPE_REQUIRED",
                                 "This field is required");
        int t = json_is_integer(v) ? (int)json_integer_value(v) : 0;
        if (t != HS_AUTOMOD_KEYWORD && t != HS_AUTOMOD_SPAM && t != HS_AUTOMOD_KEYWORD_PRESET &&
            t != HS_AUTOMOD_MENTION_SPAM)
            return hs_error_form(err, "trigger_type", "BASE_TYPE_CHOICES",
                                 "Value must be one of (1, 3, 4, 5).");
        f->trigger_type = t;
    }
    /* trigger_metadata */
    v = json_object_get(body, "trigger_metadata");
    if (v || !old) {
        rc = check_metadata(f->trigger_type, v, &f->meta, err);
    } else {
        f->meta = json_incref(json_object_get(old, "trigger_metadata"));
        rc = 0;
    }
    if (rc < 0)
        return rc;
    /* actions */
    v = json_object_get(body, "actions");
    if (v || !old) {
        rc = check_actions(db, guild_id, f->trigger_type, v, &f->actions, &f->timeout, err);
    } else {
        f->actions = json_incref(json_object_get(old, "actions"));
        rc = 0;
    }
    if (rc < 0)
        return rc;
    /* enabled */
    v = json_object_get(body, "enabled");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return hs_error_form(err, "enabled", "BASE_TYPE_BOOLEAN",
                                 "Must be either true or false.");
        f->enabled = json_is_true(v);
    } else {
        f->enabled = old ? json_is_true(json_object_get(old, "enabled")) : 0;
    }
    /* exempt lists */
    v = json_object_get(body, "exempt_roles");
    if (v || !old)
        rc = check_exempt(db, guild_id, v, "exempt_roles", HS_AUTOMOD_MAX_EXEMPT_ROLES, 1,
                          &f->roles, err);
    else
        f->roles = json_incref(json_object_get(old, "exempt_roles"));
    if (rc < 0)
        return rc;
    v = json_object_get(body, "exempt_channels");
    if (v || !old)
        rc = check_exempt(db, guild_id, v, "exempt_channels", HS_AUTOMOD_MAX_EXEMPT_CHANNELS, 0,
                          &f->channels, err);
    else
        f->channels = json_incref(json_object_get(old, "exempt_channels"));
    return rc;
}

/* ------------------------------------------------------------------ writes */

/* Checks MANAGE_GUILD (and *perms for the caller's other checks). */
static int need_manage_guild(hs_db *db, uint64_t guild_id, uint64_t actor_id, uint64_t *perms,
                             hs_error *err)
{
    int rc = hs_perm_guild(db, guild_id, actor_id, perms, err);
    if (rc == 0 && !(*perms & HS_PERM_MANAGE_GUILD))
        rc = hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    return rc;
}

/* A fresh version stamp for the guild (its rules or settings changed). */
static int bump_version(hs_txn *txn, uint64_t guild_id, const char *spam, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s =
        hs_db_stmt(db, spam ? "INSERT INTO automod_guilds (guild_id, version, spam) VALUES (?1, "
                              "?2, ?3) ON CONFLICT (guild_id) DO UPDATE SET version = ?2, spam = ?3"
                            : "INSERT INTO automod_guilds (guild_id, version) VALUES (?1, ?2) ON "
                              "CONFLICT (guild_id) DO UPDATE SET version = ?2");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, hs_txn_new_id(txn));
    if (spam)
        hs_bind_text(s, 3, spam);
    return step_done(db, s, err, "stamping automod rules");
}

/* Binds a JSON value as compact text. */
static void bind_json(sqlite3_stmt *s, int i, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    HS_ASSERT(text);
    sqlite3_bind_text(s, i, text, -1, free);
}

static const char *const audited_keys[] = {
    "name",    "event_type", "trigger_type", "trigger_metadata",
    "actions", "enabled",    "exempt_roles", "exempt_channels",
};

/* The audit log changes between two rule objects (either may be NULL). */
static json_t *rule_changes(json_t *old, json_t *new)
{
    json_t *changes = json_array();
    for (size_t i = 0; i < HS_ARRAY_LEN(audited_keys); i++) {
        json_t *a = json_object_get(old, audited_keys[i]);
        json_t *b = json_object_get(new, audited_keys[i]);
        if (a && b && json_equal(a, b))
            continue;
        json_array_append_new(changes, hs_audit_change(audited_keys[i], a ? json_incref(a) : NULL,
                                                       b ? json_incref(b) : NULL));
    }
    return changes;
}

static int count_rules(hs_db *db, uint64_t guild_id, int trigger)
{
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT count(*) FROM automod_rules WHERE guild_id = ? AND trigger_type = ?");
    hs_bind_id(s, 1, guild_id);
    sqlite3_bind_int(s, 2, trigger);
    int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

/* Stores f as rule id (insert or replace) and reads it back. */
static int store_rule(hs_txn *txn, uint64_t id, uint64_t guild_id, uint64_t creator_id,
                      const struct rule_form *f, json_t **out, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    sqlite3_stmt *s = hs_db_stmt(
        db, "INSERT OR REPLACE INTO automod_rules (id, guild_id, name, creator_id, event_type, "
            "trigger_type, trigger_metadata, actions, enabled, exempt_roles, exempt_channels) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    hs_bind_id(s, 1, id);
    hs_bind_id(s, 2, guild_id);
    hs_bind_text(s, 3, json_string_value(f->name));
    hs_bind_id(s, 4, creator_id);
    sqlite3_bind_int(s, 5, f->event_type);
    sqlite3_bind_int(s, 6, f->trigger_type);
    bind_json(s, 7, f->meta);
    bind_json(s, 8, f->actions);
    sqlite3_bind_int(s, 9, f->enabled);
    bind_json(s, 10, f->roles);
    bind_json(s, 11, f->channels);
    int rc = step_done(db, s, err, "storing an automod rule");
    if (rc == 0)
        rc = hs_automod_rule_get(db, guild_id, id, out, err);
    return rc;
}

int hs_automod_rule_create_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_automod_rule_write *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t perms;
    struct rule_form f;
    int rc = need_manage_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    rc = check_rule(db, op->guild_id, op->body, NULL, &f, err);
    if (rc == 0 && f.timeout && !(perms & HS_PERM_MODERATE_MEMBERS))
        rc = hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    if (rc == 0) {
        int max = f.trigger_type == HS_AUTOMOD_KEYWORD ? op->max_keyword_rules : 1;
        if (max <= 0)
            max = HS_AUTOMOD_KEYWORD_RULES;
        if (count_rules(db, op->guild_id, f.trigger_type) >= max) {
            hs_error_form(err, "trigger_type", "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED",
                          "Maximum number of rules of this type reached (%d).", max);
            rc = HS_EINVAL;
        }
    }
    uint64_t id = rc == 0 ? hs_txn_new_id(txn) : 0;
    if (rc == 0)
        rc = store_rule(txn, id, op->guild_id, op->actor_id, &f, &op->rule, err);
    form_release(&f);
    if (rc == 0)
        rc = bump_version(txn, op->guild_id, NULL, err);
    if (rc == 0)
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_AUTO_MODERATION_RULE_CREATE,
                             id, rule_changes(NULL, op->rule), NULL, op->reason, err);
    if (rc == 0)
        rc = hs_txn_event(txn, "AUTO_MODERATION_RULE_CREATE", op->guild_id, 0, op->actor_id,
                          json_incref(op->rule), err);
    return rc;
}

int hs_automod_rule_edit_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_automod_rule_write *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t perms;
    struct rule_form f;
    json_t *old = NULL;
    int rc = need_manage_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc == 0)
        rc = hs_automod_rule_get(db, op->guild_id, op->rule_id, &old, err);
    if (rc < 0)
        return rc;
    rc = check_rule(db, op->guild_id, op->body, old, &f, err);
    /* Adding a timeout needs MODERATE_MEMBERS; keeping one already there does not. */
    if (rc == 0 && f.timeout && json_object_get(op->body, "actions") &&
        !(perms & HS_PERM_MODERATE_MEMBERS))
        rc = hs_error_reason(err, HS_EPERM, HS_R_MISSING_PERMISSIONS, "Missing Permissions");
    uint64_t creator = 0;
    hs_parse_u64(json_string_value(json_object_get(old, "creator_id")), &creator);
    if (rc == 0)
        rc = store_rule(txn, op->rule_id, op->guild_id, creator, &f, &op->rule, err);
    form_release(&f);
    json_t *changes = rc == 0 ? rule_changes(old, op->rule) : NULL;
    json_decref(old);
    if (rc == 0)
        rc = bump_version(txn, op->guild_id, NULL, err);
    if (rc == 0 && json_array_size(changes) > 0) {
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_AUTO_MODERATION_RULE_UPDATE,
                             op->rule_id, changes, NULL, op->reason, err);
        changes = NULL;
    }
    json_decref(changes);
    if (rc == 0)
        rc = hs_txn_event(txn, "AUTO_MODERATION_RULE_UPDATE", op->guild_id, 0, op->actor_id,
                          json_incref(op->rule), err);
    return rc;
}

int hs_automod_rule_delete_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_automod_rule_delete *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t perms;
    json_t *old = NULL;
    int rc = need_manage_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc == 0)
        rc = hs_automod_rule_get(db, op->guild_id, op->rule_id, &old, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = hs_db_stmt(db, "DELETE FROM automod_rules WHERE id = ?");
    hs_bind_id(s, 1, op->rule_id);
    rc = step_done(db, s, err, "deleting an automod rule");
    if (rc == 0)
        rc = bump_version(txn, op->guild_id, NULL, err);
    if (rc == 0)
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_AUTO_MODERATION_RULE_DELETE,
                             op->rule_id, rule_changes(old, NULL), NULL, op->reason, err);
    if (rc == 0)
        rc = hs_txn_event(txn, "AUTO_MODERATION_RULE_DELETE", op->guild_id, 0, op->actor_id,
                          json_incref(old), err);
    json_decref(old);
    return rc;
}

/* ------------------------------------------------------------------ spam settings */

/* The ids of a settings list that are not roles / channels of the guild: a form error. */
static int check_spam_ids(hs_db *db, uint64_t guild_id, const struct hs_spam_settings *s,
                          hs_error *err)
{
    struct hs_channel ch;
    if (s->alert_channel_id && (hs_channel_get(db, s->alert_channel_id, &ch, NULL) < 0 ||
                                ch.guild_id != guild_id || ch.type != HS_CHANNEL_TEXT))
        return hs_error_form(err, "alert_channel_id", "CHANNEL_INVALID",
                             "Must be a text channel of this guild.");
    for (size_t i = 0; i < s->nexempt_roles; i++) {
        struct hs_role r;
        if (hs_role_get(db, guild_id, s->exempt_roles[i], &r, NULL) < 0) {
            char at[48];
            snprintf(at, sizeof(at), "exempt_roles.%zu", i);
            return hs_error_form(err, at, "UNKNOWN_ROLE", "Unknown role");
        }
    }
    for (size_t i = 0; i < s->nexempt_channels; i++) {
        if (hs_channel_get(db, s->exempt_channels[i], &ch, NULL) < 0 || ch.guild_id != guild_id) {
            char at[48];
            snprintf(at, sizeof(at), "exempt_channels.%zu", i);
            return hs_error_form(err, at, "UNKNOWN_CHANNEL", "Unknown channel");
        }
    }
    return 0;
}

int hs_automod_spam_edit_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct hs_automod_spam_edit *op = arg;
    hs_db *db = hs_txn_db(txn);
    uint64_t perms;
    int rc = need_manage_guild(db, op->guild_id, op->actor_id, &perms, err);
    if (rc < 0)
        return rc;
    struct hs_spam_settings old, set;
    spam_load(db, op->guild_id, &old);
    set = old;
    rc = hs_spam_settings_patch(&set, op->body, err);
    if (rc == 0)
        rc = check_spam_ids(db, op->guild_id, &set, err);
    if (rc < 0)
        return rc;
    json_t *before = hs_spam_settings_json(&old);
    op->settings = hs_spam_settings_json(&set);
    char *text = json_dumps(op->settings, JSON_COMPACT);
    HS_ASSERT(text);
    rc = bump_version(txn, op->guild_id, text, err);
    free(text);
    json_t *changes = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(op->settings, key, value)
    {
        json_t *was = json_object_get(before, key);
        if (was && json_equal(was, value))
            continue;
        char name[64];
        snprintf(name, sizeof(name), "hearth_spam.%s", key);
        json_array_append_new(
            changes, hs_audit_change(name, was ? json_incref(was) : NULL, json_incref(value)));
    }
    json_decref(before);
    if (rc == 0 && json_array_size(changes) > 0) {
        rc = hs_audit_record(txn, op->guild_id, op->actor_id, HS_AUDIT_GUILD_UPDATE, op->guild_id,
                             changes, NULL, op->reason, err);
        changes = NULL;
    }
    json_decref(changes);
    return rc;
}
