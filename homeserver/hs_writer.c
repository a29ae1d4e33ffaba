/*
 * DESIGN: a mutex-and-condvar queue feeds one thread. The thread takes everything queued
 * (up to max_batch), opens one IMMEDIATE transaction, runs each write in a SAVEPOINT,
 * commits once, publishes the events the successful writes recorded, then calls every
 * completion. No timer delays a commit: the group is simply what accumulated while the
 * previous fsync ran, so a lone write is committed at once and a busy server batches
 * more per fsync as load rises.
 */
#include "hs_writer.h"
#include "hs_log.h"
#include "hs_time.h"
#include "hs_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct item {
    hs_write_fn fn;
    hs_write_done_fn done;
    void *arg;
    int rc;
    hs_error err;
    struct item *next;
};

struct hs_txn {
    hs_writer *w;
    uint64_t now_ms;
    hs_event **events; /* recorded by the group so far */
    size_t nevents, capevents;
    /* What the current write asked to run should it fail (hs_txn_on_failure). */
    hs_write_fn fail_fn;
    void *fail_arg;
    void (*fail_free)(void *);
};

/* Per-module state kept by the writer (hs_txn_state). */
struct writer_state {
    const void *key;
    void *state;
    void (*free_fn)(void *);
};

struct hs_writer {
    hs_store *store;
    hs_bus *bus;
    hs_snowflake_gen *ids;
    int max_batch;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct item *head, *tail;
    int stopping;
    struct hs_writer_stats stats;
    struct writer_state states[8]; /* the writer thread only */
    size_t nstates;
};

hs_db *hs_txn_db(hs_txn *txn)
{
    return hs_store_write_db(txn->w->store);
}

uint64_t hs_txn_new_id(hs_txn *txn)
{
    return hs_snowflake_next(txn->w->ids);
}

uint64_t hs_txn_now_ms(hs_txn *txn)
{
    return txn->now_ms;
}

int hs_txn_event(hs_txn *txn, const char *type, uint64_t guild_id, uint64_t channel_id,
                 uint64_t actor_id, json_t *data, hs_error *err)
{
    hs_db *db = hs_txn_db(txn);
    hs_event *ev = hs_event_new(type, guild_id, channel_id, actor_id, data);
    ev->created_at = txn->now_ms;
    char *text = json_dumps(data, JSON_COMPACT);
    HS_ASSERT(text);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO events (type, guild_id, channel_id, actor_id, "
                                     "created_at, data) VALUES (?, ?, ?, ?, ?, ?)");
    sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
    if (guild_id)
        hs_bind_id(s, 2, guild_id);
    if (channel_id)
        hs_bind_id(s, 3, channel_id);
    if (actor_id)
        hs_bind_id(s, 4, actor_id);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)txn->now_ms);
    sqlite3_bind_text(s, 6, text, -1, free);
    int rc = hs_db_step_done(db, s, err, "recording an event");
    if (rc < 0) {
        hs_event_unref(ev);
        return rc;
    }
    ev->seq = (uint64_t)sqlite3_last_insert_rowid(hs_db_handle(db));
    if (txn->nevents == txn->capevents) {
        txn->capevents = txn->capevents ? txn->capevents * 2 : 16;
        txn->events = hs_xrealloc(txn->events, txn->capevents * sizeof(*txn->events));
    }
    txn->events[txn->nevents++] = ev;
    return 0;
}

void hs_txn_on_failure(hs_txn *txn, hs_write_fn fn, void *arg, void (*free_fn)(void *))
{
    if (txn->fail_free)
        txn->fail_free(txn->fail_arg);
    txn->fail_fn = fn;
    txn->fail_arg = arg;
    txn->fail_free = free_fn;
}

void *hs_txn_state(hs_txn *txn, const void *key, void *(*make)(void), void (*free_fn)(void *))
{
    hs_writer *w = txn->w;
    for (size_t i = 0; i < w->nstates; i++)
        if (w->states[i].key == key)
            return w->states[i].state;
    HS_ASSERT(w->nstates < HS_ARRAY_LEN(w->states));
    struct writer_state *st = &w->states[w->nstates++];
    st->key = key;
    st->state = make();
    st->free_fn = free_fn;
    return st->state;
}

/* Forgets the current write's failure follow-up (freeing its argument). */
static void clear_on_failure(hs_txn *txn)
{
    if (txn->fail_free)
        txn->fail_free(txn->fail_arg);
    txn->fail_fn = NULL;
    txn->fail_arg = NULL;
    txn->fail_free = NULL;
}

static void drop_events_from(hs_txn *txn, size_t from)
{
    while (txn->nevents > from)
        hs_event_unref(txn->events[--txn->nevents]);
}

static int exec_simple(hs_db *db, const char *sql, hs_error *err)
{
    return hs_db_step_done(db, hs_db_stmt(db, sql), err, sql);
}

