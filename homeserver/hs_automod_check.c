/*
 * The check AutoMod runs on every message before it is stored, and what it does about it
 * (hs_automod.h hs_automod_check_message, spec/rest-automod.md §5-§6).
 *
 * DESIGN: per guild, the enabled rules are compiled once into an am_guild: the rules'
 * actions and exempt lists as plain arrays, one Aho-Corasick matcher holding every keyword,
 * preset word and allow-list entry (hs_automod_match.h), and the spam settings. The
 * compilations live in a cache on the writer thread (hs_txn_state), keyed by guild and
 * bounded in count and bytes, and are trusted as long as automod_guilds.version still holds
 * the stamp they were compiled from: a message in a guild without rules costs that one
 * indexed lookup, a message in a guild with rules that one lookup plus a scan linear in its
 * length. The spam tracker (hs_spam.h) lives beside the cache.
 *
 * The check decides first and acts second: it scans, evaluates every rule and the spam
 * heuristics, and only then, if anything matched, builds a decision (an owned copy of what
 * acting needs). A message that is allowed but flagged or timed out has the decision acted
 * on at once, in its own write. A blocked message's write fails: its decision is handed to
 * hs_txn_on_failure, so the audit log entries, alert messages, timeouts and
 * AUTO_MODERATION_ACTION_EXECUTION events commit while nothing of the message does.
 */
#include "hs_audit.h"
#include "hs_automod.h"
#include "hs_automod_match.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_perm.h"
#include "hs_snowflake.h"
#include "hs_spam.h"
#include "hs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_GUILDS 4096
#define CACHE_MAX_BYTES ((size_t)256 << 20)
#define CACHE_BUCKETS 1024
#define TRACKER_AUTHORS 16384
#define TRACKER_PRINTS 4096
#define INFO_TTL_MS 60000 /* how long an author's joined_at and bot flag are trusted */
#define PRESET_TAG 0x80000000u

/* ------------------------------------------------------------------ compiled rules */

struct am_rule {
    uint64_t id;
    char *name;
    int trigger;
    uint64_t roles[HS_AUTOMOD_MAX_EXEMPT_ROLES];
    size_t nroles;
    uint64_t channels[HS_AUTOMOD_MAX_EXEMPT_CHANNELS];
    size_t nchannels;
    json_t *actions;  /* canonical, read-only */
    json_t *keywords; /* keyword_filter of a KEYWORD rule, read-only */
    int mention_limit, mention_raid, blocks;
};

struct am_guild {
    uint64_t guild_id, version;
    struct am_rule *rules;
    size_t nrules;
    hs_am_matcher *matcher; /* NULL: no keyword or preset rule */
    int has_spam_rule, has_mention_raid;
    struct hs_spam_settings spam;
    size_t bytes;
    struct am_guild *hnext, *prev, *next; /* bucket chain; LRU (head: most recent) */
};

struct am_state {
    struct am_guild *buckets[CACHE_BUCKETS];
    struct am_guild *head, *tail;
    size_t count, bytes;
    hs_spam_tracker *tracker;
};

/* Its address names this module's writer state (hs_txn_state). */
static const char state_key = 0;

static void *state_new(void)
{
    struct am_state *st = hs_xcalloc(1, sizeof(*st));
    st->tracker = hs_spam_tracker_new(TRACKER_AUTHORS, TRACKER_PRINTS);
    return st;
}

static void guild_free(struct am_guild *g)
{
    for (size_t i = 0; i < g->nrules; i++) {
        free(g->rules[i].name);
        json_decref(g->rules[i].actions);
        json_decref(g->rules[i].keywords);
    }
    free(g->rules);
    hs_am_matcher_free(g->matcher);
    free(g);
}

static void state_free(void *p)
{
    struct am_state *st = p;
    for (struct am_guild *g = st->head, *next; g; g = next) {
        next = g->next;
        guild_free(g);
    }
    hs_spam_tracker_free(st->tracker);
    free(st);
}

static size_t bucket(uint64_t guild_id)
{
    return (size_t)((guild_id * 0x9E3779B97F4A7C15ULL) >> 40) % CACHE_BUCKETS;
}

