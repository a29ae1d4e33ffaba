/*
 * Unit tests for hs_error.h: the caller-owned error detail every fallible function fills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hs_error.h"

static void test_error_set(void **state)
{
    (void)state;
    hs_error err;
    memset(&err, 0x55, sizeof(err));
    assert_int_equal(hs_error_set(&err, HS_ENOTFOUND, "no %s %d", "thing", 7), HS_ENOTFOUND);
    assert_int_equal(err.code, HS_ENOTFOUND);
    assert_int_equal(err.reason, HS_R_NONE);
    assert_string_equal(err.msg, "no thing 7");
    /* Earlier contents are cleared, not left behind. */
    assert_string_equal(err.field, "");
    assert_string_equal(err.form_code, "");
    /* NULL err is allowed: the code is still returned. */
    assert_int_equal(hs_error_set(NULL, HS_EIO, "x"), HS_EIO);
}

static void test_error_reason(void **state)
{
    (void)state;
    hs_error err;
    hs_error_form(&err, "old", "OLD", "old");
    assert_int_equal(hs_error_reason(&err, HS_EPERM, HS_R_NOT_AUTHOR, "m"), HS_EPERM);
    assert_int_equal(err.code, HS_EPERM);
    assert_int_equal(err.reason, HS_R_NOT_AUTHOR);
    assert_string_equal(err.msg, "m");
    assert_string_equal(err.field, "");
    assert_string_equal(err.form_code, "");
    assert_int_equal(hs_error_reason(NULL, HS_EAUTH, HS_R_NONE, "m"), HS_EAUTH);
}

static void test_error_form(void **state)
{
    (void)state;
    hs_error err;
    int rc = hs_error_form(&err, "content", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer.", 20);
    assert_int_equal(rc, HS_EINVAL);
    assert_int_equal(err.code, HS_EINVAL);
    assert_int_equal(err.reason, HS_R_FORM);
    assert_string_equal(err.field, "content");
    assert_string_equal(err.form_code, "BASE_TYPE_MAX_LENGTH");
    assert_string_equal(err.msg, "Must be 20 or fewer.");
    assert_int_equal(hs_error_form(NULL, "a", "B", "c"), HS_EINVAL);

    /* Over-long text is truncated, never overflows, and stays NUL-terminated. */
    char longtext[1000];
    memset(longtext, 'f', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    hs_error_form(&err, longtext, longtext, "%s", longtext);
    assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
    assert_int_equal(strlen(err.form_code), sizeof(err.form_code) - 1);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

static void test_error_clear_and_strerror(void **state)
{
    (void)state;
    hs_error err;
    hs_error_form(&err, "f", "C", "m");
    hs_error_clear(&err);
    assert_int_equal(err.code, 0);
    assert_int_equal(err.reason, 0);
    assert_string_equal(err.msg, "");
    hs_error_clear(NULL);

    const int codes[] = {HS_OK,     HS_EINVAL, HS_ENOTFOUND, HS_EPERM,
                         HS_EEXIST, HS_EIO,    HS_ELIMIT,    HS_EAUTH};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = hs_strerror(codes[i]);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, hs_strerror(codes[j]));
    }
    assert_string_equal(hs_strerror(-1000), "unknown error");
    assert_string_equal(hs_strerror(1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set),
        cmocka_unit_test(test_error_reason),
        cmocka_unit_test(test_error_form),
        cmocka_unit_test(test_error_clear_and_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
