/*
 * AutoMod's keyword matcher (hs_automod_match.h, spec/rest-automod.md "Matching").
 *
 * DESIGN: one Aho-Corasick automaton per guild holds every keyword and allow-list entry of
 * every rule. Building it: a trie is grown through a hash table keyed (node, byte), then
 * laid out as compressed rows (each node's outgoing bytes sorted, found by binary search;
 * the root has a direct 256-entry table, since nearly every byte leaves it), failure links
 * are computed breadth first, and each node gets a "dictionary link" to the nearest node
 * on its failure chain that ends a keyword, so a scan visits only nodes that report
 * something. A node's entries say which keyword of which group ends there and with which
 * wildcards; the word-boundary rules are checked per match against two arrays the text
 * carries (where each run of word characters starts and ends), so a check is O(1) and the
 * whole scan is linear in the text plus the matches.
 *
 * Allow lists: a keyword match only counts when no allow-list match of the same rule
 * contains it. A containing allow match may end after the keyword match does, so allow
 * matches are collected in a first pass (only when the automaton holds allow entries and
 * the group matched one), as a per-position "furthest end of an allow match starting at or
 * before here"; the keyword pass then tests containment in O(1).
 */
#include "hs_automod_match.h"
#include "hs_util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ characters */

/* Decodes one code point of s[0..n); invalid sequences decode as U+FFFD of one byte. */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    uint32_t cp;
    size_t need;
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if ((c & 0xE0) == 0xC0) {
        cp = c & 0x1F;
        need = 2;
    } else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0F;
        need = 3;
    } else if ((c & 0xF8) == 0xF0) {
        cp = c & 0x07;
        need = 4;
    } else {
        *len = 1;
        return 0xFFFD;
    }
    if (need > n) {
        *len = 1;
        return 0xFFFD;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        *len = 1;
        return 0xFFFD;
    }
    *len = need;
    return cp;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Lower case for the scripts most keyword lists use; fullwidth ASCII becomes ASCII (a
 * common way to dodge filters). Anything else is left alone. */
static uint32_t fold(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xFF01 && c <= 0xFF5E)
        return fold(c - 0xFF01 + 0x21);
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c == 0x130)
        return 'i';
    if (c == 0x178)
        return 0xFF;
    if (c == 0x17F)
        return 's';
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return c % 2 == 0 ? c + 1 : c;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return c % 2 == 1 ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        return c + 32;
    if (c == 0x3C2)
        return 0x3C3; /* final sigma */
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    return c;
}

static int is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Characters that show nothing and would split a word to dodge a filter: dropped. */
static int is_invisible(uint32_t c)
{
    return c == 0xAD || c == 0x180E || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || c == 0xFEFF;
}

/* Word characters: letters and digits of the common scripts, '_' and combining marks
 * (an approximation of Unicode's \w that needs no tables). */
