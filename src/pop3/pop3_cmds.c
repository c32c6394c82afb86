/* pop3_cmds.c: the POP3 commands that need neither credentials nor
 * message data: CAPA, STLS, UTF8, APOP (refused), QUIT, and the
 * TRANSACTION commands STAT, LIST, UIDL, DELE, NOOP, RSET. */
#include "pop3_private.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "auth/sasl.h"

#include <string.h>

static bool pop3_no_args(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!cmd->has_args)
		return true;
	pop3_err_bad(s, "%s takes no arguments", cmd->name);
	return false;
}

void pop3_cmd_capa(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_no_args(s, cmd))
		return;
	/* RFC 2449 section 5: exactly what works, in this state */
	str_t r = STR_INIT;
	str_appendz(&r, "+OK Capability list follows\r\n"
		    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == POP3_STATE_AUTHORIZATION) {
		if (!conn_is_tls(s->base.conn) && !s->tls_started && s->base.env->tls != NULL)
			str_appendz(&r, "STLS\r\n");
		if (pop3_session_auth_offered(s)) {
			/* RFC 6856 section 2: "UTF8 USER" when USER/PASS take UTF-8 */
			str_appendz(&r, "USER\r\nSASL");
			for (const char *const *m = sasl_mechanisms(); *m != NULL; m++)
				str_printf(&r, " %s", *m);
			str_appendz(&r, "\r\nUTF8 USER\r\n");
		} else {
			str_appendz(&r, "UTF8\r\n");
		}
	}
	str_appendz(&r, "IMPLEMENTATION Postel\r\n.\r\n");
	conn_write(s->base.conn, r.data, r.len);
	str_free(&r);
}

void pop3_cmd_stls(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_no_args(s, cmd))
		return;
	if (conn_is_tls(s->base.conn) || s->tls_started) {
		/* RFC 2595 section 4: no STLS under TLS */
		pop3_err_bad(s, "TLS already active");
		return;
	}
	if (s->base.env->tls == NULL) {
		pop3_err(s, "[SYS/TEMP] TLS not available");
		return;
	}
	pop3_ok(s, "Begin TLS negotiation");
	/* flushes the reply, discards pipelined input (RFC 2595 section 4:
	 * the client must not send more until the handshake), handshakes */
	conn_starttls(s->base.conn, s->base.env->tls);
	s->tls_started = true;
	/* RFC 2595 section 4: forget what was said before TLS */
	pop3_auth_abort(s);
	session_str_set(&s->user, NULL, 0);
	s->utf8 = false;
}

void pop3_cmd_utf8(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_no_args(s, cmd))
		return;
	/* RFC 6856 section 2: messages are sent as stored, with UTF-8
	 * headers unchanged (without UTF8 they are downgraded,
	 * store_downgrade.c via pop3_retr.c); USER/PASS/AUTH take UTF-8 in any case, since
	 * SASL validates it */
	s->utf8 = true;
	pop3_ok(s, "UTF8 enabled");
}

void pop3_cmd_apop(struct pop3_session *s, const struct pop3_command *cmd)
{
	(void)cmd;
	/* RFC 1939 section 7: optional; it needs the password in clear on
	 * the server, and we keep only hashes */
	pop3_err_bad(s, "APOP not supported");
}

void pop3_cmd_quit(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_no_args(s, cmd))
		return;
	if (s->state == POP3_STATE_AUTHORIZATION) {
		/* RFC 1939 section 4 */
		pop3_ok(s, "Postel POP3 server signing off");
		pop3_session_close(s);
		return;
	}
	/* RFC 1939 section 6: UPDATE */
	pop3_maildrop_update(s);
}

void pop3_cmd_stat(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_no_args(s, cmd))
		return;
	const struct pop3_maildrop *md = s->maildrop;
	/* RFC 1939 section 5: deleted messages are not counted */
	pop3_ok(s, "%u %llu", md->count - md->deleted,
		(unsigned long long)(md->total_octets - md->deleted_octets));
}

/* The multi-line LIST/UIDL reply, written as the output drains: a
 * maildrop of a million messages must not become megabytes in memory. */
static void pop3_listing_fill(void *ctx)
{
	struct pop3_session *s = ctx;
	struct pop3_maildrop *md = s->maildrop;
	str_t r = STR_INIT;
	while (s->listing_next < md->count && r.len < POP3_STREAM_CHUNK) {
		unsigned i = s->listing_next++;
		const struct pop3_msg *m = &md->msgs[i];
		if (m->deleted)
			continue;
		/* RFC 1939 section 7: the unique-id is 1-70 characters in
		 * 0x21-0x7E and stays the same across sessions: ours is
		 * UIDVALIDITY.UID, which the store never reuses */
		if (s->listing_uidl)
			str_printf(&r, "%u %u.%u\r\n", i + 1, md->uidvalidity, m->uid);
		else
			str_printf(&r, "%u %llu\r\n", i + 1, (unsigned long long)m->size);
	}
	bool done = s->listing_next == md->count;
	if (done)
		str_appendz(&r, ".\r\n");
	conn_write(s->base.conn, r.data, r.len);
	str_free(&r);
	if (done) {
		conn_set_output_drained(s->base.conn, NULL, NULL);
		pop3_session_resume(s);
	}
}

/* LIST and UIDL: one message, or all live ones as a multi-line reply. */
static void pop3_listing(struct pop3_session *s, const struct pop3_command *cmd,
			 bool uidl)
{
	struct pop3_maildrop *md = s->maildrop;
	if (cmd->has_args) {
		unsigned num;
		struct pop3_msg *m = pop3_maildrop_msg(s, cmd->args, cmd->args_len, &num);
		if (m == NULL)
			return;
		if (uidl)
			pop3_ok(s, "%u %u.%u", num, md->uidvalidity, m->uid);
		else
			pop3_ok(s, "%u %llu", num, (unsigned long long)m->size);
		return;
	}
	if (uidl)
		pop3_ok(s, "Unique-ID listing follows");
	else
		pop3_ok(s, "%u messages (%llu octets)", md->count - md->deleted,
			(unsigned long long)(md->total_octets - md->deleted_octets));
	s->listing_next = 0;
	s->listing_uidl = uidl;
	pop3_session_wait(s);
	conn_set_output_drained(s->base.conn, pop3_listing_fill, s);
	pop3_listing_fill(s);
}

void pop3_cmd_list(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_listing(s, cmd, false);
}

void pop3_cmd_uidl(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_listing(s, cmd, true);
}

void pop3_cmd_dele(struct pop3_session *s, const struct pop3_command *cmd)
{
	unsigned num;
	struct pop3_msg *m = pop3_maildrop_msg(s, cmd->args, cmd->args_len, &num);
	if (m == NULL)
		return;
	/* RFC 1939 section 5: only marked now; removed in UPDATE */
	m->deleted = true;
	s->maildrop->deleted++;
	s->maildrop->deleted_octets += m->size;
	pop3_ok(s, "Message %u deleted", num);
}

void pop3_cmd_noop(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (pop3_no_args(s, cmd))
		conn_write(s->base.conn, "+OK\r\n", 5);
}

void pop3_cmd_rset(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!pop3_no_args(s, cmd))
		return;
	struct pop3_maildrop *md = s->maildrop;
	for (unsigned i = 0; i < md->count; i++)
		md->msgs[i].deleted = false;
	md->deleted = 0;
	md->deleted_octets = 0;
	pop3_ok(s, "Maildrop has %u messages (%llu octets)", md->count,
		(unsigned long long)md->total_octets);
}
