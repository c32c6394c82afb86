/* test-imap-fetch-render-binary.c: BINARY (RFC 3516) in the FETCH
 * renderer: base64 and quoted-printable decoded, the same bytes for
 * every chunk size, partials across decode buffers, literal8 for NUL,
 * BINARY.SIZE, an unknown encoding refused before any output, and the
 * renderer's memory bounded for a large part. */
#include "test-imap-fetch-render.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* data base64-encoded in 76-column CRLF lines (RFC 2045 6.8) */
static void base64_lines(str_t *out, const unsigned char *data, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		char q[4] = { b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
			      i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=',
			      i + 2 < len ? b64_alphabet[v & 63] : '=' };
		str_append(out, q, 4);
		if ((col += 4) == 76) {
			str_appendz(out, "\r\n");
			col = 0;
		}
	}
	if (col > 0)
		str_appendz(out, "\r\n");
}

static uint32_t deliver_binary(struct fixture *f, const unsigned char *blob, size_t len)
{
	str_t m = STR_INIT;
	str_appendz(&m, "From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		    "--b\r\nContent-Type: application/octet-stream\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n");
	base64_lines(&m, blob, len);
	str_appendz(&m, "--b\r\nContent-Type: text/plain\r\n"
		    "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n"
		    "a=3Db soft=\r\nbreak=C3=A9\r\n"
		    "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-gzip\r\n\r\n"
		    "zz\r\n--b--\r\n");
	uint32_t uid = deliver_len(f, m.data, m.len, 1733400000);
	str_free(&m);
	return uid;
}

static void test_binary_decoded(void **state)
{
	struct fixture *f = *state;
	unsigned char blob[3000];
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (unsigned char)(i * 7 + i / 256);
	uint32_t uid = deliver_binary(f, blob, sizeof(blob));

	str_t want = STR_INIT;
	str_printf(&want, "* 1 FETCH (BINARY[1] ~{%zu}\r\n", sizeof(blob));
	str_append(&want, blob, sizeof(blob));
	str_appendz(&want, ")\r\n");
	static const size_t chunks[] = { 64, 67, 1000, 1 << 20 };
	for (unsigned i = 0; i < 4; i++) {
		size_t len;
		char *got = render_peak(f, uid, "BINARY.PEEK[1]", chunks[i], &len, NULL);
		assert_int_equal(len, want.len);
		assert_memory_equal(got, want.data, len);
		free(got);
	}
	/* a partial across the decoder's buffers; QP; sizes; a missing part */
	str_clear(&want);
	str_printf(&want, "* 1 FETCH (BINARY[1]<1000> ~{1500}\r\n");
	str_append(&want, blob + 1000, 1500);
	str_appendz(&want, " BINARY[2] {15}\r\na=b softbreak\xc3\xa9"
		    " BINARY.SIZE[1] 3000 BINARY.SIZE[2] 15 BINARY[7] NIL)\r\n");
	for (unsigned i = 0; i < 4; i++) {
		size_t len;
		char *got = render_peak(f, uid, "BINARY.PEEK[1]<1000.1500> BINARY[2] "
					"BINARY.SIZE[1] BINARY.SIZE[2] BINARY.PEEK[7]",
					chunks[i], &len, NULL);
		assert_int_equal(len, want.len);
		assert_memory_equal(got, want.data, len);
		free(got);
	}
	str_free(&want);
	assert_render(f, uid, "BINARY.PEEK[2]<100.5>", "* 1 FETCH (BINARY[2]<100> {0}\r\n)\r\n");
}

static void test_binary_unknown_cte_and_memory(void **state)
{
	struct fixture *f = *state;
	size_t big = 4u << 20;
	unsigned char *blob = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		blob[i] = (unsigned char)(i ^ (i >> 9));
	uint32_t uid = deliver_binary(f, blob, big);
	size_t len, peak = 0;
	char *got = render_peak(f, uid, "BINARY.PEEK[1]", 65536, &len, &peak);
	char head[64];
	int hl = snprintf(head, sizeof(head), "* 1 FETCH (BINARY[1] ~{%zu}\r\n", big);
	assert_memory_equal(got, head, (size_t)hl);
	assert_memory_equal(got + hl, blob, big);
	free(got);
	free(blob);
	/* the counting pass and the stream hold one decode buffer, not the part */
	assert_true(peak < 64 * 1024);

	/* RFC 3516 4.3: an unknown encoding is refused before any output */
	struct imap_fetch_request req;
	request("FLAGS BINARY.PEEK[3]", &req);
	struct store_message_info *infos;
	unsigned count;
	const char *error = NULL;
	assert_int_equal(store_view_list(f->view, pool_temp(), &infos, &count, &error), 0);
	struct mime_tree *tree = NULL;
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(), &tree,
						      &error), 0);
	struct store_message_reader *reader = store_view_message_open(f->view, uid, &error);
	assert_null(imap_fetch_render_begin(&req, 1, &infos[0], tree, reader, &error));
	assert_ptr_equal(error, imap_fetch_error_unknown_cte);
	assert_false(imap_binary_check(&req, tree, infos[0].size));
	imap_fetch_request_free(&req);
	request("BINARY.SIZE[1] BINARY[2]", &req);
	assert_true(imap_binary_check(&req, tree, infos[0].size));
	assert_true(imap_fetch_render_sets_seen(&req));
	imap_fetch_request_free(&req);
	store_message_close(&reader);
	mime_tree_free(&tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_binary_decoded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_unknown_cte_and_memory, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
