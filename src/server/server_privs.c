/* server_privs.c: the data directory's layout, who owns what, and dropping
 * root.
 *
 * Layout when started as root (run_user "postel"):
 *   DATA/              root, not group/world-writable, traversable (0755):
 *                      root reads postel.conf here and writes tls/
 *   DATA/postel.conf   root, not group/world-writable (optional)
 *   DATA/tls/          root, 0700: the self-signed certificate and key
 *   DATA/db/           postel, 0700: accounts.db and its -wal and -shm
 *   DATA/mail/ queue/ spool/   postel, 0700
 *
 * Contract: root never follows a link in a directory postel can write,
 * and never opens, chowns or chmods anything inside one by path. DATA is
 * opened once; everything else is reached relative to that descriptor
 * with O_NOFOLLOW, and owners change only through descriptors (fchown).
 * A path root must trust that is a link, owned by someone else, or
 * group/world-writable is refused with an error naming the path and the
 * owner and mode expected, as `postfix set-permissions` reports.
 *
 * The old layout (DATA and DATA/accounts.db* owned by postel) is taken
 * over once: DATA becomes root's (fchown on the open directory, whose
 * parent postel cannot write), then accounts.db, -wal and -shm are
 * renamed into db/ (rename moves a link, it never follows one), and the
 * paths root trusts are checked as above.
 *
 * server_check_data_dir() (for `postel config check`) runs the same
 * checks without changing anything: no mkdir, chown, chmod, rename or
 * useradd; what serve would make or take over is only noted. */
#include "server.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRIVS_DATA_MODE 0755
#define PRIVS_SUBDIR_MODE 0700

