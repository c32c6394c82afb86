/* store_view_read.c: reading a view's messages (store_view.h): their
 * index rows (all, or of given UIDs), the \Deleted ones, SELECT's first
 * facts, pending expunges, a message's reader, cached structure and
 * preview. Each asks the backend and keeps only what the view's map
 * holds: a message appended since the view's last sync is not there yet,
 * one expunged meanwhile is left out. store_message_read_header(): a
 * part's header through a reader, the one copy FETCH, SORT, downgrading
 * and the THREADID backfill use. */
#include "store/store_view_private.h"

#include <string.h>

#include "lib/str.h"
#include "mime/mime_parser.h"

int store_view_list(struct store_view *view, pool_t *pool,
		    struct store_message_info **messages_r, unsigned *count_r,
		    const char **error_r)
{
	struct store *store = view->store;
	struct store_message_info *all;
	unsigned all_count, out = 0;
	if (store->backend->mailbox_list_messages(store, VIEW_ADDR(view),
						  view->mailbox, pool, &all,
						  &all_count, error_r) < 0)
		return -1;
	/* both in UID order: keep the rows the map holds */
	unsigned m = 0;
	for (unsigned i = 0; i < all_count && m < view->count; i++) {
		while (m < view->count && view->uids[m] < all[i].uid)
			m++;
		if (m < view->count && view->uids[m] == all[i].uid)
			all[out++] = all[i];
	}
	*messages_r = all;
	*count_r = out;
	return 0;
}

struct store_message_reader *
store_view_message_open(struct store_view *view, uint32_t uid,
			const char **error_r)
{
	return view->store->backend->message_open(view->store, VIEW_ADDR(view),
						  view->mailbox, uid, error_r);
}

int store_view_select_info(struct store_view *view, unsigned max_keywords,
			   pool_t *pool, struct store_view_select_info *info_r,
			   const char **error_r)
{
	/* messages appended since the view's sync are not in its map */
	if (view->store->backend->view_select_info(view->store, VIEW_ADDR(view),
						   view->mailbox, view->uidnext,
						   max_keywords, pool, info_r,
						   error_r) < 0)
		return -1;
	info_r->first_unseen_seq = info_r->first_unseen_uid == 0 ? 0 :
		store_view_seq(view, info_r->first_unseen_uid);
	if (info_r->first_unseen_seq == 0)
		info_r->first_unseen_uid = 0;
	return 0;
}

