/* queue_envelope.c: the envelope file format (see queue.h).
 *
 *   postel-envelope 2        (version 1: without the fields marked v2)
 *   id=0000000000000000000000000
 *   received=UNIX-TIME
 *   size=BYTES
 *   sender=VALUE             (empty for the null sender "<>")
 *   auth-user=VALUE          (only if authenticated)
 *   client-ip=VALUE          (only if received from a client)
 *   smtputf8=yes|no
 *   body=7bit|8bitmime|binarymime
 *   ret=none|full|hdrs
 *   envid=VALUE              (only if ENVID was given)
 *   requiretls=yes           (v2, only if MAIL FROM had REQUIRETLS)
 *   lease-owner=VALUE        (v2, only while leased; then:)
 *   lease-expires=UNIX-TIME  (v2)
 *   delay-warned=yes         (v2, only once the delay DSN went out)
 *   hold=yes                 (v2, "postel queue hold": the runner leaves it)
 *   rcpt=VALUE               (then, for that recipient:)
 *   rcpt-notify=never|LIST   (only if NOTIFY was given; LIST of
 *                             success,failure,delay)
 *   rcpt-orcpt=VALUE         (only if ORCPT was given)
 *   rcpt-attempts=N
 *   rcpt-next-attempt=UNIX-TIME
 *   rcpt-state=pending|delivered|deferred|failed  (v2; default pending)
 *   rcpt-reply-code=NNN      (v2, only after a reply)
 *   rcpt-reply-status=VALUE  (v2, RFC 3463 code, only if known)
 *   rcpt-reply-text=VALUE    (v2, only if known)
 *   rcpt-mx=VALUE            (v2, the host tried last, only if any)
 *   rcpt-notified=yes        (v2, once its failure or success DSN went out)
 *   end
 *
 * VALUE is percent-encoded: bytes 0x21-0x7E other than '%' as is, all
 * others as %XX. The parser is strict: unknown or repeated keys, missing
 * keys, a bad escape, a CR or NUL anywhere, or anything after "end" make
 * the whole file invalid, so a damaged envelope is set aside, not guessed. */
#include "queue/queue.h"
#include "lib/log.h"
#include "mime/mime_header.h" /* mime_hex_value() */

#include <string.h>

#define ENVELOPE_VERSION_LINE "postel-envelope 2"
#define ENVELOPE_VERSION_LINE_1 "postel-envelope 1"

static void append_value(str_t *out, const char *key, struct queue_str v)
{
	static const char hex[] = "0123456789ABCDEF";
	str_appendz(out, key);
	str_appendc(out, '=');
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.data[i];
		if (c > 0x20 && c < 0x7f && c != '%') {
			str_appendc(out, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			str_append(out, esc, 3);
		}
	}
	str_appendc(out, '\n');
}

static const char *const body_names[] = { "7bit", "8bitmime", "binarymime" };
static const char *const ret_names[] = { "none", "full", "hdrs" };
static const char *const state_names[QUEUE_RCPT_STATE_COUNT] = {
	"pending", "delivered", "deferred", "failed",
};

const char *queue_rcpt_state_name(enum queue_rcpt_state state)
{
	return (unsigned)state < QUEUE_RCPT_STATE_COUNT ? state_names[state] : "?";
}

static const char *notify_format(unsigned notify)
{
	if ((notify & QUEUE_NOTIFY_NEVER) != 0)
		return "never";
	return t_printf("%s%s%s%s%s",
			(notify & QUEUE_NOTIFY_SUCCESS) != 0 ? "success" : "",
			(notify & QUEUE_NOTIFY_SUCCESS) != 0 &&
			(notify & (QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY)) != 0 ? "," : "",
			(notify & QUEUE_NOTIFY_FAILURE) != 0 ? "failure" : "",
			(notify & QUEUE_NOTIFY_FAILURE) != 0 &&
			(notify & QUEUE_NOTIFY_DELAY) != 0 ? "," : "",
			(notify & QUEUE_NOTIFY_DELAY) != 0 ? "delay" : "");
}

