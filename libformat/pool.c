/* pool.c - a fixed set of worker threads running "parallel for" jobs.
 *
 * The caller takes part in every job, so a pool of one thread is just a
 * loop. Jobs are fork-join: pool_for() returns when every index is done,
 * which keeps the writer's ordering simple (read, hash, decide, compress,
 * write, each stage over one batch of blocks).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmrp_private.h"

struct pool {
    pthread_t *threads;
    unsigned nthreads; /* workers, not counting the caller */
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    unsigned long generation;
    int stop;
    pool_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next; /* taken without the lock: no lock per index */
    unsigned busy;
};

/* Take indices until none is left. fn, ctx and n were set before the job
 * was announced under the lock, so every thread sees them. */
static void drain(pool *p, unsigned worker)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n)
            return;
        p->fn(p->ctx, i, worker);
    }
}

typedef struct {
    pool *p;
    unsigned worker;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg *a = arg;
    pool *p = a->p;
    unsigned worker = a->worker;
    free(a);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->start, &p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        drain(p, worker);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

unsigned pool_default_threads(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 && online <= 256 ? (unsigned)online : 1;
}

pool *pool_new(unsigned threads)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    atomic_init(&p->next, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    unsigned workers = threads > 1 ? threads - 1 : 0;
    p->threads = calloc(workers ? workers : 1, sizeof *p->threads);
    if (!p->threads) {
        pool_free(p);
        return NULL;
    }
    for (unsigned i = 0; i < workers; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a)
            break;
        a->p = p;
        a->worker = i + 1; /* the caller is worker 0 */
        if (pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            break;
        }
        p->nthreads++;
    }
    return p;
}

unsigned pool_size(const pool *p)
{
    return p->nthreads + 1;
}

void pool_start(pool *p, size_t n, pool_fn fn, void *ctx)
{
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->busy = n ? p->nthreads : 0;
    if (n) {
        p->generation++;
        pthread_cond_broadcast(&p->start);
    }
    pthread_mutex_unlock(&p->lock);
}

void pool_finish(pool *p)
{
    drain(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void pool_for(pool *p, size_t n, pool_fn fn, void *ctx)
{
    pool_start(p, n, fn, ctx);
    pool_finish(p);
}

void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p);
}
