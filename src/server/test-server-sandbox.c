/* test-server-sandbox.c: server_sandbox_enter() in a forked child with a
 * temporary data directory. What a worker must not do fails (exec, fork,
 * files outside the data directory, binding a port); what it does works
 * (files beneath the data directory with fsync, rename, flock and
 * O_TMPFILE; threads; SQLite temporary files; /dev/null, /dev/urandom,
 * /proc/self, time zones, a dns_trust_anchor elsewhere); a layer the
 * kernel lacks is skipped with a log line. The child reports by exit
 * status. Skipped where the kernel lacks seccomp or Landlock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/log.h"
#include "server/server_sandbox.h"

static char data_dir[64];

/* in the child: report the failing line and errno, exit 1 */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "check failed at line %d: %s (errno %d %s)\n", \
			__LINE__, #cond, errno, strerror(errno)); \
		_exit(1); \
	} \
} while (0)

static int setup(void **state)
{
	(void)state;
	snprintf(data_dir, sizeof(data_dir), "/tmp/postel-sandbox-XXXXXX");
	assert_non_null(mkdtemp(data_dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(rmdir(data_dir), 0); /* the child left nothing */
	return 0;
}

static void require_sandbox(void)
{
	struct server_sandbox_status st;
	server_sandbox_probe(&st);
	if (!st.seccomp || st.landlock_abi == 0) {
		print_message("no %s in this kernel\n", st.seccomp ? "landlock" : "seccomp");
		skip();
	}
}

/* Runs fn in a child; returns its exit status (or 128 + signal). */
static int run_child(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void enter(void)
{
	struct server_sandbox_status st;
	const char *error = NULL;
	if (server_sandbox_enter(data_dir, &st, &error) < 0) {
		fprintf(stderr, "sandbox: %s\n", error);
		_exit(2);
	}
	CHECK(st.no_new_privs && st.seccomp && st.landlock_abi > 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2);
}

static void child_denied(void)
{
	enter();
	struct server_sandbox_status st;
	server_sandbox_probe(&st);
	int abi = st.landlock_abi;

	char *const argv[] = { "sh", "-c", "exit 0", NULL };
	errno = 0;
	CHECK(execve("/bin/sh", argv, environ) < 0 && errno == EPERM);
	errno = 0;
	CHECK(fork() < 0 && errno == EPERM);
	/* world-readable, and no business of a worker */
	if (access("/etc/hostname", F_OK) == 0) {
		errno = 0;
		CHECK(open("/etc/hostname", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	}
	errno = 0;
	CHECK(open("/etc/passwd", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
	/* /tmp itself is outside the data directory beneath it */
	errno = 0;
	CHECK(open("/tmp/postel-sandbox-escape", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) < 0 &&
	      errno == EACCES);
	/* no links, devices or FIFOs beneath the data directory either */
	char path[128];
	snprintf(path, sizeof(path), "%s/link", data_dir);
	errno = 0;
	CHECK(symlink("/etc/passwd", path) < 0 && errno == EACCES);
	if (abi >= 4) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		errno = 0;
		CHECK(s >= 0 && bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
		      errno == EACCES);
		close(s);
	}
}

static void *thread_main(void *arg)
{
	return arg;
}

static void child_sqlite_spill(void)
{
	/* a temporary table bigger than the page cache spills to a file in
	 * SQLite's temporary directory, which must be one the sandbox allows */
	char path[128];
	snprintf(path, sizeof(path), "%s/t.db", data_dir);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA temp_store=FILE; PRAGMA cache_size=8;"
			   "CREATE TEMP TABLE t(x);"
			   "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c"
			   " WHERE i < 2000) INSERT INTO t SELECT randomblob(1000) FROM c;",
			   NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_close(db) == SQLITE_OK);
	CHECK(unlink(path) == 0);
}

static void child_allowed(void)
{
	enter();
	char a[128], b[128], sub[128], c[128];
	snprintf(a, sizeof(a), "%s/a", data_dir);
	snprintf(b, sizeof(b), "%s/b", data_dir);
	snprintf(sub, sizeof(sub), "%s/sub", data_dir);
	snprintf(c, sizeof(c), "%s/sub/c", data_dir);

	int fd = open(a, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "x\n", 2) == 2);
	CHECK(fsync(fd) == 0 && fdatasync(fd) == 0);
	CHECK(ftruncate(fd, 1) == 0);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0 && flock(fd, LOCK_UN) == 0);
	close(fd);
	CHECK(rename(a, b) == 0);
	/* Maildir tmp/ -> new/: a rename between directories */
	CHECK(mkdir(sub, 0700) == 0);
	CHECK(rename(b, c) == 0);
	int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0 && fsync(dfd) == 0);
	close(dfd);
	CHECK(unlink(c) == 0 && rmdir(sub) == 0);

	/* the SMTP spool file */
	fd = open(data_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write(fd, "y", 1) == 1);
	close(fd);

	pthread_t t;
	void *ret = NULL;
	CHECK(pthread_create(&t, NULL, thread_main, data_dir) == 0);
	CHECK(pthread_join(t, &ret) == 0 && ret == data_dir);

	child_sqlite_spill();

	char buf[64];
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0 && write(fd, "z", 1) == 1);
	close(fd);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	close(fd);
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) > 0);
	close(fd);
	if (access("/etc/localtime", F_OK) == 0) {
		fd = open("/etc/localtime", O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0 && read(fd, buf, 4) == 4 && memcmp(buf, "TZif", 4) == 0);
		close(fd);
	}
	/* a charset from a gconv module, not built into glibc: the euro
	 * sign of ISO-8859-15 */
	iconv_t cd = iconv_open("UTF-8", "ISO-8859-15");
	CHECK(cd != (iconv_t)-1);
	char in[] = "\xa4", out[8];
	char *inp = in, *outp = out;
	size_t inleft = 1, outleft = sizeof(out);
	CHECK(iconv(cd, &inp, &inleft, &outp, &outleft) != (size_t)-1);
	CHECK(outp - out == 3 && memcmp(out, "\xe2\x82\xac", 3) == 0);
	iconv_close(cd);
}

