/* mta_sts.c: MTA-STS policies: TXT id, parsing, freshness, the MX check
 * and the durable per-domain cache. See mta_sts.h. The HTTPS fetch is in
 * mta_sts_fetch.c. */
#include "relay/mta_sts.h"
#include "dns/dns.h"
#include "dns/dns_parse.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MTA_STS_CACHE_MAGIC "postel-mta-sts 1\n"

int mta_sts_txt_id(const char *txt, size_t len, char id[MTA_STS_ID_MAX + 1],
		   const char **error_r)
{
	pool_t *pool = pool_create(1024);
	struct dns_tags tags;
	int ret = -1;
	if (dns_tags_parse(pool, txt, len, &tags, error_r) < 0)
		goto out;
	/* RFC 8461 3.1: v=STSv1 first, then id */
	const char *v = dns_tags_get(&tags, "v"), *i = dns_tags_get(&tags, "id");
	if (tags.count == 0 || strcmp(tags.tag[0], "v") != 0 || v == NULL ||
	    strcmp(v, "STSv1") != 0) {
		*error_r = "not v=STSv1";
		goto out;
	}
	size_t n = i != NULL ? strlen(i) : 0;
	if (n == 0 || n > MTA_STS_ID_MAX) {
		*error_r = "id missing or longer than 32";
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		char c = i[k];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9'))) {
			*error_r = "id is not letters and digits";
			goto out;
		}
	}
	memcpy(id, i, n + 1);
	ret = 0;
out:
	pool_destroy(&pool);
	return ret;
}

int mta_sts_txt_answer(const struct dns_answer *a, char id[MTA_STS_ID_MAX + 1],
		       const char **error_r)
{
	if (a->result == DNS_RESULT_FAIL || a->result == DNS_RESULT_TIMEOUT) {
		*error_r = "TXT lookup failed";
		return -1;
	}
	unsigned found = 0;
	int ret = 0;
	*error_r = "no v=STSv1 TXT record";
	for (unsigned i = 0; a->result == DNS_RESULT_DATA && i < a->count; i++) {
		str_t txt = STR_INIT;
		if (dns_rdata_txt(a->data[i], a->len[i], &txt) == 0 && txt.len >= 7 &&
		    memcmp(txt.data, "v=STSv1", 7) == 0) {
			found++;
			ret = mta_sts_txt_id(txt.data, txt.len, id, error_r) == 0 ? 1 : 0;
		}
		str_free(&txt);
	}
	if (found > 1) {
		*error_r = "more than one v=STSv1 TXT record";
		return 0;
	}
	return ret;
}

int mta_sts_policy_parse(const char *body, size_t len, const char *id,
			 time_t fetched, struct mta_sts_policy **policy_r,
			 const char **error_r)
{
	*policy_r = NULL;
	if (len > MTA_STS_POLICY_MAX || strlen(id) > MTA_STS_ID_MAX) {
		*error_r = "policy over 64 KiB";
		return -1;
	}
	pool_t *pool = pool_create(4096);
	struct dns_sts_policy dp;
	if (dns_sts_policy_parse(pool, body, len, &dp, error_r) < 0) {
		/* the error may live in the pool */
		*error_r = t_printf("%s", *error_r);
		pool_destroy(&pool);
		return -1;
	}
	struct mta_sts_policy *p = xcalloc(1, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->mode = strcmp(dp.mode, "enforce") == 0 ? MTA_STS_MODE_ENFORCE :
		strcmp(dp.mode, "testing") == 0 ? MTA_STS_MODE_TESTING :
		MTA_STS_MODE_NONE;
	p->fetched = fetched;
	p->max_age = dp.max_age;
	for (unsigned i = 0; i < dp.mx_count && i < MTA_STS_MX_MAX; i++)
		p->mx[p->mx_count++] = xstrdup(dp.mx[i]);
	p->body = xstrndup(body, len);
	p->body_len = len;
	pool_destroy(&pool);
	*policy_r = p;
	return 0;
}

void mta_sts_policy_free(struct mta_sts_policy **pp)
{
	struct mta_sts_policy *p = *pp;
	if (p == NULL)
		return;
	for (unsigned i = 0; i < p->mx_count; i++)
		free(p->mx[i]);
	free(p->body);
	free(p);
	*pp = NULL;
}

bool mta_sts_policy_expired(const struct mta_sts_policy *p, time_t now)
{
	return now < p->fetched || now - p->fetched >= p->max_age;
}

bool mta_sts_policy_fresh(const struct mta_sts_policy *p, const char *txt_id,
			  time_t now)
{
	if (mta_sts_policy_expired(p, now))
		return false;
	return txt_id == NULL || strcmp(txt_id, p->id) == 0;
}

enum mta_sts_verdict mta_sts_check(const struct mta_sts_policy *p,
				   const char *mx_host)
{
	if (p == NULL || p->mode == MTA_STS_MODE_NONE)
		return MTA_STS_NO_POLICY;
	char host[256];
	size_t n = strlen(mx_host);
	if (n > 0 && mx_host[n - 1] == '.')
		n--;
	snprintf(host, sizeof(host), "%.*s", (int)n, mx_host);
	bool match = false;
	for (unsigned i = 0; i < p->mx_count && !match; i++)
		match = dns_sts_mx_match(p->mx[i], host); /* RFC 8461 4.1 */
	if (p->mode == MTA_STS_MODE_TESTING)
		return match ? MTA_STS_TESTING_OK : MTA_STS_TESTING_MISMATCH;
	return match ? MTA_STS_VERIFY : MTA_STS_REFUSE;
}

const char *mta_sts_verdict_name(enum mta_sts_verdict v)
{
	static const char *const names[] = { "none", "verify", "refuse",
					     "testing", "testing_mismatch" };
	return (unsigned)v < 5 ? names[v] : "?";
}

const char *mta_sts_mode_name(enum mta_sts_mode mode)
{
	static const char *const names[] = { "none", "testing", "enforce" };
	return (unsigned)mode < 3 ? names[mode] : "?";
}

bool mta_sts_domain_ok(const char *domain, char *out, size_t size)
{
	size_t n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || n >= size || domain[0] == '.' || domain[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = domain[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      (c == '.' && domain[i + 1] != '.')))
			return false;
		out[i] = c;
	}
	out[n] = '\0';
	return true;
}

