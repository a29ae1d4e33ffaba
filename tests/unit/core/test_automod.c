/*
 * Unit tests for AutoMod (hs_automod.h, hs_automod_match.h, hs_spam.h; spec/rest-automod.md):
 * the keyword matcher against Discord's wildcard table and, on random inputs, against a
 * brute-force reference; the normalisation (case, white space, invisible characters); the
 * presets; the spam settings, content scan and tracker windows; the writer's failure
 * follow-up and per-module state (hs_writer.h), which a blocked message depends on; and,
 * through a real core, rules enforced on hs_msg_create_fn and recompiled when they change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hs_accounts.h"
#include "hs_automod.h"
#include "hs_automod_match.h"
#include "hs_core.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_spam.h"
#include "hs_util.h"

#include "testkit.h"

/* ------------------------------------------------------------------ matcher helpers */

/* Matches one keyword (group 0) against text: 1 and the matched original substring in
 * out, or 0. */
static int match1(const char *keyword, const char *text, char *out, size_t outlen)
{
    hs_am_matcher *m = hs_am_matcher_new();
    assert_int_equal(hs_am_matcher_add(m, keyword, 0, 7, 0), 0);
    hs_am_matcher_build(m);
    struct hs_am_text x;
    hs_am_text_init(&x, text, strlen(text));
    struct hs_am_hit hit;
    unsigned n = hs_am_matcher_scan(m, &x, &hit, 1);
    if (n && out)
        snprintf(out, outlen, "%.*s", (int)(hit.end - hit.start), text + hit.start);
    if (n)
        assert_int_equal(hit.tag, 7);
    hs_am_text_release(&x);
    hs_am_matcher_free(m);
    return (int)n;
}

static void test_discord_wildcards(void **state)
{
    (void)state;
    /* Discord's table (auto-moderation.mdx "Keyword Matching Strategies") and its
     * negatives. matched "" means no match. */
    static const struct {
        const char *keyword, *text, *matched;
    } cases[] = {
        /* prefix */
        {"cat*", "catch", "catch"},
        {"cat*", "Catapult", "Catapult"},
        {"cat*", "CAttLE", "CAttLE"},
        {"cat*", "bobcat", ""},
        {"tra*", "traditional", "traditional"},
        {"the mat*", "the matrix", "the matrix"},
        /* suffix */
        {"*cat", "wildcat", "wildcat"},
        {"*cat", "copyCat", "copyCat"},
        {"*cat", "catch", ""},
        {"*tra", "orchesTRA", "orchesTRA"},
        {"*the mat", "breathe mat", "breathe mat"},
        /* anywhere */
        {"*cat*", "location", "location"},
        {"*cat*", "eduCation", "eduCation"},
        {"*tra*", "outrage", "outrage"},
        {"*the mat*", "breathe matter", "breathe matter"},
        /* whole word */
        {"cat", "cat", "cat"},
        {"cat", "a cat!", "cat"},
        {"cat", "(cat)", "cat"},
        {"cat", "cats", ""},
        {"cat", "bobcat", ""},
        {"cat", "cat_dog", ""},
        {"train", "TRAIN", "TRAIN"},
        {"the mat", "on the mat.", "the mat"},
        {"the mat", "the matrix", ""},
        /* keywords that start or end with punctuation need no word boundary there */
        {"c++", "i like c++!", "c++"},
        {"!!", "hey!!", "!!"},
        {"@here", "ping @here", "@here"},
        /* white space: runs count as one; spaces in the keyword are trimmed */
        {"bad word", "a bad   word", "bad   word"},
        {"bad word", "a bad\n\tword", "bad\n\tword"},
        {"  spaced  ", "is spaced out", "spaced"},
        /* case folding beyond ASCII; fullwidth letters fold to ASCII */
        {"caf\xc3\xa9", "CAF\xc3\x89 au lait", "CAF\xc3\x89"},
        {"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
         "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2!",
         "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2"},
        {"scam", "\xef\xbc\xb3\xef\xbd\x83\xef\xbd\x81\xef\xbd\x8d",
         "\xef\xbc\xb3\xef\xbd\x83\xef\xbd\x81\xef\xbd\x8d"},
        /* invisible characters do not split a word */
        {"scam",
         "s\xe2\x80\x8b"
         "cam",
         "s\xe2\x80\x8b"
         "cam"},
        {"scam",
         "sc\xc2\xad"
         "am link",
         "sc\xc2\xad"
         "am"},
        /* accents are letters: no boundary inside "caféine" */
        {"caf", "caf\xc3\xa9ine", ""},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        char got[128] = "";
        int n = match1(cases[i].keyword, cases[i].text, got, sizeof(got));
        if (n != (cases[i].matched[0] != 0) || strcmp(got, cases[i].matched) != 0)
            fail_msg("case %zu: '%s' in '%s': got %d '%s', expected '%s'", i, cases[i].keyword,
                     cases[i].text, n, got, cases[i].matched);
    }
}

static void test_keyword_normalise(void **state)
{
    (void)state;
    int lead, trail;
    char *k = hs_am_keyword_normalise("**Hello World*", &lead, &trail);
    assert_string_equal(k, "hello world");
    assert_true(lead && trail);
    free(k);
    assert_null(hs_am_keyword_normalise("*", &lead, &trail));
    assert_null(hs_am_keyword_normalise("* *", &lead, &trail));
    assert_null(hs_am_keyword_normalise("", &lead, &trail));
    assert_null(hs_am_keyword_normalise("\xe2\x80\x8b", &lead, &trail));
    hs_am_matcher *m = hs_am_matcher_new();
    assert_int_equal(hs_am_matcher_add(m, "**", 0, 0, 0), -1);
    assert_int_equal(hs_am_matcher_count(m), 0);
    hs_am_matcher_build(m);
    struct hs_am_text x;
    hs_am_text_init(&x, "anything", 8);
    struct hs_am_hit hit;
    assert_int_equal(hs_am_matcher_scan(m, &x, &hit, 1), 0);
    hs_am_text_release(&x);
    hs_am_matcher_free(m);
}

