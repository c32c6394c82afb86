/* store_thread.c: threading a delivered message (see store_thread.h). */
#include "store/store_thread.h"
#include "mime/mime_msgid.h"

#include <string.h>

void store_thread_hdr_feed(struct store_thread_hdr *h, const void *data,
			   size_t len)
{
	if (h->done)
		return;
	size_t room = STORE_THREAD_HDR_MAX - h->buf.len;
	size_t old = h->buf.len;
	str_append(&h->buf, data, len < room ? len : room);
	/* the header ends at the first empty line (LF form); look from
	 * just before the new bytes, the "\n\n" may straddle two writes */
	size_t from = old > 0 ? old - 1 : 0;
	for (size_t i = from; i < h->buf.len; i++) {
		if (h->buf.data[i] == '\n' &&
		    (i == 0 || h->buf.data[i - 1] == '\n')) {
			h->buf.len = i + 1;
			h->done = true;
			return;
		}
	}
	if (h->buf.len >= STORE_THREAD_HDR_MAX)
		h->done = true;
}

void store_thread_hdr_free(struct store_thread_hdr *h)
{
	str_free(&h->buf);
	h->done = false;
}

/* The ids of field name (at most max) into ids: the number. */
static unsigned field_ids(const struct store_thread_hdr *h, const char *name,
			  pool_t *pool, const char **ids, unsigned max)
{
	const char *value;
	size_t len;
	if (h->buf.len == 0 ||
	    !mime_header_find(h->buf.data, h->buf.len, name, &value, &len))
		return 0;
	return mime_msgid_parse(value, len, pool, ids, max);
}

int store_thread_index(const struct store_thread_hdr *h,
		       struct store_index *idx, int64_t mailbox_id,
		       uint32_t uid, const char **error_r)
{
	pool_t *pool = pool_create(4096);
	/* References can be long: keep the root and the nearest parents
	 * (RFC 5256 4 links each to the next; the root names the thread) */
	enum { ALL_MAX = 1024 };
	const char **all = pool_alloc(pool, ALL_MAX * sizeof(*all));
	const char *refs[STORE_THREAD_REFS_MAX + 1], *own[1], *parent[1];
	unsigned n_all = field_ids(h, "References", pool, all, ALL_MAX), n = 0;
	for (unsigned i = 0; i < n_all; i++)
		if (i == 0 || n_all - i < STORE_THREAD_REFS_MAX)
			refs[n++] = all[i];
	/* RFC 5256 4 (1)(A): In-Reply-To's first id when References
	 * is absent; a duplicate lookup is harmless */
	if (field_ids(h, "In-Reply-To", pool, parent, 1) == 1 && n <= STORE_THREAD_REFS_MAX)
		refs[n++] = parent[0];
	unsigned n_own = field_ids(h, "Message-ID", pool, own, 1);
	int ret = 0;
	if (n > 0 || n_own > 0)
		ret = store_index_thread_assign(idx, mailbox_id, uid,
						n_own > 0 ? own[0] : NULL,
						refs, n, error_r);
	pool_destroy(&pool);
	return ret;
}
