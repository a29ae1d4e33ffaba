#include "hs_core.h"
#include "hs_log.h"
#include "hs_time.h"
#include "hs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct hs_core {
    const hs_config *cfg;
    hs_store *store;
    hs_bus *bus;
    hs_writer *writer;
    hs_pool *pool;
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
    hs_pool_free(core->pool);
    hs_writer_free(core->writer);
    hs_bus_free(core->bus);
    if (core->store)
        hs_snowflake_gen_release(&core->ids);
    hs_store_close(core->store);
    free(core);
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
