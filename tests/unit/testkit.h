/*
 * Shared fixture kit for the core and client-API unit tests (prefix tk_).
 *
 * What every core test file used to copy for itself: a temporary data directory and its
 * recursive removal, an hs_config tuned for speed (argon2-ops 1, argon2-mem-kib 8), opening
 * and closing a real hs_core on it, and the small helpers the tests build their fixtures
 * with: running a write or raw SQL through the writer, a read connection, counting rows,
 * registering users, creating guilds and posting messages.
 *
 * Errors: unless a helper says it returns an error, any failure aborts the running test (or
 * fixture) through cmocka's fail_msg with a message naming what failed; callers never check
 * a result for errors. The kit keeps no state of its own: everything lives in the caller's
 * fixture struct (the data directory path, the hs_config, the hs_core pointer).
 */
#ifndef HEARTH_TESTKIT_H
#define HEARTH_TESTKIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hs_config.h"
#include "hs_core.h"
#include "hs_error.h"
#include "hs_store.h"
#include "hs_writer.h"

/* Room for a path made by tk_tempdir. */
#define TK_DIR_MAX 64

/* Creates a fresh directory /tmp/hearth-test-<tag>-XXXXXX and writes its path to dir. */
void tk_tempdir(char dir[TK_DIR_MAX], const char *tag);

/* Removes dir and everything below it (without following links); errors are ignored. */
void tk_rmtree(const char *dir);

/* Initializes cfg (the caller releases it with hs_config_release) with data-dir <dir>/data
 * and the cheapest argon2 settings, so registering users is fast. */
void tk_config(hs_config *cfg, const char *dir);

/* The usual core fixture: tk_tempdir(dir, tag), tk_config(cfg, dir), then opens and returns
 * a core on it. The caller owns all three and gives them back with tk_core_close. */
hs_core *tk_core_open(char dir[TK_DIR_MAX], hs_config *cfg, const char *tag);

/* Closes core (may be NULL), releases cfg and removes dir: the inverse of tk_core_open. */
void tk_core_close(hs_core *core, hs_config *cfg, const char *dir);

/* The calling thread's read connection of core (owned by the core). */
hs_db *tk_rdb(hs_core *core);

/* Clears err and runs fn(op) on core's writer: returns its result, the error in err. */
int tk_run(hs_core *core, hs_write_fn fn, void *op, hs_error *err);

/* Formats an SQL script and executes it in one write transaction. */
void tk_sql(hs_core *core, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Executes one SQL statement in a write transaction, binding args[0..n) (n <= 8) as
 * integers to its parameters 1..n. */
void tk_sql_bind(hs_core *core, const char *sql, int n, const int64_t *args);

/* Formats a query and returns the first column of its first row on the read connection
 * as an integer, or -1 when it yields no row. */
int64_t tk_count(hs_core *core, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like tk_count for a fixed query with one integer parameter bound to a. */
int64_t tk_count_u64(hs_core *core, const char *sql, uint64_t a);

/* The snowflake in obj's string member key. */
uint64_t tk_json_id(json_t *obj, const char *key);

/* Registers user name with password "a long password"; returns the new user's id. */
uint64_t tk_register(hs_core *core, const char *name);

/* Creates a guild owned by owner; returns its id and, when general is not NULL, fills it
 * with the guild's system (default text) channel. */
uint64_t tk_guild(hs_core *core, uint64_t owner, const char *name, uint64_t *general);

/* Posts content to channel as author (2,000-character limit, the default); returns the
 * message id. */
uint64_t tk_post(hs_core *core, uint64_t channel, uint64_t author, const char *content);

#endif