static int run_user_create(const char *user, const char **error_r)
{
	/* execv with a fixed argument vector: no shell, no interpolation */
	pid_t pid = fork();
	if (pid < 0) {
		*error_r = t_printf("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *const argv[] = { "useradd", "--system", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			(char *)user, NULL };
		execv("/usr/sbin/useradd", argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		*error_r = t_printf("useradd %s failed", user);
		return -1;
	}
	log_info("event=run_user_created user=%s", user);
	return 0;
}

int server_lookup_run_user(const struct config *config, unsigned *uid_r,
			   unsigned *gid_r, const char **error_r)
{
	if (geteuid() != 0 || config->run_user == NULL || config->run_user[0] == '\0')
		return 0;
	struct passwd *pw = getpwnam(config->run_user);
	if (pw == NULL) {
		if (run_user_create(config->run_user, error_r) < 0)
			return -1;
		pw = getpwnam(config->run_user);
		if (pw == NULL) {
			*error_r = t_printf("user %s not found after useradd",
					    config->run_user);
			return -1;
		}
	}
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 1;
}

struct privs_owner {
	bool root;          /* we run as root: check and set owners */
	uid_t uid;          /* who owns what the workers write */
	gid_t gid;
	const char *name;   /* for messages */
	bool dry;           /* check only: change nothing (config check) */
	const char *note;   /* dry: what serve would still do */
};

static int privs_refuse(const char *data_dir, const char *name,
			const char *problem, const char *expected,
			const char **error_r)
{
	*error_r = t_printf("unsafe data directory: %s%s%s %s; expected %s",
			    data_dir, name[0] != '\0' ? "/" : "", name, problem,
			    expected);
	return -1;
}

static const char *privs_owner_text(const struct stat *st)
{
	return t_printf("is owned by uid %u with mode %04o", (unsigned)st->st_uid,
			(unsigned)(st->st_mode & 07777));
}

/* Open DATA (made if missing) and make sure only root can change it. */
static int privs_data_dir_open(const char *data_dir, struct privs_owner *o,
			       int *fd_r, const char **error_r)
{
	if (o->dry && access(data_dir, F_OK) < 0 && errno == ENOENT) {
		o->note = t_printf("%s does not exist yet; serve will create it",
				   data_dir);
		*fd_r = -1;
		return 0;
	}
	if (!o->dry &&
	    mkdir(data_dir, o->root ? PRIVS_DATA_MODE : 0750) < 0 && errno != EEXIST) {
		*error_r = t_printf("mkdir(%s): %s", data_dir, strerror(errno));
		return -1;
	}
	int fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*error_r = t_printf("open(%s): %s", data_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*fd_r = fd;
	if (!o->root)
		return 0;
	const char *expected = "a directory owned by root, not group/world-writable "
		"(mode 0755)";
	if (st.st_uid == o->uid && o->uid != 0) {
		/* the old layout: postel owned DATA. Our descriptor names
		 * the directory itself, whatever postel renamed inside it. */
		if (o->dry) {
			o->note = t_printf("%s is owned by %s (the old layout); serve "
					   "will give it to root", data_dir, o->name);
			return 0;
		}
		if (fchown(fd, 0, 0) < 0 || fchmod(fd, PRIVS_DATA_MODE) < 0) {
			*error_r = t_printf("taking over %s: %s", data_dir, strerror(errno));
			goto fail;
		}
		log_info("event=data_dir_taken_over path=%s from=%s owner=root mode=%04o",
			 log_str(data_dir), o->name, PRIVS_DATA_MODE);
		return 0;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		privs_refuse(data_dir, "", privs_owner_text(&st), expected, error_r);
		goto fail;
	}
	if (!o->dry && (st.st_mode & 0111) != 0111 && fchmod(fd, (st.st_mode & 0777) | 0111) < 0) {
		*error_r = t_printf("chmod(%s): %s", data_dir, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(fd);
	*fd_r = -1;
	return -1;
}

/* A path in DATA that root reads or writes: absent, or root's own and
 * not writable by anyone else. Never followed when a link. */
static int privs_check_trusted(int dfd, const char *data_dir, const char *name,
			       bool is_dir, const char **error_r)
{
	struct stat st;
	const char *expected = is_dir ?
		"a directory owned by root, mode 0700" :
		"a regular file owned by root, not group/world-writable";
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("stat(%s/%s): %s", data_dir, name, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode))
		return privs_refuse(data_dir, name, "is a symbolic link", expected, error_r);
	if (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return privs_refuse(data_dir, name, "has the wrong file type", expected,
				    error_r);
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return privs_refuse(data_dir, name, privs_owner_text(&st), expected, error_r);
	return 0;
}

/* A directory the workers write: made if missing, never a link, handed
 * to run_user through its descriptor. */
static int privs_worker_dir(int dfd, const char *data_dir, const char *name,
			    const struct privs_owner *o, int *fd_r,
			    const char **error_r)
{
	if (!o->dry && mkdirat(dfd, name, PRIVS_SUBDIR_MODE) < 0 && errno != EEXIST) {
		*error_r = t_printf("mkdir(%s/%s): %s", data_dir, name, strerror(errno));
		return -1;
	}
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && o->dry && errno == ENOENT) {
		if (fd_r != NULL)
			*fd_r = -1;
		return 0; /* serve makes it */
	}
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return privs_refuse(data_dir, name, "is a symbolic link or not a "
					    "directory", t_printf("a directory owned by %s, "
					    "mode 0700", o->name), error_r);
		*error_r = t_printf("open(%s/%s): %s", data_dir, name, strerror(errno));
		return -1;
	}
	struct stat st;
	if (o->root && !o->dry && (fstat(fd, &st) < 0 ||
			((st.st_uid != o->uid || st.st_gid != o->gid) &&
			 fchown(fd, o->uid, o->gid) < 0))) {
		*error_r = t_printf("chown(%s/%s): %s", data_dir, name, strerror(errno));
		close(fd);
		return -1;
	}
	if (fd_r != NULL)
		*fd_r = fd;
	else
		close(fd);
	return 0;
}

/* The old layout kept accounts.db in DATA: move it (and its WAL first,
 * so a crash half-way never separates committed transactions from the
 * database) into db/. renameat2 moves whatever is there, link or file,
 * without following it; postel opens it later with O_NOFOLLOW. */
static int privs_move_userdb(int dfd, int dbfd, const char *data_dir,
			     bool dry, const char **error_r)
{
	static const char *const names[] = { "accounts.db-wal", "accounts.db-shm",
					     "accounts.db" };
	struct stat st;
	if (fstatat(dfd, "accounts.db", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(dbfd, "accounts.db", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return privs_refuse(data_dir, "accounts.db", "and db/accounts.db both "
				    "exist", "only db/accounts.db (move the old one away)",
				    error_r);
	if (dry)
		return 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (renameat2(dfd, names[i], dbfd, names[i], RENAME_NOREPLACE) < 0) {
			if (errno == ENOENT)
				continue;
			*error_r = t_printf("rename(%s/%s, %s/db/%s): %s", data_dir, names[i],
					    data_dir, names[i], strerror(errno));
			return -1;
		}
		const char *from = t_printf("%s/%s", data_dir, names[i]);
		const char *to = t_printf("%s/db/%s", data_dir, names[i]);
		log_info("event=accounts_db_moved from=%s to=%s", log_str(from),
			 log_str(to));
	}
	return 0;
}

static int privs_data_dir(const struct config *config, bool dry,
			  const char **note_r, const char **error_r)
{
	struct privs_owner o = { .root = geteuid() == 0, .uid = getuid(),
				 .gid = getgid(), .name = "the current user",
				 .dry = dry };
	unsigned uid = 0, gid = 0;
	int r;
	if (dry && o.root && config->run_user[0] != '\0' &&
	    getpwnam(config->run_user) == NULL) {
		/* nothing can be owned by a user that does not exist yet */
		o.note = t_printf("user %s does not exist yet; serve will create it",
				  config->run_user);
		r = 0;
	} else {
		r = server_lookup_run_user(config, &uid, &gid, error_r);
	}
	if (r < 0)
		return -1;
	if (r > 0) {
		o.uid = uid;
		o.gid = gid;
		o.name = config->run_user;
	} else if (o.root) {
		o.name = "root"; /* no run_user: everything stays root's */
	}
	const char *data_dir = config->data_dir;
	int dfd, dbfd = -1;
	if (privs_data_dir_open(data_dir, &o, &dfd, error_r) < 0)
		return -1;
	int ret = -1;
	if (dfd < 0) { /* dry run, no DATA yet */
		ret = 0;
		goto out;
	}
	if (o.root && (privs_check_trusted(dfd, data_dir, "postel.conf", false, error_r) < 0 ||
		       privs_check_trusted(dfd, data_dir, "tls", true, error_r) < 0))
		goto out;
	static const char *const subdirs[] = { "mail", "queue", "spool" };
	for (unsigned i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (privs_worker_dir(dfd, data_dir, subdirs[i], &o, NULL, error_r) < 0)
			goto out;
	}
	if (privs_worker_dir(dfd, data_dir, "db", &o, &dbfd, error_r) < 0 ||
	    (dbfd >= 0 && privs_move_userdb(dfd, dbfd, data_dir, dry, error_r) < 0))
		goto out;
	ret = 0;
out:
	if (dbfd >= 0)
		close(dbfd);
	if (dfd >= 0)
		close(dfd);
	if (note_r != NULL)
		*note_r = o.note;
	return ret;
}

int server_prepare_data_dir(const struct config *config, const char **error_r)
{
	return privs_data_dir(config, false, NULL, error_r);
}

int server_check_data_dir(const struct config *config, const char **note_r,
			  const char **error_r)
{
	return privs_data_dir(config, true, note_r, error_r);
}

int server_drop_privileges(const struct config *config, const char **error_r)
{
	unsigned uid, gid;
	int r = server_lookup_run_user(config, &uid, &gid, error_r);
	if (r <= 0)
		return r;
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		*error_r = t_printf("dropping privileges to %s: %s",
				    config->run_user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		*error_r = "privileges could be regained after dropping them";
		return -1;
	}
	return 0;
}
