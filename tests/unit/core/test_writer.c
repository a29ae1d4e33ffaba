/*
 * Unit tests for hs_writer.h and hs_bus.h: group commit (writes queued while a commit is
 * in flight share the next transaction; a failing write is rolled back alone), events
 * published on the bus after the commit, in commit order, before the completions, and
 * never for a failed write; hs_writer_run's result; the statistics.
 *
 * To make a group deterministic, a "gate" write is submitted first and blocks inside the
 * writer thread until the test has queued the writes it wants grouped; when the gate
 * opens, the writer takes everything queued as one group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "hs_bus.h"
#include "hs_error.h"
#include "hs_snowflake.h"
#include "hs_store.h"
#include "hs_time.h"
#include "hs_writer.h"

#include "testkit.h"

/* ---- what the subscriber and the completions saw ---- */

#define MAX_SEEN 256

struct seen_event {
    uint64_t seq;
    char key[32];
    int n;
    int row_visible;   /* the write's row was committed when the event arrived */
    int event_visible; /* so was the event's own row */
    uint64_t guild_id, channel_id, actor_id, created_at;
    char type[32];
};

struct fx {
    char dir[TK_DIR_MAX];
    char path[128];
    hs_store *st;
    hs_bus *bus;
    hs_snowflake_gen ids;
    hs_writer *w;
    int sub;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct seen_event events[MAX_SEEN];
    int nevents;
    int ndone;
    const char *done_order[MAX_SEEN];
};

/* One test write: inserts key into items, records nevents events, then fails or not. */
enum mode { OK = 0, FAIL_AFTER_INSERT, FAIL_SQL };

struct wr {
    struct fx *fx;
    const char *key;
    int nevents;
    enum mode mode;
    /* out */
    int ran;
    int rc;
    hs_error err;
    int events_seen_at_done; /* events with this key the bus had delivered by then */
    int done;
    uint64_t now_ms, id;
};

static int count_key(struct fx *fx, const char *key)
{
    int n = 0;
    for (int i = 0; i < fx->nevents; i++)
        if (strcmp(fx->events[i].key, key) == 0)
            n++;
    return n;
}

/* The bus subscriber: runs on the writer thread, after the commit. */
static void on_event(hs_event *ev, void *ud)
{
    struct fx *fx = ud;
    /* A separate (read-only) connection sees only committed data. */
    hs_db *r = hs_store_read_db(fx->st, NULL);
    const char *key = json_string_value(json_object_get(ev->data, "key"));
    int row = -1, evrow = -1;
    if (r && key) {
        sqlite3_stmt *s = hs_db_stmt(r, "SELECT count(*) FROM items WHERE k = ?");
        hs_bind_text(s, 1, key);
        row = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
        sqlite3_reset(s);
        s = hs_db_stmt(r, "SELECT count(*) FROM events WHERE seq = ? AND type = ?");
        hs_bind_id(s, 1, ev->seq);
        hs_bind_text(s, 2, ev->type);
        evrow = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
        sqlite3_reset(s);
    }
    pthread_mutex_lock(&fx->lock);
    if (fx->nevents < MAX_SEEN) {
        struct seen_event *e = &fx->events[fx->nevents++];
        e->seq = ev->seq;
        snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
        e->n = (int)json_integer_value(json_object_get(ev->data, "n"));
        e->row_visible = row == 1;
        e->event_visible = evrow == 1;
        e->guild_id = ev->guild_id;
        e->channel_id = ev->channel_id;
        e->actor_id = ev->actor_id;
        e->created_at = ev->created_at;
        snprintf(e->type, sizeof(e->type), "%s", ev->type);
    }
    pthread_mutex_unlock(&fx->lock);
}

