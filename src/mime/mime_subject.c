/* mime_subject.c: RFC 5256 2.1 base subject (mime_subject.h). The
 * grammar of section 5 in use here:
 *   subj-refwd  = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
 *   subj-blob   = "[" *BLOBCHAR "]" *WSP      (BLOBCHAR: not "[" or "]")
 *   subj-leader = (*subj-blob subj-refwd) / WSP
 *   subj-trailer = "(fwd)" / WSP
 *   subj-fwd    = "[fwd:" base-subject "]"
 * After step 1 white space is a single space, so WSP is ' ' here. */
#include "mime/mime_subject.h"

#include "lib/str.h"
#include "mime/mime_header.h"

#include <string.h>

struct span {
	const char *s;
	size_t a, b; /* the subject left: s[a..b) */
};

static size_t blob_len(const struct span *sp, size_t at)
{
	if (at >= sp->b || sp->s[at] != '[')
		return 0;
	size_t p = at + 1;
	while (p < sp->b && sp->s[p] != '[' && sp->s[p] != ']')
		p++;
	if (p >= sp->b || sp->s[p] != ']')
		return 0;
	for (p++; p < sp->b && sp->s[p] == ' '; p++) ;
	return p - at;
}

/* subj-leader at sp->a: its length, 0 if none */
static size_t leader_len(const struct span *sp, bool *reply)
{
	const char *s = sp->s;
	size_t p = sp->a, n;
	if (p < sp->b && s[p] == ' ')
		return 1;
	while ((n = blob_len(sp, p)) > 0)
		p += n;
	size_t left = sp->b - p;
	if (left >= 3 && mem_ieq(s + p, "fwd", 3))
		p += 3;
	else if (left >= 2 && (mem_ieq(s + p, "re", 2) || mem_ieq(s + p, "fw", 2)))
		p += 2;
	else
		return 0;
	while (p < sp->b && s[p] == ' ')
		p++;
	p += blob_len(sp, p);
	if (p >= sp->b || s[p] != ':')
		return 0;
	*reply = true;
	return p + 1 - sp->a;
}

/* step 2: subj-trailer, repeatedly */
static void strip_trailers(struct span *sp, bool *reply)
{
	for (;;) {
		if (sp->b > sp->a && sp->s[sp->b - 1] == ' ') {
			sp->b--;
		} else if (sp->b - sp->a >= 5 && mem_ieq(sp->s + sp->b - 5, "(fwd)", 5)) {
			sp->b -= 5;
			*reply = true;
		} else {
			return;
		}
	}
}

bool mime_base_subject(const char *in, size_t len, str_t *out)
{
	str_t unfolded = STR_INIT, decoded = STR_INIT, text = STR_INIT;
	bool reply = false;
	/* step 1: RFC 2047 decode, unfold, each run of WSP to one space */
	mime_header_unfold(in, len, &unfolded);
	mime_header_decode(unfolded.data != NULL ? unfolded.data : "", unfolded.len, &decoded);
	for (size_t i = 0; i < decoded.len; i++) {
		char c = decoded.data[i];
		bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
		if (!ws)
			str_appendc(&text, c);
		else if (text.len > 0 && text.data[text.len - 1] != ' ')
			str_appendc(&text, ' ');
	}
	struct span sp = { .s = text.data != NULL ? text.data : "", .a = 0, .b = text.len };
	for (;;) {
		strip_trailers(&sp, &reply);
		/* steps 3 and 4, until neither removes anything */
		for (;;) {
			size_t before = sp.a, n;
			while ((n = leader_len(&sp, &reply)) > 0)
				sp.a += n;
			n = blob_len(&sp, sp.a);
			if (n > 0 && sp.a + n < sp.b)
				sp.a += n;
			if (sp.a == before)
				break;
		}
		/* step 5: "[fwd:" subject "]", then again from step 2 */
		if (sp.b - sp.a >= 6 && mem_ieq(sp.s + sp.a, "[fwd:", 5) &&
		    sp.s[sp.b - 1] == ']') {
			sp.a += 5;
			sp.b--;
			reply = true;
			continue;
		}
		break;
	}
	while (sp.a < sp.b && sp.s[sp.a] == ' ')
		sp.a++;
	str_append(out, sp.s + sp.a, sp.b - sp.a);
	str_free(&unfolded);
	str_free(&decoded);
	str_free(&text);
	return reply;
}