static void lru_unlink(struct am_state *st, struct am_guild *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        st->head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        st->tail = g->prev;
    g->prev = g->next = NULL;
}

static void lru_push(struct am_state *st, struct am_guild *g)
{
    g->prev = NULL;
    g->next = st->head;
    if (st->head)
        st->head->prev = g;
    st->head = g;
    if (!st->tail)
        st->tail = g;
}

static void cache_remove(struct am_state *st, struct am_guild *g)
{
    struct am_guild **link = &st->buckets[bucket(g->guild_id)];
    while (*link != g)
        link = &(*link)->hnext;
    *link = g->hnext;
    lru_unlink(st, g);
    st->count--;
    st->bytes -= g->bytes;
    guild_free(g);
}

/* Reads a JSON array of id strings into ids (at most max). */
static size_t ids_of(json_t *arr, uint64_t *ids, size_t max)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (n < max && hs_parse_u64(json_string_value(v), &ids[n]) == 0)
            n++;
    }
    return n;
}

static hs_am_matcher *matcher_of(struct am_guild *g)
{
    if (!g->matcher)
        g->matcher = hs_am_matcher_new();
    return g->matcher;
}

/* One rule row (id, name, trigger_type, trigger_metadata, actions, exempt_roles,
 * exempt_channels) into g->rules[g->nrules], its keywords into the matcher as group
 * g->nrules. */
static void compile_rule(struct am_guild *g, sqlite3_stmt *s)
{
    struct am_rule *r = &g->rules[g->nrules];
    unsigned group = (unsigned)g->nrules;
    memset(r, 0, sizeof(*r));
    r->id = hs_col_id(s, 0);
    r->name = hs_xstrdup(hs_col_text(s, 1) ? hs_col_text(s, 1) : "");
    r->trigger = sqlite3_column_int(s, 2);
    json_t *meta = json_loads(hs_col_text(s, 3) ? hs_col_text(s, 3) : "{}", 0, NULL);
    r->actions = json_loads(hs_col_text(s, 4) ? hs_col_text(s, 4) : "[]", 0, NULL);
    if (!r->actions)
        r->actions = json_array();
    json_t *roles = json_loads(hs_col_text(s, 5) ? hs_col_text(s, 5) : "[]", 0, NULL);
    json_t *channels = json_loads(hs_col_text(s, 6) ? hs_col_text(s, 6) : "[]", 0, NULL);
    r->nroles = ids_of(roles, r->roles, HS_AUTOMOD_MAX_EXEMPT_ROLES);
    r->nchannels = ids_of(channels, r->channels, HS_AUTOMOD_MAX_EXEMPT_CHANNELS);
    json_decref(roles);
    json_decref(channels);
    size_t i;
    json_t *a;
    json_array_foreach(r->actions, i, a)
    {
        r->blocks |= json_integer_value(json_object_get(a, "type")) == HS_AUTOMOD_BLOCK_MESSAGE;
    }
    json_t *allow = json_object_get(meta, "allow_list");
    json_t *k;
    switch (r->trigger) {
    case HS_AUTOMOD_KEYWORD:
        r->keywords = json_incref(json_object_get(meta, "keyword_filter"));
        json_array_foreach(r->keywords, i, k)
        {
            hs_am_matcher_add(matcher_of(g), json_string_value(k), group, (uint32_t)i, 0);
        }
        break;
    case HS_AUTOMOD_KEYWORD_PRESET:
        json_array_foreach(json_object_get(meta, "presets"), i, k)
        {
            int preset = (int)json_integer_value(k);
            const char *const *words = hs_am_preset_words(preset);
            for (uint32_t w = 0; words && words[w]; w++)
                hs_am_matcher_add(matcher_of(g), words[w], group,
                                  PRESET_TAG | (uint32_t)preset << 16 | w, 0);
        }
        break;
    case HS_AUTOMOD_MENTION_SPAM:
        r->mention_limit = (int)json_integer_value(json_object_get(meta, "mention_total_limit"));
        r->mention_raid = json_is_true(json_object_get(meta, "mention_raid_protection_enabled"));
        g->has_mention_raid |= r->mention_raid;
        break;
    case HS_AUTOMOD_SPAM:
        g->has_spam_rule = 1;
        break;
    }
    if (r->trigger == HS_AUTOMOD_KEYWORD || r->trigger == HS_AUTOMOD_KEYWORD_PRESET)
        json_array_foreach(allow, i, k)
        {
            hs_am_matcher_add(matcher_of(g), json_string_value(k), group, 0, 1);
        }
    json_decref(meta);
    g->nrules++;
}