/* Allow lists exempt matches they contain, per group; wildcards extend to whole words. */
static void test_allow_lists_and_groups(void **state)
{
    (void)state;
    hs_am_matcher *m = hs_am_matcher_new();
    assert_int_equal(hs_am_matcher_add(m, "*cat*", 0, 1, 0), 0);
    assert_int_equal(hs_am_matcher_add(m, "education", 0, 0, 1), 0);
    assert_int_equal(hs_am_matcher_add(m, "*cation", 0, 0, 1), 0); /* vacation, location... */
    assert_int_equal(hs_am_matcher_add(m, "*cat*", 1, 2, 0), 0);   /* group 1: no allow list */
    assert_int_equal(hs_am_matcher_add(m, "dog", 2, 3, 0), 0);
    assert_int_equal(hs_am_matcher_add(m, "hot dog", 2, 0, 1), 0);
    hs_am_matcher_build(m);
    struct {
        const char *text;
        int g0, g1, g2;
        const char *m0;
    } cases[] = {
        {"a fine education", 0, 1, 0, ""},
        {"Vacation time", 0, 1, 0, ""},
        {"education and a cat", 1, 1, 0, "cat"},
        {"catalogue", 1, 1, 0, "catalogue"},
        {"a hot dog stand", 0, 0, 0, ""},
        {"a hot dog and a dog", 0, 0, 1, ""},
        {"dog", 0, 0, 1, ""},
        {"nothing here", 0, 0, 0, ""},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        struct hs_am_text x;
        struct hs_am_hit hits[3];
        hs_am_text_init(&x, cases[i].text, strlen(cases[i].text));
        unsigned n = hs_am_matcher_scan(m, &x, hits, 3);
        if (hits[0].hit != cases[i].g0 || hits[1].hit != cases[i].g1 || hits[2].hit != cases[i].g2)
            fail_msg("case %zu '%s': hits %d %d %d", i, cases[i].text, hits[0].hit, hits[1].hit,
                     hits[2].hit);
        assert_int_equal(n, (unsigned)(cases[i].g0 + cases[i].g1 + cases[i].g2));
        if (cases[i].g0) {
            char got[64];
            snprintf(got, sizeof(got), "%.*s", (int)(hits[0].end - hits[0].start),
                     cases[i].text + hits[0].start);
            assert_string_equal(got, cases[i].m0);
            assert_int_equal(hits[0].tag, 1);
        }
        if (cases[i].g2)
            assert_int_equal(hits[2].tag, 3);
        hs_am_text_release(&x);
    }
    /* A scan over fewer groups ignores the others. */
    struct hs_am_text x;
    struct hs_am_hit one;
    hs_am_text_init(&x, "dog", 3);
    assert_int_equal(hs_am_matcher_scan(m, &x, &one, 1), 0);
    hs_am_text_release(&x);
    hs_am_matcher_free(m);
}

/* ---- a brute-force reference on random inputs ---- */

struct ref_kw {
    char *norm;
    int lead, trail, allow;
    unsigned group;
};

/* Word character, as the matcher defines it, for the small alphabet used below. */
static int ref_word_at(const struct hs_am_text *x, size_t i)
{
    return i < x->len && x->right[i] > i;
}

static int ref_word_before(const struct hs_am_text *x, size_t i)
{
    return i > 0 && x->left[i] < i;
}

static int first_is_word(const char *k)
{
    unsigned char c = (unsigned char)k[0];
    return c >= 0x80 || (c >= 'a' && c <= 'z');
}

static int last_is_word(const char *k)
{
    size_t n = strlen(k);
    unsigned char c = (unsigned char)k[n - 1];
    return c >= 0x80 || (c >= 'a' && c <= 'z');
}

/* Every match of kw in x as a [s, e) span of the normalised text (extended at wildcard
 * ends); calls fn for each. */
static void ref_matches(const struct ref_kw *kw, const struct hs_am_text *x,
                        void (*fn)(size_t s, size_t e, void *ud), void *ud)
{
    size_t n = strlen(kw->norm);
    for (size_t s = 0; s + n <= x->len; s++) {
        if (((unsigned char)x->t[s] & 0xC0) == 0x80 || memcmp(x->t + s, kw->norm, n) != 0)
            continue;
        size_t e = s + n;
        if (!kw->lead && first_is_word(kw->norm) && ref_word_before(x, s))
            continue;
        if (!kw->trail && last_is_word(kw->norm) && ref_word_at(x, e))
            continue;
        size_t es = s, ee = e;
        if (kw->lead)
            while (ref_word_before(x, es))
                es--;
        if (kw->trail)
            while (ref_word_at(x, ee))
                ee++;
        /* The walk backwards may stop inside a multi-byte character: move to its start. */
        while (es > 0 && ((unsigned char)x->t[es] & 0xC0) == 0x80)
            es--;
        fn(es, ee, ud);
    }
}

struct span_list {
    size_t s[4096], e[4096];
    size_t n;
};

static void collect_span(size_t s, size_t e, void *ud)
{
    struct span_list *l = ud;
    if (l->n < HS_ARRAY_LEN(l->s)) {
        l->s[l->n] = s;
        l->e[l->n] = e;
        l->n++;
    }
}