static int mta_sts_cache_path(const char *dir, const char *domain, str_t *path,
			      const char **error_r)
{
	char d[256];
	if (!mta_sts_domain_ok(domain, d, sizeof(d))) {
		*error_r = "bad domain name";
		return -1;
	}
	str_printf(path, "%s/%s", dir, d);
	return 0;
}

int mta_sts_cache_store(const char *dir, const char *domain,
			const struct mta_sts_policy *p, const char **error_r)
{
	str_t path = STR_INIT, tmp = STR_INIT, data = STR_INIT;
	int ret = -1;
	if (mta_sts_cache_path(dir, domain, &path, error_r) < 0)
		goto out;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = "cannot create the MTA-STS cache directory";
		goto out;
	}
	str_printf(&tmp, "%s.tmp.%ld", str_c(&path), (long)getpid());
	str_printf(&data, MTA_STS_CACHE_MAGIC "id=%s\nfetched=%lld\n\n", p->id,
		   (long long)p->fetched);
	str_append(&data, p->body, p->body_len);
	int fd = open(str_c(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, data.data, data.len) == (ssize_t)data.len &&
		fsync(fd) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok) {
		(void)unlink(str_c(&tmp));
		*error_r = "cannot write the MTA-STS cache";
		goto out;
	}
	if (rename(str_c(&tmp), str_c(&path)) < 0) {
		(void)unlink(str_c(&tmp));
		*error_r = "cannot rename into the MTA-STS cache";
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd); /* the rename is durable too */
		close(dfd);
	}
	ret = 0;
out:
	str_free(&path);
	str_free(&tmp);
	str_free(&data);
	return ret;
}

int mta_sts_cache_load(const char *dir, const char *domain,
		       struct mta_sts_policy **p_r, const char **error_r)
{
	*p_r = NULL;
	str_t path = STR_INIT, data = STR_INIT;
	int ret = -1;
	if (mta_sts_cache_path(dir, domain, &path, error_r) < 0)
		goto out;
	int fd = open(str_c(&path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : -1;
		*error_r = "cannot open the cached policy";
		goto out;
	}
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 &&
	       data.len <= MTA_STS_POLICY_MAX + 256)
		str_append(&data, buf, (size_t)n);
	close(fd);
	const char *s = str_c(&data), *sep = strstr(s, "\n\n");
	char id[MTA_STS_ID_MAX + 1];
	long long fetched;
	int idlen = 0;
	if (n < 0 || sep == NULL || strncmp(s, MTA_STS_CACHE_MAGIC,
					    strlen(MTA_STS_CACHE_MAGIC)) != 0 ||
	    sscanf(s + strlen(MTA_STS_CACHE_MAGIC), "id=%32[A-Za-z0-9]%n", id,
		   &idlen) != 1 ||
	    sscanf(s + strlen(MTA_STS_CACHE_MAGIC) + idlen, "\nfetched=%lld",
		   &fetched) != 1 ||
	    mta_sts_policy_parse(sep + 2, data.len - (size_t)(sep + 2 - s), id,
				 (time_t)fetched, p_r, error_r) < 0) {
		log_info("event=mta_sts_cache_damaged domain=%s", log_str(domain));
		(void)unlink(str_c(&path));
		*error_r = "damaged cached policy (removed)";
		goto out;
	}
	ret = 1;
out:
	str_free(&path);
	str_free(&data);
	return ret;
}
