/* imap_notify_fetch.c: MessageNew's fetch attributes (RFC 5465 5.2):
 * after the "* n EXISTS" that reports new messages in the selected
 * mailbox, the FETCH of those messages with the attributes the client
 * gave in NOTIFY SET, between commands.
 *
 * Contract: NOTIFY SET hands the parsed request over
 * (imap_notify_fetch_keep), with its header field names copied to the
 * heap so it outlives the command. Before the selected mailbox is synced
 * the highest UID in the view is noted (imap_notify_fetch_mark); after
 * the sync, the messages above it are the new ones and FETCH's own job
 * (imap_fetch_run_uids: FETCH's renderer, on the user's lane, chunked as
 * the client reads) answers for them, UID first, \Seen set as FETCH sets
 * it. At most IMAP_NOTIFY_FETCH_MAX messages a time: more and the client
 * gets only the EXISTS for the rest (it can FETCH them itself). */
#include "imap_notify.h"
#include "imap/imap_fetch_cmd.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <stdlib.h>
#include <string.h>

/* new messages fetched after one sync */
#define IMAP_NOTIFY_FETCH_MAX 1000

void imap_notify_fetch_keep(struct imap_notify *n, struct imap_fetch_request *req)
{
	size_t total = 0;
	for (unsigned i = 0; i < req->count; i++)
		for (unsigned j = 0; j < req->atts[i].field_count; j++)
			total += req->atts[i].fields[j].len + 1;
	char *p = n->fetch_names = xmalloc(total + 1);
	for (unsigned i = 0; i < req->count; i++) {
		struct imap_fetch_att *att = &req->atts[i];
		for (unsigned j = 0; j < att->field_count; j++) {
			memcpy(p, att->fields[j].name, att->fields[j].len);
			p[att->fields[j].len] = '\0';
			att->fields[j].name = p;
			p += att->fields[j].len + 1;
		}
	}
	n->fetch = *req;
	*req = (struct imap_fetch_request){ 0 };
}

void imap_notify_fetch_free(struct imap_notify *n)
{
	imap_fetch_request_free(&n->fetch);
	free(n->fetch_names);
	n->fetch_names = NULL;
}

static bool notify_fetch_wanted(const struct imap_session *s)
{
	const struct imap_notify *n = s->notify;
	return n != NULL && n->fetch.count > 0 && s->sel != NULL && s->sel->view != NULL &&
		(n->selected_events & IMAP_NOTIFY_MESSAGE_NEW) != 0;
}

void imap_notify_fetch_mark(struct imap_session *s)
{
	if (!notify_fetch_wanted(s))
		return;
	unsigned count = store_view_count(s->sel->view);
	s->notify->fetch_after = count == 0 ? 0 : store_view_uid(s->sel->view, count);
}

bool imap_notify_fetch_start(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd))
{
	struct imap_session *s = cmd->s;
	if (!notify_fetch_wanted(s) || s->base.closing)
		return false;
	struct store_view *view = s->sel->view;
	uint32_t after = s->notify->fetch_after;
	unsigned count = store_view_count(view), first = count + 1;
	/* the new messages are the last ones of the map, UIDs ascending */
	while (first > 1 && count - first + 1 < IMAP_NOTIFY_FETCH_MAX &&
	       store_view_uid(view, first - 1) > after)
		first--;
	if (first > count)
		return false;
	if (conn_output_room(s->base.conn) < IMAP_NOTIFY_ROOM_MIN) {
		/* RFC 5465 5.8: the client is not reading */
		log_info("sid=%s event=notify_fetch_skipped user=%s messages=%u", s->base.sid,
			 log_str(s->user), count - first + 1);
		return false;
	}
	uint32_t *uids = pool_alloc(s->base.cmd_pool, (count - first + 1) * sizeof(*uids));
	for (unsigned seq = first; seq <= count; seq++)
		uids[seq - first] = store_view_uid(view, seq);
	log_debug("sid=%s event=notify_fetch messages=%u", s->base.sid, count - first + 1);
	imap_fetch_run_uids(cmd, uids, count - first + 1, &s->notify->fetch, final);
	return true;
}
