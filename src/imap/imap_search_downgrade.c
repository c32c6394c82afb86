/* imap_search_downgrade.c: SEARCH LARGER and SMALLER in a session that
 * enabled neither UTF8=ACCEPT nor IMAP4rev2 (imap_search_eval.h).
 *
 * Contract: RFC 9051 6.4.4 LARGER n / SMALLER n compare the message's
 * RFC822.SIZE; such a session is shown the RFC 6858 synthetic message
 * (imap_fetch_downgrade.c), so the size compared is that message's, and
 * SEARCH LARGER agrees with FETCH RFC822.SIZE. Only messages whose row
 * says some header is 8-bit (messages.hdr8bit, schema 9) or does not
 * know are looked at (a row stored before schema 9 learns it here,
 * once); 7-bit mail costs nothing. Runs on the store lane, as the rest
 * of the search. */
#include "imap/imap_search_eval.h"
#include "lib/log.h"

static bool uses_size(const struct imap_search_program *p)
{
	for (unsigned i = 0; i < p->count; i++)
		if (p->nodes[i].key == IMAP_SEARCH_LARGER || p->nodes[i].key == IMAP_SEARCH_SMALLER)
			return true;
	return false;
}

bool imap_search_downgrade_reads(const struct imap_search_program *p,
				 const struct imap_search_ctx *ctx)
{
	return ctx->downgrade_sizes && uses_size(p);
}

void imap_search_downgrade_sizes(const struct imap_search_program *p,
				 struct store_view *view, const struct imap_search_ctx *ctx,
				 struct store_message_info *msgs, unsigned count)
{
	if (!imap_search_downgrade_reads(p, ctx))
		return;
	for (unsigned i = 0; i < count; i++) {
		if (msgs[i].hdr_8bit == 0 || msgs[i].lost)
			continue;
		if (ctx->cancelled != NULL && ctx->cancelled(ctx->cancel_context))
			return; /* the run notices and stops */
		struct store_message_info m = msgs[i];
		const char *error;
		if (store_view_message_downgraded_size(view, m.uid, &m, &error) < 0)
			log_warn("event=search_downgraded_size_failed uid=%u error=%s", m.uid,
				 log_str(error));
		else
			msgs[i].size = m.size;
	}
}
