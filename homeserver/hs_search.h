/*
 * hs_search.h: full-text message search (spec/rest-search.md).
 *
 * Three parts, used in this order by the client API (and any other client of the core):
 *
 *   1. hs_search_parse: the search-box syntax every client shares
 *      (`from:alice in:#general has:link before:2026-01-01 pinned:true "exact phrase"`)
 *      into an hs_search_box: filters with names still unresolved, plus the free text.
 *      Pure: no database.
 *   2. hs_search_resolve: names in a box (users, channels) to ids, merged into an
 *      hs_search_query, the form Discord's REST parameters take directly.
 *   3. hs_search_run: runs a query for one searcher in a guild or a DM/channel and returns
 *      Discord's response object. Permissions are decided here, at query time, for every
 *      distinct channel that holds a candidate hit (hs_perm_channel); hits the searcher
 *      may not read are neither returned nor counted.
 *
 * The index itself is kept by SQLite triggers created by HS_SEARCH_MIGRATION (a migration
 * of hs_schema.c), so it changes in the same transaction as the message it indexes.
 *
 * Reads take the calling thread's hs_db (any thread). Queries can take a fraction of a
 * second on large guilds (a phrase of common words, relevance): the client API runs them
 * on the pool. Nothing here writes except hs_search_reindex_fn (a write function).
 */
#ifndef HS_SEARCH_H
#define HS_SEARCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_error.h"
#include "hs_store.h"
#include "hs_writer.h"

/* Limits (Discord's, spec/rest-search.md §2). */
#define HS_SEARCH_CONTENT_MAX 1024 /* code points of `content` */
#define HS_SEARCH_BOX_MAX 2048     /* code points of the search-box text */
#define HS_SEARCH_MAX_TERMS 64     /* words and phrases in `content` */
#define HS_SEARCH_MAX_IDS 100      /* author_id, mentions */
#define HS_SEARCH_MAX_CHANNELS 500 /* channel_id */
#define HS_SEARCH_LIMIT_MAX 25
#define HS_SEARCH_OFFSET_MAX 9975
/* Relevance ranks (bm25) the newest this-many visible hits: every page a client can reach
 * (offset + limit <= 10,000) lies inside it. */
#define HS_SEARCH_RELEVANCE_WINDOW 10000
/* total_results counts the visible hits up to this many, then stops: every page a client
 * can reach lies below it, and a bounded count keeps a very common word cheap. */
#define HS_SEARCH_TOTAL_MAX 10000

/* `has` values (bits). Sticker, poll and snapshot have no stored data yet: has:X matches
 * nothing, has:-X everything. */
enum hs_search_has {
    HS_HAS_LINK = 1u << 0,
    HS_HAS_EMBED = 1u << 1,
    HS_HAS_FILE = 1u << 2,
    HS_HAS_IMAGE = 1u << 3,
    HS_HAS_VIDEO = 1u << 4,
    HS_HAS_SOUND = 1u << 5,
    HS_HAS_STICKER = 1u << 6,
    HS_HAS_POLL = 1u << 7,
    HS_HAS_SNAPSHOT = 1u << 8,
};
/* `author_type` values (bits). Hearth has no webhooks yet: webhook matches nothing. */
enum hs_search_author {
    HS_AUTHOR_USER = 1u << 0,
    HS_AUTHOR_BOT = 1u << 1,
    HS_AUTHOR_WEBHOOK = 1u << 2,
};
enum hs_search_sort { HS_SEARCH_SORT_TIMESTAMP = 0, HS_SEARCH_SORT_RELEVANCE = 1 };

/* Parses one `has` / `author_type` name ("link", "bot"...); returns its bit or 0. */
unsigned hs_search_has_bit(const char *name);
unsigned hs_search_author_bit(const char *name);

/*
 * A query in the form of Discord's parameters. Caller-allocated (it is ~6 KiB: put it on
 * the heap); hs_search_query_init sets the defaults, hs_search_query_release frees
 * `content`. Id lists are ORed within a filter; filters are ANDed.
 */
