/*
 * Unit tests for hs_snowflake.h: the bit layout of spec/client-api.md §5, and the promise
 * that one generator hands out strictly increasing ids whatever its clock does (same
 * millisecond, more than 4096 ids in one millisecond, the clock stepping backwards).
 *
 * The generator's clock is injected (fake_clock below), so every test is deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "hs_snowflake.h"
#include "hs_time.h"

/* The injected clock: unix milliseconds, set by each test. */
static uint64_t fake_now;

static uint64_t fake_clock(void)
{
    return fake_now;
}

static uint64_t make_id(uint64_t ms, unsigned worker, unsigned process, unsigned inc)
{
    return (ms << 22) | ((uint64_t)worker << 17) | ((uint64_t)process << 12) | inc;
}

static void test_epoch(void **state)
{
    (void)state;
    char buf[HS_ISO8601_LEN];
    /* 2015-01-01T00:00:00Z, Discord's epoch. */
    assert_int_equal(HS_EPOCH_MS, 1420070400000ULL);
    hs_iso8601(HS_EPOCH_MS, buf);
    assert_string_equal(buf, "2015-01-01T00:00:00.000000+00:00");
    assert_int_equal(hs_snowflake_unix_ms(0), HS_EPOCH_MS);
    assert_int_equal(hs_snowflake_from_unix_ms(HS_EPOCH_MS), 0);
    /* Instants before the epoch have no id of their own; the smallest id is the cursor. */
    assert_int_equal(hs_snowflake_from_unix_ms(HS_EPOCH_MS - 1), 0);
    assert_int_equal(hs_snowflake_from_unix_ms(0), 0);
    assert_int_equal(hs_snowflake_from_unix_ms(HS_EPOCH_MS + 1), (uint64_t)1 << 22);
}

static void test_extract_fields(void **state)
{
    (void)state;
    /* The example from Discord's documentation ("Snowflake ID Broken Down in Binary"). */
    uint64_t id = 175928847299117063ULL;
    assert_int_equal(hs_snowflake_unix_ms(id), 1462015105796ULL);
    assert_int_equal(hs_snowflake_worker(id), 1);
    assert_int_equal(hs_snowflake_process(id), 0);
    assert_int_equal(hs_snowflake_increment(id), 7);

    /* Every field at its maximum: no field bleeds into its neighbour. */
    id = make_id(5, 31, 31, 4095);
    assert_int_equal(hs_snowflake_unix_ms(id), HS_EPOCH_MS + 5);
    assert_int_equal(hs_snowflake_worker(id), 31);
    assert_int_equal(hs_snowflake_process(id), 31);
    assert_int_equal(hs_snowflake_increment(id), 4095);

    id = make_id(0, 31, 0, 0);
    assert_int_equal(hs_snowflake_worker(id), 31);
    assert_int_equal(hs_snowflake_process(id), 0);
    assert_int_equal(hs_snowflake_increment(id), 0);
    assert_int_equal(hs_snowflake_unix_ms(id), HS_EPOCH_MS);

    id = make_id(0, 0, 31, 0);
    assert_int_equal(hs_snowflake_worker(id), 0);
    assert_int_equal(hs_snowflake_process(id), 31);

    id = make_id(0, 0, 0, 4095);
    assert_int_equal(hs_snowflake_worker(id), 0);
    assert_int_equal(hs_snowflake_process(id), 0);
    assert_int_equal(hs_snowflake_increment(id), 4095);

    /* The top bit of the timestamp (year ~2154): still read back exactly. */
    uint64_t top = ((uint64_t)1 << 41) | 12345;
    id = make_id(top, 3, 4, 5);
    assert_int_equal(hs_snowflake_unix_ms(id), HS_EPOCH_MS + top);
    assert_int_equal(hs_snowflake_worker(id), 3);
    assert_int_equal(hs_snowflake_process(id), 4);
    assert_int_equal(hs_snowflake_increment(id), 5);
}

static void test_generated_layout(void **state)
{
    (void)state;
    hs_snowflake_gen g;
    fake_now = HS_EPOCH_MS + 123456789;
    hs_snowflake_gen_init(&g, 21, 9, fake_clock);
    uint64_t id = hs_snowflake_next(&g);
    assert_int_equal(id, make_id(123456789, 21, 9, 0));
    assert_int_equal(hs_snowflake_unix_ms(id), fake_now);
    assert_int_equal(hs_snowflake_worker(id), 21);
    assert_int_equal(hs_snowflake_process(id), 9);
    assert_int_equal(hs_snowflake_increment(id), 0);
    hs_snowflake_gen_release(&g);

    /* worker and process at their maxima. */
    hs_snowflake_gen_init(&g, 31, 31, fake_clock);
    id = hs_snowflake_next(&g);
    assert_int_equal(id, make_id(123456789, 31, 31, 0));
    hs_snowflake_gen_release(&g);

    hs_snowflake_gen_init(&g, 0, 0, fake_clock);
    id = hs_snowflake_next(&g);
    assert_int_equal(id, make_id(123456789, 0, 0, 0));
    hs_snowflake_gen_release(&g);
}

