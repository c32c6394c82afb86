/* store_maildir_intent.c: the durable intents of the maildir-sqlite
 * backend, one file per operation in the user directory.
 *
 * An operation that changes files and rows in an order a crash could cut
 * (a RENAME, an expunge, a COPY or MOVE) first writes USER/KIND.PID.N:
 *   "KIND 1 UIDVALIDITY\n" LINES "end\n"
 * fsync'd, the user directory fsync'd, under the index lock; it removes
 * the file when it is done (after its commit and its unlinks). So an
 * intent that is present is one that may be unfinished. Names are unique
 * (PID and a counter), so one operation never removes another's. The
 * open path pays nothing: the readdir of the user directory it already
 * does for the folders lists them (store_maildir_sync.c), and any intent
 * forces a sync, which under the index lock finishes each (rename first,
 * then expunges and copies, before any scan of new/), commits, and
 * removes the intents it listed: their writers held the lock when they
 * wrote them, so each has since committed, rolled back or died, and
 * each recovery is idempotent (it looks at the rows and files as they
 * are). A file without "end" was torn before its fsync returned, so
 * before anything it names happened: it is ignored. */
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAILDIR_INTENT_MAX (64u * 1024u * 1024u)
/* names tried before giving up on EEXIST */
#define MAILDIR_INTENT_TRIES 64u

static const char *const intent_magic[] = {
	[MAILDIR_INTENT_RENAME] = "postel-rename",
	[MAILDIR_INTENT_EXPUNGE] = "postel-expunge",
	[MAILDIR_INTENT_COPY] = "postel-copy",
};
#define INTENT_KINDS (sizeof(intent_magic) / sizeof(intent_magic[0]))

int maildir_intent_kind(const char *name)
{
	for (unsigned k = 0; k < INTENT_KINDS; k++) {
		size_t len = strlen(intent_magic[k]);
		if (strncmp(name, intent_magic[k], len) == 0 && name[len] == '.')
			return (int)k;
	}
	return -1;
}

void maildir_intents_add(struct maildir_intents *in, pool_t *pool,
			 const char *name, enum maildir_intent_kind kind)
{
	struct maildir_intent *it = pool_alloc(pool, sizeof(*it));
	it->name = pool_strdup(pool, name);
	it->kind = kind;
	it->keep = false;
	it->next = in->head;
	in->head = it;
}

/* Digits up to stop; 0 on anything else or over UINT32_MAX. */
static size_t parse_u32(const char *p, char stop, uint32_t *value_r)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; p[i] >= '0' && p[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	if (i == 0 || p[i] != stop)
		return 0;
	*value_r = (uint32_t)v;
	return i + 1;
}

size_t maildir_intent_header(const char *data, const char *magic,
			     uint32_t *uidvalidity_r)
{
	size_t len = strlen(magic), n;
	uint32_t version;
	if (strncmp(data, magic, len) != 0 || data[len] != ' ' ||
	    (n = parse_u32(data + len + 1, ' ', &version)) == 0 || version != 1)
		return 0;
	size_t pos = len + 1 + n;
	if ((n = parse_u32(data + pos, '\n', uidvalidity_r)) == 0)
		return 0;
	return pos + n;
}

int maildir_intent_write(const char *user_dir, enum maildir_intent_kind kind,
			 uint32_t uidvalidity, const str_t *lines,
			 const char **path_r, const char **error_r)
{
	/* pool threads write intents at once: the counter is atomic, and
	 * O_EXCL settles a name left over from an earlier process of the
	 * same PID */
	static atomic_uint counter;
	str_t buf = STR_INIT;
	str_printf(&buf, "%s 1 %" PRIu32 "\n", intent_magic[kind], uidvalidity);
	str_append(&buf, lines->data, lines->len);
	str_appendz(&buf, "end\n");
	const char *path = NULL;
	int ret = -1, e = EEXIST;
	for (unsigned attempt = 0; attempt < MAILDIR_INTENT_TRIES && e == EEXIST;
	     attempt++) {
		path = t_printf("%s/%s.%ld.%u", user_dir, intent_magic[kind],
				(long)getpid(), atomic_fetch_add(&counter, 1) + 1);
		ret = fileio_create_sync(path, buf.data, buf.len);
		e = ret < 0 ? errno : 0;
	}
	str_free(&buf);
	if (ret == 0 && fileio_fsync_dir(user_dir) < 0) {
		ret = -1;
		e = errno;
	}
	if (ret < 0 && e != EEXIST)
		(void)unlink(path); /* ours: never one that was there */
	if (ret < 0) {
		*error_r = t_printf("intent %s failed: %s", path, strerror(e));
		return -1;
	}
	*path_r = path;
	return 0;
}

