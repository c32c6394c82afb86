/* imap_reply.c: what the server writes besides tagged replies: untagged
 * data, IMAP strings (quoted or literal), mailbox names in modified UTF-7
 * for IMAP4rev1 (RFC 3501 5.1.3) or UTF-8, the capability list, and large
 * answers written within the output cap as the client reads. */
#include "imap_reply.h"
#include "auth/sasl.h"
#include "imap/imap_session_private.h"
#include "lib/config.h"
#include "lib/conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	str_t line = STR_INIT;
	va_list ap;
	str_appendz(&line, "* ");
	va_start(ap, fmt);
	str_vprintf(&line, fmt, ap);
	va_end(ap);
	str_appendz(&line, "\r\n");
	conn_write(s->base.conn, line.data, line.len);
	str_free(&line);
}

/* The login part of the list before login: STARTTLS, the mechanisms or
 * LOGINDISABLED. */
static void imap_capabilities_login(const struct imap_session *s, str_t *caps)
{
	/* RFC 4978 4: no STARTTLS under COMPRESS (after UNAUTHENTICATE,
	 * RFC 8437, the layers stay) */
	if (!conn_is_tls(s->base.conn) && !s->tls_started && s->base.env->tls != NULL &&
	    !conn_is_compressed(s->base.conn))
		str_appendz(caps, " STARTTLS");
	if (imap_session_auth_offered(s)) {
		for (const char *const *m = sasl_mechanisms(); *m != NULL; m++)
			str_printf(caps, " AUTH=%s", *m);
	} else {
		/* RFC 9051 6.2.3: no LOGIN (nor AUTHENTICATE) in clear */
		str_appendz(caps, " LOGINDISABLED");
	}
}

const char *imap_capabilities(const struct imap_session *s)
{
	str_t caps = STR_INIT;
	/* RFC 9051 7.2.2: what this server does, no more; each extension
	 * here is served in full. Before login only what a client needs to
	 * log in (as Dovecot's login_capability): the login's OK carries the
	 * whole list (RFC 9051 6.2.3), which keeps every greeting short.
	 * IMAP4rev2 (imap_rev2.c): all it folds in is served */
	str_appendz(&caps, "IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ID ENABLE IDLE");
	if (s->state == IMAP_STATE_NOT_AUTH) {
		imap_capabilities_login(s, &caps);
		const char *ret = t_strndup(caps.data, caps.len);
		str_free(&caps);
		return ret;
	}
	str_appendz(&caps, " UNSELECT NAMESPACE");
	/* RFC 4315, RFC 6851 (imap_copy.c, imap_expunge.c) */
	str_appendz(&caps, " UIDPLUS MOVE");
	str_appendz(&caps, " CONDSTORE QRESYNC"); /* RFC 7162 */
	/* RFC 7889 APPENDLIMIT: the largest message APPEND takes */
	str_printf(&caps, " APPENDLIMIT=%llu",
		   (unsigned long long)s->base.env->config->message_size_limit);
	/* RFC 3516: FETCH BINARY (imap_fetch_render_binary.c), APPEND ~{n} */
	str_appendz(&caps, " BINARY");
	/* RFC 3502 (imap_multiappend.c): all or none, one commit */
	str_appendz(&caps, " MULTIAPPEND");
	/* RFC 6855 (imap_utf8.c): UTF-8 names and APPEND UTF8 once enabled */
	str_appendz(&caps, " UTF8=ACCEPT");
	/* RFC 4731, RFC 5182 (imap_search_cmd.c) */
	str_appendz(&caps, " ESEARCH SEARCHRES");
	/* RFC 5256, RFC 5267, RFC 5957 (imap_sort_cmd.c, imap_thread*.c) */
	str_appendz(&caps, " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES");
	/* RFC 5258, RFC 5819, RFC 6154, RFC 3348, RFC 8438 (imap_list.c,
	 * imap_mailbox.c) */
	str_appendz(&caps, " LIST-EXTENDED LIST-STATUS SPECIAL-USE CHILDREN STATUS=SIZE");
	/* RFC 8437 (imap_unauth.c): offered once there is a login to undo */
	str_appendz(&caps, " UNAUTHENTICATE");
	/* RFC 4978 (imap_compress.c, lib/conn_deflate.c) */
	str_appendz(&caps, " COMPRESS=DEFLATE");
	/* RFC 5465 (imap_notify*.c) */
	str_appendz(&caps, " NOTIFY");
	str_appendz(&caps, " OBJECTID"); /* RFC 8474 (imap_objectid.c) */
	str_appendz(&caps, " PREVIEW");  /* RFC 8970 (imap_preview.c) */
	str_appendz(&caps, " SAVEDATE"); /* RFC 8514 (imap_objectid.c) */
	const char *ret = t_strndup(caps.data, caps.len);
	str_free(&caps);
	return ret;
}

