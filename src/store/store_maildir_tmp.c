/* store_maildir_tmp.c: removing what killed deliveries left in tmp/.
 *
 * A delivery writes FOLDER/tmp/NAME and renames it into new/ at commit;
 * a worker killed in between leaves the partial file behind, and nothing
 * else would ever remove it. As Dovecot does, a file in tmp/ whose mtime
 * is more than 36 hours old is removed (no delivery takes that long:
 * DATA and the fsync are bounded by the protocol timeouts). The caller
 * (an open's sync, under the index lock) does this at most every
 * MAILDIR_TMP_CHECK_SECS per folder, so the readdir of tmp/ is not paid
 * on every open. No fsync: losing an unlink in a crash only means the
 * file is removed next time. */
#include "store/store_maildir.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

unsigned maildir_tmp_clean(const struct maildir_user *user, const char *mailbox,
			   const char *folder_dir, time_t now)
{
	const char *path = t_printf("%s/tmp", folder_dir);
	DIR *dir = opendir(path);
	if (dir == NULL) {
		if (errno != ENOENT)
			log_warn("event=maildir_tmp_clean_failed path=%s error=%s",
				 log_str(path), log_str(strerror(errno)));
		return 0;
	}
	unsigned removed = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) ||
		    st.st_mtime >= now - MAILDIR_TMP_MAX_AGE_SECS)
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			log_warn("event=maildir_tmp_clean_failed path=%s/%s error=%s",
				 log_str(path), log_str(de->d_name),
				 log_str(strerror(errno)));
	}
	closedir(dir);
	if (removed > 0) {
		store_stats_add(STORE_STAT_TMP_CLEANED, removed);
		log_info("event=maildir_tmp_cleaned user=%s mailbox=%s count=%u",
			 log_str(user->key), log_str(mailbox), removed);
	}
	return removed;
}
