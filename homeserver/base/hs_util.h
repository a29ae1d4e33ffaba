/*
 * hs_util.h: allocation that aborts on failure, assertions, small helpers.
 *
 * Allocation failure is not an error Hearth recovers from (STYLE.md "Errors"): hostile
 * input is bounded by explicit limits long before malloc could fail, so every allocation
 * goes through hs_x*() and a NULL return aborts with a message. Any thread may call these.
 */
#ifndef HS_UTIL_H
#define HS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define HS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Always-on invariant check; prints the expression and aborts. */
#define HS_ASSERT(expr)                                                                            \
    do {                                                                                           \
        if (!(expr))                                                                               \
            hs_panic(__FILE__, __LINE__, "assertion failed: %s", #expr);                           \
    } while (0)

/* Marks code that cannot be reached when the program is correct. */
#define HS_BUG(msg) hs_panic(__FILE__, __LINE__, "BUG: %s", (msg))

_Noreturn void hs_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Return new memory (free with free()); never NULL. */
void *hs_xmalloc(size_t n);
void *hs_xcalloc(size_t nmemb, size_t size);
void *hs_xrealloc(void *p, size_t n);
char *hs_xstrdup(const char *s);
char *hs_xstrndup(const char *s, size_t n);
/* Returns a new string formatted like printf (free with free()). */
char *hs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Number of Unicode code points in a UTF-8 string of len bytes (continuation bytes are not
 * counted). The caller has already validated the UTF-8 (jansson does so on parse). */
size_t hs_utf8_len(const char *s, size_t len);

/*
 * Parses a decimal unsigned 64-bit integer (a snowflake) occupying the whole of s, with no
 * sign, spaces or leading '+'. Returns 0 and stores the value, or -1 when s is not one.
 */
int hs_parse_u64(const char *s, uint64_t *out);

#endif