static int is_word(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    if (c == 0xAA || c == 0xB5 || c == 0xBA)
        return 1;
    if (c >= 0xC0 && c <= 0x2AF)
        return c != 0xD7 && c != 0xF7;
    return (c >= 0x300 && c <= 0x36F) ||                               /* combining marks */
           (c >= 0x370 && c <= 0x3FF && c != 0x37E && c != 0x387) ||   /* Greek */
           (c >= 0x400 && c <= 0x52F) ||                               /* Cyrillic */
           (c >= 0x531 && c <= 0x587) ||                               /* Armenian */
           (c >= 0x5D0 && c <= 0x5EA) ||                               /* Hebrew */
           (c >= 0x620 && c <= 0x669) || (c >= 0x671 && c <= 0x6D3) || /* Arabic */
           (c >= 0x900 && c <= 0x963) || (c >= 0x966 && c <= 0x97F) || /* Devanagari */
           (c >= 0xE01 && c <= 0xE3A) || (c >= 0xE40 && c <= 0xE4E) || /* Thai */
           (c >= 0x1100 && c <= 0x11FF) ||                             /* Hangul jamo */
           (c >= 0x1E00 && c <= 0x1FFF) || /* Latin and Greek extended */
           (c >= 0x3040 && c <= 0x30FF) || /* kana */
           (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || /* CJK */
           (c >= 0xAC00 && c <= 0xD7A3);                                   /* Hangul */
}

/* ------------------------------------------------------------------ text */

static int ascii_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

void hs_am_text_init(struct hs_am_text *x, const char *content, size_t n)
{
    const unsigned char *s = (const unsigned char *)(content ? content : "");
    if (!content)
        n = 0;
    /* An input byte becomes at most 3 output bytes (an invalid byte becomes U+FFFD). While
     * normalising, right[] holds whether each output byte belongs to a word character. */
    size_t cap = 3 * n + 1;
    /* One allocation: map, left, right, then the text (released through map). */
    x->map = hs_xmalloc(cap * 3 * sizeof(uint32_t) + cap);
    x->left = x->map + cap;
    x->right = x->left + cap;
    x->t = (char *)(x->right + cap);
    uint32_t *word = x->right;
    size_t o = 0;
    int last_space = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        if (b < 0x80) { /* the common case, without decoding */
            if (b == ' ' || (b >= 0x09 && b <= 0x0D)) {
                if (!last_space) {
                    x->map[o] = (uint32_t)i;
                    word[o] = 0;
                    x->t[o++] = ' ';
                }
                last_space = 1;
            } else {
                x->map[o] = (uint32_t)i;
                word[o] = (uint32_t)ascii_word(b);
                x->t[o++] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
                last_space = 0;
            }
            i++;
            continue;
        }
        size_t l;
        uint32_t c = utf8_decode(s + i, n - i, &l);
        if (is_space(c)) {
            if (!last_space) {
                x->map[o] = (uint32_t)i;
                word[o] = 0;
                x->t[o++] = ' ';
            }
            last_space = 1;
        } else if (!is_invisible(c)) {
            uint32_t f = fold(c);
            size_t k = utf8_encode(f, x->t + o);
            uint32_t w = (uint32_t)is_word(f);
            for (size_t j = 0; j < k; j++) {
                x->map[o + j] = (uint32_t)i;
                word[o + j] = w;
            }
            o += k;
            last_space = 0;
        }
        i += l;
    }
    x->t[o] = '\0';
    x->map[o] = (uint32_t)n;
    x->len = o;

    /* Word runs, forwards (left) and backwards (right, overwriting the flags it reads). */
    const unsigned char *t = (const unsigned char *)x->t;
    uint32_t run = 0;
    int prev_word = 0;
    for (size_t i = 0; i < o;) {
        size_t l = 1;
        while (i + l < o && (t[i + l] & 0xC0) == 0x80)
            l++;
        uint32_t left = prev_word ? run : (uint32_t)i;
        if (word[i]) {
            if (!prev_word)
                run = (uint32_t)i;
            prev_word = 1;
        } else {
            prev_word = 0;
        }
        for (size_t j = 0; j < l; j++)
            x->left[i + j] = left;
        i += l;
    }
    x->left[o] = prev_word ? run : (uint32_t)o;
    uint32_t run_end = (uint32_t)o;
    int next_word = 0;
    for (size_t i = o; i > 0;) {
        size_t j = i - 1;
        while (j > 0 && (t[j] & 0xC0) == 0x80)
            j--;
        uint32_t right;
        if (word[j]) {
            if (!next_word)
                run_end = (uint32_t)i;
            next_word = 1;
            right = run_end;
        } else {
            next_word = 0;
            right = (uint32_t)j;
        }
        for (size_t k = j; k < i; k++)
            x->right[k] = right;
        i = j;
    }
    x->right[o] = (uint32_t)o;
}

