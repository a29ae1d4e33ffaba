/*
 * hs_snowflake.h: Discord-layout 64-bit ids (spec/client-api.md §5).
 *
 *   bits 63..22  milliseconds since HS_EPOCH_MS (2015-01-01T00:00:00Z)
 *   bits 21..17  worker id (0..31)
 *   bits 16..12  process id (0..31)
 *   bits 11..0   per-process increment
 *
 * A generator hands out strictly increasing ids: within one millisecond the increment
 * counts up; when it would wrap, or when the wall clock steps backwards, the generator
 * borrows the next millisecond instead of repeating an id. hs_snowflake_gen is
 * caller-allocated and thread-safe (a mutex guards it).
 */
#ifndef HS_SNOWFLAKE_H
#define HS_SNOWFLAKE_H

#include <pthread.h>
#include <stdint.h>

#define HS_EPOCH_MS 1420070400000ULL

typedef struct hs_snowflake_gen {
    pthread_mutex_t lock;
    uint64_t last_ms; /* ms since HS_EPOCH_MS of the last id */
    unsigned seq;     /* increment used in last_ms */
    unsigned worker, process;
    uint64_t (*clock_ms)(void); /* unix ms; replaceable for tests */
} hs_snowflake_gen;

/* worker and process must be 0..31. clock_ms NULL means the real clock. */
void hs_snowflake_gen_init(hs_snowflake_gen *g, unsigned worker, unsigned process,
                           uint64_t (*clock_ms)(void));
void hs_snowflake_gen_release(hs_snowflake_gen *g);
uint64_t hs_snowflake_next(hs_snowflake_gen *g);

/* Unix milliseconds of an id, and the smallest id at a unix millisecond (a cursor). */
uint64_t hs_snowflake_unix_ms(uint64_t id);
uint64_t hs_snowflake_from_unix_ms(uint64_t unix_ms);
unsigned hs_snowflake_worker(uint64_t id);
unsigned hs_snowflake_process(uint64_t id);
unsigned hs_snowflake_increment(uint64_t id);

#endif
