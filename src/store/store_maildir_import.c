/* store_maildir_import.c: the importer's calls (store_view.h
 * store_mailbox_import_meta(), store_delivery_set_uid()) for the
 * maildir-sqlite backend; the rules are store_index_import.c's. */
#include "store/store_maildir.h"
#include "store/store_maildir_delivery.h"
#include "lib/log.h"

int maildir_mailbox_import(struct store *store,
			   const struct store_address *addr,
			   const char *mailbox,
			   const struct store_import_meta *meta,
			   const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(s, addr, mailbox, false, &user, &mb, error_r) < 0)
		return -1;
	if (store_index_begin(user->index, error_r) < 0)
		return -1;
	if ((meta->uidvalidity != 0 &&
	     store_index_import_uidvalidity(user->index, mb.id,
					    meta->uidvalidity, error_r) < 0) ||
	    store_index_import_floors(user->index, mb.id, meta->uidnext,
				      meta->highestmodseq, error_r) < 0) {
		store_index_rollback(user->index);
		(void)maildir_user_damaged(s, user);
		return -1;
	}
	if (store_index_commit(user->index, error_r) < 0)
		return -1;
	log_info("event=store_import_meta mailbox=%s uidvalidity=%u uidnext=%u "
		 "highestmodseq=%llu", log_str(mailbox), meta->uidvalidity,
		 meta->uidnext, (unsigned long long)meta->highestmodseq);
	return 0;
}