static void test_matcher_against_reference(void **state)
{
    (void)state;
    static const char *const alphabet[] = {"a", "b", "A", " ", ".", "\xc3\xa9", "\xc3\x89", "_"};
    static const char *const kw_alphabet[] = {"a", "b", "\xc3\xa9", " ", "."};
    uint32_t rng = 12345;
#define RND(n) ((rng = rng * 1103515245u + 12345u), (rng >> 8) % (n))
    for (int round = 0; round < 3000; round++) {
        enum { GROUPS = 3 };
        struct ref_kw kws[12];
        size_t nkw = 1 + RND(12);
        hs_am_matcher *m = hs_am_matcher_new();
        size_t added = 0;
        for (size_t i = 0; i < nkw; i++) {
            char raw[32] = "";
            if (RND(3) == 0)
                strcat(raw, "*");
            size_t len = 1 + RND(3);
            for (size_t j = 0; j < len; j++)
                strcat(raw, kw_alphabet[RND(HS_ARRAY_LEN(kw_alphabet))]);
            if (RND(3) == 0)
                strcat(raw, "*");
            struct ref_kw *k = &kws[added];
            k->norm = hs_am_keyword_normalise(raw, &k->lead, &k->trail);
            k->allow = RND(4) == 0;
            k->group = (unsigned)RND(GROUPS);
            int rc = hs_am_matcher_add(m, raw, k->group, (uint32_t)added, k->allow);
            assert_int_equal(rc, k->norm ? 0 : -1);
            if (k->norm)
                added++;
        }
        hs_am_matcher_build(m);
        char text[256] = "";
        size_t tlen = RND(40);
        for (size_t j = 0; j < tlen; j++)
            strcat(text, alphabet[RND(HS_ARRAY_LEN(alphabet))]);
        struct hs_am_text x;
        hs_am_text_init(&x, text, strlen(text));
        struct hs_am_hit hits[GROUPS];
        hs_am_matcher_scan(m, &x, hits, GROUPS);
        for (unsigned g = 0; g < GROUPS; g++) {
            /* The reference: every keyword match of g not inside an allow match of g. */
            static struct span_list allow, found;
            allow.n = found.n = 0;
            for (size_t i = 0; i < added; i++)
                if (kws[i].group == g && kws[i].allow)
                    ref_matches(&kws[i], &x, collect_span, &allow);
            int any = 0, hit_ok = 0;
            for (size_t i = 0; i < added; i++) {
                if (kws[i].group != g || kws[i].allow)
                    continue;
                found.n = 0;
                ref_matches(&kws[i], &x, collect_span, &found);
                for (size_t j = 0; j < found.n; j++) {
                    int inside = 0;
                    for (size_t a = 0; a < allow.n; a++)
                        inside |= allow.s[a] <= found.s[j] && found.e[j] <= allow.e[a];
                    if (inside)
                        continue;
                    any = 1;
                    if (hits[g].hit && hits[g].tag == i && x.map[found.s[j]] == hits[g].start &&
                        x.map[found.e[j]] == hits[g].end)
                        hit_ok = 1;
                }
            }
            if (any != hits[g].hit || (any && !hit_ok))
                fail_msg("round %d group %u text '%s': reference %d, matcher %d (tag %u)", round, g,
                         text, any, hits[g].hit, hits[g].tag);
        }
        hs_am_text_release(&x);
        for (size_t i = 0; i < added; i++)
            free(kws[i].norm);
        hs_am_matcher_free(m);
    }
#undef RND
}

/* Many overlapping keywords over a long run of one letter: completes, and finds the one
 * whole-word keyword only where it can be. */
static void test_matcher_adversarial(void **state)
{
    (void)state;
    hs_am_matcher *m = hs_am_matcher_new();
    char kw[64];
    for (int len = 1; len <= 60; len++) {
        memset(kw, 'a', (size_t)len);
        kw[len] = '\0';
        assert_int_equal(hs_am_matcher_add(m, kw, (unsigned)len % 7, (uint32_t)len, 0), 0);
    }
    hs_am_matcher_build(m);
    char *text = hs_xmalloc(8001);
    memset(text, 'a', 8000);
    text[8000] = '\0';
    struct hs_am_text x;
    hs_am_text_init(&x, text, 8000);
    struct hs_am_hit hits[7];
    assert_int_equal(hs_am_matcher_scan(m, &x, hits, 7), 0); /* no whole word fits */
    hs_am_text_release(&x);
    text[59] = ' ';
    hs_am_text_init(&x, text, 8000);
    hs_am_matcher_scan(m, &x, hits, 7);
    assert_int_equal(hits[59 % 7].hit, 1);
    assert_int_equal(hits[59 % 7].tag, 59);
    assert_int_equal(hits[59 % 7].start, 0);
    assert_int_equal(hits[59 % 7].end, 59);
    hs_am_text_release(&x);
    free(text);
    assert_true(hs_am_matcher_bytes(m) > 0);
    hs_am_matcher_free(m);
}

