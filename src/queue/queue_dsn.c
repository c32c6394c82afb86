/* queue_dsn.c: RFC 3464 delivery status notifications (queue_dsn.h). */
#include "queue/queue_dsn.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* longest piece of remote text or envelope value put in a header line */
#define DSN_TEXT_MAX 400

/* RFC 5322 3.3 date-time in UTC, independent of the locale */
static void dsn_date(str_t *out, time_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	str_printf(out, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		   tm.tm_min, tm.tm_sec);
}

/* Printable US-ASCII only, at most DSN_TEXT_MAX: what came from the
 * network never breaks a header line. */
static void dsn_clean(str_t *out, const char *data, size_t len)
{
	if (len > DSN_TEXT_MAX)
		len = DSN_TEXT_MAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		str_appendc(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3461 4: xtext "+HH" decoded, then cleaned */
static void dsn_xtext(str_t *out, const char *data, size_t len)
{
	str_t dec = STR_INIT;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (data[i] == '+' && len - i >= 3 && (hi = hexval(data[i + 1])) >= 0 &&
		    (lo = hexval(data[i + 2])) >= 0) {
			str_appendc(&dec, (char)(hi * 16 + lo));
			i += 2;
		} else {
			str_appendc(&dec, data[i]);
		}
	}
	dsn_clean(out, dec.data != NULL ? dec.data : "", dec.len);
	str_free(&dec);
}

static bool is_8bit(struct queue_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		if ((unsigned char)s.data[i] >= 0x80)
			return true;
	}
	return false;
}

/* One UTF-8 sequence at s[0..len): its code point and length, or 0 when
 * it is not well-formed (RFC 3629 4: no overlongs, surrogates or
 * values past U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	unsigned n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || s[0] > 0xf4 || len < n)
		return 0;
	uint32_t cp = s[0] & (0x7f >> n);
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* RFC 6533 3: an internationalized address as utf-8-addr-xtext, the
 * form for message/delivery-status: QCHAR as is, every other character
 * as "\x{HEXPOINT}" (upper-case hex, two digits below U+0100, else no
 * leading zero). A byte that is not UTF-8 is written as '?'; at most
 * DSN_TEXT_MAX input bytes. */
static void dsn_utf8_xtext(str_t *out, const char *data, size_t len)
{
	if (len > DSN_TEXT_MAX)
		len = DSN_TEXT_MAX;
	const unsigned char *s = (const unsigned char *)data;
	for (size_t i = 0; i < len;) {
		uint32_t cp = s[i];
		size_t n = 1;
		if (cp >= 0x80 && (n = utf8_decode(s + i, len - i, &cp)) == 0) {
			str_appendc(out, '?');
			i++;
			continue;
		}
		i += n;
		if (cp >= 0x21 && cp <= 0x7e && cp != '+' && cp != '=' && cp != '\\')
			str_appendc(out, (char)cp);
		else if (cp < 0x100)
			str_printf(out, "\\x{%02X}", (unsigned)cp);
		else
			str_printf(out, "\\x{%X}", (unsigned)cp);
	}
}

/* RFC 3463 2: class "." subject "." detail, 1-3 digits each */
static bool status_valid(struct queue_str s, char cls)
{
	if (s.data == NULL || s.len < 5 || s.len > 11 || s.data[0] != cls || s.data[1] != '.')
		return false;
	unsigned dots = 0, digits = 0;
	for (size_t i = 2; i < s.len; i++) {
		if (s.data[i] == '.') {
			if (digits == 0 || ++dots > 1)
				return false;
			digits = 0;
		} else if (s.data[i] >= '0' && s.data[i] <= '9' && digits < 3) {
			digits++;
		} else {
			return false;
		}
	}
	return dots == 1 && digits > 0;
}

static bool dsn_wanted(const struct queue_recipient *r, enum queue_dsn_kind kind)
{
	if (kind == QUEUE_DSN_FAILURE)
		return r->state == QUEUE_RCPT_FAILED && !r->notified &&
			(r->notify == 0 || (r->notify & QUEUE_NOTIFY_FAILURE) != 0);
	if (kind == QUEUE_DSN_SUCCESS)
		return r->state == QUEUE_RCPT_DELIVERED && !r->notified &&
			(r->notify & QUEUE_NOTIFY_SUCCESS) != 0;
	return r->state == QUEUE_RCPT_DEFERRED &&
		(r->notify == 0 || (r->notify & QUEUE_NOTIFY_DELAY) != 0);
}