struct hs_search_query {
    char *content; /* owned; NULL or empty: no text condition */
    uint64_t author_ids[HS_SEARCH_MAX_IDS];
    size_t n_authors;
    uint64_t mentions[HS_SEARCH_MAX_IDS];
    size_t n_mentions;
    uint64_t channel_ids[HS_SEARCH_MAX_CHANNELS];
    size_t n_channels;
    unsigned author_types, author_types_not; /* enum hs_search_author */
    unsigned has, has_not;                   /* enum hs_search_has */
    int pinned;                              /* -1: either, 0: not pinned, 1: pinned */
    int mention_everyone;                    /* -1, 0, 1 */
    uint64_t min_id, max_id;                 /* exclusive bounds; 0: none */
    int sort_by;                             /* enum hs_search_sort */
    int sort_asc;                            /* 0: desc (the default) */
    int limit, offset;
    int impossible; /* a filter named nothing that exists (from:nobody): no hits */
};
void hs_search_query_init(struct hs_search_query *q);
void hs_search_query_release(struct hs_search_query *q);

/*
 * What the search box said, before names are resolved. Strings are owned (release with
 * hs_search_box_release). `content` is the free text left once the filters are taken out,
 * in the syntax `content` takes (words, "phrases", word* prefixes).
 */
struct hs_search_box {
    char *content;
    char *from[HS_SEARCH_MAX_IDS];
    size_t n_from;
    char *mentions[HS_SEARCH_MAX_IDS];
    size_t n_mentions;
    char *in[HS_SEARCH_MAX_CHANNELS];
    size_t n_in;
    unsigned author_types, author_types_not;
    unsigned has, has_not;
    int pinned;              /* -1, 0, 1 */
    uint64_t min_id, max_id; /* from before:/after:/during:, exclusive; 0: none */
};
void hs_search_box_release(struct hs_search_box *b);

/*
 * Parses search-box text (spec/rest-search.md §4). Filters are `key:value` (keys are case
 * insensitive; a value may be "quoted"): from:, mentions:, in:, has:, -has: (or has:-x),
 * author_type:, pinned:true|false, before:, after:, during: (or on:) with YYYY-MM-DD dates
 * (UTC). Everything else is free text. Fills *out (fully, even on error; release it).
 * Errors (HS_EINVAL, HS_R_FORM on field "q"): text over HS_SEARCH_BOX_MAX code points or
 * not UTF-8, an unknown has:/author_type: value, a bad pinned: value or date, too many
 * values for one filter.
 */
int hs_search_parse(const char *text, struct hs_search_box *out, hs_error *err);

/*
 * Resolves a box into q (adding to what q already holds). from:/mentions: take a user id,
 * `<@id>` or a username (case-insensitive); in: takes a channel id, `<#id>`, or `#name` /
 * `name`, meaning every channel of guild_id with that name (guild_id 0: ids only). A name
 * that matches nothing sets q->impossible. Dates narrow min_id/max_id; the text is
 * appended to q->content. Errors: HS_R_FORM when a filter list grows past its limit.
 */
int hs_search_resolve(hs_db *db, uint64_t guild_id, const struct hs_search_box *b,
                      struct hs_search_query *q, hs_error *err);

/*
 * Checks q->content (length, UTF-8, at most HS_SEARCH_MAX_TERMS terms, at least one
 * searchable word when it is not blank). HS_R_FORM on "content". hs_search_run calls it
 * too; the client API calls it first for its error order.
 */
int hs_search_check_content(hs_db *db, const char *content, hs_error *err);

/*
 * The FTS5 MATCH expression for q within a guild (guild_id) or a channel (channel_id,
 * guild_id 0). Every term is rebuilt from the tokenizer's own tokens and quoted, so no
 * FTS5 syntax from the input reaches SQLite. Returns new string (free with free()) in
 * *out, or NULL when q can match nothing. Exposed for the unit tests.
 */
int hs_search_match(hs_db *db, uint64_t guild_id, uint64_t channel_id,
                    const struct hs_search_query *q, char **out, hs_error *err);

/*
 * `content` with every match of q_content's terms wrapped in "**" (phrase matches as one
 * run). Returns new string (free with free()).
 */
char *hs_search_highlight(hs_db *db, const char *content, const char *q_content);

/*
 * Runs q for user_id in guild_id (channel_id 0) or in channel_id (guild_id 0), returning
 * the response {total_results, messages: [[message]], threads, members,
 * doing_deep_historical_index} in *out (new reference). total_results is the number of
 * hits user_id may read, or HS_SEARCH_TOTAL_MAX when there are more. Errors:
 * HS_R_UNKNOWN_GUILD / HS_R_UNKNOWN_CHANNEL, HS_R_MISSING_ACCESS (not a member /
 * recipient, or no VIEW_CHANNEL on the channel), HS_R_MISSING_PERMISSIONS (no
 * READ_MESSAGE_HISTORY on the channel), HS_R_FORM for bad content.
 */