int store_view_deleted(struct store_view *view, pool_t *pool, uint32_t **uids_r,
		       unsigned *count_r, const char **error_r)
{
	uint32_t *uids;
	unsigned count, out = 0;
	if (view->store->backend->mailbox_deleted(view->store, VIEW_ADDR(view),
						  view->mailbox, view->uidnext,
						  pool, &uids, &count, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < count; i++)
		if (store_view_seq(view, uids[i]) != 0)
			uids[out++] = uids[i];
	*uids_r = out > 0 ? uids : NULL;
	*count_r = out;
	return 0;
}

int store_view_expunge_pending(struct store_view *view, uint64_t since, bool *pending_r,
			       const char **error_r)
{
	pool_t *pool = pool_create(1024);
	uint32_t *uids;
	unsigned count;
	bool forgotten = false;
	*pending_r = false;
	int ret = view->store->backend->view_expunged(view->store, VIEW_ADDR(view),
						      view->mailbox, since, pool, &uids,
						      &count, &forgotten, error_r);
	/* below the log's horizon an expunge may be gone from it: assume
	 * one is pending (a lower HIGHESTMODSEQ is safe, RFC 7162 3.2) */
	*pending_r = ret == 0 && forgotten;
	for (unsigned i = 0; ret == 0 && i < count && !*pending_r; i++)
		*pending_r = store_view_seq(view, uids[i]) != 0;
	pool_destroy(&pool);
	return ret < 0 ? -1 : 0;
}

int store_view_list_uids(struct store_view *view, const uint32_t *uids,
			 unsigned count, pool_t *pool,
			 struct store_message_info **messages_r,
			 unsigned *count_r, const char **error_r)
{
	struct store_message_info *all;
	unsigned all_count, out = 0;
	if (view->store->backend->messages_get(view->store, VIEW_ADDR(view),
					       view->mailbox, uids, count, pool,
					       &all, &all_count, error_r) < 0)
		return -1;
	/* expunged since the last sync but the row is back? never: UIDs
	 * are not reused; keep only what the map holds */
	for (unsigned i = 0; i < all_count; i++)
		if (store_view_seq(view, all[i].uid) != 0)
			all[out++] = all[i];
	*messages_r = all;
	*count_r = out;
	return 0;
}

int store_view_message_preview(struct store_view *view, uint32_t uid,
			       pool_t *pool, const char **preview_r,
			       const char **error_r)
{
	int ret = view->store->backend->message_preview(view->store, VIEW_ADDR(view),
							view->mailbox, uid, pool,
							preview_r, error_r);
	if (ret == 0)
		*error_r = t_printf("message uid %u is expunged", uid);
	return ret > 0 ? 0 : -1;
}

int store_view_message_set_preview(struct store_view *view, uint32_t uid,
				   const char *preview, const char **error_r)
{
	return view->store->backend->message_set_preview(view->store, VIEW_ADDR(view),
							 view->mailbox, uid, preview,
							 error_r) < 0 ? -1 : 0;
}

int store_view_message_set_hdr_8bit(struct store_view *view, uint32_t uid,
				    bool eight_bit, uint64_t dg_size, const char **error_r)
{
	return view->store->backend->message_set_hdr_8bit(view->store, VIEW_ADDR(view),
							  view->mailbox, uid, eight_bit,
							  dg_size, error_r) < 0 ? -1 : 0;
}

int store_view_message_structure(struct store_view *view, uint32_t uid,
				 pool_t *pool, struct mime_tree **tree_r,
				 const char **error_r)
{
	return store_message_structure_get(view->store, VIEW_ADDR(view),
					   view->mailbox, uid, pool, tree_r,
					   error_r);
}

/* part NULL: read from 0 up to the empty line, in chunks (bounded: every
 * round adds at least one octet or stops, and max bounds the total) */
static int read_top_header(struct store_message_reader *r, size_t max,
			   str_t *hdr, const char **error_r)
{
	char buf[4096];
	while (hdr->len < max) {
		size_t room = max - hdr->len;
		ssize_t n = store_message_read(r, buf, sizeof(buf), error_r);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		size_t from = hdr->len > 3 ? hdr->len - 3 : 0;
		str_append(hdr, buf, (size_t)n > room ? room : (size_t)n);
		if (hdr->len >= 2 && memcmp(hdr->data, "\r\n", 2) == 0) {
			str_truncate(hdr, 2);   /* no header fields at all */
			break;
		}
		const char *end = memmem(hdr->data + from, hdr->len - from, "\r\n\r\n", 4);
		if (end != NULL) {
			str_truncate(hdr, (size_t)(end - hdr->data) + 4);
			break;
		}
	}
	return 0;
}

int store_message_read_header(struct store_message_reader *r,
			      const struct mime_part *part, size_t max,
			      str_t *hdr, const char **error_r)
{
	str_clear(hdr);
	if (store_message_seek(r, part == NULL ? 0 : part->hdr_off, error_r) < 0)
		return -1;
	if (part == NULL)
		return read_top_header(r, max, hdr, error_r);
	uint64_t span = part->body_off - part->hdr_off;
	size_t want = span > max ? max : (size_t)span;
	str_reserve(hdr, want + 1);
	/* bounded: every round reads at least one octet or stops */
	while (hdr->len < want) {
		size_t room = want - hdr->len;
		ssize_t n = store_message_read(r, hdr->data + hdr->len,
					       room < 2 ? 2 : room, error_r);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		/* room < 2 may have read one byte past want: drop it */
		hdr->len += (size_t)n > room ? room : (size_t)n;
	}
	hdr->data[hdr->len] = '\0';
	return 0;
}
