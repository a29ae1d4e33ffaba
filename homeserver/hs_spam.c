/*
 * Spam heuristics: settings, content scan and the tracker (hs_spam.h,
 * spec/rest-automod.md "Spam detection").
 *
 * DESIGN: the tracker is two bounded tables with least-recently-used eviction, keyed by
 * (guild, author) and by (guild, text hash). An author's entry is a ring of their last
 * HS_SPAM_RING messages (time, hash of the normalised text, mentions), which answers
 * "how many messages in the last W seconds" and "how many copies of this text" by one
 * pass over 32 slots. A text's entry lists the new members who posted it recently: a
 * raid of fresh accounts posting one text shows up as several authors on one entry.
 * Nothing here touches the database; the tables live in memory on the writer thread and
 * are lost on restart, which costs at most one window's worth of memory of the past.
 */
#include "hs_spam.h"
#include "hs_util.h"

#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ settings */

static const char *const action_names[] = {"allow", "flag", "block", "timeout"};

const char *hs_spam_action_name(int action)
{
    return action >= 0 && action < (int)HS_ARRAY_LEN(action_names) ? action_names[action] : "allow";
}

static int action_of(const char *name)
{
    for (size_t i = 0; i < HS_ARRAY_LEN(action_names); i++)
        if (name && strcmp(name, action_names[i]) == 0)
            return (int)i;
    return -1;
}

void hs_spam_settings_default(struct hs_spam_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->enabled = 1;
    s->timeout_seconds = 600;
    /* A chatty member who repeats themself is flagged, not refused; a new member's link
     * and a raid's copies are refused (spec/rest-automod.md §6). */
    s->duplicate_action = HS_SPAM_FLAG;
    s->duplicate_limit = 3;
    s->duplicate_window_seconds = 30;
    s->velocity_action = HS_SPAM_FLAG;
    s->velocity_limit = 10;
    s->velocity_window_seconds = 10;
    s->link_action = HS_SPAM_BLOCK;
    s->link_limit = 5;
    s->new_member_seconds = 600;
    s->new_account_seconds = 0;
    s->invite_action = HS_SPAM_ALLOW;
    s->raid_action = HS_SPAM_BLOCK;
    s->raid_authors = 3;
    s->raid_window_seconds = 60;
}

static json_t *ids_json(const uint64_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ids[i]);
        json_array_append_new(a, json_string(buf));
    }
    return a;
}

