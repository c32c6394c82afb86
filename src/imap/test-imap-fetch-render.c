/* test-imap-fetch-render.c: unit tests for the FETCH renderer
 * (imap_fetch_render.h) over messages delivered into a temp store:
 * FLAGS/UID/INTERNALDATE/RFC822.SIZE, ENVELOPE and BODYSTRUCTURE against
 * strings derived by hand (nested multipart, message/rfc822, QP, base64,
 * a missing boundary, groups, NIL rules, 8-bit names as literals),
 * section numbering (RFC 9051 6.4.5), HEADER.FIELDS(.NOT), MIME, TEXT,
 * RFC822.*, partial fetches at odd offsets equal to slicing the full
 * fetch, the same bytes for every chunk size, a bare-LF message's exact
 * wire literal sizes, every message of the shared corpus rendering to a
 * well-formed response, and a 5 MiB message streamed with peak memory
 * bounded. */
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

#define USER "ivy@example.org"
#define CORPUS "/work/shared/corpus/mime"

struct fixture {
	char dir[64];
	struct store *store;
	struct store_view *view;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-fetch-render.XXXXXX");
	const char *error;
	if (mkdtemp(f->dir) == NULL || store_open(f->dir, &f->store, &error) < 0 ||
	    store_user_create(f->store, USER, &error) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_view_close(&f->view);
	store_close(&f->store);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint32_t deliver_len(struct fixture *f, const char *m, size_t len,
			    time_t date)
{
	const char *error;
	uint32_t uid = 0;
	struct store_delivery *d = store_delivery_begin(f->store, USER, "INBOX",
							&error);
	assert_non_null(d);
	for (size_t off = 0; off < len; off += 65536) {
		size_t n = len - off < 65536 ? len - off : 65536;
		assert_int_equal(store_delivery_write(d, m + off, n, &error), 0);
	}
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

static uint32_t deliver(struct fixture *f, const char *m)
{
	return deliver_len(f, m, strlen(m), 1733400000);
}

/* The request from space-separated items ("FLAGS BODY.PEEK[1]<0.5>"). */
static void request(const char *items, struct imap_fetch_request *req)
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
static char *render_peak(struct fixture *f, uint32_t uid, const char *items,
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

static char *render(struct fixture *f, uint32_t uid, const char *items,
		    size_t chunk)
{
	size_t len;
	return render_peak(f, uid, items, chunk, &len, NULL);
}

static void assert_render(struct fixture *f, uint32_t uid, const char *items,
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
	struct fixture *f = *state;
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
	struct fixture *f = *state;
	uint32_t uid = deliver(f, msg_nested);
	size_t mlen, tlen, hlen;
	const char *m = slice(msg_nested, "From: Zed", "\r\n--outer\r\nContent-Type: app",
			      &mlen);
	unsigned lines = 1;
	for (size_t i = 0; i < mlen; i++)
		lines += m[i] == '\n';
	const char *inner_alt =
		"((\"text\" \"plain\" NIL NIL NIL \"7bit\" 5 1%s)"
		"(\"text\" \"html\" NIL NIL NIL \"7bit\" 8 1%s)"
		" \"alternative\"%s)";
	const char *body = t_printf(
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
		" \"quoted-printable\" 9 1%s)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" %zu"
		" (NIL \"inner\" " ZED " " ZED " " ZED " NIL NIL NIL NIL NIL) %s"
		" %u%s)"
		"(\"application\" \"octet-stream\" (\"name\" \"a.bin\") \"<c1@x>\""
		" NIL \"base64\" 4%s) \"mixed\"%s)",
		"", mlen, t_printf(inner_alt, "", "", ""), lines, "", "", "");
	assert_render(f, uid, "BODY", t_printf("* 1 FETCH (BODY %s)\r\n", body));
	const char *bs = t_printf(
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL"
		" \"quoted-printable\" 9 1%s)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" %zu"
		" (NIL \"inner\" " ZED " " ZED " " ZED " NIL NIL NIL NIL NIL) %s"
		" %u%s)"
		"(\"application\" \"octet-stream\" (\"name\" \"a.bin\") \"<c1@x>\""
		" NIL \"base64\" 4%s) \"mixed\"%s)",
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
	struct fixture *f = *state;
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
		      "* 3 FETCH (ENVELOPE (NIL NIL (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.de\"))"
		      " (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.de\"))"
		      " (({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.de\")) NIL NIL NIL NIL NIL))\r\n");
}

/* A response's syntax: "* n FETCH (" ... ")\r\n" with balanced
 * parentheses outside strings, quoted strings closed, every literal's
 * {n} followed by CRLF and n octets. */
static void assert_well_formed(const char *s, size_t len)
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
static char *literal_of(const char *resp, const char *name, size_t *len_r)
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

static char *read_file(const char *path, size_t *len_r)
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
static void check_partials(struct fixture *f, uint32_t uid, const char *sect)
{
	char *full = render(f, uid, t_printf("BODY.PEEK[%s]", sect), 4096);
	if (strstr(full, "] NIL)") != NULL) {
		free(full);
		return;
	}
	size_t flen;
	char *data = literal_of(full, "]", &flen);
	const uint64_t offs[] = { 0, 1, 7, 333, flen / 2 + 1, flen - 1, flen,
				  flen + 5 };
	const uint64_t lens[] = { 1, 13, 1 << 30 };
	for (unsigned o = 0; o < 8; o++) {
		for (unsigned l = 0; l < 3; l++) {
			size_t rlen, plen;
			char *resp = render_peak(
				f, uid, t_printf("BODY.PEEK[%s]<%llu.%llu>", sect,
						 (unsigned long long)offs[o],
						 (unsigned long long)lens[l]),
				97, &rlen, NULL);
			assert_well_formed(resp, rlen);
			char *part = literal_of(resp, "]<", &plen);
			uint64_t start = offs[o] < flen ? offs[o] : flen;
			uint64_t want = flen - start < lens[l] ? flen - start
							       : lens[l];
			assert_int_equal(plen, want);
			assert_memory_equal(part, data + start, plen);
			free(part);
			free(resp);
		}
	}
	free(data);
	free(full);
}

static void test_corpus(void **state)
{
	struct fixture *f = *state;
	DIR *dir = opendir(CORPUS);
	if (dir == NULL)
		skip();
	struct dirent *de;
	unsigned count = 0;
	while ((de = readdir(dir)) != NULL) {
		size_t nlen = strlen(de->d_name);
		if (nlen < 5 || strcmp(de->d_name + nlen - 4, ".eml") != 0)
			continue;
		size_t mlen;
		char *m = read_file(t_printf("%s/%s", CORPUS, de->d_name), &mlen);
		uint32_t uid = deliver_len(f, m, mlen, 0);
		size_t rlen;
		char *resp = render_peak(f, uid, "UID FLAGS RFC822.SIZE INTERNALDATE"
					 " ENVELOPE BODY BODYSTRUCTURE"
					 " BODY.PEEK[] BODY.PEEK[1] BODY.PEEK[TEXT]"
					 " BODY.PEEK[1.MIME] BODY.PEEK[2.1.HEADER]"
					 " BODY.PEEK[HEADER.FIELDS (From Subject)]",
					 1000, &rlen, NULL);
		assert_well_formed(resp, rlen);
		/* BODY[] is the wire form: every LF is a CRLF */
		size_t blen;
		char *whole = literal_of(resp, "BODY[] ", &blen);
		size_t lfs = 0;
		for (size_t i = 0; i < mlen; i++)
			lfs += m[i] == '\n' && (i == 0 || m[i - 1] != '\r');
		assert_int_equal(blen, mlen + lfs);
		free(whole);
		if (count % 8 == 0) {
			check_partials(f, uid, "");
			check_partials(f, uid, "1");
			check_partials(f, uid, "TEXT");
		}
		free(resp);
		free(m);
		count++;
	}
	closedir(dir);
	assert_true(count >= 100);
}

/* A message stored with bare LFs: literal sizes are wire octets. */
static void test_bare_lf_sizes(void **state)
{
	struct fixture *f = *state;
	uint32_t uid = deliver(f, "Subject: lf\n\none\ntwo\n");
	assert_render(f, uid, "RFC822.SIZE BODY.PEEK[TEXT] BODY.PEEK[HEADER]",
		      "* 1 FETCH (RFC822.SIZE 25 BODY[TEXT] {10}\r\none\r\ntwo\r\n"
		      " BODY[HEADER] {15}\r\nSubject: lf\r\n\r\n)\r\n");
}

/* 5 MiB in one part: streamed, the renderer's own memory stays small. */
static void test_large_message_bounded(void **state)
{
	struct fixture *f = *state;
	const size_t body = 5u << 20;
	str_t m = STR_INIT;
	str_appendz(&m, "Subject: big\r\nContent-Type: multipart/mixed;"
		    " boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\n");
	size_t body_at = m.len;
	for (size_t i = 0; i < body; i += 64)
		str_appendz(&m, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\r\n");
	str_appendz(&m, "--z--\r\n");
	uint32_t uid = deliver_len(f, m.data, m.len, 0);
	size_t rlen, peak;
	char *resp = render_peak(f, uid, "BODY.PEEK[1]<1000003.3000001> RFC822.SIZE",
				 16384, &rlen, &peak);
	assert_true(peak < 16384);
	size_t plen;
	char *part = literal_of(resp, "]<", &plen);
	assert_int_equal(plen, 3000001);
	assert_memory_equal(part, m.data + body_at + 1000003, plen);
	free(part);
	free(resp);
	resp = render_peak(f, uid, "BODY.PEEK[] BODYSTRUCTURE", 65536, &rlen,
			   &peak);
	assert_true(peak < 16384);
	assert_true(rlen > m.len);
	free(resp);
	str_free(&m);
}

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
		cmocka_unit_test_setup_teardown(test_large_message_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
		cmocka_unit_test(test_seen_needs_and_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
