/* dkim_sign.c: the streamed signer (see dkim_sign.h). The header section
 * is split into fields only at the end; the h= list and the fields it
 * selects follow RFC 6376 5.4.2 (the last unused instance of a name
 * first), so what we hash is what a verifier hashes. */
#include "dkim/dkim_sign.h"
#include "dkim/dkim_canon.h"
#include "dkim/dkim_field.h"
#include "lib/base64.h"
#include "lib/mem.h"
#include "mime/mime_address.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

struct dkim_header_span {
	size_t start, len;
};

struct dkim_sign {
	str_t header;           /* the header section, up to DKIM_HEADER_MAX */
	uint64_t header_seen;   /* its bytes, kept or not */
	uint32_t tail;          /* the last four bytes of it */
	bool in_body, too_big, finished;
	EVP_MD_CTX *body_md;
	struct dkim_body_canon canon;
	unsigned char bh[32];
	struct dkim_header_span *fields;
	unsigned field_count;
};

static void body_md_update(void *ctx, const void *data, size_t len)
{
	EVP_DigestUpdate(ctx, data, len);
}

struct dkim_sign *dkim_sign_begin(void)
{
	struct dkim_sign *ds = xcalloc(1, sizeof(*ds));
	ds->body_md = EVP_MD_CTX_new();
	if (ds->body_md == NULL || EVP_DigestInit_ex(ds->body_md, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory */
	dkim_body_canon_init(&ds->canon, body_md_update, ds->body_md);
	return ds;
}

void dkim_sign_free(struct dkim_sign **dsp)
{
	struct dkim_sign *ds = *dsp;
	if (ds == NULL)
		return;
	str_free(&ds->header);
	EVP_MD_CTX_free(ds->body_md);
	free(ds->fields);
	free(ds);
	*dsp = NULL;
}

void dkim_sign_feed(struct dkim_sign *ds, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0;
	for (; i < len && !ds->in_body; i++) {
		ds->tail = (ds->tail << 8) | p[i];
		ds->header_seen++;
		/* the empty line: CRLF CRLF, or CRLF as the very first line */
		if ((ds->header_seen >= 4 && ds->tail == 0x0d0a0d0a) ||
		    (ds->header_seen == 2 && (ds->tail & 0xffff) == 0x0d0a)) {
			ds->in_body = true;
			/* keep the last field's CRLF, not the empty line's */
			if (ds->header.len >= 1)
				str_truncate(&ds->header, ds->header.len - 1);
			continue;
		}
		if (ds->header.len < DKIM_HEADER_MAX)
			str_appendc(&ds->header, (char)p[i]);
		else
			ds->too_big = true;
	}
	if (i < len)
		dkim_body_canon_feed(&ds->canon, p + i, len - i);
}

static bool name_is(const char *field, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len < n || strncasecmp(field, name, n) != 0)
		return false;
	for (size_t i = n; i < len; i++) {
		if (field[i] == ':')
			return true;
		if (field[i] != ' ' && field[i] != '\t')
			return false;
	}
	return false;
}

/* Splits the header section into fields (a line starting with WSP
 * continues the field before it). */
static void split_fields(struct dkim_sign *ds)
{
	const char *h = ds->header.data;
	size_t len = ds->header.len, cap = 0;
	for (size_t pos = 0; pos < len;) {
		const char *lf = memchr(h + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - h) + 1 : len;
		bool cont = h[pos] == ' ' || h[pos] == '\t';
		if (cont && ds->field_count > 0) {
			struct dkim_header_span *f = &ds->fields[ds->field_count - 1];
			f->len = end - f->start;
		} else {
			if (ds->field_count == cap) {
				cap = cap == 0 ? 32 : cap * 2;
				ds->fields = xrealloc(ds->fields, cap * sizeof(*ds->fields));
			}
			ds->fields[ds->field_count++] = (struct dkim_header_span){ pos, end - pos };
		}
		pos = end;
	}
}

static void sign_finish(struct dkim_sign *ds)
{
	if (ds->finished)
		return;
	ds->finished = true;
	dkim_body_canon_finish(&ds->canon);
	unsigned int n = 0;
	EVP_DigestFinal_ex(ds->body_md, ds->bh, &n);
	if (!ds->too_big)
		split_fields(ds);
}

int dkim_sign_from_domain(struct dkim_sign *ds, const char **domain_r,
			  const char **error_r)
{
	sign_finish(ds);
	if (ds->too_big) {
		*error_r = "header section too large";
		return -1;
	}
	const struct dkim_header_span *from = NULL;
	for (unsigned i = 0; i < ds->field_count; i++) {
		const struct dkim_header_span *f = &ds->fields[i];
		if (!name_is(ds->header.data + f->start, f->len, "from"))
			continue;
		if (from != NULL) {
			*error_r = "several From: fields"; /* RFC 5322 3.6 */
			return -1;
		}
		from = f;
	}
	if (from == NULL) {
		*error_r = "no From: field";
		return -1;
	}
	const char *field = ds->header.data + from->start;
	const char *colon = memchr(field, ':', from->len);
	pool_t *pool = pool_create(1024);
	struct mime_address *addrs;
	uint32_t n = mime_address_parse(pool, colon + 1, from->len - (size_t)(colon + 1 - field),
					&addrs);
	const char *host = NULL;
	unsigned mailboxes = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (addrs[i].host == NULL)
			continue; /* group markers */
		mailboxes++;
		host = addrs[i].host;
	}
	int ret = 0;
	if (mailboxes != 1 || host[0] == '\0') {
		*error_r = mailboxes > 1 ? "several From: addresses" : "no From: address";
		ret = -1;
	} else {
		char *domain = t_strndup(host, strlen(host));
		for (char *p = domain; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!dkim_domain_valid(domain)) {
			*error_r = "From: domain is no plain host name";
			ret = -1;
		}
		*domain_r = domain;
	}
	pool_destroy(&pool);
	return ret;
}

