/* dkim_field.c: DKIM-Signature text and folding (see dkim_field.h). */
#include "dkim/dkim_field.h"
#include "lib/base64.h"
#include "lib/mem.h"

#include <string.h>

/* RFC 6376 5.4.1's recommended set, those a mail client writes */
const char *const dkim_signed_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "content-disposition", "sender",
	"list-id", "list-unsubscribe", NULL,
};

/* A token preceded by a space, or by CRLF SP when it would not fit. */
static void field_token(struct dkim_field_builder *fb, const char *token, size_t len)
{
	if (fb->col + 1 + len > DKIM_FIELD_WIDTH) {
		str_appendz(fb->out, "\r\n ");
	} else {
		str_appendc(fb->out, ' ');
	}
	fb->col = fb->col + 1 + len > DKIM_FIELD_WIDTH ? 1 + len : fb->col + 1 + len;
	str_append(fb->out, token, len);
}

static void field_tokenz(struct dkim_field_builder *fb, const char *token)
{
	field_token(fb, token, strlen(token));
}

void dkim_field_begin(struct dkim_field_builder *fb, str_t *out,
		      const struct dkim_key *key, time_t t,
		      const char *const *names, unsigned count,
		      const unsigned char bh[32])
{
	fb->out = out;
	str_appendz(out, "DKIM-Signature:");
	fb->col = strlen("DKIM-Signature:");
	field_tokenz(fb, "v=1;");
	field_tokenz(fb, key->type == DKIM_KEY_ED25519 ? "a=ed25519-sha256;" :
		     "a=rsa-sha256;");
	field_tokenz(fb, "c=relaxed/relaxed;");
	field_tokenz(fb, t_printf("d=%s;", key->domain));
	field_tokenz(fb, t_printf("s=%s;", key->selector));
	field_tokenz(fb, t_printf("t=%lld;", (long long)t));
	/* h=a:b:c; FWS may stand before each name (RFC 6376 3.5 h=) */
	for (unsigned i = 0; i < count; i++)
		field_tokenz(fb, t_printf("%s%s%s", i == 0 ? "h=" : "", names[i],
					  i + 1 == count ? ";" : ":"));
	str_t b = STR_INIT;
	str_appendz(&b, "bh=");
	base64_encode(bh, 32, &b);
	str_appendc(&b, ';');
	field_token(fb, b.data, b.len);
	str_free(&b);
	field_tokenz(fb, "b=");
}

void dkim_field_finish(struct dkim_field_builder *fb, const char *b64, size_t len)
{
	for (size_t off = 0; off < len;) {
		if (fb->col >= DKIM_FIELD_WIDTH) {
			str_appendz(fb->out, "\r\n ");
			fb->col = 1;
		}
		size_t n = DKIM_FIELD_WIDTH - fb->col;
		if (n > len - off)
			n = len - off;
		str_append(fb->out, b64 + off, n);
		fb->col += n;
		off += n;
	}
	str_appendz(fb->out, "\r\n");
}
