/* test-imap-fetch-render.c: unit tests for the FETCH renderer
 * (imap_fetch_render.h) over messages delivered into a temp store:
 * FLAGS/UID/INTERNALDATE/RFC822.SIZE, ENVELOPE and BODYSTRUCTURE against
 * strings derived by hand (nested multipart, message/rfc822, QP, base64,
 * a missing boundary, groups, NIL rules, 8-bit names as RFC 2047 words
 * again, raw 8-bit header text as literals),
 * section numbering (RFC 9051 6.4.5), HEADER.FIELDS(.NOT), MIME, TEXT,
 * RFC822.*, partials, the same bytes for every chunk size, a bare-LF
 * message's exact wire literal sizes, \Seen and what a request needs.
 * The corpus and the 5 MiB message: test-imap-fetch-render-corpus.c. */
#include "imap/test-imap-fetch-render.h"

static const char msg_simple[] =
	"Date: Thu, 05 Dec 2024 12:00:00 +0000\r\n"
	"From: \"Ann Example\" <ann@example.org>\r\n"
	"To: bob@example.com, Team: cy@x.org, dee@y.org;\r\n"
	"Subject: Hello \"world\"\r\n"
	"Message-ID: <m1@example.org>\r\n"
	"\r\n"
	"Hi Bob\r\n";

#define ANN "((\"Ann Example\" NIL \"ann\" \"example.org\"))"

static void test_simple_items(void **state)
{
	struct test_store_fixture *f = *state;
	uint32_t uid = deliver(f, msg_simple);
	assert_render(f, uid, "UID RFC822.SIZE INTERNALDATE FLAGS",
		      t_printf("* 1 FETCH (UID %u RFC822.SIZE %zu INTERNALDATE"
			       " \" 5-Dec-2024 12:00:00 +0000\""
			       " FLAGS (\\Flagged \\Seen $Label1))\r\n", uid,
			       strlen(msg_simple)));
	assert_render(f, uid, "ENVELOPE",
		      "* 1 FETCH (ENVELOPE (\"Thu, 05 Dec 2024 12:00:00 +0000\""
		      " \"Hello \\\"world\\\"\" " ANN " " ANN " " ANN
		      " ((NIL NIL \"bob\" \"example.com\")(NIL NIL \"Team\" NIL)"
		      "(NIL NIL \"cy\" \"x.org\")(NIL NIL \"dee\" \"y.org\")"
		      "(NIL NIL NIL NIL)) NIL NIL NIL \"<m1@example.org>\"))\r\n");
	assert_render(f, uid, "BODY BODYSTRUCTURE",
		      "* 1 FETCH (BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\")"
		      " NIL NIL \"7bit\" 8 1) BODYSTRUCTURE (\"text\" \"plain\""
		      " (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1 NIL NIL NIL"
		      " NIL))\r\n");
	const char *hdr_end = strstr(msg_simple, "\r\n\r\n") + 4;
	size_t hlen = (size_t)(hdr_end - msg_simple);
	assert_render(f, uid, "RFC822.HEADER RFC822.TEXT",
		      t_printf("* 1 FETCH (RFC822.HEADER {%zu}\r\n%.*s"
			       " RFC822.TEXT {8}\r\nHi Bob\r\n)\r\n", hlen,
			       (int)hlen, msg_simple));
	/* [1] of a non-multipart message is its body; [2] and [1.1] do
	 * not exist; HEADER.FIELDS keeps the message's order */
	assert_render(f, uid, "BODY.PEEK[1] BODY[2] BODY[1.1] BODY[1]<3.100>",
		      "* 1 FETCH (BODY[1] {8}\r\nHi Bob\r\n BODY[2] NIL"
		      " BODY[1.1] NIL BODY[1]<3> {5}\r\nBob\r\n)\r\n");
	assert_render(f, uid, "BODY.PEEK[HEADER.FIELDS (subject FROM)]",
		      "* 1 FETCH (BODY[HEADER.FIELDS (subject FROM)] {65}\r\n"
		      "From: \"Ann Example\" <ann@example.org>\r\n"
		      "Subject: Hello \"world\"\r\n\r\n)\r\n");
	assert_render(f, uid, "BODY.PEEK[HEADER.FIELDS.NOT (Date To From"
		      " Subject)]<2.10>",
		      "* 1 FETCH (BODY[HEADER.FIELDS.NOT (Date To From Subject)]"
		      "<2> {10}\r\nssage-ID: )\r\n");
	assert_render(f, uid, "RFC822",
		      t_printf("* 1 FETCH (RFC822 {%zu}\r\n%s)\r\n",
			       strlen(msg_simple), msg_simple));
}

