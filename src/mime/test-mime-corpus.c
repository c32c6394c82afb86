/* test-mime-corpus.c: every message of the shared MIME corpus
 * (../shared/corpus/mime relative to the project root, TESTING.md) through
 * the streaming parser, fed in random chunk sizes: the encoded structure
 * must be identical for every split and survive a cache round trip. Where
 * an expected result ships beside the message, what maps cleanly is
 * compared: the part tree shape against mime4j's .expected.xml, and the
 * header/body offsets of every part against stalwart's .expected.json.
 * Known, explained divergences are listed in `divergent`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "mime/mime_cache.h"
#include "mime/mime_parser.h"

#ifndef MIME_CORPUS_DIR
#error MIME_CORPUS_DIR must be defined by meson
#endif

/* Files where our structure knowingly differs from the reference. */
static const struct {
	const char *prefix, *why;
} divergent[] = {
	{ "001-", "mime4j decodes base64 message/rfc822; we keep it opaque like Dovecot" },
	{ "004-", "mime4j decodes base64 message/rfc822; we keep it opaque like Dovecot" },
	{ "027-", "boundary beyond MIME_BOUNDARY_MAX is cut and prefix-matched" },
	{ "079-", "stalwart drops every part of a ':foo' boundary; ':' is a bchar (RFC 2046 5.1.1)" },
	{ "080-", "text after the boundary on its line: our header starts on the next line" },
	{ "083-", "text after the boundary on its line: our header starts on the next line" },
	{ "090-", "text after the boundary on its line: our header starts on the next line" },
	{ "085-", "a delimiter inside a part header ends the header (mime4j); stalwart reads on" },
	{ "093-", "a delimiter inside a part header ends the header (mime4j); stalwart reads on" },
	{ "094-", "a delimiter inside a part header ends the header (mime4j); stalwart reads on" },
	{ "087-", "an outer delimiter ends an unclosed inner multipart (mime4j, file 016)" },
	{ "088-", "a non-close delimiter as the last line opens an empty part at EOF" },
	{ "096-", "broken message/rfc822 attachment: part count differs, not analysed" },
};

static const char *divergence(const char *name)
{
	for (size_t i = 0; i < sizeof(divergent) / sizeof(divergent[0]); i++)
		if (strncmp(name, divergent[i].prefix, strlen(divergent[i].prefix)) == 0)
			return divergent[i].why;
	return NULL;
}

static bool read_file(const char *path, str_t *out)
{
	FILE *f = fopen(path, "rb");
	char buf[8192];
	size_t n;

	if (f == NULL)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_append(out, buf, n);
	fclose(f);
	return true;
}

static void shape(const struct mime_tree *t, uint32_t i, str_t *out)
{
	const struct mime_part *p = &t->parts[i];

	if ((p->flags & MIME_PART_MULTIPART) != 0) {
		str_appendz(out, "m[");
		for (uint32_t c = p->first_child; c != MIME_NONE;
		     c = t->parts[c].next_sibling)
			shape(t, c, out);
		str_appendc(out, ']');
	} else if ((p->flags & MIME_PART_MESSAGE) != 0 &&
		   p->first_child != MIME_NONE) {
		str_appendz(out, "r{");
		shape(t, p->first_child, out);
		str_appendc(out, '}');
	} else {
		str_appendc(out, 'b');
	}
}

/* mime4j's XML as the same shape string (see shape()). */
static void xml_shape(const char *x, str_t *out)
{
	bool first = true;
	int open_msgs = 0;

	for (const char *s = strchr(x, '<'); s != NULL; s = strchr(s + 1, '<')) {
		if (strncmp(s, "<multipart>", 11) == 0) {
			str_appendz(out, "m[");
		} else if (strncmp(s, "</multipart>", 12) == 0) {
			str_appendc(out, ']');
		} else if (strncmp(s, "<body>", 6) == 0) {
			str_appendc(out, 'b');
		} else if (strncmp(s, "<message>", 9) == 0) {
			if (!first)
				str_appendz(out, "r{");
			first = false;
			open_msgs++;
		} else if (strncmp(s, "</message>", 10) == 0) {
			if (--open_msgs > 0)
				str_appendc(out, '}');
		}
	}
}