static int write_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct wr *w = arg;
    hs_db *db = hs_txn_db(txn);
    w->ran = 1;
    w->now_ms = hs_txn_now_ms(txn);
    w->id = hs_txn_new_id(txn);
    sqlite3_stmt *s = hs_db_stmt(db, "INSERT INTO items (k, id) VALUES (?, ?)");
    hs_bind_text(s, 1, w->key);
    hs_bind_id(s, 2, w->id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hs_db_error(db, err, "inserting an item");
    for (int i = 0; i < w->nevents; i++) {
        json_t *data = json_pack("{s:s, s:i}", "key", w->key, "n", i);
        rc = hs_txn_event(txn, "TEST_EVENT", 11, 22, 33, data, err);
        if (rc < 0)
            return rc;
    }
    if (w->mode == FAIL_AFTER_INSERT)
        return hs_error_form(err, "key", "TEST_FAILURE", "write %s fails on purpose", w->key);
    if (w->mode == FAIL_SQL) {
        /* The same key again: a constraint failure from SQLite itself. */
        s = hs_db_stmt(db, "INSERT INTO items (k, id) VALUES (?, ?)");
        hs_bind_text(s, 1, w->key);
        hs_bind_id(s, 2, w->id);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return hs_db_error(db, err, "inserting an item twice");
    }
    return 0;
}

static void done_fn(void *arg, int rc, const hs_error *err)
{
    struct wr *w = arg;
    struct fx *fx = w->fx;
    pthread_mutex_lock(&fx->lock);
    w->rc = rc;
    if (err)
        w->err = *err;
    w->events_seen_at_done = count_key(fx, w->key);
    w->done = 1;
    if (fx->ndone < MAX_SEEN)
        fx->done_order[fx->ndone] = w->key;
    fx->ndone++;
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
}

/* The gate: blocks the writer thread until opened. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered, open, done;
};

static int gate_fn(hs_txn *txn, void *arg, hs_error *err)
{
    (void)txn;
    (void)err;
    struct gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->entered = 1;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

static void gate_done(void *arg, int rc, const hs_error *err)
{
    (void)rc;
    (void)err;
    struct gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->done = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void gate_close(struct fx *fx, struct gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    hs_writer_submit(fx->w, gate_fn, gate_done, g);
    pthread_mutex_lock(&g->lock);
    while (!g->entered)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void gate_release(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->done)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

static void wait_done(struct fx *fx, int n)
{
    pthread_mutex_lock(&fx->lock);
    while (fx->ndone < n)
        pthread_cond_wait(&fx->cond, &fx->lock);
    pthread_mutex_unlock(&fx->lock);
}

/* Statistics are updated after a group's completions ran: poll for them. */
static void wait_stats(struct fx *fx, uint64_t writes, struct hs_writer_stats *out)
{
    for (int i = 0; i < 5000; i++) {
        hs_writer_stats(fx->w, out);
        if (out->writes >= writes)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("the writer counted %llu writes, expected %llu", (unsigned long long)out->writes,
             (unsigned long long)writes);
}

static int create_items(hs_txn *txn, void *arg, hs_error *err)
{
    (void)arg;
    return hs_db_exec(hs_txn_db(txn), "CREATE TABLE items (k TEXT PRIMARY KEY, id INTEGER)", err);
}

static int setup_batch(void **state, int max_batch)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    tk_tempdir(fx->dir, "writer");
    snprintf(fx->path, sizeof(fx->path), "%s/hearth.db", fx->dir);
    hs_error err;
    if (hs_store_open(&fx->st, fx->path, &err) < 0) {
        print_error("store: %s\n", err.msg);
        return -1;
    }
    pthread_mutex_init(&fx->lock, NULL);
    pthread_cond_init(&fx->cond, NULL);
    fx->bus = hs_bus_new();
    hs_snowflake_gen_init(&fx->ids, 1, 1, NULL);
    fx->w = hs_writer_new(fx->st, fx->bus, &fx->ids, max_batch);
    if (hs_writer_run(fx->w, create_items, NULL, &err) < 0) {
        print_error("items: %s\n", err.msg);
        return -1;
    }
    fx->sub = hs_bus_subscribe(fx->bus, on_event, fx);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_batch(state, 512);
}

