/*
 * hs_spam.h: Hearth's spam heuristics (spec/rest-automod.md "Spam detection").
 *
 * Rate limits stop floods from one token; they do not stop one author repeating a message
 * across channels, a burst of fresh accounts posting the same link, or a new member's
 * first message being an invite. This module holds what decides those:
 *
 * - the per-guild settings (hs_spam_settings): which signals are acted on and how
 *   (allow, flag, block, timeout), their thresholds, the moderators' alert channel and the
 *   exempt roles and channels; stored as JSON by hs_automod.c, edited through the
 *   `/guilds/{id}/hearth/spam` extension;
 * - the content scan (hs_spam_scan): links, invite links and unique mentions of a message,
 *   and a hash of its normalised text, in one linear pass;
 * - the tracker (hs_spam_tracker): the recent messages of each author in each guild and
 *   the recent copies of each text posted by new members, in memory, bounded, from which
 *   hs_spam_observe derives the signals. It is forgotten on restart (the windows it looks
 *   at are seconds to minutes long).
 *
 * Settings and scans are plain values: any thread. A tracker belongs to one thread (the
 * writer thread: hs_automod.c keeps it with hs_txn_state).
 */
#ifndef HS_SPAM_H
#define HS_SPAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_automod_match.h"
#include "hs_error.h"

enum hs_spam_action {
    HS_SPAM_ALLOW = 0,   /* do nothing */
    HS_SPAM_FLAG = 1,    /* let it through; audit log entry, alert to the alert channel */
    HS_SPAM_BLOCK = 2,   /* refuse it (400 200000); audit log entry, alert */
    HS_SPAM_TIMEOUT = 3, /* refuse it and time the author out for timeout_seconds */
};

/* The signals a message can raise (bits). */
enum hs_spam_signal {
    HS_SPAM_SIG_DUPLICATE = 1, /* the author posted the same text too often, any channel */
    HS_SPAM_SIG_VELOCITY = 2,  /* the author posted too many messages in the guild */
    HS_SPAM_SIG_LINK = 4,      /* a link from a new member or account, or too many links */
    HS_SPAM_SIG_INVITE = 8,    /* an invite link from a member who is not new */
    HS_SPAM_SIG_RAID = 16,     /* the same text from several new members */
};

#define HS_SPAM_MAX_EXEMPT_ROLES 20
#define HS_SPAM_MAX_EXEMPT_CHANNELS 50
#define HS_SPAM_RING 32 /* messages remembered per author: velocity_limit < this */
#define HS_SPAM_RAID_AUTHORS_MAX 10
#define HS_SPAM_WINDOW_MAX 600 /* seconds, for every window */

struct hs_spam_settings {
    int enabled;
    uint64_t alert_channel_id; /* 0: none (flags go to the audit log only) */
    uint64_t exempt_roles[HS_SPAM_MAX_EXEMPT_ROLES];
    size_t nexempt_roles;
    uint64_t exempt_channels[HS_SPAM_MAX_EXEMPT_CHANNELS];
    size_t nexempt_channels;
    int timeout_seconds;
    int duplicate_action, duplicate_limit, duplicate_window_seconds;
    int velocity_action, velocity_limit, velocity_window_seconds;
    int link_action, link_limit;
    int new_member_seconds, new_account_seconds;
    int invite_action;
    int raid_action, raid_authors, raid_window_seconds;
};

/* Hearth's defaults (spec/rest-automod.md). */
void hs_spam_settings_default(struct hs_spam_settings *s);
/* The settings object of the API; new JSON. */
json_t *hs_spam_settings_json(const struct hs_spam_settings *s);
/*
 * Applies the fields present in body (a PATCH) to s, checking each: a bad field is
 * HS_R_FORM naming it, and leaves s partly changed (the caller works on a copy). Channel
 * and role ids are checked for shape only; the caller checks they belong to the guild.
 */
int hs_spam_settings_patch(struct hs_spam_settings *s, json_t *body, hs_error *err);
/* Reads stored settings (what hs_spam_settings_json wrote, possibly by an older Hearth):
 * defaults for anything absent or unreadable. */
void hs_spam_settings_load(struct hs_spam_settings *s, const char *stored);
/* The strongest action among the signals raised. */
int hs_spam_verdict(const struct hs_spam_settings *s, unsigned signals);
/* "allow", "flag", "block", "timeout". */
const char *hs_spam_action_name(int action);

/* ---- content ---- */

#define HS_SPAM_MENTIONS_MAX 100 /* unique mentions counted per message (more count as this) */

struct hs_spam_content {
    uint64_t hash; /* of the normalised text (case and white space folded) */
    size_t chars;  /* code points of the normalised text */
    int links;     /* http(s):// and www. links, invites included */
    int invites;   /* links to invites (discord.gg/..., .../invite/...) */
    int mentions;  /* unique <@user>, <@!user> and <@&role> mentions */
};

/* Scans content (UTF-8, len bytes) in one pass; x is its normalised form
 * (hs_am_text_init), which the hash and the length are taken from. */
void hs_spam_scan(const char *content, size_t len, const struct hs_am_text *x,
                  struct hs_spam_content *out);

/* ---- the tracker ---- */

typedef struct hs_spam_tracker hs_spam_tracker;

/* What the tracker knows of one author in one guild. The caller fills the `info` fields
 * (from the members and users tables) when info_ms is 0 or old. */
struct hs_spam_author {
    uint64_t guild_id, user_id;
    /* info */
    uint64_t info_ms;   /* when the caller last loaded the fields below, 0: never */
    uint64_t joined_ms; /* members.joined_at */
    int bot;            /* users.bot */
    /* the last messages, a ring */
    uint64_t at[HS_SPAM_RING];
    uint64_t hash[HS_SPAM_RING];
    uint8_t mentions[HS_SPAM_RING];
    unsigned head, count;
};

/* A tracker remembering at most max_authors authors and max_prints texts of new members
 * (the least recently seen are dropped first). Free with hs_spam_tracker_free. */
hs_spam_tracker *hs_spam_tracker_new(size_t max_authors, size_t max_prints);
void hs_spam_tracker_free(hs_spam_tracker *t);
/* The author's entry, created empty when absent (borrowed; valid until the next call). */
struct hs_spam_author *hs_spam_author_get(hs_spam_tracker *t, uint64_t guild_id, uint64_t user_id,
                                          uint64_t now_ms);

struct hs_spam_message {
    uint64_t now_ms;
    const struct hs_spam_content *content;
    int is_new; /* the author is a new member or a new account (the settings decide) */
};

/*
 * Records the message in the author's ring (and, from a new member, in the texts seen)
 * and returns the signals it raises under s. Call once per message posted, blocked ones
 * included: a flood that keeps being refused keeps being refused.
 */
unsigned hs_spam_observe(hs_spam_tracker *t, struct hs_spam_author *a,
                         const struct hs_spam_settings *s, const struct hs_spam_message *m);
/* Unique mentions the author made in messages since now_ms - window_ms (ring entries). */
int hs_spam_recent_mentions(const struct hs_spam_author *a, uint64_t now_ms, uint64_t window_ms);

/* Counts, for tests and benchmarks. */
size_t hs_spam_tracker_authors(const hs_spam_tracker *t);
size_t hs_spam_tracker_prints(const hs_spam_tracker *t);

#endif