static void child_disabled(void)
{
	struct config config = { .data_dir = data_dir, .sandbox = false };
	const char *error = NULL;
	CHECK(server_sandbox_worker(&config, &error) == 0);
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
	CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0);
	CHECK(access("/etc/passwd", R_OK) == 0);
	int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
}

/* A kernel without one layer, played by a filter that answers ENOSYS to
 * its system call: the sandbox still enters, says so in one log line,
 * and applies the other layers. */
static void pretend_kernel_lacks(long nr)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

static void enter_without(long nr, const char *skipped_line,
			  struct server_sandbox_status *st)
{
	char path[128], buf[4096];
	snprintf(path, sizeof(path), "%s/log", data_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	log_set_fd(fd);
	pretend_kernel_lacks(nr);
	const char *error = NULL;
	CHECK(server_sandbox_enter(data_dir, st, &error) == 0);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(strstr(buf, skipped_line) != NULL);
	CHECK(strstr(buf, "event=sandbox_active no_new_privs=yes") != NULL);
	CHECK(unlink(path) == 0);
}

static void child_no_landlock(void)
{
	struct server_sandbox_status st;
	enter_without(SYS_landlock_create_ruleset, "event=sandbox_skipped what=landlock", &st);
	CHECK(st.landlock_abi == 0 && st.seccomp && st.no_new_privs);
	errno = 0;
	CHECK(execve("/bin/sh", (char *[]){ "sh", NULL }, environ) < 0 && errno == EPERM);
}

static void child_no_seccomp(void)
{
	struct server_sandbox_status st;
	enter_without(SYS_seccomp, "event=sandbox_skipped what=seccomp", &st);
	CHECK(st.landlock_abi > 0 && !st.seccomp && st.no_new_privs);
	errno = 0;
	CHECK(open("/etc/passwd", O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
}

static void test_sandbox_skips_missing_layer(void **state)
{
	(void)state;
	require_sandbox();
	assert_int_equal(run_child(child_no_landlock), 0);
	assert_int_equal(run_child(child_no_seccomp), 0);
}

static void test_sandbox_denies(void **state)
{
	(void)state;
	require_sandbox();
	assert_int_equal(run_child(child_denied), 0);
}

static void test_sandbox_allows(void **state)
{
	(void)state;
	require_sandbox();
	assert_int_equal(run_child(child_allowed), 0);
}

/* dns_trust_anchor outside /usr/share/dns (a locally signed zone's DS
 * set): readable in the sandbox, where libunbound opens it at the queue
 * runner's first lookup; the file beside it stays closed. */
static char anchor_dir[64];

static void child_anchor(void)
{
	char anchor[128], other[128];
	snprintf(anchor, sizeof(anchor), "%s/dsset-zone.example.", anchor_dir);
	snprintf(other, sizeof(other), "%s/other", anchor_dir);
	struct config config = { .data_dir = data_dir, .sandbox = true,
				 .dns_trust_anchor = anchor };
	const char *error = NULL;
	CHECK(server_sandbox_worker(&config, &error) == 0);
	int fd = open(anchor, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	close(fd);
	errno = 0;
	CHECK(open(other, O_RDONLY | O_CLOEXEC) < 0 && errno == EACCES);
}

static void test_sandbox_trust_anchor_readable(void **state)
{
	(void)state;
	require_sandbox();
	snprintf(anchor_dir, sizeof(anchor_dir), "/tmp/postel-anchor-XXXXXX");
	assert_non_null(mkdtemp(anchor_dir));
	char path[128];
	const char *names[] = { "dsset-zone.example.", "other" };
	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", anchor_dir, names[i]);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	int status = run_child(child_anchor);
	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", anchor_dir, names[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(anchor_dir), 0);
	assert_int_equal(status, 0);
}

static void test_sandbox_config_off(void **state)
{
	(void)state;
	assert_int_equal(run_child(child_disabled), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sandbox_denies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_allows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_skips_missing_layer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_config_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_trust_anchor_readable, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