static const char msg_nested[] =
	"From: a@b.c\r\n"
	"Subject: nested\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
	"\r\n"
	"From: Zed <z@q.org>\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=alt\r\n"
	"\r\n"
	"--alt\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"plain\r\n"
	"--alt\r\n"
	"Content-Type: text/html\r\n"
	"Content-Language: en, de\r\n"
	"\r\n"
	"<b>x</b>\r\n"
	"--alt--\r\n"
	"--outer\r\n"
	"Content-Type: application/octet-stream; name=a.bin\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-ID: <c1@x>\r\n"
	"Content-Location: http://x/a\r\n"
	"\r\n"
	"AAEC\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static const char *slice(const char *m, const char *from, const char *to,
			 size_t *len_r)
{
	const char *a = strstr(m, from);
	assert_non_null(a);
	const char *b = strstr(a, to);
	assert_non_null(b);
	*len_r = (size_t)(b - a);
	return a;
}

#define ZED "((\"Zed\" NIL \"z\" \"q.org\"))"

static void test_nested_structure_and_sections(void **state)
{
	struct test_store_fixture *f = *state;
	uint32_t uid = deliver(f, msg_nested);
	size_t mlen, tlen, hlen;
	const char *m = slice(msg_nested, "From: Zed", "\r\n--outer\r\nContent-Type: app",
			      &mlen);
	/* lines: the body's line ends; the CRLF before a delimiter is the
	 * delimiter's (RFC 2046 5.1.1), so one-line parts have 0, as in
	 * Dovecot */
	unsigned lines = 0;
	for (size_t i = 0; i < mlen; i++)
		lines += m[i] == '\n';
	const char *inner_alt =
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0%s)"
		"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0%s)"
		" \"alternative\"%s)";
	/* %s: what BODYSTRUCTURE adds */
	static const char outer[] =
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
		" \"quoted-printable\" 9 0%s)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" %zu"
		" (NIL \"inner\" " ZED " " ZED " " ZED " NIL NIL NIL NIL NIL) %s"
		" %u%s)"
		"(\"application\" \"octet-stream\" (\"name\" \"a.bin\") \"<c1@x>\""
		" NIL \"base64\" 4%s) \"mixed\"%s)";
	const char *body = t_printf(outer,
		"", mlen, t_printf(inner_alt, "", "", ""), lines, "", "", "");
	assert_render(f, uid, "BODY", t_printf("* 1 FETCH (BODY %s)\r\n", body));
	const char *bs = t_printf(outer,
		" NIL NIL NIL NIL", mlen,
		t_printf(inner_alt, " NIL NIL NIL NIL",
			 " NIL NIL (\"en\" \"de\") NIL",
			 " (\"boundary\" \"alt\") NIL NIL NIL"),
		lines, " NIL (\"attachment\" (\"filename\" \"fwd.eml\")) NIL NIL",
		" NIL NIL NIL \"http://x/a\"",
		" (\"boundary\" \"outer\") NIL NIL NIL");
	assert_render(f, uid, "BODYSTRUCTURE",
		      t_printf("* 1 FETCH (BODYSTRUCTURE %s)\r\n", bs));
	assert_render(f, uid, "BODY.PEEK[1] BODY.PEEK[2.1] BODY.PEEK[2.2]"
		      " BODY.PEEK[3] BODY.PEEK[4] BODY.PEEK[2.3] BODY.PEEK[1.HEADER]",
		      "* 1 FETCH (BODY[1] {9}\r\ncaf=C3=A9 BODY[2.1] {5}\r\nplain"
		      " BODY[2.2] {8}\r\n<b>x</b> BODY[3] {4}\r\nAAEC BODY[4] NIL"
		      " BODY[2.3] NIL BODY[1.HEADER] NIL)\r\n");
	assert_render(f, uid, "BODY.PEEK[2]",
		      t_printf("* 1 FETCH (BODY[2] {%zu}\r\n%.*s)\r\n", mlen,
			       (int)mlen, m));
	const char *h = slice(msg_nested, "From: Zed", "--alt\r\n", &hlen);
	const char *t = slice(msg_nested, "--alt\r\n", "\r\n--outer\r\nContent-Type: app",
			      &tlen);
	assert_render(f, uid, "BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT]",
		      t_printf("* 1 FETCH (BODY[2.HEADER] {%zu}\r\n%.*s"
			       " BODY[2.TEXT] {%zu}\r\n%.*s)\r\n", hlen, (int)hlen,
			       h, tlen, (int)tlen, t));
	assert_render(f, uid, "BODY.PEEK[2.2.MIME] BODY.PEEK[2.HEADER.FIELDS (subject)]",
		      "* 1 FETCH (BODY[2.2.MIME] {53}\r\nContent-Type: text/html\r\n"
		      "Content-Language: en, de\r\n\r\n BODY[2.HEADER.FIELDS (subject)]"
		      " {18}\r\nSubject: inner\r\n\r\n)\r\n");
	assert_render(f, uid, "BODY.PEEK[TEXT]<0.8> BODY.PEEK[HEADER.FIELDS (To)]",
		      "* 1 FETCH (BODY[TEXT]<0> {8}\r\npreamble"
		      " BODY[HEADER.FIELDS (To)] {2}\r\n\r\n)\r\n");
}

