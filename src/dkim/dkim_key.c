/* dkim_key.c: DKIM keys on disk and in DNS (see dkim_key.h). */
#include "dkim/dkim_key.h"
#include "lib/base64.h"
#include "lib/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* selectors read from a domain's directory before sorting */
#define DKIM_NAMES_MAX 64

/* RFC 8301 3.2: verifiers must refuse RSA keys under 1024 bits */
#define DKIM_RSA_MIN_BITS 1024

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool dkim_domain_valid(const char *domain)
{
	size_t len = strlen(domain), label = 0;
	if (len == 0 || len > DKIM_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (domain[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (!label_char(domain[i]) || ++label > 63) {
			return false;
		}
	}
	return label > 0;
}

bool dkim_selector_valid(const char *selector)
{
	size_t len = strlen(selector);
	if (len == 0 || len > DKIM_SELECTOR_MAX || selector[0] == '.' ||
	    selector[len - 1] == '.' || strstr(selector, "..") != NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = selector[i];
		if (!label_char(c) && !(c >= 'A' && c <= 'Z') && c != '_' && c != '.')
			return false;
	}
	return true;
}

const char *dkim_key_type_name(enum dkim_key_type type)
{
	return type == DKIM_KEY_ED25519 ? "ed25519" : "rsa";
}

void dkim_key_clear(struct dkim_key *key)
{
	EVP_PKEY_free(key->pkey);
	memset(key, 0, sizeof(*key));
}

static int key_set_pkey(struct dkim_key *key, EVP_PKEY *pkey, const char **error_r)
{
	int id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_ED25519) {
		key->type = DKIM_KEY_ED25519;
	} else if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) >= DKIM_RSA_MIN_BITS) {
		key->type = DKIM_KEY_RSA;
	} else {
		*error_r = id == EVP_PKEY_RSA ? "RSA key shorter than 1024 bits" :
			"neither an RSA nor an Ed25519 key";
		EVP_PKEY_free(pkey);
		return -1;
	}
	key->pkey = pkey;
	return 0;
}

int dkim_key_from_pem(const char *pem, size_t len, struct dkim_key *key,
		      const char **error_r)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		*error_r = "not a PEM private key";
		return -1;
	}
	return key_set_pkey(key, pkey, error_r);
}

static int key_file_read(int dir_fd, const char *name, str_t *out, const char **error_r)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		*error_r = t_printf("open %s: %s", name, strerror(errno));
		return -1;
	}
	char buf[4096];
	int ret = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || out->len + (size_t)n > DKIM_KEY_FILE_MAX) {
			*error_r = n < 0 ? t_printf("read %s: %s", name, strerror(errno)) :
				t_printf("%s: larger than %d bytes", name, DKIM_KEY_FILE_MAX);
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		str_append(out, buf, (size_t)n);
	}
	close(fd);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The selectors of dir (names of *.key), sorted; at most max. */
static unsigned key_names(DIR *dir, char **names, unsigned max)
{
	unsigned n = 0;
	struct dirent *de;
	while (n < max && (de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".key") != 0)
			continue;
		char *sel = xstrndup(de->d_name, len - 4);
		if (!dkim_selector_valid(sel)) {
			free(sel);
			continue;
		}
		names[n++] = sel;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	return n;
}

int dkim_keys_load(const char *data_dir, const char *domain, struct dkim_key *keys,
		   unsigned max, unsigned *count_r, const char **error_r)
{
	*count_r = 0;
	if (!dkim_domain_valid(domain))
		return 0;
	const char *path = t_printf("%s/dkim/%s", data_dir, domain);
	int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("open %s: %s", path, strerror(errno));
		return -1;
	}
	DIR *dir = fdopendir(dir_fd);
	if (dir == NULL) {
		close(dir_fd);
		*error_r = t_printf("opendir %s: %s", path, strerror(errno));
		return -1;
	}
	char *names[DKIM_NAMES_MAX];
	unsigned n = key_names(dir, names, DKIM_NAMES_MAX);
	if (max > DKIM_KEYS_MAX)
		max = DKIM_KEYS_MAX;
	int ret = 0;
	str_t pem = STR_INIT;
	for (unsigned i = 0; i < n; i++) {
		if (i >= max) { /* the first max by name sign */
			free(names[i]);
			continue;
		}
		struct dkim_key *key = &keys[*count_r];
		memset(key, 0, sizeof(*key));
		str_clear(&pem);
		if (ret == 0 &&
		    (key_file_read(dirfd(dir), t_printf("%s.key", names[i]), &pem, error_r) < 0 ||
		     dkim_key_from_pem(pem.data, pem.len, key, error_r) < 0)) {
			*error_r = t_printf("%s/%s.key: %s", path, names[i], *error_r);
			ret = -1;
		} else if (ret == 0) {
			memcpy(key->domain, domain, strlen(domain) + 1);
			memcpy(key->selector, names[i], strlen(names[i]) + 1);
			(*count_r)++;
		}
		free(names[i]);
	}
	str_free_secure(&pem);
	closedir(dir);
	if (ret < 0) {
		for (unsigned i = 0; i < *count_r; i++)
			dkim_key_clear(&keys[i]);
		*count_r = 0;
	}
	return ret;
}

int dkim_key_generate(enum dkim_key_type type, struct dkim_key *key,
		      const char **error_r)
{
	EVP_PKEY *pkey = type == DKIM_KEY_ED25519 ?
		EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIM_RSA_BITS);
	if (pkey == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	return key_set_pkey(key, pkey, error_r);
}

int dkim_key_private_pem(const struct dkim_key *key, str_t *out, const char **error_r)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	if (bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(bio);
		*error_r = "cannot write the private key";
		return -1;
	}
	long len = BIO_get_mem_data(bio, &data);
	str_append(out, data, (size_t)len);
	BIO_free(bio);
	return 0;
}

int dkim_key_dns_record(const struct dkim_key *key, str_t *out, const char **error_r)
{
	unsigned char raw[32], *der = NULL;
	size_t raw_len = sizeof(raw);
	str_printf(out, "v=DKIM1; k=%s; p=", dkim_key_type_name(key->type));
	if (key->type == DKIM_KEY_ED25519) {
		/* RFC 8463 4.2: the raw 32-byte public key */
		if (EVP_PKEY_get_raw_public_key(key->pkey, raw, &raw_len) != 1) {
			*error_r = "cannot read the Ed25519 public key";
			return -1;
		}
		base64_encode(raw, raw_len, out);
		return 0;
	}
	/* RFC 6376 3.6.1: p= is the DER SubjectPublicKeyInfo */
	int len = i2d_PUBKEY(key->pkey, &der);
	if (len <= 0) {
		*error_r = "cannot encode the RSA public key";
		return -1;
	}
	base64_encode(der, (size_t)len, out);
	OPENSSL_free(der);
	return 0;
}

void dkim_txt_strings(const char *record, size_t len, str_t *out)
{
	for (size_t off = 0; off < len || off == 0; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;
		str_printf(out, "%s\"%.*s\"", off > 0 ? " " : "", (int)n, record + off);
		if (len == 0)
			break;
	}
}
