/* dkim_key_cache.c: per-thread cache of parsed keys (dkim_key_cache.h). */
#include "dkim/dkim_key_cache.h"
#include "lib/mem.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct file_id {
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct cache_entry {
	char domain[DKIM_DOMAIN_MAX + 1]; /* "" when free */
	struct file_id dir, files[DKIM_KEYS_MAX];
	struct dkim_key keys[DKIM_KEYS_MAX];
	unsigned count;
	uint64_t used; /* for least-recently-used replacement */
};

struct key_cache {
	struct cache_entry entries[DKIM_CACHE_DOMAINS];
	uint64_t tick;
};

static _Thread_local struct key_cache *tl_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void entry_clear(struct cache_entry *e)
{
	for (unsigned i = 0; i < e->count; i++)
		dkim_key_clear(&e->keys[i]);
	memset(e, 0, sizeof(*e));
}

static void cache_destructor(void *p)
{
	struct key_cache *cache = p;
	for (unsigned i = 0; i < DKIM_CACHE_DOMAINS; i++)
		entry_clear(&cache->entries[i]);
	free(cache);
	tl_cache = NULL;
}

static void cache_key_create(void)
{
	(void)pthread_key_create(&cache_key, cache_destructor);
}

static bool file_id_get(const char *path, struct file_id *id)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	*id = (struct file_id){ st.st_ino, st.st_size, st.st_mtim };
	return true;
}

static bool file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static bool entry_fresh(const struct cache_entry *e, const char *dir,
			const struct file_id *dir_id)
{
	if (!file_id_same(&e->dir, dir_id))
		return false;
	for (unsigned i = 0; i < e->count; i++) {
		struct file_id id;
		if (!file_id_get(t_printf("%s/%s.key", dir, e->keys[i].selector), &id) ||
		    !file_id_same(&e->files[i], &id))
			return false;
	}
	return true;
}

int dkim_key_cache_get(const char *data_dir, const char *domain,
		       const struct dkim_key **keys_r, unsigned *count_r,
		       const char **error_r)
{
	*count_r = 0;
	if (tl_cache == NULL) {
		tl_cache = xcalloc(1, sizeof(*tl_cache));
		pthread_once(&cache_once, cache_key_create);
		(void)pthread_setspecific(cache_key, tl_cache);
	}
	const char *dir = t_printf("%s/dkim/%s", data_dir, domain);
	struct file_id dir_id;
	if (!dkim_domain_valid(domain) || !file_id_get(dir, &dir_id))
		return dkim_keys_load(data_dir, domain, NULL, 0, count_r, error_r);
	struct cache_entry *e = NULL, *victim = &tl_cache->entries[0];
	for (unsigned i = 0; i < DKIM_CACHE_DOMAINS; i++) {
		struct cache_entry *c = &tl_cache->entries[i];
		if (strcmp(c->domain, domain) == 0)
			e = c;
		if (c->used < victim->used)
			victim = c;
	}
	if (e != NULL && !entry_fresh(e, dir, &dir_id)) {
		entry_clear(e);
		victim = e;
		e = NULL;
	}
	if (e == NULL) {
		/* the directory's identity first: a change while loading is
		 * seen next time */
		e = victim;
		entry_clear(e);
		if (dkim_keys_load(data_dir, domain, e->keys, DKIM_KEYS_MAX, &e->count,
				   error_r) < 0)
			return -1;
		e->dir = dir_id;
		for (unsigned i = 0; i < e->count; i++) {
			if (!file_id_get(t_printf("%s/%s.key", dir, e->keys[i].selector),
					 &e->files[i]))
				memset(&e->files[i], 0, sizeof(e->files[i]));
		}
		if (e->count == 0) {
			entry_clear(e);
			return 0;
		}
		memcpy(e->domain, domain, strlen(domain) + 1);
	}
	e->used = ++tl_cache->tick;
	*keys_r = e->keys;
	*count_r = e->count;
	return 0;
}
