/* test-dkim-keys.h: for the dkim unit tests only: write a new key of a
 * type as PEM to path (beside it first, then renamed, as keygen or an
 * editor replaces a file: a new inode). Include after cmocka.h. */
#ifndef POSTEL_TEST_DKIM_KEYS_H
#define POSTEL_TEST_DKIM_KEYS_H

#include <stdio.h>
#include <string.h>

#include "dkim/dkim_key.h"
#include "lib/mem.h"

static void test_dkim_write_key(const char *path, enum dkim_key_type type)
{
	struct dkim_key key;
	const char *error;
	str_t pem = STR_INIT;
	memset(&key, 0, sizeof(key));
	assert_int_equal(dkim_key_generate(type, &key, &error), 0);
	assert_int_equal(dkim_key_private_pem(&key, &pem, &error), 0);
	const char *tmp = t_printf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(pem.data, 1, pem.len, f), pem.len);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
	str_free(&pem);
	dkim_key_clear(&key);
}

#endif
