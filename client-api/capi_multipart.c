/*
 * multipart/form-data (RFC 7578 over RFC 2046). DESIGN: the body is already complete and
 * bounded, so the parser is a few memmem calls over it rather than a streaming state
 * machine: find "--boundary", read the part's header block up to the blank line, find the
 * next "\r\n--boundary" that is followed by "--" or a line end (a look-alike inside the
 * data is data); the data between is the part. Everything a client controls that
 * is copied (names, filenames, types) is bounded by the fixed fields of capi_part.
 */
#include "capi_multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HEADER_BLOCK_MAX 8192

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/*
 * Reads a parameter value (quoted string or token) at p into out; returns the end. A
 * backslash escapes only a quote or a backslash: browsers send Windows paths unescaped
 * ("C:\\dir\\f.txt"), and the file name sanitiser needs their separators. A NUL byte
 * becomes DEL, so that it is one more character the sanitiser replaces rather than the end
 * of the name.
 */
static const char *read_value(const char *p, const char *end, char *out, size_t outlen)
{
    size_t n = 0;
    if (p < end && *p == '"') {
        p++;
        while (p < end && *p != '"') {
            if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
                p++;
            if (n + 1 < outlen)
                out[n++] = *p ? *p : '\x7f';
            p++;
        }
        if (p < end)
            p++; /* the closing quote */
    } else {
        while (p < end && *p != ';' && *p != ' ' && *p != '\t') {
            if (n + 1 < outlen)
                out[n++] = *p ? *p : '\x7f';
            p++;
        }
    }
    out[n] = '\0';
    return p;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 5987 ext-value "UTF-8''%e2%82%ac.txt" decoded in place; 0 when it is not one. */
static int decode_ext_value(char *v)
{
    char *q = strstr(v, "''");
    if (!q || strncasecmp(v, "utf-8", 5) != 0)
        return 0;
    char *in = q + 2, *o = v;
    while (*in) {
        int hi, lo;
        if (*in == '%' && (hi = hexval((unsigned char)in[1])) >= 0 &&
            (lo = hexval((unsigned char)in[2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            in += 3;
        } else {
            *o++ = *in++;
        }
    }
    *o = '\0';
    return 1;
}

/* Content-Disposition: form-data; name="x"; filename="y"; filename*=UTF-8''y */
/* Copies src into dst of cap bytes, cutting it short when it does not fit. */
static void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void parse_disposition(const char *p, const char *end, struct capi_part *part)
{
    int have_ext = 0;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            break;
        p = skip_ws(semi + 1, end);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            break;
        size_t klen = (size_t)(eq - p);
        while (klen && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
            klen--;
        const char *v = skip_ws(eq + 1, end);
        char value[sizeof(part->filename)];
        const char *next = read_value(v, end, value, sizeof(value));
        if (klen == 4 && strncasecmp(p, "name", 4) == 0) {
            copy_trunc(part->name, sizeof(part->name), value);
        } else if (klen == 8 && strncasecmp(p, "filename", 8) == 0) {
            part->has_filename = 1;
            if (!have_ext)
                copy_trunc(part->filename, sizeof(part->filename), value);
        } else if (klen == 9 && strncasecmp(p, "filename*", 9) == 0 && decode_ext_value(value)) {
            part->has_filename = have_ext = 1;
            copy_trunc(part->filename, sizeof(part->filename), value);
        }
        p = next;
    }
}

/* Parses the header block [p, end) of one part. */
static void parse_headers(const char *p, const char *end, struct capi_part *part)
{
    while (p < end) {
        const char *eol = p;
        while (eol < end && !(eol + 1 < end && eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nlen = (size_t)(colon - p);
            const char *v = skip_ws(colon + 1, eol);
            if (nlen == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
                parse_disposition(v, eol, part);
            } else if (nlen == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
                size_t vlen = (size_t)(eol - v);
                while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                    vlen--;
                if (vlen >= sizeof(part->content_type))
                    vlen = sizeof(part->content_type) - 1;
                memcpy(part->content_type, v, vlen);
                part->content_type[vlen] = '\0';
            }
        }
        p = eol + 2;
    }
}

int capi_multipart_boundary(const char *content_type, char out[CAPI_MULTIPART_BOUNDARY_MAX + 1])
{
    if (!content_type)
        return -1;
    const char *p = content_type;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "multipart/form-data", 19) != 0)
        return -1;
    p += 19;
    while (*p) {
        const char *semi = strchr(p, ';');
        if (!semi)
            break;
        p = semi + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) == 0) {
            char value[CAPI_MULTIPART_BOUNDARY_MAX + 2];
            read_value(p + 9, p + strlen(p), value, sizeof(value));
            size_t n = strlen(value);
            if (n == 0 || n > CAPI_MULTIPART_BOUNDARY_MAX)
                return -1;
            memcpy(out, value, n + 1);
            return 0;
        }
    }
    return -1;
}

/* Whether a delimiter ending at p is a real one: followed by "--" (the close) or by
 * optional padding and CRLF. Anything else is data that merely looks like one. */
static int delimiter_ends(const char *p, const char *end)
{
    if (end - p >= 2 && p[0] == '-' && p[1] == '-')
        return 1;
    p = skip_ws(p, end);
    return end - p >= 2 && p[0] == '\r' && p[1] == '\n';
}

/* The next "\r\n--boundary" delimiter in [p, end), or NULL. */
static const char *find_delimiter(const char *p, const char *end, const char *delim, size_t dlen)
{
    while (p < end) {
        const char *d = memmem(p, (size_t)(end - p), delim, dlen);
        if (!d || delimiter_ends(d + dlen, end))
            return d;
        p = d + 1;
    }
    return NULL;
}

int capi_multipart_parse(const char *body, size_t len, const char *boundary,
                         struct capi_part *parts, int max, const char **why)
{
    char delim[CAPI_MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > CAPI_MULTIPART_BOUNDARY_MAX) {
        *why = "bad boundary";
        return -1;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;
    const char *end = body + len;

    /* The first delimiter opens the body, or ends a preamble line. */
    const char *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0 &&
        delimiter_ends(body + dlen - 2, end)) {
        p = body + dlen - 2;
    } else {
        p = find_delimiter(body, end, delim, dlen);
        if (!p) {
            *why = "no multipart boundary in the body";
            return -1;
        }
        p += dlen;
    }
    int n = 0;
    for (;;) {
        /* After a delimiter: "--" closes the body, else optional padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return n;
        p = skip_ws(p, end) + 2;
        if (n == max) {
            *why = "too many multipart parts";
            return -1;
        }
        size_t room = (size_t)(end - p);
        const char *hdr_end, *data;
        if (room >= 2 && p[0] == '\r' && p[1] == '\n') {
            hdr_end = p; /* no headers at all */
            data = p + 2;
        } else {
            hdr_end = memmem(p, room < HEADER_BLOCK_MAX ? room : HEADER_BLOCK_MAX, "\r\n\r\n", 4);
            if (!hdr_end) {
                *why = "multipart part headers missing or too long";
                return -1;
            }
            data = hdr_end + 4;
        }
        struct capi_part *part = &parts[n];
        memset(part, 0, sizeof(*part));
        parse_headers(p, hdr_end, part);
        const char *next = find_delimiter(data, end, delim, dlen);
        if (!next) {
            *why = "multipart body not closed";
            return -1;
        }
        part->data = data;
        part->len = (size_t)(next - data);
        n++;
        p = next + dlen;
    }
}