static struct am_guild *compile(hs_db *db, uint64_t guild_id, uint64_t version, const char *spam)
{
    struct am_guild *g = hs_xcalloc(1, sizeof(*g));
    g->guild_id = guild_id;
    g->version = version;
    hs_spam_settings_load(&g->spam, spam);
    size_t cap = 0;
    if (version) {
        sqlite3_stmt *s = hs_db_stmt(
            db, "SELECT id, name, trigger_type, trigger_metadata, actions, exempt_roles, "
                "exempt_channels FROM automod_rules WHERE guild_id = ? AND enabled = 1 AND "
                "event_type = 1 ORDER BY id");
        hs_bind_id(s, 1, guild_id);
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (g->nrules == cap) {
                cap = cap ? cap * 2 : 8;
                g->rules = hs_xrealloc(g->rules, cap * sizeof(*g->rules));
            }
            compile_rule(g, s);
        }
        sqlite3_reset(s);
    }
    g->bytes = sizeof(*g) + cap * sizeof(*g->rules);
    if (g->matcher) {
        hs_am_matcher_build(g->matcher);
        g->bytes += hs_am_matcher_bytes(g->matcher);
    }
    return g;
}

/* The guild's compilation, current with its version stamp (one indexed lookup when the
 * cache holds it already). */
static struct am_guild *guild_get(struct am_state *st, hs_db *db, uint64_t guild_id)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT version, spam FROM automod_guilds WHERE guild_id = ?");
    hs_bind_id(s, 1, guild_id);
    uint64_t version = 0;
    char *spam = NULL;
    if (sqlite3_step(s) == SQLITE_ROW) {
        version = hs_col_id(s, 0);
        spam = hs_col_text(s, 1) ? hs_xstrdup(hs_col_text(s, 1)) : NULL;
    }
    sqlite3_reset(s);
    struct am_guild *g = st->buckets[bucket(guild_id)];
    while (g && g->guild_id != guild_id)
        g = g->hnext;
    if (g && g->version == version) {
        free(spam);
        lru_unlink(st, g);
        lru_push(st, g);
        return g;
    }
    if (g)
        cache_remove(st, g);
    g = compile(db, guild_id, version, spam);
    free(spam);
    /* Make room; the newest compilation stays whatever its size. */
    while (st->tail && (st->count >= CACHE_MAX_GUILDS || st->bytes + g->bytes > CACHE_MAX_BYTES))
        cache_remove(st, st->tail);
    size_t b = bucket(guild_id);
    g->hnext = st->buckets[b];
    st->buckets[b] = g;
    lru_push(st, g);
    st->count++;
    st->bytes += g->bytes;
    return g;
}

/* ------------------------------------------------------------------ decisions */

/* One triggered rule, owned copies. */
struct am_exec {
    uint64_t rule_id;
    int trigger;
    char *name;
    json_t *actions; /* a deep copy */
    char *keyword;   /* NULL: none */
    char *matched;   /* NULL: none */
};

struct am_decision {
    uint64_t guild_id, channel_id, author_id;
    uint64_t message_id; /* 0 when the message is blocked */
    int blocked;
    char *content;
    struct am_exec *execs;
    size_t nexecs;
    /* the spam settings' verdict */
    int verdict;
    unsigned signals;
    uint64_t alert_channel_id;
    int timeout_seconds;
};

static void decision_free(void *p)
{
    struct am_decision *d = p;
    if (!d)
        return;
    for (size_t i = 0; i < d->nexecs; i++) {
        free(d->execs[i].name);
        json_decref(d->execs[i].actions);
        free(d->execs[i].keyword);
        free(d->execs[i].matched);
    }
    free(d->execs);
    free(d->content);
    free(d);
}

static int step_done(hs_db *db, sqlite3_stmt *s, hs_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(db, err, what);
}