/* Runs one group. Returns 0 when it committed. */
static int run_group(hs_writer *w, struct item *group, hs_txn *txn)
{
    hs_db *db = hs_store_write_db(w->store);
    hs_error err;
    int rc;

    txn->now_ms = hs_now_ms();
    rc = exec_simple(db, "BEGIN IMMEDIATE", &err);
    if (rc < 0)
        goto fail;
    for (struct item *it = group; it; it = it->next) {
        size_t mark = txn->nevents;
        rc = exec_simple(db, "SAVEPOINT w", &err);
        if (rc < 0)
            goto rollback;
        it->rc = it->fn(txn, it->arg, &it->err);
        if (it->rc < 0) {
            drop_events_from(txn, mark);
            rc = exec_simple(db, "ROLLBACK TO w", &err);
            if (rc < 0) {
                clear_on_failure(txn);
                goto rollback;
            }
            if (txn->fail_fn) {
                /* The write's trace (hs_txn_on_failure), in the savepoint it left empty. */
                hs_error ferr;
                hs_error_clear(&ferr);
                if (txn->fail_fn(txn, txn->fail_arg, &ferr) < 0) {
                    hs_log(HS_LOG_WARN, "store", "a failed write's follow-up failed: %s", ferr.msg);
                    drop_events_from(txn, mark);
                    rc = exec_simple(db, "ROLLBACK TO w", &err);
                }
            }
        }
        clear_on_failure(txn);
        if (rc < 0)
            goto rollback;
        rc = exec_simple(db, "RELEASE w", &err);
        if (rc < 0)
            goto rollback;
    }
    rc = exec_simple(db, "COMMIT", &err);
    if (rc == 0)
        return 0;
rollback:
    sqlite3_exec(hs_db_handle(db), "ROLLBACK", NULL, NULL, NULL);
fail:
    hs_log(HS_LOG_ERROR, "store", "a write group failed and was rolled back: %s", err.msg);
    drop_events_from(txn, 0);
    for (struct item *it = group; it; it = it->next) {
        it->rc = HS_EIO;
        it->err = err;
    }
    return rc;
}

static void *writer_main(void *arg)
{
    hs_writer *w = arg;
    hs_txn txn = {.w = w};

    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->head) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        struct item *group = w->head, *last = group;
        int n = 1;
        while (last->next && n < w->max_batch) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->lock);

        int committed = run_group(w, group, &txn) == 0;
        for (size_t i = 0; i < txn.nevents; i++)
            hs_bus_publish(w->bus, txn.events[i]);
        drop_events_from(&txn, 0);

        uint64_t failed = 0;
        for (struct item *it = group, *next; it; it = next) {
            next = it->next;
            if (it->rc < 0)
                failed++;
            it->done(it->arg, it->rc, it->rc < 0 ? &it->err : NULL);
            free(it);
        }
        pthread_mutex_lock(&w->lock);
        w->stats.commits += committed;
        w->stats.writes += (uint64_t)n;
        w->stats.failed_writes += failed;
        if ((uint64_t)n > w->stats.max_group)
            w->stats.max_group = (uint64_t)n;
        pthread_mutex_unlock(&w->lock);
    }
    free(txn.events);
    return NULL;
}

hs_writer *hs_writer_new(hs_store *store, hs_bus *bus, hs_snowflake_gen *ids, int max_batch)
{
    hs_writer *w = hs_xcalloc(1, sizeof(*w));
    w->store = store;
    w->bus = bus;
    w->ids = ids;
    w->max_batch = max_batch > 0 ? max_batch : 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        HS_BUG("cannot start the writer thread");
    return w;
}

void hs_writer_free(hs_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->nstates; i++)
        if (w->states[i].free_fn)
            w->states[i].free_fn(w->states[i].state);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void hs_writer_submit(hs_writer *w, hs_write_fn fn, hs_write_done_fn done, void *arg)
{
    struct item *it = hs_xcalloc(1, sizeof(*it));
    it->fn = fn;
    it->done = done;
    it->arg = arg;
    pthread_mutex_lock(&w->lock);
    HS_ASSERT(!w->stopping);
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finished, rc;
    hs_error err;
    hs_write_fn fn;
    void *arg;
};

static int sync_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct sync_wait *sw = arg;
    return sw->fn(txn, sw->arg, err);
}

static void sync_done(void *arg, int rc, const hs_error *err)
{
    struct sync_wait *sw = arg;
    pthread_mutex_lock(&sw->lock);
    sw->rc = rc;
    if (err)
        sw->err = *err;
    sw->finished = 1;
    pthread_cond_signal(&sw->cond);
    pthread_mutex_unlock(&sw->lock);
}

int hs_writer_run(hs_writer *w, hs_write_fn fn, void *arg, hs_error *err)
{
    struct sync_wait sw = {.fn = fn, .arg = arg};
    pthread_mutex_init(&sw.lock, NULL);
    pthread_cond_init(&sw.cond, NULL);
    hs_writer_submit(w, sync_fn, sync_done, &sw);
    pthread_mutex_lock(&sw.lock);
    while (!sw.finished)
        pthread_cond_wait(&sw.cond, &sw.lock);
    pthread_mutex_unlock(&sw.lock);
    pthread_cond_destroy(&sw.cond);
    pthread_mutex_destroy(&sw.lock);
    if (sw.rc < 0 && err)
        *err = sw.err;
    return sw.rc;
}

void hs_writer_stats(hs_writer *w, struct hs_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}
