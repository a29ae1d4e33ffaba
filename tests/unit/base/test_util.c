/*
 * Unit tests for the small helpers of hs_base: hs_parse_u64 and hs_utf8_len (hs_util.h),
 * the growable buffer (hs_buf.h) and timestamp formatting (hs_time.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hs_buf.h"
#include "hs_time.h"
#include "hs_util.h"

/* ---- hs_parse_u64 ---- */

static int parses(const char *s, uint64_t want)
{
    uint64_t v = 0xDEADBEEF;
    return hs_parse_u64(s, &v) == 0 && v == want;
}

static int rejects(const char *s)
{
    uint64_t v = 0;
    return hs_parse_u64(s, &v) == -1;
}

static void test_parse_u64_valid(void **state)
{
    (void)state;
    assert_true(parses("0", 0));
    assert_true(parses("1", 1));
    assert_true(parses("9", 9));
    assert_true(parses("10", 10));
    assert_true(parses("175928847299117063", 175928847299117063ULL));
    assert_true(parses("9223372036854775807", 9223372036854775807ULL)); /* INT64_MAX */
    assert_true(parses("9223372036854775808", 9223372036854775808ULL));
    assert_true(parses("18446744073709551614", UINT64_MAX - 1));
    assert_true(parses("18446744073709551615", UINT64_MAX));
}

static void test_parse_u64_leading_zeros(void **state)
{
    (void)state;
    assert_true(parses("00", 0));
    assert_true(parses("007", 7));
    assert_true(parses("0000000000000000000", 0));
    /* Twenty characters, the longest a u64 can need. */
    assert_true(parses("00000000000000000001", 1));
    assert_true(parses("01844674407370955161", 1844674407370955161ULL));
}

static void test_parse_u64_invalid(void **state)
{
    (void)state;
    assert_true(rejects(""));
    assert_true(rejects("-1"));
    assert_true(rejects("-0"));
    assert_true(rejects("+1"));
    assert_true(rejects("+"));
    assert_true(rejects("-"));
    assert_true(rejects(" 1"));
    assert_true(rejects("1 "));
    assert_true(rejects("\t1"));
    assert_true(rejects("1\n"));
    assert_true(rejects("1 2"));
    assert_true(rejects(" "));
    assert_true(rejects("1a"));
    assert_true(rejects("a1"));
    assert_true(rejects("0x10"));
    assert_true(rejects("1.0"));
    assert_true(rejects("1e3"));
    assert_true(rejects("１")); /* a full-width digit */
}

static void test_parse_u64_overflow(void **state)
{
    (void)state;
    assert_true(rejects("18446744073709551616")); /* UINT64_MAX + 1 */
    assert_true(rejects("18446744073709551620")); /* last digit overflows */
    assert_true(rejects("18446744073709551700"));
    assert_true(rejects("19000000000000000000"));
    assert_true(rejects("99999999999999999999"));  /* twenty nines */
    assert_true(rejects("184467440737095516150")); /* 21 digits */
    assert_true(rejects("100000000000000000000"));
    assert_true(rejects("99999999999999999999999999999999999999999"));
}

/* ---- hs_utf8_len ---- */

