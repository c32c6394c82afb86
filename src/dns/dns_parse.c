/* dns_parse.c: DNS record data, SPF, tag lists and MTA-STS
 * policies. See dns/dns_parse.h. */
#include "dns/dns_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *dns_text_safe(pool_t *pool, const char *s, size_t len, size_t max)
{
	bool cut = len > max;
	size_t n = cut ? max : len;
	char *out = pool_alloc(pool, n * 4 + 4), *o = out;
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			*o++ = (char)c;
		} else if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	if (cut) {
		memcpy(o, "...", 3);
		o += 3;
	}
	*o = '\0';
	return out;
}

int dns_rdata_name(const uint8_t *rdata, size_t len, size_t *off,
		   char out[DNS_NAME_MAX + 1])
{
	size_t pos = *off, n = 0;

	for (unsigned labels = 0; labels < 128; labels++) {
		if (pos >= len)
			return -1;
		unsigned l = rdata[pos++];
		if (l == 0) {
			if (n == 0)
				out[n++] = '.';
			out[n] = '\0';
			*off = pos;
			return 0;
		}
		if (l > 63 || pos + l > len || n + l + 1 > DNS_NAME_MAX)
			return -1;
		if (n > 0)
			out[n++] = '.';
		for (unsigned i = 0; i < l; i++) {
			unsigned char c = rdata[pos + i];
			/* a name we print and query again: keep it to LDH and '_' */
			if (!(isalnum(c) || c == '-' || c == '_' || c == '*'))
				return -1;
			out[n++] = (char)tolower(c);
		}
		pos += l;
	}
	return -1;
}

int dns_rdata_txt(const uint8_t *rdata, size_t len, str_t *out)
{
	size_t pos = 0;
	while (pos < len) {
		size_t l = rdata[pos++];
		if (pos + l > len)
			return -1;
		str_append(out, rdata + pos, l);
		pos += l;
	}
	return 0;
}

int dns_rdata_mx(const uint8_t *rdata, size_t len, unsigned *pref_r,
		 char host[DNS_NAME_MAX + 1])
{
	size_t off = 2;
	if (len < 3)
		return -1;
	*pref_r = (unsigned)rdata[0] << 8 | rdata[1];
	return dns_rdata_name(rdata, len, &off, host) == 0 && off == len ? 0 : -1;
}

static bool dns_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int dns_tags_parse(pool_t *pool, const char *text, size_t len,
		   struct dns_tags *tags, const char **error_r)
{
	size_t pos = 0;

	tags->count = 0;
	while (pos < len) {
		const char *semi = memchr(text + pos, ';', len - pos);
		size_t end = semi != NULL ? (size_t)(semi - text) : len;
		size_t a = pos, b = end;
		while (a < b && dns_wsp(text[a]))
			a++;
		while (b > a && dns_wsp(text[b - 1]))
			b--;
		pos = end + 1;
		if (a == b)
			continue; /* empty, e.g. after a trailing ';' */
		const char *eq = memchr(text + a, '=', b - a);
		if (eq == NULL || eq == text + a) {
			*error_r = pool_printf(pool, "\"%s\" is not tag=value",
					       dns_text_safe(pool, text + a, b - a, 60));
			return -1;
		}
		if (tags->count == DNS_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		size_t t_end = (size_t)(eq - text), v_start = t_end + 1;
		while (t_end > a && dns_wsp(text[t_end - 1]))
			t_end--;
		while (v_start < b && dns_wsp(text[v_start]))
			v_start++;
		tags->tag[tags->count] = dns_text_safe(pool, text + a, t_end - a, 60);
		tags->value[tags->count] = dns_text_safe(pool, text + v_start,
							   b - v_start, 2048);
		tags->count++;
	}
	return 0;
}

const char *dns_tags_get(const struct dns_tags *tags, const char *tag)
{
	for (unsigned i = 0; i < tags->count; i++) {
		if (strcmp(tags->tag[i], tag) == 0)
			return tags->value[i];
	}
	return NULL;
}

/* RFC 7208 4.6.1: the mechanisms, and whether each costs a DNS lookup. */
static const struct {
	const char *name;
	bool lookup;
	bool arg; /* 0 none, takes ":domain" or "/cidr" optionally */
} dns_spf_mechs[] = {
	{ "all", false, false }, { "include", true, true }, { "a", true, true },
	{ "mx", true, true }, { "ptr", true, true }, { "ip4", false, true },
	{ "ip6", false, true }, { "exists", true, true },
};

static int dns_spf_term(pool_t *pool, struct dns_spf *spf, const char *t,
			size_t n, const char **error_r)
{
	const char *bad = dns_text_safe(pool, t, n, 80);
	char q = '+';

	/* modifiers: name=value (RFC 7208 6) */
	const char *eq = memchr(t, '=', n);
	const char *colon = memchr(t, ':', n);
	if (eq != NULL && (colon == NULL || eq < colon)) {
		size_t nl = (size_t)(eq - t);
		if (nl == 8 && mem_ieq(t, "redirect", 8)) {
			if (spf->redirect != NULL) {
				*error_r = "two redirect= modifiers";
				return -1;
			}
			spf->redirect = dns_text_safe(pool, eq + 1, n - nl - 1, 255);
			spf->lookups++;
		}
		if (nl == 0 || !isalpha((unsigned char)t[0])) {
			*error_r = pool_printf(pool, "bad modifier \"%s\"", bad);
			return -1;
		}
		return 0;
	}
	if (t[0] == '+' || t[0] == '-' || t[0] == '~' || t[0] == '?') {
		q = t[0];
		t++;
		n--;
	}
	for (size_t i = 0; i < sizeof(dns_spf_mechs) / sizeof(dns_spf_mechs[0]); i++) {
		size_t ml = strlen(dns_spf_mechs[i].name);
		if (n < ml || !mem_ieq(t, dns_spf_mechs[i].name, ml))
			continue;
		if (n > ml && (!dns_spf_mechs[i].arg || (t[ml] != ':' && t[ml] != '/')))
			continue;
		bool needs_arg = strcmp(dns_spf_mechs[i].name, "include") == 0 ||
			strcmp(dns_spf_mechs[i].name, "exists") == 0 ||
			strcmp(dns_spf_mechs[i].name, "ip4") == 0 ||
			strcmp(dns_spf_mechs[i].name, "ip6") == 0;
		if (needs_arg && (n <= ml + 1 || t[ml] != ':')) {
			*error_r = pool_printf(pool, "\"%s\" needs a value", bad);
			return -1;
		}
		if (ml == 3 && mem_ieq(t, "ip", 2)) { /* ip4:ADDR[/CIDR], ip6:ADDR[/CIDR] */
			const char *v = t + ml + 1, *slash = memchr(v, '/', n - ml - 1);
			size_t vl = slash != NULL ? (size_t)(slash - v) : n - ml - 1;
			char addr[INET6_ADDRSTRLEN];
			unsigned char bin[16];
			bool ok = vl < sizeof(addr);
			if (ok) {
				memcpy(addr, v, vl);
				addr[vl] = '\0';
				ok = inet_pton(t[2] == '4' ? AF_INET : AF_INET6, addr, bin) == 1;
			}
			if (!ok) {
				*error_r = pool_printf(pool, "bad address in \"%s\"", bad);
				return -1;
			}
		}
		if (dns_spf_mechs[i].lookup)
			spf->lookups++;
		if (ml == 3 && mem_ieq(t, "all", 3))
			spf->all = q;
		else if (ml == 3 && mem_ieq(t, "ptr", 3))
			spf->has_ptr = true;
		else if (ml == 7 && spf->include_count < DNS_SPF_TERMS_MAX)
			spf->includes[spf->include_count++] =
				dns_text_safe(pool, t + ml + 1, n - ml - 1, 255);
		return 0;
	}
	*error_r = pool_printf(pool, "unknown mechanism \"%s\"", bad);
	return -1;
}

int dns_spf_parse(pool_t *pool, const char *record, size_t len,
		  struct dns_spf *spf, const char **error_r)
{
	size_t pos = 6;
	unsigned terms = 0;

