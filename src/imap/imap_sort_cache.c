/* imap_sort_cache.c: SORT's keys of a message as a record the index keeps
 * (store_view_sortkeys(), messages.sortkeys, schema 11), so a SORT reads
 * one row per message instead of its structure and its header (a webmail
 * sorts on every folder view).
 *
 * A record holds every key a SORT or THREAD=ORDEREDSUBJECT may compare,
 * computed by imap_sort_msg_fill() as without the cache: the sent date
 * (INTERNALDATE when Date: is missing or bad: both never change for a
 * message), whether the subject was a reply, the base subject, the first
 * From/To/Cc addr-mailbox and the RFC 5957 display names. Layout: a
 * version octet, a flags octet (bit 0: reply), the date as 8 octets
 * little-endian, then the six strings in that order, each a 4-octet
 * little-endian length, its octets and a NUL. A record of another
 * version, or one that does not decode, is made again from the header
 * and replaced; what changes how keys are computed (RFC 5256 2.1 rules,
 * case folding) must bump IMAP_SORT_CACHE_VERSION. */
#include "imap/imap_sort.h"

#include "lib/str.h"

#include <string.h>

#define IMAP_SORT_CACHE_VERSION 1
#define IMAP_SORT_CACHE_FIXED 10        /* version, flags, date */
#define IMAP_SORT_CACHE_STRINGS 6

/* every key: the program imap_sort_msg_fill() fills a record with */
const struct imap_sort_program imap_sort_cache_program = {
	.keys = { IMAP_SORT_SUBJECT, IMAP_SORT_FROM, IMAP_SORT_TO, IMAP_SORT_CC,
		  IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO, IMAP_SORT_DATE },
	.key_count = 7,
};

bool imap_sort_cache_covers(const struct imap_sort_program *prog)
{
	/* REFERENCES needs the Message-IDs, which records do not keep */
	return !(prog->thread && prog->algorithm == IMAP_THREAD_REFERENCES);
}

static const char **record_string(struct imap_sort_msg *m, unsigned i)
{
	const char **fields[IMAP_SORT_CACHE_STRINGS] = {
		&m->subject, &m->from, &m->to, &m->cc, &m->dfrom, &m->dto,
	};
	return fields[i];
}

void imap_sort_cache_encode(const struct imap_sort_msg *m, str_t *out)
{
	uint8_t fixed[IMAP_SORT_CACHE_FIXED];
	uint64_t date = (uint64_t)m->date;
	fixed[0] = IMAP_SORT_CACHE_VERSION;
	fixed[1] = m->reply ? 1 : 0;
	for (unsigned b = 0; b < 8; b++)
		fixed[2 + b] = (uint8_t)(date >> (8 * b));
	str_clear(out);
	str_append(out, fixed, sizeof(fixed));
	for (unsigned i = 0; i < IMAP_SORT_CACHE_STRINGS; i++) {
		const char *s = *record_string((struct imap_sort_msg *)m, i);
		size_t len = strlen(s);  /* from the bounded header: well below 4 GiB */
		uint8_t n[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
				 (uint8_t)(len >> 24) };
		str_append(out, n, sizeof(n));
		str_append(out, s, len + 1);
	}
}

bool imap_sort_cache_decode(const void *blob, size_t len, struct imap_sort_msg *m)
{
	const uint8_t *p = blob;
	if (len < IMAP_SORT_CACHE_FIXED || p[0] != IMAP_SORT_CACHE_VERSION || p[1] > 1)
		return false;
	uint64_t date = 0;
	for (unsigned b = 0; b < 8; b++)
		date |= (uint64_t)p[2 + b] << (8 * b);
	size_t pos = IMAP_SORT_CACHE_FIXED;
	const char *strings[IMAP_SORT_CACHE_STRINGS];
	for (unsigned i = 0; i < IMAP_SORT_CACHE_STRINGS; i++) {
		if (len - pos < 4)
			return false;
		size_t n = (size_t)p[pos] | (size_t)p[pos + 1] << 8 | (size_t)p[pos + 2] << 16 |
			(size_t)p[pos + 3] << 24;
		pos += 4;
		/* the octets, then a NUL that ends them and nothing earlier */
		if (n >= len - pos || p[pos + n] != '\0' || memchr(p + pos, '\0', n) != NULL)
			return false;
		strings[i] = (const char *)p + pos;
		pos += n + 1;
	}
	if (pos != len)
		return false;
	m->reply = p[1] == 1;
	m->date = (int64_t)date;
	for (unsigned i = 0; i < IMAP_SORT_CACHE_STRINGS; i++)
		*record_string(m, i) = strings[i];
	return true;
}
