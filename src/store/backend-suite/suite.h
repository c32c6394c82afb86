/* suite.h: the store backend suite's harness. The suite's tests use only
 * the store's public headers (store.h, store_view.h, store_watch.h), never
 * a backend's own headers or file paths, so that every backend passes the
 * same tests unchanged.
 *
 * A backend plugs in by supplying suite_backend(), a fixture whose
 * create() makes an empty store instance (a temporary data directory,
 * a scratch database), open() opens one more handle on it (callable in
 * a forked child: the child opens its own handles, never uses the
 * parent's) and destroy() removes the instance. suite-maildir.c is the
 * maildir-sqlite backend's fixture; a PostgreSQL backend links the same
 * test-*.c files with its own fixture file.
 *
 * Helpers fail the running cmocka test on any unexpected -1; in a forked
 * child use the suite_child_*() forms, which _exit(1) instead. */
#ifndef POSTEL_STORE_BACKEND_SUITE_H
#define POSTEL_STORE_BACKEND_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/mem.h"
#include "store/store.h"
#include "store/store_view.h"

#define SUITE_USER "suite@example.org"

struct store_backend_fixture {
	const char *name;
	int (*create)(struct store_backend_fixture *fx, const char **error_r);
	int (*open)(struct store_backend_fixture *fx, struct store **store_r,
		    const char **error_r);
	void (*destroy)(struct store_backend_fixture *fx);
	void *priv; /* the backend's own state (maildir: the data dir) */
};

/* Supplied by the backend's fixture file. */
struct store_backend_fixture *suite_backend(void);

/* One test's state: the fixture, a handle with SUITE_USER created. */
struct suite {
	struct store_backend_fixture *fx;
	struct store *store;
	pool_t *pool;
};

/* cmocka setup/teardown, one fresh instance per test: SUITE_TEST(fn). */
int suite_setup(void **state);
int suite_teardown(void **state);
#define SUITE_TEST(fn) cmocka_unit_test_setup_teardown(fn, suite_setup, suite_teardown)

struct store *suite_open(struct suite *s);
/* Close and reopen s->store (a fresh handle on the same instance). */
void suite_reopen(struct suite *s);

/* Deliver body into mailbox with flags/date (0: none/now); its UID. */
uint32_t suite_deliver(struct store *store, const char *mailbox,
		       const char *body, unsigned sysflags, time_t date);
/* Same, -1 instead of failing (for children and crash rounds). */
int suite_try_deliver(struct store *store, const char *mailbox,
		      const char *body, unsigned sysflags, uint32_t *uid_r);
struct store_view *suite_view(struct store *store, const char *mailbox);
/* Whether store_mailbox_list() lists name for SUITE_USER. */
bool suite_mailbox_listed(struct suite *s, const char *name);
void suite_sync(struct suite *s, struct store_view *view,
		struct store_view_changes *c);
void suite_set_flags(struct store_view *view, uint32_t uid,
		     enum store_flags_op op, unsigned sysflags);
/* The whole message uid of view in wire form (pool); -1 if it cannot
 * be opened or read. */
int suite_read(struct store_view *view, uint32_t uid, pool_t *pool,
	       const char **data_r, size_t *size_r);

/* The status a full walk of mailbox gives (messages, unseen, deleted,
 * size, uidnext >= largest UID + 1), compared with store_mailbox_status;
 * fails the test on a mismatch. Returns the status. */
struct store_mailbox_status suite_check_status(struct suite *s,
					       const char *mailbox);

/* Run fn(arg) in a forked child that opens its own handle; waits for it
 * (bounded) and fails the test unless the child exited 0. */
typedef int suite_child_fn(struct store *store, void *arg);
void suite_in_child(struct suite *s, suite_child_fn *fn, void *arg);
/* Fork fn without waiting; suite_wait() reaps it (bounded). */
pid_t suite_spawn(struct suite *s, suite_child_fn *fn, void *arg);
int suite_wait(pid_t pid, unsigned timeout_ms);

#endif