static void test_presets(void **state)
{
    (void)state;
    assert_null(hs_am_preset_words(0));
    assert_null(hs_am_preset_words(4));
    for (int p = 1; p <= 3; p++) {
        const char *const *w = hs_am_preset_words(p);
        assert_non_null(w);
        size_t n = 0;
        for (; w[n]; n++) {
            int lead, trail;
            char *k = hs_am_keyword_normalise(w[n], &lead, &trail);
            assert_non_null(k);
            assert_true(strlen(w[n]) <= HS_AM_KEYWORD_MAX_CHARS);
            free(k);
        }
        assert_true(n >= 10);
    }
    hs_am_matcher *m = hs_am_matcher_new();
    for (int p = 1; p <= 3; p++)
        for (const char *const *w = hs_am_preset_words(p); *w; w++)
            hs_am_matcher_add(m, *w, (unsigned)p - 1, 0, 0);
    hs_am_matcher_build(m);
    static const struct {
        const char *text;
        int p1, p2, p3;
    } cases[] = {
        {"what the FUCK is this", 1, 0, 0},
        {"motherfuckers", 1, 0, 0},
        {"let me assess the class", 0, 0, 0},
        {"scunthorpe and cocktails", 0, 0, 0},
        {"send nudes", 0, 1, 0},
        {"PORNHUB link", 0, 1, 0},
        {"a perfectly polite sentence", 0, 0, 0},
        {"you retard", 0, 0, 1},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        struct hs_am_text x;
        struct hs_am_hit hits[3];
        hs_am_text_init(&x, cases[i].text, strlen(cases[i].text));
        hs_am_matcher_scan(m, &x, hits, 3);
        if (hits[0].hit != cases[i].p1 || hits[1].hit != cases[i].p2 || hits[2].hit != cases[i].p3)
            fail_msg("preset case %zu '%s': %d %d %d", i, cases[i].text, hits[0].hit, hits[1].hit,
                     hits[2].hit);
        hs_am_text_release(&x);
    }
    hs_am_matcher_free(m);
}

/* ------------------------------------------------------------------ spam */

static void test_spam_settings(void **state)
{
    (void)state;
    struct hs_spam_settings s;
    hs_spam_settings_default(&s);
    json_t *j = hs_spam_settings_json(&s);
    json_t *want = json_loads(
        "{\"enabled\":true,\"alert_channel_id\":null,\"exempt_roles\":[],\"exempt_channels\":[],"
        "\"timeout_seconds\":600,\"duplicate_action\":\"flag\",\"duplicate_limit\":3,"
        "\"duplicate_window_seconds\":30,\"velocity_action\":\"flag\",\"velocity_limit\":10,"
        "\"velocity_window_seconds\":10,\"link_action\":\"block\",\"link_limit\":5,"
        "\"new_member_seconds\":600,\"new_account_seconds\":0,\"invite_action\":\"allow\","
        "\"raid_action\":\"block\",\"raid_authors\":3,\"raid_window_seconds\":60}",
        0, NULL);
    assert_true(json_equal(j, want));
    json_decref(want);
    /* A patch, and the stored form read back. */
    json_t *body = json_loads("{\"duplicate_action\":\"timeout\",\"velocity_limit\":4,"
                              "\"alert_channel_id\":\"123\",\"exempt_roles\":[\"5\",5,\"6\"],"
                              "\"unknown_field\":1}",
                              0, NULL);
    hs_error err;
    assert_int_equal(hs_spam_settings_patch(&s, body, &err), 0);
    json_decref(body);
    assert_int_equal(s.duplicate_action, HS_SPAM_TIMEOUT);
    assert_int_equal(s.velocity_limit, 4);
    assert_int_equal(s.alert_channel_id, 123);
    assert_int_equal(s.nexempt_roles, 2); /* duplicates folded */
    json_decref(j);
    j = hs_spam_settings_json(&s);
    char *text = json_dumps(j, JSON_COMPACT);
    struct hs_spam_settings back;
    hs_spam_settings_load(&back, text);
    json_t *j2 = hs_spam_settings_json(&back);
    assert_true(json_equal(j, j2));
    free(text);
    json_decref(j);
    json_decref(j2);
    /* Unreadable stored settings are the defaults. */
    hs_spam_settings_load(&back, "not json");
    assert_int_equal(back.link_action, HS_SPAM_BLOCK);
    /* Each bad field names itself. */
    static const struct {
        const char *body, *field, *code;
    } bad[] = {
        {"{\"enabled\":1}", "enabled", "BASE_TYPE_BOOLEAN"},
        {"{\"alert_channel_id\":\"x\"}", "alert_channel_id", "NUMBER_TYPE_COERCE"},
        {"{\"exempt_roles\":{}}", "exempt_roles", "BASE_TYPE_ARRAY"},
        {"{\"exempt_channels\":[\"1\",\"y\"]}", "exempt_channels.1", "NUMBER_TYPE_COERCE"},
        {"{\"velocity_limit\":31}", "velocity_limit", "NUMBER_TYPE_MAX"},
        {"{\"duplicate_limit\":0}", "duplicate_limit", "NUMBER_TYPE_MIN"},
        {"{\"raid_authors\":\"3\"}", "raid_authors", "NUMBER_TYPE_COERCE"},
        {"{\"link_action\":\"ban\"}", "link_action", "BASE_TYPE_CHOICES"},
        {"{\"timeout_seconds\":2419201}", "timeout_seconds", "NUMBER_TYPE_MAX"},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++) {
        json_t *b = json_loads(bad[i].body, 0, NULL);
        hs_spam_settings_default(&s);
        hs_error_clear(&err);
        assert_int_equal(hs_spam_settings_patch(&s, b, &err), HS_EINVAL);
        assert_int_equal(err.reason, HS_R_FORM);
        assert_string_equal(err.field, bad[i].field);
        assert_string_equal(err.form_code, bad[i].code);
        json_decref(b);
    }
    /* The verdict is the strongest action raised. */
    hs_spam_settings_default(&s);
    assert_int_equal(hs_spam_verdict(&s, 0), HS_SPAM_ALLOW);
    assert_int_equal(hs_spam_verdict(&s, HS_SPAM_SIG_DUPLICATE), HS_SPAM_FLAG);
    assert_int_equal(hs_spam_verdict(&s, HS_SPAM_SIG_DUPLICATE | HS_SPAM_SIG_LINK), HS_SPAM_BLOCK);
    assert_int_equal(hs_spam_verdict(&s, HS_SPAM_SIG_INVITE), HS_SPAM_ALLOW);
    s.invite_action = HS_SPAM_TIMEOUT;
    assert_int_equal(hs_spam_verdict(&s, HS_SPAM_SIG_INVITE | HS_SPAM_SIG_RAID), HS_SPAM_TIMEOUT);
}

