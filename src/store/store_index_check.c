/* store_index_check.c: PRAGMA quick_check of an index, and the memo of
 * index files this process has checked already (store_index.h: each file
 * is checked the first time a process opens it, never on later opens). */
#include "store/store_index_private.h"
#include "store/store_private.h"
#include "lib/log.h"

#include <pthread.h>
#include <string.h>

#define CHECKED_MEMO_SIZE 4096

int index_check_integrity(struct store_index *idx, const char **error_r)
{
	sqlite3_stmt *stmt;
	store_stats_count(STORE_STAT_INTEGRITY_CHECKS);
	log_info("event=index_check path=%s", log_str(idx->path));
	int rc = sqlite3_prepare_v2(idx->db, "PRAGMA quick_check", -1, &stmt,
				    NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "integrity check", error_r);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return index_error(idx, rc, "integrity check", error_r);
	}
	const char *result = (const char *)sqlite3_column_text(stmt, 0);
	if (result == NULL || strcmp(result, "ok") != 0) {
		/* the report is multi-line: keep the first problem only */
		char *first = t_printf("%s", result != NULL ? result : "");
		char *nl = strchr(first, '\n');
		if (nl != NULL && strncmp(first, "*** ", 4) == 0)
			first = nl + 1;
		first[strcspn(first, "\r\n")] = '\0';
		*error_r = t_printf("index integrity check failed: %s (%s)",
				    first, idx->path);
		idx->corrupt = true;
		sqlite3_finalize(stmt);
		return -1;
	}
	sqlite3_finalize(stmt);
	return 0;
}

/* The files this process has already run PRAGMA quick_check on, by
 * device and inode. SQLite's WAL with synchronous=FULL survives crashes,
 * so a restart has nothing to repair; what the check finds is damage done
 * from outside (a failing disk, a restored or hand-edited file), which is
 * most likely found right after start-up. So each index is checked the
 * first time this process opens it and never again: a warm open stays
 * O(1) however big the mailbox, and rotating recipients cannot repeat the
 * check. Damage that appears later is reported by SQLite when the page is
 * read, and the caller sets the file aside then (store_index_is_corrupt).
 * Open addressing; when the table fills up it is emptied, which costs one
 * more check per index, not a wrong answer. */
static struct {
	pthread_mutex_t lock;
	unsigned used;
	struct { dev_t dev; ino_t ino; bool used; } slots[CHECKED_MEMO_SIZE];
} checked_memo = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* True if (dev, ino) was not checked yet; it counts as checked from now. */
bool index_checked_memo_first(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)ino;
	unsigned i = (unsigned)(h % CHECKED_MEMO_SIZE);
	bool first = true;
	pthread_mutex_lock(&checked_memo.lock);
	if (checked_memo.used >= CHECKED_MEMO_SIZE * 3 / 4) {
		memset(checked_memo.slots, 0, sizeof(checked_memo.slots));
		checked_memo.used = 0;
	}
	for (;; i = (i + 1) % CHECKED_MEMO_SIZE) {
		if (!checked_memo.slots[i].used) {
			checked_memo.slots[i].used = true;
			checked_memo.slots[i].dev = dev;
			checked_memo.slots[i].ino = ino;
			checked_memo.used++;
			break;
		}
		if (checked_memo.slots[i].dev == dev && checked_memo.slots[i].ino == ino) {
			first = false;
			break;
		}
	}
	pthread_mutex_unlock(&checked_memo.lock);
	return first;
}
