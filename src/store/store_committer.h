/* store_committer.h: group commit for deliveries made on many threads.
 *
 * One committer thread with its own store handle. A delivery thread that
 * has written (and fsync'd) its copies calls store_committer_commit(),
 * which blocks until they are committed. Everything that arrives while a
 * batch is being committed forms the next batch, so under load one index
 * transaction and one directory fsync serve many messages, and no message
 * waits for a timer. A user whose index another process keeps locked
 * does not hold up the others: its deliveries wait (at most
 * STORE_INDEX_LOCK_MSECS, then fail with a temporary error) while the
 * rest are committed. */
#ifndef POSTEL_STORE_COMMITTER_H
#define POSTEL_STORE_COMMITTER_H

#include <stdint.h>

struct store_delivery;
struct store_committer;

int store_committer_create(const char *data_dir, struct store_committer **c_r,
			   const char **error_r);
/* Stops the thread after the batches in flight. */
void store_committer_destroy(struct store_committer **c);
/* Thread-safe. Commits ds[0..n) and frees them (sets each to NULL).
 * Returns 0 when all were committed, else -1 with *error_r (a string the
 * caller owns: free() it). uids_r may be NULL. */
int store_committer_commit(struct store_committer *c, struct store_delivery **ds,
			   unsigned n, uint32_t *uids_r, char **error_r);

#endif