static void test_real_clock_strictly_increasing(void **state)
{
    (void)state;
    hs_snowflake_gen g;
    hs_snowflake_gen_init(&g, 1, 2, NULL);
    uint64_t before = hs_now_ms();
    uint64_t prev = hs_snowflake_next(&g);
    for (int i = 0; i < 200000; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_true(id > prev);
        assert_int_equal(hs_snowflake_worker(id), 1);
        assert_int_equal(hs_snowflake_process(id), 2);
        prev = id;
    }
    uint64_t after = hs_now_ms();
    /* The real clock is used: the first id is of now. The last may run ahead of the
     * clock by the milliseconds it borrowed (at most one per 4096 ids). */
    assert_true(hs_snowflake_unix_ms(prev) >= before);
    assert_true(hs_snowflake_unix_ms(prev) <= after + 200000 / 4096 + 1);
    hs_snowflake_gen_release(&g);
}

static void test_same_ms_counts_up(void **state)
{
    (void)state;
    hs_snowflake_gen g;
    fake_now = HS_EPOCH_MS + 1000000;
    hs_snowflake_gen_init(&g, 4, 5, fake_clock);
    uint64_t first = hs_snowflake_next(&g);
    assert_int_equal(hs_snowflake_increment(first), 0);
    for (unsigned i = 1; i < 100; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_int_equal(hs_snowflake_increment(id), i);
        assert_int_equal(hs_snowflake_unix_ms(id), fake_now);
        assert_int_equal(hs_snowflake_worker(id), 4);
        assert_int_equal(hs_snowflake_process(id), 5);
        assert_int_equal(id, first + i);
    }
    /* The next millisecond starts the increment again at 0. */
    fake_now++;
    uint64_t id = hs_snowflake_next(&g);
    assert_int_equal(id, make_id(1000001, 4, 5, 0));
    hs_snowflake_gen_release(&g);
}

static void test_wrap_borrows_next_ms(void **state)
{
    (void)state;
    hs_snowflake_gen g;
    const uint64_t t = 777777;
    fake_now = HS_EPOCH_MS + t;
    hs_snowflake_gen_init(&g, 7, 3, fake_clock);
    uint64_t prev = 0;
    for (unsigned i = 0; i < 4096; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_int_equal(id, make_id(t, 7, 3, i));
        assert_true(id > prev);
        prev = id;
    }
    /* The 4097th id of the same millisecond borrows the next one. */
    uint64_t id = hs_snowflake_next(&g);
    assert_true(id > prev);
    assert_int_equal(id, make_id(t + 1, 7, 3, 0));
    prev = id;
    /* The clock has not moved: the borrowed millisecond keeps counting. */
    id = hs_snowflake_next(&g);
    assert_int_equal(id, make_id(t + 1, 7, 3, 1));
    prev = id;
    /* The clock reaches the borrowed millisecond: still no repeat. */
    fake_now = HS_EPOCH_MS + t + 1;
    id = hs_snowflake_next(&g);
    assert_true(id > prev);
    assert_int_equal(id, make_id(t + 1, 7, 3, 2));
    prev = id;
    /* Many more than 4096 ids in one clock millisecond: every one unique and increasing. */
    for (int i = 0; i < 3 * 4096 + 17; i++) {
        id = hs_snowflake_next(&g);
        assert_true(id > prev);
        assert_int_equal(hs_snowflake_worker(id), 7);
        assert_int_equal(hs_snowflake_process(id), 3);
        prev = id;
    }
    assert_int_equal(hs_snowflake_unix_ms(prev), HS_EPOCH_MS + t + 4);
    /* Once the clock passes the borrowed time, ids follow the clock again. */
    fake_now = HS_EPOCH_MS + t + 100;
    id = hs_snowflake_next(&g);
    assert_int_equal(id, make_id(t + 100, 7, 3, 0));
    hs_snowflake_gen_release(&g);
}

