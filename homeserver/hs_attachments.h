/*
 * hs_attachments.h: the files attached to messages (spec/rest-messages.md §8).
 *
 * Files are stored content-addressed under DATA_DIR/attachments/ab/cdef..., named by the
 * SHA-256 of their bytes (the first two hex digits are a directory), so a file uploaded
 * twice is stored once and a name can never be chosen by a client. A file is written to a
 * temporary name, fsynced, renamed into place and its directory fsynced before the
 * message that points at it is committed: an acknowledged message never points at a
 * missing file. The client's filename is only ever data (sanitised for URLs and headers),
 * never part of a path.
 *
 * The attachments table maps an attachment id to its channel, message and file; a message
 * that is deleted (or an attachment an edit drops) loses its rows, which makes the file
 * unreachable through the API. Files are not removed from disk (they may be shared).
 *
 * hs_attachment_store blocks (disk writes and fsync): call it from a pool thread. The
 * rest may run on any thread.
 */
#ifndef HS_ATTACHMENTS_H
#define HS_ATTACHMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "hs_error.h"
#include "hs_store.h"

#define HS_ATTACHMENT_FILENAME_MAX 128 /* bytes of a sanitised filename */
#define HS_CONTENT_TYPE_MAX 127

/*
 * Blocking. Stores len bytes content-addressed under data_dir and writes the SHA-256 (64
 * lower-case hex digits) to sha256_hex. Returns 0 once the file is durable, or HS_EIO.
 */
int hs_attachment_store(const char *data_dir, const void *data, size_t len, char sha256_hex[65],
                        hs_error *err);

/* The path of a stored file: new string (free with free()), NULL when sha256_hex is not 64
 * lower-case hex digits. */
char *hs_attachment_path(const char *data_dir, const char *sha256_hex);

/*
 * Sanitises a client's filename into out (outlen >= 16): the part after the last '/' or
 * '\', with anything but ASCII letters, digits, '.', '-' and '_' replaced by '_' (runs of
 * them by one), leading dots removed, at most HS_ATTACHMENT_FILENAME_MAX bytes; "unknown"
 * when nothing is left. The result is safe in a URL path segment and a quoted header.
 */
void hs_attachment_filename(const char *in, char *out, size_t outlen);

/*
 * Normalises a declared Content-Type ("Image/PNG; charset=x" -> "image/png") into out
 * (outlen > HS_CONTENT_TYPE_MAX). Returns out, or NULL when in is absent or not a
 * type/subtype of token characters.
 */
const char *hs_attachment_content_type(const char *in, char *out, size_t outlen);

/* What the first bytes of a file are, among the types Hearth serves inline (image/png,
 * image/jpeg, image/gif, image/webp, video/mp4, video/webm, audio/mpeg, audio/ogg,
 * audio/wav); NULL when none. */
const char *hs_attachment_sniff(const void *head, size_t len);

/* An image's width and height from its header (PNG, GIF, JPEG, WebP); 0 when unknown. */
void hs_attachment_dimensions(const void *data, size_t len, int *width, int *height);

/*
 * How to serve a file declared as `declared` whose first bytes are head: the Content-Type
 * to send inline when the declared type is on the safe list and the bytes are what it says
 * (text/plain: no NUL in head), else NULL, meaning application/octet-stream as a download.
 */
const char *hs_attachment_inline_type(const char *declared, const void *head, size_t len);

/* One attachment, for serving it. Strings are owned (hs_attachment_release). */
struct hs_attachment {
    uint64_t id, channel_id, message_id;
    char sha256[65];
    char *filename;
    char *content_type; /* NULL: none declared */
    uint64_t size;
};

/* Looks up an attachment of channel_id whose message still exists; HS_ENOTFOUND with
 * HS_R_UNKNOWN_ATTACHMENT otherwise. The caller checks access to the channel. */
int hs_attachment_get(hs_db *db, uint64_t channel_id, uint64_t attachment_id,
                      struct hs_attachment *out, hs_error *err);
void hs_attachment_release(struct hs_attachment *a);

#endif
