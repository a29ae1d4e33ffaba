/*
 * Attachment files (spec/rest-messages.md §8). DESIGN: see hs_attachments.h. Durability
 * follows the usual recipe for a file that must exist once something points at it:
 * write a temporary file in the same file system, fsync it, rename it over its final
 * name (atomic: readers see nothing or everything), then fsync the directory so the
 * rename itself survives a power loss. Serving trusts neither the client's type nor its
 * filename: a type is sent as such only if it is on a short list of types browsers
 * render harmlessly and the bytes agree; everything else is a download.
 */
#include "hs_attachments.h"
#include "hs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir that tolerates an existing directory; *created says whether it made one. */
static int ensure_dir(const char *path, int *created)
{
    *created = 0;
    if (mkdir(path, 0700) == 0) {
        *created = 1;
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

char *hs_attachment_path(const char *data_dir, const char *sha256_hex)
{
    if (!is_hex64(sha256_hex))
        return NULL;
    return hs_xasprintf("%s/attachments/%.2s/%s", data_dir, sha256_hex, sha256_hex + 2);
}

int hs_attachment_store(const char *data_dir, const void *data, size_t len, char sha256_hex[65],
                        hs_error *err)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, len);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(sha256_hex + 2 * i, 3, "%02x", digest[i]);

    int rc = 0, fd = -1, made_root, made_dir;
    char *root = hs_xasprintf("%s/attachments", data_dir);
    char *dir = hs_xasprintf("%s/%.2s", root, sha256_hex);
    char *final = hs_attachment_path(data_dir, sha256_hex);
    char *tmp = hs_xasprintf("%s/.upload-XXXXXX", root);
    struct stat st;

    if (ensure_dir(root, &made_root) < 0 || ensure_dir(dir, &made_dir) < 0) {
        rc = hs_error_set(err, HS_EIO, "cannot create the attachments directory: %s",
                          strerror(errno));
        goto out;
    }
    /* Content-addressed: a complete file of that name is this very content already. */
    if (stat(final, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
        goto out;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = hs_error_set(err, HS_EIO, "cannot create an upload file: %s", strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        rc = hs_error_set(err, HS_EIO, "cannot write an upload: %s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, final) < 0) {
        rc = hs_error_set(err, HS_EIO, "cannot store an upload: %s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (fsync_dir(dir) < 0 || ((made_dir || made_root) && fsync_dir(root) < 0) ||
        (made_root && fsync_dir(data_dir) < 0))
        rc =
            hs_error_set(err, HS_EIO, "cannot sync the attachments directory: %s", strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    free(root);
    free(dir);
    free(final);
    free(tmp);
    return rc;
}

static int safe_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

void hs_attachment_filename(const char *in, char *out, size_t outlen)
{
    HS_ASSERT(outlen >= 16);
    size_t max = outlen - 1 < HS_ATTACHMENT_FILENAME_MAX ? outlen - 1 : HS_ATTACHMENT_FILENAME_MAX;
    const char *base = in ? in : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)base; *p && n < max; p++) {
        if (safe_name_char(*p)) {
            if (*p == '.' && n == 0)
                continue; /* no leading dots: never ".", ".." or a hidden name */
            out[n++] = (char)*p;
        } else if (n == 0 || out[n - 1] != '_') {
            out[n++] = '_';
        }
    }
    out[n] = '\0';
    if (n == 0 || strcmp(out, "_") == 0)
        snprintf(out, outlen, "unknown");
}

static int token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$&-^_.+", c);
}

const char *hs_attachment_content_type(const char *in, char *out, size_t outlen)
{
    if (!in)
        return NULL;
    while (*in == ' ' || *in == '\t')
        in++;
    size_t n = 0;
    int slash = 0;
    for (const char *p = in; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c == '/') {
            if (slash++ || n == 0)
                return NULL;
        } else if (!token_char(c)) {
            return NULL;
        }
        if (n + 1 >= outlen || n >= HS_CONTENT_TYPE_MAX)
            return NULL;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (slash != 1 || out[n - 1] == '/')
        return NULL;
    return out;
}

static int starts(const unsigned char *h, size_t len, size_t off, const char *magic, size_t mlen)
{
    return len >= off + mlen && memcmp(h + off, magic, mlen) == 0;
}

const char *hs_attachment_sniff(const void *head, size_t len)
{
    const unsigned char *h = head;
    if (starts(h, len, 0, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (starts(h, len, 0, "\xff\xd8\xff", 3))
        return "image/jpeg";
    if (starts(h, len, 0, "GIF87a", 6) || starts(h, len, 0, "GIF89a", 6))
        return "image/gif";
    if (starts(h, len, 0, "RIFF", 4) && starts(h, len, 8, "WEBP", 4))
        return "image/webp";
    if (starts(h, len, 0, "RIFF", 4) && starts(h, len, 8, "WAVE", 4))
        return "audio/wav";
    if (starts(h, len, 4, "ftyp", 4))
        return "video/mp4";
    if (starts(h, len, 0, "\x1a\x45\xdf\xa3", 4))
        return "video/webm";
    if (starts(h, len, 0, "OggS", 4))
        return "audio/ogg";
    if (starts(h, len, 0, "ID3", 3) || (len >= 2 && h[0] == 0xff && (h[1] & 0xe0) == 0xe0))
        return "audio/mpeg";
    return NULL;
}

const char *hs_attachment_inline_type(const char *declared, const void *head, size_t len)
{
    if (!declared)
        return NULL;
    if (strcmp(declared, "text/plain") == 0)
        return memchr(head, 0, len) ? NULL : "text/plain; charset=utf-8";
    const char *sniffed = hs_attachment_sniff(head, len);
    return sniffed && strcmp(sniffed, declared) == 0 ? sniffed : NULL;
}

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[1] << 8 | p[0];
}

static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* JPEG: the first start-of-frame marker holds the size; walk the segments to it. */
static void jpeg_dimensions(const unsigned char *d, size_t len, int *w, int *h)
{
    size_t i = 2;
    while (i + 9 < len) {
        if (d[i] != 0xff) {
            i++;
            continue;
        }
        unsigned char m = d[i + 1];
        if (m == 0xff) {
            i++;
            continue;
        }
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            *h = (int)be16(d + i + 5);
            *w = (int)be16(d + i + 7);
            return;
        }
        if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
            i += 2; /* markers without a length */
            continue;
        }
        i += 2 + be16(d + i + 2);
    }
}

void hs_attachment_dimensions(const void *data, size_t len, int *width, int *height)
{
    const unsigned char *d = data;
    const char *type = hs_attachment_sniff(data, len);
    *width = *height = 0;
    if (!type)
        return;
    if (strcmp(type, "image/png") == 0 && len >= 24 && memcmp(d + 12, "IHDR", 4) == 0) {
        unsigned long w = be32(d + 16), h = be32(d + 20);
        if (w <= 1000000 && h <= 1000000) {
            *width = (int)w;
            *height = (int)h;
        }
    } else if (strcmp(type, "image/gif") == 0 && len >= 10) {
        *width = (int)le16(d + 6);
        *height = (int)le16(d + 8);
    } else if (strcmp(type, "image/jpeg") == 0) {
        jpeg_dimensions(d, len, width, height);
    } else if (strcmp(type, "image/webp") == 0 && len >= 30) {
        if (memcmp(d + 12, "VP8X", 4) == 0) {
            *width = (int)(1 + (d[24] | d[25] << 8 | d[26] << 16));
            *height = (int)(1 + (d[27] | d[28] << 8 | d[29] << 16));
        } else if (memcmp(d + 12, "VP8L", 4) == 0 && d[20] == 0x2f) {
            unsigned long bits = (unsigned long)d[21] | (unsigned long)d[22] << 8 |
                                 (unsigned long)d[23] << 16 | (unsigned long)d[24] << 24;
            *width = (int)(1 + (bits & 0x3fff));
            *height = (int)(1 + ((bits >> 14) & 0x3fff));
        } else if (memcmp(d + 12, "VP8 ", 4) == 0) {
            *width = (int)(le16(d + 26) & 0x3fff);
            *height = (int)(le16(d + 28) & 0x3fff);
        }
    }
    if (*width <= 0 || *height <= 0)
        *width = *height = 0;
}

int hs_attachment_get(hs_db *db, uint64_t channel_id, uint64_t attachment_id,
                      struct hs_attachment *out, hs_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = hs_db_stmt(
        db, "SELECT a.sha256, a.filename, a.content_type, a.size, a.message_id FROM attachments a "
            "WHERE a.id = ? AND a.channel_id = ? AND EXISTS (SELECT 1 FROM messages m WHERE "
            "m.channel_id = a.channel_id AND m.id = a.message_id)");
    hs_bind_id(s, 1, attachment_id);
    hs_bind_id(s, 2, channel_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        const char *sha = hs_col_text(s, 0);
        found = is_hex64(sha);
        if (found) {
            memcpy(out->sha256, sha, 65);
            out->id = attachment_id;
            out->channel_id = channel_id;
            out->filename = hs_xstrdup(hs_col_text(s, 1) ? hs_col_text(s, 1) : "unknown");
            out->content_type = hs_col_text(s, 2) ? hs_xstrdup(hs_col_text(s, 2)) : NULL;
            out->size = (uint64_t)sqlite3_column_int64(s, 3);
            out->message_id = hs_col_id(s, 4);
        }
    }
    sqlite3_reset(s);
    if (!found)
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_ATTACHMENT, "Unknown Attachment");
    return 0;
}

void hs_attachment_release(struct hs_attachment *a)
{
    free(a->filename);
    free(a->content_type);
    a->filename = a->content_type = NULL;
}