static json_t *audit_options(const char *rule_name, int trigger, uint64_t channel_id)
{
    char t[8], c[24];
    snprintf(t, sizeof(t), "%d", trigger);
    snprintf(c, sizeof(c), "%" PRIu64, channel_id);
    return json_pack("{s:s, s:s, s:s}", "auto_moderation_rule_name", rule_name,
                     "auto_moderation_rule_trigger_type", t, "channel_id", c);
}

static int audit(hs_txn *txn, const struct am_decision *d, int action, const char *rule_name,
                 int trigger, json_t *changes, hs_error *err)
{
    /* Discord names the member whose content triggered the rule as both the entry's user
     * and its target: no person acted, AutoMod did on their message. */
    return hs_audit_record(txn, d->guild_id, d->author_id, action, d->author_id, changes,
                           audit_options(rule_name, trigger, d->channel_id), NULL, err);
}

static void add_field(json_t *fields, const char *name, const char *value)
{
    json_array_append_new(fields,
                          json_pack("{s:s, s:s, s:b}", "name", name, "value", value, "inline", 0));
}

/*
 * Posts the alert (Discord's AUTO_MODERATION_ACTION message, type 24) to channel_id, if it
 * is still a text channel of the guild. Its author is the member whose content triggered
 * the rule, as on Discord. Returns the message id, 0 when there was nowhere to post.
 */