void hs_am_text_release(struct hs_am_text *x)
{
    free(x->map); /* the one block hs_am_text_init allocated */
    memset(x, 0, sizeof(*x));
}

char *hs_am_keyword_normalise(const char *keyword, int *lead_wild, int *trail_wild)
{
    size_t n = keyword ? strlen(keyword) : 0;
    size_t a = 0, b = n;
    *lead_wild = *trail_wild = 0;
    while (a < b && keyword[a] == '*') {
        a++;
        *lead_wild = 1;
    }
    while (b > a && keyword[b - 1] == '*') {
        b--;
        *trail_wild = 1;
    }
    struct hs_am_text x;
    hs_am_text_init(&x, keyword ? keyword + a : "", b - a);
    size_t s = 0, e = x.len;
    while (s < e && x.t[s] == ' ')
        s++;
    while (e > s && x.t[e - 1] == ' ')
        e--;
    char *out = e > s ? hs_xstrndup(x.t + s, e - s) : NULL;
    hs_am_text_release(&x);
    return out;
}

/* ------------------------------------------------------------------ the automaton */

enum {
    E_LEAD_WILD = 1,  /* may start inside a word */
    E_TRAIL_WILD = 2, /* may end inside a word */
    E_FIRST_WORD = 4, /* its first character is a word character */
    E_LAST_WORD = 8,  /* its last character is a word character */
    E_ALLOW = 16,     /* an allow-list entry */
};

struct am_entry {
    uint32_t node, tag;
    uint16_t group;
    uint8_t flags;
};

/* A node of the built automaton: everything a scan reads about a state in one 24-byte
 * record (one cache line at most), since a big automaton is mostly cache misses. */
struct am_node {
    uint32_t edge_start; /* its outgoing edges: edges[edge_start .. +edge_count), by byte */
    uint32_t fail;       /* the longest proper suffix that is a node */
    uint32_t dict;       /* the nearest node on the failure chain that ends entries, 0: none */
    uint32_t entry_start, entry_count;
    uint16_t edge_count;
    uint16_t depth; /* bytes from the root */
};

struct am_edge {
    uint32_t to;
    uint8_t byte;
};

struct hs_am_matcher {
    struct am_node *nodes; /* built */
    uint32_t nnodes, capnodes;
    uint16_t *depth; /* while building */
    struct am_edge *edges;
    uint32_t root_next[256]; /* 0: no edge (no node but the root is 0) */
    struct am_entry *entries;
    size_t nentries, capentries;
    /* While building: (node << 8 | byte) + 1 -> child, open addressing. */
    uint64_t *hkeys;
    uint32_t *hvals;
    size_t hcap, hcount;
    int built, has_allow;
};

hs_am_matcher *hs_am_matcher_new(void)
{
    hs_am_matcher *m = hs_xcalloc(1, sizeof(*m));
    m->capnodes = 64;
    m->depth = hs_xcalloc(m->capnodes, sizeof(*m->depth));
    m->nnodes = 1; /* the root */
    m->hcap = 128;
    m->hkeys = hs_xcalloc(m->hcap, sizeof(*m->hkeys));
    m->hvals = hs_xcalloc(m->hcap, sizeof(*m->hvals));
    return m;
}

void hs_am_matcher_free(hs_am_matcher *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->depth);
    free(m->edges);
    free(m->entries);
    free(m->hkeys);
    free(m->hvals);
    free(m);
}

