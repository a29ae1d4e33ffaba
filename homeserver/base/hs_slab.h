/*
 * hs_slab.h: fixed-size objects carved from their own 64 KiB mappings.
 *
 * Long-lived small objects (a gateway connection, a session) allocated with malloc() during
 * a burst end up scattered between the burst's short-lived allocations (JSON trees, SQLite
 * pages, buffers); once those are freed, every page that still holds one long-lived object
 * stays resident, and the process keeps several times the memory it uses (DESIGN.md §3).
 * A slab keeps objects of one kind together, so they pin only their own pages, and gives a
 * mapping back to the kernel when its last object is freed.
 *
 * A slab belongs to one thread: it has no lock.
 */
#ifndef HS_SLAB_H
#define HS_SLAB_H

#include <stddef.h>

typedef struct hs_slab hs_slab;

/* A slab of objects of `size` bytes (at most 4 KiB), aligned to 16 bytes. */
hs_slab *hs_slab_new(size_t size);
/* Frees the slab and every object still in it. NULL is allowed. */
void hs_slab_free(hs_slab *slab);
/* A zeroed object. Aborts when memory is exhausted, like hs_xmalloc. */
void *hs_slab_alloc(hs_slab *slab);
/* Returns obj (from this slab; NULL is allowed) to it. */
void hs_slab_put(hs_slab *slab, void *obj);
/* Objects in use, and bytes mapped (what the slab costs the process). */
size_t hs_slab_count(const hs_slab *slab);
size_t hs_slab_mapped(const hs_slab *slab);

#endif