int hs_search_run(hs_db *db, uint64_t user_id, uint64_t guild_id, uint64_t channel_id,
                  const struct hs_search_query *q, json_t **out, hs_error *err);

/*
 * Write: rebuilds the index from the messages table: empties message_fts and
 * message_search, then indexes every message as migration 6 did and merges the index
 * into one segment (FTS5 'optimize'), in one transaction: far cheaper per message than
 * the triggers' row-at-a-time writes. For a corpus loaded with the triggers dropped
 * (bench/search.sh) and for repair; the triggers themselves are neither created nor dropped. arg:
 * an int64_t * that receives the number of messages indexed, or NULL.
 */
int hs_search_reindex_fn(hs_txn *txn, void *arg, hs_error *err);

/*
 * For tests and benchmarks (not thread-safe; call before searching): above n hits the
 * permission step enumerates the scope's channels instead of grouping the hits by channel
 * (hs_search.c DESIGN). Default 4096.
 */
void hs_search_set_small_limit(long n);
/* For tests (same rules): total_results stops at n instead of HS_SEARCH_TOTAL_MAX. */
void hs_search_set_total_max(long n);

/* ---- The index (hs_schema.c migration 6). A shipped migration: never edit this. ---- */

/*
 * The words of the message are indexed in column `text`; column `meta` holds tokens for
 * the filters, derived from the messages row and its message_search row only (so a
 * delete can give FTS5 exactly the tokens that were indexed): c<channel> g<guild>
 * a<author> m<mentioned user> r<mentioned role>, and the flags tbot, pinned, everyone,
 * hlink, hembed, hfile, himage, hvideo, hsound.
 */
#define HS_SEARCH_JSON_ARRAY(x) "CASE WHEN json_valid(" x ") THEN json_type(" x ") = 'array' END"
#define HS_SEARCH_META(r, s)                                                                       \
    "'c' || " r ".channel_id || coalesce(' g' || " s ".guild_id, '') || ' a' || " r                \
    ".author_id || CASE WHEN " s ".bot THEN ' tbot' ELSE '' END || CASE WHEN " r                   \
    ".pinned_at IS NOT NULL THEN ' pinned' ELSE '' END || CASE WHEN " r                            \
    ".mention_everyone THEN ' everyone' ELSE '' END || CASE WHEN " r                               \
    ".content LIKE '%http://%' OR " r ".content LIKE '%https://%' THEN ' hlink' ELSE '' END || "   \
    "CASE WHEN " HS_SEARCH_JSON_ARRAY(                                                             \
        r                                                                                          \
        ".mentions") " THEN coalesce((SELECT group_concat(' m' "                                   \
                     "|| CASE WHEN type = 'object' THEN json_extract(value, '$.id') ELSE value "   \
                     "END, '') FROM "                                                              \
                     "json_each(" r ".mentions)), '') ELSE '' END || "                             \
                     "CASE WHEN " HS_SEARCH_JSON_ARRAY(                                            \
                         r                                                                         \
                         ".mention_roles") " THEN coalesce((SELECT "                               \
                                           "group_concat(' r' || CASE WHEN type = 'object' THEN "  \
                                           "json_extract(value, '$.id') ELSE value "               \
                                           "END, '') FROM json_each(" r                            \
                                           ".mention_roles)), '') ELSE '' END || "                 \
                                           "CASE WHEN " HS_SEARCH_JSON_ARRAY(                      \
                                               r                                                   \
                                               ".attachments") " THEN (SELECT CASE WHEN count(*) " \
                                                               "> 0 "                              \
                                                               "THEN ' hfile' ELSE '' END || "     \
                                                               "CASE WHEN total(ct LIKE "          \
                                                               "'image/%') > 0 THEN ' himage' "    \
                                                               "ELSE '' "                          \
                                                               "END || CASE WHEN total(ct LIKE "   \
                                                               "'video/%') > 0 THEN ' hvideo' "    \
                                                               "ELSE '' END || CASE WHEN "         \
                                                               "total(ct LIKE 'audio/%') > 0 "     \
                                                               "THEN ' hsound' ELSE '' END FROM "  \
                                                               "(SELECT CASE WHEN type = "         \
                                                               "'object' THEN "                    \
                                                               "coalesce(json_extract(value, "     \
                                                               "'$.content_type'), '') ELSE '' "   \
                                                               "END AS ct FROM "                   \
                                                               "json_each(" r                      \
                                                               ".attachments))) ELSE '' END || "   \
                                                               "CASE WHEN " HS_SEARCH_JSON_ARRAY(  \
                                                                   r                               \
                                                                   ".embeds") " THEN (SELECT "     \
                                                                              "CASE WHEN "         \
                                                                              "count(*) > 0 THEN " \
                                                                              "' hembed' ELSE '' " \
                                                                              "END || CASE WHEN "  \
                                                                              "total(et IN "       \
                                                                              "('image', "         \
                                                                              "'gifv')) > 0 THEN " \
                                                                              "' himage' ELSE "    \
                                                                              "'' END || CASE "    \
                                                                              "WHEN total(et = "   \
                                                                              "'video') > 0 THEN " \
                                                                              "' hvideo' ELSE '' " \
                                                                              "END FROM (SELECT "  \
                                                                              "CASE "              \
                                                                              "WHEN type = "       \
                                                                              "'object' THEN "     \
                                                                              "coalesce(json_"     \
                                                                              "extract(value, "    \
                                                                              "'$.type'), "        \
                                                                              "'rich') ELSE '' "   \
                                                                              "END AS "            \
                                                                              "et FROM "           \
                                                                              "json_each(" r       \
                                                                              ".embeds))) ELSE "   \
                                                                              "'' END"

