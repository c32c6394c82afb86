/* import_maildir.c: one Maildir++ folder into the store (contract in
 * import_maildir.h). */
#include "cli/import_maildir.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMPORT_META_FILE_MAX (64u << 20) /* uidlist, keywords, index log */
#define IMPORT_CHUNK 65536
#define IMPORT_FOLDER_FILES_MAX 10000000u

void import_problem(struct import_run *run, const char *what, const char *why)
{
	run->problems++;
	fprintf(stderr, "postel: import: %s: %s\n", what, why);
	log_warn("event=import_problem what=%s reason=%s", log_str(what),
		    log_str(why));
}

/* 1: read into *data_r (NUL-terminated, pool); 0: absent; -1: error. */
static int read_meta_file(const char *path, pool_t *pool, char **data_r,
			  size_t *len_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)IMPORT_META_FILE_MAX) {
		close(fd);
		*error_r = S_ISREG(st.st_mode) ? "larger than 64 MiB" : "not a file";
		return -1;
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *data = pool_alloc(pool, size + 1);
	while (got < size) {
		ssize_t n = read(fd, data + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';
	*data_r = data;
	*len_r = got;
	return 1;
}

static void scan_meta(struct import_run *run, struct import_folder *f)
{
	const char *path, *error;
	char *data;
	size_t len;
	int ret;

	path = pool_printf(run->pool, "%s/dovecot-uidlist", f->dir);
	ret = read_meta_file(path, run->pool, &data, &len, &error);
	if (ret > 0 && import_uidlist_parse(data, len, run->pool, &f->uidlist,
					    &error) < 0)
		ret = -1;
	if (ret < 0)
		import_problem(run, path, t_printf("%s: its UIDs are not kept", error));
	f->has_uidlist = ret > 0;
	if (ret > 0 && f->uidlist.bad_lines > 0)
		import_problem(run, path, t_printf("%u lines not taken (%s): those "
			"messages get new UIDs", f->uidlist.bad_lines,
			f->uidlist.first_bad));

	path = pool_printf(run->pool, "%s/dovecot-keywords", f->dir);
	ret = read_meta_file(path, run->pool, &data, &len, &error);
	if (ret < 0)
		import_problem(run, path, error);
	else if (ret > 0)
		import_keywords_parse(data, len, run->pool, &f->keywords);
	if (ret > 0 && f->keywords.bad_lines > 0)
		import_problem(run, path, t_printf("%u lines not taken (%s)",
			f->keywords.bad_lines, f->keywords.first_bad));

	path = pool_printf(run->pool, "%s/dovecot.index.log", f->dir);
	pool_t *tmp = pool_create(4096);
	ret = read_meta_file(path, tmp, &data, &len, &error);
	if (ret > 0 && import_modseq_bound((const unsigned char *)data, len,
					   &f->modseq_bound, &error) < 0)
		ret = -1;
	if (ret < 0)
		import_problem(run, path, t_printf("%s: HIGHESTMODSEQ not kept", error));
	if (ret == 0 && f->has_uidlist)
		fprintf(stdout, "import: mailbox=%s notice=no dovecot.index.log: "
			"Dovecot's HIGHESTMODSEQ unknown (its indexes elsewhere, "
			"INDEX=?)\n", f->mailbox);
	pool_destroy(&tmp);
}

static void add_file(struct import_run *run, struct import_folder *f,
		     unsigned *cap, const char *sub, const char *name)
{
	if (f->count == *cap) {
		*cap = *cap == 0 ? 256 : *cap * 2;
		struct import_msg *grown = pool_alloc(run->pool, *cap * sizeof(*grown));
		if (f->count > 0)
			memcpy(grown, f->msgs, f->count * sizeof(*grown));
		f->msgs = grown;
	}
	struct import_msg *m = &f->msgs[f->count++];
	m->path = pool_printf(run->pool, "%s/%s", sub, name);
	m->name = m->path + strlen(sub) + 1;
	m->uid = 0;
}

static int scan_dir(struct import_run *run, struct import_folder *f,
		    unsigned *cap, const char *sub)
{
	const char *path = pool_printf(run->pool, "%s/%s", f->dir, sub);
	DIR *dir = opendir(path);
	if (dir == NULL) {
		if (errno == ENOENT)
			return 0;
		import_problem(run, path, strerror(errno));
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(dir)) != NULL && f->count < IMPORT_FOLDER_FILES_MAX) {
		if (de->d_name[0] == '.')
			continue; /* ".", "..", and Maildir's hidden files */
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode)) {
			import_problem(run, t_printf("%s/%s", path, de->d_name),
				       "not a regular file");
			continue;
		}
		add_file(run, f, cap, sub, de->d_name);
	}
	closedir(dir);
	return 0;
}

static int entry_cmp_base(const void *a, const void *b)
{
	const struct import_uidlist_entry *const *x = a, *const *y = b;
	return strcmp((*x)->base, (*y)->base);
}

