#include "hs_snowflake.h"
#include "hs_time.h"
#include "hs_util.h"

void hs_snowflake_gen_init(hs_snowflake_gen *g, unsigned worker, unsigned process,
                           uint64_t (*clock_ms)(void))
{
    HS_ASSERT(worker < 32 && process < 32);
    pthread_mutex_init(&g->lock, NULL);
    g->last_ms = 0;
    g->seq = 0;
    g->worker = worker;
    g->process = process;
    g->clock_ms = clock_ms ? clock_ms : hs_now_ms;
}

void hs_snowflake_gen_release(hs_snowflake_gen *g)
{
    pthread_mutex_destroy(&g->lock);
}

uint64_t hs_snowflake_next(hs_snowflake_gen *g)
{
    uint64_t now = g->clock_ms();
    uint64_t ms = now > HS_EPOCH_MS ? now - HS_EPOCH_MS : 0;

    pthread_mutex_lock(&g->lock);
    if (ms > g->last_ms) {
        g->last_ms = ms;
        g->seq = 0;
    } else if (++g->seq > 0xFFF) {
        /* The increment would wrap (or the clock went back): borrow the next millisecond.
         * Ids stay unique and increasing; their time runs a little ahead until the clock
         * catches up. */
        g->last_ms++;
        g->seq = 0;
    }
    uint64_t id =
        (g->last_ms << 22) | ((uint64_t)g->worker << 17) | ((uint64_t)g->process << 12) | g->seq;
    pthread_mutex_unlock(&g->lock);
    return id;
}

uint64_t hs_snowflake_unix_ms(uint64_t id)
{
    return (id >> 22) + HS_EPOCH_MS;
}

uint64_t hs_snowflake_from_unix_ms(uint64_t unix_ms)
{
    return unix_ms > HS_EPOCH_MS ? (unix_ms - HS_EPOCH_MS) << 22 : 0;
}

unsigned hs_snowflake_worker(uint64_t id)
{
    return (unsigned)((id >> 17) & 0x1F);
}

unsigned hs_snowflake_process(uint64_t id)
{
    return (unsigned)((id >> 12) & 0x1F);
}

unsigned hs_snowflake_increment(uint64_t id)
{
    return (unsigned)(id & 0xFFF);
}
