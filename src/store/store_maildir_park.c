/* store_maildir_park.c: open users handed between the store handles of
 * one process (one worker).
 *
 * Each store handle keeps a few users of its own (store_maildir.c); a
 * handle and its users are used by one thread at a time, as SQLite's
 * threading rules want. When a handle lets a user go (its cache is full,
 * or the handle is closed) the user is parked here instead of closed,
 * and the next handle of this process that needs that user takes it
 * back instead of opening the index again: a POP3 session (a handle of
 * its own each time), a delivery thread or the committer finds the index
 * another one had open. A parked user belongs to no handle; taking it
 * under the mutex makes it the taker's alone. This is the first shape of
 * the per-worker user cache (one open index per user per worker, issue 9
 * "First" item 3): what is missing is sharing a user that is in use,
 * which needs the per-user lane that runs store work in order.
 *
 * Bounded: MAILDIR_PARK_MAX users, the longest parked closed first.
 * Everything parked is closed when the process's last handle closes. A
 * forked child never uses what its parent parked (SQLite connections
 * must not cross fork()): it forgets them. */
#include "store/store_maildir.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

static struct {
	pthread_mutex_t lock;
	pid_t pid;
	unsigned handles;
	struct maildir_user *head; /* most recently parked first */
	unsigned count;
} park = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Under the lock. */
static void park_forget_if_forked(void)
{
	pid_t pid = getpid();
	if (park.pid == pid)
		return;
	park.pid = pid;
	park.head = NULL;
	park.count = 0;
	park.handles = 0;
}

void maildir_park_handle_opened(void)
{
	pthread_mutex_lock(&park.lock);
	park_forget_if_forked();
	park.handles++;
	pthread_mutex_unlock(&park.lock);
}

void maildir_park_handle_closed(void)
{
	struct maildir_user *close_list = NULL;
	pthread_mutex_lock(&park.lock);
	park_forget_if_forked();
	if (park.handles > 0)
		park.handles--;
	if (park.handles == 0) {
		close_list = park.head;
		park.head = NULL;
		park.count = 0;
	}
	pthread_mutex_unlock(&park.lock);
	while (close_list != NULL) {
		struct maildir_user *next = close_list->next;
		maildir_user_destroy(&close_list);
		close_list = next;
	}
}

void maildir_park_put(struct maildir_user *user)
{
	struct maildir_user *victim = NULL;
	pthread_mutex_lock(&park.lock);
	park_forget_if_forked();
	user->next = park.head;
	park.head = user;
	if (++park.count > MAILDIR_PARK_MAX) {
		struct maildir_user **p = &park.head;
		while ((*p)->next != NULL)
			p = &(*p)->next;
		victim = *p;
		*p = NULL;
		park.count--;
	}
	pthread_mutex_unlock(&park.lock);
	/* closing may checkpoint the WAL: not under the mutex */
	if (victim != NULL)
		maildir_user_destroy(&victim);
}

struct maildir_user *maildir_park_take(const char *dir)
{
	struct maildir_user *user = NULL;
	pthread_mutex_lock(&park.lock);
	park_forget_if_forked();
	for (struct maildir_user **p = &park.head; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->dir, dir) == 0) {
			user = *p;
			*p = user->next;
			user->next = NULL;
			park.count--;
			break;
		}
	}
	pthread_mutex_unlock(&park.lock);
	return user;
}