static int msg_cmp_uid(const void *a, const void *b)
{
	const struct import_msg *x = a, *y = b;
	return x->uid != y->uid ? (x->uid < y->uid ? -1 : 1) :
		strcmp(x->name, y->name);
}

/* The uidlist's UID for each file it names (once), new ones above
 * Dovecot's UIDNEXT for the others in name order. */
static void assign_uids(struct import_run *run, struct import_folder *f)
{
	unsigned n = f->uidlist.count;
	const struct import_uidlist_entry **by_base =
		pool_alloc(run->pool, (n + 1) * sizeof(*by_base));
	bool *taken = pool_alloc(run->pool, n + 1);
	for (unsigned i = 0; i < n; i++)
		by_base[i] = &f->uidlist.entries[i];
	qsort(by_base, n, sizeof(*by_base), entry_cmp_base);
	for (unsigned i = 0; i < f->count; i++) {
		struct import_msg *m = &f->msgs[i];
		struct import_filename fn;
		import_filename_parse(m->name, &fn);
		struct import_uidlist_entry key = {
			.base = t_strndup(m->name, fn.base_len) };
		const struct import_uidlist_entry *kp = &key, **hit =
			n == 0 ? NULL : bsearch(&kp, by_base, n, sizeof(*by_base),
						entry_cmp_base);
		if (hit != NULL && !taken[hit - by_base]) {
			taken[hit - by_base] = true;
			m->uid = (*hit)->uid;
		}
	}
	/* the unlisted ones (uid 0) sort first, by name */
	if (f->count > 0)
		qsort(f->msgs, f->count, sizeof(*f->msgs), msg_cmp_uid);
	uint32_t next = f->uidlist.uidnext > 0 ? f->uidlist.uidnext : 1;
	unsigned unlisted = 0;
	while (unlisted < f->count && f->msgs[unlisted].uid == 0)
		unlisted++;
	for (unsigned i = 0; i < unlisted; i++) {
		if (next == UINT32_MAX) {
			import_problem(run, t_printf("%s/%s", f->dir, f->msgs[i].path),
				       "no UID left below 2^32-1");
			continue;
		}
		f->msgs[i].uid = next++;
	}
	if (f->count > 0)
		qsort(f->msgs, f->count, sizeof(*f->msgs), msg_cmp_uid);
	f->uidnext = next;
	if (f->has_uidlist && unlisted > 0)
		fprintf(stdout, "import: mailbox=%s new_uids=%u (files not in "
			"dovecot-uidlist)\n", f->mailbox, unlisted);
}

int import_folder_scan(struct import_run *run, const char *dir,
		       const char *mailbox, struct import_folder *f)
{
	unsigned cap = 0;
	memset(f, 0, sizeof(*f));
	f->dir = pool_strdup(run->pool, dir);
	f->mailbox = pool_strdup(run->pool, mailbox);
	scan_meta(run, f);
	if (scan_dir(run, f, &cap, "cur") < 0 || scan_dir(run, f, &cap, "new") < 0)
		return -1;
	assign_uids(run, f);
	return 0;
}

const struct import_msg *import_folder_msg(const struct import_folder *f,
					   uint32_t uid)
{
	unsigned lo = 0, hi = f->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (f->msgs[mid].uid == uid)
			return &f->msgs[mid];
		if (f->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t import_lf_to_crlf(const char *in, size_t n, char *out, char *prev)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && *prev != '\r')
			out[o++] = '\r';
		out[o++] = *prev = in[i];
	}
	return o;
}

/* The file's LF line ends to the wire form's CRLF (store.h: the store
 * keeps LF on disk and gives CRLF back, as Dovecot serves Maildir). */
static int copy_message(struct store_delivery *d, int fd, const char **error_r)
{
	static char in[IMPORT_CHUNK], out[2 * IMPORT_CHUNK];
	char prev = '\0';
	for (;;) {
		ssize_t n = read(fd, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			return 1;
		}
		if (n == 0)
			return 0;
		size_t o = import_lf_to_crlf(in, (size_t)n, out, &prev);
		if (store_delivery_write(d, out, o, error_r) < 0)
			return -1;
	}
}

void import_message_flags(struct import_run *run, const struct import_folder *f,
			  const struct import_msg *m,
			  struct store_flags_update *update)
{
	struct import_filename fn;
	import_filename_parse(m->name, &fn);
	const char **kw = pool_alloc(pool_temp(), IMPORT_KEYWORD_LETTERS * sizeof(*kw));
	memset(update, 0, sizeof(*update));
	update->op = STORE_FLAGS_REPLACE;
	update->sysflags = fn.sysflags;
	update->keywords = kw;
	for (unsigned i = 0; i < IMPORT_KEYWORD_LETTERS; i++) {
		if ((fn.keyword_bits & (1u << i)) == 0)
			continue;
		if (f->keywords.names[i] != NULL)
			kw[update->keyword_count++] = f->keywords.names[i];
		else
			import_problem(run, t_printf("%s/%s", f->dir, m->path),
				       t_printf("keyword letter %c has no name in "
						"dovecot-keywords: left out", 'a' + i));
	}
}