static int setup_batch1(void **state)
{
    return setup_batch(state, 1);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hs_writer_free(fx->w);
    hs_bus_free(fx->bus);
    hs_snowflake_gen_release(&fx->ids);
    hs_store_close(fx->st);
    pthread_cond_destroy(&fx->cond);
    pthread_mutex_destroy(&fx->lock);
    tk_rmtree(fx->dir);
    free(fx);
    return 0;
}

static int row_count(struct fx *fx, const char *key)
{
    hs_db *r = hs_store_read_db(fx->st, NULL);
    assert_non_null(r);
    sqlite3_stmt *s = hs_db_stmt(r, "SELECT count(*) FROM items WHERE k = ?");
    hs_bind_text(s, 1, key);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return n;
}

static int stored_events(struct fx *fx, const char *key)
{
    hs_db *r = hs_store_read_db(fx->st, NULL);
    sqlite3_stmt *s =
        hs_db_stmt(r, "SELECT count(*) FROM events WHERE json_extract(data, '$.key') = ?");
    hs_bind_text(s, 1, key);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return n;
}

/* ---- tests ---- */

static void test_group_partial_failure(void **state)
{
    struct fx *fx = *state;
    struct wr ws[] = {
        {.key = "a", .nevents = 2, .mode = OK},
        {.key = "b", .nevents = 2, .mode = FAIL_AFTER_INSERT},
        {.key = "c", .nevents = 1, .mode = OK},
        {.key = "d", .nevents = 3, .mode = FAIL_SQL},
        {.key = "e", .nevents = 0, .mode = OK},
        {.key = "f", .nevents = 1, .mode = OK},
    };
    const int n = (int)(sizeof(ws) / sizeof(ws[0]));
    struct gate g;
    gate_close(fx, &g);
    for (int i = 0; i < n; i++) {
        ws[i].fx = fx;
        hs_writer_submit(fx->w, write_fn, done_fn, &ws[i]);
    }
    /* Nothing of them ran yet: the writer is inside the gate. */
    for (int i = 0; i < n; i++)
        assert_int_equal(ws[i].ran, 0);
    gate_open(&g);
    gate_release(&g);
    wait_done(fx, n);

    /* Completions run in submission order, each with its own result. */
    for (int i = 0; i < n; i++) {
        assert_true(ws[i].ran);
        assert_true(ws[i].done);
        assert_string_equal(fx->done_order[i], ws[i].key);
    }
    assert_int_equal(ws[0].rc, 0);
    assert_int_equal(ws[1].rc, HS_EINVAL);
    assert_int_equal(ws[1].err.code, HS_EINVAL);
    assert_int_equal(ws[1].err.reason, HS_R_FORM);
    assert_string_equal(ws[1].err.form_code, "TEST_FAILURE");
    assert_int_equal(ws[2].rc, 0);
    assert_int_equal(ws[3].rc, HS_EIO);
    assert_int_equal(ws[3].err.code, HS_EIO);
    assert_int_equal(ws[4].rc, 0);
    assert_int_equal(ws[5].rc, 0);

    /* The failed writes' rows and events are gone; the others' are committed. */
    assert_int_equal(row_count(fx, "a"), 1);
    assert_int_equal(row_count(fx, "b"), 0);
    assert_int_equal(row_count(fx, "c"), 1);
    assert_int_equal(row_count(fx, "d"), 0);
    assert_int_equal(row_count(fx, "e"), 1);
    assert_int_equal(row_count(fx, "f"), 1);
    assert_int_equal(stored_events(fx, "a"), 2);
    assert_int_equal(stored_events(fx, "b"), 0);
    assert_int_equal(stored_events(fx, "c"), 1);
    assert_int_equal(stored_events(fx, "d"), 0);
    assert_int_equal(stored_events(fx, "f"), 1);

    /* On the bus: exactly the successful writes' events, in commit order. */
    const char *want_keys[] = {"a", "a", "c", "f"};
    const int want_n[] = {0, 1, 0, 0};
    pthread_mutex_lock(&fx->lock);
    assert_int_equal(fx->nevents, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(fx->events[i].key, want_keys[i]);
        assert_int_equal(fx->events[i].n, want_n[i]);
        if (i > 0)
            assert_true(fx->events[i].seq > fx->events[i - 1].seq);
    }
    pthread_mutex_unlock(&fx->lock);

    /* One transaction for the six: one clock reading, ids in queue order. */
    for (int i = 1; i < n; i++) {
        assert_int_equal(ws[i].now_ms, ws[0].now_ms);
        assert_true(ws[i].id > ws[i - 1].id);
    }

    /* create_items, the gate, then one group of six. */
    struct hs_writer_stats st;
    wait_stats(fx, 1 + 1 + (uint64_t)n, &st);
    assert_int_equal(st.writes, 1 + 1 + n);
    assert_int_equal(st.failed_writes, 2);
    assert_int_equal(st.commits, 3);
    assert_int_equal(st.max_group, n);
}