static void scan(const char *text, struct hs_spam_content *c)
{
    struct hs_am_text x;
    hs_am_text_init(&x, text, strlen(text));
    hs_spam_scan(text, strlen(text), &x, c);
    hs_am_text_release(&x);
}

static void test_spam_scan(void **state)
{
    (void)state;
    struct hs_spam_content c, d;
    scan("see https://example.com/x and http://a.io, www.b.org (https://discord.gg/abc)", &c);
    assert_int_equal(c.links, 4);
    assert_int_equal(c.invites, 1);
    scan("join https://hearth.example/invite/XyZ12 now", &c);
    assert_int_equal(c.links, 1);
    assert_int_equal(c.invites, 1);
    scan("not links: http:// https://x www. aww.com", &c);
    assert_int_equal(c.links, 0);
    scan("<@1> <@!1> <@&1> <@2> <@&1> <@x> <@> <@3", &c);
    assert_int_equal(c.mentions, 3); /* user 1 (two forms), role 1, user 2 */
    /* The hash ignores case and white space runs; the length is in code points. */
    scan("Hello   World", &c);
    scan("hello world", &d);
    assert_true(c.hash == d.hash);
    assert_int_equal(d.chars, 11);
    scan("hello world!", &d);
    assert_true(c.hash != d.hash);
    scan("\xc3\xa9t\xc3\xa9", &c);
    assert_int_equal(c.chars, 3);
}

static void test_spam_tracker(void **state)
{
    (void)state;
    struct hs_spam_settings s;
    hs_spam_settings_default(&s);
    hs_spam_tracker *t = hs_spam_tracker_new(4, 4);
    struct hs_spam_content hello, other, link;
    scan("hello there", &hello);
    scan("something else", &other);
    scan("buy now at https://spam.example/offer please", &link);
    uint64_t now = 1000000;
    struct hs_spam_author *a = hs_spam_author_get(t, 1, 10, now);
    struct hs_spam_message m = {now, &hello, 0};
    /* Three copies are allowed within 30 s, the fourth is a duplicate. */
    for (int i = 0; i < 3; i++) {
        m.now_ms = now + (uint64_t)i * 1000;
        assert_int_equal(hs_spam_observe(t, a, &s, &m) & HS_SPAM_SIG_DUPLICATE, 0);
    }
    m.now_ms = now + 3000;
    assert_true(hs_spam_observe(t, a, &s, &m) & HS_SPAM_SIG_DUPLICATE);
    /* Other text is no duplicate; after the window the copies are forgotten. */
    m.content = &other;
    assert_int_equal(hs_spam_observe(t, a, &s, &m) & HS_SPAM_SIG_DUPLICATE, 0);
    m.content = &hello;
    m.now_ms = now + 3000 + 31000;
    assert_int_equal(hs_spam_observe(t, a, &s, &m) & HS_SPAM_SIG_DUPLICATE, 0);
    /* Velocity: the 11th message within 10 s. */
    a = hs_spam_author_get(t, 1, 11, now);
    m.content = &other;
    unsigned sig = 0;
    for (int i = 0; i < 11; i++) {
        struct hs_spam_content c;
        char text[32];
        snprintf(text, sizeof(text), "message number %d", i);
        scan(text, &c);
        m.content = &c;
        m.now_ms = now + (uint64_t)i * 100;
        sig = hs_spam_observe(t, a, &s, &m);
        if (i < 10)
            assert_int_equal(sig & HS_SPAM_SIG_VELOCITY, 0);
    }
    assert_true(sig & HS_SPAM_SIG_VELOCITY);
    /* Links: from a new author, or more than link_limit. */
    m.content = &link;
    m.now_ms = now + 60000;
    assert_int_equal(hs_spam_observe(t, a, &s, &m) & HS_SPAM_SIG_LINK, 0);
    m.is_new = 1;
    assert_true(hs_spam_observe(t, a, &s, &m) & HS_SPAM_SIG_LINK);
    /* Raid: the same long text from three new members within a minute. */
    struct hs_spam_content copy;
    scan("this is a very long copy-pasted message", &copy);
    m.content = &copy;
    m.is_new = 1;
    for (uint64_t u = 20; u < 23; u++) {
        struct hs_spam_author *r = hs_spam_author_get(t, 2, u, now);
        m.now_ms = now + u;
        sig = hs_spam_observe(t, r, &s, &m);
        if (u < 22)
            assert_int_equal(sig & HS_SPAM_SIG_RAID, 0);
    }
    assert_true(sig & HS_SPAM_SIG_RAID);
    /* ... not in another guild, nor for a short greeting. */
    struct hs_spam_author *r = hs_spam_author_get(t, 3, 20, now);
    assert_int_equal(hs_spam_observe(t, r, &s, &m) & HS_SPAM_SIG_RAID, 0);
    struct hs_spam_content hi;
    scan("hi!", &hi);
    m.content = &hi;
    for (uint64_t u = 30; u < 36; u++) {
        r = hs_spam_author_get(t, 2, u, now);
        assert_int_equal(hs_spam_observe(t, r, &s, &m) & HS_SPAM_SIG_RAID, 0);
    }
    /* Bounded: never more than 4 authors and 4 texts. */
    assert_true(hs_spam_tracker_authors(t) <= 4);
    assert_true(hs_spam_tracker_prints(t) <= 4);
    /* An evicted author starts afresh. */
    a = hs_spam_author_get(t, 1, 10, now);
    assert_int_equal(a->count, 0);
    /* Recent mentions add up over the window. */
    struct hs_spam_content men;
    scan("<@1> <@2> <@3>", &men);
    m.content = &men;
    m.is_new = 0;
    m.now_ms = now;
    hs_spam_observe(t, a, &s, &m);
    m.now_ms = now + 1000;
    hs_spam_observe(t, a, &s, &m);
    assert_int_equal(hs_spam_recent_mentions(a, now + 2000, 60000), 6);
    assert_int_equal(hs_spam_recent_mentions(a, now + 60500, 60000), 3);
    hs_spam_tracker_free(t);
}

