/* imap_search_render.h: the untagged answer of SEARCH and UID SEARCH.
 *
 * Contract: nums are the matches in ascending order (UIDs for UID
 * SEARCH, else sequence numbers: imap_search_uids_to_seqs()). Without
 * RETURN, an IMAP4rev1 session gets "* SEARCH n..." (RFC 3501 7.2.5);
 * with RETURN, or in IMAP4rev2 (RFC 9051 7.3.4), "* ESEARCH (TAG "t")
 * [UID] [MIN n] [MAX n] [COUNT n] [ALL set]" (RFC 4731 3.1: MIN, MAX and
 * ALL are left out when nothing matched, COUNT is always given), ALL as
 * a compressed sequence set ("1:3,7"). RETURN (SAVE) alone answers
 * nothing (RFC 5182 2.1). The tag is an IMAP tag (no quoted-specials). */
#ifndef POSTEL_IMAP_SEARCH_RENDER_H
#define POSTEL_IMAP_SEARCH_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_search_parse.h"
#include "lib/mem.h"
#include "lib/str.h"

void imap_search_render(str_t *out, const struct imap_search_program *p,
			const char *tag, bool uid, bool rev2,
			const uint32_t *nums, unsigned count);

/* Append nums (ascending) as a sequence set, runs as "lo:hi". */
void imap_search_render_set(str_t *out, const uint32_t *nums, unsigned count);

/* RFC 5182 2.1: what RETURN (SAVE ...) keeps as "$": with MIN and/or MAX
 * but neither ALL nor COUNT, only those messages; else every match.
 * uids ascending; *saved_r from pool (may be uids itself). */
void imap_search_saved_result(const struct imap_search_program *p,
			      const uint32_t *uids, unsigned count,
			      pool_t *pool, uint32_t **saved_r,
			      unsigned *saved_count_r);

#endif
