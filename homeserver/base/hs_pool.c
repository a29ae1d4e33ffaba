#include "hs_pool.h"
#include "hs_util.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
    hs_pool_fn fn;
    void *arg;
    struct job *next;
};

struct hs_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

static void *pool_main(void *arg)
{
    hs_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        struct job *j = p->head;
        if (!j) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        j->fn(j->arg);
        free(j);
    }
}

hs_pool *hs_pool_new(int nthreads)
{
    hs_pool *p = hs_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->nthreads = nthreads > 0 ? nthreads : 1;
    p->threads = hs_xcalloc((size_t)p->nthreads, sizeof(*p->threads));
    for (int i = 0; i < p->nthreads; i++)
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
            HS_BUG("cannot start a pool thread");
    return p;
}

void hs_pool_free(hs_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}

void hs_pool_submit(hs_pool *p, hs_pool_fn fn, void *arg)
{
    struct job *j = hs_xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    HS_ASSERT(!p->stopping);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}
