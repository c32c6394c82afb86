/* imap_sort_keys.c: what SORT and THREAD compare, from a message's raw
 * header block (imap_sort.h imap_sort_msg_fill()): the base subject
 * (RFC 5256 2.1), the first From/To/Cc address's mailbox (RFC 5256 3),
 * display names (RFC 5957 2), the sent date (RFC 5322 3.3, in UTC),
 * Message-ID, References and In-Reply-To (RFC 5256 4 REFERENCES 1, by
 * the rule THREADID shares: mime_references.h). */
#include "imap/imap_sort.h"

#include "imap/imap_fetch_render_private.h"
#include "mime/mime_address.h"
#include "mime/mime_decode.h"
#include "mime/mime_header.h"
#include "mime/mime_references.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* the fields a record may need, in the order of field_names */
enum { F_SUBJECT, F_FROM, F_TO, F_CC, F_DATE, F_MSGID, F_REFS, F_IRT, F_COUNT };
static const char *const field_names[F_COUNT] = {
	"Subject", "From", "To", "Cc", "Date", "Message-ID", "References", "In-Reply-To",
};

static const char *folded(pool_t *pool, const char *s, size_t len)
{
	str_t f = STR_INIT;
	mime_utf8_fold(s, len, &f);
	const char *out = pool_strndup(pool, f.data != NULL ? f.data : "", f.len);
	str_free(&f);
	return out;
}

/* the first address of a list that is a mailbox (not a group marker) */
static const struct mime_address *first_address(pool_t *pool, const str_t *v)
{
	struct mime_address *addrs;
	uint32_t n = mime_address_parse(pool, v->data, v->len, &addrs);
	for (uint32_t i = 0; i < n; i++) {
		if (addrs[i].host != NULL && addrs[i].mailbox != NULL)
			return &addrs[i];
	}
	return NULL;
}

/* RFC 5256 3: FROM/TO/CC sort by the addr-mailbox of the first address */
static const char *addr_mailbox(pool_t *pool, const str_t *v)
{
	const struct mime_address *a = v->len > 0 ? first_address(pool, v) : NULL;
	return a == NULL ? "" : folded(pool, a->mailbox, strlen(a->mailbox));
}

/* RFC 5957 2: the display name if there is one, else the addr-spec */
static const char *display_name(pool_t *pool, const str_t *v)
{
	const struct mime_address *a = v->len > 0 ? first_address(pool, v) : NULL;
	if (a == NULL)
		return "";
	if (a->name != NULL && a->name[0] != '\0')
		return folded(pool, a->name, strlen(a->name));
	char *spec = a->host[0] != '\0' ? pool_printf(pool, "%s@%s", a->mailbox, a->host) :
		pool_strdup(pool, a->mailbox);
	return folded(pool, spec, strlen(spec));
}

void imap_sort_msg_fill(const struct imap_sort_program *prog, const char *hdr, size_t len,
			pool_t *pool, struct imap_sort_msg *m)
{
	str_t v[F_COUNT];
	bool seen[F_COUNT] = { false };
	for (unsigned f = 0; f < F_COUNT; f++)
		str_init(&v[f]);
	size_t pos = 0, name_len, field_len;
	const char *name, *field;
	while (hdr != NULL && imap_header_next_field(hdr, len, &pos, &name, &name_len, &field,
						     &field_len)) {
		for (unsigned f = 0; f < F_COUNT; f++) {
			/* RFC 5322 3.6: the first of each field counts */
			if (seen[f] || strlen(field_names[f]) != name_len ||
			    !mem_ieq(name, field_names[f], name_len))
				continue;
			const char *val = memchr(field, ':', field_len) + 1;
			mime_header_unfold(val, field_len - (size_t)(val - field), &v[f]);
			seen[f] = true;
		}
	}
	m->subject = mime_references_subject(v[F_SUBJECT].data, v[F_SUBJECT].len, pool,
					     &m->reply);
	bool want_from = false, want_to = false, want_cc = false, want_dfrom = false, want_dto = false;
	for (unsigned k = 0; k < prog->key_count; k++) {
		want_from |= prog->keys[k] == IMAP_SORT_FROM;
		want_to |= prog->keys[k] == IMAP_SORT_TO;
		want_cc |= prog->keys[k] == IMAP_SORT_CC;
		want_dfrom |= prog->keys[k] == IMAP_SORT_DISPLAYFROM;
		want_dto |= prog->keys[k] == IMAP_SORT_DISPLAYTO;
	}
	m->from = want_from ? addr_mailbox(pool, &v[F_FROM]) : "";
	m->to = want_to ? addr_mailbox(pool, &v[F_TO]) : "";
	m->cc = want_cc ? addr_mailbox(pool, &v[F_CC]) : "";
	m->dfrom = want_dfrom ? display_name(pool, &v[F_FROM]) : "";
	m->dto = want_dto ? display_name(pool, &v[F_TO]) : "";
	/* RFC 5256 3 DATE / 4 "sent date": INTERNALDATE when Date: is
	 * missing or cannot be parsed */
	if (!seen[F_DATE] || !imap_sort_parse_date(v[F_DATE].data, v[F_DATE].len, &m->date))
		m->date = m->arrival;
	if (prog->thread && prog->algorithm == IMAP_THREAD_REFERENCES)
		mime_references_parse(v[F_MSGID].data, v[F_MSGID].len, v[F_REFS].data,
				      v[F_REFS].len, v[F_IRT].data, v[F_IRT].len, pool, &m->ids);
	for (unsigned f = 0; f < F_COUNT; f++)
		str_free(&v[f]);
}