static void test_utf8_len(void **state)
{
    (void)state;
    assert_int_equal(hs_utf8_len("", 0), 0);
    assert_int_equal(hs_utf8_len("abc", 3), 3);
    /* é: 2 bytes. */
    assert_int_equal(hs_utf8_len("h\xc3\xa9llo", 6), 5);
    /* 日本語: 3 bytes each. */
    assert_int_equal(hs_utf8_len("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9), 3);
    /* U+1F600: 4 bytes. */
    assert_int_equal(hs_utf8_len("\xf0\x9f\x98\x80", 4), 1);
    /* a € 😀 together: 1 + 3 + 4 bytes. */
    assert_int_equal(hs_utf8_len("a\xe2\x82\xac\xf0\x9f\x98\x80", 8), 3);
    /* Only len bytes are looked at, not up to the NUL. */
    assert_int_equal(hs_utf8_len("h\xc3\xa9llo", 3), 2);
    assert_int_equal(hs_utf8_len("abc", 1), 1);
    /* An embedded NUL is a code point like any other. */
    assert_int_equal(hs_utf8_len("a\0b", 3), 3);
    /* A combining accent (e + U+0301) is two code points. */
    assert_int_equal(hs_utf8_len("e\xcc\x81", 3), 2);
}

/* ---- hs_x* ---- */

static void test_xalloc_helpers(void **state)
{
    (void)state;
    char *s = hs_xstrndup("hello world", 5);
    assert_string_equal(s, "hello");
    free(s);
    s = hs_xstrdup("");
    assert_string_equal(s, "");
    free(s);
    s = hs_xasprintf("%s-%d-%05u", "x", -3, 42u);
    assert_string_equal(s, "x--3-00042");
    free(s);
    void *p = hs_xmalloc(0); /* never NULL, even for 0 bytes */
    assert_non_null(p);
    free(p);
    p = hs_xcalloc(0, 0);
    assert_non_null(p);
    free(p);
    unsigned char *z = hs_xcalloc(16, 4);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    z = hs_xrealloc(z, 4096);
    assert_non_null(z);
    free(z);
    int arr[7];
    assert_int_equal(HS_ARRAY_LEN(arr), 7);
}

/* ---- hs_buf ---- */

static void assert_buf_invariants(const hs_buf *b)
{
    if (!b->data) {
        assert_int_equal(b->cap, 0);
        assert_int_equal(b->len, 0);
        return;
    }
    assert_true(b->len < b->cap);
    assert_int_equal(b->data[b->len], '\0');
}

static void test_buf_init_empty(void **state)
{
    (void)state;
    hs_buf b = HS_BUF_INIT;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    hs_buf_init(&b);
    assert_buf_invariants(&b);
    /* Detaching a buffer that never held anything still gives a string. */
    char *s = hs_buf_detach(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_buf_invariants(&b);
    /* Releasing an empty buffer is fine, twice. */
    hs_buf_release(&b);
    hs_buf_release(&b);
    assert_buf_invariants(&b);
    /* Reset of a never-used buffer. */
    hs_buf_reset(&b);
    assert_buf_invariants(&b);
}

static void test_buf_growth(void **state)
{
    (void)state;
    hs_buf b;
    hs_buf_init(&b);
    hs_buf_adds(&b, "");
    assert_buf_invariants(&b);
    assert_int_equal(b.len, 0);

    /* Many small appends cross every growth step; the content must survive each. */
    size_t cap_seen = 0, growths = 0;
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        hs_buf_add(&b, &c, 1);
        assert_buf_invariants(&b);
        if (b.cap != cap_seen) {
            growths++;
            cap_seen = b.cap;
        }
    }
    assert_int_equal(b.len, 10000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], 'a' + i % 26);
    /* Growth is geometric: far fewer reallocations than appends. */
    assert_true(growths < 20);
    assert_int_equal(strlen(b.data), 10000);

    /* One append much larger than the current capacity. */
    char *big = malloc(100000);
    assert_non_null(big);
    memset(big, 'Z', 100000);
    hs_buf_add(&b, big, 100000);
    free(big);
    assert_buf_invariants(&b);
    assert_int_equal(b.len, 110000);
    assert_int_equal(b.data[9999], 'a' + 9999 % 26);
    assert_int_equal(b.data[10000], 'Z');
    assert_int_equal(b.data[109999], 'Z');

    /* hs_buf_grow makes room for at least n more bytes plus the NUL. */
    hs_buf_grow(&b, 500000);
    assert_true(b.cap >= b.len + 500000 + 1);
    assert_buf_invariants(&b);
    size_t cap = b.cap;
    hs_buf_grow(&b, 10); /* already room: nothing moves */
    assert_int_equal(b.cap, cap);
    hs_buf_release(&b);
    assert_buf_invariants(&b);
}

static void test_buf_binary(void **state)
{
    (void)state;
    hs_buf b = HS_BUF_INIT;
    hs_buf_add(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    hs_buf_add(&b, "", 0);
    assert_int_equal(b.len, 3);
    assert_buf_invariants(&b);
    hs_buf_release(&b);
}

static void test_buf_addf(void **state)
{
    (void)state;
    hs_buf b;
    hs_buf_init(&b);
    hs_buf_addf(&b, "%d", 42);
    assert_string_equal(b.data, "42");
    assert_int_equal(b.len, 2);
    hs_buf_addf(&b, "-%s-%llu", "x", 18446744073709551615ULL);
    assert_string_equal(b.data, "42-x-18446744073709551615");
    assert_int_equal(b.len, strlen(b.data));
    /* An empty format changes nothing. */
    hs_buf_addf(&b, "%s", "");
    assert_string_equal(b.data, "42-x-18446744073709551615");
    assert_buf_invariants(&b);

    /* A formatted piece larger than the buffer's capacity. */
    hs_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    hs_buf_adds(&b, "<");
    hs_buf_addf(&b, "%0500d|%s", 7, "end");
    assert_int_equal(b.len, 1 + 500 + 4);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1], '0');
    assert_int_equal(b.data[499], '0');
    assert_int_equal(b.data[500], '7');
    assert_string_equal(b.data + 501, "|end");
    assert_buf_invariants(&b);

    /* Many formatted appends in a row. */
    hs_buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        hs_buf_addf(&b, "%d,", i);
    assert_buf_invariants(&b);
    assert_int_equal(strncmp(b.data, "0,1,2,3,", 8), 0);
    assert_string_equal(b.data + b.len - 8, "998,999,");

    /* Detach hands the string over and empties the buffer, which stays usable. */
    char *s = hs_buf_detach(&b);
    assert_int_equal(strncmp(s, "0,1,2,", 6), 0);
    free(s);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    hs_buf_addf(&b, "%s", "again");
    assert_string_equal(b.data, "again");
    hs_buf_release(&b);
}

