/* probe_reply.c: server reply parsers for probe. See probe_reply.h. */
#include "probe/probe_reply.h"
#include "lib/str.h"

#include <string.h>
#include <strings.h>

int probe_line_next(const char *buf, size_t len, const char **line_r,
		    size_t *line_len_r, size_t *consumed_r)
{
	size_t scan = len < PROBE_LINE_MAX ? len : PROBE_LINE_MAX;
	const char *lf = memchr(buf, '\n', scan);

	if (lf == NULL)
		return len >= PROBE_LINE_MAX ? -1 : 0;
	size_t n = (size_t)(lf - buf);
	*consumed_r = n + 1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*line_r = buf;
	*line_len_r = n;
	return 1;
}

int probe_smtp_reply_line(const char *line, size_t len, unsigned *code_r,
			  bool *last_r, const char **text_r, size_t *text_len_r)
{
	if (len < 3)
		return -1;
	for (unsigned i = 0; i < 3; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
	}
	if (line[0] < '2' || line[0] > '5')
		return -1;
	*code_r = (unsigned)((line[0] - '0') * 100 + (line[1] - '0') * 10 +
			     (line[2] - '0'));
	if (len == 3) {
		*last_r = true;
		*text_r = line + 3;
		*text_len_r = 0;
		return 0;
	}
	if (line[3] != ' ' && line[3] != '-')
		return -1;
	*last_r = line[3] == ' ';
	*text_r = line + 4;
	*text_len_r = len - 4;
	return 0;
}

bool probe_caps_has(const struct probe_caps *caps, const char *word)
{
	for (unsigned i = 0; i < caps->count; i++) {
		if (strcasecmp(caps->items[i], word) == 0)
			return true;
	}
	return false;
}

void probe_caps_add(pool_t *pool, struct probe_caps *caps,
		    const char *word, size_t len)
{
	if (len == 0)
		return;
	char *safe = probe_text_safe(pool, word, len, PROBE_CAP_LEN_MAX);
	if (probe_caps_has(caps, safe))
		return;
	if (caps->count == PROBE_CAPS_MAX) {
		caps->truncated = true;
		return;
	}
	caps->items[caps->count++] = safe;
}

/* The next space-separated word of text from *pos on: true with the
 * word, false at the end. */
static bool probe_word_next(const char *text, size_t len, size_t *pos,
			    const char **word_r, size_t *word_len_r)
{
	size_t i = *pos;
	while (i < len && text[i] == ' ')
		i++;
	size_t start = i;
	while (i < len && text[i] != ' ')
		i++;
	*pos = i;
	*word_r = text + start;
	*word_len_r = i - start;
	return i > start;
}

/* Each space-separated word of text into list. */
static void probe_words(pool_t *pool, struct probe_caps *list,
			const char *text, size_t len)
{
	const char *word;
	size_t pos = 0, n;

	while (probe_word_next(text, len, &pos, &word, &n))
		probe_caps_add(pool, list, word, n);
}

/* The first word of text: its length. */
static size_t probe_first_word(const char *text, size_t len)
{
	const char *sp = memchr(text, ' ', len);
	return sp != NULL ? (size_t)(sp - text) : len;
}

/* A keyword line: whole into caps; when its first word is keyword (4
 * letters), the words after it into mechs. */
static void probe_keyword_line(pool_t *pool, struct probe_caps *caps,
			       struct probe_caps *mechs, const char *text,
			       size_t len, const char *keyword)
{
	size_t word = probe_first_word(text, len);

	probe_caps_add(pool, caps, text, len);
	if (word == 4 && mem_ieq(text, keyword, 4))
		probe_words(pool, mechs, text + 4, len - 4);
}

void probe_smtp_ehlo_line(pool_t *pool, struct probe_caps *caps,
			  struct probe_caps *mechs, const char *text, size_t len)
{
	probe_keyword_line(pool, caps, mechs, text, len, "AUTH");
	if (probe_first_word(text, len) > 5 && mem_ieq(text, "AUTH=", 5))
		probe_words(pool, mechs, text + 5, len - 5); /* pre-RFC 4954 form */
}

void probe_pop3_capa_line(pool_t *pool, struct probe_caps *caps,
			  struct probe_caps *mechs, const char *line, size_t len)
{
	probe_keyword_line(pool, caps, mechs, line, len, "SASL");
}

void probe_imap_caps(pool_t *pool, struct probe_caps *caps,
		     struct probe_caps *mechs, const char *text, size_t len)
{
	const char *word;
	size_t pos = 0, n;

	while (probe_word_next(text, len, &pos, &word, &n)) {
		probe_caps_add(pool, caps, word, n);
		if (n > 5 && mem_ieq(word, "AUTH=", 5))
			probe_caps_add(pool, mechs, word + 5, n - 5);
	}
}

int probe_imap_caps_in_line(const char *line, size_t len,
			    const char **caps_r, size_t *caps_len_r)
{
	if (len < 2 || line[0] != '*' || line[1] != ' ')
		return 0;
	line += 2;
	len -= 2;
	if (slice_iprefix(line, len, "CAPABILITY ")) {
		*caps_r = line + 11;
		*caps_len_r = len - 11;
		return 1;
	}
	size_t word = probe_first_word(line, len);
	if (word == len)
		return 0;
	/* RFC 9051 7.1: "* OK [CAPABILITY ...] text" */
	line += word + 1;
	len -= word + 1;
	if (!slice_iprefix(line, len, "[CAPABILITY "))
		return 0;
	const char *end = memchr(line, ']', len);
	if (end == NULL)
		return 0;
	*caps_r = line + 12;
	*caps_len_r = (size_t)(end - line) - 12;
	return 1;
}