/* ------------------------------------------------------------------ through a core */

struct fx {
    char dir[TK_DIR_MAX];
    hs_config cfg;
    hs_core *core;
    uint64_t owner, member, guild, chan, alerts;
};

struct sql_op {
    const char *sql;
    int64_t a[3];
};

static int sql_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct sql_op *op = arg;
    sqlite3 *h = hs_db_handle(hs_txn_db(txn));
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(h, op->sql, -1, &s, NULL) != SQLITE_OK)
        return hs_error_set(err, HS_EIO, "%s", sqlite3_errmsg(h));
    for (int i = 0; i < 3; i++)
        sqlite3_bind_int64(s, i + 1, op->a[i]);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : hs_error_set(err, HS_EIO, "%s", sqlite3_errmsg(h));
}

static void run_sql(struct fx *fx, const char *sql, int64_t a0, int64_t a1, int64_t a2)
{
    struct sql_op op = {sql, {a0, a1, a2}};
    hs_error err;
    if (hs_writer_run(hs_core_writer(fx->core), sql_fn, &op, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    fx->core = tk_core_open(fx->dir, &fx->cfg, "automod");
    hs_error err;
    fx->owner = tk_register(fx->core, "owner");
    fx->member = tk_register(fx->core, "member");
    fx->guild = tk_guild(fx->core, fx->owner, "AutoMod", &fx->chan);
    struct hs_channel_create c = {
        .guild_id = fx->guild, .actor_id = fx->owner, .name = "alerts", .position = -1};
    if (hs_writer_run(hs_core_writer(fx->core), hs_channel_create_fn, &c, &err) != 0)
        return -1;
    fx->alerts = tk_json_id(c.channel, "id");
    json_decref(c.channel);
    /* A member of long standing (joined at unix ms 1): not new to the spam heuristics. */
    run_sql(fx, "INSERT INTO members (guild_id, user_id, joined_at) VALUES (?, ?, 1)",
            (int64_t)fx->guild, (int64_t)fx->member, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tk_core_close(fx->core, &fx->cfg, fx->dir);
    free(fx);
    return 0;
}

/* Posts content as author: 0 and the id, or the error. */
static int post(struct fx *fx, uint64_t author, const char *content, uint64_t *id, hs_error *err)
{
    struct hs_msg_create op = {
        .channel_id = fx->chan, .author_id = author, .content = content, .max_chars = 2000};
    hs_error_clear(err);
    int rc = hs_writer_run(hs_core_writer(fx->core), hs_msg_create_fn, &op, err);
    if (rc == 0) {
        *id = tk_json_id(op.message, "id");
        json_decref(op.message);
    } else {
        assert_null(op.message);
    }
    return rc;
}

static json_t *make_rule(struct fx *fx, uint64_t actor, const char *body, int *rc, hs_error *err)
{
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    struct hs_automod_rule_write op = {
        .guild_id = fx->guild, .actor_id = actor, .body = b, .max_keyword_rules = 6};
    hs_error_clear(err);
    *rc = hs_writer_run(hs_core_writer(fx->core), hs_automod_rule_create_fn, &op, err);
    json_decref(b);
    return op.rule;
}

static void test_rules_enforced(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    uint64_t id;
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"words\",\"event_type\":1,\"trigger_type\":1,\"enabled\":true,"
             "\"trigger_metadata\":{\"keyword_filter\":[\"forbidden\"]},\"actions\":[{\"type\":1},"
             "{\"type\":2,\"metadata\":{\"channel_id\":\"%llu\"}}]}",
             (unsigned long long)fx->alerts);
    json_t *rule = make_rule(fx, fx->owner, body, &rc, &err);
    assert_int_equal(rc, 0);
    uint64_t rule_id = tk_json_id(rule, "id");
    json_decref(rule);
    int64_t before =
        tk_count_u64(fx->core, "SELECT count(*) FROM messages WHERE channel_id = ?", fx->chan);

    /* Blocked: no message row, but the audit entry, the alert and the event are stored. */
    assert_int_equal(post(fx, fx->member, "a Forbidden word", &id, &err), HS_EINVAL);
    assert_int_equal(err.reason, HS_R_AUTOMOD_BLOCKED);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM messages WHERE channel_id = ?", fx->chan),
        before);
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM messages WHERE channel_id = ? AND type = 24",
                     fx->alerts),
        1);
    assert_int_equal(
        tk_count_u64(fx->core,
                     "SELECT count(*) FROM audit_log WHERE guild_id = ? AND action_type = 143",
                     fx->guild),
        1);
    assert_int_equal(
        tk_count_u64(fx->core,
                     "SELECT count(*) FROM audit_log WHERE guild_id = ? AND action_type = 144",
                     fx->guild),
        1);
    assert_int_equal(tk_count_u64(fx->core,
                                  "SELECT count(*) FROM events WHERE guild_id = ? AND type = "
                                  "'AUTO_MODERATION_ACTION_EXECUTION'",
                                  fx->guild),
                     2);
    assert_int_equal(tk_count_u64(fx->core,
                                  "SELECT count(*) FROM events WHERE channel_id = ? AND type = "
                                  "'MESSAGE_CREATE'",
                                  fx->chan),
                     0);
    /* The owner manages the guild: exempt. Other text passes. */
    assert_int_equal(post(fx, fx->owner, "forbidden", &id, &err), 0);
    assert_int_equal(post(fx, fx->member, "all fine", &id, &err), 0);

    /* Disabling the rule takes effect on the next message (the cache follows the stamp). */
    json_t *patch = json_loads("{\"enabled\":false}", 0, NULL);
    struct hs_automod_rule_write ed = {
        .guild_id = fx->guild, .rule_id = rule_id, .actor_id = fx->owner, .body = patch};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_automod_rule_edit_fn, &ed, &err),
                     0);
    json_decref(ed.rule);
    json_decref(patch);
    assert_int_equal(post(fx, fx->member, "forbidden again", &id, &err), 0);
    patch = json_loads("{\"enabled\":true,\"trigger_metadata\":{\"keyword_filter\":[\"*bidden\"]}}",
                       0, NULL);
    ed.body = patch;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_automod_rule_edit_fn, &ed, &err),
                     0);
    json_decref(ed.rule);
    json_decref(patch);
    assert_int_equal(post(fx, fx->member, "hidden", &id, &err), 0);
    assert_int_equal(post(fx, fx->member, "unbidden", &id, &err), HS_EINVAL);

    /* Editing a message into a forbidden one is refused; the message keeps its text. */
    assert_int_equal(post(fx, fx->member, "harmless", &id, &err), 0);
    struct hs_msg_edit edit = {.channel_id = fx->chan,
                               .message_id = id,
                               .actor_id = fx->member,
                               .content = "now forbidden",
                               .max_chars = 2000};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_msg_edit_fn, &edit, &err),
                     HS_EINVAL);
    assert_int_equal(err.reason, HS_R_AUTOMOD_BLOCKED);
    json_t *m = hs_msg_json(tk_rdb(fx->core), fx->chan, id, 0);
    assert_string_equal(json_string_value(json_object_get(m, "content")), "harmless");
    json_decref(m);

    /* An alert message cannot be edited, even by its author. */
    uint64_t alert = (uint64_t)tk_count_u64(
        fx->core, "SELECT max(id) FROM messages WHERE channel_id = ? AND type = 24", fx->alerts);
    struct hs_msg_edit sys = {.channel_id = fx->alerts,
                              .message_id = alert,
                              .actor_id = fx->member,
                              .content = "x",
                              .max_chars = 2000};
    int erc = hs_writer_run(hs_core_writer(fx->core), hs_msg_edit_fn, &sys, &err);
    assert_true(erc < 0);

    /* Deleting the rule: the word passes. */
    struct hs_automod_rule_delete del = {fx->guild, rule_id, fx->owner, NULL};
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), hs_automod_rule_delete_fn, &del, &err),
                     0);
    assert_int_equal(post(fx, fx->member, "unbidden", &id, &err), 0);
}

