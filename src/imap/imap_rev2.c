/* imap_rev2.c: IMAP4rev2 (RFC 9051) beside IMAP4rev1 (RFC 3501).
 *
 * Contract: a session speaks rev1 until the client sends ENABLE
 * IMAP4rev2 (RFC 9051 6.3.1), which the server always advertises. From
 * then on s->rev2 and
 * s->utf8_accept hold for the rest of the session and the commands
 * apply rev2's response rules (each marked "rev2" where it applies):
 * no \Recent anywhere (RFC 9051 E.1.2 / 2.3.2), SEARCH keys RECENT, NEW
 * and OLD and STATUS RECENT are BAD, SEARCH answers ESEARCH (7.3.4),
 * LSUB and CHECK do not exist, mailbox names are UTF-8 both ways (5.1),
 * SELECT answers LIST and not RECENT or [UNSEEN] (6.3.2), and a
 * SELECT that replaces a selection first sends "OK [CLOSED]" (7.1).
 *
 * Every extension RFC 9051 folds in (Appendix E: NAMESPACE, UNSELECT,
 * UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE, SASL-IR, LIST-EXTENDED,
 * LIST-STATUS, MOVE, LITERAL-, BINARY, SPECIAL-USE, STATUS=SIZE) is
 * served, so IMAP4rev2 is part of CAPABILITY unconditionally: there is no
 * switch, at build time or in the config. */
#include "imap_rev2.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_session_private.h"
#include "store/store.h"

#include <string.h>

bool imap_rev2_enable(struct imap_session *s)
{
	/* RFC 5161 3.2: ENABLED names what this command newly enabled */
	if (s->rev2)
		return false;
	s->rev2 = true;
	/* RFC 9051 5.1: rev2 mailbox names are UTF-8, never modified UTF-7 */
	s->utf8_accept = true;
	return true;
}

int imap_rev2_select_attrs(struct store *store, const char *address, const char *name,
			   pool_t *pool, const char **attrs_r, const char **error_r)
{
	const char **names;
	unsigned count, first;
	if (imap_mailbox_names(store, address, pool, &names, &count, error_r) < 0)
		return -1;
	/* RFC 9051 6.3.2: the LIST response's attributes MUST be accurate:
	 * the same children and special-use attributes LIST gives */
	const char *children = imap_names_below(names, count, name, &first) > 0 ?
		"\\HasChildren" : "\\HasNoChildren";
	const char *su = imap_list_special_use(name);
	const char *attrs = pool_printf(pool, "%s%s%s", children, su != NULL ? " " : "",
					su != NULL ? su : "");
	*attrs_r = attrs;
	return 0;
}
