/*
 * hs_core.h: the homeserver core, composed.
 *
 * An hs_core owns the storage (hs_store), the writer thread (hs_writer), the event bus
 * (hs_bus), the id generator and a pool for blocking work. The edges (client API,
 * federation, voice, hearthctl) reach the domain through the module headers
 * (hs_accounts.h, hs_guilds.h, hs_messages.h) and subscribe to the bus; the core knows
 * nothing of HTTP or WebSockets.
 *
 * Domain functions come in two kinds. Reads take an hs_db (the calling thread's read
 * connection, or the write connection inside a write) and may run on any thread. Writes
 * are hs_write_fn functions with a typed argument struct, run on the writer thread through
 * hs_writer_submit (asynchronous) or hs_writer_run (blocking).
 */
#ifndef HS_CORE_H
#define HS_CORE_H

#include "hs_bus.h"
#include "hs_config.h"
#include "hs_error.h"
#include "hs_pool.h"
#include "hs_snowflake.h"
#include "hs_store.h"
#include "hs_writer.h"

typedef struct hs_core hs_core;

/*
 * Creates the data directory if needed, opens (and migrates) DATA_DIR/hearth.db and starts
 * the writer and the pool. Borrows cfg, which must outlive the core. Free with
 * hs_core_close.
 */
int hs_core_open(hs_core **out, const hs_config *cfg, hs_error *err);
/* Drains the writer and the pool, then closes the database. NULL is allowed. */
void hs_core_close(hs_core *core);
/* Starts the timed housekeeping (every housekeeping-ms: archiving idle threads). The
 * server does; tools that open the same database (hearthctl) do not. */
void hs_core_start_housekeeping(hs_core *core);

const hs_config *hs_core_config(hs_core *core);
hs_store *hs_core_store(hs_core *core);
hs_writer *hs_core_writer(hs_core *core);
hs_bus *hs_core_bus(hs_core *core);
hs_pool *hs_core_pool(hs_core *core);
hs_snowflake_gen *hs_core_ids(hs_core *core);
/* The calling thread's read connection (borrowed). */
hs_db *hs_core_read_db(hs_core *core, hs_error *err);

/* JSON helpers shared by the modules: ids as decimal strings, NULL ids as JSON null. */
json_t *hs_json_id(uint64_t id);
json_t *hs_json_id_or_null(uint64_t id);
json_t *hs_json_time(uint64_t unix_ms);
json_t *hs_json_time_or_null(uint64_t unix_ms);

#endif
