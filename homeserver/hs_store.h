/*
 * hs_store.h: the SQLite database of one homeserver (spec/storage.md).
 *
 * One hs_store owns the database file: a single write connection, used only by the writer
 * thread (hs_writer.h), and one read-only connection per reading thread, opened on first
 * use. The database runs in WAL mode with synchronous=FULL, so readers never block the
 * writer and a committed transaction survives power loss.
 *
 * hs_db wraps a connection with a cache of prepared statements keyed by the SQL text's
 * address: pass string literals (or other strings that live as long as the store) to
 * hs_db_stmt so each statement is compiled once per connection.
 */
#ifndef HS_STORE_H
#define HS_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "hs_error.h"

typedef struct hs_store hs_store;
typedef struct hs_db hs_db;

/*
 * Opens (creating if needed) the database at path, sets the pragmas and brings the schema
 * up to date (hs_schema.c). Returns new store in *out (free with hs_store_close).
 */
int hs_store_open(hs_store **out, const char *path, hs_error *err);
/* Closes every connection. No thread may use the store or any hs_db from it afterwards. */
void hs_store_close(hs_store *st);

/* The write connection: the writer thread only. */
hs_db *hs_store_write_db(hs_store *st);
/* The calling thread's read-only connection (borrowed; lives until hs_store_close). */
hs_db *hs_store_read_db(hs_store *st, hs_error *err);

sqlite3 *hs_db_handle(hs_db *db);
/* Returns the cached statement for sql, reset and with bindings cleared (borrowed). Aborts
 * on a statement that does not compile: SQL text is part of the program. */
sqlite3_stmt *hs_db_stmt(hs_db *db, const char *sql);
/* Runs SQL with no results (one or more statements). */
int hs_db_exec(hs_db *db, const char *sql, hs_error *err);
/* Steps a statement that returns no rows and resets it: 0, or HS_EIO naming `what`. */
int hs_db_step_done(hs_db *db, sqlite3_stmt *s, hs_error *err, const char *what);
/* Maps an SQLite failure to HS_EIO with the statement's error message. */
int hs_db_error(hs_db *db, hs_error *err, const char *what);

/* Binding helpers: snowflakes are stored as INTEGER (two's complement of the u64). */
void hs_bind_id(sqlite3_stmt *s, int i, uint64_t id);
void hs_bind_text(sqlite3_stmt *s, int i, const char *text);
uint64_t hs_col_id(sqlite3_stmt *s, int i);
const char *hs_col_text(sqlite3_stmt *s, int i);

/* The schema (hs_schema.c). */
int hs_schema_version_latest(void);
/* Applies every migration newer than the database's user_version, each in its own
 * transaction. A database newer than this binary is an error. */
int hs_schema_migrate(sqlite3 *db, hs_error *err);
int hs_schema_version(sqlite3 *db);

#endif
