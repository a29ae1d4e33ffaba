#include "hs_core.h"
#include "hs_log.h"
#include "hs_threads.h"
#include "hs_time.h"
#include "hs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct hs_core {
    const hs_config *cfg;
    hs_store *store;
    hs_bus *bus;
    hs_writer *writer;
    hs_pool *pool;
    /* Housekeeping: a thread that wakes every housekeeping-ms and hands timed work (idle
     * threads to archive) to the writer. */
    pthread_t keeper;
    pthread_mutex_t keeper_lock;
    pthread_cond_t keeper_wake;
    int keeper_stop, keeper_started;
    hs_snowflake_gen ids;
};

static int mkdir_p(const char *path, hs_error *err)
{
    char *p = hs_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0700) < 0 && errno != EEXIST) {
                rc = hs_error_set(err, HS_EIO, "cannot create '%s': %s", p, strerror(errno));
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

static void archive_done(void *arg, int rc, const hs_error *err)
{
    struct hs_thread_archive_idle *op = arg;
    if (rc < 0)
        hs_log(HS_LOG_WARN, "core", "archiving idle threads: %s", err->msg);
    else if (op->archived)
        hs_log(HS_LOG_DEBUG, "core", "archived %d idle thread(s)", op->archived);
    free(op);
}

static void *keeper_main(void *arg)
{
    hs_core *core = arg;
    pthread_mutex_lock(&core->keeper_lock);
    while (!core->keeper_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)core->cfg->housekeeping_ms * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&core->keeper_wake, &core->keeper_lock, &until);
        if (core->keeper_stop)
            break;
        pthread_mutex_unlock(&core->keeper_lock);
        struct hs_thread_archive_idle *op = hs_xcalloc(1, sizeof(*op));
        op->minute_ms = (uint64_t)core->cfg->thread_archive_minute_ms;
        hs_writer_submit(core->writer, hs_thread_archive_idle_fn, archive_done, op);
        pthread_mutex_lock(&core->keeper_lock);
    }
    pthread_mutex_unlock(&core->keeper_lock);
    return NULL;
}

int hs_core_open(hs_core **out, const hs_config *cfg, hs_error *err)
{
    hs_core *core = hs_xcalloc(1, sizeof(*core));
    core->cfg = cfg;
    int rc = mkdir_p(cfg->data_dir, err);
    if (rc < 0)
        goto fail;
    char *path = hs_xasprintf("%s/hearth.db", cfg->data_dir);
    rc = hs_store_open(&core->store, path, err);
    free(path);
    if (rc < 0)
        goto fail;
    hs_snowflake_gen_init(&core->ids, (unsigned)cfg->worker_id, (unsigned)cfg->process_id, NULL);
    core->bus = hs_bus_new();
    core->writer = hs_writer_new(core->store, core->bus, &core->ids, cfg->commit_max_batch);
    core->pool = hs_pool_new(2);
    pthread_mutex_init(&core->keeper_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&core->keeper_wake, &ca);
    pthread_condattr_destroy(&ca);
    *out = core;
    return 0;
fail:
    hs_store_close(core->store);
    free(core);
    return rc;
}

void hs_core_close(hs_core *core)
{
    if (!core)
        return;
    if (core->keeper_started) {
        pthread_mutex_lock(&core->keeper_lock);
        core->keeper_stop = 1;
        pthread_cond_signal(&core->keeper_wake);
        pthread_mutex_unlock(&core->keeper_lock);
        pthread_join(core->keeper, NULL);
    }
    pthread_mutex_destroy(&core->keeper_lock);
    pthread_cond_destroy(&core->keeper_wake);
    hs_pool_free(core->pool);
    hs_writer_free(core->writer);
    hs_bus_free(core->bus);
    if (core->store)
        hs_snowflake_gen_release(&core->ids);
    hs_store_close(core->store);
    free(core);
}

void hs_core_start_housekeeping(hs_core *core)
{
    if (core->keeper_started)
        return;
    if (pthread_create(&core->keeper, NULL, keeper_main, core) != 0)
        HS_BUG("cannot start the housekeeping thread");
    core->keeper_started = 1;
}

const hs_config *hs_core_config(hs_core *core)
{
    return core->cfg;
}

hs_store *hs_core_store(hs_core *core)
{
    return core->store;
}

hs_writer *hs_core_writer(hs_core *core)
{
    return core->writer;
}

hs_bus *hs_core_bus(hs_core *core)
{
    return core->bus;
}

hs_pool *hs_core_pool(hs_core *core)
{
    return core->pool;
}

hs_snowflake_gen *hs_core_ids(hs_core *core)
{
    return &core->ids;
}

hs_db *hs_core_read_db(hs_core *core, hs_error *err)
{
    return hs_store_read_db(core->store, err);
}

json_t *hs_json_id(uint64_t id)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, id);
    return json_string(buf);
}

json_t *hs_json_id_or_null(uint64_t id)
{
    return id ? hs_json_id(id) : json_null();
}

json_t *hs_json_time(uint64_t unix_ms)
{
    char buf[HS_ISO8601_LEN];
    hs_iso8601(unix_ms, buf);
    return json_string(buf);
}

json_t *hs_json_time_or_null(uint64_t unix_ms)
{
    return unix_ms ? hs_json_time(unix_ms) : json_null();
}
