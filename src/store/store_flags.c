/* store_flags.c: the flag text the index keeps and listings return
 * (store_view.h), backend-neutral.
 *
 * A flag text is the message's flags separated by single spaces: the
 * system flags first, in a fixed order, then the keywords in the order
 * they were set. Flag names compare case-insensitively (RFC 9051 2.3.2),
 * so setting "$label1" when "$Label1" is there changes nothing. */
#include "store/store_view.h"
#include "lib/str.h"

#include <string.h>
#include <strings.h>

static const struct {
	unsigned bit;
	const char *name;
} system_flags[] = {
	{ STORE_FLAG_ANSWERED, "\\Answered" },
	{ STORE_FLAG_FLAGGED, "\\Flagged" },
	{ STORE_FLAG_DELETED, "\\Deleted" },
	{ STORE_FLAG_SEEN, "\\Seen" },
	{ STORE_FLAG_DRAFT, "\\Draft" },
};
#define SYSTEM_FLAG_COUNT (sizeof(system_flags) / sizeof(*system_flags))

int store_keyword_check(const char *name, const char **error_r)
{
	size_t len = strlen(name);
	if (len == 0 || len > STORE_KEYWORD_MAX) {
		*error_r = "keyword empty or too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		/* RFC 9051 9: atom-specials, and '\' which marks a system flag */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL) {
			*error_r = "keyword is not an atom";
			return -1;
		}
	}
	return 0;
}

/* The words of text (at most max). */
static unsigned text_words(const char *text, const char **words,
			   size_t *lens, unsigned max)
{
	unsigned n = 0;
	const char *p = text;
	while (*p != '\0' && n < max) {
		while (*p == ' ')
			p++;
		const char *start = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (p > start) {
			words[n] = start;
			lens[n++] = (size_t)(p - start);
		}
	}
	return n;
}

static unsigned word_bit(const char *word, size_t len)
{
	for (unsigned i = 0; i < SYSTEM_FLAG_COUNT; i++) {
		if (strlen(system_flags[i].name) == len &&
		    strncasecmp(system_flags[i].name, word, len) == 0)
			return system_flags[i].bit;
	}
	return 0;
}

unsigned store_flags_text_bits(const char *text)
{
	const char *words[64];
	size_t lens[64];
	unsigned n = text_words(text, words, lens, 64), bits = 0;
	for (unsigned i = 0; i < n; i++)
		bits |= word_bit(words[i], lens[i]);
	return bits;
}

static bool keyword_listed(const char *word, size_t len,
			   const char *const *keywords, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (strlen(keywords[i]) == len &&
		    strncasecmp(keywords[i], word, len) == 0)
			return true;
	}
	return false;
}

const char *store_flags_text_apply(const char *text,
				   const struct store_flags_update *update,
				   pool_t *pool)
{
	/* a message keeps at most 64 words: more keywords are dropped, as
	 * a server may refuse them (RFC 9051 7.3.2 PERMANENTFLAGS) */
	const char *words[64];
	size_t lens[64];
	unsigned n = text_words(text, words, lens, 64), bits = 0;
	for (unsigned i = 0; i < n; i++)
		bits |= word_bit(words[i], lens[i]);
	unsigned sys = update->sysflags & STORE_FLAGS_SYSTEM;
	bits = update->op == STORE_FLAGS_ADD ? bits | sys :
		update->op == STORE_FLAGS_REMOVE ? bits & ~sys : sys;
	str_t out = STR_INIT;
	for (unsigned i = 0; i < SYSTEM_FLAG_COUNT; i++) {
		if ((bits & system_flags[i].bit) != 0)
			str_printf(&out, "%s%s", out.len > 0 ? " " : "",
				   system_flags[i].name);
	}
	unsigned kept = 0;
	/* keywords already there, unless removed or replaced */
	for (unsigned i = 0; i < n && update->op != STORE_FLAGS_REPLACE; i++) {
		if (word_bit(words[i], lens[i]) != 0 || words[i][0] == '\\')
			continue;
		bool listed = keyword_listed(words[i], lens[i], update->keywords,
					     update->keyword_count);
		if (update->op == STORE_FLAGS_REMOVE && listed)
			continue;
		if (kept++ >= 64 - SYSTEM_FLAG_COUNT)
			break;
		str_printf(&out, "%s%.*s", out.len > 0 ? " " : "", (int)lens[i],
			   words[i]);
	}
	for (unsigned i = 0; i < update->keyword_count &&
		     update->op != STORE_FLAGS_REMOVE; i++) {
		const char *kw = update->keywords[i];
		bool dup = keyword_listed(kw, strlen(kw), update->keywords, i);
		for (unsigned j = 0; j < n && !dup && update->op == STORE_FLAGS_ADD; j++)
			dup = strlen(kw) == lens[j] &&
				strncasecmp(kw, words[j], lens[j]) == 0;
		if (dup || kept++ >= 64 - SYSTEM_FLAG_COUNT)
			continue;
		str_printf(&out, "%s%s", out.len > 0 ? " " : "", kw);
	}
	const char *result = pool_strdup(pool, out.len > 0 ? str_c(&out) : "");
	str_free(&out);
	return result;
}