	memset(spf, 0, sizeof(*spf));
	/* RFC 7208 4.5: "v=spf1" then a space or the end */
	if (len < 6 || !mem_ieq(record, "v=spf1", 6) || (len > 6 && record[6] != ' ')) {
		*error_r = "does not start with \"v=spf1\"";
		return -1;
	}
	while (pos < len) {
		while (pos < len && record[pos] == ' ')
			pos++;
		size_t start = pos;
		while (pos < len && record[pos] != ' ')
			pos++;
		if (pos == start)
			break;
		if (++terms > DNS_SPF_TERMS_MAX) {
			*error_r = "too many terms";
			return -1;
		}
		if (dns_spf_term(pool, spf, record + start, pos - start, error_r) < 0)
			return -1;
	}
	return 0;
}

int dns_sts_policy_parse(pool_t *pool, const char *body, size_t len,
			 struct dns_sts_policy *policy, const char **error_r)
{
	size_t pos = 0;

	memset(policy, 0, sizeof(*policy));
	policy->max_age = -1;
	while (pos < len) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - body) : len;
		size_t b = end;
		if (b > pos && body[b - 1] == '\r')
			b--;
		const char *line = body + pos;
		size_t n = b - pos;
		pos = end + 1;
		if (n == 0)
			continue;
		const char *colon = memchr(line, ':', n);
		if (colon == NULL) {
			*error_r = pool_printf(pool, "line \"%s\" is not key: value",
					       dns_text_safe(pool, line, n, 60));
			return -1;
		}
		size_t kl = (size_t)(colon - line), v = kl + 1;
		while (v < n && dns_wsp(line[v]))
			v++;
		char *value = dns_text_safe(pool, line + v, n - v, 255);
		if (kl == 7 && memcmp(line, "version", 7) == 0) {
			policy->version = value;
		} else if (kl == 4 && memcmp(line, "mode", 4) == 0) {
			policy->mode = value;
		} else if (kl == 7 && memcmp(line, "max_age", 7) == 0) {
			unsigned long long age;
			if (!parse_uint64(line + v, n - v, 31557600, &age)) {
				*error_r = "max_age is not a number of seconds up to 31557600";
				return -1;
			}
			policy->max_age = (long)age;
		} else if (kl == 2 && memcmp(line, "mx", 2) == 0) {
			if (policy->mx_count == DNS_STS_MX_MAX) {
				*error_r = "too many mx lines";
				return -1;
			}
			policy->mx[policy->mx_count++] = value;
		}
		/* other keys: ignored (RFC 8461 3.2 allows extensions) */
	}
	if (policy->version == NULL || strcmp(policy->version, "STSv1") != 0) {
		*error_r = "no \"version: STSv1\" line";
		return -1;
	}
	if (policy->mode == NULL || (strcmp(policy->mode, "enforce") != 0 &&
				     strcmp(policy->mode, "testing") != 0 &&
				     strcmp(policy->mode, "none") != 0)) {
		*error_r = "mode is not enforce, testing or none";
		return -1;
	}
	if (policy->max_age < 0) {
		*error_r = "no max_age line";
		return -1;
	}
	if (policy->mx_count == 0 && strcmp(policy->mode, "none") != 0) {
		*error_r = "no mx line";
		return -1;
	}
	return 0;
}

bool dns_sts_mx_match(const char *pattern, const char *host)
{
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(host, '.');
		return dot != NULL && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}
