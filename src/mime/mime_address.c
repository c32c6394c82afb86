/* mime_address.c: see mime_address.h. A small tokenizer (RFC 5322 3.2:
 * atoms, quoted strings, comments, specials) feeds a tolerant grammar
 * walk: phrase words are collected until a special tells what they were
 * (":" group name, "<" display name, "@" local part). */
#include <string.h>

#include "lib/str.h"
#include "mime/mime_address.h"
#include "mime/mime_header.h"

enum tok_kind { T_END, T_WORD, T_SPECIAL };

struct lexer {
	const char *s;
	size_t len, i;
	str_t text, comment;
	bool quoted;
};

static enum tok_kind next_token(struct lexer *lx, char *special)
{
	str_clear(&lx->text);
	lx->quoted = false;
	for (;;) {
		while (lx->i < lx->len && strchr(" \t\r\n", lx->s[lx->i]) != NULL)
			lx->i++;
		if (lx->i >= lx->len)
			return T_END;
		if (lx->s[lx->i] != '(')
			break;
		/* comment, nested (RFC 5322 3.2.2); kept for display names */
		int depth = 0;
		str_clear(&lx->comment);
		do {
			char c = lx->s[lx->i];
			if (c == '\\' && lx->i + 1 < lx->len)
				c = lx->s[++lx->i];
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			if (!(depth == 1 && c == '(' && lx->comment.len == 0) &&
			    depth > 0)
				str_appendc(&lx->comment, c);
			lx->i++;
		} while (lx->i < lx->len && depth > 0);
	}
	char c = lx->s[lx->i];
	if (c == '"') {
		lx->i++;
		while (lx->i < lx->len && lx->s[lx->i] != '"') {
			if (lx->s[lx->i] == '\\' && lx->i + 1 < lx->len)
				lx->i++;
			if (lx->s[lx->i] != '\r' && lx->s[lx->i] != '\n')
				str_appendc(&lx->text, lx->s[lx->i]);
			lx->i++;
		}
		lx->i++;
		lx->quoted = true;
		return T_WORD;
	}
	if (c == '[') { /* domain literal, kept with its brackets */
		while (lx->i < lx->len && lx->s[lx->i] != ']')
			str_appendc(&lx->text, lx->s[lx->i++]);
		str_appendc(&lx->text, ']');
		lx->i++;
		return T_WORD;
	}
	if (strchr("<>:;@,.\\)]", c) != NULL) {
		*special = c;
		lx->i++;
		return T_SPECIAL;
	}
	while (lx->i < lx->len &&
	       strchr(" \t\r\n()<>[]:;@\\,.\"", lx->s[lx->i]) == NULL)
		str_appendc(&lx->text, lx->s[lx->i++]);
	return T_WORD;
}

struct walk {
	pool_t *pool;
	struct mime_address *out;
	uint32_t n;
};

static struct mime_address *emit(struct walk *w)
{
	if (w->n >= MIME_MAX_ADDRESSES)
		return NULL;
	struct mime_address *a = &w->out[w->n++];
	memset(a, 0, sizeof(*a));
	return a;
}

static char *decoded(pool_t *pool, const str_t *s)
{
	str_t out = STR_INIT;
	char *r;

	if (s->len == 0)
		return NULL;
	mime_header_decode(s->data, s->len, &out);
	r = pool_strndup(pool, str_c(&out), out.len);
	str_free(&out);
	return r;
}