json_t *hs_spam_settings_json(const struct hs_spam_settings *s)
{
    char alert[24];
    snprintf(alert, sizeof(alert), "%llu", (unsigned long long)s->alert_channel_id);
    json_t *o = json_pack(
        "{s:b, s:o, s:o, s:o, s:i, s:s, s:i, s:i, s:s, s:i, s:i, s:s, s:i, s:i, s:i, s:s, s:s, "
        "s:i, s:i}",
        "enabled", s->enabled, "alert_channel_id",
        s->alert_channel_id ? json_string(alert) : json_null(), "exempt_roles",
        ids_json(s->exempt_roles, s->nexempt_roles), "exempt_channels",
        ids_json(s->exempt_channels, s->nexempt_channels), "timeout_seconds", s->timeout_seconds,
        "duplicate_action", hs_spam_action_name(s->duplicate_action), "duplicate_limit",
        s->duplicate_limit, "duplicate_window_seconds", s->duplicate_window_seconds,
        "velocity_action", hs_spam_action_name(s->velocity_action), "velocity_limit",
        s->velocity_limit, "velocity_window_seconds", s->velocity_window_seconds, "link_action",
        hs_spam_action_name(s->link_action), "link_limit", s->link_limit, "new_member_seconds",
        s->new_member_seconds, "new_account_seconds", s->new_account_seconds, "invite_action",
        hs_spam_action_name(s->invite_action), "raid_action", hs_spam_action_name(s->raid_action),
        "raid_authors", s->raid_authors, "raid_window_seconds", s->raid_window_seconds);
    HS_ASSERT(o);
    return o;
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

/* The integer fields: name, where, range. */
struct int_field {
    const char *name;
    size_t offset;
    int min, max;
};

#define SOFF(f) offsetof(struct hs_spam_settings, f)

static const struct int_field int_fields[] = {
    {"timeout_seconds", SOFF(timeout_seconds), 1, 2419200},
    {"duplicate_limit", SOFF(duplicate_limit), 1, 10},
    {"duplicate_window_seconds", SOFF(duplicate_window_seconds), 1, HS_SPAM_WINDOW_MAX},
    {"velocity_limit", SOFF(velocity_limit), 1, HS_SPAM_RING - 2},
    {"velocity_window_seconds", SOFF(velocity_window_seconds), 1, HS_SPAM_WINDOW_MAX},
    {"link_limit", SOFF(link_limit), 1, 50},
    {"new_member_seconds", SOFF(new_member_seconds), 0, 604800},
    {"new_account_seconds", SOFF(new_account_seconds), 0, 2592000},
    {"raid_authors", SOFF(raid_authors), 2, HS_SPAM_RAID_AUTHORS_MAX},
    {"raid_window_seconds", SOFF(raid_window_seconds), 1, HS_SPAM_WINDOW_MAX},
};

static const struct {
    const char *name;
    size_t offset;
} action_fields[] = {
    {"duplicate_action", SOFF(duplicate_action)}, {"velocity_action", SOFF(velocity_action)},
    {"link_action", SOFF(link_action)},           {"invite_action", SOFF(invite_action)},
    {"raid_action", SOFF(raid_action)},
};

static int patch_ids(json_t *v, const char *field, uint64_t *ids, size_t *n, size_t max,
                     hs_error *err)
{
    if (!json_is_array(v))
        return hs_error_form(err, field, "BASE_TYPE_ARRAY", "Could not interpret value as array.");
    if (json_array_size(v) > max)
        return hs_error_form(err, field, "BASE_TYPE_MAX_LENGTH", "Must be %zu or fewer in length.",
                             max);
    size_t i, k = 0;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        uint64_t id;
        char at[64];
        snprintf(at, sizeof(at), "%s.%zu", field, i);
        if (id_of(item, &id) < 0)
            return hs_error_form(err, at, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
        int seen = 0;
        for (size_t j = 0; j < k; j++)
            seen |= ids[j] == id;
        if (!seen)
            ids[k++] = id;
    }
    *n = k;
    return 0;
}

int hs_spam_settings_patch(struct hs_spam_settings *s, json_t *body, hs_error *err)
{
    char *base = (char *)s;
    json_t *v;
    if ((v = json_object_get(body, "enabled")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return hs_error_form(err, "enabled", "BASE_TYPE_BOOLEAN",
                                 "Must be either true or false.");
        s->enabled = json_is_true(v);
    }
    if ((v = json_object_get(body, "alert_channel_id"))) {
        uint64_t id = 0;
        if (!json_is_null(v) && id_of(v, &id) < 0)
            return hs_error_form(err, "alert_channel_id", "NUMBER_TYPE_COERCE",
                                 "Value is not snowflake.");
        s->alert_channel_id = id;
    }
    if ((v = json_object_get(body, "exempt_roles")) && !json_is_null(v) &&
        patch_ids(v, "exempt_roles", s->exempt_roles, &s->nexempt_roles, HS_SPAM_MAX_EXEMPT_ROLES,
                  err) < 0)
        return HS_EINVAL;
    if ((v = json_object_get(body, "exempt_channels")) && !json_is_null(v) &&
        patch_ids(v, "exempt_channels", s->exempt_channels, &s->nexempt_channels,
                  HS_SPAM_MAX_EXEMPT_CHANNELS, err) < 0)
        return HS_EINVAL;
    for (size_t i = 0; i < HS_ARRAY_LEN(int_fields); i++) {
        const struct int_field *f = &int_fields[i];
        if (!(v = json_object_get(body, f->name)) || json_is_null(v))
            continue;
        if (!json_is_integer(v))
            return hs_error_form(err, f->name, "NUMBER_TYPE_COERCE", "Value is not int.");
        json_int_t n = json_integer_value(v);
        if (n < f->min)
            return hs_error_form(err, f->name, "NUMBER_TYPE_MIN",
                                 "int value should be greater than or equal to %d.", f->min);
        if (n > f->max)
            return hs_error_form(err, f->name, "NUMBER_TYPE_MAX",
                                 "int value should be less than or equal to %d.", f->max);
        *(int *)(base + f->offset) = (int)n;
    }
    for (size_t i = 0; i < HS_ARRAY_LEN(action_fields); i++) {
        if (!(v = json_object_get(body, action_fields[i].name)) || json_is_null(v))
            continue;
        int a = json_is_string(v) ? action_of(json_string_value(v)) : -1;
        if (a < 0)
            return hs_error_form(err, action_fields[i].name, "BASE_TYPE_CHOICES",
                                 "Value must be one of ('allow', 'flag', 'block', 'timeout').");
        *(int *)(base + action_fields[i].offset) = a;
    }
    return 0;
}

void hs_spam_settings_load(struct hs_spam_settings *s, const char *stored)
{
    hs_spam_settings_default(s);
    json_t *o = stored ? json_loads(stored, 0, NULL) : NULL;
    if (json_is_object(o)) {
        struct hs_spam_settings copy = *s;
        if (hs_spam_settings_patch(&copy, o, NULL) == 0)
            *s = copy;
    }
    json_decref(o);
}

int hs_spam_verdict(const struct hs_spam_settings *s, unsigned signals)
{
    int v = HS_SPAM_ALLOW;
    const struct {
        unsigned bit;
        int action;
    } map[] = {
        {HS_SPAM_SIG_DUPLICATE, s->duplicate_action}, {HS_SPAM_SIG_VELOCITY, s->velocity_action},
        {HS_SPAM_SIG_LINK, s->link_action},           {HS_SPAM_SIG_INVITE, s->invite_action},
        {HS_SPAM_SIG_RAID, s->raid_action},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(map); i++)
        if ((signals & map[i].bit) && map[i].action > v)
            v = map[i].action;
    return v;
}

/* ------------------------------------------------------------------ content */

static int starts_with_ci(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp(s, prefix, k) == 0;
}

/* Characters that end a URL in running text. */
static int url_stop(unsigned char c)
{
    return c <= ' ' || c == '<' || c == '>' || c == '"' || c == '\'' || c == '`' || c == ')' ||
           c == ']' || c == '|';
}

/* Whether s[0..n) starts with a host name with a dot inside it ("a.io", not "x" or "a."):
 * what makes the text after a scheme a link. */
static int has_host(const char *s, size_t n)
{
    size_t h = 0;
    while (h < n && s[h] != '/' && s[h] != ':' && s[h] != '?' && s[h] != '#')
        h++;
    for (size_t i = 1; i + 1 < h; i++)
        if (s[i] == '.' && s[i - 1] != '.' && s[i + 1] != '.')
            return 1;
    return 0;
}

/* Whether the URL s[0..n) (after its scheme) links to an invite: discord.gg/CODE, or a
 * path /invite/CODE on any host (Discord's and Hearth's web clients both use it). */
static int is_invite(const char *s, size_t n)
{
    if (starts_with_ci(s, n, "discord.gg/") || starts_with_ci(s, n, "www.discord.gg/"))
        return 1;
    const char *slash = memchr(s, '/', n);
    if (!slash)
        return 0;
    size_t rest = n - (size_t)(slash - s);
    return starts_with_ci(slash, rest, "/invite/") && rest > 8;
}

/* Reads "<@123>", "<@!123>" or "<@&123>" at s; returns its length (0: not a mention) and
 * sets *id (roles get the top bit flipped so user and role ids never collide). */
static size_t mention_at(const char *s, size_t n, uint64_t *id)
{
    if (n < 4 || s[0] != '<' || s[1] != '@')
        return 0;
    size_t i = 2;
    int role = 0;
    if (s[i] == '!' || s[i] == '&') {
        role = s[i] == '&';
        i++;
    }
    uint64_t v = 0;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 20) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
        digits++;
    }
    if (!digits || i >= n || s[i] != '>')
        return 0;
    *id = role ? v ^ ((uint64_t)1 << 63) : v;
    return i + 1;
}

