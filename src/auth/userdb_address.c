/* userdb_address.c: syntax of the domains and addresses userdb stores.
 * See userdb.h. Stricter than RFC 5321: no quoted local parts, no
 * address literals, ASCII only, and no '/' so that an address is always a
 * safe single path component for the mail store. */
#include "auth/userdb.h"

#include <string.h>

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets including "<>" */
#define USERDB_ADDRESS_MAX 254
#define USERDB_LABEL_MAX 63

static bool userdb_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/* RFC 5322 3.2.3 atext, minus '/' (a path separator for the store) */
static bool userdb_is_atext(char c)
{
	return userdb_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-=?^_`{|}~", c) != NULL);
}

bool userdb_domain_valid(const char *domain, const char **error_r)
{
	size_t len = strlen(domain), label = 0;

	if (len == 0 || len > USERDB_DOMAIN_MAX) {
		*error_r = len == 0 ? "empty domain" : "domain longer than 255 bytes";
		return false;
	}
	/* RFC 1035 2.3.1 / RFC 1123 2.1: letters, digits, inner hyphens */
	for (size_t i = 0; i <= len; i++) {
		char c = domain[i];
		if (c == '.' || c == '\0') {
			if (label == 0) {
				*error_r = "empty label in domain";
				return false;
			}
			if (domain[i - 1] == '-') {
				*error_r = "domain label ends with '-'";
				return false;
			}
			label = 0;
			continue;
		}
		if (!userdb_is_alnum(c) && c != '-') {
			*error_r = "domain may contain only letters, digits, '-' and '.'";
			return false;
		}
		if (c == '-' && label == 0) {
			*error_r = "domain label starts with '-'";
			return false;
		}
		if (++label > USERDB_LABEL_MAX) {
			*error_r = "domain label longer than 63 bytes";
			return false;
		}
	}
	return true;
}

bool userdb_address_valid(const char *address, bool allow_catchall,
			  const char **error_r)
{
	const char *at = strchr(address, '@');
	size_t local_len;

	if (at == NULL) {
		*error_r = "address has no '@'";
		return false;
	}
	if (strlen(address) > USERDB_ADDRESS_MAX) {
		*error_r = "address longer than 254 bytes";
		return false;
	}
	local_len = (size_t)(at - address);
	if (local_len == 0 && !allow_catchall) {
		*error_r = "empty local part";
		return false;
	}
	if (local_len > USERDB_LOCAL_PART_MAX) {
		*error_r = "local part longer than 64 bytes";
		return false;
	}
	/* RFC 5322 3.2.3 dot-atom: no leading, trailing or double dot, which
	 * also rules out "." and ".." as directory names */
	for (size_t i = 0; i < local_len; i++) {
		char c = address[i];
		if (c == '.') {
			if (i == 0 || i + 1 == local_len || address[i + 1] == '.') {
				*error_r = "local part has a leading, trailing or double '.'";
				return false;
			}
		} else if (!userdb_is_atext(c)) {
			*error_r = c == '/' ? "local part contains '/'" :
				"local part contains a character outside RFC 5322 atext";
			return false;
		}
	}
	if (strchr(at + 1, '@') != NULL) {
		*error_r = "address has more than one '@'";
		return false;
	}
	return userdb_domain_valid(at + 1, error_r);
}

char *userdb_address_normalize(pool_t *pool, const char *address)
{
	char *copy = pool_strdup(pool, address);
	char *at = strrchr(copy, '@');

	if (at != NULL) {
		for (char *p = at + 1; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		}
	}
	return copy;
}