/* ---- hs_iso8601 ---- */

static void assert_iso(uint64_t ms, const char *want)
{
    char out[HS_ISO8601_LEN];
    memset(out, 'X', sizeof(out));
    hs_iso8601(ms, out);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), HS_ISO8601_LEN - 1);
}

static void test_iso8601(void **state)
{
    (void)state;
    assert_iso(0, "1970-01-01T00:00:00.000000+00:00");
    assert_iso(1, "1970-01-01T00:00:00.001000+00:00");
    assert_iso(999, "1970-01-01T00:00:00.999000+00:00");
    assert_iso(1000, "1970-01-01T00:00:01.000000+00:00");
    assert_iso(1420070400000ULL, "2015-01-01T00:00:00.000000+00:00");
    /* The example of spec/client-api.md §1. */
    assert_iso(1795820645123ULL, "2026-11-27T23:04:05.123000+00:00");
    assert_iso(1462015105796ULL, "2016-04-30T11:18:25.796000+00:00");
    /* Leap days and the last millisecond of a day / a year. */
    assert_iso(1709251199999ULL, "2024-02-29T23:59:59.999000+00:00");
    assert_iso(951782400000ULL, "2000-02-29T00:00:00.000000+00:00");
    assert_iso(946684799001ULL, "1999-12-31T23:59:59.001000+00:00");
    assert_iso(946684800000ULL, "2000-01-01T00:00:00.000000+00:00");
    /* The last millisecond of year 9999. */
    assert_iso(253402300799999ULL, "9999-12-31T23:59:59.999000+00:00");
}

static void test_clocks(void **state)
{
    (void)state;
    /* The wall clock is after 2020 and the monotonic clock does not go back. */
    assert_true(hs_now_ms() > 1577836800000ULL);
    uint64_t a = hs_mono_ns();
    uint64_t b = hs_mono_ns();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64_valid),   cmocka_unit_test(test_parse_u64_leading_zeros),
        cmocka_unit_test(test_parse_u64_invalid), cmocka_unit_test(test_parse_u64_overflow),
        cmocka_unit_test(test_utf8_len),          cmocka_unit_test(test_xalloc_helpers),
        cmocka_unit_test(test_buf_init_empty),    cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_buf_binary),        cmocka_unit_test(test_buf_addf),
        cmocka_unit_test(test_iso8601),           cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
