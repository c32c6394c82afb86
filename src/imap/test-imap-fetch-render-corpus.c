/* test-imap-fetch-render-corpus.c: the FETCH renderer
 * (imap_fetch_render.h) over every message of the shared corpus
 * (well-formed responses, BODY[] equal to the wire form, partial fetches
 * at odd offsets equal to slicing the full fetch) and a 5 MiB message
 * streamed with the renderer's own memory bounded. */
#include "imap/test-imap-fetch-render.h"

static void check_partials(struct test_store_fixture *f, uint32_t uid, const char *sect)
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
	struct test_store_fixture *f = *state;
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
static void test_large_message_bounded(void **state)
{
	struct test_store_fixture *f = *state;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_large_message_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
