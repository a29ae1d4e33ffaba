/*
 * hs_automod_match.h: AutoMod's keyword matcher (spec/rest-automod.md "Matching").
 *
 * Discord's keyword semantics over one Aho-Corasick automaton: every keyword of every rule
 * of a guild (and every allow-list entry) goes into one automaton, and a message is
 * scanned once (twice when allow lists matched something), in time linear in its length
 * plus the matches found. No keyword is ever compiled into a backtracking regular
 * expression: user input decides which strings are searched for, never how.
 *
 * Keywords are matched case-insensitively on a normalised form of the text (hs_am_text):
 * letters folded to lower case (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic;
 * fullwidth ASCII to ASCII), runs of white space to one space, invisible format characters
 * (zero-width spaces and joiners, soft hyphens, byte order marks) removed. A keyword is
 * Discord's syntax: `cat` matches the whole word (or phrase) only, `cat*` a word that
 * starts with it, `*cat` a word that ends with it, `*cat*` anywhere. "Whole word" means
 * the characters on either side are not word characters (letters, digits, '_', combining
 * marks), so punctuation bounds a word as white space does. A match inside the span of an
 * allow-list match of the same group (rule) does not count; wildcard matches extend to the
 * whole word for that comparison and for the matched content reported.
 *
 * A matcher is built once (hs_am_matcher_add then hs_am_matcher_build) and is read-only
 * afterwards: scans may run on any thread. Text objects belong to their caller.
 */
#ifndef HS_AUTOMOD_MATCH_H
#define HS_AUTOMOD_MATCH_H

#include <stddef.h>
#include <stdint.h>

#define HS_AM_KEYWORD_MAX_CHARS 60 /* Discord's limit per keyword or allow-list entry */

/* ---- normalised text ---- */

struct hs_am_text {
    char *t;         /* the normalised bytes (NUL-terminated) */
    size_t len;      /* strlen(t) */
    uint32_t *map;   /* map[i]: offset in the original of the character at t[i]; map[len] is
                        the original's length */
    uint32_t *left;  /* left[i]: where the run of word characters ending at i starts (i itself
                        when the character before i is not a word character) */
    uint32_t *right; /* right[i]: where the run of word characters starting at i ends */
};

/* Normalises content (valid UTF-8; invalid bytes count as non-word characters). Release
 * with hs_am_text_release. */
void hs_am_text_init(struct hs_am_text *x, const char *content, size_t len);
void hs_am_text_release(struct hs_am_text *x);

/* The normalised form of a keyword without its wildcards: returns new memory (free with
 * free()) and the wildcard flags, or NULL when nothing is left (only '*' and spaces). */
char *hs_am_keyword_normalise(const char *keyword, int *lead_wild, int *trail_wild);

/* ---- the matcher ---- */

typedef struct hs_am_matcher hs_am_matcher;

/* Returns a new, empty matcher (free with hs_am_matcher_free). */
hs_am_matcher *hs_am_matcher_new(void);
void hs_am_matcher_free(hs_am_matcher *m);

/*
 * Adds a keyword (allow = 0) or an allow-list entry (allow = 1) of group (a rule; 0..65535)
 * with the caller's tag, reported back with a match. Returns 0, or -1 when the keyword is
 * empty once normalised. Before hs_am_matcher_build only.
 */
int hs_am_matcher_add(hs_am_matcher *m, const char *keyword, unsigned group, uint32_t tag,
                      int allow);
/* Computes the automaton. The matcher is read-only afterwards. */
void hs_am_matcher_build(hs_am_matcher *m);
/* Memory the built matcher holds, in bytes (for the cache's bound). */
size_t hs_am_matcher_bytes(const hs_am_matcher *m);
/* Number of keywords and allow entries added. */
size_t hs_am_matcher_count(const hs_am_matcher *m);

/* The first match of a group, as offsets into the original content. */
struct hs_am_hit {
    int hit;           /* 0: the group did not match */
    uint32_t tag;      /* the keyword's tag */
    size_t start, end; /* the matched content: original bytes [start, end) */
};

/*
 * Scans x: hits[g] (for g < ngroups) gets group g's first keyword match that lies in no
 * allow-list match of group g. Groups beyond ngroups are ignored. Returns the number of
 * groups that matched.
 */
unsigned hs_am_matcher_scan(const hs_am_matcher *m, const struct hs_am_text *x,
                            struct hs_am_hit *hits, unsigned ngroups);

/* ---- the keyword presets (hs_automod_presets.c) ---- */

enum hs_am_preset {
    HS_AM_PRESET_PROFANITY = 1,
    HS_AM_PRESET_SEXUAL_CONTENT = 2,
    HS_AM_PRESET_SLURS = 3,
};

/* Hearth's own word list for a preset (Discord's are not public), in keyword syntax,
 * NULL-terminated; NULL for an unknown preset. */
const char *const *hs_am_preset_words(int preset);

#endif
