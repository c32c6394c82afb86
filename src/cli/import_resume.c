/* import_resume.c: what a killed `postel import` leaves, found and put
 * right (contract in import_maildir.h). The importer delivers one
 * message at a time in ascending UID order, so a kill leaves at most one
 * message the store took back on its own: the last one, under UIDNEXT
 * (which is not the import's UID if the uidlist has a gap there, and is
 * below it then) and without flags. Its content must equal the next
 * message to import, else it is someone's mail and the import refuses. */
#include "cli/import_maildir.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RESUME_CHUNK 16384

/* FNV-1a over the wire form, with its length: enough to tell the
 * message a kill cut short from another one. */
struct resume_digest {
	uint64_t hash, len;
};

static void digest_feed(struct resume_digest *d, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		d->hash ^= (unsigned char)p[i];
		d->hash *= 0x100000001b3ull;
	}
	d->len += n;
}

static int store_digest(struct import_run *run, const struct import_folder *f,
			uint32_t uid, struct resume_digest *d, const char **error_r)
{
	struct store_view *view;
	char buf[RESUME_CHUNK];
	if (store_view_open(run->store, run->address, f->mailbox, &view, error_r) < 0)
		return -1;
	struct store_message_reader *r = store_view_message_open(view, uid, error_r);
	ssize_t n = r == NULL ? -1 : 0;
	while (r != NULL && (n = store_message_read(r, buf, sizeof(buf), error_r)) > 0)
		digest_feed(d, buf, (size_t)n);
	if (r != NULL)
		store_message_close(&r);
	store_view_close(&view);
	return n < 0 ? -1 : 0;
}

/* 0, or 1 if the file cannot be read (then it is not the same). */
static int file_digest(const char *path, struct resume_digest *d)
{
	char in[RESUME_CHUNK], out[2 * RESUME_CHUNK], prev = '\0';
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : 0;
	while (fd >= 0 && ((n = read(fd, in, sizeof(in))) > 0 ||
			   (n < 0 && errno == EINTR))) {
		if (n > 0)
			digest_feed(d, out, import_lf_to_crlf(in, (size_t)n, out, &prev));
	}
	if (fd >= 0)
		close(fd);
	return n < 0 ? 1 : 0;
}

int import_resume_find_orphan(struct import_run *run, struct import_folder *f,
			      const struct store_message_info *msgs,
			      unsigned count, const char **error_r)
{
	if (count == 0)
		return 0;
	uint32_t orphan = msgs[count - 1].uid;
	uint32_t good_max = count >= 2 ? msgs[count - 2].uid : 0;
	const struct import_msg *next = NULL;
	for (unsigned i = 0; i < f->count && next == NULL; i++) {
		if (f->msgs[i].uid > good_max)
			next = &f->msgs[i];
	}
	if (next == NULL || orphan > next->uid)
		return 0;
	struct resume_digest a = { 0xcbf29ce484222325ull, 0 }, b = a;
	if (store_digest(run, f, orphan, &a, error_r) < 0)
		return -1;
	if (file_digest(t_printf("%s/%s", f->dir, next->path), &b) != 0 ||
	    a.hash != b.hash || a.len != b.len)
		return 0;
	f->orphan_uid = orphan;
	return 1;
}

/* Whether two flag texts ("\Seen $Label1") name the same flags. */
static bool flags_same(const char *a, const char *b)
{
	unsigned na = 0, nb = 0;
	for (const char *p = a; *p != '\0'; ) {
		size_t len = strcspn(p, " ");
		if (len > 0) {
			const char *q = b;
			bool found = false;
			while (*q != '\0' && !found) {
				size_t l2 = strcspn(q, " ");
				found = l2 == len && strncasecmp(p, q, len) == 0;
				q += l2 + (q[l2] == ' ' ? 1 : 0);
			}
			if (!found)
				return false;
			na++;
		}
		p += len + (p[len] == ' ' ? 1 : 0);
	}
	for (const char *q = b; *q != '\0'; ) {
		size_t len = strcspn(q, " ");
		nb += len > 0;
		q += len + (q[len] == ' ' ? 1 : 0);
	}
	return na == nb;
}

static int fix_flags(struct import_run *run, const struct import_folder *f,
		     const struct store_message_info *info, const char **error_r)
{
	const struct import_msg *m = import_folder_msg(f, info->uid);
	struct store_flags_update update;
	if (m == NULL)
		return 0;
	import_message_flags(run, f, m, &update);
	const char *want = store_flags_text_apply("", &update, pool_temp());
	if (flags_same(want, info->flags))
		return 0;
	struct store_view *view;
	if (store_view_open(run->store, run->address, f->mailbox, &view, error_r) < 0)
		return -1;
	int ret = store_view_set_flags(view, &info->uid, 1, &update, NULL, NULL,
				       NULL, error_r);
	store_view_close(&view);
	if (ret == 0)
		fprintf(stdout, "import: mailbox=%s uid=%u flags restored (a "
			"delivery cut short by a kill)\n", f->mailbox, info->uid);
	return ret;
}

int import_resume_repair(struct import_run *run, struct import_folder *f,
			 const struct store_message_info *msgs, unsigned count,
			 const char **error_r)
{
	if (f->orphan_uid != 0) {
		unsigned expunged;
		if (store_mailbox_expunge(run->store, run->address, f->mailbox,
					  &f->orphan_uid, 1, &expunged, error_r) < 0)
			return -1;
		fprintf(stdout, "import: mailbox=%s uid=%u expunged, to be imported "
			"again under its own UID (a delivery cut short by a kill)\n",
			f->mailbox, f->orphan_uid);
		log_info("event=import_resume mailbox=%s orphan_uid=%u",
			 log_str(f->mailbox), f->orphan_uid);
		count--; /* it was the last */
	}
	return count == 0 ? 0 : fix_flags(run, f, &msgs[count - 1], error_r);
}
