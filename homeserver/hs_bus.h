/*
 * hs_bus.h: the in-process event bus (DESIGN.md §1, spec/storage.md §3).
 *
 * Every change the core makes is one hs_event, written to the events table in the same
 * transaction as the state it changes and published here after that transaction commits.
 * The gateway dispatches events, search indexes them and federation signs and replicates
 * them: each is a subscriber. Subscribers are called synchronously, in commit order, on the
 * writer thread; a subscriber must be quick (copy or ref what it needs and post it to its
 * own thread). When hearthd scales out over NATS, the same interface is carried by NATS.
 */
#ifndef HS_BUS_H
#define HS_BUS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct hs_event {
    atomic_int refs;
    uint64_t seq;        /* position in the events table: the global commit order */
    char *type;          /* "MESSAGE_CREATE", "GUILD_CREATE", ... (spec/storage.md §3) */
    uint64_t guild_id;   /* 0 when none */
    uint64_t channel_id; /* 0 when none */
    uint64_t actor_id;   /* the user who caused it, 0 for the system */
    uint64_t created_at; /* unix ms */
    json_t *data;        /* the object, in its spec shape; read-only once published */
} hs_event;

/* Returns a new event (unref with hs_event_unref); takes data. */
hs_event *hs_event_new(const char *type, uint64_t guild_id, uint64_t channel_id, uint64_t actor_id,
                       json_t *data);
hs_event *hs_event_ref(hs_event *ev);
void hs_event_unref(hs_event *ev);

typedef struct hs_bus hs_bus;
/* Borrows ev for the duration of the call; hs_event_ref it to keep it. */
typedef void (*hs_bus_fn)(hs_event *ev, void *ud);

hs_bus *hs_bus_new(void);
void hs_bus_free(hs_bus *bus);
/* Returns a subscription id (> 0). Any thread; takes effect for the next publish. */
int hs_bus_subscribe(hs_bus *bus, hs_bus_fn fn, void *ud);
void hs_bus_unsubscribe(hs_bus *bus, int id);
/*
 * Calls every subscriber with ev (borrowed). The writer thread publishes stored events in
 * commit order; ephemeral events (typing, presence), which are never stored, may be
 * published from any thread, so subscribers must be thread-safe.
 */
void hs_bus_publish(hs_bus *bus, hs_event *ev);

#endif
