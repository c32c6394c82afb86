/* import_dovecot.c: the parsers of import_dovecot.h (contract there). */
#include "cli/import_dovecot.h"
#include "imap/imap_mailbox_name.h"
#include "store/store_view.h"

#include <string.h>

/* The next line of data[*pos .. len), without its LF; false at the end. */
static bool next_line(const char *data, size_t len, size_t *pos,
		      const char **line_r, size_t *line_len_r)
{
	if (*pos >= len)
		return false;
	const char *start = data + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t n = nl != NULL ? (size_t)(nl - start) : len - *pos;
	*line_r = start;
	*line_len_r = n;
	*pos += n + (nl != NULL ? 1 : 0);
	return true;
}

/* A decimal number 1..max at s[*i ..), advancing *i past it. */
static bool take_number(const char *s, size_t len, size_t *i,
			unsigned long long max, unsigned long long *value_r)
{
	size_t start = *i;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - start < 20)
		(*i)++;
	return *i > start && parse_uint64(s + start, *i - start, max, value_r);
}

static void note_bad(pool_t *pool, unsigned *bad, const char **first,
		     unsigned line_no, const char *reason)
{
	if ((*bad)++ == 0)
		*first = pool_printf(pool, "line %u: %s", line_no, reason);
}

static int uidlist_header(const char *s, size_t len,
			  struct import_uidlist *list, const char **error_r)
{
	unsigned long long v;
	size_t i = 0;
	if (!take_number(s, len, &i, 3, &v) || (v != 1 && v != 3)) {
		*error_r = "not a dovecot-uidlist (version 1 or 3) header";
		return -1;
	}
	list->version = (unsigned)v;
	if (v == 1) {
		unsigned long long validity, next;
		i++;
		if (i >= len || !take_number(s, len, &i, UINT32_MAX, &validity) ||
		    ++i >= len || !take_number(s, len, &i, UINT32_MAX, &next)) {
			*error_r = "version 1 header without UIDVALIDITY and UIDNEXT";
			return -1;
		}
		list->uidvalidity = (uint32_t)validity;
		list->uidnext = (uint32_t)next;
		return 0;
	}
	while (i < len) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			break;
		char key = s[i++];
		size_t at = i;
		if ((key == 'V' || key == 'N') && take_number(s, len, &i, UINT32_MAX, &v)) {
			if (key == 'V')
				list->uidvalidity = (uint32_t)v;
			else
				list->uidnext = (uint32_t)v;
		} else if (key == 'V' || key == 'N') {
			*error_r = "bad V or N field in the uidlist header";
			return -1;
		}
		i = at;
		while (i < len && s[i] != ' ')
			i++; /* G<guid> and fields of later versions */
	}
	return 0;
}

/* "<uid> [ext...] :<base>" (v3) or "<uid> <base>" (v1) */
static const char *uidlist_entry(const char *s, size_t len, unsigned version,
				 pool_t *pool, struct import_uidlist_entry *e_r)
{
	unsigned long long uid;
	size_t i = 0;
	if (!take_number(s, len, &i, UINT32_MAX - 1, &uid) || uid == 0 ||
	    i >= len || s[i] != ' ')
		return "no UID"; /* RFC 9051 2.3.1.1: UIDs are nonzero */
	const char *base;
	if (version == 1) {
		base = s + i + 1;
	} else {
		base = memchr(s + i, ':', len - i);
		if (base == NULL)
			return "no ':' before the file name";
		base++;
	}
	size_t base_len = len - (size_t)(base - s);
	if (base_len == 0 || memchr(base, '/', base_len) != NULL ||
	    memchr(base, '\0', base_len) != NULL)
		return "bad file name";
	e_r->uid = (uint32_t)uid;
	e_r->base = pool_strndup(pool, base, base_len);
	return NULL;
}