static void test_events_after_commit_before_done(void **state)
{
    struct fx *fx = *state;
    struct wr ws[] = {
        {.key = "x1", .nevents = 3},
        {.key = "x2", .nevents = 1},
        {.key = "x3", .nevents = 2},
    };
    /* Alone (one group each), then grouped. */
    for (int i = 0; i < 3; i++) {
        ws[i].fx = fx;
        hs_writer_submit(fx->w, write_fn, done_fn, &ws[i]);
        wait_done(fx, i + 1);
    }
    struct wr grouped[] = {
        {.key = "y1", .nevents = 2},
        {.key = "y2", .nevents = 1, .mode = FAIL_AFTER_INSERT},
        {.key = "y3", .nevents = 2},
    };
    struct gate g;
    gate_close(fx, &g);
    for (int i = 0; i < 3; i++) {
        grouped[i].fx = fx;
        hs_writer_submit(fx->w, write_fn, done_fn, &grouped[i]);
    }
    gate_open(&g);
    gate_release(&g);
    wait_done(fx, 6);

    pthread_mutex_lock(&fx->lock);
    /* 3 + 1 + 2 alone, then 2 + 2 of the group (y2 failed). */
    assert_int_equal(fx->nevents, 10);
    const char *order[] = {"x1", "x1", "x1", "x2", "x3", "x3", "y1", "y1", "y3", "y3"};
    for (int i = 0; i < fx->nevents; i++) {
        struct seen_event *e = &fx->events[i];
        assert_string_equal(e->key, order[i]);
        /* Published after the commit: another connection already saw the rows. */
        if (!e->row_visible || !e->event_visible)
            fail_msg("event %d (%s) was published before its commit", i, e->key);
        if (i > 0)
            assert_true(e->seq > fx->events[i - 1].seq);
        assert_string_equal(e->type, "TEST_EVENT");
        assert_int_equal(e->guild_id, 11);
        assert_int_equal(e->channel_id, 22);
        assert_int_equal(e->actor_id, 33);
    }
    /* created_at is the group's clock reading. */
    assert_int_equal(fx->events[6].created_at, grouped[0].now_ms);
    assert_int_equal(fx->events[9].created_at, grouped[2].now_ms);
    pthread_mutex_unlock(&fx->lock);

    /* Each completion ran after its own events were published. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ws[i].events_seen_at_done, ws[i].nevents);
    assert_int_equal(grouped[0].events_seen_at_done, 2);
    assert_int_equal(grouped[1].events_seen_at_done, 0);
    assert_int_equal(grouped[2].events_seen_at_done, 2);

    /* The seqs are those of the events table. */
    hs_db *r = hs_store_read_db(fx->st, NULL);
    sqlite3_stmt *s = hs_db_stmt(r, "SELECT seq FROM events ORDER BY seq");
    for (int i = 0; i < 10; i++) {
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(hs_col_id(s, 0), fx->events[i].seq);
    }
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_reset(s);
}