/* 0 stored, 1 the source could not be read (reported), -1 the store failed. */
static int import_message(struct import_run *run, const struct import_folder *f,
			  const struct import_msg *m, const char **error_r)
{
	const char *path = t_printf("%s/%s", f->dir, m->path);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		import_problem(run, path, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	struct store_flags_update update;
	import_message_flags(run, f, m, &update);
	struct store_delivery *d = store_delivery_begin(run->store, run->address,
							f->mailbox, error_r);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	const char *read_error = NULL;
	int ret = copy_message(d, fd, &read_error);
	close(fd);
	if (ret == 0 && (store_delivery_set_meta(d, &update, st.st_mtime, error_r) < 0 ||
			 store_delivery_set_uid(d, m->uid, error_r) < 0))
		ret = -1;
	if (ret != 0) {
		store_delivery_abort(&d);
		if (ret > 0)
			import_problem(run, path, read_error);
		return ret;
	}
	uint32_t uid;
	return store_delivery_commit(&d, &uid, error_r) < 0 ? -1 : 0;
}

/* The UIDs the store's mailbox holds (UID order), after the repair of
 * what a kill left (import_resume.c). */
static int present_uids(struct import_run *run, struct import_folder *f,
			uint32_t **uids_r, unsigned *count_r, const char **error_r)
{
	struct store_message_info *msgs;
	unsigned count, n = 0;
	if (store_mailbox_list_messages(run->store, run->address, f->mailbox,
					run->pool, &msgs, &count, error_r) < 0 ||
	    import_resume_repair(run, f, msgs, count, error_r) < 0)
		return -1;
	*uids_r = pool_alloc(run->pool, (count + 1) * sizeof(**uids_r));
	for (unsigned i = 0; i < count; i++) {
		if (msgs[i].uid != f->orphan_uid)
			(*uids_r)[n++] = msgs[i].uid; /* UID order (store.h) */
	}
	*count_r = n;
	return 0;
}

static int folder_prepare(struct import_run *run, const struct import_folder *f,
			  struct store_mailbox_status *status, const char **error_r)
{
	if (strcmp(f->mailbox, "INBOX") != 0 &&
	    store_mailbox_create(run->store, run->address, f->mailbox, error_r) < 0)
		return -1;
	if (store_mailbox_status(run->store, run->address, f->mailbox, status,
				 error_r) < 0)
		return -1;
	uint32_t validity = f->has_uidlist ? f->uidlist.uidvalidity : 0;
	if (validity == 0 || status->uidvalidity == validity)
		return 0;
	/* the store refuses this unless the mailbox is empty (checked
	 * before anything was written: cmd_import.c) */
	struct store_import_meta meta = { .uidvalidity = validity };
	return store_mailbox_import_meta(run->store, run->address, f->mailbox,
					 &meta, error_r) < 0 ||
		store_mailbox_status(run->store, run->address, f->mailbox, status,
				     error_r) < 0 ? -1 : 0;
}

int import_folder_run(struct import_run *run, struct import_folder *f)
{
	struct store_mailbox_status status;
	const char *error;
	uint32_t *present;
	unsigned present_count, p = 0, done = 0;
	if (folder_prepare(run, f, &status, &error) < 0 ||
	    present_uids(run, f, &present, &present_count, &error) < 0) {
		import_problem(run, f->mailbox, error);
		return -1;
	}
	uint32_t uidnext = status.uidnext;
	for (unsigned i = 0; i < f->count; i++) {
		const struct import_msg *m = &f->msgs[i];
		if (m->uid == 0)
			continue; /* no UID left for it: reported */
		while (p < present_count && present[p] < m->uid)
			p++;
		if (p < present_count && present[p] == m->uid) {
			run->already++; /* an earlier run took it */
		} else if (m->uid < uidnext) {
			import_problem(run, t_printf("%s/%s", f->dir, m->path),
				       t_printf("UID %u is below the mailbox's UIDNEXT "
						"%u (expunged after an earlier import?): "
						"not taken", m->uid, uidnext));
		} else {
			int ret = import_message(run, f, m, &error);
			if (ret < 0) {
				import_problem(run, f->mailbox, error);
				return -1;
			}
			if (ret == 0) {
				run->imported++;
				uidnext = m->uid + 1;
			}
		}
		if (++done % run->progress_every == 0 || done == f->count) {
			fprintf(stdout, "import: mailbox=%s messages=%u/%u\n",
				f->mailbox, done, f->count);
			fflush(stdout);
		}
		pool_clear(pool_temp());
	}
	/* RFC 7162 3.1.1: HIGHESTMODSEQ never below Dovecot's, so a client's
	 * CHANGEDSINCE misses nothing; UIDNEXT never below Dovecot's either */
	struct store_import_meta meta = { .uidnext = f->uidnext,
					  .highestmodseq = f->modseq_bound };
	if (store_mailbox_import_meta(run->store, run->address, f->mailbox, &meta,
				      &error) < 0) {
		import_problem(run, f->mailbox, error);
		return -1;
	}
	return 0;
}
