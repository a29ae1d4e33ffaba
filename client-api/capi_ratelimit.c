/*
 * DESIGN: the buckets are a hash table split into shards by key hash, each shard with its
 * own mutex, chained hash buckets and an LRU list. libmicrohttpd serves requests on several
 * threads; a request touches two buckets (the global and the route one), each under its own
 * shard's lock for a few dozen instructions, so the locks are rarely contended.
 *
 * Memory is bounded: a shard holds at most max_buckets / SHARDS entries. Each access moves
 * a bucket to the head of its shard's LRU list; before adding, buckets at the tail whose
 * window has ended are freed (they carry no state a fresh bucket would not), and if the
 * shard is still full the least recently used one goes. Evicting a live bucket can only
 * let its owner through sooner, never refuse anyone wrongly, so an attacker spraying keys
 * gains nothing but the eviction of their own buckets.
 *
 * Discord's headers are followed closely because client libraries schedule on them:
 * discord.js treats any X-RateLimit-Global header as "global", so it is sent only on a
 * global 429 (never "false"); Reset is epoch seconds and Reset-After seconds, both with a
 * fraction; the 429 body is {message, retry_after (seconds, fractional), global}.
 */
#include "capi_ratelimit.h"
#include "capi_internal.h"
#include "hs_time.h"
#include "hs_util.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SHARDS 16

struct bucket {
    struct capi_rl_key key;
    uint64_t hash;
    uint64_t window_end; /* unix ms */
    int count;
    struct bucket *chain;         /* next in the hash chain */
    struct bucket *newer, *older; /* the LRU list: head is the most recently used */
};

struct shard {
    pthread_mutex_t lock;
    struct bucket **table;
    size_t mask; /* table size - 1 */
    struct bucket *head, *tail;
    size_t n, cap;
};

struct capi_ratelimit {
    const hs_config *cfg;
    struct shard shards[SHARDS];
};

capi_ratelimit *capi_ratelimit_new(const hs_config *cfg)
{
    capi_ratelimit *rl = hs_xcalloc(1, sizeof(*rl));
    rl->cfg = cfg;
    size_t cap = (size_t)(cfg->ratelimit_max_buckets > 0 ? cfg->ratelimit_max_buckets : 64);
    cap = cap / SHARDS ? cap / SHARDS : 1;
    size_t size = 1;
    while (size < cap)
        size <<= 1;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &rl->shards[i];
        pthread_mutex_init(&sh->lock, NULL);
        sh->table = hs_xcalloc(size, sizeof(*sh->table));
        sh->mask = size - 1;
        sh->cap = cap;
    }
    return rl;
}

void capi_ratelimit_free(capi_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &rl->shards[i];
        for (struct bucket *b = sh->head, *next; b; b = next) {
            next = b->older;
            free(b);
        }
        free(sh->table);
        pthread_mutex_destroy(&sh->lock);
    }
    free(rl);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    /* splitmix64's finaliser over the running value. */
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static uint64_t key_hash(const struct capi_rl_key *k)
{
    uint64_t a, b;
    memcpy(&a, k->addr, 8);
    memcpy(&b, k->addr + 8, 8);
    uint64_t h = mix((uint64_t)k->who, a);
    h = mix(h, b);
    h = mix(h, (uint64_t)(uintptr_t)k->route);
    return mix(h, k->major);
}

static int key_eq(const struct capi_rl_key *x, const struct capi_rl_key *y)
{
    return x->who == y->who && x->route == y->route && x->major == y->major &&
           memcmp(x->addr, y->addr, sizeof(x->addr)) == 0;
}

static void lru_unlink(struct shard *sh, struct bucket *b)
{
    if (b->newer)
        b->newer->older = b->older;
    else
        sh->head = b->older;
    if (b->older)
        b->older->newer = b->newer;
    else
        sh->tail = b->newer;
    b->newer = b->older = NULL;
}