struct fail_arg {
    int code, reason;
};

static int failing_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct fail_arg *a = arg;
    hs_db *db = hs_txn_db(txn);
    /* Changes made before the failure are rolled back. */
    hs_db_exec(db, "INSERT INTO items (k) VALUES ('from_failed_run')", NULL);
    hs_txn_event(txn, "FAILED_EVENT", 0, 0, 0, json_pack("{s:s}", "key", "from_failed_run"), NULL);
    return hs_error_reason(err, a->code, a->reason, "failing with %d", a->code);
}

static int ok_fn(hs_txn *txn, void *arg, hs_error *err)
{
    int *ran = arg;
    *ran = 1;
    return hs_db_exec(hs_txn_db(txn), "INSERT INTO items (k) VALUES ('from_ok_run')", err);
}

static void test_run_result(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    const struct fail_arg cases[] = {
        {HS_EPERM, HS_R_NOT_AUTHOR},
        {HS_ENOTFOUND, HS_R_UNKNOWN_MESSAGE},
        {HS_EINVAL, HS_R_EMPTY_MESSAGE},
        {HS_ELIMIT, HS_R_NONE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fail_arg a = cases[i];
        hs_error_clear(&err);
        assert_int_equal(hs_writer_run(fx->w, failing_fn, &a, &err), a.code);
        assert_int_equal(err.code, a.code);
        assert_int_equal(err.reason, a.reason);
        char want[64];
        snprintf(want, sizeof(want), "failing with %d", a.code);
        assert_string_equal(err.msg, want);
    }
    /* err may be NULL. */
    struct fail_arg a = {HS_EEXIST, HS_R_NONE};
    assert_int_equal(hs_writer_run(fx->w, failing_fn, &a, NULL), HS_EEXIST);
    assert_int_equal(row_count(fx, "from_failed_run"), 0);
    assert_int_equal(stored_events(fx, "from_failed_run"), 0);
    pthread_mutex_lock(&fx->lock);
    assert_int_equal(fx->nevents, 0);
    pthread_mutex_unlock(&fx->lock);

    /* Success: 0, and the change is visible to readers when hs_writer_run returns. */
    int ran = 0;
    assert_int_equal(hs_writer_run(fx->w, ok_fn, &ran, &err), 0);
    assert_true(ran);
    assert_int_equal(row_count(fx, "from_ok_run"), 1);

    struct hs_writer_stats st;
    wait_stats(fx, 1 + 5 + 1, &st);
    assert_int_equal(st.writes, 7);
    assert_int_equal(st.failed_writes, 5);
    /* Alone, each write is its own group and commit. */
    assert_int_equal(st.commits, 7);
    assert_int_equal(st.max_group, 1);
}

static void test_max_batch_one(void **state)
{
    struct fx *fx = *state;
    struct wr ws[4] = {
        {.key = "k1", .nevents = 1},
        {.key = "k2", .nevents = 1},
        {.key = "k3", .nevents = 1, .mode = FAIL_AFTER_INSERT},
        {.key = "k4", .nevents = 1},
    };
    struct gate g;
    gate_close(fx, &g);
    for (int i = 0; i < 4; i++) {
        ws[i].fx = fx;
        hs_writer_submit(fx->w, write_fn, done_fn, &ws[i]);
    }
    gate_open(&g);
    gate_release(&g);
    wait_done(fx, 4);
    /* commit-max-batch 1: no grouping, each its own transaction. */
    struct hs_writer_stats st;
    wait_stats(fx, 1 + 1 + 4, &st);
    assert_int_equal(st.max_group, 1);
    assert_int_equal(st.commits, 6);
    assert_int_equal(st.failed_writes, 1);
    assert_int_equal(row_count(fx, "k1") + row_count(fx, "k2") + row_count(fx, "k4"), 3);
    assert_int_equal(row_count(fx, "k3"), 0);
    pthread_mutex_lock(&fx->lock);
    assert_int_equal(fx->nevents, 3);
    pthread_mutex_unlock(&fx->lock);
}

static void test_free_drains_queue(void **state)
{
    struct fx *fx = *state;
    struct wr ws[5];
    memset(ws, 0, sizeof(ws));
    const char *keys[] = {"q1", "q2", "q3", "q4", "q5"};
    struct gate g;
    gate_close(fx, &g);
    for (int i = 0; i < 5; i++) {
        ws[i] = (struct wr){.fx = fx, .key = keys[i], .nevents = 1};
        hs_writer_submit(fx->w, write_fn, done_fn, &ws[i]);
    }
    gate_open(&g);
    /* Every queued write runs and completes before hs_writer_free returns. */
    hs_writer_free(fx->w);
    fx->w = NULL;
    gate_release(&g);
    assert_int_equal(fx->ndone, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ws[i].rc, 0);
        assert_int_equal(row_count(fx, keys[i]), 1);
    }
    assert_int_equal(fx->nevents, 5);
    hs_writer_free(NULL);
}

