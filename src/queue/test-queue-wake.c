/* test-queue-wake.c: unit tests for queue_wake.c (queue.h): the runner's
 * pid file is written whole (mode 0600, fsync'd through fileio_write_sync,
 * then renamed: no temporary left) and replaced by a new generation; a
 * wake finds no runner when the file is missing, holds no pid, names a
 * process that is not the runner or is a symlink; and signals a process
 * named as the runner is (SIGUSR1, received within a bounded wait). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"
#include "queue/queue.h"
#include "store/fileio.h"

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-queue-wake.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	return mkdir(t_printf("%s/queue", dir), 0700);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static unsigned queue_dir_entries(void)
{
	DIR *d = opendir(t_printf("%s/queue", dir));
	assert_non_null(d);
	unsigned n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_publish_writes_whole_file(void **state)
{
	(void)state;
	const char *error, *path = t_printf("%s/queue/runner.pid", dir);
	char *data;
	size_t len;
	struct stat st;
	assert_int_equal(queue_wake_publish(dir, 4242, &error), 0);
	assert_int_equal(fileio_read_file(path, 64, &data, &len), 0);
	assert_string_equal(data, "4242\n");
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a new generation replaces it; no temporary is left */
	assert_int_equal(queue_wake_publish(dir, 77, &error), 0);
	assert_int_equal(fileio_read_file(path, 64, &data, &len), 0);
	assert_string_equal(data, "77\n");
	free(data);
	assert_int_equal(queue_dir_entries(), 1);
	/* a queue directory that is gone: an error naming the file */
	assert_int_equal(queue_wake_publish("/nonexistent-postel", 1, &error), -1);
	assert_non_null(strstr(error, "runner.pid"));
}

static void test_no_runner(void **state)
{
	(void)state;
	const char *error, *path = t_printf("%s/queue/runner.pid", dir);
	assert_int_equal(queue_wake_runner(dir, &error), 0);
	assert_string_equal(error, "the queue runner is not running");
	assert_int_equal(fileio_write_sync(path, "x\n", 2), 0);
	assert_int_equal(queue_wake_runner(dir, &error), 0);
	assert_string_equal(error, "runner.pid holds no pid");
	/* our own pid: alive, but not the runner */
	const char *line = t_printf("%ld\n", (long)getpid());
	assert_int_equal(fileio_write_sync(path, line, strlen(line)), 0);
	assert_int_equal(queue_wake_runner(dir, &error), 0);
	assert_string_equal(error, "the queue runner is not running");
	/* never followed through a symlink */
	const char *real = t_printf("%s/queue/elsewhere", dir);
	assert_int_equal(rename(path, real), 0);
	assert_int_equal(symlink(real, path), 0);
	assert_int_equal(queue_wake_runner(dir, &error), 0);
	assert_non_null(strstr(error, "reading runner.pid"));
}

static void test_runner_is_signalled(void **state)
{
	(void)state;
	const char *error;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, "postel: runner");
		(void)!write(ready[1], "r", 1);
		struct timespec wait = { .tv_sec = 10 };
		_exit(sigtimedwait(&set, NULL, &wait) == SIGUSR1 ? 0 : 1);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(queue_wake_publish(dir, pid, &error), 0);
	assert_int_equal(queue_wake_runner(dir, &error), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_writes_whole_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_runner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runner_is_signalled, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
