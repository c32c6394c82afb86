/* store_maildir_delivery.c: writing one message into a Maildir folder.
 *
 * A delivery writes FOLDER/tmp/NAME. Its commit does, in this order:
 *   fsync(file); take the index lock (BEGIN IMMEDIATE);
 *   rename tmp/NAME -> new/NAME' (never replacing);
 *   insert the row with the next UID and MODSEQ; COMMIT (WAL fsync);
 *   fsync(new/), after the lock is released.
 * Holding the lock across the rename means a concurrent index sync never
 * sees the file before its row. The directory fsync is outside the lock so
 * that concurrent deliveries share journal commits (group commit by the
 * filesystem) instead of queueing for the lock; success is returned only
 * after it, so nothing is acknowledged before it is durable. A crash
 * before that fsync may leave a committed row whose rename was lost: the
 * message was never acknowledged, its data is still in tmp/, and the row
 * reads as a missing file. If the rename or commit fails the file is
 * removed again, so an error return never leaves a visible message.
 * Under the lock the commit also records new/'s mtime after the rename
 * in the index, if the index had new/'s mtime from before it (nobody
 * else changed new/ unseen): so the next open knows new/ holds nothing
 * unindexed and does not read it (store_maildir_sync.c). Between the
 * rename and that stat() a file dropped in by another MDA within the
 * same clock tick would go unseen until new/ changes again; it is never
 * lost, only picked up late.
 *
 * Names follow the Maildir convention:
 *   tmp/SEC.M<usec>P<pid>Q<seq>.HOST
 *   new/SEC.M<usec>P<pid>Q<seq>V<dev>I<ino>.HOST,S=<size>,W=<wire size>
 * Q counts deliveries of this store handle; V and I (hex) make the name
 * unique even across handles, as in Dovecot. Callers write the message in
 * wire form (CRLF); the file gets LF line endings (store_eol.h), S= is its
 * size and W= the size with CRLF, both as Dovecot reads them. */
#include "store/store_maildir_delivery.h"
#include "store/fileio.h"
#include "store/store_watch.h"
#include "store/store_eol.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* bytes converted per write: on the stack of a delivery thread */
#define DELIVERY_CHUNK 16384

void maildir_delivery_free(struct maildir_delivery *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->mailbox);
	free(d->folder_dir);
	free(d->name);
	free(d->tmp_path);
	free(d->new_name);
	free(d->flags);
	store_ckpt_builder_free(&d->ckpt);
	store_thread_hdr_free(&d->thread);
	free(d);
}

/* Drop the partial file at once, so that a full disk is not made fuller
 * by what we could not finish. */
void maildir_delivery_discard(struct maildir_delivery *d)
{
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	if (!d->failed && unlink(d->tmp_path) < 0 && errno != ENOENT)
		log_error("event=store_tmp_unlink_failed path=%s error=%s",
			  log_str(d->tmp_path), log_str(strerror(errno)));
	d->failed = true;
}

struct store_delivery *
maildir_delivery_begin(struct store *store, const struct store_address *addr,
		       const char *mailbox, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(s, addr, mailbox, true, &user, &mb,
				error_r) < 0)
		return NULL;
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	for (unsigned attempt = 0; attempt < 10; attempt++) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		const char *name = t_printf("%lld.M%ldP%ldQ%u",
					    (long long)tv.tv_sec,
					    (long)tv.tv_usec, (long)getpid(),
					    ++s->delivery_seq);
		const char *tmp_path = t_printf("%s/tmp/%s.%s", folder, name,
						s->hostname);
		int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL |
			      O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			*error_r = t_printf("creating %s failed: %s", tmp_path,
					    strerror(errno));
			return NULL;
		}
		struct maildir_delivery *d = xcalloc(1, sizeof(*d));
		d->store = s;
		d->addr = *addr;
		d->mailbox = xstrdup(mailbox);
		d->folder_dir = xstrdup(folder);
		d->name = xstrdup(name);
		d->tmp_path = xstrdup(tmp_path);
		d->fd = fd;
		return &d->delivery;
	}
	*error_r = t_printf("no unique file name in %s/tmp", folder);
	return NULL;
}

int maildir_delivery_check(struct maildir_delivery *d, const char **error_r)
{
	if (d->failed) {
		*error_r = "delivery already failed";
		return -1;
	}
	return 0;
}

