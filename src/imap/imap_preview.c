/* imap_preview.c: FETCH PREVIEW (RFC 8970) for one message of a view.
 *
 * Contract: runs on the user's lane (FETCH's job, never the event
 * loop). The preview is read from the index cache (schema 7,
 * store_view_message_preview()); the first time it is computed from the
 * cached MIME structure (store_view_message_structure()) and at most
 * MIME_PREVIEW_INPUT_MAX bytes of the chosen part's body, read with a
 * seek (mime_preview.h says which part and how), and stored best effort.
 * PREVIEW (LAZY) is answered the same way: 3.2 lets the server compute
 * it then, and the computation is bounded. */
#include "imap_fetch_cmd.h"
#include "lib/log.h"
#include "mime/mime_preview.h"
#include "store/store_view.h"

#include <string.h>

static int preview_compute(struct store_view *view, uint32_t uid, pool_t *pool,
			   const char **preview_r, const char **error_r)
{
	struct mime_tree *tree = NULL;
	if (store_view_message_structure(view, uid, pool, &tree, error_r) < 0)
		return -1;
	uint32_t index = mime_preview_part(tree);
	if (index == MIME_NONE) {
		mime_tree_free(&tree);
		*preview_r = "";
		return 0;
	}
	const struct mime_part *part = &tree->parts[index];
	uint64_t want = part->body_end - part->body_off;
	if (want > MIME_PREVIEW_INPUT_MAX)
		want = MIME_PREVIEW_INPUT_MAX;
	struct store_message_reader *r = store_view_message_open(view, uid, error_r);
	if (r == NULL) {
		mime_tree_free(&tree);
		return -1;
	}
	char *body = pool_alloc(pool, (size_t)want + 1);
	char chunk[4096]; /* the reader wants room for a CRLF: never a tiny read */
	size_t got = 0;
	int ret = store_message_seek(r, part->body_off, error_r);
	while (ret == 0 && got < want) {
		ssize_t n = store_message_read(r, chunk, sizeof(chunk), error_r);
		if (n < 0)
			ret = -1;
		if (n <= 0)
			break;
		size_t take = (size_t)n < want - got ? (size_t)n : (size_t)(want - got);
		memcpy(body + got, chunk, take);
		got += take;
	}
	store_message_close(&r);
	if (ret == 0) {
		str_t text = STR_INIT;
		mime_preview_text(part, body, got, &text);
		*preview_r = pool_strndup(pool, text.data != NULL ? text.data : "", text.len);
		str_free(&text);
	}
	mime_tree_free(&tree);
	return ret;
}

int imap_preview_get(struct store_view *view, uint32_t uid, pool_t *pool,
		     const char **preview_r, const char **error_r)
{
	if (store_view_message_preview(view, uid, pool, preview_r, error_r) < 0)
		return -1;
	if (*preview_r != NULL)
		return 0;
	if (preview_compute(view, uid, pool, preview_r, error_r) < 0)
		return -1;
	const char *serror;
	if (store_view_message_set_preview(view, uid, *preview_r, &serror) < 0)
		log_warn("event=preview_save_failed uid=%u error=%s", uid, log_str(serror));
	return 0;
}
