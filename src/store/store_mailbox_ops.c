/* store_mailbox_ops.c: mailbox management (store.h): names checked
 * here, once, then the backend; a change to the list of mailboxes or
 * subscriptions is then signalled (store_watch.h), whatever the backend. */
#include "store/store_private.h"
#include "store/store_watch.h"
#include "lib/str.h"

#include <string.h>

int store_mailbox_list(struct store *store, const char *address, pool_t *pool,
		       const char ***names_r, unsigned *count_r,
		       const char **error_r)
{
	struct store_address addr;
	if (store_address_parse(address, &addr, error_r) < 0)
		return -1;
	return store->backend->mailbox_list(store, &addr, pool, names_r, count_r,
					    error_r);
}

void store_mailbox_list_changed(const struct store_address *addr)
{
	store_notify_changed(t_printf("%s@%s", addr->local, addr->domain),
			     STORE_WATCH_MAILBOX_LIST, 0);
}

static int store_list_changed_if(int ret, const struct store_address *addr)
{
	if (ret == 0)
		store_mailbox_list_changed(addr);
	return ret;
}

int store_mailbox_delete(struct store *store, const char *address,
			 const char *mailbox, const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	if (strcmp(name, "INBOX") == 0) {
		/* RFC 9051 6.3.4 */
		*error_r = "INBOX cannot be deleted";
		return -1;
	}
	return store_list_changed_if(
		store->backend->mailbox_delete(store, &addr, name, error_r), &addr);
}

int store_mailbox_rename(struct store *store, const char *address,
			 const char *old_name, const char *new_name,
			 const char **error_r)
{
	struct store_address addr;
	const char *old_c, *new_c;
	if (store_target_parse(address, old_name, &addr, &old_c, error_r) < 0)
		return -1;
	if (store_mailbox_name_check(new_name, &new_c, error_r) < 0)
		return -1;
	size_t old_len = strlen(old_c);
	if (strcmp(new_c, "INBOX") == 0 || strcmp(old_c, new_c) == 0 ||
	    (strncmp(new_c, old_c, old_len) == 0 && new_c[old_len] == '/')) {
		*error_r = "cannot rename a mailbox to INBOX, itself or below itself";
		return -1;
	}
	return store_list_changed_if(
		store->backend->mailbox_rename(store, &addr, old_c, new_c, error_r), &addr);
}

int store_mailbox_subscribe(struct store *store, const char *address,
			    const char *mailbox, bool on, const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store_list_changed_if(
		store->backend->mailbox_subscribe(store, &addr, name, on, error_r), &addr);
}

int store_mailbox_subscriptions(struct store *store, const char *address,
				pool_t *pool, const char ***names_r,
				unsigned *count_r, const char **error_r)
{
	struct store_address addr;
	if (store_address_parse(address, &addr, error_r) < 0)
		return -1;
	return store->backend->mailbox_subscriptions(store, &addr, pool, names_r,
						     count_r, error_r);
}
