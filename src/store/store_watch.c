/* store_watch.c: see store_watch.h. Notifications from store threads wait
 * in a fixed array under a mutex; an eventfd wakes the loop, which takes
 * the whole array at once and runs watchers and the publish hook there. */
#include "store/store_watch.h"
#include "lib/ioloop.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct store_watch {
	char *user, *mailbox; /* NULL: any */
	store_watch_callback_t *cb;
	void *ctx;
	bool removed;
	struct store_watch *next;
};

struct watch_change {
	char *user, *mailbox;
	uint64_t modseq;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
/* under watch_lock */
static bool attached;
static int wake_fd = -1;
static struct watch_change pending[STORE_WATCH_PENDING_MAX];
static unsigned pending_count;
static uint64_t dropped;
/* loop thread only */
static struct io *wake_io;
static store_watch_publish_t *publish_hook;
static void *publish_ctx;
static struct store_watch *watchers;
static unsigned dispatching;

static bool watch_matches(const struct store_watch *w, const char *user,
			  const char *mailbox)
{
	return !w->removed &&
		(w->user == NULL || strcmp(w->user, user) == 0) &&
		(w->mailbox == NULL || strcmp(w->mailbox, mailbox) == 0);
}

/* Free the watchers removed while callbacks ran. */
static void watch_reap(void)
{
	struct store_watch **p = &watchers;
	while (*p != NULL) {
		struct store_watch *w = *p;
		if (!w->removed) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		free(w->user);
		free(w->mailbox);
		free(w);
	}
}

static void watch_dispatch(const char *user, const char *mailbox, uint64_t modseq,
			   bool from_peer)
{
	dispatching++;
	for (struct store_watch *w = watchers; w != NULL; w = w->next) {
		if (watch_matches(w, user, mailbox))
			w->cb(user, mailbox, modseq, from_peer, w->ctx);
	}
	if (--dispatching == 0)
		watch_reap();
}

struct store_watch *store_watch_add(const char *user, const char *mailbox,
				    store_watch_callback_t *cb, void *ctx)
{
	struct store_watch *w = xcalloc(1, sizeof(*w));
	w->user = user != NULL ? xstrdup(user) : NULL;
	w->mailbox = mailbox != NULL ? xstrdup(mailbox) : NULL;
	w->cb = cb;
	w->ctx = ctx;
	/* appended: a watcher added by a callback sees the next change */
	struct store_watch **p = &watchers;
	while (*p != NULL)
		p = &(*p)->next;
	*p = w;
	return w;
}

void store_watch_remove(struct store_watch **wp)
{
	struct store_watch *w = *wp;
	if (w == NULL)
		return;
	*wp = NULL;
	w->removed = true;
	if (dispatching == 0)
		watch_reap();
}

static void watch_on_wake(void *ctx)
{
	uint64_t v;
	ssize_t r = read(wake_fd, &v, sizeof(v));
	(void)r;
	struct watch_change batch[STORE_WATCH_PENDING_MAX];
	pthread_mutex_lock(&watch_lock);
	unsigned n = pending_count;
	memcpy(batch, pending, n * sizeof(batch[0]));
	pending_count = 0;
	pthread_mutex_unlock(&watch_lock);
	for (unsigned i = 0; i < n; i++) {
		watch_dispatch(batch[i].user, batch[i].mailbox, batch[i].modseq, false);
		if (publish_hook != NULL)
			publish_hook(batch[i].user, batch[i].mailbox, batch[i].modseq,
				     publish_ctx);
		free(batch[i].user);
		free(batch[i].mailbox);
	}
}

void store_watch_attach(struct ioloop *loop, store_watch_publish_t *publish,
			void *ctx)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		fatal("event=eventfd what=store_watch error=\"%s\"", strerror(errno));
	publish_hook = publish;
	publish_ctx = ctx;
	wake_io = io_add(loop, fd, IO_READ, watch_on_wake, NULL);
	pthread_mutex_lock(&watch_lock);
	wake_fd = fd;
	attached = true;
	pthread_mutex_unlock(&watch_lock);
}

void store_watch_detach(void)
{
	pthread_mutex_lock(&watch_lock);
	attached = false;
	for (unsigned i = 0; i < pending_count; i++) {
		free(pending[i].user);
		free(pending[i].mailbox);
	}
	pending_count = 0;
	int fd = wake_fd;
	wake_fd = -1;
	pthread_mutex_unlock(&watch_lock);
	io_remove(&wake_io);
	if (fd >= 0)
		close(fd);
	publish_hook = NULL;
	for (struct store_watch *w = watchers; w != NULL; w = w->next)
		w->removed = true;
	if (dispatching == 0)
		watch_reap();
}

void store_notify_changed(const char *user, const char *mailbox, uint64_t modseq)
{
	pthread_mutex_lock(&watch_lock);
	if (!attached) {
		pthread_mutex_unlock(&watch_lock);
		return;
	}
	bool wake = pending_count == 0;
	unsigned i;
	for (i = 0; i < pending_count; i++) {
		if (strcmp(pending[i].user, user) == 0 &&
		    strcmp(pending[i].mailbox, mailbox) == 0)
			break;
	}
	if (i < pending_count) {
		if (modseq > pending[i].modseq)
			pending[i].modseq = modseq;
	} else if (pending_count < STORE_WATCH_PENDING_MAX) {
		pending[pending_count++] = (struct watch_change){
			.user = xstrdup(user), .mailbox = xstrdup(mailbox),
			.modseq = modseq };
	} else {
		dropped++;
	}
	if (wake) {
		uint64_t one = 1;
		ssize_t w = write(wake_fd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&watch_lock);
}

void store_watch_peer_changed(const char *user, const char *mailbox, uint64_t modseq)
{
	watch_dispatch(user, mailbox, modseq, true);
}

uint64_t store_watch_dropped(void)
{
	pthread_mutex_lock(&watch_lock);
	uint64_t n = dropped;
	pthread_mutex_unlock(&watch_lock);
	return n;
}