static void lru_push(struct shard *sh, struct bucket *b)
{
    b->older = sh->head;
    b->newer = NULL;
    if (sh->head)
        sh->head->newer = b;
    sh->head = b;
    if (!sh->tail)
        sh->tail = b;
}

static void drop(struct shard *sh, struct bucket *b)
{
    struct bucket **pp = &sh->table[b->hash & sh->mask];
    while (*pp != b)
        pp = &(*pp)->chain;
    *pp = b->chain;
    lru_unlink(sh, b);
    sh->n--;
    free(b);
}

void capi_ratelimit_take(capi_ratelimit *rl, const struct capi_rl_key *key, int limit,
                         uint64_t window_ms, uint64_t now_ms, struct capi_rl_state *out)
{
    uint64_t h = key_hash(key);
    struct shard *sh = &rl->shards[(h >> 56) % SHARDS];
    pthread_mutex_lock(&sh->lock);
    struct bucket *b = sh->table[h & sh->mask];
    while (b && !(b->hash == h && key_eq(&b->key, key)))
        b = b->chain;
    if (b) {
        lru_unlink(sh, b);
    } else {
        while (sh->tail && sh->tail->window_end <= now_ms)
            drop(sh, sh->tail);
        if (sh->n >= sh->cap) {
            /* Full: an expired bucket near the tail goes before the least recently used
             * live one (a bounded look, so a spray of keys costs O(1) per insertion). */
            struct bucket *victim = sh->tail;
            int k = 0;
            for (struct bucket *c = sh->tail; c && k < 16; c = c->newer, k++) {
                if (c->window_end <= now_ms) {
                    victim = c;
                    break;
                }
            }
            drop(sh, victim);
        }
        b = hs_xcalloc(1, sizeof(*b));
        b->key = *key;
        b->hash = h;
        b->chain = sh->table[h & sh->mask];
        sh->table[h & sh->mask] = b;
        sh->n++;
    }
    lru_push(sh, b);
    if (now_ms >= b->window_end) {
        b->count = 0;
        b->window_end = now_ms + window_ms;
    }
    out->allowed = b->count < limit;
    if (out->allowed)
        b->count++;
    out->limit = limit;
    out->remaining = limit - b->count;
    out->reset_ms = b->window_end;
    out->retry_after_ms = b->window_end - now_ms;
    pthread_mutex_unlock(&sh->lock);
}

size_t capi_ratelimit_size(capi_ratelimit *rl)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].lock);
        n += rl->shards[i].n;
        pthread_mutex_unlock(&rl->shards[i].lock);
    }
    return n;
}

/* ------------------------------------------------------------------ request glue */

/* Fills key->addr with the client's address (IPv4 mapped into IPv6). */
static void client_addr(capi_req *req, struct capi_rl_key *key)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        key->addr[10] = key->addr[11] = 0xff;
        memcpy(key->addr + 12, &v4->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(key->addr, &v6->sin6_addr, 16);
    }
}

/* The top-level resource of a route: Discord keys per-route limits by the channel, guild
 * or webhook the path starts with. */
static uint64_t major_of(const struct capi_route *route, const capi_req *req)
{
    static const char *const majors[] = {"/channels/:", "/guilds/:", "/webhooks/:"};
    for (size_t i = 0; i < HS_ARRAY_LEN(majors); i++)
        if (strncmp(route->pattern, majors[i], strlen(majors[i])) == 0 && req->nparams > 0)
            return req->params[0];
    return 0;
}

static void bucket_id(const struct capi_route *route, char out[33])
{
    unsigned char h[16];
    char text[160];
    snprintf(text, sizeof(text), "%s %s", route->method, route->pattern);
    crypto_generichash(h, sizeof(h), (const unsigned char *)text, strlen(text), NULL, 0);
    sodium_bin2hex(out, 33, h, sizeof(h));
}

