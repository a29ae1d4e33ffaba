/*
 * capi_multipart.h: a parser for multipart/form-data bodies (RFC 7578), the form Discord
 * clients use to send files with a message (`payload_json` plus `files[n]` parts).
 *
 * The parser works on a complete body held in memory (bounded by max-upload-bytes before
 * it is called) and copies nothing big: each part's data points into the body. Names,
 * filenames and content types are copied, bounded and unquoted, into the part. It is a
 * pure function: any thread.
 */
#ifndef CAPI_MULTIPART_H
#define CAPI_MULTIPART_H

#include <stddef.h>

#define CAPI_MULTIPART_MAX_PARTS 32
#define CAPI_MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */

struct capi_part {
    char name[64];          /* the form field name, truncated to 63 bytes */
    char filename[256];     /* the client's filename (filename* preferred), truncated */
    int has_filename;       /* a filename parameter was present: the part is a file */
    char content_type[128]; /* as sent (not normalised), "" when absent */
    const char *data;       /* borrowed from the body */
    size_t len;
};

/* Extracts the boundary parameter of a multipart/form-data Content-Type value into out.
 * Returns 0, or -1 when the value is not multipart/form-data with a valid boundary. */
int capi_multipart_boundary(const char *content_type, char out[CAPI_MULTIPART_BOUNDARY_MAX + 1]);

/*
 * Splits body (len bytes) into at most max parts. Returns the number of parts, or -1 when
 * the body is malformed (no opening or closing delimiter, a part without its header block,
 * a header block over 8 KiB, more than max parts); *why then says what, for the client.
 */
int capi_multipart_parse(const char *body, size_t len, const char *boundary,
                         struct capi_part *parts, int max, const char **why);

#endif
