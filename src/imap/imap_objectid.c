/* imap_objectid.c: OBJECTID (RFC 8474) and PREVIEW / SAVEDATE FETCH
 * items' text, and the EMAILID / THREADID search keys.
 *
 * Contract: pure functions over a store_message_info (store.h), usable
 * on a lane thread. An EMAILID is "M" and the 32 hex digits of the
 * message's guid (kept by COPY and MOVE: 5.1), a THREADID "T" and those
 * of its thread (5.2, store_index_objectid.c), a MAILBOXID is the
 * store's own (store_mailbox_status.mailboxid, "F..."): each an objectid
 * of RFC 8474 3 (1-255 of ALPHA, DIGIT, "-", "_").
 * Where THREADID is served (FETCH THREADID, the THREADID search key) the
 * mailbox's old mail first gets its subject keys, once per mailbox
 * (store_view_thread_backfill(), store_thread_backfill.c), so that a
 * later reply naming no known message-id joins its thread (5.2, RFC 5256
 * 4 step 6): the only clients that see THREADIDs are those that ask. */
#include "imap_fetch_cmd.h"
#include "imap/imap_fetch_render_private.h"
#include "imap/imap_search_eval_private.h"

#include "lib/log.h"
#include "store/store_view.h"

#include <string.h>
#include <strings.h>

/* prefix and the 32 hex digits of id */
static void imap_objectid_format(char out[STORE_OBJECTID_SIZE], char prefix,
				 const uint8_t id[STORE_GUID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	out[0] = prefix;
	for (unsigned i = 0; i < STORE_GUID_SIZE; i++) {
		out[1 + 2 * i] = hex[id[i] >> 4];
		out[2 + 2 * i] = hex[id[i] & 0xf];
	}
	out[1 + 2 * STORE_GUID_SIZE] = '\0';
}

void imap_objectid_fetch_item(str_t *out, enum imap_fetch_item item,
			      const struct store_message_info *info,
			      const char *preview)
{
	char id[STORE_OBJECTID_SIZE];
	switch (item) {
	case IMAP_FETCH_EMAILID: /* RFC 8474 5.1 */
		imap_objectid_format(id, 'M', info->guid);
		str_printf(out, "EMAILID (%s)", id);
		break;
	case IMAP_FETCH_THREADID: /* RFC 8474 5.2 */
		imap_objectid_format(id, 'T', info->threadid);
		str_printf(out, "THREADID (%s)", id);
		break;
	case IMAP_FETCH_PREVIEW: /* RFC 8970 3.1: "" if no text part */
		str_appendz(out, "PREVIEW ");
		imap_render_nstring_z(out, preview != NULL ? preview : "");
		break;
	default:
		break;
	}
}

bool imap_objectid_search_match(enum imap_search_key key, const char *want,
				size_t len, const struct store_message_info *info)
{
	char id[STORE_OBJECTID_SIZE];
	/* RFC 8474 6: the exact id (ours are lower case; ids are
	 * case-sensitive, but a client that upper-cases one still means it) */
	if (key == IMAP_SEARCH_EMAILID)
		imap_objectid_format(id, 'M', info->guid);
	else
		imap_objectid_format(id, 'T', info->threadid);
	return strlen(id) == len && strncasecmp(id, want, len) == 0;
}

void imap_objectid_thread_backfill(struct store_view *view)
{
	const char *error;
	if (store_view_thread_backfill(view, &error) < 0)
		log_warn("event=thread_backfill_failed error=%s", log_str(error));
}

void imap_objectid_search_backfill(const struct imap_search_program *prog,
				   struct store_view *view)
{
	for (unsigned i = 0; i < prog->count; i++)
		if (prog->nodes[i].key == IMAP_SEARCH_THREADID) {
			imap_objectid_thread_backfill(view);
			return;
		}
}