int import_uidlist_parse(const char *data, size_t len, pool_t *pool,
			 struct import_uidlist *list_r, const char **error_r)
{
	const char *line;
	size_t line_len, pos = 0, cap = 0;
	unsigned line_no = 1;
	memset(list_r, 0, sizeof(*list_r));
	if (!next_line(data, len, &pos, &line, &line_len) ||
	    uidlist_header(line, line_len, list_r, error_r) < 0) {
		if (pos == 0)
			*error_r = "empty dovecot-uidlist";
		return -1;
	}
	/* at most one entry per two bytes: the array is sized once */
	cap = (len - pos) / 2 + 1;
	list_r->entries = pool_alloc(pool, cap * sizeof(*list_r->entries));
	while (next_line(data, len, &pos, &line, &line_len)) {
		line_no++;
		if (line_len == 0)
			continue;
		struct import_uidlist_entry e;
		const char *why = uidlist_entry(line, line_len, list_r->version,
						pool, &e);
		if (why == NULL && list_r->count > 0 &&
		    e.uid <= list_r->entries[list_r->count - 1].uid)
			why = "UID not above the previous line's";
		if (why != NULL || list_r->count >= cap) {
			note_bad(pool, &list_r->bad_lines, &list_r->first_bad,
				 line_no, why != NULL ? why : "too many lines");
			continue;
		}
		list_r->entries[list_r->count++] = e;
	}
	if (list_r->count > 0 &&
	    list_r->uidnext <= list_r->entries[list_r->count - 1].uid)
		list_r->uidnext = list_r->entries[list_r->count - 1].uid + 1;
	return 0;
}

void import_keywords_parse(const char *data, size_t len, pool_t *pool,
			   struct import_keywords *kw_r)
{
	const char *line, *error;
	size_t line_len, pos = 0;
	unsigned line_no = 0;
	memset(kw_r, 0, sizeof(*kw_r));
	while (next_line(data, len, &pos, &line, &line_len)) {
		unsigned long long idx;
		size_t i = 0;
		line_no++;
		if (line_len == 0)
			continue;
		if (!take_number(line, line_len, &i, 1000000, &idx) ||
		    i >= line_len || line[i] != ' ') {
			note_bad(pool, &kw_r->bad_lines, &kw_r->first_bad,
				 line_no, "no index");
			continue;
		}
		if (idx >= IMPORT_KEYWORD_LETTERS)
			continue; /* no letter in a file name can name it */
		const char *name = pool_strndup(pool, line + i + 1, line_len - i - 1);
		if (strlen(name) != line_len - i - 1 ||
		    store_keyword_check(name, &error) < 0) {
			note_bad(pool, &kw_r->bad_lines, &kw_r->first_bad,
				 line_no, "not a valid keyword");
			continue;
		}
		kw_r->names[idx] = name;
	}
}

void import_filename_parse(const char *name, struct import_filename *fn_r)
{
	const char *info = strstr(name, ":2,");
	memset(fn_r, 0, sizeof(*fn_r));
	fn_r->base_len = info != NULL ? (size_t)(info - name) : strlen(name);
	if (info == NULL)
		return;
	for (const char *p = info + 3; *p != '\0'; p++) {
		switch (*p) {
		case 'S': fn_r->sysflags |= STORE_FLAG_SEEN; break;
		case 'R': fn_r->sysflags |= STORE_FLAG_ANSWERED; break;
		case 'F': fn_r->sysflags |= STORE_FLAG_FLAGGED; break;
		case 'T': fn_r->sysflags |= STORE_FLAG_DELETED; break;
		case 'D': fn_r->sysflags |= STORE_FLAG_DRAFT; break;
		default:
			/* P (passed) has no IMAP flag, as in Dovecot */
			if (*p >= 'a' && *p <= 'z')
				fn_r->keyword_bits |= 1u << (*p - 'a');
			break;
		}
	}
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v)); /* host order: Dovecot's indexes are */
	return v;
}

/* Dovecot's mail_index_offset_to_uint32(): 7 bits of every byte, each
 * with its high bit set; 0 for an invalid value. */
static uint32_t log_record_size(uint32_t offset)
{
	const unsigned char *b = (const unsigned char *)&offset;
	if ((offset & 0x80808080u) != 0x80808080u)
		return 0;
	return ((uint32_t)(b[3] & 0x7f) << 2) | ((uint32_t)(b[2] & 0x7f) << 9) |
		((uint32_t)(b[1] & 0x7f) << 16) | ((uint32_t)(b[0] & 0x7f) << 23);
}

