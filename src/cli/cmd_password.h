/* cmd_password.h: the password (or imported hash) "postel user add" and
 * "postel user passwd" store.
 *
 * cmd_password_material(): with hash non-NULL (--hash), that crypt(3)
 * hash, checked, and *scram_r NULL (no SCRAM keys can be derived from a
 * hash). Else a password read from the terminal without echo, asked
 * twice, or as one line from stdin when it is not a terminal: 1-255 bytes
 * of UTF-8 (what SASL PLAIN can carry), at least min_chars characters
 * (password_min_length), hashed and turned into SCRAM keys, then wiped.
 * 0, or 1 with "postel: reason" printed. *hash_r is the caller's to free
 * (and wipe). */
#ifndef POSTEL_CLI_CMD_PASSWORD_H
#define POSTEL_CLI_CMD_PASSWORD_H

#include "auth/password.h"

int cmd_password_material(const char *hash, unsigned min_chars, char **hash_r,
			  struct password_scram *keys, const struct password_scram **scram_r);

#endif