/* Convert a chunk of wire form to LF and append it to the file. */
static int delivery_append(struct maildir_delivery *d, const void *data,
			   size_t len, const char **error_r)
{
	unsigned char out[DELIVERY_CHUNK + 1];
	const unsigned char *p = data;
	while (len > 0) {
		size_t n = len < DELIVERY_CHUNK ? len : DELIVERY_CHUNK;
		size_t out_len = store_eol_to_lf(&d->eol, p, n, out);
		if (fileio_write_full(d->fd, out, out_len) < 0) {
			*error_r = t_printf("writing mail file failed: %s",
					    strerror(errno));
			maildir_delivery_discard(d);
			return -1;
		}
		d->size += out_len;
		d->wire_size += store_eol_crlf_len(&d->eol_count, out, out_len);
		store_ckpt_feed(&d->ckpt, out, out_len);
		store_thread_hdr_feed(&d->thread, out, out_len);
		p += n;
		len -= n;
	}
	return 0;
}

int maildir_delivery_write(struct store_delivery *delivery, const void *data,
			   size_t len, const char **error_r)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	if (maildir_delivery_check(d, error_r) < 0)
		return -1;
	return delivery_append(d, data, len, error_r);
}

int maildir_delivery_write_fd(struct store_delivery *delivery, int fd,
			      uint64_t offset, uint64_t len,
			      const char **error_r)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	unsigned char buf[DELIVERY_CHUNK];
	if (maildir_delivery_check(d, error_r) < 0)
		return -1;
	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ? "spool file shorter than the message" :
				t_printf("reading spool file failed: %s", strerror(errno));
			maildir_delivery_discard(d);
			return -1;
		}
		if (delivery_append(d, buf, (size_t)n, error_r) < 0)
			return -1;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int maildir_delivery_sync(struct store_delivery *delivery,
			  const char **error_r)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	if (maildir_delivery_check(d, error_r) < 0)
		return -1;
	if (d->synced)
		return 0;
	unsigned char cr;
	if (store_eol_to_lf_finish(&d->eol, &cr) > 0) {
		if (fileio_write_full(d->fd, &cr, 1) < 0) {
			*error_r = t_printf("writing mail file failed: %s",
					    strerror(errno));
			maildir_delivery_discard(d);
			return -1;
		}
		d->size++;
		d->wire_size++;
		store_ckpt_feed(&d->ckpt, &cr, 1);
	}
	/* the file's mtime is the internal date a rebuild reads back */
	struct timespec times[2] = { { 0, UTIME_OMIT },
				     { d->internaldate, 0 } };
	if (d->internaldate != 0 && futimens(d->fd, times) < 0)
		log_warn("event=store_set_mtime_failed path=%s error=%s",
			 log_str(d->tmp_path), log_str(strerror(errno)));
	if (fsync(d->fd) < 0) {
		*error_r = t_printf("fsync of mail file failed: %s",
				    strerror(errno));
		maildir_delivery_discard(d);
		return -1;
	}
	d->synced = true;
	return 0;
}

/* The name in new/ of a synced delivery whose file is st. */
const char *maildir_delivery_new_name(const struct maildir_delivery *d,
				     const struct stat *st)
{
	return t_printf("%sV%llxI%llx.%s,S=%llu,W=%llu", d->name,
			(unsigned long long)st->st_dev,
			(unsigned long long)st->st_ino, d->store->hostname,
			(unsigned long long)d->size,
			(unsigned long long)d->wire_size);
}

/* Undo a rename into new/ after a later step failed. */
void maildir_delivery_unpublish(const char *new_path, const char *new_dir)
{
	if (unlink(new_path) < 0 || fileio_fsync_dir(new_dir) < 0)
		log_error("event=store_unpublish_failed path=%s error=%s",
			  log_str(new_path), log_str(strerror(errno)));
}

