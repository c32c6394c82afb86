/* test-store-path.h: for the store's unit tests only: the file path of a
 * message of the maildir-sqlite backend, which the seam (store.h) no
 * longer gives out. NULL if the message or its file is gone. */
#ifndef POSTEL_TEST_STORE_PATH_H
#define POSTEL_TEST_STORE_PATH_H

#include "store/store_maildir.h"

static inline const char *test_message_path(struct store *store,
					    const char *address,
					    const char *mailbox, uint32_t uid)
{
	struct store_address addr;
	const char *name, *error;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	struct store_index_message msg;
	if (store_target_parse(address, mailbox, &addr, &name, &error) < 0 ||
	    maildir_mailbox_get((struct maildir_store *)store, &addr, name,
				false, &user, &mb, &error) < 0 ||
	    store_index_message_get(user->index, mb.id, uid, pool_temp(), &msg,
				    &error) <= 0)
		return NULL;
	const char *folder = maildir_folder_dir(user->dir, name);
	const char *rel = maildir_message_locate(folder, msg.filename,
						 msg.sysflags, pool_temp());
	return rel == NULL ? NULL : t_printf("%s/%s", folder, rel);
}

#endif
