/* store_view_write.c: changing a view's messages (store_view.h): flags
 * (keywords checked first), COPY/MOVE (UIDs ascending and without
 * repeats, so the new UIDs follow their order), claiming \Recent; and
 * the importer's calls (store_delivery_set_meta, store_delivery_set_uid,
 * store_mailbox_import_meta). Each checks what it is given, then the
 * backend carries it out. */
#include "store/store_view_private.h"

#include <stdlib.h>
#include <string.h>

static int view_set_flags(struct store_view *view, const uint32_t *uids,
			  unsigned count, const struct store_flags_update *update,
			  pool_t *pool, uint32_t **modified_r,
			  unsigned *modified_count_r,
			  struct store_view_flag_change **results_r,
			  unsigned *result_count_r, const char **error_r)
{
	for (unsigned i = 0; i < update->keyword_count; i++) {
		if (store_keyword_check(update->keywords[i], error_r) < 0)
			return -1;
	}
	uint32_t *modified = NULL;
	unsigned modified_count = 0;
	pool_t *own = pool == NULL ? pool_create(1024) : NULL;
	int ret = view->store->backend->set_flags(view->store, VIEW_ADDR(view),
						  view->mailbox, view->uidvalidity,
						  uids, count, update,
						  own != NULL ? own : pool,
						  &modified, &modified_count,
						  results_r, result_count_r,
						  error_r);
	if (own != NULL) {
		pool_destroy(&own);
		modified = NULL;
	}
	if (modified_r != NULL)
		*modified_r = modified; /* NULL without a pool */
	if (modified_count_r != NULL)
		*modified_count_r = modified_count;
	return ret;
}

int store_view_set_flags(struct store_view *view, const uint32_t *uids,
			 unsigned count, const struct store_flags_update *update,
			 pool_t *pool, uint32_t **modified_r,
			 unsigned *modified_count_r, const char **error_r)
{
	return view_set_flags(view, uids, count, update, pool, modified_r,
			      modified_count_r, NULL, NULL, error_r);
}

int store_view_set_flags_result(struct store_view *view, const uint32_t *uids,
				unsigned count,
				const struct store_flags_update *update,
				pool_t *pool,
				struct store_view_flag_change **results_r,
				unsigned *result_count_r, const char **error_r)
{
	*results_r = NULL;
	*result_count_r = 0;
	return view_set_flags(view, uids, count, update, pool, NULL, NULL,
			      results_r, result_count_r, error_r);
}

int store_view_set_flags_modified(struct store_view *view, const uint32_t *uids,
				  unsigned count, const struct store_flags_update *update,
				  pool_t *pool, struct store_view_flag_change **results_r,
				  unsigned *result_count_r, uint32_t **modified_r,
				  unsigned *modified_count_r, const char **error_r)
{
	*results_r = NULL;
	*result_count_r = 0;
	return view_set_flags(view, uids, count, update, pool, modified_r, modified_count_r,
			      results_r, result_count_r, error_r);
}

int store_view_copy(struct store_view *view, const uint32_t *uids,
		    unsigned count, const char *dest, bool move, pool_t *pool,
		    struct store_copy_result *result_r, const char **error_r)
{
	const char *name;
	memset(result_r, 0, sizeof(*result_r));
	if (store_mailbox_name_check(dest, &name, error_r) < 0)
		return -1;
	if (move && strcmp(name, view->mailbox) == 0) {
		*error_r = "cannot move messages into their own mailbox";
		return -1;
	}
	/* ascending and without repeats: UIDs are assigned in this order */
	uint32_t *sorted = pool_alloc(pool, (count + 1) * sizeof(*sorted));
	memcpy(sorted, uids, count * sizeof(*sorted));
	if (count > 1)
		qsort(sorted, count, sizeof(*sorted), store_view_uid_cmp);
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		if (n == 0 || sorted[n - 1] != sorted[i])
			sorted[n++] = sorted[i];
	}
	return view->store->backend->copy(view->store, VIEW_ADDR(view), view->mailbox,
					  view->uidvalidity, sorted, n, name, move,
					  pool, result_r, error_r);
}

int store_view_claim_recent(struct store_view *view, uint32_t *first_r,
			    const char **error_r)
{
	return view->store->backend->claim_recent(view->store, VIEW_ADDR(view),
						  view->mailbox, view->uidvalidity,
						  view->uidnext, first_r, error_r);
}

int store_delivery_set_meta(struct store_delivery *d,
			    const struct store_flags_update *flags,
			    time_t internaldate, const char **error_r)
{
	struct store_flags_update replace = { .op = STORE_FLAGS_REPLACE };
	if (flags != NULL) {
		replace = *flags;
		replace.op = STORE_FLAGS_REPLACE;
	}
	for (unsigned i = 0; i < replace.keyword_count; i++) {
		if (store_keyword_check(replace.keywords[i], error_r) < 0)
			return -1;
	}
	if (internaldate < 0) {
		*error_r = "internal date before 1970";
		return -1;
	}
	const char *text = store_flags_text_apply("", &replace, pool_temp());
	return d->store->backend->delivery_set_meta(d, text, internaldate, error_r);
}

int store_delivery_set_uid(struct store_delivery *d, uint32_t uid,
			   const char **error_r)
{
	if (uid == 0) {
		*error_r = "UID 0 refused";
		return -1;
	}
	return d->store->backend->delivery_set_uid(d, uid, error_r);
}

int store_mailbox_import_meta(struct store *store, const char *address,
			      const char *mailbox,
			      const struct store_import_meta *meta,
			      const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store->backend->mailbox_import(store, &addr, name, meta, error_r);
}