/* Exactly two complete non-empty lines, no NUL, the second not "end". */
static bool legacy_rename(const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len), *nl2;
	return strlen(p) == len && nl != NULL && nl > p &&
		(nl2 = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - p))) != NULL &&
		nl2 > nl + 1 && nl2 == p + len - 1 &&
		!(nl2 - nl - 1 == 3 && strncmp(nl + 1, "end", 3) == 0);
}

int maildir_intent_read(const char *user_dir, const struct maildir_intent *it,
			pool_t *pool, uint32_t *uidvalidity_r, char **lines_r,
			const char **error_r)
{
	const char *path = t_printf("%s/%s", user_dir, it->name);
	char *data;
	size_t len;
	if (fileio_read_file(path, MAILDIR_INTENT_MAX, &data, &len) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("read(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	size_t pos = maildir_intent_header(data, intent_magic[it->kind],
					   uidvalidity_r);
	/* torn (never fsync'd whole): "end\n" closes every intent */
	bool whole = pos > 0 && len >= pos + 4 && strlen(data) == len &&
		strcmp(data + len - 4, "end\n") == 0 &&
		(len == pos + 4 || data[len - 5] == '\n');
	if (whole)
		*lines_r = pool_strndup(pool, data + pos, len - pos - 4);
	else if (it->kind == MAILDIR_INTENT_RENAME && pos > 0 &&
		 legacy_rename(data + pos, len - pos)) {
		/* the previous build's "OLD\nNEW\n" without "end", fsync'd
		 * before any folder moved (a torn new one looks the same but
		 * is checked against the crash state like any other) */
		whole = true;
		*lines_r = pool_strndup(pool, data + pos, len - pos);
	}
	free(data);
	return whole ? 1 : 0;
}

int maildir_intents_recover(struct maildir_user *user,
			    struct maildir_intents *in, pool_t *pool,
			    struct maildir_intents *changed_r,
			    struct maildir_intents *kept_r, const char **error_r)
{
	changed_r->head = kept_r->head = NULL;
	for (struct maildir_intent *it = in->head; it != NULL; it = it->next) {
		if (it->kind == MAILDIR_INTENT_RENAME)
			continue; /* maildir_rename_recover(), before the folders */
		uint32_t uv;
		char *lines;
		int r = maildir_intent_read(user->dir, it, pool, &uv, &lines, error_r);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		const char *mailbox = NULL;
		r = it->kind == MAILDIR_INTENT_EXPUNGE ?
			maildir_expunge_recover(user, uv, lines, pool, &mailbox,
						error_r) :
			maildir_copy_recover(user, lines, pool, error_r);
		if (r < 0)
			return -1;
		if (r > 0) {
			/* a file stays that should go: the next open retries,
			 * and this one goes on (the user is not locked out) */
			it->keep = true;
			log_warn("event=intent_kept user=%s intent=%s error=%s",
				 log_str(user->key), log_str(it->name),
				 log_str(*error_r));
			/* its mailboxes (the recovery cut lines into
			 * "MAILBOX\0" or "SRC\0DEST\0") wait for it: a scan
			 * of new/ would take a source left there for mail */
			maildir_intents_add(kept_r, pool, lines, it->kind);
			if (it->kind == MAILDIR_INTENT_COPY)
				maildir_intents_add(kept_r, pool,
						    lines + strlen(lines) + 1,
						    it->kind);
		}
		if (mailbox != NULL)
			maildir_intents_add(changed_r, pool, mailbox, it->kind);
	}
	return 0;
}

void maildir_intents_remove(const char *user_dir,
			    const struct maildir_intents *in)
{
	for (const struct maildir_intent *it = in->head; it != NULL; it = it->next) {
		if (!it->keep)
			(void)unlink(t_printf("%s/%s", user_dir, it->name));
	}
}
