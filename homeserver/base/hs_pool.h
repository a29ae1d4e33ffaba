/*
 * hs_pool.h: a small pool of threads for blocking work (argon2id hashing, long reads), so
 * that no event-loop or HTTP thread ever blocks on it (STYLE.md "Threads").
 *
 * Jobs run in submission order on whichever pool thread is free; a job may block. The job
 * owns its argument and reports back by its own means (usually by posting to the thread
 * that asked).
 */
#ifndef HS_POOL_H
#define HS_POOL_H

typedef struct hs_pool hs_pool;
typedef void (*hs_pool_fn)(void *arg);

/* Starts nthreads threads. Free with hs_pool_free. */
hs_pool *hs_pool_new(int nthreads);
/* Runs every queued job, then joins the threads. NULL is allowed. */
void hs_pool_free(hs_pool *pool);
/* Queues fn(arg). Any thread. */
void hs_pool_submit(hs_pool *pool, hs_pool_fn fn, void *arg);

#endif
