/* cmd_password.c: see cmd_password.h. */
#include "cli/cmd_password.h"
#include "auth/sasl.h"
#include "lib/mem.h"
#include "lib/secret.h"
#include "lib/str.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define CMD_PASSWORD_READ_MAX 1024

static int cmd_password_fail(const char *message)
{
	fprintf(stderr, "postel: %s\n", message);
	return 1;
}

/* Characters, not bytes: UTF-8 continuation octets do not count. */
static size_t cmd_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Read and check a new password into buf (NUL-terminated). 0 or -1. */
static int cmd_read_password(char *buf, size_t size, unsigned min_chars,
			     const char **error_r)
{
	ssize_t len;

	if (isatty(STDIN_FILENO)) {
		char again[CMD_PASSWORD_READ_MAX];
		len = secret_read_tty("New password: ", buf, size, error_r);
		if (len <= 0) {
			if (len == 0)
				*error_r = "empty password refused";
			return -1;
		}
		ssize_t len2 = secret_read_tty("Retype new password: ", again,
						     sizeof(again), error_r);
		bool same = len2 == len && CRYPTO_memcmp(buf, again, (size_t)len) == 0;
		OPENSSL_cleanse(again, sizeof(again));
		if (len2 < 0)
			return -1;
		if (!same) {
			*error_r = "the passwords do not match";
			return -1;
		}
	} else {
		len = secret_read_line(STDIN_FILENO, buf, size, error_r);
		if (len < 0)
			return -1;
	}
	if (len == 0) {
		*error_r = "empty password refused";
		return -1;
	}
	if (len > SASL_FIELD_MAX) {
		*error_r = "password longer than 255 bytes";
		return -1;
	}
	if (!sasl_utf8_valid((const unsigned char *)buf, (size_t)len)) {
		*error_r = "password is not valid UTF-8 or contains NUL";
		return -1;
	}
	if (cmd_utf8_chars(buf, (size_t)len) < min_chars) {
		*error_r = t_printf("password shorter than %u characters "
				    "(config key password_min_length)", min_chars);
		return -1;
	}
	return 0;
}

/* The hash (heap) and SCRAM keys to store: from --hash, or from a
 * password read now. *scram_r is NULL for --hash. 0 or 1 on failure
 * (reported). */
int cmd_password_material(const char *hash, unsigned min_chars, char **hash_r,
			  struct password_scram *keys, const struct password_scram **scram_r)
{
	char password[CMD_PASSWORD_READ_MAX];
	const char *error = NULL;
	int ret = 0;

	*scram_r = NULL;
	if (hash != NULL) {
		int check = password_hash_check(hash, &error);
		if (check < 0)
			return cmd_password_fail(t_printf("--hash: %s", error));
		if (check == 0)
			fprintf(stderr, "postel: warning: %s\n", error);
		fprintf(stderr, "postel: note: SCRAM-SHA-256 stays unavailable for this "
			"user until a password is set without --hash\n");
		*hash_r = xstrdup(hash);
		return 0;
	}
	if (cmd_read_password(password, sizeof(password), min_chars, &error) < 0 ||
	    password_hash(password, hash_r, &error) < 0 ||
	    password_scram_generate(password, keys, &error) < 0)
		ret = cmd_password_fail(error);
	else
		*scram_r = keys;
	OPENSSL_cleanse(password, sizeof(password));
	return ret;
}