struct triple {
	uint64_t h, b, e;
};

static int triple_cmp(const void *a, const void *b)
{
	const struct triple *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->b < y->b ? -1 : x->b > y->b;
}

static uint64_t json_num(const char *s, const char *key)
{
	const char *k = strstr(s, key);
	return k == NULL ? UINT64_MAX : strtoull(k + strlen(key), NULL, 10);
}

/* Collect stalwart's (offset_header, offset_body, offset_end) triples. */
static size_t json_triples(const char *j, struct triple *out, size_t max)
{
	size_t n = 0;

	for (const char *s = strstr(j, "\"offset_header\": "); s != NULL && n < max;
	     s = strstr(s + 1, "\"offset_header\": ")) {
		out[n].h = json_num(s, "\"offset_header\": ");
		out[n].b = json_num(s, "\"offset_body\": ");
		out[n].e = json_num(s, "\"offset_end\": ");
		n++;
	}
	return n;
}

/* 0 when our (header, body) offsets are stalwart's, else 1 + index. */
static size_t offsets_differ(const struct mime_tree *t, const struct triple *want,
			     size_t nw, struct triple *got)
{
	size_t n = t->count < 512 ? t->count : 512;

	for (uint32_t i = 0; i < n; i++) {
		got[i].h = t->parts[i].hdr_off;
		got[i].b = t->parts[i].body_off;
		got[i].e = t->parts[i].body_end;
	}
	qsort(got, n, sizeof(got[0]), triple_cmp);
	if (nw != t->count)
		return 1;
	/* ends are not compared: stalwart stops an inner multipart at its
	 * close delimiter, we (like Dovecot) keep the epilogue in it */
	for (size_t i = 0; i < nw; i++)
		if (want[i].h != got[i].h || want[i].b != got[i].b)
			return i + 1;
	return 0;
}

