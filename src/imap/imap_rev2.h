/* imap_rev2.h: IMAP4rev2 (RFC 9051) beside rev1 (imap_rev2.c; see its
 * contract). IMAP4rev2 is advertised and can be enabled (every
 * folded-in extension works). */
#ifndef POSTEL_IMAP_REV2_H
#define POSTEL_IMAP_REV2_H

#include "lib/mem.h"

#include <stdbool.h>

struct imap_session;
struct store;

/* ENABLE IMAP4rev2: true if this enabled it now (imap_cmds.c table) */
bool imap_rev2_enable(struct imap_session *s);
/* In a job: the attributes of SELECT's rev2 LIST response (6.3.2) */
int imap_rev2_select_attrs(struct store *store, const char *address, const char *name,
			   pool_t *pool, const char **attrs_r, const char **error_r);

#endif