#define HS_SEARCH_SIDE_INSERT(r)                                                                   \
    "INSERT INTO message_search (id, channel_id, guild_id, bot) VALUES (" r ".id, " r              \
    ".channel_id, (SELECT guild_id FROM channels WHERE id = " r ".channel_id), coalesce((SELECT "  \
    "bot FROM users WHERE id = " r ".author_id), 0) != 0);"
#define HS_SEARCH_FTS_INSERT(r)                                                                    \
    "INSERT INTO message_fts (rowid, text, meta) SELECT " r ".id, " r                              \
    ".content, " HS_SEARCH_META(r, "s") " FROM message_search s WHERE s.id = " r ".id;"
#define HS_SEARCH_FTS_DELETE(r)                                                                    \
    "INSERT INTO message_fts (message_fts, rowid, text, meta) SELECT 'delete', " r ".id, " r       \
    ".content, " HS_SEARCH_META(r, "s") " FROM message_search s WHERE s.id = " r ".id;"            \
                                        "DELETE FROM message_search WHERE id = " r ".id;"

#define HS_SEARCH_MIGRATION                                                                        \
    "CREATE VIRTUAL TABLE message_fts USING fts5(text, meta, content='', "                         \
    "tokenize='unicode61 remove_diacritics 2');"                                                   \
    "CREATE TABLE message_search ("                                                                \
    "  id INTEGER PRIMARY KEY,"                                                                    \
    "  channel_id INTEGER NOT NULL,"                                                               \
    "  guild_id INTEGER,"                                                                          \
    "  bot INTEGER NOT NULL DEFAULT 0);"                                                           \
    "INSERT INTO message_search (id, channel_id, guild_id, bot) SELECT m.id, m.channel_id, "       \
    "c.guild_id, coalesce(u.bot, 0) != 0 FROM messages m LEFT JOIN channels c ON c.id = "          \
    "m.channel_id LEFT JOIN users u ON u.id = m.author_id;"                                        \
    "INSERT INTO message_fts (rowid, text, meta) SELECT m.id, m.content, " HS_SEARCH_META(         \
        "m", "s") " FROM messages m JOIN message_search s ON s.id = m.id;"                         \
                  "CREATE TRIGGER message_search_insert AFTER INSERT ON messages "                 \
                  "BEGIN " HS_SEARCH_SIDE_INSERT("new") HS_SEARCH_FTS_INSERT(                      \
                      "new") " END;"                                                               \
                             "CREATE TRIGGER message_search_delete AFTER DELETE ON messages "      \
                             "BEGIN " HS_SEARCH_FTS_DELETE(                                        \
                                 "old") " END;"                                                    \
                                        "CREATE TRIGGER message_search_update AFTER UPDATE OF "    \
                                        "id, channel_id, author_id, content, "                     \
                                        "pinned_at, mention_everyone, mentions, mention_roles, "   \
                                        "attachments, embeds ON messages "                         \
                                        "BEGIN " HS_SEARCH_FTS_DELETE("old")                       \
                                            HS_SEARCH_SIDE_INSERT("new")                           \
                                                HS_SEARCH_FTS_INSERT("new") " END;"

#endif