static void test_rule_limits_and_permissions(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    const char *kw = "{\"name\":\"k\",\"event_type\":1,\"trigger_type\":1,\"trigger_metadata\":"
                     "{\"keyword_filter\":[\"x\"]},\"actions\":[{\"type\":1}]}";
    /* The member lacks MANAGE_GUILD. */
    json_t *r = make_rule(fx, fx->member, kw, &rc, &err);
    assert_int_equal(rc, HS_EPERM);
    assert_null(r);
    for (int i = 0; i < 6; i++) {
        r = make_rule(fx, fx->owner, kw, &rc, &err);
        assert_int_equal(rc, 0);
        json_decref(r);
    }
    r = make_rule(fx, fx->owner, kw, &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.form_code, "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED");
    assert_int_equal(
        tk_count_u64(fx->core, "SELECT count(*) FROM automod_rules WHERE guild_id = ?", fx->guild),
        6);
    const char *spam = "{\"name\":\"s\",\"event_type\":1,\"trigger_type\":3,\"actions\":[{"
                       "\"type\":1}]}";
    r = make_rule(fx, fx->owner, spam, &rc, &err);
    assert_int_equal(rc, 0);
    json_decref(r);
    r = make_rule(fx, fx->owner, spam, &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    /* Timeouts are for keyword and mention rules. */
    r = make_rule(fx, fx->owner,
                  "{\"name\":\"p\",\"event_type\":1,\"trigger_type\":4,\"trigger_metadata\":{"
                  "\"presets\":[1]},\"actions\":[{\"type\":3,\"metadata\":{\"duration_seconds\":"
                  "60}}]}",
                  &rc, &err);
    assert_int_equal(rc, HS_EINVAL);
    assert_string_equal(err.field, "actions.0.type");
}

/* Mention spam: more unique mentions than the limit; with raid protection, over a minute. */
static void test_mention_spam(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    int rc;
    uint64_t id;
    json_t *r = make_rule(fx, fx->owner,
                          "{\"name\":\"m\",\"event_type\":1,\"trigger_type\":5,\"enabled\":true,"
                          "\"trigger_metadata\":{\"mention_total_limit\":3,"
                          "\"mention_raid_protection_enabled\":true},\"actions\":[{\"type\":1}]}",
                          &rc, &err);
    assert_int_equal(rc, 0);
    json_decref(r);
    assert_int_equal(post(fx, fx->member, "<@1> <@2> <@3> <@1>", &id, &err), 0);
    assert_int_equal(post(fx, fx->member, "<@1> <@2> <@3> <@&4>", &id, &err), HS_EINVAL);
    /* 3 earlier + 1 now exceed 3 within the minute. */
    assert_int_equal(post(fx, fx->member, "<@9>", &id, &err), HS_EINVAL);
}

/* ------------------------------------------------------------------ the writer's part */

static int on_fail_count;

static int trace_fn(hs_txn *txn, void *arg, hs_error *err)
{
    (void)arg;
    on_fail_count++;
    struct sql_op op = {"INSERT INTO audit_log (id, guild_id, action_type, reason) VALUES (?, 1, "
                        "999, 'trace')",
                        {(int64_t)hs_txn_new_id(txn)}};
    int rc = sql_fn(txn, &op, err);
    if (rc == 0)
        rc = hs_txn_event(txn, "TRACE", 1, 0, 0, json_object(), err);
    return rc;
}

static int failing_trace_fn(hs_txn *txn, void *arg, hs_error *err)
{
    trace_fn(txn, arg, err);
    return hs_error_set(err, HS_EIO, "the trace fails too");
}

static int frees;
static void count_free(void *p)
{
    (void)p;
    frees++;
}

struct fail_op {
    hs_write_fn trace;
    int fail;
};

static int failing_write(hs_txn *txn, void *arg, hs_error *err)
{
    struct fail_op *op = arg;
    struct sql_op ins = {"INSERT INTO audit_log (id, guild_id, action_type, reason) VALUES (?, 1, "
                         "998, 'write')",
                         {(int64_t)hs_txn_new_id(txn)}};
    int rc = sql_fn(txn, &ins, err);
    assert_int_equal(rc, 0);
    hs_txn_event(txn, "WRITE", 1, 0, 0, json_object(), err);
    hs_txn_on_failure(txn, op->trace, op, count_free);
    return op->fail ? hs_error_set(err, HS_EINVAL, "refused") : 0;
}

static const char key_a = 0, key_b = 0;
static int made;
static void *make_state(void)
{
    made++;
    return hs_xcalloc(1, 16);
}

static int state_write(hs_txn *txn, void *arg, hs_error *err)
{
    (void)err;
    void **out = arg;
    out[0] = hs_txn_state(txn, &key_a, make_state, free);
    out[1] = hs_txn_state(txn, &key_b, make_state, free);
    return 0;
}

static void test_writer_on_failure_and_state(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    const char *q998 = "SELECT count(*) FROM audit_log WHERE action_type = 998 AND guild_id = ?";
    const char *q999 = "SELECT count(*) FROM audit_log WHERE action_type = 999 AND guild_id = ?";
    /* A failing write with a trace: the write's row is gone, the trace's row stays. */
    struct fail_op op = {trace_fn, 1};
    on_fail_count = frees = 0;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), failing_write, &op, &err), HS_EINVAL);
    assert_string_equal(err.msg, "refused");
    assert_int_equal(on_fail_count, 1);
    assert_int_equal(frees, 1);
    assert_int_equal(tk_count_u64(fx->core, q998, 1), 0);
    assert_int_equal(tk_count_u64(fx->core, q999, 1), 1);
    assert_int_equal(tk_count_u64(fx->core,
                                  "SELECT count(*) FROM events WHERE type = 'TRACE' AND "
                                  "guild_id = ?",
                                  1),
                     1);
    assert_int_equal(tk_count_u64(fx->core,
                                  "SELECT count(*) FROM events WHERE type = 'WRITE' AND "
                                  "guild_id = ?",
                                  1),
                     0);
    /* A write that succeeds after all: the trace does not run, its argument is freed. */
    op.fail = 0;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), failing_write, &op, &err), 0);
    assert_int_equal(on_fail_count, 1);
    assert_int_equal(frees, 2);
    assert_int_equal(tk_count_u64(fx->core, q998, 1), 1);
    /* A trace that fails itself leaves nothing either. */
    op.fail = 1;
    op.trace = failing_trace_fn;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), failing_write, &op, &err), HS_EINVAL);
    assert_int_equal(tk_count_u64(fx->core, q998, 1), 1);
    assert_int_equal(tk_count_u64(fx->core, q999, 1), 1);
    /* Per-module state: one per key, the same across writes. */
    void *first[2], *second[2];
    made = 0;
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), state_write, first, &err), 0);
    assert_int_equal(hs_writer_run(hs_core_writer(fx->core), state_write, second, &err), 0);
    assert_int_equal(made, 2);
    assert_ptr_equal(first[0], second[0]);
    assert_ptr_equal(first[1], second[1]);
    assert_ptr_not_equal(first[0], first[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discord_wildcards),
        cmocka_unit_test(test_keyword_normalise),
        cmocka_unit_test(test_allow_lists_and_groups),
        cmocka_unit_test(test_matcher_against_reference),
        cmocka_unit_test(test_matcher_adversarial),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_spam_settings),
        cmocka_unit_test(test_spam_scan),
        cmocka_unit_test(test_spam_tracker),
        cmocka_unit_test_setup_teardown(test_rules_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_limits_and_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mention_spam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_on_failure_and_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
