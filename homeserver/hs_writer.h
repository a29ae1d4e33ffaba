/*
 * hs_writer.h: the single writer thread and group commit (spec/storage.md §1).
 *
 * Every change to the database is a write function run on the writer thread inside a
 * transaction. Writes queue up while a commit is in flight and the next transaction takes
 * all of them (up to commit-max-batch), so one fsync acknowledges many writes. Each write
 * runs inside its own SAVEPOINT: a write that fails is rolled back alone and the others in
 * its group still commit. A write's completion runs only after its group committed, which
 * is what makes an acknowledgement durable.
 *
 * Events a write records (hs_txn_event) are stored in the same transaction and published
 * on the bus after the commit, before the completions run.
 */
#ifndef HS_WRITER_H
#define HS_WRITER_H

#include <jansson.h>
#include <stdint.h>

#include "hs_bus.h"
#include "hs_error.h"
#include "hs_snowflake.h"
#include "hs_store.h"

typedef struct hs_writer hs_writer;
typedef struct hs_txn hs_txn;

/* Runs on the writer thread in the open transaction; returns 0 or HS_E* and fills err. */
typedef int (*hs_write_fn)(hs_txn *txn, void *arg, hs_error *err);
/* Runs on the writer thread after the commit (or the failure). err is borrowed and NULL on
 * success. Must be quick: hand the result to the requester's thread and return. */
typedef void (*hs_write_done_fn)(void *arg, int rc, const hs_error *err);

/* Starts the writer thread. Borrows store, bus and ids, which must outlive the writer. */
hs_writer *hs_writer_new(hs_store *store, hs_bus *bus, hs_snowflake_gen *ids, int max_batch);
/* Runs every queued write, then stops and joins the thread. NULL is allowed. */
void hs_writer_free(hs_writer *w);

/* Queues fn(arg) and returns at once; done(arg, ...) is called when it is durable. Any
 * thread except the writer thread. */
void hs_writer_submit(hs_writer *w, hs_write_fn fn, hs_write_done_fn done, void *arg);
/* Queues fn(arg) and waits until it is committed; returns its result. Any thread except
 * the writer thread. */
int hs_writer_run(hs_writer *w, hs_write_fn fn, void *arg, hs_error *err);

/* Inside a write function. */
hs_db *hs_txn_db(hs_txn *txn);
uint64_t hs_txn_new_id(hs_txn *txn);
/* Unix ms at which the current group started: one clock reading per transaction. */
uint64_t hs_txn_now_ms(hs_txn *txn);
/* Records an event in this transaction; takes data. Returns 0 or HS_EIO. */
int hs_txn_event(hs_txn *txn, const char *type, uint64_t guild_id, uint64_t channel_id,
                 uint64_t actor_id, json_t *data, hs_error *err);

/*
 * Inside a write function that is about to fail: fn(txn, arg, err) runs right after this
 * write was rolled back, in the same transaction, and what it records (rows and events)
 * commits with the group although the write itself reports its failure. This is for a
 * refusal that must leave a trace: AutoMod blocking a message stores no message but does
 * store its audit log entry, alert and timeout (hs_automod.h). If fn fails, its changes are
 * rolled back as well. Takes arg: free_fn(arg) (may be NULL) runs after fn, or without fn
 * when the write succeeds after all. At most one per write; a later call replaces an
 * earlier one (whose arg is freed). Writer thread only.
 */
void hs_txn_on_failure(hs_txn *txn, hs_write_fn fn, void *arg, void (*free_fn)(void *));

/*
 * State a module keeps on the writer thread from one write to the next (caches that only
 * write functions use, such as AutoMod's compiled rules): the first call with a key makes
 * it with make(); free_fn(state) runs when the writer stops. key identifies the module
 * (the address of one of its statics). At most 8 keys. Writer thread only.
 */
void *hs_txn_state(hs_txn *txn, const void *key, void *(*make)(void), void (*free_fn)(void *));

/* Statistics, for tests and benchmarks (any thread; approximate while running). */
struct hs_writer_stats {
    uint64_t commits;
    uint64_t writes;
    uint64_t failed_writes;
    uint64_t max_group;
};
void hs_writer_stats(hs_writer *w, struct hs_writer_stats *out);

#endif
