/*
 * Unit tests for hs_attachments.h (spec/rest-messages.md §8): filename sanitising (path
 * traversal, separators, quotes, control bytes, lengths), content-type normalising,
 * sniffing and the inline-or-download decision, image dimensions from headers, and the
 * content-addressed store on a temporary data directory (path layout, deduplication, no
 * temporary files left behind, bad digests refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>

#include "hs_attachments.h"
#include "hs_util.h"

#include "testkit.h"

static void test_filename_sanitising(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"photo.png", "photo.png"},
        {"../../etc/passwd", "passwd"},
        {"..\\..\\windows\\win.ini", "win.ini"},
        {"/absolute/path/x.txt", "x.txt"},
        {"dir/", "unknown"},
        {"..", "unknown"},
        {".", "unknown"},
        {"...", "unknown"},
        {".htaccess", "htaccess"},
        {"", "unknown"},
        {NULL, "unknown"},
        {"a b  c.txt", "a_b_c.txt"},
        {"quote\"semi;colon.txt", "quote_semi_colon.txt"},
        {"new\r\nline.txt", "new_line.txt"},
        {"caf\xC3\xA9.png", "caf_.png"},
        {"\xE6\x97\xA5\xE6\x9C\xAC.txt", "_.txt"},
        {"%2e%2e%2fx", "_2e_2e_2fx"},
        {"under_score-dash.tar.gz", "under_score-dash.tar.gz"},
        {"nul\001byte", "nul_byte"},
        {"___", "___"},
        {"?", "unknown"},
    };
    for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
        char out[HS_ATTACHMENT_FILENAME_MAX + 1];
        hs_attachment_filename(cases[i].in, out, sizeof(out));
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("'%s' -> '%s', expected '%s'", cases[i].in ? cases[i].in : "(null)", out,
                     cases[i].out);
    }
    /* Long names are cut to the limit, or to a smaller buffer. */
    char longname[600], out[HS_ATTACHMENT_FILENAME_MAX + 1], small[16];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    hs_attachment_filename(longname, out, sizeof(out));
    assert_int_equal(strlen(out), HS_ATTACHMENT_FILENAME_MAX);
    hs_attachment_filename(longname, small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_content_type(void **state)
{
    (void)state;
    char out[HS_CONTENT_TYPE_MAX + 1];
    assert_string_equal(hs_attachment_content_type("image/png", out, sizeof(out)), "image/png");
    assert_string_equal(hs_attachment_content_type("  Image/PNG; charset=x", out, sizeof(out)),
                        "image/png");
    assert_string_equal(hs_attachment_content_type("text/plain;charset=utf-8", out, sizeof(out)),
                        "text/plain");
    assert_string_equal(hs_attachment_content_type("application/vnd.a+json", out, sizeof(out)),
                        "application/vnd.a+json");
    const char *bad[] = {NULL,           "",           "image",       "/png",           "image/",
                         "image/png/x",  "ima ge/png", "image/p\"ng", "image/<script>", "a\r\nb/c",
                         "text/html\x01"};
    for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++)
        if (hs_attachment_content_type(bad[i], out, sizeof(out)))
            fail_msg("content type %zu accepted as '%s'", i, out);
    char huge[300];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    huge[5] = '/';
    assert_null(hs_attachment_content_type(huge, out, sizeof(out)));
}

static const unsigned char PNG[] = {0x89, 'P', 'N',  'G',  '\r', '\n', 0x1a, '\n', 0,    0,
                                    0,    13,  'I',  'H',  'D',  'R',  0,    0,    0x01, 0x40,
                                    0,    0,   0x00, 0xF0, 8,    6,    0,    0,    0};
static const unsigned char GIF[] = {'G', 'I', 'F', '8', '9', 'a', 0x20, 0x03, 0x58, 0x02, 0};
/* SOI, an APP0 segment, then SOF0 with height 480 and width 640. */
static const unsigned char JPEG[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 'J',  'F',  0xff,
                                     0xc0, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 0x03};

