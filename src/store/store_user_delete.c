/* store_user_delete.c: remove a user's whole mail store (issue 11 item 5:
 * "postel user del" must not leave mail for a later user of the same
 * address to inherit).
 *
 * Contract: store_user_delete() (store.h) first renames the user's
 * directory DATA/mail/DOMAIN/LOCAL to DATA/mail/DOMAIN/.deleted.LOCAL.PID
 * (a name no address can have: a local part never starts with a dot) and
 * fsyncs the domain directory, so the user's mail and index vanish in one
 * step and a re-added user starts empty even if the removal below is cut
 * short; then removes that tree without following any symbolic link
 * (openat O_NOFOLLOW, unlinkat), at most STORE_DELETE_DEPTH_MAX levels
 * deep. 1: removed; 0: the user had no mail store; -1: error_r. A
 * leftover ".deleted." tree is never read as a user. Sessions of the
 * user in other processes keep what they have open. */
#include "store/store.h"
#include "store/store_private.h"
#include "store/store_maildir.h"
#include "lib/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Maildir++ folders sit one level below the user: cur/new/tmp are 2 or 3 */
#define STORE_DELETE_DEPTH_MAX 16

static int tree_remove(int parent_fd, const char *name, unsigned depth,
		       const char **error_r);

/* Remove everything inside the directory dir_fd (consumed). */
static int dir_empty(int dir_fd, unsigned depth, const char **error_r)
{
	DIR *dir = fdopendir(dir_fd);
	if (dir == NULL) {
		*error_r = t_printf("fdopendir: %s", strerror(errno));
		close(dir_fd);
		return -1;
	}
	int ret = 0;
	struct dirent *de;
	/* rewinddir after each removal would rescan; a removal does not
	 * disturb readdir on Linux for the entries still to come */
	while (ret == 0 && (errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ret = tree_remove(dirfd(dir), de->d_name, depth + 1, error_r);
	}
	if (ret == 0 && errno != 0) {
		*error_r = t_printf("readdir: %s", strerror(errno));
		ret = -1;
	}
	closedir(dir);
	return ret;
}

static int tree_remove(int parent_fd, const char *name, unsigned depth,
		       const char **error_r)
{
	if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM) {
		*error_r = t_printf("unlink %s: %s", name, strerror(errno));
		return -1;
	}
	if (depth > STORE_DELETE_DEPTH_MAX) {
		*error_r = t_printf("%s: nested too deep", name);
		return -1;
	}
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*error_r = t_printf("open %s: %s", name, strerror(errno));
		return -1;
	}
	if (dir_empty(fd, depth, error_r) < 0)
		return -1;
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		*error_r = t_printf("rmdir %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int store_user_delete(struct store *store, const char *address, const char **error_r)
{
	struct store_address addr;
	if (store_address_parse(address, &addr, error_r) < 0)
		return -1;
	if (store->backend != &store_backend_maildir) {
		*error_r = "deleting a user's mail is not supported by this store";
		return -1;
	}
	const struct maildir_store *s = (const struct maildir_store *)store;
	const char *domain_dir = t_printf("%s/%s", s->mail_dir, addr.domain);
	int dom_fd = open(domain_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dom_fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("open %s: %s", domain_dir, strerror(errno));
		return -1;
	}
	const char *grave = t_printf(".deleted.%s.%ld", addr.local, (long)getpid());
	int ret = 1;
	if (renameat(dom_fd, addr.local, dom_fd, grave) < 0) {
		if (errno == ENOENT) {
			close(dom_fd);
			return 0;
		}
		*error_r = t_printf("rename %s/%s: %s", domain_dir, addr.local, strerror(errno));
		ret = -1;
	} else if (fsync(dom_fd) < 0) {
		*error_r = t_printf("fsync %s: %s", domain_dir, strerror(errno));
		ret = -1;
	} else if (tree_remove(dom_fd, grave, 0, error_r) < 0) {
		*error_r = t_printf("removing %s/%s: %s", domain_dir, grave, *error_r);
		ret = -1;
	} else if (fsync(dom_fd) < 0) {
		*error_r = t_printf("fsync %s: %s", domain_dir, strerror(errno));
		ret = -1;
	}
	close(dom_fd);
	return ret;
}
