/* test-imap-fetch-render.h: for the FETCH renderer's unit tests only
 * (test-imap-fetch-render.c, test-imap-fetch-render-corpus.c): a temp
 * store fixture, delivery, a request from item text, a whole response
 * rendered in chunks of a given size, and a response syntax check. */
#ifndef POSTEL_TEST_IMAP_FETCH_RENDER_H
#define POSTEL_TEST_IMAP_FETCH_RENDER_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "imap/imap_fetch_render.h"
#include "lib/mem.h"
#include "store/store_view.h"
#include "store/test-store-fixture.h"

#define USER "ivy@example.org"
#ifdef MIME_CORPUS_DIR
#define CORPUS MIME_CORPUS_DIR
#else
#define CORPUS "../shared/corpus/mime"
#endif

static inline int setup(void **state)
{
	return test_store_fixture_setup(state, "test-fetch-render", USER);
}

static inline int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

static inline uint32_t deliver_len(struct test_store_fixture *f, const char *m, size_t len,
			    time_t date)
{
	const char *error;
	uint32_t uid = 0;
	struct store_delivery *d = test_store_begin(f->store, USER, "INBOX", m,
						    len, 65536);
	static const char *const seen[] = { "$Label1" };
	struct store_flags_update flags = {
		.sysflags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
		.keywords = seen, .keyword_count = 1,
	};
	assert_int_equal(store_delivery_set_meta(d, &flags, date, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	store_view_close(&f->view);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view,
					 &error), 0);
	return uid;
}

static inline uint32_t deliver(struct test_store_fixture *f, const char *m)
{
	return deliver_len(f, m, strlen(m), 1733400000);
}

/* The request from space-separated items ("FLAGS BODY.PEEK[1]<0.5>"). */
static inline void request(const char *items, struct imap_fetch_request *req)
{
	req->atts = xcalloc(16, sizeof(*req->atts));
	req->count = 0;
	const char *error;
	for (const char *s = items; *s != '\0';) {
		/* an item runs to a space outside brackets */
		size_t n = 0;
		int depth = 0;
		while (s[n] != '\0' && (s[n] != ' ' || depth > 0)) {
			depth += s[n] == '[' ? 1 : s[n] == ']' ? -1 : 0;
			n++;
		}
		assert_true(req->count < 16);
		if (imap_fetch_parse_att(s, n, &req->atts[req->count++],
					 &error) < 0)
			fail_msg("parse %.*s: %s", (int)n, s, error);
		s += n;
		while (*s == ' ')
			s++;
	}
}

/* The whole response for uid, chunk bytes per call; *peak_r if asked. */
static inline char *render_peak(struct test_store_fixture *f, uint32_t uid, const char *items,
			 size_t chunk, size_t *len_r, size_t *peak_r)
{
	const char *error;
	struct imap_fetch_request req;
	request(items, &req);
	struct store_message_info *infos;
	unsigned count;
	assert_int_equal(store_view_list(f->view, pool_temp(), &infos, &count,
					 &error), 0);
	const struct store_message_info *info = NULL;
	for (unsigned i = 0; i < count; i++)
		if (infos[i].uid == uid)
			info = &infos[i];
	assert_non_null(info);
	struct mime_tree *tree = NULL;
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(),
						      &tree, &error), 0);
	struct store_message_reader *reader =
		store_view_message_open(f->view, uid, &error);
	assert_non_null(reader);
	struct imap_fetch_render *r = imap_fetch_render_begin(
		&req, store_view_seq(f->view, uid), info, tree, reader, &error);
	assert_non_null(r);
	str_t all = STR_INIT, out = STR_INIT;
	enum imap_fetch_render_result res;
	unsigned rounds = 0;
	do {
		assert_true(++rounds < 10000000);
		str_clear(&out);
		res = imap_fetch_render_next(r, &out, chunk, &error);
		assert_int_not_equal(res, IMAP_FETCH_RENDER_ERROR);
		assert_true(out.len <= chunk);
		str_append(&all, out.data, out.len);
	} while (res == IMAP_FETCH_RENDER_MORE);
	if (peak_r != NULL)
		*peak_r = imap_fetch_render_peak(r);
	imap_fetch_render_free(&r);
	store_message_close(&reader);
	mime_tree_free(&tree);
	imap_fetch_request_free(&req);
	str_free(&out);
	*len_r = all.len;
	return all.data == NULL ? xstrdup("") : all.data;
}

static inline char *render(struct test_store_fixture *f, uint32_t uid, const char *items,
		    size_t chunk)
{
	size_t len;
	return render_peak(f, uid, items, chunk, &len, NULL);
}

static inline void assert_render(struct test_store_fixture *f, uint32_t uid, const char *items,
			  const char *expected)
{
	/* every chunk size gives the same bytes */
	static const size_t chunks[] = { 64, 67, 1000, 1 << 20 };
	for (unsigned i = 0; i < 4; i++) {
		char *got = render(f, uid, items, chunks[i]);
		if (strcmp(got, expected) != 0)
			fail_msg("%s (chunk %zu):\n got %s\nwant %s", items,
				 chunks[i], got, expected);
		free(got);
	}
}

/* A response's syntax: "* n FETCH (" ... ")\r\n" with balanced
 * parentheses outside strings, quoted strings closed, every literal's
 * {n} followed by CRLF and n octets. */
static inline void assert_well_formed(const char *s, size_t len)
{
	assert_true(len > 13 && strncmp(s, "* ", 2) == 0);
	assert_memory_equal(s + len - 3, ")\r\n", 3);
	int depth = 0;
	size_t i = strstr(s, " FETCH (") - s + 7;
	for (; i < len - 2; i++) {
		char c = s[i];
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			assert_true(--depth >= 0);
		} else if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				assert_true(s[i] != '\r' && s[i] != '\n');
				if (s[i] == '\\')
					i++;
			}
			assert_true(i < len);
		} else if (c == '{') {
			char *end;
			unsigned long long n = strtoull(s + i + 1, &end, 10);
			assert_memory_equal(end, "}\r\n", 3);
			i = (size_t)(end + 3 - s) + n - 1;
			assert_true(i < len);
		} else if (c == '\r' || c == '\n') {
			fail_msg("line end outside a literal at %zu", i);
		}
	}
	assert_int_equal(depth, 0);
}

/* The literal after name in a response (xstrdup'd), *len_r its size. */
static inline char *literal_of(const char *resp, const char *name, size_t *len_r)
{
	const char *p = strstr(resp, name);
	assert_non_null(p);
	p = strchr(p, '{');
	assert_non_null(p);
	char *end;
	*len_r = strtoull(p + 1, &end, 10);
	char *out = xmalloc(*len_r + 1);
	memcpy(out, end + 3, *len_r);
	return out;
}

static inline char *read_file(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	str_t s = STR_INIT;
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		str_append(&s, buf, n);
	fclose(fp);
	*len_r = s.len;
	return s.data == NULL ? xstrdup("") : s.data;
}

/* Partials at odd offsets of BODY[section] equal the slice of the full
 * section; for each offset, lengths 1, 13 and past the end. */

#endif
