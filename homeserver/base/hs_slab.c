/*
 * hs_slab.c: see hs_slab.h. Each chunk is a 64 KiB mapping aligned to its size, so the
 * chunk of an object is its address rounded down; the chunk's header holds its own free
 * list. Chunks with a free slot are on the slab's `partial` list. A chunk whose objects are
 * all freed is unmapped, except the last one, kept so that a slab going up and down around
 * a chunk boundary does not map and unmap on every call.
 */
#include "hs_slab.h"
#include "hs_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK (64 * 1024)

struct chunk {
    struct chunk *prev, *next; /* on the partial list */
    struct chunk *all;         /* every chunk of the slab */
    void *free;                /* freed slots, linked through their first word */
    size_t used;               /* objects in use */
    size_t fresh;              /* slots never handed out start at this index */
    int on_partial;
};

struct hs_slab {
    size_t size, first, per_chunk; /* object size, first slot's offset, slots per chunk */
    struct chunk *partial, *chunks;
    size_t nchunks, count;
};

static struct chunk *chunk_of(const void *obj)
{
    return (struct chunk *)((uintptr_t)obj & ~(uintptr_t)(CHUNK - 1));
}

static void partial_add(hs_slab *slab, struct chunk *c)
{
    c->prev = NULL;
    c->next = slab->partial;
    if (slab->partial)
        slab->partial->prev = c;
    slab->partial = c;
    c->on_partial = 1;
}

static void partial_remove(hs_slab *slab, struct chunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        slab->partial = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->on_partial = 0;
}

/* A new chunk: map twice the size and keep the aligned half. */
static struct chunk *chunk_new(void)
{
    char *p = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        HS_BUG("hs_slab: out of memory");
    char *start = (char *)(((uintptr_t)p + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
    if (start > p)
        munmap(p, (size_t)(start - p));
    if (start + CHUNK < p + 2 * CHUNK)
        munmap(start + CHUNK, (size_t)(p + 2 * CHUNK - (start + CHUNK)));
    struct chunk *c = (struct chunk *)start;
    memset(c, 0, sizeof(*c));
    return c;
}

hs_slab *hs_slab_new(size_t size)
{
    HS_ASSERT(size > 0 && size <= 4096);
    hs_slab *slab = hs_xcalloc(1, sizeof(*slab));
    slab->size = (size + 15) & ~(size_t)15;
    slab->first = (sizeof(struct chunk) + 15) & ~(size_t)15;
    slab->per_chunk = (CHUNK - slab->first) / slab->size;
    return slab;
}

void hs_slab_free(hs_slab *slab)
{
    if (!slab)
        return;
    while (slab->chunks) {
        struct chunk *c = slab->chunks;
        slab->chunks = c->all;
        munmap(c, CHUNK);
    }
    free(slab);
}

void *hs_slab_alloc(hs_slab *slab)
{
    struct chunk *c = slab->partial;
    if (!c) {
        c = chunk_new();
        c->all = slab->chunks;
        slab->chunks = c;
        slab->nchunks++;
        partial_add(slab, c);
    }
    void *obj;
    if (c->free) {
        obj = c->free;
        memcpy(&c->free, obj, sizeof(void *));
    } else {
        obj = (char *)c + slab->first + c->fresh * slab->size;
        c->fresh++;
    }
    c->used++;
    slab->count++;
    if (!c->free && c->fresh == slab->per_chunk)
        partial_remove(slab, c);
    memset(obj, 0, slab->size);
    return obj;
}

void hs_slab_put(hs_slab *slab, void *obj)
{
    if (!obj)
        return;
    struct chunk *c = chunk_of(obj);
    HS_ASSERT(c->used > 0);
    memcpy(obj, &c->free, sizeof(void *));
    c->free = obj;
    c->used--;
    slab->count--;
    if (!c->on_partial)
        partial_add(slab, c);
    if (c->used == 0 && slab->nchunks > 1) {
        partial_remove(slab, c);
        struct chunk **pp = &slab->chunks;
        while (*pp != c)
            pp = &(*pp)->all;
        *pp = c->all;
        munmap(c, CHUNK);
        slab->nchunks--;
    }
}

size_t hs_slab_count(const hs_slab *slab)
{
    return slab->count;
}

size_t hs_slab_mapped(const hs_slab *slab)
{
    return slab->nchunks * CHUNK;
}