/* ---- the bus on its own ---- */

struct tally {
    int calls;
    uint64_t last_seq;
};

static void count_fn(hs_event *ev, void *ud)
{
    struct tally *t = ud;
    t->calls++;
    t->last_seq = ev->seq;
}

static void keep_fn(hs_event *ev, void *ud)
{
    hs_event **slot = ud;
    *slot = hs_event_ref(ev);
}

static void test_bus(void **state)
{
    (void)state;
    hs_bus *bus = hs_bus_new();
    struct tally t1 = {0, 0}, t2 = {0, 0};
    hs_event *kept = NULL;
    int s1 = hs_bus_subscribe(bus, count_fn, &t1);
    int s2 = hs_bus_subscribe(bus, count_fn, &t2);
    int s3 = hs_bus_subscribe(bus, keep_fn, &kept);
    assert_true(s1 > 0 && s2 > 0 && s3 > 0);
    assert_true(s1 != s2 && s2 != s3 && s1 != s3);

    hs_event *ev = hs_event_new("X", 1, 2, 3, json_pack("{s:i}", "v", 7));
    ev->seq = 99;
    hs_bus_publish(bus, ev);
    assert_int_equal(t1.calls, 1);
    assert_int_equal(t2.calls, 1);
    assert_int_equal(t1.last_seq, 99);
    assert_ptr_equal(kept, ev);
    /* The publisher's reference and the kept one are independent. */
    hs_event_unref(ev);
    assert_string_equal(kept->type, "X");
    assert_int_equal(json_integer_value(json_object_get(kept->data, "v")), 7);
    hs_event_unref(kept);
    kept = NULL;

    /* After unsubscribing, no more calls. */
    hs_bus_unsubscribe(bus, s1);
    hs_bus_unsubscribe(bus, s3);
    hs_bus_unsubscribe(bus, 12345); /* unknown: ignored */
    ev = hs_event_new("Y", 0, 0, 0, json_object());
    hs_bus_publish(bus, ev);
    hs_event_unref(ev);
    assert_int_equal(t1.calls, 1);
    assert_int_equal(t2.calls, 2);
    assert_null(kept);
    /* Ids are not reused. */
    int s4 = hs_bus_subscribe(bus, count_fn, &t1);
    assert_true(s4 != s1 && s4 != s2 && s4 != s3);
    hs_event_unref(NULL);
    hs_bus_free(bus);
    hs_bus_free(NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_group_partial_failure),
        T(test_events_after_commit_before_done),
        T(test_run_result),
        cmocka_unit_test_setup_teardown(test_max_batch_one, setup_batch1, teardown),
        T(test_free_drains_queue),
        cmocka_unit_test(test_bus),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