int queue_envelope_check(const struct queue_envelope *env, const char **error_r)
{
	if (env->recipient_count == 0 || env->recipients == NULL) {
		*error_r = "envelope has no recipients";
		return -1;
	}
	if (env->recipient_count > QUEUE_MAX_RECIPIENTS) {
		*error_r = "envelope has too many recipients";
		return -1;
	}
	if (env->sender.len > QUEUE_VALUE_MAX ||
	    env->auth_user.len > QUEUE_VALUE_MAX ||
	    env->client_ip.len > QUEUE_VALUE_MAX ||
	    env->envid.len > QUEUE_VALUE_MAX ||
	    env->lease_owner.len > QUEUE_VALUE_MAX ||
	    (env->lease_owner.data != NULL && env->lease_owner.len == 0) ||
	    env->lease_expires < 0) {
		*error_r = "envelope value too long";
		return -1;
	}
	if ((unsigned)env->body > QUEUE_BODY_BINARYMIME ||
	    (unsigned)env->dsn_ret > QUEUE_DSN_RET_HDRS || env->received < 0) {
		*error_r = "envelope has an invalid field";
		return -1;
	}
	for (unsigned i = 0; i < env->recipient_count; i++) {
		const struct queue_recipient *r = &env->recipients[i];
		if (r->address.data == NULL || r->address.len == 0 ||
		    r->address.len > QUEUE_VALUE_MAX ||
		    r->orcpt.len > QUEUE_VALUE_MAX ||
		    r->reply_status.len > QUEUE_VALUE_MAX ||
		    r->reply_text.len > QUEUE_VALUE_MAX ||
		    r->mx.len > QUEUE_VALUE_MAX) {
			*error_r = "envelope recipient address invalid";
			return -1;
		}
		unsigned all = QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS |
			QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY;
		/* RFC 3461 4.1: NEVER must appear alone */
		if ((r->notify & ~all) != 0 ||
		    ((r->notify & QUEUE_NOTIFY_NEVER) != 0 &&
		     r->notify != QUEUE_NOTIFY_NEVER) || r->next_attempt < 0 ||
		    (unsigned)r->state >= QUEUE_RCPT_STATE_COUNT ||
		    (r->reply_code != 0 && (r->reply_code < 200 || r->reply_code > 599))) {
			*error_r = "envelope recipient has an invalid field";
			return -1;
		}
	}
	return 0;
}

void queue_envelope_format(const char *id, uint64_t size,
			   const struct queue_envelope *env, str_t *out)
{
	str_appendz(out, ENVELOPE_VERSION_LINE "\n");
	str_printf(out, "id=%s\nreceived=%lld\nsize=%llu\n", id,
		   (long long)env->received, (unsigned long long)size);
	append_value(out, "sender", env->sender);
	if (env->auth_user.data != NULL)
		append_value(out, "auth-user", env->auth_user);
	if (env->client_ip.data != NULL)
		append_value(out, "client-ip", env->client_ip);
	str_printf(out, "smtputf8=%s\nbody=%s\nret=%s\n",
		   env->smtputf8 ? "yes" : "no", body_names[env->body],
		   ret_names[env->dsn_ret]);
	if (env->envid.data != NULL)
		append_value(out, "envid", env->envid);
	if (env->requiretls)
		str_appendz(out, "requiretls=yes\n");
	if (env->lease_owner.data != NULL) {
		append_value(out, "lease-owner", env->lease_owner);
		str_printf(out, "lease-expires=%lld\n", (long long)env->lease_expires);
	}
	if (env->delay_warned)
		str_appendz(out, "delay-warned=yes\n");
	if (env->hold)
		str_appendz(out, "hold=yes\n");
	for (unsigned i = 0; i < env->recipient_count; i++) {
		const struct queue_recipient *r = &env->recipients[i];
		append_value(out, "rcpt", r->address);
		if (r->notify != 0)
			str_printf(out, "rcpt-notify=%s\n",
				   notify_format(r->notify));
		if (r->orcpt.data != NULL)
			append_value(out, "rcpt-orcpt", r->orcpt);
		str_printf(out, "rcpt-attempts=%u\nrcpt-next-attempt=%lld\n"
			   "rcpt-state=%s\n", r->attempts, (long long)r->next_attempt,
			   state_names[r->state]);
		if (r->reply_code != 0)
			str_printf(out, "rcpt-reply-code=%u\n", r->reply_code);
		if (r->reply_status.data != NULL)
			append_value(out, "rcpt-reply-status", r->reply_status);
		if (r->reply_text.data != NULL)
			append_value(out, "rcpt-reply-text", r->reply_text);
		if (r->mx.data != NULL)
			append_value(out, "rcpt-mx", r->mx);
		if (r->notified)
			str_appendz(out, "rcpt-notified=yes\n");
	}
	str_appendz(out, "end\n");
}