static size_t hslot(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static void hgrow(hs_am_matcher *m)
{
    size_t ocap = m->hcap;
    uint64_t *okeys = m->hkeys;
    uint32_t *ovals = m->hvals;
    m->hcap *= 2;
    m->hkeys = hs_xcalloc(m->hcap, sizeof(*m->hkeys));
    m->hvals = hs_xcalloc(m->hcap, sizeof(*m->hvals));
    for (size_t i = 0; i < ocap; i++) {
        if (!okeys[i])
            continue;
        size_t j = hslot(okeys[i], m->hcap);
        while (m->hkeys[j])
            j = (j + 1) & (m->hcap - 1);
        m->hkeys[j] = okeys[i];
        m->hvals[j] = ovals[i];
    }
    free(okeys);
    free(ovals);
}

/* The child of node by byte, created when absent. */
static uint32_t trie_child(hs_am_matcher *m, uint32_t node, unsigned char b)
{
    uint64_t key = ((uint64_t)node << 8 | b) + 1;
    size_t j = hslot(key, m->hcap);
    while (m->hkeys[j]) {
        if (m->hkeys[j] == key)
            return m->hvals[j];
        j = (j + 1) & (m->hcap - 1);
    }
    if (m->nnodes == m->capnodes) {
        m->capnodes *= 2;
        m->depth = hs_xrealloc(m->depth, m->capnodes * sizeof(*m->depth));
    }
    uint32_t id = m->nnodes++;
    m->depth[id] = (uint16_t)(m->depth[node] + 1);
    m->hkeys[j] = key;
    m->hvals[j] = id;
    if (++m->hcount * 2 > m->hcap)
        hgrow(m);
    return id;
}

int hs_am_matcher_add(hs_am_matcher *m, const char *keyword, unsigned group, uint32_t tag,
                      int allow)
{
    HS_ASSERT(!m->built && group <= 0xFFFF);
    int lead, trail;
    char *k = hs_am_keyword_normalise(keyword, &lead, &trail);
    if (!k)
        return -1;
    size_t n = strlen(k);
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++)
        node = trie_child(m, node, (unsigned char)k[i]);
    /* First and last characters: decode forwards, and backwards from the last lead byte. */
    size_t l, last = n - 1;
    while (last > 0 && ((unsigned char)k[last] & 0xC0) == 0x80)
        last--;
    int first_word = is_word(utf8_decode((const unsigned char *)k, n, &l));
    int last_word = is_word(utf8_decode((const unsigned char *)k + last, n - last, &l));
    free(k);
    if (m->nentries == m->capentries) {
        m->capentries = m->capentries ? m->capentries * 2 : 64;
        m->entries = hs_xrealloc(m->entries, m->capentries * sizeof(*m->entries));
    }
    struct am_entry *e = &m->entries[m->nentries++];
    e->node = node;
    e->tag = tag;
    e->group = (uint16_t)group;
    e->flags = (uint8_t)((lead ? E_LEAD_WILD : 0) | (trail ? E_TRAIL_WILD : 0) |
                         (first_word ? E_FIRST_WORD : 0) | (last_word ? E_LAST_WORD : 0) |
                         (allow ? E_ALLOW : 0));
    m->has_allow |= allow != 0;
    return 0;
}

/* The child of node by byte in the built automaton; 0 when there is none. */
static uint32_t child(const hs_am_matcher *m, uint32_t node, unsigned char b)
{
    if (node == 0)
        return m->root_next[b];
    const struct am_node *v = &m->nodes[node];
    const struct am_edge *e = m->edges + v->edge_start;
    uint32_t lo = 0, hi = v->edge_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e[mid].byte < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->edge_count && e[lo].byte == b ? e[lo].to : 0;
}

