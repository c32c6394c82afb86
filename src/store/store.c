/* store.c: validation and dispatch to the backend table (store_private.h).
 *
 * Everything a caller passes in is checked here, once, before a backend
 * sees it: backends can build paths from the parsed address and canonical
 * mailbox name without further checks. */
#include "store/store_private.h"
#include "lib/log.h"
#include "lib/str.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const struct store_backend *const store_backends[] = {
	&store_backend_maildir,
};

/* process-wide, counted from every thread: atomics, nothing else shared */
static _Atomic uint64_t store_stats[STORE_STAT_COUNT];

void store_stats_add(enum store_stat which, uint64_t n)
{
	atomic_fetch_add_explicit(&store_stats[which], n, memory_order_relaxed);
}

void store_stats_get(struct store_stats *stats_r)
{
	stats_r->index_opens = atomic_load(&store_stats[STORE_STAT_INDEX_OPENS]);
	stats_r->integrity_checks =
		atomic_load(&store_stats[STORE_STAT_INTEGRITY_CHECKS]);
	stats_r->maildir_scans = atomic_load(&store_stats[STORE_STAT_MAILDIR_SCANS]);
	stats_r->tmp_cleaned = atomic_load(&store_stats[STORE_STAT_TMP_CLEANED]);
	stats_r->folder_lists = atomic_load(&store_stats[STORE_STAT_FOLDER_LISTS]);
	stats_r->lock_timeouts = atomic_load(&store_stats[STORE_STAT_LOCK_TIMEOUTS]);
}

static bool byte_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* One path component of a user's location: refuse what could escape the
 * mail directory or hide from a Maildir reader. */
static int store_component_check(const char *s, size_t len, size_t max,
				 const char *what, const char **error_r)
{
	if (len == 0) {
		*error_r = t_printf("empty %s in address", what);
		return -1;
	}
	if (len > max) {
		*error_r = t_printf("%s too long in address (max %zu)",
				    what, max);
		return -1;
	}
	if (s[0] == '.') {
		/* also catches "." and ".." */
		*error_r = t_printf("%s may not begin with '.'", what);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == '\\' || byte_is_control(c)) {
			*error_r = t_printf("unsafe character in %s", what);
			return -1;
		}
	}
	return 0;
}

static void copy_lower(char *dest, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		dest[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	dest[len] = '\0';
}

int store_address_parse(const char *address, struct store_address *addr_r,
			const char **error_r)
{
	if (address == NULL) {
		*error_r = "no address";
		return -1;
	}
	const char *at = strrchr(address, '@');
	if (at == NULL) {
		*error_r = "address has no '@'";
		return -1;
	}
	size_t local_len = (size_t)(at - address);
	size_t domain_len = strlen(at + 1);
	if (store_component_check(address, local_len, STORE_LOCAL_MAX,
				  "local part", error_r) < 0 ||
	    store_component_check(at + 1, domain_len, STORE_DOMAIN_MAX,
				  "domain", error_r) < 0)
		return -1;
	copy_lower(addr_r->local, address, local_len);
	copy_lower(addr_r->domain, at + 1, domain_len);
	return 0;
}

int store_mailbox_name_check(const char *mailbox, const char **name_r,
			     const char **error_r)
{
	if (mailbox == NULL || mailbox[0] == '\0') {
		*error_r = "empty mailbox name";
		return -1;
	}
	size_t len = strlen(mailbox);
	if (len == 5 && mem_ieq(mailbox, "INBOX", 5)) {
		*name_r = "INBOX";
		return 0;
	}
	if (len > STORE_MAILBOX_NAME_MAX) {
		*error_r = "mailbox name too long";
		return -1;
	}
	/* a leading '~' reads as a home directory to shells and to other
	 * servers (Dovecot refuses it too): never a mailbox name */
	if (mailbox[0] == '~') {
		*error_r = "mailbox name starts with '~'";
		return -1;
	}
	/* '/' is the hierarchy separator; Maildir++ stores "a/b" as ".a.b",
	 * so '.' inside a name would make two names share one folder */
	size_t component = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)mailbox[i];
		if (c == '/') {
			if (component == 0)
				break;
			component = 0;
			continue;
		}
		if (c == '.' || c == '\\' || byte_is_control(c)) {
			*error_r = "unsafe character in mailbox name";
			return -1;
		}
		component++;
	}
	if (component == 0) {
		*error_r = "empty component in mailbox name";
		return -1;
	}
	*name_r = mailbox;
	return 0;
}

int store_open_backend(const char *backend, const char *data_dir,
		       struct store **store_r, const char **error_r)
{
	for (size_t i = 0; i < sizeof(store_backends) / sizeof(*store_backends); i++) {
		const struct store_backend *b = store_backends[i];
		if (strcmp(b->name, backend) != 0)
			continue;
		if (b->open(data_dir, store_r, error_r) < 0)
			return -1;
		(*store_r)->backend = b;
		return 0;
	}
	*error_r = t_printf("unknown store backend %s", log_str(backend));
	return -1;
}

int store_open(const char *data_dir, struct store **store_r,
	       const char **error_r)
{
	return store_open_backend(STORE_DEFAULT_BACKEND, data_dir, store_r,
				  error_r);
}