/* The JSON string starting at s (after its opening quote), unescaped. */
static void json_string(const char *s, const char *end, str_t *out)
{
	for (; s < end && *s != '"'; s++) {
		if (*s == '\\' && s + 1 < end) {
			s++;
			str_appendc(out, *s == 'n' ? '\n' : *s == 't' ? '\t' : *s);
		} else {
			str_appendc(out, *s);
		}
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "type/subtype;name=value..." for every Content-Type stalwart decoded
 * (it lower-cases neither type nor values; we lower-case the type). */
static size_t json_ctypes(const char *j, char **out, size_t max)
{
	size_t n = 0;

	for (const char *s = strstr(j, "\"name\": \"content_type\""); s != NULL && n < max;
	     s = strstr(s + 1, "\"name\": \"content_type\"")) {
		const char *end = strstr(s, "\"offset_field\"");
		const char *t = strstr(s, "\"c_type\": \""), *st;
		str_t v = STR_INIT;
		if (end == NULL || t == NULL || t > end)
			continue;
		json_string(t + 11, end, &v);
		st = strstr(t, "\"c_subtype\": \"");
		if (st == NULL || st > end)
			continue; /* no subtype: we default the type */
		str_appendc(&v, '/');
		json_string(st + 14, end, &v);
		for (size_t i = 0; i < v.len; i++)
			if (v.data[i] >= 'A' && v.data[i] <= 'Z')
				v.data[i] = (char)(v.data[i] + 32);
		for (const char *a = strstr(st, "\"name\": \""); a != NULL && a < end;
		     a = strstr(a + 1, "\"name\": \"")) {
			const char *val = strstr(a, "\"value\": \"");
			if (val == NULL || val > end)
				break;
			str_appendc(&v, ';');
			json_string(a + 9, end, &v);
			str_appendc(&v, '=');
			json_string(val + 10, end, &v);
		}
		out[n++] = strdup(str_c(&v));
		str_free(&v);
	}
	return n;
}

static size_t our_ctypes(const struct mime_tree *t, char **out, size_t max)
{
	size_t n = 0;

	for (uint32_t i = 0; i < t->count && n < max; i++) {
		const struct mime_part *p = &t->parts[i];
		str_t v = STR_INIT;
		if ((p->flags & MIME_PART_DEFAULT_TYPE) != 0)
			continue;
		str_printf(&v, "%s/%s", p->type, p->subtype);
		for (uint32_t k = 0; k < p->n_params; k++)
			str_printf(&v, ";%s=%s", p->params[k].name, p->params[k].value);
		out[n++] = strdup(str_c(&v));
		str_free(&v);
	}
	return n;
}

/* Compare the decoded Content-Type values (sorted); prints differences. */
static bool ctypes_differ(const struct mime_tree *t, const char *json,
			  const char *name)
{
	char *want[512], *got[512];
	size_t nw = json_ctypes(json, want, 512), ng = our_ctypes(t, got, 512);
	bool differ = nw != ng;

	qsort(want, nw, sizeof(char *), str_cmp);
	qsort(got, ng, sizeof(char *), str_cmp);
	for (size_t i = 0; i < nw || i < ng; i++) {
		const char *w = i < nw ? want[i] : "", *g = i < ng ? got[i] : "";
		if (strcmp(w, g) != 0) {
			differ = true;
			if (getenv("MIME_DUMP") != NULL)
				printf("  file=%s ctype want=[%s] got=[%s]\n", name, w, g);
		}
	}
	for (size_t i = 0; i < nw; i++)
		free(want[i]);
	for (size_t i = 0; i < ng; i++)
		free(got[i]);
	return differ;
}

static struct mime_tree *parse_chunked(const str_t *msg, unsigned seed)
{
	struct mime_parser *p = mime_parser_create();
	size_t pos = 0;

	srand(seed);
	while (pos < msg->len) {
		size_t n = seed == 0 ? 1 : (size_t)(rand() % 97) + 1;
		if (n > msg->len - pos)
			n = msg->len - pos;
		mime_parser_feed(p, msg->data + pos, n);
		pos += n;
	}
	return mime_parser_finish(&p);
}

static void check_invariants(const struct mime_tree *t, uint64_t size,
			     const char *name)
{
	(void)name;
	for (uint32_t i = 0; i < t->count; i++) {
		const struct mime_part *p = &t->parts[i];
		assert_true(p->hdr_off <= p->body_off);
		assert_true(p->body_off <= p->body_end);
		assert_true(p->body_end <= size);
		if (p->parent != MIME_NONE) {
			const struct mime_part *up = &t->parts[p->parent];
			assert_true(p->hdr_off >= up->body_off);
			assert_true(p->body_end <= up->body_end);
		}
	}
}

static int stats_files, stats_xml, stats_json, stats_div, stats_fail;

static void check_file(const char *dir, const char *name)
{
	char path[1024], exp[1024];
	str_t msg = STR_INIT, enc = STR_INIT, enc2 = STR_INIT, x = STR_INIT;
	struct mime_tree *t = NULL, *t2 = NULL;
	const char *err, *why = divergence(name);
	size_t base = strlen(name) - 4;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true(read_file(path, &msg));
	t = mime_parse(msg.data, msg.len);
	check_invariants(t, msg.len, name);
	mime_cache_encode(t, &enc);
	for (unsigned seed = 0; seed < 4; seed++) {
		t2 = parse_chunked(&msg, seed);
		str_clear(&enc2);
		mime_cache_encode(t2, &enc2);
		mime_tree_free(&t2);
		if (enc.len != enc2.len || memcmp(enc.data, enc2.data, enc.len) != 0)
			fail_msg("file=%s seed=%u chunked parse differs", name, seed);
	}
	assert_int_equal(mime_cache_decode(enc.data, enc.len, msg.len, &t2, &err), 0);
	str_clear(&enc2);
	mime_cache_encode(t2, &enc2);
	assert_memory_equal(enc.data, enc2.data, enc.len);
	mime_tree_free(&t2);

	str_t ours = STR_INIT, theirs = STR_INIT;
	shape(t, 0, &ours);
	snprintf(exp, sizeof(exp), "%s/%.*s.expected.xml", dir, (int)base, name);
	if (read_file(exp, &x)) {
		stats_xml++;
		xml_shape(str_c(&x), &theirs);
		bool same = strcmp(str_c(&ours), str_c(&theirs)) == 0;
		printf("file=%s ref=mime4j shape=%s ours=%s expected=%s%s%s\n", name,
		       same ? "ok" : "differs", str_c(&ours), str_c(&theirs),
		       why != NULL ? " known=" : "", why != NULL ? why : "");
		if (!same && why == NULL)
			stats_fail++;
		stats_div += !same;
	}
	str_clear(&x);
	snprintf(exp, sizeof(exp), "%s/%.*s.expected.json", dir, (int)base, name);
	if (read_file(exp, &x)) {
		struct triple want[512], got[512];
		size_t nw = json_triples(str_c(&x), want, 512), bad;
		const char *form = "wire";
		stats_json++;
		qsort(want, nw, sizeof(want[0]), triple_cmp);
		bad = offsets_differ(t, want, nw, got);
		if (bad != 0 && memchr(msg.data, '\r', msg.len) != NULL) {
			/* some of stalwart's expected offsets were computed on
			 * the LF form of a file the corpus keeps in CRLF */
			str_t lf = STR_INIT;
			for (size_t i = 0; i < msg.len; i++)
				if (!(msg.data[i] == '\r' && i + 1 < msg.len &&
				      msg.data[i + 1] == '\n'))
					str_appendc(&lf, msg.data[i]);
			struct mime_tree *tl = mime_parse(lf.data, lf.len);
			bad = offsets_differ(tl, want, nw, got);
			form = "lf";
			mime_tree_free(&tl);
			str_free(&lf);
		}
		if (bad != 0 && getenv("MIME_DUMP") != NULL)
			for (size_t i = 0; i < nw || i < t->count; i++)
				printf("  want=%llu/%llu/%llu got=%llu/%llu/%llu\n",
				       i < nw ? (unsigned long long)want[i].h : 0ULL,
				       i < nw ? (unsigned long long)want[i].b : 0ULL,
				       i < nw ? (unsigned long long)want[i].e : 0ULL,
				       i < t->count ? (unsigned long long)got[i].h : 0ULL,
				       i < t->count ? (unsigned long long)got[i].b : 0ULL,
				       i < t->count ? (unsigned long long)got[i].e : 0ULL);
		bool ct_bad = ctypes_differ(t, str_c(&x), name);
		printf("file=%s ref=stalwart parts=%zu/%u offsets=%s form=%s"
		       " content-types=%s%s%s\n",
		       name, nw, t->count, bad == 0 ? "ok" : "differs", form,
		       ct_bad ? "differ" : "ok",
		       why != NULL ? " known=" : "", why != NULL ? why : "");
		if ((bad != 0 || ct_bad) && why == NULL)
			stats_fail++;
		stats_div += bad != 0 || ct_bad;
	}
	stats_files++;
	str_free(&ours);
	str_free(&theirs);
	str_free(&x);
	str_free(&msg);
	str_free(&enc);
	str_free(&enc2);
	mime_tree_free(&t);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void **state)
{
	const char *dir = getenv("MIME_CORPUS") != NULL ? getenv("MIME_CORPUS")
							 : MIME_CORPUS_DIR;
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[4096];
	size_t n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL && n < 4096) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".eml") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		check_file(dir, names[i]);
		free(names[i]);
	}
	printf("corpus files=%d mime4j=%d stalwart=%d known_divergent=%d unexplained=%d\n",
	       stats_files, stats_xml, stats_json, stats_div, stats_fail);
	/* the corpus must actually have been read and compared */
	assert_int_equal(stats_fail, 0);
	assert_true(stats_files >= 50);
	assert_true(stats_xml >= 10);
	assert_true(stats_json >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_corpus) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
