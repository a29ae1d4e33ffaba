/*
 * Unit tests for capi_multipart.h: the boundary parameter of a Content-Type, and bodies
 * as clients send them (python-requests, browsers, discord.js's undici) and as they should
 * not: missing delimiters, unclosed parts, oversized header blocks, too many parts, data
 * that contains CRLF and look-alike boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capi_multipart.h"

static void test_boundary(void **state)
{
    (void)state;
    char b[CAPI_MULTIPART_BOUNDARY_MAX + 1];
    assert_int_equal(capi_multipart_boundary("multipart/form-data; boundary=abc", b), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(
        capi_multipart_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b;c\"", b), 0);
    assert_string_equal(b, "a b;c");
    assert_int_equal(
        capi_multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundaryX1", b), 0);
    assert_string_equal(b, "----WebKitFormBoundaryX1");
    char long_ct[200];
    snprintf(long_ct, sizeof(long_ct), "multipart/form-data; boundary=%071d", 0);
    assert_int_equal(capi_multipart_boundary(long_ct, b), -1);
    snprintf(long_ct, sizeof(long_ct), "multipart/form-data; boundary=%070d", 0);
    assert_int_equal(capi_multipart_boundary(long_ct, b), 0);
    const char *bad[] = {NULL,
                         "",
                         "application/json",
                         "multipart/form-data",
                         "multipart/form-data; boundary=",
                         "multipart/form-data; boundary=\"\"",
                         "multipart/mixed; boundary=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (capi_multipart_boundary(bad[i], b) == 0)
            fail_msg("content type %zu accepted", i);
}

static int parse(const char *body, size_t len, struct capi_part *parts, int max, const char **why)
{
    *why = NULL;
    return capi_multipart_parse(body, len, "XyZ", parts, max, why);
}

#define BODY(s) s, sizeof(s) - 1

static void test_parse_typical(void **state)
{
    (void)state;
    struct capi_part parts[8];
    const char *why;
    static const char body[] =
        "preamble to ignore\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"payload_json\"\r\n"
        "Content-Type: application/json\r\n"
        "\r\n"
        "{\"content\":\"hi\"}\r\n"
        "--XyZ\r\n"
        "content-disposition: form-data; name=\"files[0]\"; filename=\"a \\\"q\\\".png\"\r\n"
        "content-type: image/png  \r\n"
        "\r\n"
        "\x89PNG\r\n--XyZnot-a-boundary\r\n-- XyZ\r\n"
        "--XyZ  \r\n" /* transport padding after the delimiter */
        "Content-Disposition: form-data; name=files[1]; filename=plain.txt; "
        "filename*=UTF-8''%e2%82%ac%20rates.txt\r\n"
        "\r\n"
        "\r\n"
        "\r\n"
        "--XyZ--\r\n"
        "epilogue --XyZ\r\n";
    int n = parse(BODY(body), parts, 8, &why);
    assert_int_equal(n, 3);
    assert_string_equal(parts[0].name, "payload_json");
    assert_false(parts[0].has_filename);
    assert_string_equal(parts[0].content_type, "application/json");
    assert_int_equal(parts[0].len, strlen("{\"content\":\"hi\"}"));
    assert_memory_equal(parts[0].data, "{\"content\":\"hi\"}", parts[0].len);

    assert_string_equal(parts[1].name, "files[0]");
    assert_true(parts[1].has_filename);
    assert_string_equal(parts[1].filename, "a \"q\".png");
    assert_string_equal(parts[1].content_type, "image/png");
    const char data1[] = "\x89PNG\r\n--XyZnot-a-boundary\r\n-- XyZ";
    assert_int_equal(parts[1].len, sizeof(data1) - 1);
    assert_memory_equal(parts[1].data, data1, parts[1].len);

    assert_string_equal(parts[2].name, "files[1]");
    assert_string_equal(parts[2].filename, "\xe2\x82\xac rates.txt"); /* filename* wins */
    assert_string_equal(parts[2].content_type, "");
    assert_int_equal(parts[2].len, 2); /* "\r\n" is data */
}

