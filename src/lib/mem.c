/* mem.c: see mem.h. */
#include "mem.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static void oom(size_t size)
{
	fatal("event=out_of_memory size=%zu", size);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		oom(size);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom(n * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

struct pool_block {
	struct pool_block *next;
	size_t size, used;
	max_align_t data[];
};

struct pool {
	struct pool_block *head;
	size_t block_size;
};

static struct pool_block *pool_block_new(size_t size)
{
	struct pool_block *b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

pool_t *pool_create(size_t block_size)
{
	pool_t *p = xcalloc(1, sizeof(*p));
	p->block_size = block_size < 64 ? 64 : block_size;
	/* the first block comes with the first allocation */
	return p;
}

static void pool_free_blocks(struct pool_block *b)
{
	while (b != NULL) {
		struct pool_block *next = b->next;
		free(b);
		b = next;
	}
}

void pool_destroy(pool_t **pool)
{
	if (*pool == NULL)
		return;
	pool_free_blocks((*pool)->head);
	free(*pool);
	*pool = NULL;
}

void pool_release(pool_t *pool)
{
	pool_free_blocks(pool->head);
	pool->head = NULL;
}

size_t pool_allocated(const pool_t *pool)
{
	size_t total = 0;
	for (const struct pool_block *b = pool->head; b != NULL; b = b->next)
		total += b->size;
	return total;
}

void pool_clear(pool_t *pool)
{
	struct pool_block *b = pool->head, *last = b;
	if (b == NULL)
		return;
	/* keep the oldest block (the tail), which has the default size */
	while (last->next != NULL)
		last = last->next;
	while (b != last) {
		struct pool_block *next = b->next;
		free(b);
		b = next;
	}
	last->used = 0;
	pool->head = last;
}

void *pool_alloc(pool_t *pool, size_t size)
{
	const size_t align = sizeof(max_align_t);
	if (size > SIZE_MAX - align)
		oom(size);
	size = (size + align - 1) & ~(align - 1);
	struct pool_block *b = pool->head;
	if (b == NULL || b->size - b->used < size) {
		size_t bs = size > pool->block_size ? size : pool->block_size;
		b = pool_block_new(bs);
		b->next = pool->head;
		pool->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *pool_strndup(pool_t *pool, const char *s, size_t n)
{
	char *p = pool_alloc(pool, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pool_strdup(pool_t *pool, const char *s)
{
	return pool_strndup(pool, s, strlen(s));
}

char *pool_vprintf(pool_t *pool, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	char *p = pool_alloc(pool, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *pool_printf(pool_t *pool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = pool_vprintf(pool, fmt, ap);
	va_end(ap);
	return p;
}

static _Thread_local pool_t *temp_pool;
static pthread_key_t temp_pool_key;
static pthread_once_t temp_pool_once = PTHREAD_ONCE_INIT;

/* a thread's temp pool is freed when the thread exits */
static void temp_pool_destructor(void *pool)
{
	pool_t *p = pool;
	pool_destroy(&p);
	temp_pool = NULL;
}

static void temp_pool_key_create(void)
{
	(void)pthread_key_create(&temp_pool_key, temp_pool_destructor);
}

pool_t *pool_temp(void)
{
	if (temp_pool == NULL) {
		temp_pool = pool_create(8192);
		pthread_once(&temp_pool_once, temp_pool_key_create);
		(void)pthread_setspecific(temp_pool_key, temp_pool);
	}
	return temp_pool;
}

char *t_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = pool_vprintf(pool_temp(), fmt, ap);
	va_end(ap);
	return p;
}

char *t_strndup(const char *s, size_t n)
{
	return pool_strndup(pool_temp(), s, n);
}