/* RFC 9051 7.5.2 NIL rules: no header at all, empty lists, a missing
 * From; Sender and Reply-To fall back to From; 8-bit names go as
 * literals, a missing boundary leaves an empty multipart. */
static void test_envelope_nil_rules(void **state)
{
	struct test_store_fixture *f = *state;
	uint32_t a = deliver(f, "\r\nbody only\r\n");
	assert_render(f, a, "ENVELOPE BODY",
		      "* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
		      " BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL"
		      " \"7bit\" 11 1))\r\n");
	uint32_t b = deliver(f, "Subject:\r\nTo: undisclosed-recipients:;\r\n"
			     "Sender: s@x\r\nReply-To: \r\n"
			     "Content-Type: multipart/mixed\r\n\r\nno boundary\r\n");
	assert_render(f, b, "ENVELOPE BODY",
		      "* 2 FETCH (ENVELOPE (NIL \"\" NIL ((NIL NIL \"s\" \"x\")) NIL"
		      " ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
		      " NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\""
		      " \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\"))\r\n");
	uint32_t c = deliver(f, "From: =?utf-8?q?J=C3=B6rg?= <j@x.de>\r\n\r\nx\r\n");
	assert_render(f, c, "ENVELOPE",
		      "* 3 FETCH (ENVELOPE (NIL NIL ((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"x.de\"))"
		      " ((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"x.de\"))"
		      " ((\"=?utf-8?b?SsO2cmc=?=\" NIL \"j\" \"x.de\")) NIL NIL NIL NIL NIL))\r\n");
	/* 60 UTF-8 bytes: two words, split between characters */
	uint32_t d = deliver(f, "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n"
			     "To: =?utf-8?q?=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6=C3=B6?= <l@x>\r\n\r\n");
	assert_render(f, d, "ENVELOPE",
		      "* 4 FETCH (ENVELOPE (NIL {7}\r\nGr\xc3\xbc\xc3\x9f" "e NIL NIL NIL"
		      " ((\"=?utf-8?b?w7bDtsO2w7bDtsO2w7bDtsO2w7bDtsO2w7bDtsO2w7bDtsO2w7bDtsO2w7Y=?= =?utf-8?b?w7bDtsO2w7bDtsO2w7bDtg==?=\" NIL \"l\" \"x\"))"
		      " NIL NIL NIL NIL))\r\n");
}

static void test_bare_lf_sizes(void **state)
{
	struct test_store_fixture *f = *state;
	uint32_t uid = deliver(f, "Subject: lf\n\none\ntwo\n");
	assert_render(f, uid, "RFC822.SIZE BODY.PEEK[TEXT] BODY.PEEK[HEADER]",
		      "* 1 FETCH (RFC822.SIZE 25 BODY[TEXT] {10}\r\none\r\ntwo\r\n"
		      " BODY[HEADER] {15}\r\nSubject: lf\r\n\r\n)\r\n");
}

/* 5 MiB in one part: streamed, the renderer's own memory stays small. */
static void test_seen_needs_and_refusals(void **state)
{
	(void)state;
	struct { const char *items; bool seen; unsigned needs; } cases[] = {
		{ "FLAGS UID RFC822.SIZE INTERNALDATE", false, 0 },
		{ "BODY.PEEK[]", false, IMAP_FETCH_NEEDS_READER },
		{ "BODY[]", true, IMAP_FETCH_NEEDS_READER },
		{ "BODY.PEEK[1]", false,
		  IMAP_FETCH_NEEDS_READER | IMAP_FETCH_NEEDS_TREE },
		{ "RFC822.HEADER", false,
		  IMAP_FETCH_NEEDS_READER | IMAP_FETCH_NEEDS_TREE },
		{ "RFC822.TEXT", true,
		  IMAP_FETCH_NEEDS_READER | IMAP_FETCH_NEEDS_TREE },
		{ "RFC822", true, IMAP_FETCH_NEEDS_READER },
		{ "ENVELOPE", false,
		  IMAP_FETCH_NEEDS_READER | IMAP_FETCH_NEEDS_TREE },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_fetch_request req;
		request(cases[i].items, &req);
		assert_int_equal(imap_fetch_render_sets_seen(&req), cases[i].seen);
		assert_int_equal(imap_fetch_render_needs(&req), cases[i].needs);
		imap_fetch_request_free(&req);
	}
	struct imap_fetch_request req;
	request("BINARY.PEEK[1]", &req);
	struct store_message_info info = { .uid = 1, .size = 10, .flags = "" };
	const char *error = NULL;
	assert_null(imap_fetch_render_begin(&req, 1, &info, NULL, NULL, &error));
	assert_non_null(error);
	imap_fetch_request_free(&req);
	/* ENVELOPE without a tree: refused, not a crash */
	request("ENVELOPE", &req);
	assert_null(imap_fetch_render_begin(&req, 1, &info, NULL, NULL, &error));
	imap_fetch_request_free(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simple_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_structure_and_sections,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_nil_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bare_lf_sizes, setup, teardown),
		cmocka_unit_test(test_seen_needs_and_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
