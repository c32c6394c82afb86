/* store_thread_backfill.c: the THREADID subject keys (store_thread.h,
 * RFC 8474 5.2, RFC 5256 4 step 6) of mail stored before deliveries
 * wrote them (session 7), given lazily.
 *
 * Contract (store_view.h store_view_thread_backfill()): the first FETCH
 * THREADID or SEARCH THREADID in a mailbox (imap_objectid.c; on the user's
 * lane, off the event loop) reads the Subject of every message that
 * started its thread and records its base subject key as a delivery
 * would, in batches, then marks the mailbox (mailboxes.thread_keys,
 * schema 9); later calls cost the mailbox row read, which says so.
 * No migration reads every message: a mailbox whose THREADIDs nobody asks
 * for is never read. A message that cannot be read is skipped. */
#include "store/store_private.h"
#include "store/store_view_private.h"

#include "lib/str.h"
#include "mime/mime_msgid.h"
#include "mime/mime_references.h"

/* the header is read up to its empty line, at most this much */
#define BACKFILL_HDR_MAX (64 * 1024)

static const char *root_subject(void *ctx, uint32_t uid, pool_t *pool)
{
	struct store_view *view = ctx;
	const char *error;
	struct store_message_reader *r = store_view_message_open(view, uid, &error);
	if (r == NULL)
		return NULL;
	str_t hdr = STR_INIT;
	int ret = store_message_read_header(r, NULL, BACKFILL_HDR_MAX, &hdr, &error);
	store_message_close(&r);
	if (ret < 0) {
		str_free(&hdr);
		return NULL;    /* cannot be read: skipped */
	}
	const char *value, *subject = "";
	size_t len;
	bool reply;
	if (hdr.len > 0 && mime_header_find(hdr.data, hdr.len, "Subject", &value, &len))
		subject = mime_references_subject(value, len, pool, &reply);
	str_free(&hdr);
	return subject;
}

int store_view_thread_backfill(struct store_view *view, const char **error_r)
{
	return view->store->backend->thread_backfill(view->store, VIEW_ADDR(view), view->mailbox,
						     root_subject, view, error_r);
}