void hs_am_matcher_build(hs_am_matcher *m)
{
    HS_ASSERT(!m->built);
    uint32_t n = m->nnodes;
    m->nodes = hs_xcalloc(n, sizeof(*m->nodes));
    for (uint32_t v = 0; v < n; v++)
        m->nodes[v].depth = m->depth[v];
    free(m->depth);
    m->depth = NULL;

    /* Edges out of the hash table, sorted by (parent, byte) with two counting sorts: by
     * byte, then stably by parent. */
    size_t ne = m->hcount;
    struct am_edge *by_byte = hs_xmalloc((ne ? ne : 1) * sizeof(*by_byte));
    uint32_t *parent_of = hs_xmalloc((ne ? ne : 1) * sizeof(*parent_of));
    size_t count[257] = {0};
    for (size_t i = 0; i < m->hcap; i++)
        if (m->hkeys[i])
            count[((m->hkeys[i] - 1) & 0xFF) + 1]++;
    for (int b = 0; b < 256; b++)
        count[b + 1] += count[b];
    for (size_t i = 0; i < m->hcap; i++) {
        if (!m->hkeys[i])
            continue;
        uint64_t key = m->hkeys[i] - 1;
        size_t at = count[key & 0xFF]++;
        by_byte[at].byte = (uint8_t)(key & 0xFF);
        by_byte[at].to = m->hvals[i];
        parent_of[at] = (uint32_t)(key >> 8);
        m->nodes[key >> 8].edge_count++;
        if ((key >> 8) == 0)
            m->root_next[key & 0xFF] = m->hvals[i];
    }
    uint32_t sum = 0;
    for (uint32_t v = 0; v < n; v++) {
        m->nodes[v].edge_start = sum;
        sum += m->nodes[v].edge_count;
    }
    m->edges = hs_xmalloc((ne ? ne : 1) * sizeof(*m->edges));
    uint32_t *fill = hs_xcalloc(n, sizeof(*fill));
    for (size_t i = 0; i < ne; i++) {
        uint32_t p = parent_of[i];
        m->edges[m->nodes[p].edge_start + fill[p]++] = by_byte[i];
    }
    free(fill);
    free(by_byte);
    free(parent_of);
    free(m->hkeys);
    free(m->hvals);
    m->hkeys = NULL;
    m->hvals = NULL;

    /* Entries grouped by node. */
    for (size_t i = 0; i < m->nentries; i++)
        m->nodes[m->entries[i].node].entry_count++;
    sum = 0;
    for (uint32_t v = 0; v < n; v++) {
        m->nodes[v].entry_start = sum;
        sum += m->nodes[v].entry_count;
    }
    struct am_entry *sorted = hs_xmalloc((m->nentries ? m->nentries : 1) * sizeof(*sorted));
    uint32_t *pos = hs_xcalloc(n, sizeof(*pos));
    for (size_t i = 0; i < m->nentries; i++) {
        uint32_t v = m->entries[i].node;
        sorted[m->nodes[v].entry_start + pos[v]++] = m->entries[i];
    }
    free(pos);
    free(m->entries);
    m->entries = sorted;

    /* Failure and dictionary links, breadth first. */
    uint32_t *queue = hs_xmalloc(n * sizeof(*queue));
    size_t head = 0, tail = 0;
    const struct am_node *root = &m->nodes[0];
    for (uint32_t i = root->edge_start; i < root->edge_start + root->edge_count; i++)
        queue[tail++] = m->edges[i].to;
    while (head < tail) {
        uint32_t u = queue[head++];
        struct am_node *un = &m->nodes[u];
        for (uint32_t i = un->edge_start; i < un->edge_start + un->edge_count; i++) {
            uint32_t v = m->edges[i].to;
            unsigned char b = m->edges[i].byte;
            uint32_t f = un->fail, w;
            while ((w = child(m, f, b)) == 0 && f != 0)
                f = m->nodes[f].fail;
            struct am_node *vn = &m->nodes[v];
            vn->fail = w != v ? w : 0;
            const struct am_node *fn = &m->nodes[vn->fail];
            vn->dict = fn->entry_count ? vn->fail : fn->dict;
            queue[tail++] = v;
        }
    }
    free(queue);
    m->built = 1;
}

size_t hs_am_matcher_bytes(const hs_am_matcher *m)
{
    /* Every node but the root has exactly one incoming edge. */
    return sizeof(*m) + m->nnodes * sizeof(struct am_node) +
           (m->nnodes - 1) * sizeof(struct am_edge) + m->nentries * sizeof(struct am_entry);
}