/* addr-spec after "<" (with obs-route) or after a local part. */
static void read_spec(struct walk *w, struct lexer *lx, str_t *local,
		      bool angle, struct mime_address *a)
{
	str_t dom = STR_INIT, adl = STR_INIT;
	bool at = false, in_route = false;
	enum tok_kind k;
	char sp = 0;

	for (int guard = 0; guard < 10000; guard++) {
		size_t save = lx->i;
		k = next_token(lx, &sp);
		if (k == T_END)
			break;
		if (k == T_SPECIAL && (sp == '>' || (!angle && (sp == ',' ||
						  sp == ';' || sp == '<')))) {
			if (sp != '>')
				lx->i = save;
			break;
		}
		if (angle && k == T_SPECIAL && sp == '@' && local->len == 0 &&
		    !at) {
			in_route = true; /* RFC 5322 4.4 obs-route */
		} else if (in_route && k == T_SPECIAL && sp == ':') {
			in_route = false;
			continue;
		} else if (k == T_SPECIAL && sp == '@' && !in_route) {
			at = true;
			continue;
		}
		str_t *dst = in_route ? &adl : at ? &dom : local;
		if (k == T_WORD)
			str_append(dst, lx->text.data, lx->text.len);
		else if (sp == '.' || (in_route && (sp == '@' || sp == ',')))
			str_appendc(dst, sp);
	}
	a->mailbox = pool_strndup(w->pool, str_c(local), local->len);
	a->host = pool_strndup(w->pool, str_c(&dom), dom.len);
	if (adl.len > 0)
		a->adl = pool_strndup(w->pool, str_c(&adl), adl.len);
	str_free(&dom);
	str_free(&adl);
}

uint32_t mime_address_parse(pool_t *pool, const char *in, size_t len,
			    struct mime_address **addrs_r)
{
	struct lexer lx = { in, len, 0, STR_INIT, STR_INIT, false };
	struct walk w = { pool, NULL, 0 };
	str_t phrase = STR_INIT, local = STR_INIT;
	bool in_group = false;
	char sp = 0;

	w.out = pool_alloc(pool, sizeof(*w.out) * (len / 2 + 2 < MIME_MAX_ADDRESSES ?
						  len / 2 + 2 : MIME_MAX_ADDRESSES));
	for (int guard = 0; guard < 100000 && w.n < MIME_MAX_ADDRESSES &&
			    w.n < len / 2 + 2; guard++) {
		size_t before = lx.i;
		enum tok_kind k = next_token(&lx, &sp);
		struct mime_address *a;

		if (k == T_WORD) {
			if (phrase.len > 0)
				str_appendc(&phrase, ' ');
			str_append(&phrase, lx.text.data, lx.text.len);
			continue;
		}
		if (k == T_SPECIAL && sp == '.') {
			str_appendc(&phrase, '.');
			continue;
		}
		if (k == T_SPECIAL && sp == ':' && !in_group) {
			if ((a = emit(&w)) != NULL)
				a->mailbox = pool_strndup(pool, str_c(&phrase), phrase.len);
			in_group = true;
		} else if (k == T_SPECIAL && (sp == '<' || sp == '@')) {
			str_clear(&local);
			if (sp == '@') {
				/* the phrase was the local part: undo the
				 * spaces between its words */
				for (size_t i = 0; i < phrase.len; i++)
					if (phrase.data[i] != ' ')
						str_appendc(&local, phrase.data[i]);
				lx.i = before;
				str_clear(&phrase);
			}
			if ((a = emit(&w)) == NULL)
				break;
			str_clear(&lx.comment);
			read_spec(&w, &lx, &local, sp == '<', a);
			a->name = decoded(pool, &phrase);
			if (a->name == NULL)
				a->name = decoded(pool, &lx.comment);
		} else if (k == T_END || (k == T_SPECIAL && (sp == ',' || sp == ';'))) {
			if (phrase.len > 0 && (a = emit(&w)) != NULL) {
				/* a bare local part without a domain */
				a->mailbox = pool_strndup(pool, str_c(&phrase), phrase.len);
				a->host = pool_strdup(pool, "");
			}
			if ((k == T_END || sp == ';') && in_group) {
				emit(&w); /* group end marker */
				in_group = false;
			}
			if (k == T_END)
				break;
		}
		str_clear(&phrase);
		str_clear(&lx.comment);
	}
	str_free(&phrase);
	str_free(&local);
	str_free(&lx.text);
	str_free(&lx.comment);
	*addrs_r = w.out;
	return w.n;
}
