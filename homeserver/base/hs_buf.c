#include "hs_buf.h"
#include "hs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hs_buf_init(hs_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void hs_buf_release(hs_buf *b)
{
    free(b->data);
    hs_buf_init(b);
}

void hs_buf_grow(hs_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->data = hs_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0';
}

void hs_buf_add(hs_buf *b, const void *p, size_t n)
{
    hs_buf_grow(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hs_buf_adds(hs_buf *b, const char *s)
{
    hs_buf_add(b, s, strlen(s));
}

void hs_buf_vaddf(hs_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    HS_ASSERT(n >= 0);
    hs_buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void hs_buf_addf(hs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void hs_buf_reset(hs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *hs_buf_detach(hs_buf *b)
{
    char *s = b->data ? b->data : hs_xstrdup("");
    hs_buf_init(b);
    return s;
}
