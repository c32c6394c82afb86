/* suite.c: the backend suite's helpers (suite.h), written against the
 * store's public headers only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/backend-suite/suite.h"

int suite_setup(void **state)
{
	const char *error;
	struct suite *s = xcalloc(1, sizeof(*s));
	s->fx = suite_backend();
	if (s->fx->create(s->fx, &error) < 0 ||
	    s->fx->open(s->fx, &s->store, &error) < 0 ||
	    store_user_create(s->store, SUITE_USER, &error) < 0) {
		fprintf(stderr, "suite_setup backend=%s error=%s\n",
			s->fx->name, error);
		return -1;
	}
	s->pool = pool_create(4096);
	*state = s;
	return 0;
}

int suite_teardown(void **state)
{
	struct suite *s = *state;
	if (s->store != NULL)
		store_close(&s->store);
	s->fx->destroy(s->fx);
	pool_destroy(&s->pool);
	free(s);
	return 0;
}

struct store *suite_open(struct suite *s)
{
	const char *error = NULL;
	struct store *store = NULL;
	assert_int_equal(s->fx->open(s->fx, &store, &error), 0);
	return store;
}

void suite_reopen(struct suite *s)
{
	store_close(&s->store);
	s->store = suite_open(s);
}

int suite_try_deliver(struct store *store, const char *mailbox,
		      const char *body, unsigned sysflags, uint32_t *uid_r)
{
	const char *error;
	struct store_delivery *d = store_delivery_begin(store, SUITE_USER,
							mailbox, &error);
	if (d == NULL)
		return -1;
	struct store_flags_update fl = { .op = STORE_FLAGS_REPLACE,
					 .sysflags = sysflags };
	if (store_delivery_write(d, body, strlen(body), &error) < 0 ||
	    (sysflags != 0 &&
	     store_delivery_set_meta(d, &fl, 0, &error) < 0)) {
		store_delivery_abort(&d);
		return -1;
	}
	return store_delivery_commit(&d, uid_r, &error);
}

uint32_t suite_deliver(struct store *store, const char *mailbox,
		       const char *body, unsigned sysflags, time_t date)
{
	const char *error = NULL;
	uint32_t uid = 0;
	struct store_delivery *d = store_delivery_begin(store, SUITE_USER,
							mailbox, &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write(d, body, strlen(body), &error), 0);
	if (sysflags != 0 || date != 0) {
		struct store_flags_update fl = { .op = STORE_FLAGS_REPLACE,
						 .sysflags = sysflags };
		assert_int_equal(store_delivery_set_meta(d, &fl, date, &error), 0);
	}
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_true(uid > 0);
	return uid;
}

bool suite_mailbox_listed(struct suite *s, const char *name)
{
	const char **names;
	unsigned n;
	const char *error = NULL;
	assert_int_equal(store_mailbox_list(s->store, SUITE_USER, s->pool, &names,
					    &n, &error), 0);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

struct store_view *suite_view(struct store *store, const char *mailbox)
{
	const char *error = NULL;
	struct store_view *view = NULL;
	assert_int_equal(store_view_open(store, SUITE_USER, mailbox, &view,
					 &error), 0);
	return view;
}

void suite_sync(struct suite *s, struct store_view *view,
		struct store_view_changes *c)
{
	const char *error = NULL;
	assert_int_equal(store_view_sync(view, s->pool, c, &error), 0);
}

void suite_set_flags(struct store_view *view, uint32_t uid,
		     enum store_flags_op op, unsigned sysflags)
{
	const char *error = NULL;
	struct store_flags_update u = { .op = op, .sysflags = sysflags };
	assert_int_equal(store_view_set_flags(view, &uid, 1, &u, NULL, NULL,
					      NULL, &error), 0);
}

int suite_read(struct store_view *view, uint32_t uid, pool_t *pool,
	       const char **data_r, size_t *size_r)
{
	const char *error;
	struct store_message_reader *r = store_view_message_open(view, uid, &error);
	if (r == NULL)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	for (unsigned i = 0; i < 100000; i++) {
		if (cap - len < 1024) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t n = store_message_read(r, buf + len, cap - len, &error);
		if (n < 0) {
			free(buf);
			store_message_close(&r);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	store_message_close(&r);
	char *out = pool_alloc(pool, len + 1);
	memcpy(out, buf, len);
	out[len] = '\0';
	free(buf);
	*data_r = out;
	*size_r = len;
	return 0;
}

struct store_mailbox_status suite_check_status(struct suite *s,
					       const char *mailbox)
{
	const char *error = NULL;
	struct store_mailbox_status st;
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_status(s->store, SUITE_USER, mailbox,
					      &st, &error), 0);
	assert_int_equal(store_mailbox_list_messages(s->store, SUITE_USER,
						     mailbox, s->pool, &msgs,
						     &count, &error), 0);
	uint32_t unseen = 0, deleted = 0, last_uid = 0;
	uint64_t size = 0, top = 0;
	for (unsigned i = 0; i < count; i++) {
		assert_true(msgs[i].uid > last_uid);
		last_uid = msgs[i].uid;
		unseen += (msgs[i].sysflags & STORE_FLAG_SEEN) == 0;
		deleted += (msgs[i].sysflags & STORE_FLAG_DELETED) != 0;
		assert_int_equal(msgs[i].sysflags,
				 store_flags_text_bits(msgs[i].flags));
		size += msgs[i].size;
		if (msgs[i].modseq > top)
			top = msgs[i].modseq;
	}
	assert_int_equal(st.messages, count);
	assert_int_equal(st.unseen, unseen);
	assert_int_equal(st.deleted, deleted);
	assert_true(st.size == size);
	assert_true(st.uidnext > last_uid);
	assert_true(st.recent <= st.messages);
	assert_true(st.highestmodseq >= top);
	return st;
}

static pid_t spawn(struct suite *s, suite_child_fn *fn, void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *error;
		struct store *store;
		int ret = 1;
		if (s->fx->open(s->fx, &store, &error) == 0) {
			ret = fn(store, arg) == 0 ? 0 : 1;
			store_close(&store);
		}
		_exit(ret);
	}
	return pid;
}

pid_t suite_spawn(struct suite *s, suite_child_fn *fn, void *arg)
{
	return spawn(s, fn, arg);
}

/* The child's wait status, or -1 if it outlived timeout_ms (then killed). */
int suite_wait(pid_t pid, unsigned timeout_ms)
{
	int status;
	for (unsigned waited = 0;; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			return -1;
		}
		usleep(5000);
	}
}

void suite_in_child(struct suite *s, suite_child_fn *fn, void *arg)
{
	int status = suite_wait(spawn(s, fn, arg), 20000);
	assert_true(status >= 0 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}
