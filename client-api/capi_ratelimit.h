/*
 * capi_ratelimit.h: HTTP rate limits as Discord documents them (spec/rest-ratelimits.md).
 *
 * Every API request counts against two buckets: a global one per token (per client IP
 * address for requests without a token), one second long, and one per route, top-level
 * resource (the channel, guild or webhook id the path starts with) and token (or IP), one
 * window long. A request that finds either full is answered 429 and not served. Limits come
 * from the configuration (ratelimit-* settings); 0 means no limit.
 *
 * Windows are fixed: a bucket's window starts with its first request and lasts its length;
 * the next request after it ends starts a new one. The buckets live in memory only (a
 * restart forgets them), in a table bounded by ratelimit-max-buckets: when it is full the
 * least recently used bucket is dropped, and buckets whose window ended are dropped first.
 *
 * capi_ratelimit_take is the mechanism and may be called from any thread (the table is
 * sharded, each shard behind its own mutex). capi_ratelimit_check and capi_ratelimit_headers
 * are the glue the router and the response writer call.
 */
#ifndef CAPI_RATELIMIT_H
#define CAPI_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"

typedef struct capi_ratelimit capi_ratelimit;

/* Returns a new limiter sized by cfg->ratelimit_max_buckets (free with
 * capi_ratelimit_free). Borrows cfg for the limits, which must outlive the limiter. */
capi_ratelimit *capi_ratelimit_new(const hs_config *cfg);
/* NULL is allowed. */
void capi_ratelimit_free(capi_ratelimit *rl);

enum capi_rl_who { CAPI_RL_USER = 1, CAPI_RL_IP = 2 };

/* What a bucket counts: whose requests (a user id or an IP address) to which route (its
 * address in a route table; NULL for the global bucket) about which top-level resource. */
struct capi_rl_key {
    int who;          /* enum capi_rl_who */
    uint8_t addr[16]; /* CAPI_RL_USER: the user id, little-endian, in the first 8 bytes;
                         CAPI_RL_IP: the IPv6 address (IPv4 mapped as ::ffff:a.b.c.d) */
    const void *route;
    uint64_t major; /* channel, guild or webhook id; 0 when the route has none */
};

/* What taking from a bucket found. */
struct capi_rl_state {
    int allowed; /* 1: counted; 0: the bucket is full */
    int limit, remaining;
    uint64_t reset_ms;       /* unix ms at which the current window ends */
    uint64_t retry_after_ms; /* reset_ms - now */
};

/*
 * Counts one request of key against a bucket of limit requests per window_ms at now_ms
 * (unix ms). A full bucket counts nothing and reports allowed = 0. limit > 0.
 */
void capi_ratelimit_take(capi_ratelimit *rl, const struct capi_rl_key *key, int limit,
                         uint64_t window_ms, uint64_t now_ms, struct capi_rl_state *out);
/* How many buckets the table holds now (tests, statistics). */
size_t capi_ratelimit_size(capi_ratelimit *rl);

/* What one response's X-RateLimit-* headers say; zero-initialised in every request. */
struct capi_rl_note {
    int set;     /* a route bucket was consulted: send the per-route headers */
    int limited; /* 429: 1 for the route bucket, 2 for the global one */
    int limit, remaining;
    uint64_t now_ms, reset_ms, retry_after_ms;
    char bucket[33]; /* hex hash of the route */
};

struct capi_req;
struct capi_route;
struct MHD_Response;

/*
 * The router calls this once a request is routed (and authenticated when the route needs
 * it), before the handler. Returns 1 after answering 429, else 0. Records what the headers
 * must say in req->ratelimit. HTTP threads.
 */
int capi_ratelimit_check(struct capi_req *req, const struct capi_route *route);
/* Adds the X-RateLimit-* (and on 429 Retry-After) headers to a response of req. */
void capi_ratelimit_headers(struct capi_req *req, struct MHD_Response *resp);

#endif
