/*
 * hs_time.h: clocks and timestamp formatting. Any thread may call these.
 */
#ifndef HS_TIME_H
#define HS_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, unix milliseconds. */
uint64_t hs_now_ms(void);
/* Monotonic clock, nanoseconds. */
uint64_t hs_mono_ns(void);

#define HS_ISO8601_LEN 33 /* "2026-11-27T23:04:05.123000+00:00" plus NUL */

/* Formats unix ms as Discord does: "2026-11-27T23:04:05.123000+00:00". */
void hs_iso8601(uint64_t unix_ms, char out[HS_ISO8601_LEN]);

#endif
