/*
 * Unit tests for capi_ratelimit.h's mechanism (capi_ratelimit_take): fixed windows that
 * count down and reset, refusals that count nothing, keys that never share a bucket, the
 * bound on the table and which buckets it drops, and exact counting under concurrent
 * callers. Time is passed in, so nothing here sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "capi_ratelimit.h"
#include "hs_config.h"

#define T0 ((uint64_t)1795000000000) /* some unix ms */

static const int ROUTE_A = 1, ROUTE_B = 2; /* their addresses stand for two routes */

struct fx {
    hs_config cfg;
    capi_ratelimit *rl;
};

static int setup_with(void **state, const char *max_buckets)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    hs_config_init(&fx->cfg);
    hs_error err;
    if (hs_config_set(&fx->cfg, "ratelimit-max-buckets", max_buckets, &err) < 0) {
        print_error("setup: %s\n", err.msg);
        return -1;
    }
    fx->rl = capi_ratelimit_new(&fx->cfg);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, "100000");
}

static int setup_small(void **state)
{
    return setup_with(state, "64");
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    capi_ratelimit_free(fx->rl);
    hs_config_release(&fx->cfg);
    free(fx);
    return 0;
}

static struct capi_rl_key user_key(uint64_t user, const void *route, uint64_t major)
{
    struct capi_rl_key k;
    memset(&k, 0, sizeof(k));
    k.who = CAPI_RL_USER;
    for (int i = 0; i < 8; i++)
        k.addr[i] = (uint8_t)(user >> (8 * i));
    k.route = route;
    k.major = major;
    return k;
}

static int take(struct fx *fx, const struct capi_rl_key *k, int limit, uint64_t window,
                uint64_t now, struct capi_rl_state *st)
{
    capi_ratelimit_take(fx->rl, k, limit, window, now, st);
    return st->allowed;
}

static void test_counts_down_then_refuses(void **state)
{
    struct fx *fx = *state;
    struct capi_rl_key k = user_key(7, &ROUTE_A, 100);
    struct capi_rl_state st;
    for (int i = 1; i <= 5; i++) {
        assert_true(take(fx, &k, 5, 5000, T0 + (uint64_t)i, &st));
        assert_int_equal(st.limit, 5);
        assert_int_equal(st.remaining, 5 - i);
        /* The window started with the first request and does not move. */
        assert_int_equal(st.reset_ms, T0 + 1 + 5000);
        assert_int_equal(st.retry_after_ms, T0 + 1 + 5000 - (T0 + (uint64_t)i));
    }
    assert_false(take(fx, &k, 5, 5000, T0 + 100, &st));
    assert_int_equal(st.remaining, 0);
    assert_int_equal(st.retry_after_ms, 5000 + 1 - 100);
    /* Refusals count nothing: still refused, still remaining 0, same reset. */
    for (int i = 0; i < 10; i++) {
        assert_false(take(fx, &k, 5, 5000, T0 + 200, &st));
        assert_int_equal(st.reset_ms, T0 + 5001);
    }
}

static void test_window_resets(void **state)
{
    struct fx *fx = *state;
    struct capi_rl_key k = user_key(8, &ROUTE_A, 0);
    struct capi_rl_state st;
    for (int i = 0; i < 3; i++)
        assert_true(take(fx, &k, 3, 1000, T0, &st));
    assert_false(take(fx, &k, 3, 1000, T0 + 999, &st));
    assert_int_equal(st.retry_after_ms, 1);
    /* At the reset instant a new window begins, starting from that request. */
    assert_true(take(fx, &k, 3, 1000, T0 + 1000, &st));
    assert_int_equal(st.remaining, 2);
    assert_int_equal(st.reset_ms, T0 + 2000);
    /* Long idle: a fresh window from the next request. */
    assert_true(take(fx, &k, 3, 1000, T0 + 50000, &st));
    assert_int_equal(st.remaining, 2);
    assert_int_equal(st.reset_ms, T0 + 51000);
}

static void test_keys_are_separate(void **state)
{
    struct fx *fx = *state;
    struct capi_rl_state st;
    struct capi_rl_key full = user_key(9, &ROUTE_A, 1);
    assert_true(take(fx, &full, 1, 5000, T0, &st));
    assert_false(take(fx, &full, 1, 5000, T0, &st));

    /* Another top-level resource, another route, another user, the global bucket, an IP
     * whose bytes equal the user id's: each its own bucket. */
    struct capi_rl_key other_major = user_key(9, &ROUTE_A, 2);
    struct capi_rl_key other_route = user_key(9, &ROUTE_B, 1);
    struct capi_rl_key other_user = user_key(10, &ROUTE_A, 1);
    struct capi_rl_key global = user_key(9, NULL, 0);
    struct capi_rl_key ip = full;
    ip.who = CAPI_RL_IP;
    const struct capi_rl_key *keys[] = {&other_major, &other_route, &other_user, &global, &ip};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_true(take(fx, keys[i], 1, 5000, T0, &st));
        assert_int_equal(st.remaining, 0);
    }
    assert_false(take(fx, &full, 1, 5000, T0 + 1, &st));
    assert_int_equal(capi_ratelimit_size(fx->rl), 6);
}