static int post_alert(hs_txn *txn, const struct am_decision *d, uint64_t channel_id,
                      const char *rule_name, const char *keyword, const char *matched,
                      int timeout_seconds, uint64_t *out, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    struct hs_channel ch;
    *out = 0;
    if (hs_channel_get(db, channel_id, &ch, NULL) < 0 || ch.guild_id != d->guild_id ||
        ch.type != HS_CHANNEL_TEXT)
        return 0;
    char buf[24];
    json_t *fields = json_array();
    add_field(fields, "rule_name", rule_name);
    snprintf(buf, sizeof(buf), "%" PRIu64, d->channel_id);
    add_field(fields, "channel_id", buf);
    snprintf(buf, sizeof(buf), "%" PRIu64, hs_txn_new_id(txn));
    add_field(fields, "decision_id", buf);
    add_field(fields, "decision_outcome", d->blocked ? "blocked" : "flagged");
    if (keyword)
        add_field(fields, "keyword", keyword);
    if (matched)
        add_field(fields, "keyword_matched_content", matched);
    if (d->message_id) {
        snprintf(buf, sizeof(buf), "%" PRIu64, d->message_id);
        add_field(fields, "flagged_message_id", buf);
    }
    if (timeout_seconds) {
        snprintf(buf, sizeof(buf), "%d", timeout_seconds);
        add_field(fields, "timeout_duration", buf);
    }
    json_t *embeds = json_pack("[{s:s, s:s, s:o}]", "type", "auto_moderation_message",
                               "description", d->content, "fields", fields);
    HS_ASSERT(embeds);
    char *text = json_dumps(embeds, JSON_COMPACT);
    json_decref(embeds);
    uint64_t id = hs_txn_new_id(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO messages (channel_id, id, author_id, content, "
                                     "type, embeds) VALUES (?, ?, ?, '', ?, ?)");
    hs_bind_id(s, 1, channel_id);
    hs_bind_id(s, 2, id);
    hs_bind_id(s, 3, d->author_id);
    sqlite3_bind_int(s, 4, HS_MSG_AUTO_MODERATION_ACTION);
    sqlite3_bind_text(s, 5, text, -1, free);
    int rc = step_done(db, s, err, "posting an automod alert");
    if (rc == 0) {
        s = hs_db_stmt(db, "UPDATE channels SET last_message_id = ? WHERE id = ?");
        hs_bind_id(s, 1, id);
        hs_bind_id(s, 2, channel_id);
        rc = step_done(db, s, err, "updating a channel");
    }
    if (rc < 0)
        return rc;
    /* MESSAGE_CREATE as hs_messages.c records it: the object for nobody in particular, with
     * guild_id and the author's partial member. */
    json_t *ev = hs_msg_json(db, channel_id, id, 0);
    HS_ASSERT(ev);
    json_object_set_new(ev, "guild_id", hs_json_id(d->guild_id));
    json_t *member = hs_member_json(db, d->guild_id, d->author_id);
    if (member) {
        json_object_del(member, "user");
        json_object_set_new(ev, "member", member);
    }
    *out = id;
    return hs_txn_event(txn, "MESSAGE_CREATE", d->guild_id, channel_id, d->author_id, ev, err);
}

/* Times the author out for seconds (never shortening a longer timeout): GUILD_MEMBER_UPDATE
 * and audit log entry 145. */
static int apply_timeout(hs_txn *txn, const struct am_decision *d, int seconds,
                         const char *rule_name, int trigger, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    uint64_t now = hs_txn_now_ms(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT communication_disabled_until FROM members WHERE "
                                     "guild_id = ? AND user_id = ?");
    hs_bind_id(s, 1, d->guild_id);
    hs_bind_id(s, 2, d->author_id);
    int member = sqlite3_step(s) == SQLITE_ROW;
    uint64_t old = member ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    uint64_t until = now + (uint64_t)seconds * 1000;
    if (!member || old >= until)
        return 0;
    s = hs_db_stmt(db, "UPDATE members SET communication_disabled_until = ? WHERE guild_id = ? "
                       "AND user_id = ?");
    sqlite3_bind_int64(s, 1, (sqlite3_int64)until);
    hs_bind_id(s, 2, d->guild_id);
    hs_bind_id(s, 3, d->author_id);
    int rc = step_done(db, s, err, "timing a member out");
    if (rc < 0)
        return rc;
    json_t *m = hs_member_json(db, d->guild_id, d->author_id);
    HS_ASSERT(m);
    json_object_set_new(m, "guild_id", hs_json_id(d->guild_id));
    rc = hs_txn_event(txn, "GUILD_MEMBER_UPDATE", d->guild_id, 0, 0, m, err);
    if (rc < 0)
        return rc;
    json_t *changes = json_pack("[o]", hs_audit_change("communication_disabled_until",
                                                       hs_json_time_or_null(old > now ? old : 0),
                                                       hs_json_time(until)));
    return audit(txn, d, HS_AUDIT_AUTO_MODERATION_USER_TIMED_OUT, rule_name, trigger, changes, err);
}

static int execution_event(hs_txn *txn, const struct am_decision *d, const struct am_exec *e,
                           json_t *action, uint64_t alert_id, hs_error *err)
{
    json_t *ev = json_pack(
        "{s:o, s:O, s:o, s:i, s:o, s:o, s:s, s:o, s:o}", "guild_id", hs_json_id(d->guild_id),
        "action", action, "rule_id", hs_json_id(e->rule_id), "rule_trigger_type", e->trigger,
        "user_id", hs_json_id(d->author_id), "channel_id", hs_json_id(d->channel_id), "content",
        d->content, "matched_keyword", e->keyword ? json_string(e->keyword) : json_null(),
        "matched_content", e->matched ? json_string(e->matched) : json_null());
    HS_ASSERT(ev);
    if (d->message_id)
        json_object_set_new(ev, "message_id", hs_json_id(d->message_id));
    if (alert_id)
        json_object_set_new(ev, "alert_system_message_id", hs_json_id(alert_id));
    return hs_txn_event(txn, "AUTO_MODERATION_ACTION_EXECUTION", d->guild_id, 0, 0, ev, err);
}

/* The rule's timeout, for the alert's timeout_duration field (0: none). */
static int rule_timeout(const struct am_exec *e)
{
    size_t i;
    json_t *a;
    json_array_foreach(e->actions, i, a)
    {
        if (json_integer_value(json_object_get(a, "type")) == HS_AUTOMOD_TIMEOUT)
            return (int)json_integer_value(
                json_object_get(json_object_get(a, "metadata"), "duration_seconds"));
    }
    return 0;
}

static int exec_rule(hs_txn *txn, const struct am_decision *d, const struct am_exec *e,
                     hs_error *err)
{
    int rc = 0;
    size_t i;
    json_t *a;
    json_array_foreach(e->actions, i, a)
    {
        int type = (int)json_integer_value(json_object_get(a, "type"));
        json_t *meta = json_object_get(a, "metadata");
        uint64_t alert_id = 0;
        if (type == HS_AUTOMOD_BLOCK_MESSAGE) {
            rc = audit(txn, d, HS_AUDIT_AUTO_MODERATION_BLOCK_MESSAGE, e->name, e->trigger, NULL,
                       err);
        } else if (type == HS_AUTOMOD_SEND_ALERT_MESSAGE) {
            uint64_t channel = 0;
            hs_parse_u64(json_string_value(json_object_get(meta, "channel_id")), &channel);
            rc = post_alert(txn, d, channel, e->name, e->keyword, e->matched, rule_timeout(e),
                            &alert_id, err);
            if (rc == 0)
                rc = audit(txn, d, HS_AUDIT_AUTO_MODERATION_FLAG_TO_CHANNEL, e->name, e->trigger,
                           NULL, err);
        } else if (type == HS_AUTOMOD_TIMEOUT) {
            int secs = (int)json_integer_value(json_object_get(meta, "duration_seconds"));
            rc = apply_timeout(txn, d, secs, e->name, e->trigger, err);
        }
        if (rc == 0)
            rc = execution_event(txn, d, e, a, alert_id, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* "Hearth spam filter (duplicate, links)": the name the audit log and alerts give the
 * spam settings' verdict, which belongs to no rule. */
static void spam_rule_name(unsigned signals, char *out, size_t n)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {HS_SPAM_SIG_DUPLICATE, "duplicate"}, {HS_SPAM_SIG_VELOCITY, "velocity"},
        {HS_SPAM_SIG_LINK, "links"},          {HS_SPAM_SIG_INVITE, "invites"},
        {HS_SPAM_SIG_RAID, "raid"},
    };
    size_t o = (size_t)snprintf(out, n, "Hearth spam filter (");
    const char *sep = "";
    for (size_t i = 0; i < HS_ARRAY_LEN(names) && o < n; i++) {
        if (signals & names[i].bit) {
            o += (size_t)snprintf(out + o, n - o, "%s%s", sep, names[i].name);
            sep = ", ";
        }
    }
    if (o < n)
        snprintf(out + o, n - o, ")");
}

static int exec_spam(hs_txn *txn, const struct am_decision *d, hs_error *err)
{
    char name[96];
    spam_rule_name(d->signals, name, sizeof(name));
    int timeout = d->verdict == HS_SPAM_TIMEOUT ? d->timeout_seconds : 0;
    int rc = 0;
    uint64_t alert_id = 0;
    if (d->verdict >= HS_SPAM_BLOCK)
        rc =
            audit(txn, d, HS_AUDIT_AUTO_MODERATION_BLOCK_MESSAGE, name, HS_AUTOMOD_SPAM, NULL, err);
    if (rc == 0 && d->alert_channel_id)
        rc = post_alert(txn, d, d->alert_channel_id, name, NULL, NULL, timeout, &alert_id, err);
    if (rc == 0 && (alert_id || d->verdict == HS_SPAM_FLAG))
        rc = audit(txn, d, HS_AUDIT_AUTO_MODERATION_FLAG_TO_CHANNEL, name, HS_AUTOMOD_SPAM, NULL,
                   err);
    if (rc == 0 && timeout)
        rc = apply_timeout(txn, d, timeout, name, HS_AUTOMOD_SPAM, err);
    return rc;
}

/* Acts on a decision: the rules' actions in rule order, then the spam verdict. Also the
 * hs_txn_on_failure follow-up of a blocked message. */
static int execute(hs_txn *txn, void *arg, hs_error *err)
{
    const struct am_decision *d = arg;
    int rc = 0;
    for (size_t i = 0; i < d->nexecs && rc == 0; i++)
        rc = exec_rule(txn, d, &d->execs[i], err);
    if (rc == 0 && d->verdict != HS_SPAM_ALLOW)
        rc = exec_spam(txn, d, err);
    return rc;
}

/* ------------------------------------------------------------------ the check */

/* The author's roles, loaded once per check when an exemption needs them. */
struct roles {
    int loaded;
    size_t n;
    uint64_t ids[256];
};

static int has_any_role(hs_db *db, const struct hs_automod_msg *m, struct roles *r,
                        const uint64_t *wanted, size_t nwanted)
{
    if (!nwanted)
        return 0;
    if (!r->loaded) {
        sqlite3_stmt *s =
            hs_db_stmt(db, "SELECT role_id FROM member_roles WHERE guild_id = ? AND user_id = ?");
        hs_bind_id(s, 1, m->channel->guild_id);
        hs_bind_id(s, 2, m->author_id);
        while (r->n < HS_ARRAY_LEN(r->ids) && sqlite3_step(s) == SQLITE_ROW)
            r->ids[r->n++] = hs_col_id(s, 0);
        sqlite3_reset(s);
        r->loaded = 1;
    }
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < nwanted; j++)
            if (r->ids[i] == wanted[j])
                return 1;
    return 0;
}

/* An exempt channel covers its threads and a category its channels (the parent). */
static int channel_exempt(const struct hs_channel *ch, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == ch->id || (ch->parent_id && ids[i] == ch->parent_id))
            return 1;
    return 0;
}

