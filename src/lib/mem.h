/* mem.h: allocation that never returns NULL, and memory pools.
 *
 * Contract: x* functions abort the process with a message on out-of-memory,
 * so callers never check for NULL. A pool is an arena: many allocations,
 * one pool_clear()/pool_destroy() frees them all. Pools are not thread-safe;
 * each thread uses its own. */
#ifndef POSTEL_MEM_H
#define POSTEL_MEM_H

#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Free *ptr and set it to NULL. */
#define xfree(ptrp) do { free(*(ptrp)); *(ptrp) = NULL; } while (0)

typedef struct pool pool_t;

pool_t *pool_create(size_t block_size);
void pool_destroy(pool_t **pool);
/* Frees every allocation but keeps the first block for reuse. */
void pool_clear(pool_t *pool);
/* Frees every allocation and every block: an empty pool costs its
 * header only (a pool takes its first block at its first allocation). */
void pool_release(pool_t *pool);
/* Bytes of the blocks the pool holds (used or not). */
size_t pool_allocated(const pool_t *pool);
void *pool_alloc(pool_t *pool, size_t size); /* zeroed */
char *pool_strdup(pool_t *pool, const char *s);
char *pool_strndup(pool_t *pool, const char *s, size_t n);
char *pool_printf(pool_t *pool, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *pool_vprintf(pool_t *pool, const char *fmt, va_list ap);

/* The per-thread temporary pool: strings that live until the current event
 * callback (or thread-pool job, or CLI command) returns. The event loop
 * clears it after every callback. Use it for error_r messages. */
pool_t *pool_temp(void);
char *t_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *t_strndup(const char *s, size_t n);

#endif