/* the reply as one line: "550 5.1.1 text", or our own text */
static void dsn_reply(str_t *out, const struct queue_recipient *r)
{
	if (r->reply_code != 0)
		str_printf(out, "%u ", r->reply_code);
	if (r->reply_status.data != NULL) {
		dsn_clean(out, r->reply_status.data, r->reply_status.len);
		str_appendc(out, ' ');
	}
	if (r->reply_text.data != NULL)
		dsn_clean(out, r->reply_text.data, r->reply_text.len);
	else
		str_appendz(out, "(no reply)");
}

/* RFC 3464 2.3: the per-recipient fields */
static void dsn_recipient(const struct queue_dsn_input *in, const struct queue_recipient *r,
			  str_t *out)
{
	bool failed = in->kind == QUEUE_DSN_FAILURE;
	bool success = in->kind == QUEUE_DSN_SUCCESS;
	char cls = failed ? '5' : success ? '2' : '4';
	str_appendz(out, "\r\n");
	if (r->orcpt.data != NULL) {
		const char *semi = memchr(r->orcpt.data, ';', r->orcpt.len);
		size_t tlen = semi != NULL ? (size_t)(semi - r->orcpt.data) : 0;
		if (semi != NULL && tlen > 0 && tlen < 20) {
			str_appendz(out, "Original-Recipient: ");
			dsn_clean(out, r->orcpt.data, tlen);
			str_appendz(out, "; ");
			dsn_xtext(out, semi + 1, r->orcpt.len - tlen - 1);
			str_appendz(out, "\r\n");
		}
	}
	/* RFC 6533 3: an address that needs SMTPUTF8 is of type utf-8 */
	if (is_8bit(r->address)) {
		str_appendz(out, "Final-Recipient: utf-8; ");
		dsn_utf8_xtext(out, r->address.data, r->address.len);
	} else {
		str_appendz(out, "Final-Recipient: rfc822; ");
		dsn_clean(out, r->address.data, r->address.len);
	}
	str_printf(out, "\r\nAction: %s\r\nStatus: ", failed ? "failed" :
		   success ? "relayed" : "delayed");
	/* an expired recipient fails with its 4.x.x (4.4.7), as Postfix does */
	if (status_valid(r->reply_status, cls) ||
	    (failed && status_valid(r->reply_status, '4')))
		dsn_clean(out, r->reply_status.data, r->reply_status.len);
	else
		str_printf(out, "%c.0.0", cls);
	str_appendz(out, "\r\n");
	if (r->mx.data != NULL) {
		str_appendz(out, "Remote-MTA: dns; ");
		dsn_clean(out, r->mx.data, r->mx.len);
		str_appendz(out, "\r\n");
	}
	if (r->reply_code != 0 || r->reply_text.data != NULL) {
		str_appendz(out, r->reply_code != 0 ? "Diagnostic-Code: smtp; " :
			    "Diagnostic-Code: X-Postel; ");
		dsn_reply(out, r);
		str_appendz(out, "\r\n");
	}
	if (r->attempts > 0) {
		str_appendz(out, "Last-Attempt-Date: ");
		dsn_date(out, in->now);
		str_appendz(out, "\r\n");
	}
	if (!failed && !success && in->retry_until > 0) {
		str_appendz(out, "Will-Retry-Until: ");
		dsn_date(out, in->retry_until);
		str_appendz(out, "\r\n");
	}
}

/* The length of the header section: up to and with the empty line, or,
 * when it is not within len, up to the last complete line. */
static size_t header_section(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		bool empty = nl == p || (nl == p + 1 && p[0] == '\r');
		p = nl + 1;
		if (empty)
			return (size_t)(p - msg);
	}
	while (p > msg && p[-1] != '\n')
		p--;
	return (size_t)(p - msg);
}

static void dsn_headers(const struct queue_dsn_input *in, const char *boundary, str_t *out)
{
	const struct queue_envelope *env = in->env;
	bool failed = in->kind == QUEUE_DSN_FAILURE;
	str_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: <", in->hostname);
	dsn_clean(out, env->sender.data, env->sender.len);
	str_printf(out, ">\r\nSubject: %s\r\nDate: ", failed ?
		   "Undelivered Mail Returned to Sender" :
		   in->kind == QUEUE_DSN_SUCCESS ? "Successful Mail Delivery Report" :
		   "Delayed Mail (still being retried)");
	dsn_date(out, in->now);
	str_printf(out, "\r\nMessage-ID: <%s.%s.%lld@%s>\r\n", in->queue_id,
		   failed ? "bounce" : in->kind == QUEUE_DSN_SUCCESS ? "success" : "delay",
		   (long long)in->now, in->hostname);
	/* RFC 3834 5: never answered by an auto-responder */
	str_printf(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		   "\tboundary=\"%s\"\r\n%s\r\nThis is a MIME-encapsulated message.\r\n\r\n",
		   boundary, env->body != QUEUE_BODY_7BIT ?
		   "Content-Transfer-Encoding: 8bit\r\n" : "");
}

