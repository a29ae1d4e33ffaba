/*
 * The shared unit-test fixture kit: see testkit.h. Every failure ends the running test
 * through fail_msg, so these helpers return only good values.
 */
#include "testkit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>

#include "hs_accounts.h"
#include "hs_guilds.h"
#include "hs_messages.h"
#include "hs_util.h"

void tk_tempdir(char dir[TK_DIR_MAX], const char *tag)
{
    int n = snprintf(dir, TK_DIR_MAX, "/tmp/hearth-test-%s-XXXXXX", tag);
    if (n < 0 || n >= TK_DIR_MAX)
        fail_msg("temp dir tag too long: %s", tag);
    if (!mkdtemp(dir))
        fail_msg("mkdtemp %s failed", dir);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tk_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tk_config(hs_config *cfg, const char *dir)
{
    hs_config_init(cfg);
    char data[TK_DIR_MAX + 16];
    snprintf(data, sizeof(data), "%s/data", dir);
    hs_error err;
    if (hs_config_set(cfg, "data-dir", data, &err) < 0 ||
        hs_config_set(cfg, "argon2-ops", "1", &err) < 0 ||
        hs_config_set(cfg, "argon2-mem-kib", "8", &err) < 0)
        fail_msg("config: %s", err.msg);
}

hs_core *tk_core_open(char dir[TK_DIR_MAX], hs_config *cfg, const char *tag)
{
    tk_tempdir(dir, tag);
    tk_config(cfg, dir);
    hs_core *core = NULL;
    hs_error err;
    if (hs_core_open(&core, cfg, &err) < 0)
        fail_msg("hs_core_open: %s", err.msg);
    return core;
}

void tk_core_close(hs_core *core, hs_config *cfg, const char *dir)
{
    if (core)
        hs_core_close(core);
    hs_config_release(cfg);
    tk_rmtree(dir);
}

hs_db *tk_rdb(hs_core *core)
{
    hs_error err;
    hs_db *db = hs_core_read_db(core, &err);
    if (!db)
        fail_msg("no read connection: %s", err.msg);
    return db;
}

int tk_run(hs_core *core, hs_write_fn fn, void *op, hs_error *err)
{
    hs_error_clear(err);
    return hs_writer_run(hs_core_writer(core), fn, op, err);
}

/* Formats into a fresh heap string (the caller frees it). */
static char *vformat(const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        fail_msg("bad format %s", fmt);
    char *s = malloc((size_t)n + 1);
    if (!s)
        fail_msg("out of memory");
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static int exec_fn(hs_txn *txn, void *arg, hs_error *err)
{
    return hs_db_exec(hs_txn_db(txn), arg, err);
}

void tk_sql(hs_core *core, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *buf = vformat(fmt, ap);
    va_end(ap);
    hs_error err;
    int rc = hs_writer_run(hs_core_writer(core), exec_fn, buf, &err);
    if (rc != 0) {
        /* fail_msg does not return: report from a copy on the stack, free the heap one. */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", buf);
        free(buf);
        fail_msg("%s: %s", msg, err.msg);
    }
    free(buf);
}

struct bind_op {
    const char *sql;
    const int64_t *args;
    int n;
};

static int bind_fn(hs_txn *txn, void *arg, hs_error *err)
{
    struct bind_op *op = arg;
    sqlite3 *h = hs_db_handle(hs_txn_db(txn));
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(h, op->sql, -1, &s, NULL) != SQLITE_OK)
        return hs_error_set(err, HS_EIO, "%s", sqlite3_errmsg(h));
    for (int i = 0; i < op->n; i++)
        sqlite3_bind_int64(s, i + 1, op->args[i]);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : hs_error_set(err, HS_EIO, "%s", sqlite3_errmsg(h));
}

void tk_sql_bind(hs_core *core, const char *sql, int n, const int64_t *args)
{
    if (n < 0 || n > 8)
        fail_msg("tk_sql_bind: %d arguments", n);
    struct bind_op op = {sql, args, n};
    hs_error err;
    if (hs_writer_run(hs_core_writer(core), bind_fn, &op, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

/* First column of the first row of a prepared query, or -1; finalizes s. */
static int64_t first_int(sqlite3_stmt *s)
{
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

int64_t tk_count(hs_core *core, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *buf = vformat(fmt, ap);
    va_end(ap);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(hs_db_handle(tk_rdb(core)), buf, -1, &s, NULL) != SQLITE_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", buf);
        free(buf);
        fail_msg("bad SQL %s", msg);
    }
    free(buf);
    return first_int(s);
}

int64_t tk_count_u64(hs_core *core, const char *sql, uint64_t a)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(hs_db_handle(tk_rdb(core)), sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("bad SQL %s", sql);
    sqlite3_bind_int64(s, 1, (int64_t)a);
    return first_int(s);
}

uint64_t tk_json_id(json_t *obj, const char *key)
{
    uint64_t id = 0;
    if (hs_parse_u64(json_string_value(json_object_get(obj, key)), &id) < 0)
        fail_msg("no id in '%s'", key);
    return id;
}

uint64_t tk_register(hs_core *core, const char *name)
{
    char tok[HS_TOKEN_MAX];
    uint64_t uid = 0;
    hs_error err;
    if (hs_account_register(core, name, "a long password", NULL, tok, &uid, &err) != 0)
        fail_msg("register %s: %s", name, err.msg);
    return uid;
}

uint64_t tk_guild(hs_core *core, uint64_t owner, const char *name, uint64_t *general)
{
    struct hs_guild_create g = {.owner_id = owner, .name = name};
    hs_error err;
    if (hs_writer_run(hs_core_writer(core), hs_guild_create_fn, &g, &err) != 0)
        fail_msg("guild %s: %s", name, err.msg);
    uint64_t id = tk_json_id(g.guild, "id");
    if (general)
        *general = tk_json_id(g.guild, "system_channel_id");
    json_decref(g.guild);
    return id;
}

uint64_t tk_post(hs_core *core, uint64_t channel, uint64_t author, const char *content)
{
    struct hs_msg_create op = {
        .channel_id = channel, .author_id = author, .content = content, .max_chars = 2000};
    hs_error err;
    if (hs_writer_run(hs_core_writer(core), hs_msg_create_fn, &op, &err) != 0)
        fail_msg("post '%s': %s", content, err.msg);
    uint64_t id = tk_json_id(op.message, "id");
    json_decref(op.message);
    return id;
}
