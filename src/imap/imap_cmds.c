/* imap_cmds.c: the IMAP commands that need no credentials and no
 * mailbox data: CAPABILITY, NOOP, LOGOUT (RFC 9051 6.1), ID (RFC 2971),
 * ENABLE (RFC 5161, RFC 9051 6.3.1) and NAMESPACE (RFC 2342, RFC 9051
 * 6.3.10). */
#include "imap_commands.h"
#include "imap/imap_args.h"
#include "imap/imap_condstore.h"
#include "imap/imap_reply.h"
#include "imap/imap_rev2.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_utf8.h"
#include "lib/conn.h"
#include "lib/log.h"

#include <string.h>
#include <strings.h>

/* RFC 2971 3.3: at most 30 field-value pairs, fields of 30 octets and
 * values of 1024 */
#define IMAP_ID_MAX_PAIRS 30
#define IMAP_ID_FIELD_MAX 30
#define IMAP_ID_VALUE_MAX 1024

static bool imap_no_args(struct imap_cmd *cmd)
{
	if (cmd->count == 0)
		return true;
	imap_cmd_bad(cmd, "%s takes no arguments", cmd->def->name);
	return false;
}

void imap_cmd_capability(struct imap_cmd *cmd)
{
	if (!imap_no_args(cmd))
		return;
	imap_untagged(cmd->s, "CAPABILITY %s", imap_capabilities(cmd->s));
	imap_cmd_ok(cmd, NULL, "CAPABILITY completed");
}

static void imap_noop_final(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "%s completed", cmd->def->name);
}

void imap_cmd_noop(struct imap_cmd *cmd)
{
	if (!imap_no_args(cmd))
		return;
	/* RFC 9051 6.1.2: a chance to report mailbox changes */
	if (cmd->s->state == IMAP_STATE_SELECTED) {
		imap_select_sync(cmd, imap_noop_final);
		return;
	}
	imap_noop_final(cmd);
}

/* CHECK: rev1 only (RFC 3501 6.4.1; RFC 9051 removed it): a checkpoint,
 * and every change is durable here already, so it is NOOP. */
void imap_cmd_check(struct imap_cmd *cmd)
{
	if (cmd->s->rev2) {
		imap_cmd_bad(cmd, "Unknown command CHECK");
		return;
	}
	imap_cmd_noop(cmd);
}

void imap_cmd_logout(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	if (!imap_no_args(cmd))
		return;
	/* RFC 9051 6.1.3: BYE, then the tagged OK, then the close */
	imap_untagged(s, "BYE Logging out");
	s->logout_sent = true;
	s->state = IMAP_STATE_LOGOUT;
	imap_cmd_ok(cmd, NULL, "LOGOUT completed");
	session_close(&s->base);
}

void imap_cmd_id(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	/* RFC 2971 3.1: NIL or a list of string pairs */
	if (cmd->count == 0 || (cmd->args[0].type != IMAP_ARG_NIL &&
				cmd->args[0].type != IMAP_ARG_LIST) ||
	    imap_arg_next(cmd->args, 0) != cmd->count) {
		imap_cmd_bad(cmd, "ID takes NIL or a list of field-value pairs");
		return;
	}
	str_t client = STR_INIT;
	if (cmd->args[0].type == IMAP_ARG_LIST) {
		unsigned n = cmd->args[0].list_len;
		if (n % 2 != 0 || n / 2 > IMAP_ID_MAX_PAIRS) {
			str_free(&client);
			imap_cmd_bad(cmd, "ID needs at most %u field-value pairs",
				     IMAP_ID_MAX_PAIRS);
			return;
		}
		for (unsigned i = 1; i <= n; i += 2) {
			const struct imap_arg *f = &cmd->args[i], *v = &cmd->args[i + 1];
			bool field_ok = f->type == IMAP_ARG_QUOTED || f->type == IMAP_ARG_LITERAL;
			bool value_ok = v->type == IMAP_ARG_QUOTED || v->type == IMAP_ARG_LITERAL ||
				v->type == IMAP_ARG_NIL;
			if (!field_ok || !value_ok || f->len > IMAP_ID_FIELD_MAX ||
			    (v->str != NULL && v->len > IMAP_ID_VALUE_MAX)) {
				str_free(&client);
				imap_cmd_bad(cmd, "ID fields are strings of at most %u octets, "
					     "values strings of at most %u or NIL",
					     IMAP_ID_FIELD_MAX, IMAP_ID_VALUE_MAX);
				return;
			}
			if (v->str != NULL && (strcasecmp(f->str, "name") == 0 ||
					       strcasecmp(f->str, "version") == 0))
				str_printf(&client, "%s%s", client.len > 0 ? "/" : "", v->str);
		}
	}
	if (client.len > 0)
		log_info("sid=%s event=client_id ip=%s client=%s", s->base.sid, s->base.peer_ip,
			 log_str(str_c(&client)));
	str_free(&client);
	/* RFC 2971 3.2: the server's own identification */
	imap_untagged(s, "ID (\"name\" \"Postel\" \"vendor\" \"Postel\")");
	imap_cmd_ok(cmd, NULL, "ID completed");
}