static void dsn_notice(const struct queue_dsn_input *in, const bool *included, str_t *out)
{
	bool failed = in->kind == QUEUE_DSN_FAILURE;
	str_printf(out, "Content-Description: Notification\r\n"
		   "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
		   "This is the mail system at host %s.\r\n\r\n", in->hostname);
	str_appendz(out, failed ?
		    "Your message could not be delivered to one or more recipients.\r\n"
		    "It is attached below.\r\n\r\n" :
		    in->kind == QUEUE_DSN_SUCCESS ?
		    "Your message was passed on to the next mail server for the recipients\r\n"
		    "below, which will not send delivery notifications of its own.\r\n\r\n" :
		    "Your message could not be delivered yet to one or more recipients.\r\n"
		    "The mail system will keep trying; you need not send it again.\r\n\r\n");
	for (unsigned i = 0; i < in->env->recipient_count; i++) {
		const struct queue_recipient *r = &in->env->recipients[i];
		if (!included[i])
			continue;
		str_appendc(out, '<');
		dsn_clean(out, r->address.data, r->address.len);
		str_appendz(out, ">: ");
		dsn_reply(out, r);
		str_appendz(out, "\r\n");
	}
}

int queue_dsn_build(const struct queue_dsn_input *in, str_t *out, bool *included)
{
	const struct queue_envelope *env = in->env;
	unsigned count = 0;
	for (unsigned i = 0; i < env->recipient_count; i++) {
		included[i] = dsn_wanted(&env->recipients[i], in->kind);
		count += included[i];
	}
	/* RFC 3461 6.2, RFC 5321 6.1: never to the null sender */
	if (env->sender.len == 0 || count == 0)
		return 0;
	char boundary[QUEUE_ID_MAX + 32];
	snprintf(boundary, sizeof(boundary), "%s/%lld.dsn", in->queue_id, (long long)in->now);
	/* RFC 2046 5.1.1: the boundary must not occur in what it delimits */
	for (unsigned n = 0; n < 8 && in->original_len > 0 &&
	     memmem(in->original, in->original_len, boundary, strlen(boundary)) != NULL; n++)
		snprintf(boundary + strlen(boundary), sizeof(boundary) - strlen(boundary), "%u", n);
	dsn_headers(in, boundary, out);
	str_printf(out, "--%s\r\n", boundary);
	dsn_notice(in, included, out);
	/* RFC 3464 2.2: the per-message fields */
	str_printf(out, "\r\n--%s\r\nContent-Description: Delivery report\r\n"
		   "Content-Type: message/delivery-status\r\n\r\n"
		   "Reporting-MTA: dns; %s\r\nX-Postel-Queue-ID: %s\r\n", boundary,
		   in->hostname, in->queue_id);
	if (env->envid.data != NULL) {
		str_appendz(out, "Original-Envelope-Id: ");
		dsn_xtext(out, env->envid.data, env->envid.len);
		str_appendz(out, "\r\n");
	}
	str_appendz(out, "Arrival-Date: ");
	dsn_date(out, env->received);
	str_appendz(out, "\r\n");
	for (unsigned i = 0; i < env->recipient_count; i++) {
		if (included[i])
			dsn_recipient(in, &env->recipients[i], out);
	}
	/* RFC 3461 4.3: RET; RFC 3462/6522: text/rfc822-headers */
	size_t max = in->max_size > 0 ? in->max_size : QUEUE_DSN_MAX_ORIGINAL;
	bool full = in->kind == QUEUE_DSN_FAILURE && env->dsn_ret != QUEUE_DSN_RET_HDRS &&
		in->original_size <= max && in->original_len == in->original_size;
	size_t len = full ? in->original_len :
		header_section(in->original, in->original_len < max ? in->original_len : max);
	str_printf(out, "\r\n--%s\r\nContent-Description: %s\r\nContent-Type: %s\r\n",
		   boundary, full ? "Undelivered Message" : "Undelivered Message Headers",
		   full ? "message/rfc822" : "text/rfc822-headers");
	if (env->body != QUEUE_BODY_7BIT)
		str_appendz(out, "Content-Transfer-Encoding: 8bit\r\n");
	str_appendz(out, "\r\n");
	str_append(out, in->original, len);
	if (len > 0 && in->original[len - 1] != '\n')
		str_appendz(out, "\r\n");
	str_printf(out, "\r\n--%s--\r\n", boundary);
	return 1;
}