size_t hs_am_matcher_count(const hs_am_matcher *m)
{
    return m->nentries;
}

/* Whether an entry ending at e (exclusive) of a pattern of len bytes obeys its word rules;
 * *s and *e become the span the match stands for (whole words at wildcard ends). */
static int entry_span(const struct am_entry *en, const struct hs_am_text *x, uint32_t len,
                      size_t *s, size_t *e)
{
    size_t start = *e - len;
    if (!(en->flags & E_LEAD_WILD) && (en->flags & E_FIRST_WORD) && x->left[start] != start)
        return 0;
    if (!(en->flags & E_TRAIL_WILD) && (en->flags & E_LAST_WORD) && x->right[*e] != *e)
        return 0;
    *s = en->flags & E_LEAD_WILD ? x->left[start] : start;
    if (en->flags & E_TRAIL_WILD)
        *e = x->right[*e];
    return 1;
}

unsigned hs_am_matcher_scan(const hs_am_matcher *m, const struct hs_am_text *x,
                            struct hs_am_hit *hits, unsigned ngroups)
{
    HS_ASSERT(m->built);
    for (unsigned g = 0; g < ngroups; g++)
        hits[g].hit = 0;
    if (!m->nentries || !ngroups)
        return 0;
    const unsigned char *t = (const unsigned char *)x->t;
    /* reach[g][i]: the furthest end of an allow match of group g starting at or before i,
     * -1 for none; NULL for a group with no allow match in this text. */
    int32_t **reach = NULL;
    for (int pass = m->has_allow ? 0 : 1; pass < 2; pass++) {
        uint32_t st = 0;
        for (size_t i = 0; i < x->len; i++) {
            uint32_t nx;
            while ((nx = child(m, st, t[i])) == 0 && st != 0)
                st = m->nodes[st].fail;
            st = nx;
            const struct am_node *sn = &m->nodes[st];
            for (uint32_t v = sn->entry_count ? st : sn->dict; v; v = m->nodes[v].dict) {
                const struct am_node *vn = &m->nodes[v];
                const struct am_entry *en = &m->entries[vn->entry_start];
                for (uint32_t k = 0; k < vn->entry_count; k++, en++) {
                    unsigned g = en->group;
                    if (g >= ngroups || (pass == 0) != ((en->flags & E_ALLOW) != 0) || hits[g].hit)
                        continue;
                    size_t s, e = i + 1;
                    if (!entry_span(en, x, vn->depth, &s, &e))
                        continue;
                    if (pass == 0) {
                        if (!reach)
                            reach = hs_xcalloc(ngroups, sizeof(*reach));
                        if (!reach[g]) {
                            reach[g] = hs_xmalloc((x->len + 1) * sizeof(**reach));
                            for (size_t j = 0; j <= x->len; j++)
                                reach[g][j] = -1;
                        }
                        if (reach[g][s] < (int32_t)e)
                            reach[g][s] = (int32_t)e;
                        continue;
                    }
                    if (reach && reach[g] && reach[g][s] >= (int32_t)e)
                        continue; /* inside an allowed word or phrase */
                    hits[g].hit = 1;
                    hits[g].tag = en->tag;
                    hits[g].start = x->map[s];
                    hits[g].end = x->map[e];
                }
            }
        }
        if (pass == 0 && reach) {
            for (unsigned g = 0; g < ngroups; g++)
                for (size_t j = 1; reach[g] && j <= x->len; j++)
                    if (reach[g][j] < reach[g][j - 1])
                        reach[g][j] = reach[g][j - 1];
        }
    }
    unsigned matched = 0;
    for (unsigned g = 0; g < ngroups; g++)
        matched += hits[g].hit != 0;
    if (reach) {
        for (unsigned g = 0; g < ngroups; g++)
            free(reach[g]);
        free(reach);
    }
    return matched;
}