static int decode_value(const char *s, size_t len, pool_t *pool,
			struct queue_str *value_r)
{
	char *out = pool_alloc(pool, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return -1;
		if (c == '%') {
			int hi, lo;
			if (len - i < 3 || (hi = mime_hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = mime_hex_value((unsigned char)s[i + 2])) < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = (char)c;
		}
	}
	if (o > QUEUE_VALUE_MAX)
		return -1;
	out[o] = '\0';
	value_r->data = out;
	value_r->len = o;
	return 0;
}

static int parse_notify(const char *s, size_t len, unsigned *notify_r)
{
	if (len == 5 && memcmp(s, "never", 5) == 0) {
		*notify_r = QUEUE_NOTIFY_NEVER;
		return 0;
	}
	static const struct { const char *name; unsigned bit; } words[] = {
		{ "success", QUEUE_NOTIFY_SUCCESS },
		{ "failure", QUEUE_NOTIFY_FAILURE },
		{ "delay", QUEUE_NOTIFY_DELAY },
	};
	unsigned notify = 0;
	while (len > 0) {
		const char *comma = memchr(s, ',', len);
		size_t word_len = comma != NULL ? (size_t)(comma - s) : len;
		unsigned bit = 0;
		for (size_t i = 0; i < 3; i++) {
			if (strlen(words[i].name) == word_len &&
			    memcmp(words[i].name, s, word_len) == 0)
				bit = words[i].bit;
		}
		if (bit == 0 || (notify & bit) != 0)
			return -1;
		notify |= bit;
		if (comma == NULL)
			break;
		s = comma + 1;
		len -= word_len + 1;
		if (len == 0)
			return -1; /* trailing comma */
	}
	*notify_r = notify;
	return notify != 0 ? 0 : -1;
}

static int parse_enum(const char *s, size_t len, const char *const *names,
		      unsigned count, unsigned *value_r)
{
	for (unsigned i = 0; i < count; i++) {
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
			*value_r = i;
			return 0;
		}
	}
	return -1;
}

static int parse_time(const char *s, size_t len, time_t *time_r)
{
	unsigned long long v;
	if (!parse_uint64(s, len, (unsigned long long)INT64_MAX, &v))
		return -1;
	*time_r = (time_t)v;
	return 0;
}

/* Keys outside recipients, with the bit that marks them seen. */
enum envelope_key {
	KEY_ID, KEY_RECEIVED, KEY_SIZE, KEY_SENDER, KEY_AUTH_USER,
	KEY_CLIENT_IP, KEY_SMTPUTF8, KEY_BODY, KEY_RET, KEY_ENVID,
	KEY_LEASE_OWNER, KEY_LEASE_EXPIRES, KEY_DELAY_WARNED, KEY_REQUIRETLS, KEY_HOLD,
	KEY_RCPT, KEY_RCPT_NOTIFY, KEY_RCPT_ORCPT, KEY_RCPT_ATTEMPTS,
	KEY_RCPT_NEXT_ATTEMPT, KEY_RCPT_STATE, KEY_RCPT_REPLY_CODE,
	KEY_RCPT_REPLY_STATUS, KEY_RCPT_REPLY_TEXT, KEY_RCPT_MX,
	KEY_RCPT_NOTIFIED, KEY_COUNT
};
static const char *const key_names[KEY_COUNT] = {
	"id", "received", "size", "sender", "auth-user", "client-ip",
	"smtputf8", "body", "ret", "envid", "lease-owner", "lease-expires",
	"delay-warned", "requiretls", "hold", "rcpt", "rcpt-notify", "rcpt-orcpt",
	"rcpt-attempts",
	"rcpt-next-attempt", "rcpt-state", "rcpt-reply-code",
	"rcpt-reply-status", "rcpt-reply-text", "rcpt-mx", "rcpt-notified",
};
/* keys a version 1 file cannot hold */
#define V2_KEYS ((1u << KEY_LEASE_OWNER) | (1u << KEY_LEASE_EXPIRES) | \
	(1u << KEY_DELAY_WARNED) | (1u << KEY_RCPT_STATE) | \
	(1u << KEY_RCPT_REPLY_CODE) | (1u << KEY_RCPT_REPLY_STATUS) | \
	(1u << KEY_RCPT_REPLY_TEXT) | (1u << KEY_RCPT_MX) | \
	(1u << KEY_RCPT_NOTIFIED) | (1u << KEY_REQUIRETLS) | (1u << KEY_HOLD))