static void respond_429(capi_req *req, uint64_t retry_after_ms, int global)
{
    json_t *body = json_pack("{s:s, s:f, s:b}", "message", "You are being rate limited.",
                             "retry_after", (double)retry_after_ms / 1000.0, "global", global);
    capi_respond(req, 429, body);
}

int capi_ratelimit_check(capi_req *req, const struct capi_route *route)
{
    capi_ratelimit *rl = req->srv->ratelimit;
    const hs_config *cfg = req->srv->cfg;
    struct capi_rl_note *note = &req->ratelimit;
    if (!rl || !cfg->ratelimit_enabled)
        return 0;
    uint64_t now = hs_now_ms();
    struct capi_rl_key key;
    memset(&key, 0, sizeof(key));
    int authed = (route->flags & CAPI_AUTH) && req->user.id;
    if (authed) {
        key.who = CAPI_RL_USER;
        for (int i = 0; i < 8; i++)
            key.addr[i] = (uint8_t)(req->user.id >> (8 * i));
    } else {
        key.who = CAPI_RL_IP;
        client_addr(req, &key);
    }
    note->now_ms = now;

    struct capi_rl_state st;
    int global = authed ? cfg->ratelimit_global_per_second : cfg->ratelimit_ip_per_second;
    if (global > 0) {
        capi_ratelimit_take(rl, &key, global, 1000, now, &st);
        if (!st.allowed) {
            note->limited = 2;
            note->retry_after_ms = st.retry_after_ms;
            respond_429(req, st.retry_after_ms, 1);
            return 1;
        }
    }

    int messages = strcmp(route->method, "POST") == 0 &&
                   strcmp(route->pattern, "/channels/:channel_id/messages") == 0;
    int limit = messages ? cfg->ratelimit_messages_per_window : cfg->ratelimit_default_per_window;
    if (limit <= 0)
        return 0;
    key.route = route;
    key.major = major_of(route, req);
    capi_ratelimit_take(rl, &key, limit, (uint64_t)cfg->ratelimit_window_ms, now, &st);
    note->set = 1;
    note->limit = st.limit;
    note->remaining = st.remaining;
    note->reset_ms = st.reset_ms;
    note->retry_after_ms = st.retry_after_ms;
    bucket_id(route, note->bucket);
    if (!st.allowed) {
        note->limited = 1;
        respond_429(req, st.retry_after_ms, 0);
        return 1;
    }
    return 0;
}

static void add_header(struct MHD_Response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_header(struct MHD_Response *resp, const char *name, const char *fmt, ...)
{
    char value[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    MHD_add_response_header(resp, name, value);
}

void capi_ratelimit_headers(capi_req *req, struct MHD_Response *resp)
{
    const struct capi_rl_note *note = &req->ratelimit;
    if (note->set) {
        add_header(resp, "X-RateLimit-Limit", "%d", note->limit);
        add_header(resp, "X-RateLimit-Remaining", "%d", note->remaining);
        add_header(resp, "X-RateLimit-Reset", "%llu.%03llu",
                   (unsigned long long)(note->reset_ms / 1000),
                   (unsigned long long)(note->reset_ms % 1000));
        uint64_t after = note->reset_ms > note->now_ms ? note->reset_ms - note->now_ms : 0;
        add_header(resp, "X-RateLimit-Reset-After", "%llu.%03llu",
                   (unsigned long long)(after / 1000), (unsigned long long)(after % 1000));
        add_header(resp, "X-RateLimit-Bucket", "%s", note->bucket);
    }
    if (note->limited) {
        /* Retry-After is whole seconds (HTTP's delay-seconds), rounded up. */
        add_header(resp, "Retry-After", "%llu",
                   (unsigned long long)((note->retry_after_ms + 999) / 1000));
        if (note->limited == 2)
            MHD_add_response_header(resp, "X-RateLimit-Global", "true");
        MHD_add_response_header(resp, "X-RateLimit-Scope", note->limited == 2 ? "global" : "user");
    }
}
