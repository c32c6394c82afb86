/* store_structure.c: the MIME structure of a stored message, parsed once
 * and kept in the index (store_view_message_structure(), store_view.h).
 *
 * The tree is parsed from the message's WIRE form (what
 * store_view_message_open() reads: CRLF line ends), so every offset in it
 * (hdr_off, body_off, body_end) is a wire offset, usable as is with
 * store_message_seek() and in IMAP sizes, and every *_bare_lf count is 0.
 * It is computed lazily on the first request (a delivery pays nothing)
 * and stored best effort: if the index is locked by a writer the tree is
 * still returned and the next request parses again. A blob that does not
 * decode (damaged, or an older mime_cache version) is parsed again and
 * replaced. */
#include "store/store_private.h"
#include "lib/log.h"
#include "mime/mime_cache.h"

#define STRUCTURE_READ_CHUNK 16384

static struct mime_tree *structure_parse(struct store_message_reader *r,
					 const char **error_r)
{
	struct mime_parser *p = mime_parser_create();
	char *buf = xmalloc(STRUCTURE_READ_CHUNK);
	ssize_t n;
	while ((n = store_message_read(r, buf, STRUCTURE_READ_CHUNK,
				       error_r)) > 0)
		mime_parser_feed(p, buf, (size_t)n);
	free(buf);
	if (n < 0) {
		mime_parser_abort(&p);
		return NULL;
	}
	return mime_parser_finish(&p);
}

int store_message_structure_get(struct store *store,
				const struct store_address *addr,
				const char *mailbox, uint32_t uid, pool_t *pool,
				struct mime_tree **tree_r, const char **error_r)
{
	void *blob;
	size_t len;
	uint64_t size;
	*tree_r = NULL;
	int ret = store->backend->message_structure(store, addr, mailbox, uid,
						    pool, &blob, &len, &size,
						    error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		*error_r = t_printf("message uid %u is expunged", uid);
		return -1;
	}
	const char *derror;
	if (blob != NULL) {
		if (mime_cache_decode(blob, len, size, tree_r, &derror) == 0)
			return 0;
		if (derror != mime_cache_error_version) /* an upgrade: no news */
			log_warn("event=store_structure_damaged uid=%u error=\"%s\"",
				 uid, derror);
	}
	struct store_message_reader *r =
		store->backend->message_open(store, addr, mailbox, uid, error_r);
	if (r == NULL)
		return -1;
	struct mime_tree *tree = structure_parse(r, error_r);
	store_message_close(&r);
	if (tree == NULL)
		return -1;
	str_t enc = STR_INIT;
	mime_cache_encode(tree, &enc);
	const char *serror;
	if (store->backend->message_set_structure(store, addr, mailbox, uid,
						  enc.data, enc.len,
						  &serror) < 0)
		log_warn("event=store_structure_save_failed uid=%u error=\"%s\"",
			 uid, serror);
	str_free(&enc);
	*tree_r = tree;
	return 0;
}