#define LEASE_KEYS ((1u << KEY_LEASE_OWNER) | (1u << KEY_LEASE_EXPIRES))
#define REQUIRED_KEYS ((1u << KEY_ID) | (1u << KEY_RECEIVED) | \
	(1u << KEY_SIZE) | (1u << KEY_SENDER) | (1u << KEY_SMTPUTF8) | \
	(1u << KEY_BODY) | (1u << KEY_RET))
#define RCPT_REQUIRED_KEYS ((1u << KEY_RCPT_ATTEMPTS) | \
	(1u << KEY_RCPT_NEXT_ATTEMPT))

static struct queue_recipient *
add_recipient(struct queue_envelope *env, unsigned *cap, pool_t *pool)
{
	if (env->recipient_count == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		struct queue_recipient *bigger =
			pool_alloc(pool, *cap * sizeof(*bigger));
		if (env->recipient_count > 0)
			memcpy(bigger, env->recipients,
			       env->recipient_count * sizeof(*bigger));
		env->recipients = bigger;
	}
	return &env->recipients[env->recipient_count++];
}

static int parse_field(struct queue_entry_info *entry, enum envelope_key key,
		       const char *v, size_t len, pool_t *pool, unsigned *cap)
{
	struct queue_envelope *env = &entry->env;
	struct queue_recipient *r = env->recipient_count > 0 ?
		&env->recipients[env->recipient_count - 1] : NULL;
	unsigned long long n;
	unsigned u;
	switch (key) {
	case KEY_ID:
		if (len != QUEUE_ID_LEN)
			return -1;
		memcpy(entry->id, v, len);
		entry->id[len] = '\0';
		return queue_id_is_valid(entry->id) ? 0 : -1;
	case KEY_RECEIVED:
		return parse_time(v, len, &env->received);
	case KEY_SIZE:
		if (!parse_uint64(v, len, UINT64_MAX, &n))
			return -1;
		entry->size = n;
		return 0;
	case KEY_SENDER:
		return decode_value(v, len, pool, &env->sender);
	case KEY_AUTH_USER:
		return decode_value(v, len, pool, &env->auth_user);
	case KEY_CLIENT_IP:
		return decode_value(v, len, pool, &env->client_ip);
	case KEY_SMTPUTF8:
		if (parse_enum(v, len, (const char *const[]){ "no", "yes" }, 2,
			       &u) < 0)
			return -1;
		env->smtputf8 = u == 1;
		return 0;
	case KEY_BODY:
		if (parse_enum(v, len, body_names, 3, &u) < 0)
			return -1;
		env->body = (enum queue_body)u;
		return 0;
	case KEY_RET:
		if (parse_enum(v, len, ret_names, 3, &u) < 0)
			return -1;
		env->dsn_ret = (enum queue_dsn_ret)u;
		return 0;
	case KEY_ENVID:
		return decode_value(v, len, pool, &env->envid);
	case KEY_LEASE_OWNER:
		return decode_value(v, len, pool, &env->lease_owner) < 0 ||
			env->lease_owner.len == 0 ? -1 : 0;
	case KEY_LEASE_EXPIRES:
		return parse_time(v, len, &env->lease_expires);
	case KEY_DELAY_WARNED: /* flags: present means "yes" */
	case KEY_REQUIRETLS:
	case KEY_HOLD:
		*(key == KEY_HOLD ? &env->hold : key == KEY_REQUIRETLS ? &env->requiretls :
		  &env->delay_warned) = true;
		return len == 3 && memcmp(v, "yes", 3) == 0 ? 0 : -1;
	case KEY_RCPT:
		if (env->recipient_count >= QUEUE_MAX_RECIPIENTS)
			return -1;
		r = add_recipient(env, cap, pool);
		return decode_value(v, len, pool, &r->address) < 0 ||
			r->address.len == 0 ? -1 : 0;
	case KEY_RCPT_NOTIFY:
		return parse_notify(v, len, &r->notify);
	case KEY_RCPT_ORCPT:
		return decode_value(v, len, pool, &r->orcpt);
	case KEY_RCPT_ATTEMPTS:
		if (!parse_uint64(v, len, UINT32_MAX, &n))
			return -1;
		r->attempts = (unsigned)n;
		return 0;
	case KEY_RCPT_NEXT_ATTEMPT:
		return parse_time(v, len, &r->next_attempt);
	case KEY_RCPT_STATE:
		if (parse_enum(v, len, state_names, QUEUE_RCPT_STATE_COUNT, &u) < 0)
			return -1;
		r->state = (enum queue_rcpt_state)u;
		return 0;
	case KEY_RCPT_REPLY_CODE:
		if (!parse_uint64(v, len, 599, &n) || n < 200)
			return -1;
		r->reply_code = (unsigned)n;
		return 0;
	case KEY_RCPT_REPLY_STATUS:
		return decode_value(v, len, pool, &r->reply_status);
	case KEY_RCPT_REPLY_TEXT:
		return decode_value(v, len, pool, &r->reply_text);
	case KEY_RCPT_MX:
		return decode_value(v, len, pool, &r->mx);
	case KEY_RCPT_NOTIFIED:
		r->notified = true;
		return len == 3 && memcmp(v, "yes", 3) == 0 ? 0 : -1;
	case KEY_COUNT:
		break;
	}
	return -1;
}