void hs_spam_scan(const char *content, size_t len, const struct hs_am_text *x,
                  struct hs_spam_content *out)
{
    memset(out, 0, sizeof(*out));
    /* FNV-1a over the normalised text, and its length in code points. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < x->len; i++) {
        unsigned char c = (unsigned char)x->t[i];
        h = (h ^ c) * 0x100000001b3ULL;
        out->chars += (c & 0xC0) != 0x80;
    }
    out->hash = h;
    uint64_t seen[HS_SPAM_MENTIONS_MAX];
    size_t nseen = 0;
    for (size_t i = 0; i < len;) {
        const char *p = content + i;
        size_t n = len - i;
        size_t skip = 0;
        uint64_t id;
        if (*p == '<' && (skip = mention_at(p, n, &id)) > 0) {
            int dup = 0;
            for (size_t j = 0; j < nseen; j++)
                dup |= seen[j] == id;
            if (!dup && nseen < HS_SPAM_MENTIONS_MAX)
                seen[nseen++] = id;
            i += skip;
            continue;
        }
        /* After "http://", "https://", or a "www." that starts a word. */
        if ((*p | 0x20) != 'h' && (*p | 0x20) != 'w') {
            i++;
            continue;
        }
        size_t scheme =
            starts_with_ci(p, n, "https://")  ? 8
            : starts_with_ci(p, n, "http://") ? 7
            : (starts_with_ci(p, n, "www.") && (i == 0 || url_stop((unsigned char)content[i - 1])))
                ? 0
                : SIZE_MAX;
        if (scheme != SIZE_MAX) {
            size_t end = scheme;
            while (end < n && !url_stop((unsigned char)p[end]))
                end++;
            size_t host = scheme ? scheme : 4;
            if (has_host(p + host, end - host)) {
                out->links++;
                out->invites += is_invite(p + scheme, end - scheme);
                i += end;
                continue;
            }
        }
        i++;
    }
    out->mentions = (int)nseen;
}

