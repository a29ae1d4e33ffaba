/*
 * Unit tests for hs_store.h: opening the database (pragmas, migrations), the schema
 * version rules (a newer database is refused, a failed migration changes nothing), the
 * expected tables, and the small binding helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hs_core.h"
#include "hs_error.h"
#include "hs_store.h"

#include "testkit.h"

struct fx {
    char dir[TK_DIR_MAX];
    char db[128];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    tk_tempdir(fx->dir, "schema");
    snprintf(fx->db, sizeof(fx->db), "%s/hearth.db", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tk_rmtree(fx->dir);
    free(fx);
    return 0;
}

static const char *const tables[] = {
    "users",    "tokens",  "applications", "guilds",   "roles",
    "channels", "members", "member_roles", "messages", "events",
};
static const char *const indexes[] = {
    "roles_by_guild",
    "channels_by_guild",
    "members_by_user",
    "events_by_guild",
};

static int object_exists(sqlite3 *db, const char *type, const char *name)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type = ? "
                                        "AND name = ?",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long long v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static void assert_all_tables(sqlite3 *db)
{
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        if (object_exists(db, "table", tables[i]) != 1)
            fail_msg("table %s is missing", tables[i]);
    for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++)
        if (object_exists(db, "index", indexes[i]) != 1)
            fail_msg("index %s is missing", indexes[i]);
}

/*
 * A database exactly as migration 1 left it. hs_schema.c never edits a migration that has
 * shipped, so this copy of migration 1 stays right however many migrations follow: it is
 * the fixture of "a database created by an older hearthd".
 */
static void make_version_1(sqlite3 *db)
{
    exec(db, "BEGIN;"
             "CREATE TABLE users ("
             "  id INTEGER PRIMARY KEY,"
             "  username TEXT NOT NULL UNIQUE,"
             "  global_name TEXT,"
             "  password_hash TEXT,"
             "  bot INTEGER NOT NULL DEFAULT 0,"
             "  created_at INTEGER NOT NULL);"
             "CREATE TABLE tokens ("
             "  user_id INTEGER NOT NULL,"
             "  hash BLOB NOT NULL,"
             "  created_at INTEGER NOT NULL,"
             "  PRIMARY KEY (user_id, hash)) WITHOUT ROWID;"
             "CREATE TABLE applications ("
             "  id INTEGER PRIMARY KEY,"
             "  name TEXT NOT NULL,"
             "  owner_id INTEGER,"
             "  bot_user_id INTEGER NOT NULL UNIQUE,"
             "  bot_public INTEGER NOT NULL DEFAULT 1,"
             "  created_at INTEGER NOT NULL);"
             "PRAGMA user_version = 1;"
             "COMMIT;");
    assert_int_equal(hs_schema_version(db), 1);
}

/* The schema as text (every object's SQL, by name), to compare two databases. */
static char *schema_text(sqlite3 *db)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type, name, sql FROM sqlite_master "
                                        "ORDER BY type, name",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        fprintf(f, "%s %s: %s\n", sqlite3_column_text(s, 0), sqlite3_column_text(s, 1),
                sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2) : "");
    sqlite3_finalize(s);
    fclose(f);
    return text;
}

/* ---- tests ---- */

