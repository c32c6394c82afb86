/* test-imap-search-eval.c: unit tests for imap_search_eval.h and
 * imap_search_render.h over messages delivered into a temp store: every
 * key of RFC 9051 and RFC 3501 6.4.4 (rev1 RECENT/NEW/OLD from the
 * context), OR/NOT/nesting, "*" and "$", header keys on RFC 2047
 * decoded fields and addresses, BODY/TEXT through quoted-printable and
 * base64 in ISO-8859-1 and UTF-8, case-insensitive "Ä" vs "ä", content
 * read only when cheap keys leave the answer open, cancel and the read
 * limit. The answers' rendering: test-imap-search-render.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_args.h"
#include "imap/imap_parser.h"
#include "imap/imap_search_eval.h"
#include "lib/base64.h"
#include "lib/mem.h"
#include "store/store_view.h"
#include "store/test-store-fixture.h"

#define USER "dora@example.org"

/* 1: RFC 2047 header (ISO-8859-1 Q, UTF-8 B), plain body, \Seen */
static const char msg1[] =
	"From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.org>\r\n"
	"To: Anna <anna@example.com>\r\n"
	"Cc: carl@example.net\r\n"
	"Subject: =?UTF-8?B?w4RwZmVsIHVuZCBCaXJuZW4=?=\r\n"
	"Date: Mon, 02 Feb 2026 23:30:00 -0800\r\n"
	"X-Tag: alpha\r\n"
	"\r\n"
	"Plain body with the word Kiwi.\r\n";
/* 2: multipart: QP ISO-8859-1, base64 UTF-8 html, a base64 attachment */
static const char msg2[] =
	"From: bob@example.com\r\n"
	"To: team@example.org\r\n"
	"Bcc: hidden@example.org\r\n"
	"Subject: Greetings\r\n"
	"Date: 15 Mar 26 08:00 +0000\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=ISO-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Gr=FC=DFe aus M=FC=\r\nnchen\r\n"
	"--b1\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PHA+U2Now7ZuZSBHcsO8w59lIHZvbSBG\r\nbHXDnzwvcD4NCg==\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"U0VDUkVUV09SRCBpbiBhbiBhdHRhY2htZW50DQo=\r\n"
	"--b1--\r\n";
/* 3: 8bit UTF-8 body in capitals, no Date:, \Deleted \Draft */
static const char msg3[] =
	"From: Carol <carol@example.net>\r\n"
	"Subject: plain ascii\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"Viel \xc3\x84RGER heute\r\n";
/* 4: an enclosed message with a QP body */
static const char msg4[] =
	"From: dave@example.org\r\n"
	"Subject: Fwd: inner\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: inner@example.org\r\n"
	"Subject: inner\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"The NESTED=\r\nWORD is here\r\n";

static const char *const msg2_kw[] = { "$Important" };

struct fixture {
	char dir[64];
	struct store *store;
	struct store_view *view;
	pool_t *pool;
	struct imap_parser *parser;
	struct imap_search_program prog;
	struct imap_search_ctx ctx;
	uint64_t size[5];
};