static void test_sniff_and_dimensions(void **state)
{
    (void)state;
    int w, h;
    assert_string_equal(hs_attachment_sniff(PNG, sizeof(PNG)), "image/png");
    hs_attachment_dimensions(PNG, sizeof(PNG), &w, &h);
    assert_int_equal(w, 320);
    assert_int_equal(h, 240);
    assert_string_equal(hs_attachment_sniff(GIF, sizeof(GIF)), "image/gif");
    hs_attachment_dimensions(GIF, sizeof(GIF), &w, &h);
    assert_int_equal(w, 800);
    assert_int_equal(h, 600);
    assert_string_equal(hs_attachment_sniff(JPEG, sizeof(JPEG)), "image/jpeg");
    hs_attachment_dimensions(JPEG, sizeof(JPEG), &w, &h);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);

    unsigned char webp[32] = "RIFF\0\0\0\0WEBPVP8X";
    webp[24] = 99; /* width - 1 = 99 */
    webp[27] = 49; /* height - 1 = 49 */
    assert_string_equal(hs_attachment_sniff(webp, sizeof(webp)), "image/webp");
    hs_attachment_dimensions(webp, sizeof(webp), &w, &h);
    assert_int_equal(w, 100);
    assert_int_equal(h, 50);
    unsigned char lossless[32] = "RIFF\0\0\0\0WEBPVP8L";
    uint32_t bits = (uint32_t)(16 - 1) | (uint32_t)(9 - 1) << 14;
    lossless[20] = 0x2f;
    memcpy(lossless + 21, &bits, 4); /* little-endian host, as the format */
    hs_attachment_dimensions(lossless, sizeof(lossless), &w, &h);
    assert_int_equal(w, 16);
    assert_int_equal(h, 9);

    /* Truncated or lying headers: no dimensions, no overread (ASan would see it). */
    hs_attachment_dimensions(PNG, 20, &w, &h);
    assert_int_equal(w + h, 0);
    hs_attachment_dimensions(JPEG, 9, &w, &h);
    assert_int_equal(w + h, 0);
    unsigned char jpeg_loop[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0xff, 0xe0,
                                 0x00, 0x00, 0xff, 0xe0, 0x00, 0x00, 0x00, 0x00};
    hs_attachment_dimensions(jpeg_loop, sizeof(jpeg_loop), &w, &h);
    assert_int_equal(w + h, 0);
    hs_attachment_dimensions("hello", 5, &w, &h);
    assert_int_equal(w + h, 0);

    assert_string_equal(hs_attachment_sniff("RIFF\0\0\0\0WAVEfmt ", 16), "audio/wav");
    assert_string_equal(hs_attachment_sniff("\0\0\0\x18"
                                            "ftypmp42",
                                            12),
                        "video/mp4");
    assert_string_equal(hs_attachment_sniff("\x1a\x45\xdf\xa3", 4), "video/webm");
    assert_string_equal(hs_attachment_sniff("OggS\0", 5), "audio/ogg");
    assert_string_equal(hs_attachment_sniff("ID3\x04", 4), "audio/mpeg");
    assert_null(hs_attachment_sniff("<html>", 6));
    assert_null(hs_attachment_sniff("<svg xmlns=", 11));
    assert_null(hs_attachment_sniff("", 0));
    assert_null(hs_attachment_sniff("\x89PNG", 4)); /* too short to be sure */
}

static void test_inline_decision(void **state)
{
    (void)state;
    /* Declared and true: inline. */
    assert_string_equal(hs_attachment_inline_type("image/png", PNG, sizeof(PNG)), "image/png");
    assert_string_equal(hs_attachment_inline_type("text/plain", "hello", 5),
                        "text/plain; charset=utf-8");
    /* Declared but false, undeclared, or unsafe whatever the bytes: a download. */
    assert_null(hs_attachment_inline_type("image/png", "<html>", 6));
    assert_null(hs_attachment_inline_type("image/jpeg", PNG, sizeof(PNG)));
    assert_null(hs_attachment_inline_type(NULL, PNG, sizeof(PNG)));
    assert_null(hs_attachment_inline_type("text/html", "<html>", 6));
    assert_null(hs_attachment_inline_type("image/svg+xml", "<svg>", 5));
    assert_null(hs_attachment_inline_type("application/octet-stream", PNG, sizeof(PNG)));
    assert_null(hs_attachment_inline_type("text/plain", "bin\0ary", 7));
}