/* RFC 5161: what ENABLE can switch on, one row per extension; enable()
 * returns true only when it newly enabled the extension */
static const struct {
	const char *name;
	bool (*enable)(struct imap_session *s);
} imap_enables[] = {
	{ "CONDSTORE", imap_condstore_enable }, /* RFC 7162 3.1 */
	{ "IMAP4rev2", imap_rev2_enable }, /* RFC 9051 6.3.1 */
	{ "UTF8=ACCEPT", imap_utf8_enable }, /* RFC 6855 3 */
	{ "QRESYNC", imap_qresync_enable }, /* RFC 7162 3.2.3 */
};

void imap_cmd_enable(struct imap_cmd *cmd)
{
	if (cmd->count == 0) {
		imap_cmd_bad(cmd, "ENABLE needs capability names");
		return;
	}
	for (unsigned i = 0; i < cmd->count; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			imap_cmd_bad(cmd, "ENABLE takes capability names");
			return;
		}
		/* RFC 9051 6.3.1 / RFC 5161 3.1: ENABLE belongs to the
		 * authenticated state; with a mailbox selected only CONDSTORE
		 * and QRESYNC, whose HIGHESTMODSEQ follows (RFC 7162 3.1) */
		if (cmd->s->state == IMAP_STATE_SELECTED &&
		    strcasecmp(cmd->args[i].str, "CONDSTORE") != 0 &&
		    strcasecmp(cmd->args[i].str, "QRESYNC") != 0) {
			imap_cmd_bad(cmd, "ENABLE is valid in the authenticated state only");
			return;
		}
	}
	/* RFC 5161 3.1: only capabilities this server advertises and that
	 * need enabling are enabled, the others are ignored; ENABLED names
	 * what this command newly enabled (3.2) */
	str_t enabled = STR_INIT;
	bool condstore = cmd->s->condstore;
	for (unsigned i = 0; i < cmd->count; i++) {
		for (size_t e = 0; e < sizeof(imap_enables) / sizeof(imap_enables[0]); e++) {
			if (strcasecmp(cmd->args[i].str, imap_enables[e].name) == 0 &&
			    imap_enables[e].enable(cmd->s))
				str_printf(&enabled, " %s", imap_enables[e].name);
		}
	}
	imap_untagged(cmd->s, "ENABLED%s", str_c(&enabled));
	str_free(&enabled);
	/* RFC 7162 3.1: ENABLE CONDSTORE (or QRESYNC) is CONDSTORE-enabling;
	 * in the selected state the client is told HIGHESTMODSEQ */
	if (!condstore && cmd->s->condstore)
		imap_condstore_announce(cmd->s);
	imap_cmd_ok(cmd, NULL, "ENABLE completed");
}

void imap_cmd_namespace(struct imap_cmd *cmd)
{
	if (!imap_no_args(cmd))
		return;
	/* RFC 2342 5: one personal namespace, no prefix, "/" separator;
	 * no other users' or shared namespaces */
	imap_untagged(cmd->s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_cmd_ok(cmd, NULL, "NAMESPACE completed");
}
