/* imap_condstore.c: CONDSTORE (RFC 7162 3.1) for the session: enabling
 * (by ENABLE, 3.1, or the first CONDSTORE-enabling command: SELECT/EXAMINE
 * (CONDSTORE), FETCH MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH
 * MODSEQ, STATUS HIGHESTMODSEQ), and the pieces the commands add once it
 * is on: HIGHESTMODSEQ, "UID n MODSEQ (m)" in FETCH responses that report
 * flags (3.2), STORE's [MODIFIED set] (3.1.3).
 *
 * The parsing of the parameters is in imap_condstore_parse.c (pure, unit
 * tested and fuzzed); QRESYNC's answers are in imap_qresync.c. Every
 * MODSEQ comes from the store (store_view.h), which keeps one per change
 * from the start, so enabling costs nothing. */
#include "imap_condstore.h"
#include "imap/imap_msgset.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <stdio.h>
#include <string.h>

bool imap_condstore_enable(struct imap_session *s)
{
	if (s->condstore)
		return false;
	s->condstore = true;
	log_debug("sid=%s event=condstore_enabled", s->base.sid);
	return true;
}

bool imap_qresync_enable(struct imap_session *s)
{
	/* RFC 7162 3.2.3: ENABLE QRESYNC also enables CONDSTORE */
	(void)imap_condstore_enable(s);
	if (s->qresync)
		return false;
	s->qresync = true;
	return true;
}

uint64_t imap_condstore_highest(uint64_t modseq)
{
	return modseq == 0 ? 1 : modseq;
}

void imap_condstore_announce(struct imap_session *s)
{
	if (s->sel == NULL || s->sel->view == NULL)
		return;
	/* RFC 7162 3.1, 3.1.2.1: the first CONDSTORE-enabling command in
	 * the selected state tells the client the mailbox's HIGHESTMODSEQ:
	 * as this session knows the mailbox (its last sync, below flag
	 * changes still owed), never the store's current value, which
	 * counts changes not reported to it yet (another session's expunge
	 * or flag change: a client that resynced from it would never learn
	 * them; RFC 7162 3.2's rule) */
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
		      (unsigned long long)imap_condstore_highest(
			      imap_selected_told_modseq(s->sel)));
}

void imap_condstore_activate(struct imap_cmd *cmd)
{
	if (imap_condstore_enable(cmd->s))
		imap_condstore_announce(cmd->s);
}

const char *imap_condstore_fetch_extra(const struct imap_session *s, uint32_t uid,
				       uint64_t modseq, bool has_uid, char *buf, size_t size)
{
	if (!s->condstore)
		return "";
	/* RFC 7162 3.2 (3.1.4.1): once enabled, untagged FETCH responses
	 * carry UID and MODSEQ */
	if (has_uid)
		snprintf(buf, size, " MODSEQ (%llu)", (unsigned long long)modseq);
	else
		snprintf(buf, size, " UID %u MODSEQ (%llu)", uid, (unsigned long long)modseq);
	return buf;
}

/* the FETCH FLAGS sent for a flag change (imap_select.c sync,
 * NOTIFY SELECTED-DELAYED) */
void imap_selected_flags_fetch(struct imap_session *s, unsigned seq,
			       const struct store_view_flag_change *fc)
{
	bool recent = !s->rev2 && imap_selected_is_recent(s->sel, fc->uid);
	char extra[64];
	imap_untagged(s, "%u FETCH (FLAGS (%s%s%s)%s)", seq, fc->flags,
		      recent && *fc->flags != '\0' ? " " : "", recent ? "\\Recent" : "",
		      imap_condstore_fetch_extra(s, fc->uid, fc->modseq, false, extra,
						 sizeof(extra)));
}

const char *imap_condstore_modified_code(struct imap_cmd *cmd, const uint32_t *uids,
					 unsigned count)
{
	struct imap_session *s = cmd->s;
	if (count == 0)
		return NULL;
	uint32_t *nums = pool_alloc(s->base.cmd_pool, count * sizeof(*nums));
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		uint32_t v = cmd->uid ? uids[i] : store_view_seq(s->sel->view, uids[i]);
		if (v != 0)
			nums[n++] = v;
	}
	if (n == 0)
		return NULL;
	/* sequence numbers ascend with UIDs: the set stays sorted */
	str_t code = STR_INIT;
	str_appendz(&code, "MODIFIED ");
	imap_msgset_append_uids(&code, nums, n);
	const char *ret = pool_strndup(s->base.cmd_pool, str_c(&code), code.len);
	str_free(&code);
	return ret;
}

/* messages whose rows are read at once for SEARCH's highest MODSEQ */
#define IMAP_CONDSTORE_BATCH 1024

int imap_condstore_search_highest(struct store_view *view, const uint32_t *uids,
				  unsigned count, pool_t *pool, uint64_t *modseq_r,
				  const char **error_r)
{
	(void)pool; /* each batch has its own: the rows are not kept */
	*modseq_r = 0;
	for (unsigned at = 0; at < count; at += IMAP_CONDSTORE_BATCH) {
		unsigned n = count - at < IMAP_CONDSTORE_BATCH ? count - at : IMAP_CONDSTORE_BATCH;
		pool_t *batch = pool_create(16384);
		struct store_message_info *infos;
		unsigned got;
		if (store_view_list_uids(view, uids + at, n, batch, &infos, &got, error_r) < 0) {
			pool_destroy(&batch);
			return -1;
		}
		for (unsigned i = 0; i < got; i++)
			if (infos[i].modseq > *modseq_r)
				*modseq_r = infos[i].modseq;
		pool_destroy(&batch);
	}
	return 0;
}

void imap_condstore_search_append(str_t *out, size_t start, uint64_t modseq)
{
	/* RFC 7162 3.1.5: nothing when nothing matched (modseq 0) */
	if (modseq == 0 || out->len < start + 4 ||
	    memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		return;
	bool esearch = out->len >= start + 10 && memcmp(out->data + start, "* ESEARCH", 9) == 0;
	str_truncate(out, out->len - 2);
	str_printf(out, esearch ? " MODSEQ %llu\r\n" : " (MODSEQ %llu)\r\n",
		   (unsigned long long)modseq);
}