static void load_author_info(hs_db *db, struct hs_spam_author *a, uint64_t now)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT m.joined_at, u.bot FROM members m JOIN users u ON "
                                     "u.id = m.user_id WHERE m.guild_id = ? AND m.user_id = ?");
    hs_bind_id(s, 1, a->guild_id);
    hs_bind_id(s, 2, a->user_id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        a->joined_ms = (uint64_t)sqlite3_column_int64(s, 0);
        a->bot = sqlite3_column_int(s, 1);
    } else {
        a->joined_ms = now;
        a->bot = 0;
    }
    sqlite3_reset(s);
    a->info_ms = now;
}

static char *substr(const char *s, size_t a, size_t b)
{
    return hs_xstrndup(s + a, b - a);
}

/* The keyword a hit names: the rule's own keyword or a preset word. */
static const char *hit_keyword(const struct am_rule *r, uint32_t tag)
{
    if (tag & PRESET_TAG) {
        const char *const *words = hs_am_preset_words((int)((tag >> 16) & 0x7FFF));
        return words ? words[tag & 0xFFFF] : NULL;
    }
    return json_string_value(json_array_get(r->keywords, tag));
}

static void add_exec(struct am_decision *d, const struct am_rule *r, const char *keyword,
                     char *matched)
{
    d->execs = hs_xrealloc(d->execs, (d->nexecs + 1) * sizeof(*d->execs));
    struct am_exec *e = &d->execs[d->nexecs++];
    e->rule_id = r->id;
    e->trigger = r->trigger;
    e->name = hs_xstrdup(r->name);
    e->actions = json_deep_copy(r->actions);
    e->keyword = keyword ? hs_xstrdup(keyword) : NULL;
    e->matched = matched;
}