/* ------------------------------------------------------------------ the tracker */

#define NIL UINT32_MAX

/* A text new members posted: who, and when each did last. */
struct print {
    uint64_t author[HS_SPAM_RAID_AUTHORS_MAX];
    uint64_t at[HS_SPAM_RAID_AUTHORS_MAX];
    unsigned n;
};

struct node {
    uint64_t k1, k2;
    uint32_t hnext, prev, next; /* bucket chain; LRU list (head: most recent) */
    union {
        struct hs_spam_author author;
        struct print print;
    } u;
};

/* A bounded map with least-recently-used eviction. */
struct table {
    struct node *nodes;
    size_t cap, count;
    uint32_t *buckets;
    size_t nbuckets; /* a power of two */
    uint32_t head, tail;
};

struct hs_spam_tracker {
    struct table authors, prints;
};

static void table_init(struct table *t, size_t cap)
{
    t->cap = cap ? cap : 1;
    t->nodes = hs_xcalloc(t->cap, sizeof(*t->nodes));
    t->nbuckets = 16;
    while (t->nbuckets < t->cap * 2)
        t->nbuckets *= 2;
    t->buckets = hs_xmalloc(t->nbuckets * sizeof(*t->buckets));
    for (size_t i = 0; i < t->nbuckets; i++)
        t->buckets[i] = NIL;
    t->count = 0;
    t->head = t->tail = NIL;
}

static size_t bucket_of(const struct table *t, uint64_t k1, uint64_t k2)
{
    uint64_t h = k1 * 0x9E3779B97F4A7C15ULL ^ k2;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return (size_t)h & (t->nbuckets - 1);
}

static void lru_unlink(struct table *t, uint32_t i)
{
    struct node *n = &t->nodes[i];
    if (n->prev != NIL)
        t->nodes[n->prev].next = n->next;
    else
        t->head = n->next;
    if (n->next != NIL)
        t->nodes[n->next].prev = n->prev;
    else
        t->tail = n->prev;
}

static void lru_push(struct table *t, uint32_t i)
{
    struct node *n = &t->nodes[i];
    n->prev = NIL;
    n->next = t->head;
    if (t->head != NIL)
        t->nodes[t->head].prev = i;
    t->head = i;
    if (t->tail == NIL)
        t->tail = i;
}

/* The node for (k1, k2), most recently used from now on; created (zeroed payload) when
 * absent, evicting the least recently used node when the table is full. */
static struct node *table_get(struct table *t, uint64_t k1, uint64_t k2)
{
    size_t b = bucket_of(t, k1, k2);
    for (uint32_t i = t->buckets[b]; i != NIL; i = t->nodes[i].hnext) {
        if (t->nodes[i].k1 == k1 && t->nodes[i].k2 == k2) {
            lru_unlink(t, i);
            lru_push(t, i);
            return &t->nodes[i];
        }
    }
    uint32_t i;
    if (t->count < t->cap) {
        i = (uint32_t)t->count++;
    } else {
        i = t->tail;
        lru_unlink(t, i);
        uint32_t *link = &t->buckets[bucket_of(t, t->nodes[i].k1, t->nodes[i].k2)];
        while (*link != i)
            link = &t->nodes[*link].hnext;
        *link = t->nodes[i].hnext;
    }
    struct node *n = &t->nodes[i];
    memset(n, 0, sizeof(*n));
    n->k1 = k1;
    n->k2 = k2;
    n->hnext = t->buckets[b];
    t->buckets[b] = i;
    lru_push(t, i);
    return n;
}

hs_spam_tracker *hs_spam_tracker_new(size_t max_authors, size_t max_prints)
{
    hs_spam_tracker *t = hs_xcalloc(1, sizeof(*t));
    table_init(&t->authors, max_authors);
    table_init(&t->prints, max_prints);
    return t;
}

