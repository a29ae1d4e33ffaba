#include "hs_bus.h"
#include "hs_util.h"

#include <pthread.h>
#include <stdlib.h>

hs_event *hs_event_new(const char *type, uint64_t guild_id, uint64_t channel_id, uint64_t actor_id,
                       json_t *data)
{
    hs_event *ev = hs_xcalloc(1, sizeof(*ev));
    atomic_init(&ev->refs, 1);
    ev->type = hs_xstrdup(type);
    ev->guild_id = guild_id;
    ev->channel_id = channel_id;
    ev->actor_id = actor_id;
    ev->data = data;
    return ev;
}

hs_event *hs_event_ref(hs_event *ev)
{
    atomic_fetch_add(&ev->refs, 1);
    return ev;
}

void hs_event_unref(hs_event *ev)
{
    if (!ev || atomic_fetch_sub(&ev->refs, 1) != 1)
        return;
    json_decref(ev->data);
    free(ev->type);
    free(ev);
}

struct sub {
    int id;
    hs_bus_fn fn;
    void *ud;
};

struct hs_bus {
    pthread_mutex_t lock;
    struct sub *subs;
    int nsubs, cap, next_id;
};

hs_bus *hs_bus_new(void)
{
    hs_bus *bus = hs_xcalloc(1, sizeof(*bus));
    pthread_mutex_init(&bus->lock, NULL);
    bus->next_id = 1;
    return bus;
}

void hs_bus_free(hs_bus *bus)
{
    if (!bus)
        return;
    pthread_mutex_destroy(&bus->lock);
    free(bus->subs);
    free(bus);
}

int hs_bus_subscribe(hs_bus *bus, hs_bus_fn fn, void *ud)
{
    pthread_mutex_lock(&bus->lock);
    if (bus->nsubs == bus->cap) {
        bus->cap = bus->cap ? bus->cap * 2 : 4;
        bus->subs = hs_xrealloc(bus->subs, (size_t)bus->cap * sizeof(*bus->subs));
    }
    int id = bus->next_id++;
    bus->subs[bus->nsubs++] = (struct sub){id, fn, ud};
    pthread_mutex_unlock(&bus->lock);
    return id;
}

void hs_bus_unsubscribe(hs_bus *bus, int id)
{
    pthread_mutex_lock(&bus->lock);
    for (int i = 0; i < bus->nsubs; i++) {
        if (bus->subs[i].id == id) {
            bus->subs[i] = bus->subs[--bus->nsubs];
            break;
        }
    }
    pthread_mutex_unlock(&bus->lock);
}

void hs_bus_publish(hs_bus *bus, hs_event *ev)
{
    /* Subscribers are few and change rarely; holding the lock across the calls keeps
     * unsubscribe from racing a delivery. Subscribers must not subscribe from inside. */
    pthread_mutex_lock(&bus->lock);
    for (int i = 0; i < bus->nsubs; i++)
        bus->subs[i].fn(ev, bus->subs[i].ud);
    pthread_mutex_unlock(&bus->lock);
}
