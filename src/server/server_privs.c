/* server_privs.c: the data directory's layout and ownership, and dropping
 * root. Mail and the accounts database belong to run_user so workers (and
 * CLI commands run as root, which drop to run_user too) can write them. */
#include "server.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

int server_prepare_data_dir(const struct config *config, const char **error_r)
{
	if (mkdir(config->data_dir, 0750) < 0 && errno != EEXIST) {
		*error_r = t_printf("mkdir(%s): %s", config->data_dir, strerror(errno));
		return -1;
	}
	unsigned uid, gid;
	int r = server_lookup_run_user(config, &uid, &gid, error_r);
	if (r <= 0)
		return r;
	/* the data dir and what workers write below it; tls/ stays root's */
	static const char *const subdirs[] = { "", "/mail", "/queue", "/spool" };
	for (unsigned i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		const char *path = t_printf("%s%s", config->data_dir, subdirs[i]);
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			*error_r = t_printf("mkdir(%s): %s", path, strerror(errno));
			return -1;
		}
		if (chown(path, uid, gid) < 0) {
			*error_r = t_printf("chown(%s): %s", path, strerror(errno));
			return -1;
		}
	}
	static const char *const files[] = { "/accounts.db", "/accounts.db-wal",
					     "/accounts.db-shm" };
	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *path = t_printf("%s%s", config->data_dir, files[i]);
		if (chown(path, uid, gid) < 0 && errno != ENOENT) {
			*error_r = t_printf("chown(%s): %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
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