/* ---- the store ---- */

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_store(void **state)
{
    (void)state;
    char dir[TK_DIR_MAX];
    tk_tempdir(dir, "attach");
    char sha[65], sha2[65];
    hs_error err;
    const char data[] = "hello, attachments";
    assert_int_equal(hs_attachment_store(dir, data, strlen(data), sha, &err), 0);
    /* sha256("hello, attachments") */
    assert_int_equal(strlen(sha), 64);
    char *path = hs_attachment_path(dir, sha);
    assert_non_null(path);
    char expect[256];
    snprintf(expect, sizeof(expect), "%s/attachments/%.2s/%s", dir, sha, sha + 2);
    assert_string_equal(path, expect);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[64] = "";
    size_t got = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_int_equal(got, strlen(data));
    assert_memory_equal(buf, data, got);
    /* The same bytes again: the same file, still one. */
    assert_int_equal(hs_attachment_store(dir, data, strlen(data), sha2, &err), 0);
    assert_string_equal(sha, sha2);
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/attachments/%.2s", dir, sha);
    assert_int_equal(count_entries(sub), 1);
    /* An empty file is a file too; no temporary files remain. */
    assert_int_equal(hs_attachment_store(dir, "", 0, sha2, &err), 0);
    assert_string_equal(sha2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    snprintf(sub, sizeof(sub), "%s/attachments", dir);
    DIR *d = opendir(sub);
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, ".upload-", 8) == 0)
            fail_msg("temporary file left: %s", e->d_name);
    closedir(d);
    free(path);
    /* Digests that are no digests make no path. */
    assert_null(hs_attachment_path(dir, "../../etc/passwd"));
    assert_null(hs_attachment_path(dir, NULL));
    assert_null(hs_attachment_path(
        dir, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    assert_null(hs_attachment_path(dir, "e3b0"));
    /* A data directory that cannot be written: an I/O error, not a crash. */
    assert_int_equal(hs_attachment_store("/proc/nonexistent", data, 3, sha2, &err), HS_EIO);
    tk_rmtree(dir);
}

/* Random bytes behind real magic numbers: dimensions never read past the buffer (ASan)
 * and are never negative. */
static void test_dimensions_random(void **state)
{
    (void)state;
    static const char *const magic[] = {
        "\x89PNG\r\n\x1a\n",    "\xff\xd8\xff",         "GIF89a",
        "RIFF\0\0\0\0WEBPVP8X", "RIFF\0\0\0\0WEBPVP8L", "RIFF\0\0\0\0WEBPVP8 "};
    static const size_t magic_len[] = {8, 3, 6, 16, 16, 16};
    uint32_t rng = 99;
    for (int round = 0; round < 30000; round++) {
        size_t m = (size_t)round % 6;
        rng = rng * 1103515245u + 12345u;
        size_t len = magic_len[m] + (rng >> 8) % 40;
        unsigned char *buf = malloc(len);
        memcpy(buf, magic[m], magic_len[m]);
        for (size_t i = magic_len[m]; i < len; i++) {
            rng = rng * 1103515245u + 12345u;
            buf[i] = (unsigned char)((rng >> 16) & 0xff);
        }
        int w = -1, h = -1;
        hs_attachment_dimensions(buf, len, &w, &h);
        assert_true(w >= 0 && h >= 0);
        assert_true((w == 0) == (h == 0));
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filename_sanitising),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_sniff_and_dimensions),
        cmocka_unit_test(test_inline_decision),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_dimensions_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
