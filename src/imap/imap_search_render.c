/* imap_search_render.c: SEARCH / ESEARCH answers and the RFC 5182
 * saved result (imap_search_render.h). */
#include "imap/imap_search_render.h"

void imap_search_render_set(str_t *out, const uint32_t *nums, unsigned count)
{
	for (unsigned i = 0; i < count;) {
		unsigned j = i;
		while (j + 1 < count && nums[j + 1] == nums[j] + 1)
			j++;
		if (i > 0)
			str_appendc(out, ',');
		if (j == i)
			str_printf(out, "%u", nums[i]);
		else
			str_printf(out, "%u:%u", nums[i], nums[j]);
		i = j + 1;
	}
}

void imap_search_render(str_t *out, const struct imap_search_program *p,
			const char *tag, bool uid, bool rev2,
			const uint32_t *nums, unsigned count)
{
	if (!p->has_return && !rev2) {
		/* RFC 3501 7.2.5 */
		str_appendz(out, "* SEARCH");
		for (unsigned i = 0; i < count; i++)
			str_printf(out, " %u", nums[i]);
		str_appendz(out, "\r\n");
		return;
	}
	/* RFC 9051 6.4.4: no RETURN is RETURN (ALL) */
	unsigned opts = p->has_return ? p->return_opts : IMAP_SEARCH_RETURN_ALL;
	if (opts == IMAP_SEARCH_RETURN_SAVE)
		return;
	str_printf(out, "* ESEARCH (TAG \"%s\")", tag);
	if (uid)
		str_appendz(out, " UID");
	if (count > 0 && (opts & IMAP_SEARCH_RETURN_MIN) != 0)
		str_printf(out, " MIN %u", nums[0]);
	if (count > 0 && (opts & IMAP_SEARCH_RETURN_MAX) != 0)
		str_printf(out, " MAX %u", nums[count - 1]);
	if ((opts & IMAP_SEARCH_RETURN_COUNT) != 0)
		str_printf(out, " COUNT %u", count);
	if (count > 0 && (opts & IMAP_SEARCH_RETURN_ALL) != 0) {
		str_appendz(out, " ALL ");
		imap_search_render_set(out, nums, count);
	}
	str_appendz(out, "\r\n");
}

void imap_search_saved_result(const struct imap_search_program *p,
			      const uint32_t *uids, unsigned count,
			      pool_t *pool, uint32_t **saved_r,
			      unsigned *saved_count_r)
{
	unsigned opts = p->return_opts;
	unsigned minmax = opts & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX);
	bool whole = (opts & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) != 0 ||
		minmax == 0;
	uint32_t *saved = pool_alloc(pool, 2 * sizeof(*saved) + (whole ? count * sizeof(*saved) : 0));
	unsigned n = 0;
	if (whole) {
		for (unsigned i = 0; i < count; i++)
			saved[n++] = uids[i];
	} else if (count > 0) {
		if ((opts & IMAP_SEARCH_RETURN_MIN) != 0)
			saved[n++] = uids[0];
		if ((opts & IMAP_SEARCH_RETURN_MAX) != 0 && (n == 0 || uids[count - 1] != saved[0]))
			saved[n++] = uids[count - 1];
	}
	*saved_r = saved;
	*saved_count_r = n;
}
