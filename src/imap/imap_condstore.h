/* imap_condstore.h: CONDSTORE and QRESYNC (RFC 7162): imap_condstore.c
 * (CONDSTORE, 3.1), imap_qresync.c and imap_qresync_match.c (QRESYNC,
 * 3.2), imap_modseq_pending.c (a MODSEQ sent while an expunge is held
 * back). */
#ifndef POSTEL_IMAP_CONDSTORE_H
#define POSTEL_IMAP_CONDSTORE_H

#include "lib/mem.h"
#include "lib/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_cmd;
struct imap_qresync_params;
struct imap_seqset;
struct imap_session;
struct store_mailbox_status;
struct store_view;

/* imap_condstore.c: CONDSTORE (RFC 7162 3.1). ENABLE rows (true: newly
 * enabled; QRESYNC implies CONDSTORE). imap_condstore_activate(): a
 * CONDSTORE-enabling command ran (3.1); in the selected state the first
 * one gets "* OK [HIGHESTMODSEQ n]" (3.1.2.1). */
bool imap_condstore_enable(struct imap_session *s);
bool imap_qresync_enable(struct imap_session *s);
void imap_condstore_activate(struct imap_cmd *cmd);
/* "* OK [HIGHESTMODSEQ n]" when a mailbox is selected (3.1.2.1), for ENABLE
 * CONDSTORE or QRESYNC in the selected state */
void imap_condstore_announce(struct imap_session *s);
/* The HIGHESTMODSEQ to report for a view's MODSEQ (never 0: 7162 7
 * mod-sequence-value is positive). */
uint64_t imap_condstore_highest(uint64_t modseq);
/* Once enabled, what an untagged FETCH reporting flags adds after FLAGS
 * (3.2: UID unless has_uid, and MODSEQ); "" when not enabled. In buf. */
const char *imap_condstore_fetch_extra(const struct imap_session *s, uint32_t uid,
				       uint64_t modseq, bool has_uid, char *buf, size_t size);
/* STORE (UNCHANGEDSINCE n) [MODIFIED set] (3.1.3): the tagged code for
 * the refused UIDs (ascending), UIDs for UID STORE, else sequence
 * numbers; NULL when none (cmd pool). */
const char *imap_condstore_modified_code(struct imap_cmd *cmd, const uint32_t *uids,
					 unsigned count);

/* SEARCH MODSEQ (3.1.5): in the job, the highest MODSEQ of the matches
 * (0 for none); on the loop, " (MODSEQ n)" (SEARCH) or " MODSEQ n"
 * (ESEARCH) put at the end of the answer line that starts at out[start]. */
int imap_condstore_search_highest(struct store_view *view, const uint32_t *uids,
				  unsigned count, pool_t *pool, uint64_t *modseq_r,
				  const char **error_r);
void imap_condstore_search_append(str_t *out, size_t start, uint64_t modseq);

/* imap_qresync.c: QRESYNC (RFC 7162 3.2). */
/* In SELECT's job (on the lane, after the view opened): the answer to
 * SELECT ... (QRESYNC (...)) as untagged lines in *text_r (pool):
 * VANISHED (EARLIER) and the FETCH of each message changed (3.2.5.1). */
int imap_qresync_select(struct store_view *view, const struct imap_qresync_params *params,
			pool_t *pool, const char **text_r, const char **error_r);
/* In FETCH's job: UID FETCH ... (CHANGEDSINCE n VANISHED) (3.2.6): the
 * "* VANISHED (EARLIER) uids" line (with CRLF) for the UIDs of uid_set
 * (parsed, "*" resolved to UIDNEXT-1) expunged since `since` that the
 * view's map no longer holds, or "" (pool). */
int imap_qresync_fetch_vanished(struct store_view *view, uint64_t since,
				const struct imap_seqset *uid_set, pool_t *pool,
				const char **line_r, const char **error_r);
/* Expunges reported to a QRESYNC session (3.2.10): "* VANISHED uids",
 * in lines of at most max_line octets; false: out of room (call again) */
bool imap_qresync_report_vanished(struct imap_session *s, const uint32_t *uids,
				  unsigned count, unsigned *next);

/* imap_qresync_match.c: the highest UID of the client's seq-match pairs
 * that still has its sequence number (RFC 7162 3.2.5.2), 0 for none:
 * nothing the client holds at or below it is gone. */
uint32_t imap_qresync_match_floor(const struct store_view *view,
				  const struct imap_seqset *seqs,
				  const struct imap_seqset *uids);
/* imap_modseq_pending.c: RFC 7162 3.2, a MODSEQ sent while an expunge
 * is held back comes with an OK [HIGHESTMODSEQ] below it (see its
 * contract). check: on the lane, after the command's MODSEQs were read;
 * report: on the loop, before the tagged reply. */
void imap_modseq_pending_check(struct imap_session *s, bool reports_modseq);
void imap_modseq_pending_report(struct imap_session *s);
/* idlecatchup9. imap_modseq_pending.c, on the lane: STATUS/LIST-STATUS
 * of the selected mailbox with an expunge held back answer the view's
 * MODSEQ (RFC 7162 3.2). */
void imap_modseq_pending_status(struct imap_session *s, const char *name,
				struct store_mailbox_status *st);

#endif
