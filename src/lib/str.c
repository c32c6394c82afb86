/* str.c: see str.h. */
#include "str.h"
#include "mem.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

void str_init(str_t *s)
{
	s->data = NULL;
	s->len = s->cap = 0;
}

void str_free(str_t *s)
{
	free(s->data);
	str_init(s);
}

void str_free_secure(str_t *s)
{
	if (s->data != NULL)
		explicit_bzero(s->data, s->cap);
	str_free(s);
}

void str_reserve(str_t *s, size_t extra)
{
	if (extra > SIZE_MAX - s->len - 1)
		fatal("event=str_overflow");
	size_t need = s->len + extra + 1;
	if (need <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	s->data = xrealloc(s->data, cap);
	s->cap = cap;
}

void str_append(str_t *s, const void *data, size_t len)
{
	str_reserve(s, len);
	if (len > 0)
		memcpy(s->data + s->len, data, len);
	s->len += len;
	s->data[s->len] = '\0';
}

void str_appendz(str_t *s, const char *z)
{
	str_append(s, z, strlen(z));
}

void str_appendc(str_t *s, char c)
{
	str_append(s, &c, 1);
}

void str_vprintf(str_t *s, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0)
		return;
	str_reserve(s, (size_t)n);
	vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
	s->len += (size_t)n;
}

void str_printf(str_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(s, fmt, ap);
	va_end(ap);
}

void str_truncate(str_t *s, size_t len)
{
	if (len < s->len) {
		s->len = len;
		s->data[len] = '\0';
	}
}

void str_consume(str_t *s, size_t n)
{
	if (n >= s->len) {
		str_truncate(s, 0);
		return;
	}
	memmove(s->data, s->data + n, s->len - n);
	s->len -= n;
	s->data[s->len] = '\0';
}

const char *str_c(const str_t *s)
{
	return s->data != NULL ? s->data : "";
}

bool mem_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
			return false;
	}
	return true;
}

bool slice_iprefix(const char *s, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);
	return len >= plen && mem_ieq(s, prefix, plen);
}

bool parse_uint64(const char *s, size_t len, unsigned long long max,
		  unsigned long long *value_r)
{
	unsigned long long v = 0;
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*value_r = v;
	return true;
}

bool line_is_http_request(const char *line, size_t len)
{
	static const char *const methods[] = {
		"GET ", "POST ", "HEAD ", "PUT ", "CONNECT ", "OPTIONS ", "DELETE ",
		"TRACE ", "PATCH ", "PRI ",
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (slice_iprefix(line, len, methods[i]))
			return true;
	return false;
}
