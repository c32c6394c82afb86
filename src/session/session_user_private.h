/* session_user_private.h: the user cache's entries and table, shared by
 * session_user.c (the lanes, idle and quiet closes) and
 * session_user_table.c (the hash table of entries by address). Loop
 * thread only, but what session_user.c says of lane_work(). */
#ifndef POSTEL_SESSION_USER_PRIVATE_H
#define POSTEL_SESSION_USER_PRIVATE_H

#include "session_user.h"
#include "store/store.h"

#include <stdbool.h>

/* local@domain as store.h bounds it */
#define SESSION_USER_ADDRESS_MAX (STORE_LOCAL_MAX + 1 + STORE_DOMAIN_MAX)
#define SESSION_USER_BUCKETS_MIN 64

struct lane_job {
	struct lane_job *next;
	struct session *s;
	bool close;                /* close the handle; no work, no done */
	bool release;              /* close: keep nothing open (quiet) */
	session_user_work_t *work;
	session_user_done_t *done; /* may be NULL */
	void *ctx;
	bool may_open; /* queued before shutdown */
	/* set by lane_work on the pool thread, read by lane_done */
	bool opened, open_failed, closed;
	char *error;
};

struct session_user {
	struct session_user_cache *cache;
	char *address;
	unsigned refs; /* gets not yet put, plus one per queued work job */
	/* the lane: loop thread only */
	struct lane_job *head, *tail, *current;
	unsigned depth; /* queued + running */
	bool running;
	/* owned by the job in flight while running, by the loop otherwise */
	struct store *store;
	/* idle: on the LRU list, closed by idle_to or when the list is full */
	bool idle;
	struct timeout *idle_to;
	/* sessions whose command keeps store state across jobs
	 * (session_user_hold); quiet_to closes the handle of a user whose
	 * sessions all rest */
	unsigned holds;
	struct timeout *quiet_to;
	struct session_user *lru_prev, *lru_next;
	struct session_user *hash_next;
};

struct session_user_cache {
	const struct session_env *env;
	struct session_user **buckets;
	unsigned nbuckets, count;
	struct session_user *lru_head, *lru_tail; /* oldest first */
	unsigned idle_count;
	unsigned busy; /* lanes with a job in the pool */
	unsigned idle_ms, quiet_ms;
	struct timeout *trim_to; /* malloc_trim() after quiet closes */
	bool shutting_down, drain_expired;
	struct session_user_stats stats;
};

/* session_user_table.c */
/* The slot of address (lower case) in the table: *slot is its entry or
 * NULL (then the place to put a new one). */
struct session_user **session_user_slot(struct session_user_cache *c, const char *address);
/* One more entry in the table: grows it past two entries a bucket. */
void session_user_counted(struct session_user_cache *c);

#endif
