/* test-dkim-key-cache.c: unit tests for dkim_key_cache.h: a hit returns
 * the same parsed keys; a key added, replaced (new inode) or removed, and
 * a directory removed, are seen at the next call; more domains than
 * DKIM_CACHE_DOMAINS stay correct. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dkim/dkim_key_cache.h"
#include "lib/mem.h"

#include <openssl/evp.h>

#include "test-dkim-keys.h"

static void write_key(const char *dir, const char *domain, const char *selector,
		      enum dkim_key_type type)
{
	(void)mkdir(t_printf("%s/dkim/%s", dir, domain), 0750);
	test_dkim_write_key(t_printf("%s/dkim/%s/%s.key", dir, domain, selector), type);
}

static void test_cache_follows_the_directory(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-dkim-cache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mkdir(t_printf("%s/dkim", dir), 0750), 0);
	const struct dkim_key *keys, *again;
	unsigned count;
	const char *error;
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &keys, &count, &error), 0);
	assert_int_equal(count, 0);

	write_key(dir, "example.com", "a", DKIM_KEY_ED25519);
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &keys, &count, &error), 0);
	assert_int_equal(count, 1);
	EVP_PKEY *first = keys[0].pkey;
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &again, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_ptr_equal(again[0].pkey, first); /* a hit: not parsed again */

	write_key(dir, "example.com", "b", DKIM_KEY_ED25519); /* added */
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &keys, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_string_equal(keys[1].selector, "b");

	write_key(dir, "example.com", "a", DKIM_KEY_RSA);    /* replaced */
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &keys, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(keys[0].type, DKIM_KEY_RSA);

	assert_int_equal(unlink(t_printf("%s/dkim/example.com/b.key", dir)), 0);
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &keys, &count, &error), 0);
	assert_int_equal(count, 1);

	/* more domains than entries: each still gets its own keys */
	for (unsigned i = 0; i < DKIM_CACHE_DOMAINS + 3; i++)
		write_key(dir, t_printf("d%u.example", i), "s", DKIM_KEY_ED25519);
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 0; i < DKIM_CACHE_DOMAINS + 3; i++) {
			const char *d = t_printf("d%u.example", i);
			assert_int_equal(dkim_key_cache_get(dir, d, &keys, &count, &error), 0);
			assert_int_equal(count, 1);
			assert_string_equal(keys[0].domain, d);
		}
	}

	assert_int_equal(system(t_printf("rm -rf %s/dkim/example.com", dir)), 0);
	assert_int_equal(dkim_key_cache_get(dir, "example.com", &keys, &count, &error), 0);
	assert_int_equal(count, 0);
	assert_int_equal(system(t_printf("rm -rf %s", dir)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_follows_the_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
