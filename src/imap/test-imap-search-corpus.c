/* test-imap-search-corpus.c: SEARCH checked against an independent
 * parser. Each case below was taken from the shared corpus's
 * .expected.json (stalwart's mail-parser): a line of a decoded text or
 * html part (BODY) or the decoded Subject (SUBJECT), cut to 24
 * characters. Every message of the corpus is delivered into one
 * mailbox; each case must find its message. Cases where the two parsers
 * disagree on purpose are listed at the end with the reason. */
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
#include <unistd.h>

#include "imap/imap_parser.h"
#include "imap/imap_search_eval.h"
#include "lib/mem.h"
#include "store/store_view.h"
#include "store/test-store-fixture.h"

#ifndef MIME_CORPUS_DIR
#error MIME_CORPUS_DIR must be defined by meson
#endif

#define USER "corpus@example.org"

static const struct {
	const char *file, *program;
} cases[] = {
	{ "082-dovecot-inner-same-boundary.eml", "BODY \"body\"" },
	{ "083-dovecot-wrong-delimiters.eml", "BODY \"body\"" },
	/* disagreements: "!" expects no match. mail-parser reads "--1"
	 * inside the inner multipart as text; Dovecot, mime4j and we let
	 * the outer boundary close the inner multipart there */
	{ "087-dovecot-nested-three-parts.eml", "!BODY \"Content-Type: text/plain\"" },
	{ "087-dovecot-nested-three-parts.eml", "BODY \"333\"" },
	{ "088-dovecot-mime-version-variants.eml", "BODY \"hello, world\"" },
	{ "090-dovecot-very-long-boundaries-nested.eml", "BODY \"4444\"" },
	{ "091-dovecot-ctype-missing-semicolon.eml", "SUBJECT \"Hello world\"" },
	{ "093-dovecot-corrupted-headers.eml", "BODY \"<p>HTML body of the mult\"" },
	{ "093-dovecot-corrupted-headers.eml", "SUBJECT \"Sprint 3 multipart fixtu\"" },
	{ "094-dovecot-related-first-image.eml", "SUBJECT \"test multipart, related\"" },
	{ "096-dovecot-broken-rfc822-attachment.eml", "BODY \"hello\"" },
	{ "096-dovecot-broken-rfc822-attachment.eml", "BODY \"this attachment is not a\"" },
	{ "096-dovecot-broken-rfc822-attachment.eml", "SUBJECT \"broken rfc822 attachment\"" },
	{ "097-dovecot-alt-base64-preamble.eml", "BODY \"b adjig sadjg jasidgjiae\"" },
	/* base64 that is not: mail-parser falls back to the raw text; we
	 * skip what is outside the alphabet (RFC 2045 6.8) */
	{ "099-dovecot-qp-utf8.eml", "!BODY \"?garbage\"" },
	{ "099-dovecot-qp-utf8.eml", "BODY \"p\xc3\xa4iv\xc3\xa4\xc3\xa4\"" },
	{ "099-dovecot-qp-utf8.eml", "BODY \"y\xc3\xb6t\xc3\xa4 vaan.\"" },
	{ "100-dovecot-cte-7bit-with-8bit.eml", "BODY \"Move black king to queen\"" },
	{ "100-dovecot-cte-7bit-with-8bit.eml", "BODY \"Move \xe2\x99\x9a to \xe2\x99\x9b's \xe2\x99\x9d\"" },
	{ "102-dovecot-binary-utf16le-nul.eml", "BODY \"Test message\"" },
	{ "102-dovecot-binary-utf16le-nul.eml", "BODY \"invalid\"" },
	{ "102-dovecot-binary-utf16le-nul.eml", "BODY \"\xe3\x80\x8e\xe4\xb8\x96\xe7\x95\x8c\xe4\xba\xba\xe6\xa8\xa9\xe5\xae\xa3\xe8\xa8\x80\xe3\x80\x8f\"" },
	{ "103-dovecot-signed-unknown-protocol.eml", "BODY \"<html><head><title>Searc\"" },
	{ "103-dovecot-signed-unknown-protocol.eml", "BODY \"Search me, and Find me h\"" },
	{ "103-dovecot-signed-unknown-protocol.eml", "SUBJECT \"Hide and seek\"" },
	{ "105-dovecot-boundary-with-space.eml", "BODY \"Another part\"" },
	{ "105-dovecot-boundary-with-space.eml", "BODY \"hello\"" },
	{ "106-dovecot-message-partial-in-mixed.eml", "BODY \"Hi, this is the fancy th\"" },
	{ "106-dovecot-message-partial-in-mixed.eml", "SUBJECT \"In parts\"" },
	{ "108-dovecot-boundary-folded-in-quotes.eml", "BODY \"hello\"" },
	{ "109-dovecot-html-embedded-image.eml", "SUBJECT \"25 HTML + embedded image\"" },
	/* audio/basic and image/jpeg parts are not text to search */
	{ "111-rfcex-rfc2046-multipart-example.eml", "!BODY \"... base64-encoded 8000\"" },
	{ "111-rfcex-rfc2046-multipart-example.eml", "!BODY \"... base64-encoded image\"" },
	{ "111-rfcex-rfc2046-multipart-example.eml", "BODY \"This could have been par\"" },
	{ "111-rfcex-rfc2046-multipart-example.eml", "BODY \"This is <bold><italic>en\"" },
	{ "111-rfcex-rfc2046-multipart-example.eml", "BODY \"[Note that the blank bet\"" },
	{ "111-rfcex-rfc2046-multipart-example.eml", "SUBJECT \"A multipart example\"" },
	{ "112-rfcex-rfc-external-body.eml", "SUBJECT \"whatever\"" },
	{ "113-rfcex-rfc-forward-nested.eml", "BODY \"Fire up Air Force One!\"" },
	{ "113-rfcex-rfc-forward-nested.eml", "SUBJECT \"[Fwd: Map of Argentina w\"" },
	{ "115-rfcex-rfc8621-4-1-4.eml", "BODY \"<html>E</html>\"" },
	{ "115-rfcex-rfc8621-4-1-4.eml", "SUBJECT \"RFC 8621 Section 4.1.4 t\"" },
};