static void test_parse_edges(void **state)
{
    (void)state;
    struct capi_part parts[4];
    const char *why;
    /* No parts at all. */
    assert_int_equal(parse(BODY("--XyZ--\r\n"), parts, 4, &why), 0);
    /* A part without headers; an empty part. */
    assert_int_equal(
        parse(BODY("--XyZ\r\n\r\nraw\r\n--XyZ\r\nX: y\r\n\r\n\r\n--XyZ--"), parts, 4, &why), 2);
    assert_string_equal(parts[0].name, "");
    assert_int_equal(parts[0].len, 3);
    assert_int_equal(parts[1].len, 0);
    /* Binary data with NULs. */
    static const char bin[] = "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n"
                              "\0\1\2\r\n\0\r\n--XyZ--";
    assert_int_equal(parse(BODY(bin), parts, 4, &why), 1);
    assert_int_equal(parts[0].len, 6);
    assert_memory_equal(parts[0].data, "\0\1\2\r\n\0", 6);
    /* A first line that only looks like the delimiter is preamble. */
    assert_int_equal(parse(BODY("--XyZgarbage\r\n\r\nx\r\n--XyZ--"), parts, 4, &why), 0);
    /* Names and filenames longer than their fields are cut, not overflowed. */
    char big[2048];
    char name[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    int len = snprintf(big, sizeof(big),
                       "--XyZ\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                       "Content-Type: %s\r\n\r\nx\r\n--XyZ--",
                       name, name, name);
    assert_int_equal(parse(big, (size_t)len, parts, 4, &why), 1);
    assert_int_equal(strlen(parts[0].name), sizeof(parts[0].name) - 1);
    assert_int_equal(strlen(parts[0].filename), sizeof(parts[0].filename) - 1);
    assert_int_equal(strlen(parts[0].content_type), sizeof(parts[0].content_type) - 1);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    struct capi_part parts[2];
    const char *why;
    const struct {
        const char *body;
        size_t len;
    } bad[] = {
        {BODY("")},
        {BODY("no boundary here")},
        {BODY("--XyZ")},                          /* nothing after the delimiter */
        {BODY("--XyZ\r\nContent-Type: a/b\r\n")}, /* headers never end */
        {BODY("--XyZ\r\n\r\nunclosed data")},     /* no closing delimiter */
        {BODY("--XyZ\r\n\r\ndata\r\n--XyZ")},     /* delimiter, then nothing */
        {BODY("--XyZgarbage\r\n\r\nx\r\n--XyZ")}, /* no real delimiter at all */
        {BODY("--XyZ\r\n\r\na\r\n--XyZ\r\n\r\nb\r\n--XyZ\r\n\r\nc\r\n--XyZ--")}, /* > max */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        if (capi_multipart_parse(bad[i].body, bad[i].len, "XyZ", parts, 2, &why) >= 0)
            fail_msg("malformed body %zu accepted", i);
        assert_non_null(why);
    }
    /* A header block over 8 KiB. */
    size_t n = 9000;
    char *body = malloc(n + 64);
    int off = sprintf(body, "--XyZ\r\nX: ");
    memset(body + off, 'a', n);
    off += (int)n;
    off += sprintf(body + off, "\r\n\r\nx\r\n--XyZ--");
    assert_int_equal(capi_multipart_parse(body, (size_t)off, "XyZ", parts, 2, &why), -1);
    free(body);
    /* A bad boundary argument. */
    assert_int_equal(capi_multipart_parse("--\r\n", 4, "", parts, 2, &why), -1);
}

/* Mutations of a valid body (bytes flipped, cut short, spliced): the parser answers a
 * count or -1, and every part it reports lies inside the body. Under ASan this also
 * proves it never reads outside it. */
static void test_parse_mutations(void **state)
{
    (void)state;
    static const char seed[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{}\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a\\\"b\"; "
        "filename*=utf-8''%41%4\r\nContent-Type: x/y\r\n\r\nDATA\r\n--XyZ--\r\n";
    const size_t n = sizeof(seed) - 1;
    const char alphabet[] = "-\r\n\"\\;=:%XyZ a";
    uint32_t rng = 12345;
    struct capi_part parts[4];
    for (int round = 0; round < 20000; round++) {
        char *body = malloc(n);
        memcpy(body, seed, n);
        size_t len = n;
        for (int k = 0; k < 1 + round % 4; k++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 8) % len;
            rng = rng * 1103515245u + 12345u;
            body[at] = alphabet[(rng >> 8) % (sizeof(alphabet) - 1)];
        }
        if (round % 3 == 0) {
            rng = rng * 1103515245u + 12345u;
            len = (rng >> 8) % (n + 1);
        }
        const char *why = NULL;
        int got = capi_multipart_parse(body, len, "XyZ", parts, 4, &why);
        assert_true(got >= -1 && got <= 4);
        if (got < 0)
            assert_non_null(why);
        for (int i = 0; i < got; i++) {
            assert_true(parts[i].data >= body && parts[i].data + parts[i].len <= body + len);
            assert_true(strlen(parts[i].name) < sizeof(parts[i].name));
        }
        free(body);
    }
}

/* File names as browsers send them: Windows paths with bare backslashes (only \" and \\
 * are escapes), and a NUL, which must stay a character for the sanitiser to replace. */
static void test_filename_bytes(void **state)
{
    (void)state;
    struct capi_part parts[4];
    const char *why;
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"files[0]\"; "
                               "filename=\"C:\\dir\\f.txt\"\r\n\r\nA\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=\"files[1]\"; "
                               "filename=\"a\\\\b\\\"c\"\r\n\r\nB\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=\"files[2]\"; "
                               "filename=\"a\0b.txt\"\r\n\r\nC\r\n"
                               "--XyZ\r\nContent-Disposition: form-data; name=\"files[3]\"; "
                               "filename=x\0y\r\n\r\nD\r\n--XyZ--\r\n";
    assert_int_equal(parse(body, sizeof(body) - 1, parts, 4, &why), 4);
    assert_string_equal(parts[0].filename, "C:\\dir\\f.txt");
    assert_string_equal(parts[1].filename, "a\\b\"c");
    assert_string_equal(parts[2].filename, "a\x7f"
                                           "b.txt");
    assert_string_equal(parts[3].filename, "x\x7fy");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),        cmocka_unit_test(test_parse_typical),
        cmocka_unit_test(test_parse_edges),     cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_mutations), cmocka_unit_test(test_filename_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