static int delivery_publish(struct maildir_delivery *d, uint32_t *uid_r,
			    const char **error_r)
{
	struct stat st;
	if (maildir_delivery_sync(&d->delivery, error_r) < 0)
		return -1;
	if (fstat(d->fd, &st) < 0) {
		*error_r = t_printf("fstat of mail file failed: %s",
				    strerror(errno));
		return -1;
	}
	close(d->fd);
	d->fd = -1;

	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(d->store, &d->addr, d->mailbox, false, &user,
				&mb, error_r) < 0)
		return -1;
	const char *new_dir = t_printf("%s/new", d->folder_dir);
	const char *filename = maildir_delivery_new_name(d, &st);
	const char *new_path = t_printf("%s/%s", new_dir, filename);

	if (store_index_begin(user->index, error_r) < 0)
		return -1;
	int64_t new_mtime = maildir_dir_mtime(new_dir);
	if (fileio_rename_noreplace(d->tmp_path, new_path) < 0) {
		*error_r = t_printf("rename to %s failed: %s", new_path,
				    strerror(errno));
		store_index_rollback(user->index);
		return -1;
	}
	if ((d->import_uid != 0 &&
	     store_index_import_uid(user->index, mb.id, d->import_uid,
				    error_r) < 0) ||
	    store_index_message_add(user->index, mb.id, filename, d->wire_size,
				    maildir_delivery_date(d),
				    maildir_delivery_flags(d), uid_r,
				    error_r) < 0 ||
	    maildir_delivery_index_checkpoints(d, user->index, mb.id, *uid_r,
					       error_r) < 0 ||
	    store_index_mailbox_set_new_mtime(user->index, mb.id, new_mtime,
					      maildir_dir_mtime(new_dir),
					      error_r) < 0) {
		goto unpublish;
	}
	if (store_index_commit(user->index, error_r) < 0)
		goto unpublish;
	if (fileio_fsync_dir(new_dir) < 0) {
		/* committed but maybe not durable: report failure, so the
		 * sender retries; at worst the message arrives twice */
		*error_r = t_printf("fsync of %s failed: %s", new_dir,
				    strerror(errno));
		return -1;
	}
	if (d->flags != NULL)
		maildir_message_rename_flags(d->folder_dir, filename, 0,
					     store_flags_text_bits(d->flags),
					     pool_temp());
	return 0;

unpublish:
	store_index_rollback(user->index);
	maildir_delivery_unpublish(new_path, new_dir);
	d->failed = true; /* the file no longer exists under tmp_path */
	return -1;
}

int maildir_delivery_commit(struct store_delivery *delivery, uint32_t *uid_r,
			    const char **error_r)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	const char *user = t_printf("%s@%s", d->addr.local, d->addr.domain);
	int ret = maildir_delivery_check(d, error_r);
	if (ret == 0)
		ret = delivery_publish(d, uid_r, error_r);
	if (ret == 0) {
		log_info("event=store_delivered user=%s mailbox=%s uid=%u "
			 "size=%llu", log_str(user), log_str(d->mailbox),
			 *uid_r, (unsigned long long)d->wire_size);
		store_notify_changed(user, d->mailbox, 0);
	} else {
		log_error("event=store_delivery_failed user=%s mailbox=%s "
			  "error=%s", log_str(user), log_str(d->mailbox),
			  log_str(*error_r));
		maildir_delivery_discard(d);
	}
	maildir_delivery_free(d);
	return ret;
}

int maildir_delivery_set_meta(struct store_delivery *delivery,
			      const char *flags, time_t internaldate,
			      const char **error_r)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	if (maildir_delivery_check(d, error_r) < 0)
		return -1;
	free(d->flags);
	d->flags = xstrdup(flags);
	d->internaldate = internaldate;
	return 0;
}

void maildir_delivery_abort(struct store_delivery *delivery)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	maildir_delivery_discard(d);
	maildir_delivery_free(d);
}

int maildir_delivery_index_checkpoints(struct maildir_delivery *d,
				       struct store_index *index,
				       int64_t mailbox_id, uint32_t uid,
				       const char **error_r)
{
	size_t len;
	unsigned char *blob = store_ckpt_finish(&d->ckpt, &len);
	int ret = blob == NULL ? 0 :
		store_index_message_set_checkpoints(index, mailbox_id, uid,
						    blob, len, error_r);
	free(blob);
	return ret < 0 ? -1 :
		store_thread_index(&d->thread, index, mailbox_id, uid, error_r);
}

int maildir_delivery_set_uid(struct store_delivery *delivery, uint32_t uid,
			     const char **error_r)
{
	struct maildir_delivery *d = (struct maildir_delivery *)delivery;
	if (maildir_delivery_check(d, error_r) < 0)
		return -1;
	d->import_uid = uid;
	return 0;
}