static const struct imap_parser_limits plimits = {
	.max_args = 100, .max_depth = 10, .max_command_size = 4096,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 10, .max_nodes = 20, .max_ranges = 10,
};

static uint32_t deliver_file(struct store *store, const char *dir, const char *name)
{
	char path[1024], buf[65536];
	const char *error;
	uint32_t uid = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("%s: missing", path);
	struct store_delivery *d = store_delivery_begin(store, USER, "INBOX", &error);
	assert_non_null(d);
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		assert_int_equal(store_delivery_write(d, buf, n, &error), 0);
	fclose(fp);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	return uid;
}

static void test_corpus_search(void **state)
{
	const char *dir = getenv("MIME_CORPUS") != NULL ? getenv("MIME_CORPUS")
							 : MIME_CORPUS_DIR;
	char tmp[64];
	const char *error;
	struct store *store;
	struct store_view *view;
	(void)state;
	assert_int_equal(test_store_setup(tmp, sizeof(tmp), "test-search-corpus",
					  &store, USER), 0);
	unsigned ncases = sizeof(cases) / sizeof(cases[0]);
	uint32_t *uid = xcalloc(ncases, sizeof(*uid));
	for (unsigned i = 0; i < ncases; i++) {
		if (i > 0 && strcmp(cases[i].file, cases[i - 1].file) == 0)
			uid[i] = uid[i - 1];
		else
			uid[i] = deliver_file(store, dir, cases[i].file);
	}
	assert_int_equal(store_view_open(store, USER, "INBOX", &view, &error), 0);
	pool_t *pool = pool_create(4096);
	struct imap_parser *parser = imap_parser_create(&plimits);
	struct imap_search_ctx ctx = { .dates_utc = true };
	unsigned misses = 0;
	for (unsigned i = 0; i < ncases; i++) {
		char line[512];
		struct imap_literal_need need;
		struct imap_search_program prog;
		const char *program = cases[i].program;
		bool expect = program[0] != '!';
		int len = snprintf(line, sizeof(line), "a SEARCH %s", program + !expect);
		imap_parser_reset(parser);
		assert_int_equal(imap_parser_feed_line(parser, line, (size_t)len, &need, &error), 0);
		const struct imap_command *cmd = imap_parser_command(parser);
		assert_int_equal(imap_search_parse(cmd->args, 0, cmd->count, &slimits,
						   &prog, &error), 0);
		uint32_t *uids;
		unsigned count;
		assert_int_equal(imap_search_run(&prog, view, &ctx, pool, &uids, &count,
						 &error), 0);
		bool found = false;
		for (unsigned k = 0; k < count; k++)
			found = found || uids[k] == uid[i];
		if (found != expect) {
			print_message("%s: %s %s\n", expect ? "not found" : "found",
				      cases[i].file, program);
			misses++;
		}
		imap_search_program_free(&prog);
		pool_clear(pool);
	}
	assert_int_equal(misses, 0);
	imap_parser_destroy(&parser);
	pool_destroy(&pool);
	free(uid);
	store_view_close(&view);
	store_close(&store);
	test_dir_remove(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_search),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