/* RFC 6376 5.4.2: each h= name hashes the last instance not yet used. */
void dkim_sign_header_data(struct dkim_sign *ds, const char *const *names, unsigned count,
			   const char *sig_field, size_t sig_len, str_t *data)
{
	sign_finish(ds);
	bool *used = xcalloc(ds->field_count + 1, sizeof(*used));
	for (unsigned i = 0; i < count; i++) {
		for (unsigned j = ds->field_count; j-- > 0;) {
			const struct dkim_header_span *f = &ds->fields[j];
			if (used[j] || !name_is(ds->header.data + f->start, f->len, names[i]))
				continue;
			used[j] = true;
			dkim_header_canon(ds->header.data + f->start, f->len, data);
			str_appendz(data, "\r\n");
			break;
		}
	}
	free(used);
	/* RFC 6376 3.7: the signature field itself, b= empty, no CRLF, last */
	dkim_header_canon(sig_field, sig_len, data);
}

int dkim_sign_field(struct dkim_sign *ds, const struct dkim_key *key, time_t t,
		    str_t *out, const char **error_r)
{
	sign_finish(ds);
	if (ds->too_big) {
		*error_r = "header section too large";
		return -1;
	}
	/* the h= names: each present signed field once per instance */
	const char *names[DKIM_FIELD_NAMES_MAX];
	unsigned count = 0;
	for (unsigned k = 0; dkim_signed_fields[k] != NULL; k++) {
		const char *name = dkim_signed_fields[k];
		unsigned seen = strcmp(name, "from") == 0 ? 1 : 0; /* oversigned */
		for (unsigned j = 0; j < ds->field_count; j++) {
			const struct dkim_header_span *f = &ds->fields[j];
			if (name_is(ds->header.data + f->start, f->len, name))
				seen++;
		}
		for (; seen > 0 && count < DKIM_FIELD_NAMES_MAX; seen--)
			names[count++] = name;
	}
	str_t data = STR_INIT, field = STR_INIT, sig = STR_INIT;
	struct dkim_field_builder fb;
	dkim_field_begin(&fb, &field, key, t, names, count, ds->bh);
	dkim_sign_header_data(ds, names, count, field.data, field.len, &data);
	int ret = dkim_sign_data(key, data.data, data.len, &sig, error_r);
	if (ret == 0) {
		dkim_field_finish(&fb, sig.data, sig.len);
		str_append(out, field.data, field.len);
	}
	str_free(&data);
	str_free(&field);
	str_free(&sig);
	return ret;
}

int dkim_sign_data(const struct dkim_key *key, const void *data, size_t len,
		   str_t *b64_out, const char **error_r)
{
	unsigned char hash[32], sig[1024];
	unsigned int hash_len = 0;
	size_t sig_len = sizeof(sig);
	int ok = 0;
	if (EVP_Digest(data, len, hash, &hash_len, EVP_sha256(), NULL) != 1) {
		*error_r = "SHA-256 failed";
		return -1;
	}
	if (key->type == DKIM_KEY_ED25519) {
		/* RFC 8463 3: Ed25519 over the SHA-256 hash (PureEdDSA) */
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
			EVP_DigestSign(md, sig, &sig_len, hash, hash_len) == 1;
		EVP_MD_CTX_free(md);
	} else {
		/* RFC 6376 3.3.1: RSASSA-PKCS1-v1_5 with SHA-256 */
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key->pkey, NULL);
		ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
			EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
			EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
			EVP_PKEY_sign(pc, sig, &sig_len, hash, hash_len) == 1;
		EVP_PKEY_CTX_free(pc);
	}
	if (!ok) {
		*error_r = "signing failed";
		return -1;
	}
	base64_encode(sig, sig_len, b64_out);
	return 0;
}

const unsigned char *dkim_sign_body_hash(struct dkim_sign *ds)
{
	sign_finish(ds);
	return ds->bh;
}