int hs_automod_check_message(hs_txn *txn, const struct hs_automod_msg *m, hs_error *err)
{
    const struct hs_channel *ch = m->channel;
    if (!ch || !ch->guild_id || !m->content || !*m->content)
        return 0;
    /* Discord: members who manage the guild are exempt from every rule. */
    if (m->perms & (HS_PERM_ADMINISTRATOR | HS_PERM_MANAGE_GUILD))
        return 0;
    hs_db *db = hs_txn_db(txn);
    struct am_state *st = hs_txn_state(txn, &state_key, state_new, state_free);
    struct am_guild *g = guild_get(st, db, ch->guild_id);
    int spam_on = g->spam.enabled || g->has_spam_rule;
    if (!g->nrules && !spam_on)
        return 0;

    uint64_t now = hs_txn_now_ms(txn);
    size_t len = strlen(m->content);
    struct hs_am_text x;
    struct hs_spam_content sc;
    struct roles roles = {0, 0, {0}};
    hs_am_text_init(&x, m->content, len);
    hs_spam_scan(m->content, len, &x, &sc);

    /* The author, for the spam heuristics and mention raids. */
    struct hs_spam_author *a = NULL;
    int is_new = 0, recent_mentions = 0;
    unsigned signals = 0;
    if (spam_on || g->has_mention_raid) {
        a = hs_spam_author_get(st->tracker, ch->guild_id, m->author_id, now);
        if (!a->info_ms || a->info_ms + INFO_TTL_MS < now)
            load_author_info(db, a, now);
        const struct hs_spam_settings *s = &g->spam;
        is_new = now < a->joined_ms + (uint64_t)s->new_member_seconds * 1000 ||
                 (s->new_account_seconds && now < hs_snowflake_unix_ms(m->author_id) +
                                                      (uint64_t)s->new_account_seconds * 1000);
        recent_mentions = hs_spam_recent_mentions(a, now, HS_AUTOMOD_MENTION_RAID_WINDOW_MS);
    }
    /* Bots are added by someone who manages the guild: the heuristics leave them alone. */
    if (spam_on && !a->bot) {
        if (m->edit) {
            if ((sc.links > 0 && is_new) || sc.links > g->spam.link_limit)
                signals |= HS_SPAM_SIG_LINK;
            if (sc.invites > 0 && !is_new)
                signals |= HS_SPAM_SIG_INVITE;
        } else {
            struct hs_spam_message msg = {now, &sc, is_new};
            signals = hs_spam_observe(st->tracker, a, &g->spam, &msg);
        }
    }
    int verdict = HS_SPAM_ALLOW;
    if (g->spam.enabled && signals &&
        !channel_exempt(ch, g->spam.exempt_channels, g->spam.nexempt_channels)) {
        verdict = hs_spam_verdict(&g->spam, signals);
        if (verdict != HS_SPAM_ALLOW &&
            has_any_role(db, m, &roles, g->spam.exempt_roles, g->spam.nexempt_roles))
            verdict = HS_SPAM_ALLOW;
    }

    /* The rules. */
    struct hs_am_hit few[16], *hits = NULL;
    if (g->matcher) {
        hits = g->nrules <= HS_ARRAY_LEN(few) ? few : hs_xcalloc(g->nrules, sizeof(*hits));
        hs_am_matcher_scan(g->matcher, &x, hits, (unsigned)g->nrules);
    }
    struct am_decision *d = NULL;
    for (size_t i = 0; i < g->nrules; i++) {
        const struct am_rule *r = &g->rules[i];
        const char *keyword = NULL;
        char *matched = NULL;
        int hit = 0;
        switch (r->trigger) {
        case HS_AUTOMOD_KEYWORD:
        case HS_AUTOMOD_KEYWORD_PRESET:
            hit = hits && hits[i].hit;
            break;
        case HS_AUTOMOD_MENTION_SPAM:
            hit = sc.mentions > r->mention_limit ||
                  (r->mention_raid && recent_mentions + sc.mentions > r->mention_limit);
            break;
        case HS_AUTOMOD_SPAM:
            hit = signals != 0;
            break;
        }
        if (!hit || channel_exempt(ch, r->channels, r->nchannels) ||
            has_any_role(db, m, &roles, r->roles, r->nroles))
            continue;
        if (r->trigger == HS_AUTOMOD_KEYWORD || r->trigger == HS_AUTOMOD_KEYWORD_PRESET) {
            keyword = hit_keyword(r, hits[i].tag);
            matched = substr(m->content, hits[i].start, hits[i].end);
        }
        if (!d)
            d = hs_xcalloc(1, sizeof(*d));
        add_exec(d, r, keyword, matched);
        d->blocked |= r->blocks;
    }
    if (hits != few)
        free(hits);
    hs_am_text_release(&x);
    /* Nothing matched: the common case ends here, having allocated only the text. */
    if (!d && verdict == HS_SPAM_ALLOW)
        return 0;
    if (!d)
        d = hs_xcalloc(1, sizeof(*d));
    d->guild_id = ch->guild_id;
    d->channel_id = ch->id;
    d->author_id = m->author_id;
    d->content = hs_xstrdup(m->content);
    d->verdict = verdict;
    d->signals = signals;
    d->alert_channel_id = g->spam.alert_channel_id;
    d->timeout_seconds = g->spam.timeout_seconds;
    d->blocked |= verdict >= HS_SPAM_BLOCK;
    d->message_id = d->blocked ? 0 : m->message_id;
    if (d->blocked) {
        hs_txn_on_failure(txn, execute, d, decision_free);
        return hs_error_reason(err, HS_EINVAL, HS_R_AUTOMOD_BLOCKED,
                               "Message was blocked by automatic moderation");
    }
    int rc = execute(txn, d, err);
    decision_free(d);
    return rc;
}