/* utf8: the string is UTF-8 and may be quoted as such (rev2: RFC 9051
 * 9, QUOTED-CHAR includes UTF8-2/3/4); rev1 quotes 7-bit text only. */
static void imap_append_string_utf8(str_t *out, const char *s, size_t len, bool utf8)
{
	bool quotable = len <= 1024;
	for (size_t i = 0; quotable && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\0' || (c >= 0x80 && !utf8))
			quotable = false;
	}
	if (!quotable) {
		str_printf(out, "{%zu}\r\n", len);
		str_append(out, s, len);
		return;
	}
	str_appendc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			str_appendc(out, '\\');
		str_appendc(out, s[i]);
	}
	str_appendc(out, '"');
}

void imap_append_string(str_t *out, const char *s, size_t len)
{
	imap_append_string_utf8(out, s, len, false);
}

void imap_append_nstring(str_t *out, const char *s)
{
	if (s == NULL)
		str_appendz(out, "NIL");
	else
		imap_append_string(out, s, strlen(s));
}

/* RFC 3501 5.1.3: modified UTF-7 of a UTF-8 name. */
static void imap_utf8_to_mutf7(const char *name, str_t *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	const unsigned char *p = (const unsigned char *)name;
	while (*p != '\0') {
		if (*p >= 0x20 && *p < 0x7f) {
			str_appendc(out, (char)*p);
			if (*p == '&')
				str_appendc(out, '-');
			p++;
			continue;
		}
		/* a run of non-ASCII characters as base64 of UTF-16BE */
		uint32_t bits = 0;
		unsigned nbits = 0;
		str_appendc(out, '&');
		while (*p != '\0' && !(*p >= 0x20 && *p < 0x7f)) {
			uint32_t cp;
			unsigned n;
			if (*p < 0x80) { cp = *p; n = 1; }
			else if ((*p & 0xe0) == 0xc0) { cp = *p & 0x1f; n = 2; }
			else if ((*p & 0xf0) == 0xe0) { cp = *p & 0x0f; n = 3; }
			else { cp = *p & 0x07; n = 4; }
			for (unsigned i = 1; i < n; i++) {
				if ((p[i] & 0xc0) != 0x80) { n = i; cp = 0xfffd; break; }
				cp = (cp << 6) | (p[i] & 0x3f);
			}
			p += n;
			uint16_t units[2];
			unsigned nu = 0;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[nu++] = (uint16_t)(0xd800 | (cp >> 10));
				units[nu++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			} else {
				units[nu++] = (uint16_t)cp;
			}
			for (unsigned u = 0; u < nu; u++) {
				bits = (bits << 16) | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					str_appendc(out, b64[(bits >> nbits) & 0x3f]);
				}
			}
		}
		if (nbits > 0)
			str_appendc(out, b64[(bits << (6 - nbits)) & 0x3f]);
		str_appendc(out, '-');
	}
}

void imap_append_mailbox(struct imap_session *s, str_t *out, const char *name)
{
	if (s->utf8_accept) {
		/* canonical names are valid UTF-8 (store_mailbox_name_check) */
		imap_append_string_utf8(out, name, strlen(name), true);
		return;
	}
	str_t enc = STR_INIT;
	imap_utf8_to_mutf7(name, &enc);
	imap_append_string(out, enc.data != NULL ? enc.data : "", enc.len);
	str_free(&enc);
}

/* Room kept for the tagged reply and untagged data after an answer */
#define IMAP_OUTPUT_RESERVE 4096

str_t *imap_output_begin(struct imap_session *s)
{
	str_clear(&s->out);
	s->out_off = 0;
	return &s->out;
}

static void imap_output_flush(void *ctx)
{
	struct imap_session *s = ctx;
	size_t room = conn_output_room(s->base.conn);
	size_t left = s->out.len - s->out_off;
	if (room > IMAP_OUTPUT_RESERVE) {
		size_t n = room - IMAP_OUTPUT_RESERVE < left ? room - IMAP_OUTPUT_RESERVE : left;
		conn_write(s->base.conn, s->out.data + s->out_off, n);
		s->out_off += n;
		left -= n;
	}
	if (left > 0) {
		/* the rest when the client has read this much */
		conn_set_output_drained(s->base.conn, imap_output_flush, s);
		return;
	}
	conn_set_output_drained(s->base.conn, NULL, NULL);
	str_free(&s->out);
	s->out_off = 0;
	void (*final)(struct imap_cmd *cmd) = s->out_final;
	s->out_final = NULL;
	final(&s->cmd);
}

void imap_output_end(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd))
{
	cmd->s->out_final = final;
	imap_output_flush(cmd->s);
}
