/* test-tls.c: the self-signed certificate files of tls.c are made without
 * following links (issue 8 item 1): a link planted at a file's name or at
 * a temporary name is replaced, never written through; a DATA/tls that is
 * a link or open to others is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/tls.h"

#define VICTIM_TEXT "victim file: must not change\n"

struct fixture {
	char dir[64];
};

static const char *path_in(const struct fixture *f, const char *name)
{
	static char buf[4][160];
	static unsigned next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", f->dir, name);
	return p;
}

static void write_victim(const char *path)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(VICTIM_TEXT, fp);
	assert_int_equal(fclose(fp), 0);
}

static void assert_victim(const char *path)
{
	char buf[128] = "";
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_string_equal(buf, VICTIM_TEXT);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-tls.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {
		"tls/selfsigned.key", "tls/selfsigned.crt", "tls/selfsigned.key.tmp",
		"tls/selfsigned.crt.tmp", "other/selfsigned.key", "other/selfsigned.crt",
		"tls", "other", "victim", "victim2",
	};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (unlink(path_in(f, names[i])) < 0)
			rmdir(path_in(f, names[i]));
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_links_at_file_names_not_followed(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct stat st;

	assert_int_equal(mkdir(path_in(f, "tls"), 0700), 0);
	write_victim(path_in(f, "victim"));
	write_victim(path_in(f, "victim2"));
	assert_int_equal(symlink(path_in(f, "victim"), path_in(f, "tls/selfsigned.key")), 0);
	assert_int_equal(symlink(path_in(f, "victim2"),
				 path_in(f, "tls/selfsigned.crt.tmp")), 0);
	struct tls_ctx *ctx = tls_ctx_create(NULL, NULL, f->dir, "mx.test", &error);
	if (ctx == NULL)
		fail_msg("tls_ctx_create: %s", error);
	tls_ctx_destroy(&ctx);
	assert_victim(path_in(f, "victim"));
	assert_victim(path_in(f, "victim2"));
	assert_int_equal(lstat(path_in(f, "tls/selfsigned.key"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(lstat(path_in(f, "tls/selfsigned.crt"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void test_tls_dir_link_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct stat st;

	assert_int_equal(mkdir(path_in(f, "other"), 0700), 0);
	assert_int_equal(symlink(path_in(f, "other"), path_in(f, "tls")), 0);
	assert_null(tls_ctx_create(NULL, NULL, f->dir, "mx.test", &error));
	assert_non_null(strstr(error, path_in(f, "tls")));
	assert_int_equal(lstat(path_in(f, "other/selfsigned.key"), &st), -1);
}

static void test_tls_dir_open_to_others_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	assert_int_equal(mkdir(path_in(f, "tls"), 0700), 0);
	assert_int_equal(chmod(path_in(f, "tls"), 0777), 0);
	assert_null(tls_ctx_create(NULL, NULL, f->dir, "mx.test", &error));
	assert_non_null(strstr(error, "expected"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_links_at_file_names_not_followed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_dir_link_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_dir_open_to_others_refused,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
