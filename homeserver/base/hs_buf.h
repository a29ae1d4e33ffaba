/*
 * hs_buf.h: a growable byte buffer, always NUL-terminated.
 *
 * struct hs_buf is caller-allocated (embed it, hs_buf_init, hs_buf_release). Invariants:
 * data is NULL only while cap is 0; when data is non-NULL, data[len] == '\0' and len < cap.
 * A buffer belongs to one thread at a time.
 */
#ifndef HS_BUF_H
#define HS_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct hs_buf {
    char *data;
    size_t len;
    size_t cap;
} hs_buf;

#define HS_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void hs_buf_init(hs_buf *b);
/* Frees the storage; the buffer may be reused after hs_buf_init. */
void hs_buf_release(hs_buf *b);
/* Makes room for at least n more bytes. */
void hs_buf_grow(hs_buf *b, size_t n);
void hs_buf_add(hs_buf *b, const void *p, size_t n);
void hs_buf_adds(hs_buf *b, const char *s);
void hs_buf_addf(hs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hs_buf_vaddf(hs_buf *b, const char *fmt, va_list ap);
void hs_buf_reset(hs_buf *b);
/* Returns the string (free with free()), leaving the buffer empty. Never NULL. */
char *hs_buf_detach(hs_buf *b);

#endif