static const struct imap_parser_limits plimits = {
	.max_args = 4000, .max_depth = 50, .max_command_size = 65536,
	.literal = { .max_size = 1000, .max_nonsync = 100 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 20, .max_nodes = 2000, .max_ranges = 100,
};

static time_t day(int y, int m, int d)
{
	struct imap_date date = { .year = y, .month = m, .day = d, .hour = 12 };
	return (time_t)imap_date_to_epoch(&date);
}

static void deliver(struct store *store, const char *body, unsigned sysflags,
		    const char *const *kw, unsigned kw_count, time_t date)
{
	const char *error;
	uint32_t uid = 0;
	struct store_delivery *d = test_store_begin(store, USER, "INBOX", body,
						    strlen(body), 0);
	struct store_flags_update fl = {
		.sysflags = sysflags, .keywords = kw, .keyword_count = kw_count,
	};
	assert_int_equal(store_delivery_set_meta(d, &fl, date, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error;
	if (test_store_setup(f->dir, sizeof(f->dir), "test-search-eval", &f->store,
			     USER) < 0)
		return -1;
	deliver(f->store, msg1, STORE_FLAG_SEEN, NULL, 0, day(2026, 2, 1));
	deliver(f->store, msg2, STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED, msg2_kw, 1,
		day(2026, 3, 15));
	deliver(f->store, msg3, STORE_FLAG_DELETED | STORE_FLAG_DRAFT, NULL, 0,
		day(2026, 4, 1));
	deliver(f->store, msg4, 0, NULL, 0, day(2026, 4, 2));
	if (store_view_open(f->store, USER, "INBOX", &f->view, &error) < 0)
		return -1;
	f->pool = pool_create(4096);
	f->parser = imap_parser_create(&plimits);
	f->ctx.recent_first = 3;   /* 3 and 4 are \Recent for this session */
	f->ctx.recent_end = 5;
	f->ctx.dates_utc = true;
	struct store_message_info *msgs;
	unsigned count;
	if (store_view_list(f->view, f->pool, &msgs, &count, &error) < 0 || count != 4)
		return -1;
	for (unsigned i = 0; i < count; i++)
		f->size[msgs[i].uid] = msgs[i].size;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	imap_search_program_free(&f->prog);
	imap_parser_destroy(&f->parser);
	store_view_close(&f->view);
	store_close(&f->store);
	pool_destroy(&f->pool);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static void parse(struct fixture *f, const char *program)
{
	static char line[32768];
	const char *error;
	int len = snprintf(line, sizeof(line), "a SEARCH %s", program);
	assert_true(len > 0 && (size_t)len < sizeof(line));
	imap_search_program_free(&f->prog);
	imap_parser_reset(f->parser);
	struct imap_literal_need need;
	if (imap_parser_feed_line(f->parser, line, (size_t)len, &need, &error) < 0)
		fail_msg("%s: %s", program, error);
	const struct imap_command *cmd = imap_parser_command(f->parser);
	if (imap_search_parse(cmd->args, 0, cmd->count, &slimits, &f->prog, &error) < 0)
		fail_msg("%s: %s", program, error);
}

/* The matching UIDs of program, as "1 2 3"; "error" for a -2. */
static const char *q(struct fixture *f, const char *program)
{
	uint32_t *uids;
	unsigned count;
	const char *error;
	parse(f, program);
	int r = imap_search_run(&f->prog, f->view, &f->ctx, f->pool, &uids, &count, &error);
	if (r == -2)
		return "error";
	assert_int_equal(r, 0);
	str_t s = STR_INIT;
	for (unsigned i = 0; i < count; i++)
		str_printf(&s, i == 0 ? "%u" : " %u", uids[i]);
	char *out = pool_strdup(f->pool, str_c(&s));
	str_free(&s);
	return out;
}

/* A program that reads no message file leaves the folder unlisted: the
 * rows come from the index alone (imap_search_eval.c list_messages()) */
static void test_no_folder_listing(void **state)
{
	struct fixture *f = *state;
	struct store_stats before, after;
	store_stats_get(&before);
	assert_string_equal(q(f, "ALL"), "1 2 3 4");
	assert_string_equal(q(f, "UNSEEN LARGER 1 UID 1:*"), "2 3 4");
	store_stats_get(&after);
	assert_int_equal(after.folder_lists, before.folder_lists);
	/* header and body keys skip a lost message: they list, once */
	assert_string_equal(q(f, "NOT SUBJECT zzzzzz"), "1 2 3 4");
	store_stats_get(&after);
	assert_int_equal(after.folder_lists, before.folder_lists + 1);
}

static void test_cheap_keys(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(q(f, "ALL"), "1 2 3 4");
	assert_string_equal(q(f, "ANSWERED"), "2");
	assert_string_equal(q(f, "DELETED"), "3");
	assert_string_equal(q(f, "DRAFT"), "3");
	assert_string_equal(q(f, "FLAGGED"), "2");
	assert_string_equal(q(f, "SEEN"), "1");
	assert_string_equal(q(f, "UNANSWERED"), "1 3 4");
	assert_string_equal(q(f, "UNDELETED"), "1 2 4");
	assert_string_equal(q(f, "UNDRAFT"), "1 2 4");
	assert_string_equal(q(f, "UNFLAGGED"), "1 3 4");
	assert_string_equal(q(f, "UNSEEN"), "2 3 4");
	assert_string_equal(q(f, "KEYWORD $Important"), "2");
	assert_string_equal(q(f, "KEYWORD $important"), "2");
	assert_string_equal(q(f, "UNKEYWORD $Important"), "1 3 4");
	assert_string_equal(q(f, "KEYWORD $Other"), "");
	/* RFC 3501 6.4.4 (rev1) */
	assert_string_equal(q(f, "RECENT"), "3 4");
	assert_string_equal(q(f, "NEW"), "3 4");
	assert_string_equal(q(f, "OLD"), "1 2");
	assert_string_equal(q(f, "NEW DRAFT"), "3");
	f->ctx.recent_first = f->ctx.recent_end = 0;
	assert_string_equal(q(f, "RECENT"), "");
	assert_string_equal(q(f, "OLD"), "1 2 3 4");
	char buf[64];  /* sizes: RFC822.SIZE */
	assert_string_equal(q(f, "LARGER 1"), "1 2 3 4");
	assert_string_equal(q(f, "SMALLER 1"), "");
	snprintf(buf, sizeof(buf), "LARGER %llu", (unsigned long long)f->size[2] - 1);
	assert_string_equal(q(f, buf), "2");
	snprintf(buf, sizeof(buf), "SMALLER %llu", (unsigned long long)f->size[2]);
	assert_string_equal(q(f, buf), "1 3 4");
	snprintf(buf, sizeof(buf), "LARGER %llu", (unsigned long long)f->size[2]);
	assert_string_equal(q(f, buf), "");
	/* INTERNALDATE, by day */
	assert_string_equal(q(f, "BEFORE 15-Mar-2026"), "1");
	assert_string_equal(q(f, "ON 15-Mar-2026"), "2");
	assert_string_equal(q(f, "SINCE 15-Mar-2026"), "2 3 4");
	assert_string_equal(q(f, "SINCE \"2-Apr-2026\""), "4");
	assert_string_equal(q(f, "ON 16-Mar-2026"), "");
	/* the server's time zone (a POSIX TZ, no tzdata needed): 12:00 UTC
	 * is the next day at UTC+14 */
	char *old_tz = getenv("TZ") != NULL ? xstrdup(getenv("TZ")) : NULL;
	setenv("TZ", "XYZ-14", 1);
	tzset();
	f->ctx.dates_utc = false;
	assert_string_equal(q(f, "ON 16-Mar-2026"), "2");
	assert_string_equal(q(f, "ON 15-Mar-2026"), "");
	assert_string_equal(q(f, "BEFORE 3-Apr-2026"), "1 2 3");
	if (old_tz != NULL)
		setenv("TZ", old_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old_tz);
}

static void test_sets(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(q(f, "1:2"), "1 2");
	assert_string_equal(q(f, "*"), "4");
	assert_string_equal(q(f, "2:*"), "2 3 4");
	assert_string_equal(q(f, "*:3"), "3 4");
	assert_string_equal(q(f, "1,3"), "1 3");
	assert_string_equal(q(f, "UID 3:*"), "3 4");
	assert_string_equal(q(f, "UID 9:*"), "4");  /* "*" is the largest UID */
	assert_string_equal(q(f, "UID 5:8"), "");
	assert_string_equal(q(f, "UID 2,4"), "2 4");
	/* RFC 5182: "$" is the saved result, empty when there is none */
	assert_string_equal(q(f, "UID $"), "");
	assert_string_equal(q(f, "$"), "");
	static const uint32_t saved[] = { 2, 4 };
	f->ctx.saved = saved;
	f->ctx.saved_count = 2;
	assert_string_equal(q(f, "UID $"), "2 4");
	assert_string_equal(q(f, "$ UNFLAGGED"), "4");
	assert_string_equal(q(f, "NOT $"), "1 3");
}

static void test_boolean(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(q(f, "OR SEEN FLAGGED"), "1 2");
	assert_string_equal(q(f, "NOT SEEN"), "2 3 4");
	assert_string_equal(q(f, "NOT (SEEN OR DELETED FLAGGED)"), "1 2 3 4");
	assert_string_equal(q(f, "NOT (OR SEEN FLAGGED) NOT DELETED"), "4");
	assert_string_equal(q(f, "NOT (OR SEEN (OR DELETED FLAGGED))"), "4");
	assert_string_equal(q(f, "OR (FROM carol BODY \"\xc3\xa4rger\") SUBJECT \"\xc3\xa4pfel\""), "1 3");
	assert_string_equal(q(f, "UNSEEN NOT BODY \"m\xc3\xbcnchen\""), "3 4");
	assert_string_equal(q(f, "OR NOT TEXT kiwi NOT 1:3"), "2 3 4");
	assert_string_equal(q(f, "(((SEEN)))"), "1");
}

static void test_header_keys(void **state)
{
	struct fixture *f = *state;
	/* RFC 2047 decoded display names, addresses, case-insensitive */
	assert_string_equal(q(f, "FROM \"m\xc3\xbcller\""), "1");
	assert_string_equal(q(f, "FROM \"J\xc3\x96RG M\""), "1");
	assert_string_equal(q(f, "FROM <joerg@example.org>"), "1");
	assert_string_equal(q(f, "FROM example.com"), "2");
	assert_string_equal(q(f, "FROM example"), "1 2 3 4");
	assert_string_equal(q(f, "TO anna"), "1");
	assert_string_equal(q(f, "TO \"Anna <anna@\""), "1");
	assert_string_equal(q(f, "CC carl"), "1");
	assert_string_equal(q(f, "BCC hidden"), "2");
	assert_string_equal(q(f, "BCC anna"), "");
	/* "Ä" in the header (=?UTF-8?B?) matches "ä" */
	assert_string_equal(q(f, "SUBJECT \"\xc3\xa4pfel\""), "1");
	assert_string_equal(q(f, "SUBJECT \"UND BIRNEN\""), "1");
	assert_string_equal(q(f, "SUBJECT inner"), "4");   /* not the enclosed one */
	assert_string_equal(q(f, "SUBJECT w4RwZmVs"), "");
	/* RFC 9051 6.4.4 HEADER: "" matches a present field */
	assert_string_equal(q(f, "HEADER X-Tag \"\""), "1");
	assert_string_equal(q(f, "HEADER x-tag ALPHA"), "1");
	assert_string_equal(q(f, "HEADER X-Missing \"\""), "");
	assert_string_equal(q(f, "HEADER Content-Type multipart"), "2");
	assert_string_equal(q(f, "HEADER subject \"\xc3\xa4pfel\""), "1");
	/* Date: as written, time and zone disregarded; 2-digit year */
	assert_string_equal(q(f, "SENTON 2-Feb-2026"), "1");
	assert_string_equal(q(f, "SENTBEFORE 3-Feb-2026"), "1");
	assert_string_equal(q(f, "SENTBEFORE 2-Feb-2026"), "");
	assert_string_equal(q(f, "SENTSINCE 3-Feb-2026"), "2");
	assert_string_equal(q(f, "SENTON 15-Mar-2026"), "2");
	assert_string_equal(q(f, "NOT SENTSINCE 1-Jan-1990"), "3 4");
}

static void test_body_keys(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(q(f, "BODY kiwi"), "1");
	/* quoted-printable ISO-8859-1 with a soft break inside the word */
	assert_string_equal(q(f, "BODY \"gr\xc3\xbc\xc3\x9f" "e aus m\xc3\xbcnchen\""), "2");
	/* base64 UTF-8, split across the encoded lines; ß stays ß */
	assert_string_equal(q(f, "BODY \"SCH\xc3\x96NE GR\xc3\x9c\xc3\x9f" "E VOM FLU\xc3\x9f\""), "2");
	/* an attachment is not text */
	assert_string_equal(q(f, "BODY secretword"), "");
	/* 8bit UTF-8: "Ä" in the body matches "ä" */
	assert_string_equal(q(f, "BODY \"\xc3\xa4rger\""), "3");
	/* an enclosed message's QP body */
	assert_string_equal(q(f, "BODY nestedword"), "4");
	/* BODY is not the header; TEXT is both */
	assert_string_equal(q(f, "BODY birnen"), "");
	assert_string_equal(q(f, "TEXT birnen"), "1");
	assert_string_equal(q(f, "TEXT kiwi"), "1");
	assert_string_equal(q(f, "TEXT \"x-tag: alpha\""), "1");
	assert_string_equal(q(f, "TEXT \"m\xc3\xbcnchen\""), "2");
	assert_string_equal(q(f, "BODY \"\""), "1 2 3 4");
	/* no match across two parts */
	assert_string_equal(q(f, "BODY \"nchen <p>\""), "");
	assert_string_equal(q(f, "BODY preamble"), "");
}

#define LONG_WORDS 1500

/* Bodies longer than the evaluator's 8 KiB chunk, made of the words
 * "K0000Ä" ... "K1499Ä": every chunk boundary falls inside or next to
 * a word, and all must be found (an AND of 1,500 BODY keys). */
static void test_long_bodies(void **state)
{
	struct fixture *f = *state;
	str_t text = STR_INIT, b64 = STR_INIT, msg = STR_INIT, prog = STR_INIT;
	for (unsigned i = 0; i < LONG_WORDS; i++)
		str_printf(&text, "K%04u\xc3\x84 ", i);
	base64_encode(text.data, text.len, &b64);
	str_appendz(&msg, "Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n");
	for (size_t i = 0; i < b64.len; i += 76) {
		str_append(&msg, b64.data + i, b64.len - i < 76 ? b64.len - i : 76);
		str_appendz(&msg, "\r\n");
	}
	deliver(f->store, msg.data, 0, NULL, 0, day(2026, 5, 1));
	/* quoted-printable ISO-8859-1, soft breaks between the tokens,
	 * also between a word and its "=C4" */
	str_clear(&msg);
	str_appendz(&msg, "Subject: qp\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	size_t col = 0;
	for (unsigned i = 0; i < LONG_WORDS; i++) {
		char tok[3][8];
		snprintf(tok[0], sizeof(tok[0]), "K%04u", i);
		snprintf(tok[1], sizeof(tok[1]), "=C4");
		snprintf(tok[2], sizeof(tok[2]), "%s", i % 40 == 39 ? "\r\n" : " ");
		for (unsigned t = 0; t < 3; t++) {
			if (col + strlen(tok[t]) > 60 + i % 13 && t < 2) {
				str_appendz(&msg, "=\r\n");
				col = 0;
			}
			str_appendz(&msg, tok[t]);
			col = t == 2 && i % 40 == 39 ? 0 : col + strlen(tok[t]);
		}
	}
	deliver(f->store, msg.data, 0, NULL, 0, day(2026, 5, 1));
	struct store_view_changes changes;
	const char *error;
	assert_int_equal(store_view_sync(f->view, f->pool, &changes, &error), 0);
	assert_int_equal(changes.added_count, 2);
	assert_true(msg.len > 8192 + 4096);
	for (unsigned i = 0; i < LONG_WORDS; i++)
		str_printf(&prog, "%sBODY \"k%04u\xc3\xa4\"", i == 0 ? "" : " ", i);
	assert_string_equal(q(f, str_c(&prog)), "5 6");
	str_clear(&prog);
	str_printf(&prog, "BODY \"k%04u\xc3\xa4 k\"", LONG_WORDS - 1);
	assert_string_equal(q(f, str_c(&prog)), "");
	assert_string_equal(q(f, "BODY \"\xc3\xa4 k0701\xc3\x84 K0702\""), "5 6");
	str_free(&text);
	str_free(&b64);
	str_free(&msg);
	str_free(&prog);
}

static unsigned cancel_calls;
static bool cancel_after_two(void *context)
{
	(void)context;
	return ++cancel_calls > 2;
}

static void test_cheap_first_and_limits(void **state)
{
	struct fixture *f = *state;
	/* message 2 read twice at most (structure, then its text parts):
	 * enough only if the flag test skips reading 1, 3 and 4 */
	f->ctx.max_read_bytes = 2 * f->size[2];
	assert_string_equal(q(f, "FLAGGED BODY \"sch\xc3\xb6ne\""), "2");
	assert_string_equal(q(f, "BODY \"sch\xc3\xb6ne\" FLAGGED"), "2");
	assert_string_equal(q(f, "OR SEEN (FLAGGED BODY \"sch\xc3\xb6ne\")"), "1 2");
	assert_string_equal(q(f, "BODY \"sch\xc3\xb6ne\""), "error");
	/* a header key reads each message once at most (its header, in
	 * one chunk here); a body key needs more */
	f->ctx.max_read_bytes = f->size[1] + f->size[2] + f->size[3] + f->size[4];
	assert_string_equal(q(f, "SUBJECT greetings"), "2");
	assert_string_equal(q(f, "BODY greetings"), "error");
	f->ctx.max_read_bytes = 0;
	f->ctx.cancelled = cancel_after_two;
	cancel_calls = 0;
	assert_string_equal(q(f, "SEEN"), "error");
	f->ctx.cancelled = NULL;
	assert_string_equal(q(f, "SEEN"), "1");
}

/* After UID 1 is expunged, sequence numbers and UIDs part ways. */
static void test_seq_after_expunge(void **state)
{
	struct fixture *f = *state;
	static const uint32_t gone[] = { 1 };
	unsigned expunged;
	const char *error;
	struct store_view_changes changes;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", gone, 1,
					       &expunged, &error), 0);
	assert_int_equal(store_view_sync(f->view, f->pool, &changes, &error), 0);
	assert_int_equal(store_view_count(f->view), 3);
	assert_string_equal(q(f, "1"), "2");
	assert_string_equal(q(f, "2:*"), "3 4");
	assert_string_equal(q(f, "*"), "4");
	assert_string_equal(q(f, "4"), "");
	assert_string_equal(q(f, "UID 1:2"), "2");
	assert_string_equal(q(f, "OLD 1"), "2");
	/* sequence numbers for SEARCH without UID */
	static const uint32_t uids[] = { 2, 4 };
	uint32_t *seqs = imap_search_uids_to_seqs(f->view, uids, 2, f->pool);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cheap_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boolean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_folder_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cheap_first_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq_after_expunge, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