int queue_envelope_parse(const char *data, size_t len, pool_t *pool,
			 struct queue_entry_info *entry_r,
			 const char **error_r)
{
	memset(entry_r, 0, sizeof(*entry_r));
	if (memchr(data, '\0', len) != NULL || memchr(data, '\r', len) != NULL) {
		*error_r = "envelope contains NUL or CR";
		return -1;
	}
	unsigned seen = 0, rcpt_seen = 0, cap = 0, line_no = 0;
	bool ended = false, v1 = false;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		line_no++;
		if (nl == NULL || ended) {
			*error_r = t_printf("envelope line %u: %s", line_no,
					    ended ? "data after end" :
					    "truncated");
			return -1;
		}
		size_t line_len = (size_t)(nl - p);
		const char *line = p;
		p = nl + 1;
		if (line_no == 1) {
			v1 = line_len == strlen(ENVELOPE_VERSION_LINE_1) &&
				memcmp(line, ENVELOPE_VERSION_LINE_1, line_len) == 0;
			if (!v1 && (line_len != strlen(ENVELOPE_VERSION_LINE) ||
				    memcmp(line, ENVELOPE_VERSION_LINE, line_len) != 0)) {
				*error_r = "envelope: unknown version";
				return -1;
			}
			continue;
		}
		if (line_len == 3 && memcmp(line, "end", 3) == 0) {
			ended = true;
			continue;
		}
		const char *eq = memchr(line, '=', line_len);
		size_t key_len = eq != NULL ? (size_t)(eq - line) : line_len;
		unsigned key = KEY_COUNT;
		for (unsigned i = 0; eq != NULL && i < KEY_COUNT; i++) {
			if (strlen(key_names[i]) == key_len &&
			    memcmp(key_names[i], line, key_len) == 0)
				key = i;
		}
		bool rcpt_field = key > KEY_RCPT && key < KEY_COUNT;
		unsigned *mask = rcpt_field ? &rcpt_seen : &seen;
		const char *problem = NULL;
		if (key == KEY_COUNT || (v1 && ((1u << key) & V2_KEYS) != 0))
			problem = "unknown key";
		else if (key == KEY_RCPT && (seen & (1u << KEY_RCPT)) != 0 &&
			 (rcpt_seen & RCPT_REQUIRED_KEYS) != RCPT_REQUIRED_KEYS)
			problem = "incomplete recipient";
		else if (rcpt_field && (seen & (1u << KEY_RCPT)) == 0)
			problem = "recipient field before rcpt";
		else if (key != KEY_RCPT && (*mask & (1u << key)) != 0)
			problem = "repeated key";
		else if (parse_field(entry_r, (enum envelope_key)key, eq + 1,
				     line_len - key_len - 1, pool, &cap) < 0)
			problem = "invalid value";
		if (problem != NULL) {
			*error_r = t_printf("envelope line %u: %s", line_no,
					    problem);
			return -1;
		}
		if (key == KEY_RCPT)
			rcpt_seen = 0;
		*mask |= 1u << key;
	}
	if (!ended || (seen & REQUIRED_KEYS) != REQUIRED_KEYS ||
	    entry_r->env.recipient_count == 0 ||
	    (rcpt_seen & RCPT_REQUIRED_KEYS) != RCPT_REQUIRED_KEYS ||
	    ((seen & LEASE_KEYS) != 0 && (seen & LEASE_KEYS) != LEASE_KEYS)) {
		*error_r = "envelope incomplete";
		return -1;
	}
	if (entry_r->env.sender.data == NULL)
		entry_r->env.sender = queue_str_c("");
	return 0;
}
