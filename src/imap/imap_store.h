/* imap_store.h: store work for a session (imap_store.c), one job at a
 * time, on its user's lane (session_user.h). work(ctx, store) on a pool
 * thread; store is NULL when the user's handle could not be opened (then
 * no view exists either): work must fail at once. done(ctx) on the loop,
 * where the session may be gone: done checks imap_session_check_gone()
 * first (its ctx is its own to free either way). The last thing a
 * command does. */
#ifndef POSTEL_IMAP_STORE_H
#define POSTEL_IMAP_STORE_H

struct imap_session;
struct store;

typedef void imap_store_work_t(void *ctx, struct store *store);
typedef void imap_store_done_t(void *ctx);
void imap_store_run(struct imap_session *s, imap_store_work_t *work,
		    imap_store_done_t *done, void *ctx);
/* The session ends: its view is closed on the lane, the user let go,
 * then done(s) on the loop. */
void imap_store_close(struct imap_session *s, void (*done)(struct imap_session *s));
/* The command ended: the user's handle may be closed while the session
 * rests (session_user_hold(), taken by imap_store_run()). */
void imap_store_release(struct imap_session *s);

#endif
