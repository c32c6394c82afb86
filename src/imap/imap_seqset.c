/* imap_seqset.c: sequence-set parsing and walking (see imap_seqset.h). */
#include "imap/imap_seqset.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/mem.h"

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : 0;
}

/* Sort and merge overlapping or adjacent ranges. */
static void normalise(struct imap_seqset *set)
{
	if (set->count == 0)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	unsigned out = 0;
	for (unsigned i = 1; i < set->count; i++) {
		struct imap_seq_range *last = &set->ranges[out];
		if (set->ranges[i].lo <= last->hi + 1) {
			if (set->ranges[i].hi > last->hi)
				last->hi = set->ranges[i].hi;
		} else {
			set->ranges[++out] = set->ranges[i];
		}
	}
	set->count = out + 1;
}

static _Thread_local char seq_error[96];

static int seq_fail(size_t pos, const char *what, const char **error_r)
{
	snprintf(seq_error, sizeof(seq_error), "%s (column %zu of the set)", what, pos + 1);
	*error_r = seq_error;
	return -1;
}

/* seq-number = nz-number / "*" (RFC 9051 9) */
static int read_seq_number(const char *s, size_t len, size_t *pos, uint64_t *n_r,
			   const char **error_r)
{
	size_t i = *pos;
	if (i < len && s[i] == '*') {
		*n_r = IMAP_SEQ_STAR;
		*pos = i + 1;
		return 0;
	}
	if (i >= len || s[i] < '1' || s[i] > '9')
		return seq_fail(i, "Invalid sequence number", error_r);
	uint64_t n = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > IMAP_SEQ_MAX)
			return seq_fail(*pos, "Sequence number above 4294967295", error_r);
	}
	*n_r = n;
	*pos = i;
	return 0;
}

int imap_seqset_parse(const char *s, size_t len, unsigned max_ranges,
		      struct imap_seqset *set_r, const char **error_r)
{
	*set_r = (struct imap_seqset){ 0 };
	*error_r = NULL;
	if (len == 1 && s[0] == '$') {
		set_r->saved = true;
		return 0;
	}
	if (len == 0)
		return seq_fail(0, "Empty sequence set", error_r);
	/* allocate for the ranges present, never more than max_ranges */
	unsigned want = 1;
	for (size_t i = 0; i < len && want <= max_ranges; i++)
		want += s[i] == ',';
	if (want > max_ranges)
		return seq_fail(0, "Too many ranges in the sequence set", error_r);
	set_r->ranges = xcalloc(want, sizeof(*set_r->ranges));
	size_t pos = 0;
	for (;;) {
		uint64_t lo, hi;
		if (read_seq_number(s, len, &pos, &lo, error_r) < 0)
			goto bad;
		hi = lo;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (read_seq_number(s, len, &pos, &hi, error_r) < 0)
				goto bad;
		}
		if (lo > hi) {
			uint64_t t = lo;
			lo = hi;
			hi = t;
		}
		set_r->has_star |= hi == IMAP_SEQ_STAR;
		set_r->ranges[set_r->count++] = (struct imap_seq_range){ lo, hi };
		if (pos == len)
			break;
		if (s[pos] != ',') {
			seq_fail(pos, "Invalid character in sequence set", error_r);
			goto bad;
		}
		pos++;
	}
	normalise(set_r);
	return 0;
bad:
	imap_seqset_free(set_r);
	return -1;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	set->ranges = NULL;
	set->count = 0;
}

void imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	unsigned out = 0;
	for (unsigned i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (r.lo == IMAP_SEQ_STAR)
			r.lo = max;
		if (r.hi == IMAP_SEQ_STAR)
			r.hi = max;
		if (r.lo > r.hi) {
			uint64_t t = r.lo;
			r.lo = r.hi;
			r.hi = t;
		}
		if (r.hi > max)
			r.hi = max;
		if (r.lo == 0)
			r.lo = 1;
		if (r.lo <= r.hi)
			set->ranges[out++] = r;
	}
	set->count = out;
	set->has_star = false;
	normalise(set);
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	unsigned lo = 0, hi = set->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].hi < n)
			lo = mid + 1;
		else if (set->ranges[mid].lo > n)
			hi = mid;
		else
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < set->count; i++)
		n += set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set)
{
	it->set = set;
	it->idx = 0;
	it->next = set->count > 0 ? set->ranges[0].lo : 0;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r)
{
	while (it->idx < it->set->count) {
		const struct imap_seq_range *r = &it->set->ranges[it->idx];
		if (it->next <= r->hi && r->hi <= IMAP_SEQ_MAX) {
			*n_r = (uint32_t)it->next++;
			return true;
		}
		if (++it->idx < it->set->count)
			it->next = it->set->ranges[it->idx].lo;
	}
	return false;
}