#define LOG_HEADER_MIN 24       /* v1.0 header, no initial_modseq */
#define LOG_HEADER_MODSEQ_END 32 /* initial_modseq at 24..32 */
#define LOG_TYPE_MASK 0x000fffffu
#define LOG_TYPE_MODSEQ_UPDATE 0x00008000u
#define LOG_MODSEQ_UPDATE_SIZE 12 /* uid, modseq low32, high32 */
#define LOG_MODSEQ_PLAUSIBLE (1ull << 62)

int import_modseq_bound(const unsigned char *data, size_t len,
			uint64_t *bound_r, const char **error_r)
{
	if (len < LOG_HEADER_MIN || data[0] != 1) {
		*error_r = "not a Dovecot transaction log (version 1)";
		return -1;
	}
	size_t pos = (size_t)data[2] | (size_t)data[3] << 8;
	if (pos < LOG_HEADER_MIN || pos > len) {
		*error_r = "bad transaction log header size";
		return -1;
	}
	uint64_t base = 0, records = 0;
	if (pos >= LOG_HEADER_MODSEQ_END)
		base = (uint64_t)get_u32(data + 24) |
			(uint64_t)get_u32(data + 28) << 32;
	while (len - pos >= 8) {
		uint32_t size = log_record_size(get_u32(data + pos));
		uint32_t type = get_u32(data + pos + 4) & LOG_TYPE_MASK;
		if (size < 8 || size > len - pos)
			break;
		records++;
		if (type == LOG_TYPE_MODSEQ_UPDATE) {
			for (size_t i = pos + 8; i + LOG_MODSEQ_UPDATE_SIZE <= pos + size;
			     i += LOG_MODSEQ_UPDATE_SIZE) {
				uint64_t m = (uint64_t)get_u32(data + i + 4) |
					(uint64_t)get_u32(data + i + 8) << 32;
				if (m > base)
					base = m;
			}
		}
		pos += size;
	}
	/* RFC 7162 3.1.1: MODSEQs stay below 2^63; one from a damaged log
	 * that leaves no room above it is refused, not trusted */
	if (base > LOG_MODSEQ_PLAUSIBLE) {
		*error_r = "implausible MODSEQ in the transaction log";
		return -1;
	}
	/* an unreadable tail: a record per 8 bytes at most */
	records += (len - pos) / 8 + 1;
	*bound_r = base + records;
	return 0;
}

/* One modified UTF-7 component to UTF-8, refusing the store's
 * separator inside it. */
static int folder_component(const char *s, size_t len, str_t *out,
			    const char **error_r)
{
	size_t start = out->len;
	if (len == 0) {
		*error_r = "empty folder name component";
		return -1;
	}
	if (imap_mutf7_to_utf8(s, len, out, error_r) < 0)
		return -1;
	if (memchr(out->data + start, '/', out->len - start) != NULL) {
		*error_r = "'/' in a folder name (the store's hierarchy separator)";
		return -1;
	}
	return 0;
}

static int split_name(const char *s, size_t len, char sep, str_t *out,
		      const char **error_r)
{
	size_t start = out->len;
	while (len > 0) {
		const char *end = memchr(s, sep, len);
		size_t n = end != NULL ? (size_t)(end - s) : len;
		if (out->len > start)
			str_appendc(out, '/');
		if (folder_component(s, n, out, error_r) < 0)
			return -1;
		if (end == NULL)
			break;
		len -= n + 1;
		s = end + 1;
		if (len == 0) {
			*error_r = "empty folder name component";
			return -1;
		}
	}
	const char *canonical;
	if (out->len == start ||
	    store_mailbox_name_check(str_c(out) + start, &canonical, error_r) < 0)
		return out->len == start ? (*error_r = "empty folder name", -1) : -1;
	return 0;
}

int import_folder_name(const char *dirname, str_t *out, const char **error_r)
{
	if (dirname[0] != '.' || dirname[1] == '\0') {
		*error_r = "not a Maildir++ folder (\".Name\")";
		return -1;
	}
	return split_name(dirname + 1, strlen(dirname + 1), '.', out, error_r);
}

int import_subscription_name(const char *line, size_t len, bool v2,
			     str_t *out, const char **error_r)
{
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL in a subscription";
		return -1;
	}
	return split_name(line, len, v2 ? '\t' : '.', out, error_r);
}