void store_close(struct store **store)
{
	if (*store == NULL)
		return;
	(*store)->backend->close(*store, true);
	*store = NULL;
}

void store_close_release(struct store **store)
{
	if (*store == NULL)
		return;
	(*store)->backend->close(*store, false);
	*store = NULL;
}

int store_user_create(struct store *store, const char *address,
		      const char **error_r)
{
	struct store_address addr;
	if (store_address_parse(address, &addr, error_r) < 0)
		return -1;
	return store->backend->user_create(store, &addr, error_r);
}

int store_target_parse(const char *address, const char *mailbox,
			      struct store_address *addr_r, const char **name_r,
			      const char **error_r)
{
	if (store_address_parse(address, addr_r, error_r) < 0 ||
	    store_mailbox_name_check(mailbox, name_r, error_r) < 0)
		return -1;
	return 0;
}

int store_mailbox_create(struct store *store, const char *address,
			 const char *mailbox, const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	int ret = store->backend->mailbox_create(store, &addr, name, error_r);
	if (ret == 0)
		store_mailbox_list_changed(&addr);
	return ret;
}

int store_mailbox_status(struct store *store, const char *address,
			 const char *mailbox,
			 struct store_mailbox_status *status_r,
			 const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store->backend->mailbox_status(store, &addr, name, status_r,
					      error_r);
}

int store_mailbox_list_messages(struct store *store, const char *address,
				const char *mailbox, pool_t *pool,
				struct store_message_info **messages_r,
				unsigned *count_r, const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store->backend->mailbox_list_messages(store, &addr, name, pool,
						     messages_r, count_r,
						     error_r);
}

struct store_delivery *
store_delivery_begin(struct store *store, const char *address,
		     const char *mailbox, const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return NULL;
	struct store_delivery *d =
		store->backend->delivery_begin(store, &addr, name, error_r);
	if (d != NULL)
		d->store = store;
	return d;
}

int store_delivery_write(struct store_delivery *d, const void *data,
			 size_t len, const char **error_r)
{
	return d->store->backend->delivery_write(d, data, len, error_r);
}

int store_delivery_write_fd(struct store_delivery *d, int fd, uint64_t offset,
			    uint64_t len, const char **error_r)
{
	return d->store->backend->delivery_write_fd(d, fd, offset, len,
						    error_r);
}

int store_delivery_sync(struct store_delivery *d, const char **error_r)
{
	return d->store->backend->delivery_sync(d, error_r);
}

int store_delivery_commit(struct store_delivery **d, uint32_t *uid_r,
			  const char **error_r)
{
	struct store_delivery *delivery = *d;
	*d = NULL;
	return delivery->store->backend->delivery_commit(delivery, uid_r,
							 error_r);
}

void store_delivery_abort(struct store_delivery **d)
{
	if (*d == NULL)
		return;
	struct store_delivery *delivery = *d;
	*d = NULL;
	delivery->store->backend->delivery_abort(delivery);
}

static int store_group_commit(struct store *store, struct store_delivery **ds,
			      unsigned n, bool wait, uint32_t *uids_r,
			      int *results_r, const char **errors_r)
{
	for (unsigned i = 0; i < n; i++) {
		if (ds[i]->store->backend != store->backend)
			panic("event=store_group_mixed_backends");
	}
	return store->backend->delivery_commit_group(store, ds, n, wait, uids_r,
						     results_r, errors_r);
}

int store_delivery_commit_group(struct store *store, struct store_delivery **ds,
				unsigned n, uint32_t *uids_r, int *results_r,
				const char **errors_r)
{
	return store_group_commit(store, ds, n, true, uids_r, results_r, errors_r);
}

int store_delivery_commit_group_try(struct store *store,
				    struct store_delivery **ds, unsigned n,
				    uint32_t *uids_r, int *results_r,
				    const char **errors_r)
{
	return store_group_commit(store, ds, n, false, uids_r, results_r, errors_r);
}

int store_delivery_commit_multi(struct store *store, struct store_delivery **ds,
				unsigned n, uint32_t *uids_r, const char **error_r)
{
	for (unsigned i = 0; i < n; i++) {
		if (ds[i]->store->backend != store->backend)
			panic("event=store_multi_mixed_backends");
	}
	if (n > STORE_MULTI_MAX) {
		for (unsigned i = 0; i < n; i++)
			store_delivery_abort(&ds[i]);
		*error_r = "too many messages for one commit";
		return -1;
	}
	return store->backend->delivery_commit_multi(store, ds, n, uids_r, error_r);
}

int store_mailbox_lock(struct store *store, const char *address,
		       const char *mailbox, int *fd_r, const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store->backend->mailbox_lock(store, &addr, name, fd_r, error_r);
}

int store_mailbox_expunge(struct store *store, const char *address,
			  const char *mailbox, const uint32_t *uids,
			  unsigned count, unsigned *expunged_r,
			  const char **error_r)
{
	struct store_address addr;
	const char *name;
	*expunged_r = 0;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store->backend->mailbox_expunge(store, &addr, name, uids, count,
					       expunged_r, error_r);
}
