/*
 * DESIGN: SQLite gives one writer at a time, so Hearth has exactly one write connection and
 * funnels every write through the writer thread, which commits them in groups
 * (hs_writer.c). Reads run on whatever thread serves the request, each thread with its own
 * read-only connection: in WAL mode those see the last committed state without taking the
 * write lock. Connections are found through a thread-local slot tagged with the store's
 * generation number, so a store freed and another allocated at the same address (the unit
 * tests do this) is never confused with the old one.
 */
#include "hs_store.h"
#include "hs_log.h"
#include "hs_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Distinct SQL texts one connection prepares. The whole REST surface uses a few hundred;
 * running out is a panic, so the bound is generous (the slots are 16 bytes each). */
#define STMT_CACHE 512

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
};

struct hs_db {
    sqlite3 *db;
    struct stmt_slot cache[STMT_CACHE];
    int ncache;
    hs_db *next; /* in the store's list of readers */
};

struct hs_store {
    char *path;
    hs_db *writer;
    pthread_mutex_t lock; /* guards readers */
    hs_db *readers;
    unsigned long generation;
};

static atomic_ulong store_generation = 1;

/* A thread's read connections, one per store it reads from (a process normally has one
 * store; tools and tests may hold a few). */
#define TL_READERS 4
static _Thread_local struct {
    unsigned long generation;
    hs_db *db;
} tl_readers[TL_READERS];

static int open_conn(const char *path, int flags, hs_db **out, hs_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = hs_error_set(err, HS_EIO, "cannot open database '%s': %s", path,
                          db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    hs_db *h = hs_xcalloc(1, sizeof(*h));
    h->db = db;
    *out = h;
    return 0;
}

static void db_free(hs_db *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->ncache; i++)
        sqlite3_finalize(h->cache[i].stmt);
    sqlite3_close(h->db);
    free(h);
}

int hs_store_open(hs_store **out, const char *path, hs_error *err)
{
    hs_store *st = hs_xcalloc(1, sizeof(*st));
    int rc;
    st->path = hs_xstrdup(path);
    pthread_mutex_init(&st->lock, NULL);
    st->generation = atomic_fetch_add(&store_generation, 1);

    rc = open_conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st->writer, err);
    if (rc < 0)
        goto out;
    /* WAL + synchronous=FULL: a commit is on disk when COMMIT returns (spec/storage.md). */
    rc = hs_db_exec(st->writer,
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=FULL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA temp_store=MEMORY;"
                    "PRAGMA cache_size=-65536;",
                    err);
    if (rc < 0)
        goto out;
    rc = hs_schema_migrate(st->writer->db, err);
out:
    if (rc < 0) {
        hs_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void hs_store_close(hs_store *st)
{
    if (!st)
        return;
    hs_db *r = st->readers;
    while (r) {
        hs_db *next = r->next;
        db_free(r);
        r = next;
    }
    if (st->writer) {
        /* Fold the WAL back into the database so a clean stop leaves one file. */
        sqlite3_wal_checkpoint_v2(st->writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        db_free(st->writer);
    }
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st);
}

hs_db *hs_store_write_db(hs_store *st)
{
    return st->writer;
}

hs_db *hs_store_read_db(hs_store *st, hs_error *err)
{
    size_t slot = 0;
    for (size_t i = 0; i < TL_READERS; i++) {
        if (tl_readers[i].generation == st->generation && tl_readers[i].db)
            return tl_readers[i].db;
        if (tl_readers[i].generation < tl_readers[slot].generation)
            slot = i; /* the oldest store's slot is the one to reuse */
    }
    hs_db *h;
    if (open_conn(st->path, SQLITE_OPEN_READONLY, &h, err) < 0)
        return NULL;
    sqlite3_exec(h->db, "PRAGMA cache_size=-16384;", NULL, NULL, NULL);
    pthread_mutex_lock(&st->lock);
    h->next = st->readers;
    st->readers = h;
    pthread_mutex_unlock(&st->lock);
    tl_readers[slot].generation = st->generation;
    tl_readers[slot].db = h;
    return h;
}

sqlite3 *hs_db_handle(hs_db *db)
{
    return db->db;
}

sqlite3_stmt *hs_db_stmt(hs_db *h, const char *sql)
{
    for (int i = 0; i < h->ncache; i++) {
        if (h->cache[i].sql == sql) {
            sqlite3_stmt *s = h->cache[i].stmt;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return s;
        }
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK)
        hs_panic(__FILE__, __LINE__, "SQL does not compile: %s: %s", sqlite3_errmsg(h->db), sql);
    if (h->ncache < STMT_CACHE) {
        h->cache[h->ncache].sql = sql;
        h->cache[h->ncache].stmt = s;
        h->ncache++;
    } else {
        HS_BUG("statement cache full: raise STMT_CACHE");
    }
    return s;
}

int hs_db_exec(hs_db *h, const char *sql, hs_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = hs_error_set(err, HS_EIO, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

int hs_db_step_done(hs_db *db, sqlite3_stmt *s, hs_error *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : hs_db_error(db, err, what);
}

int hs_db_error(hs_db *h, hs_error *err, const char *what)
{
    return hs_error_set(err, HS_EIO, "%s: %s", what, sqlite3_errmsg(h->db));
}

void hs_bind_id(sqlite3_stmt *s, int i, uint64_t id)
{
    sqlite3_bind_int64(s, i, (sqlite3_int64)id);
}

void hs_bind_text(sqlite3_stmt *s, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

uint64_t hs_col_id(sqlite3_stmt *s, int i)
{
    return (uint64_t)sqlite3_column_int64(s, i);
}

const char *hs_col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}