static void test_clock_backwards(void **state)
{
    (void)state;
    hs_snowflake_gen g;
    const uint64_t t = 50000000;
    fake_now = HS_EPOCH_MS + t;
    hs_snowflake_gen_init(&g, 0, 1, fake_clock);
    uint64_t prev = hs_snowflake_next(&g);
    for (int i = 0; i < 10; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_true(id > prev);
        prev = id;
    }
    /* The wall clock steps back by ten seconds (NTP): ids never repeat or decrease. */
    fake_now = HS_EPOCH_MS + t - 10000;
    for (int i = 0; i < 5000; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_true(id > prev);
        assert_true(hs_snowflake_unix_ms(id) >= HS_EPOCH_MS + t);
        prev = id;
    }
    /* It steps back once more, a little. */
    fake_now = HS_EPOCH_MS + t - 1;
    uint64_t id = hs_snowflake_next(&g);
    assert_true(id > prev);
    prev = id;
    /* When the clock runs ahead of the last id again, ids follow it. */
    fake_now = HS_EPOCH_MS + t + 500;
    id = hs_snowflake_next(&g);
    assert_true(id > prev);
    assert_int_equal(id, make_id(t + 500, 0, 1, 0));
    hs_snowflake_gen_release(&g);
}

static void test_clock_before_epoch(void **state)
{
    (void)state;
    /* A clock set before 2015 (a board without an RTC) still yields increasing ids. */
    hs_snowflake_gen g;
    fake_now = 0;
    hs_snowflake_gen_init(&g, 2, 2, fake_clock);
    uint64_t prev = hs_snowflake_next(&g);
    for (int i = 0; i < 5000; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_true(id > prev);
        prev = id;
    }
    hs_snowflake_gen_release(&g);
}

static void test_unix_ms_round_trip(void **state)
{
    (void)state;
    const uint64_t times[] = {
        HS_EPOCH_MS,
        HS_EPOCH_MS + 1,
        1462015105796ULL, /* 2016-04-30T11:18:25.796Z */
        1795820645123ULL, /* 2026-11-27T23:04:05.123Z */
        HS_EPOCH_MS + ((uint64_t)1 << 41) - 1,
        HS_EPOCH_MS + ((uint64_t)1 << 42) - 1, /* the largest 64-bit id's time */
    };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        uint64_t t = times[i];
        uint64_t id = hs_snowflake_from_unix_ms(t);
        assert_int_equal(hs_snowflake_unix_ms(id), t);
        assert_int_equal(hs_snowflake_worker(id), 0);
        assert_int_equal(hs_snowflake_process(id), 0);
        assert_int_equal(hs_snowflake_increment(id), 0);
        /* It is the smallest id at t: one less belongs to the millisecond before. */
        if (t > HS_EPOCH_MS)
            assert_int_equal(hs_snowflake_unix_ms(id - 1), t - 1);
    }

    /* Every generated id of millisecond t lies in [from(t), from(t + 1)). */
    hs_snowflake_gen g;
    fake_now = 1795820645123ULL;
    hs_snowflake_gen_init(&g, 31, 31, fake_clock);
    for (int i = 0; i < 4096; i++) {
        uint64_t id = hs_snowflake_next(&g);
        assert_true(id >= hs_snowflake_from_unix_ms(fake_now));
        assert_true(id < hs_snowflake_from_unix_ms(fake_now + 1));
        assert_int_equal(hs_snowflake_unix_ms(id), fake_now);
    }
    hs_snowflake_gen_release(&g);
}

/* Several threads share one generator: the ids stay unique, and increase per thread. */
#define THREADS 4
#define PER_THREAD 20000

struct thread_arg {
    hs_snowflake_gen *g;
    uint64_t *ids;
    int increasing;
};

static void *gen_thread(void *p)
{
    struct thread_arg *a = p;
    a->increasing = 1;
    for (int i = 0; i < PER_THREAD; i++) {
        a->ids[i] = hs_snowflake_next(a->g);
        if (i > 0 && a->ids[i] <= a->ids[i - 1])
            a->increasing = 0;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_threads_unique(void **state)
{
    (void)state;
    hs_snowflake_gen g;
    hs_snowflake_gen_init(&g, 9, 10, NULL);
    uint64_t *all = calloc(THREADS * PER_THREAD, sizeof(*all));
    assert_non_null(all);
    pthread_t th[THREADS];
    struct thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct thread_arg){&g, all + (size_t)i * PER_THREAD, 0};
        assert_int_equal(pthread_create(&th[i], NULL, gen_thread, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].increasing);
    }
    qsort(all, THREADS * PER_THREAD, sizeof(*all), cmp_u64);
    for (size_t i = 1; i < THREADS * PER_THREAD; i++)
        assert_true(all[i] > all[i - 1]);
    free(all);
    hs_snowflake_gen_release(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_extract_fields),
        cmocka_unit_test(test_generated_layout),
        cmocka_unit_test(test_real_clock_strictly_increasing),
        cmocka_unit_test(test_same_ms_counts_up),
        cmocka_unit_test(test_wrap_borrows_next_ms),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_clock_before_epoch),
        cmocka_unit_test(test_unix_ms_round_trip),
        cmocka_unit_test(test_threads_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