static void test_fresh_store_is_latest(void **state)
{
    struct fx *fx = *state;
    hs_store *st = NULL;
    hs_error err;
    hs_error_clear(&err);
    int rc = hs_store_open(&st, fx->db, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_non_null(st);
    sqlite3 *db = hs_db_handle(hs_store_write_db(st));
    assert_true(hs_schema_version_latest() >= 2);
    assert_int_equal(hs_schema_version(db), hs_schema_version_latest());
    assert_all_tables(db);
    hs_store_close(st);

    /* The file is there and, after a clean close, the WAL is folded back into it. */
    struct stat sb;
    assert_int_equal(stat(fx->db, &sb), 0);
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", fx->db);
    assert_true(stat(wal, &sb) != 0 || sb.st_size == 0);
}

static void test_migrate_in_memory(void **state)
{
    (void)state;
    sqlite3 *db = raw_open(":memory:");
    assert_int_equal(hs_schema_version(db), 0);
    hs_error err;
    assert_int_equal(hs_schema_migrate(db, &err), 0);
    assert_int_equal(hs_schema_version(db), hs_schema_version_latest());
    assert_all_tables(db);
    sqlite3_close(db);
}

static void test_migrate_again_is_noop(void **state)
{
    struct fx *fx = *state;
    hs_store *st = NULL;
    hs_error err;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    sqlite3 *db = hs_db_handle(hs_store_write_db(st));
    exec(db, "INSERT INTO users (id, username, created_at) VALUES (42, 'kept', 1)");
    long long objects = query_int(db, "SELECT count(*) FROM sqlite_master");

    assert_int_equal(hs_schema_migrate(db, &err), 0);
    assert_int_equal(hs_schema_migrate(db, &err), 0);
    assert_int_equal(hs_schema_version(db), hs_schema_version_latest());
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master"), objects);
    assert_int_equal(query_int(db, "SELECT count(*) FROM users WHERE id = 42"), 1);
    hs_store_close(st);

    /* Opening the store again migrates nothing and keeps the data. */
    st = NULL;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    db = hs_db_handle(hs_store_write_db(st));
    assert_int_equal(hs_schema_version(db), hs_schema_version_latest());
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master"), objects);
    assert_int_equal(query_int(db, "SELECT count(*) FROM users WHERE username = 'kept'"), 1);
    hs_store_close(st);
}

static void test_newer_database_refused(void **state)
{
    struct fx *fx = *state;
    hs_store *st = NULL;
    hs_error err;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    hs_store_close(st);

    int newer = hs_schema_version_latest() + 1;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
    sqlite3 *raw = raw_open(fx->db);
    exec(raw, sql);
    /* hs_schema_migrate itself refuses it... */
    hs_error_clear(&err);
    assert_int_equal(hs_schema_migrate(raw, &err), HS_EINVAL);
    assert_int_equal(err.code, HS_EINVAL);
    assert_int_equal(hs_schema_version(raw), newer);
    sqlite3_close(raw);

    /* ...and so does hs_store_open, leaving *out alone and the file as it was. */
    st = NULL;
    hs_error_clear(&err);
    assert_int_equal(hs_store_open(&st, fx->db, &err), HS_EINVAL);
    assert_null(st);
    assert_int_equal(err.code, HS_EINVAL);
    assert_non_null(strstr(err.msg, "newer"));
    raw = raw_open(fx->db);
    assert_int_equal(hs_schema_version(raw), newer);
    sqlite3_close(raw);
}

static void test_migrate_from_version_1(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    sqlite3 *db = raw_open(fx->db);
    make_version_1(db);
    exec(db, "INSERT INTO users (id, username, created_at) VALUES (7, 'old', 1);"
             "INSERT INTO applications (id, name, bot_user_id, created_at) "
             "VALUES (8, 'app', 7, 1);");
    sqlite3_close(db);

    /* hs_store_open applies every later migration; version 1 data survive. */
    hs_store *st = NULL;
    int rc = hs_store_open(&st, fx->db, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    db = hs_db_handle(hs_store_write_db(st));
    assert_int_equal(hs_schema_version(db), hs_schema_version_latest());
    assert_all_tables(db);
    assert_int_equal(query_int(db, "SELECT count(*) FROM users WHERE username = 'old'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM applications WHERE id = 8"), 1);
    char *upgraded = schema_text(db);
    hs_store_close(st);

    /* The upgraded schema is the one a fresh database gets. */
    sqlite3 *fresh = raw_open(":memory:");
    assert_int_equal(hs_schema_migrate(fresh, &err), 0);
    char *want = schema_text(fresh);
    sqlite3_close(fresh);
    assert_string_equal(upgraded, want);
    free(upgraded);
    free(want);
}

static void test_failed_migration_rolls_back(void **state)
{
    struct fx *fx = *state;
    hs_error err;
    sqlite3 *db = raw_open(fx->db);
    make_version_1(db);
    /* A table in the way of migration 2's last CREATE TABLE makes it fail part-way. */
    exec(db, "CREATE TABLE events (x INTEGER)");
    hs_error_clear(&err);
    assert_int_equal(hs_schema_migrate(db, &err), HS_EIO);
    assert_int_equal(err.code, HS_EIO);
    assert_non_null(strstr(err.msg, "migration 2"));
    /* Migration 2 ran in one transaction: none of it stayed, the version is still 1. */
    assert_int_equal(hs_schema_version(db), 1);
    assert_int_equal(object_exists(db, "table", "guilds"), 0);
    assert_int_equal(object_exists(db, "table", "messages"), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 1); /* no transaction left open */

    /* With the obstacle gone it goes through. */
    exec(db, "DROP TABLE events");
    assert_int_equal(hs_schema_migrate(db, &err), 0);
    assert_int_equal(hs_schema_version(db), hs_schema_version_latest());
    assert_all_tables(db);
    sqlite3_close(db);

    /* A store on a database whose migration fails does not open. */
    remove(fx->db);
    db = raw_open(fx->db);
    make_version_1(db);
    exec(db, "CREATE TABLE guilds (x INTEGER)");
    sqlite3_close(db);
    hs_store *st = NULL;
    assert_int_equal(hs_store_open(&st, fx->db, &err), HS_EIO);
    assert_null(st);
}

static void test_open_missing_directory(void **state)
{
    struct fx *fx = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/no/such/dir/hearth.db", fx->dir);
    hs_store *st = NULL;
    hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_store_open(&st, path, &err), HS_EIO);
    assert_null(st);
    assert_int_equal(err.code, HS_EIO);
    assert_non_null(strstr(err.msg, path));
}

static void test_open_not_a_database(void **state)
{
    struct fx *fx = *state;
    FILE *f = fopen(fx->db, "w");
    assert_non_null(f);
    for (int i = 0; i < 512; i++)
        fputs("this is not an SQLite database. ", f);
    fclose(f);
    hs_store *st = NULL;
    hs_error err;
    hs_error_clear(&err);
    assert_int_equal(hs_store_open(&st, fx->db, &err), HS_EIO);
    assert_null(st);
    assert_int_equal(err.code, HS_EIO);
}

static void test_write_connection_pragmas(void **state)
{
    struct fx *fx = *state;
    hs_store *st = NULL;
    hs_error err;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    sqlite3 *db = hs_db_handle(hs_store_write_db(st));
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    /* 2 is FULL: a commit is on disk when COMMIT returns (spec/client-api.md §6). */
    assert_int_equal(query_int(db, "PRAGMA synchronous"), 2);
    assert_int_equal(query_int(db, "PRAGMA foreign_keys"), 1);
    hs_store_close(st);
}

static void test_read_connection(void **state)
{
    struct fx *fx = *state;
    hs_store *st = NULL;
    hs_error err;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    hs_db *w = hs_store_write_db(st);
    hs_db *r = hs_store_read_db(st, &err);
    assert_non_null(r);
    assert_true(r != w);
    /* One connection per thread: the same one each time. */
    assert_ptr_equal(hs_store_read_db(st, &err), r);

    /* It sees what the write connection committed... */
    assert_int_equal(hs_db_exec(w,
                                "INSERT INTO users (id, username, created_at) VALUES "
                                "(1, 'seen', 1)",
                                &err),
                     0);
    assert_int_equal(query_int(hs_db_handle(r), "SELECT count(*) FROM users"), 1);
    /* ...and cannot write. */
    assert_int_equal(hs_db_exec(r,
                                "INSERT INTO users (id, username, created_at) VALUES "
                                "(2, 'nope', 1)",
                                &err),
                     HS_EIO);
    assert_int_equal(query_int(hs_db_handle(w), "SELECT count(*) FROM users"), 1);
    hs_store_close(st);

    /* A new store (even at the same address) gets its own read connection. */
    st = NULL;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    hs_db *r2 = hs_store_read_db(st, &err);
    assert_non_null(r2);
    assert_int_equal(query_int(hs_db_handle(r2), "SELECT count(*) FROM users"), 1);
    hs_store_close(st);
    hs_store_close(NULL);
}

static void test_db_helpers(void **state)
{
    struct fx *fx = *state;
    hs_store *st = NULL;
    hs_error err;
    assert_int_equal(hs_store_open(&st, fx->db, &err), 0);
    hs_db *db = hs_store_write_db(st);

    /* Statements are cached by the address of their SQL text. */
    static const char sql_insert[] = "INSERT INTO users (id, username, created_at) "
                                     "VALUES (?, ?, 1)";
    static const char sql_select[] = "SELECT id FROM users WHERE username = ?";
    sqlite3_stmt *ins = hs_db_stmt(db, sql_insert);
    assert_ptr_equal(hs_db_stmt(db, sql_insert), ins);

    /* Ids are u64 and round-trip through SQLite's signed INTEGER, the top bit included. */
    const uint64_t ids[] = {1, 175928847299117063ULL, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1,
                            UINT64_MAX};
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++) {
        ins = hs_db_stmt(db, sql_insert);
        hs_bind_id(ins, 1, ids[i]);
        hs_bind_text(ins, 2, names[i]);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
    }
    for (size_t i = 0; i < 5; i++) {
        sqlite3_stmt *s = hs_db_stmt(db, sql_select);
        hs_bind_text(s, 1, names[i]);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(hs_col_id(s, 0), ids[i]);
        sqlite3_reset(s);
    }
    /* A cached statement comes back reset with its bindings cleared. */
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT ?");
    hs_bind_text(s, 1, "x");
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal(hs_col_text(s, 0), "x");
    s = hs_db_stmt(db, "SELECT ?");
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_null(hs_col_text(s, 0));
    sqlite3_reset(s);
    /* hs_bind_text(NULL) binds NULL. */
    s = hs_db_stmt(db, "SELECT ? IS NULL");
    hs_bind_text(s, 1, NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_reset(s);

    /* hs_db_exec: several statements; an error is HS_EIO with SQLite's message. */
    assert_int_equal(hs_db_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", &err), 0);
    hs_error_clear(&err);
    assert_int_equal(hs_db_exec(db, "INSERT INTO no_such_table VALUES (1)", &err), HS_EIO);
    assert_int_equal(err.code, HS_EIO);
    assert_non_null(strstr(err.msg, "no_such_table"));
    assert_int_equal(hs_db_exec(db, "SELEKT 1", NULL), HS_EIO);
    hs_error_clear(&err);
    assert_int_equal(hs_db_error(db, &err, "doing a thing"), HS_EIO);
    assert_non_null(strstr(err.msg, "doing a thing"));
    hs_store_close(st);
}

static void test_core_open_data_dir(void **state)
{
    struct fx *fx = *state;
    hs_config cfg;
    hs_config_init(&cfg);
    char data[160];
    hs_error err;
    /* Nested directories are created, the database is DATA_DIR/hearth.db. */
    snprintf(data, sizeof(data), "%s/a/b/c", fx->dir);
    assert_int_equal(hs_config_set(&cfg, "data-dir", data, &err), 0);
    hs_core *core = NULL;
    int rc = hs_core_open(&core, &cfg, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_ptr_equal(hs_core_config(core), &cfg);
    assert_int_equal(hs_schema_version(hs_db_handle(hs_store_write_db(hs_core_store(core)))),
                     hs_schema_version_latest());
    assert_non_null(hs_core_read_db(core, &err));
    hs_core_close(core);
    char path[200];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/hearth.db", data);
    assert_int_equal(stat(path, &sb), 0);
    /* A trailing slash is fine, and opening again finds the same database. */
    snprintf(data, sizeof(data), "%s/a/b/c/", fx->dir);
    assert_int_equal(hs_config_set(&cfg, "data-dir", data, &err), 0);
    core = NULL;
    assert_int_equal(hs_core_open(&core, &cfg, &err), 0);
    hs_core_close(core);

    /* A data directory below a regular file cannot be made. */
    FILE *f = fopen(fx->db, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(data, sizeof(data), "%s/data", fx->db);
    assert_int_equal(hs_config_set(&cfg, "data-dir", data, &err), 0);
    core = NULL;
    hs_error_clear(&err);
    assert_int_equal(hs_core_open(&core, &cfg, &err), HS_EIO);
    assert_null(core);
    assert_int_equal(err.code, HS_EIO);
    hs_core_close(NULL);
    hs_config_release(&cfg);
}

/*
 * One read connection per thread per store: a thread that reads from two stores in turn
 * gets its first connection back when it returns to the first store.
 */
static void test_read_db_two_stores(void **state)
{
    struct fx *fx = *state;
    char path_b[160];
    snprintf(path_b, sizeof(path_b), "%s/other.db", fx->dir);
    hs_store *a = NULL, *b = NULL;
    hs_error err;
    assert_int_equal(hs_store_open(&a, fx->db, &err), 0);
    assert_int_equal(hs_store_open(&b, path_b, &err), 0);
    hs_db *ra = hs_store_read_db(a, &err);
    hs_db *rb = hs_store_read_db(b, &err);
    assert_non_null(ra);
    assert_non_null(rb);
    hs_db *ra2 = hs_store_read_db(a, &err);
    hs_db *rb2 = hs_store_read_db(b, &err);
    int same_a = ra2 == ra, same_b = rb2 == rb;
    hs_store_close(a);
    hs_store_close(b);
    if (!same_a || !same_b)
        fail_msg("switching between two stores on one thread opened a new read connection "
                 "(store A: %s, store B: %s)",
                 same_a ? "same" : "new", same_b ? "same" : "new");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fresh_store_is_latest),    T(test_migrate_in_memory),
        T(test_migrate_again_is_noop),    T(test_newer_database_refused),
        T(test_migrate_from_version_1),   T(test_failed_migration_rolls_back),
        T(test_open_missing_directory),   T(test_open_not_a_database),
        T(test_write_connection_pragmas), T(test_read_connection),
        T(test_read_db_two_stores),       T(test_db_helpers),
        T(test_core_open_data_dir),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
