/* imap_notify_list.c: NOTIFY's LIST responses (RFC 5465 5.4, 5.5).
 *
 * Contract: given a fresh listing of the user's mailboxes and
 * subscriptions (sorted), imap_notify_list_update() tells the client what
 * changed since the session's last listing, for the names whose group
 * asks for it: a new mailbox "LIST ()", a deleted one
 * "LIST (\NonExistent)", a renamed one (the old names gone and as many
 * new ones, the first of each side the parent of the rest, paired in
 * order) "LIST () new ("OLDNAME" (old))" (RFC 5258 6.3.8 OLDNAME), a
 * subscription "LIST (\Subscribed)", an unsubscription "LIST ()". Each
 * line needs imap_notify_room(); the listing then becomes the session's. */
#include "imap_notify.h"
#include "imap/imap_reply.h"
#include "imap/imap_session_private.h"
#include "lib/conn.h"

#include <stdlib.h>
#include <string.h>

/* a line of unsolicited output needs this much room beyond its length */
#define NOTIFY_LINE_SPARE 1024

struct notify_listing {
	pool_t *pool;
	const char **names, **subs;
	unsigned name_count, sub_count;
};

bool imap_notify_room(struct imap_session *s, size_t len)
{
	return conn_output_room(s->base.conn) >= len + NOTIFY_LINE_SPARE;
}

static bool notify_write_list(struct imap_session *s, const char *attrs, const char *name,
			      const char *old_name)
{
	str_t line = STR_INIT;
	str_printf(&line, "LIST (%s) \"/\" ", attrs);
	imap_append_mailbox(s, &line, name);
	if (old_name != NULL) {
		/* RFC 5465 5.4, RFC 5258 6.3.8 (OLDNAME) */
		str_appendz(&line, " (\"OLDNAME\" (");
		imap_append_mailbox(s, &line, old_name);
		str_appendz(&line, "))");
	}
	bool ok = imap_notify_room(s, line.len);
	if (ok)
		imap_untagged(s, "%s", str_c(&line));
	str_free(&line);
	return ok;
}

/* Names in a but not in b (both sorted), into out (pool). */
static unsigned notify_names_minus(pool_t *pool, char *const *a, unsigned a_count,
				   const char *const *b, unsigned b_count, const char ***out)
{
	*out = pool_alloc(pool, (a_count + 1) * sizeof(**out));
	unsigned n = 0, j = 0;
	for (unsigned i = 0; i < a_count; i++) {
		while (j < b_count && strcmp(b[j], a[i]) < 0)
			j++;
		if (j == b_count || strcmp(b[j], a[i]) != 0)
			(*out)[n++] = a[i];
	}
	return n;
}

/* a rename moves a mailbox and those below it: the first of each side is
 * the parent of the others, and the rest match below it */
static bool notify_is_rename(const char *const *gone, const char *const *added, unsigned count)
{
	if (count == 0)
		return false;
	size_t glen = strlen(gone[0]), alen = strlen(added[0]);
	for (unsigned i = 1; i < count; i++) {
		if (strncmp(gone[i], gone[0], glen) != 0 || gone[i][glen] != '/' ||
		    strncmp(added[i], added[0], alen) != 0 ||
		    strcmp(gone[i] + glen, added[i] + alen) != 0)
			return false;
	}
	return true;
}

static char **notify_names_copy(const char *const *names, unsigned count)
{
	char **copy = xcalloc(count + 1, sizeof(*copy));
	for (unsigned i = 0; i < count; i++)
		copy[i] = xstrdup(names[i]);
	return copy;
}

static void notify_snapshot_set(struct imap_notify *n, const struct notify_listing *l)
{
	imap_notify_names_free(&n->names, &n->name_count);
	imap_notify_names_free(&n->subs, &n->sub_count);
	n->names = notify_names_copy(l->names, l->name_count);
	n->name_count = l->name_count;
	n->subs = notify_names_copy(l->subs, l->sub_count);
	n->sub_count = l->sub_count;
	n->have_list = true;
}

/* events of a name for the list events: its group's, by the fresh list */
static bool notify_wants(struct imap_notify *n, const struct notify_listing *l,
			 const char *name, unsigned event)
{
	return (imap_notify_events_for(n, name, l->subs, l->sub_count) & event) != 0;
}

/* RFC 5465 5.4, 5.5: the difference from the last listing as LIST */
static bool notify_write_list_changes(struct imap_session *s, const struct notify_listing *l)
{
	struct imap_notify *n = s->notify;
	const char **gone, **added, **unsub, **sub;
	unsigned gone_n = notify_names_minus(l->pool, n->names, n->name_count, l->names,
					     l->name_count, &gone);
	unsigned added_n = notify_names_minus(l->pool, (char *const *)l->names,
					      l->name_count, (const char *const *)n->names,
					      n->name_count, &added);
	unsigned unsub_n = notify_names_minus(l->pool, n->subs, n->sub_count, l->subs,
					      l->sub_count, &unsub);
	unsigned sub_n = notify_names_minus(l->pool, (char *const *)l->subs, l->sub_count,
					    (const char *const *)n->subs, n->sub_count, &sub);
	bool ok = true;
	if (gone_n == added_n && notify_is_rename(gone, added, gone_n)) {
		for (unsigned i = 0; ok && i < gone_n; i++) {
			if (notify_wants(n, l, added[i], IMAP_NOTIFY_MAILBOX_NAME) ||
			    notify_wants(n, l, gone[i], IMAP_NOTIFY_MAILBOX_NAME))
				ok = notify_write_list(s, "", added[i], gone[i]);
		}
		gone_n = added_n = 0;
	}
	for (unsigned i = 0; ok && i < gone_n; i++) {
		if (notify_wants(n, l, gone[i], IMAP_NOTIFY_MAILBOX_NAME))
			ok = notify_write_list(s, "\\NonExistent", gone[i], NULL);
	}
	for (unsigned i = 0; ok && i < added_n; i++) {
		if (notify_wants(n, l, added[i], IMAP_NOTIFY_MAILBOX_NAME))
			ok = notify_write_list(s, "", added[i], NULL);
	}
	for (unsigned i = 0; ok && i < sub_n; i++) {
		if (notify_wants(n, l, sub[i], IMAP_NOTIFY_SUBSCRIPTION_CHANGE))
			ok = notify_write_list(s, "\\Subscribed", sub[i], NULL);
	}
	for (unsigned i = 0; ok && i < unsub_n; i++) {
		if (notify_wants(n, l, unsub[i], IMAP_NOTIFY_SUBSCRIPTION_CHANGE))
			ok = notify_write_list(s, "", unsub[i], NULL);
	}
	return ok;
}

bool imap_notify_list_update(struct imap_session *s, pool_t *pool, const char **names,
			     unsigned name_count, const char **subs, unsigned sub_count,
			     bool report)
{
	struct imap_notify *n = s->notify;
	const struct notify_listing l = {
		.pool = pool, .names = names, .subs = subs,
		.name_count = name_count, .sub_count = sub_count,
	};
	bool ok = true;
	if (report && n->have_list)
		ok = notify_write_list_changes(s, &l);
	notify_snapshot_set(n, &l);
	return ok;
}