void hs_spam_tracker_free(hs_spam_tracker *t)
{
    if (!t)
        return;
    free(t->authors.nodes);
    free(t->authors.buckets);
    free(t->prints.nodes);
    free(t->prints.buckets);
    free(t);
}

struct hs_spam_author *hs_spam_author_get(hs_spam_tracker *t, uint64_t guild_id, uint64_t user_id,
                                          uint64_t now_ms)
{
    (void)now_ms;
    struct node *n = table_get(&t->authors, guild_id, user_id);
    n->u.author.guild_id = guild_id;
    n->u.author.user_id = user_id;
    return &n->u.author;
}

size_t hs_spam_tracker_authors(const hs_spam_tracker *t)
{
    return t->authors.count;
}

size_t hs_spam_tracker_prints(const hs_spam_tracker *t)
{
    return t->prints.count;
}

/* Ring slot j (0: newest) of a. */
static unsigned slot(const struct hs_spam_author *a, unsigned j)
{
    return (a->head + HS_SPAM_RING - 1 - j) % HS_SPAM_RING;
}

int hs_spam_recent_mentions(const struct hs_spam_author *a, uint64_t now_ms, uint64_t window_ms)
{
    int total = 0;
    for (unsigned j = 0; j < a->count; j++) {
        unsigned k = slot(a, j);
        if (a->at[k] + window_ms <= now_ms)
            break;
        total += a->mentions[k];
    }
    return total;
}

/* Whether a new member's text is worth fingerprinting: short greetings ("hi", "thanks")
 * are what newcomers say alike, so only texts with a link or a mention, or long enough
 * to be a copy-paste, count toward a raid. */
static int raid_candidate(const struct hs_spam_content *c)
{
    return c->links > 0 || c->mentions > 0 || c->chars >= 20;
}

unsigned hs_spam_observe(hs_spam_tracker *t, struct hs_spam_author *a,
                         const struct hs_spam_settings *s, const struct hs_spam_message *m)
{
    const struct hs_spam_content *c = m->content;
    uint64_t now = m->now_ms;
    uint64_t dup_window = (uint64_t)s->duplicate_window_seconds * 1000;
    uint64_t vel_window = (uint64_t)s->velocity_window_seconds * 1000;
    unsigned sig = 0;
    int copies = 0, recent = 0;
    /* The ring is newest first: stop at the first entry older than both windows. */
    for (unsigned j = 0; j < a->count; j++) {
        unsigned k = slot(a, j);
        int in_dup = a->at[k] + dup_window > now, in_vel = a->at[k] + vel_window > now;
        if (!in_dup && !in_vel)
            break;
        copies += in_dup && a->hash[k] == c->hash;
        recent += in_vel;
    }
    if (copies >= s->duplicate_limit)
        sig |= HS_SPAM_SIG_DUPLICATE;
    if (recent + 1 > s->velocity_limit)
        sig |= HS_SPAM_SIG_VELOCITY;
    if ((c->links > 0 && m->is_new) || c->links > s->link_limit)
        sig |= HS_SPAM_SIG_LINK;
    if (c->invites > 0 && !m->is_new)
        sig |= HS_SPAM_SIG_INVITE;
    if (m->is_new && raid_candidate(c)) {
        struct print *p = &table_get(&t->prints, a->guild_id, c->hash)->u.print;
        uint64_t window = (uint64_t)s->raid_window_seconds * 1000;
        unsigned keep = 0, mine = NIL;
        /* Forget authors outside the window; find this one. */
        for (unsigned i = 0; i < p->n; i++) {
            if (p->at[i] + window <= now)
                continue;
            p->author[keep] = p->author[i];
            p->at[keep] = p->at[i];
            if (p->author[keep] == a->user_id)
                mine = keep;
            keep++;
        }
        p->n = keep;
        if (mine == NIL) {
            if (p->n < HS_SPAM_RAID_AUTHORS_MAX) {
                mine = p->n++;
            } else {
                mine = 0; /* replace the oldest */
                for (unsigned i = 1; i < p->n; i++)
                    if (p->at[i] < p->at[mine])
                        mine = i;
            }
            p->author[mine] = a->user_id;
        }
        p->at[mine] = now;
        if ((int)p->n >= s->raid_authors)
            sig |= HS_SPAM_SIG_RAID;
    }
    a->at[a->head] = now;
    a->hash[a->head] = c->hash;
    a->mentions[a->head] = (uint8_t)(c->mentions > 255 ? 255 : c->mentions);
    a->head = (a->head + 1) % HS_SPAM_RING;
    if (a->count < HS_SPAM_RING)
        a->count++;
    return sig;
}