static void test_ip_keys(void **state)
{
    struct fx *fx = *state;
    struct capi_rl_state st;
    struct capi_rl_key a, b;
    memset(&a, 0, sizeof(a));
    a.who = CAPI_RL_IP;
    a.addr[10] = a.addr[11] = 0xff;
    a.addr[12] = 127;
    a.addr[15] = 1;
    b = a;
    b.addr[15] = 2; /* 127.0.0.2 */
    assert_true(take(fx, &a, 2, 1000, T0, &st));
    assert_true(take(fx, &a, 2, 1000, T0, &st));
    assert_false(take(fx, &a, 2, 1000, T0, &st));
    assert_true(take(fx, &b, 2, 1000, T0, &st));
    assert_int_equal(st.remaining, 1);
}

/* The table never holds more than ratelimit-max-buckets (64 here), however many keys. */
static void test_bounded(void **state)
{
    struct fx *fx = *state;
    struct capi_rl_state st;
    for (uint64_t u = 1; u <= 5000; u++) {
        struct capi_rl_key k = user_key(u, &ROUTE_A, u * 31);
        /* Live windows (one hour long), so only the bound can make room. */
        assert_true(take(fx, &k, 2, 3600000, T0 + u, &st));
        assert_true(capi_ratelimit_size(fx->rl) <= 64);
    }
    assert_true(capi_ratelimit_size(fx->rl) >= 32);
}

/* Buckets whose window ended go before live ones, and idle tables shrink. */
static void test_expired_dropped_first(void **state)
{
    struct fx *fx = *state;
    struct capi_rl_state st;
    /* 200 short-window buckets: the table fills up (64). */
    for (uint64_t u = 1; u <= 200; u++) {
        struct capi_rl_key k = user_key(u, &ROUTE_B, 0);
        take(fx, &k, 1, 10, T0, &st);
    }
    size_t full = capi_ratelimit_size(fx->rl);
    assert_true(full <= 64);
    /* Much later, new keys sweep the expired ones out: each insertion frees its shard's
     * expired tail, so after a few the table holds little more than the new keys. */
    for (uint64_t u = 1; u <= 16; u++) {
        struct capi_rl_key k = user_key(100000 + u, &ROUTE_A, 0);
        take(fx, &k, 1, 3600000, T0 + 10000, &st);
    }
    assert_true(capi_ratelimit_size(fx->rl) < full);
    /* A live, full bucket keeps refusing while unrelated expired ones are swept. */
    struct capi_rl_key hot = user_key(424242, &ROUTE_A, 5);
    assert_true(take(fx, &hot, 1, 3600000, T0 + 20000, &st));
    for (uint64_t u = 1; u <= 40; u++) {
        struct capi_rl_key k = user_key(200000 + u, &ROUTE_B, 0);
        take(fx, &k, 1, 10, T0 + 20000 + u * 100, &st);
    }
    assert_false(take(fx, &hot, 1, 3600000, T0 + 30000, &st));
}

struct race {
    capi_ratelimit *rl;
    struct capi_rl_key key;
    int allowed;
};

static void *hammer(void *arg)
{
    struct race *r = arg;
    struct capi_rl_state st;
    for (int i = 0; i < 2000; i++) {
        capi_ratelimit_take(r->rl, &r->key, 5000, 3600000, T0 + (uint64_t)i, &st);
        r->allowed += st.allowed;
        /* Unrelated keys churn the table while the shared bucket is counted. */
        struct capi_rl_key other = user_key((uint64_t)i + 1, &ROUTE_B, (uint64_t)(uintptr_t)r);
        capi_ratelimit_take(r->rl, &other, 1, 3600000, T0, &st);
    }
    return NULL;
}

/* Eight threads take 16,000 times from one bucket of 5,000: exactly 5,000 get through. */
static void test_concurrent_exact(void **state)
{
    struct fx *fx = *state;
    pthread_t th[8];
    struct race r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (struct race){.rl = fx->rl, .key = user_key(77, &ROUTE_A, 1)};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += r[i].allowed;
    }
    assert_int_equal(total, 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_down_then_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_are_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_expired_dropped_first, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_exact, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
