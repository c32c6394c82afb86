/* imap_fetch_cmd.h: FETCH beyond its own files: its entry for NOTIFY
 * (imap_fetch_cmd.c) and what its job calls on the lane, RFC 6858
 * downgrading (imap_fetch_downgrade.c), THREADID's backfill
 * (imap_objectid.c) and PREVIEW (imap_preview.c). */
#ifndef POSTEL_IMAP_FETCH_CMD_H
#define POSTEL_IMAP_FETCH_CMD_H

#include "lib/mem.h"

#include <stdbool.h>
#include <stdint.h>

struct imap_cmd;
struct imap_fetch_request;
struct imap_session;
struct mime_tree;
struct store_message_info;
struct store_message_reader;
struct store_view;

/* imap_fetch_cmd.c, for NOTIFY's MessageNew (RFC 5465 5.2): FETCH of uids
 * (ascending) with req's items plus UID, final(cmd) in place of a reply */
void imap_fetch_run_uids(struct imap_cmd *cmd, const uint32_t *uids, unsigned count,
			 const struct imap_fetch_request *req, void (*final)(struct imap_cmd *cmd));
/* OBJECTID (RFC 8474), PREVIEW (RFC 8970), SAVEDATE (RFC 8514):
 * imap_objectid.c is reached through imap_fetch_render_private.h and
 * imap_search_eval_private.h */
/* imap_objectid.c, on the lane: where THREADID is served (RFC 8474 5.2),
 * the mailbox's old mail gets its subject keys first, once per mailbox
 * (store_view_thread_backfill()); a failure is logged, not answered */
void imap_objectid_thread_backfill(struct store_view *view);
/* imap_preview.c: on the lane; *preview_r from pool ("" for no text) */
int imap_preview_get(struct store_view *view, uint32_t uid, pool_t *pool,
		     const char **preview_r, const char **error_r);
/* imap_fetch_downgrade.c: RFC 6858 downgrading for a session without
 * UTF8=ACCEPT / IMAP4rev2 (see its contract): makes info, *tree (read
 * into pool if NULL and needed) and *reader (opened if NULL) those of
 * the synthetic message when its header is 8-bit; -1 with *error_r when
 * the message cannot be read. */
int imap_fetch_downgrade(const struct imap_session *s, const struct imap_fetch_request *req,
			 struct store_view *view, uint32_t uid,
			 struct store_message_info *info, struct mime_tree **tree,
			 pool_t *pool, struct store_message_reader **reader,
			 const char **error_r);
/* Whether imap_fetch_downgrade() of req would refuse the message
 * (store_downgrade_error_limit), judged from its structure alone: RFC
 * 9051 6.4.5 sets \Seen as a side effect of fetching the body, so a
 * message answered NO [LIMIT] (nothing sent) is not marked */
bool imap_fetch_downgrade_refused(const struct imap_session *s,
				  const struct imap_fetch_request *req, struct store_view *view,
				  struct store_message_info *info);

#endif
