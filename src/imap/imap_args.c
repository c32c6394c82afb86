/* imap_args.c: typed argument readers (see imap_args.h). */
#include "imap/imap_args.h"

#include <string.h>
#include <strings.h>

static bool is_astring_char(unsigned char c)
{
	/* ASTRING-CHAR = ATOM-CHAR / resp-specials (RFC 9051 9) */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

int imap_arg_get_astring(const struct imap_arg *arg, const char **s_r, size_t *len_r,
			 const char **error_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		for (size_t i = 0; i < arg->len; i++)
			if (!is_astring_char((unsigned char)arg->str[i])) {
				*error_r = "Invalid character in astring";
				return -1;
			}
		break;
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		break;
	default:
		*error_r = "Expected a string";
		return -1;
	}
	*s_r = arg->str;
	*len_r = arg->len;
	return 0;
}

int imap_arg_get_mailbox(const struct imap_arg *arg, const char **name_r,
			 const char **error_r)
{
	const char *s;
	size_t len;
	if (imap_arg_get_astring(arg, &s, &len, error_r) < 0)
		return -1;
	if (len == 0 || memchr(s, '\0', len) != NULL) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	/* RFC 9051 5.1: INBOX is case-insensitive */
	*name_r = len == 5 && strncasecmp(s, "INBOX", 5) == 0 ? "INBOX" : s;
	return 0;
}

int imap_parse_number64(const char *s, size_t len, uint64_t max, uint64_t *n_r)
{
	if (len == 0)
		return -1;
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (n > (max - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*n_r = n;
	return 0;
}

int imap_arg_get_number64(const struct imap_arg *arg, uint64_t *n_r, const char **error_r)
{
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_parse_number64(arg->str, arg->len, INT64_MAX, n_r) < 0) {
		*error_r = "Expected a number up to 2^63-1";
		return -1;
	}
	return 0;
}

int imap_arg_get_number32(const struct imap_arg *arg, uint32_t *n_r, const char **error_r)
{
	uint64_t n;
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_parse_number64(arg->str, arg->len, UINT32_MAX, &n) < 0) {
		*error_r = "Expected a number up to 4294967295";
		return -1;
	}
	*n_r = (uint32_t)n;
	return 0;
}

bool imap_flag_is_valid(const char *s, size_t len)
{
	static const char *const system_flags[] = {
		"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
	};
	if (len == 0)
		return false;
	size_t start = s[0] == '\\' ? 1 : 0;
	if (start == len)
		return false;
	/* flag-keyword and flag-extension are atoms: no '\' after the first */
	for (size_t i = start; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_astring_char(c) || c == ']')
			return false;
	}
	if (start == 0)
		return true;
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(*system_flags); i++)
		if (strlen(system_flags[i]) == len && strncasecmp(s, system_flags[i], len) == 0)
			return true;
	/* flag-extension: "\" atom, but \Recent cannot be stored */
	return !(len == 7 && strncasecmp(s, "\\Recent", 7) == 0);
}

int imap_arg_get_flag_list(const struct imap_arg *args, unsigned i, const char **flags_r,
			   unsigned max, unsigned *count_r, const char **error_r)
{
	unsigned first = i, end = i + 1;
	if (args[i].type == IMAP_ARG_LIST) {
		first = i + 1;
		end = first + args[i].list_len;
	}
	*count_r = 0;
	for (unsigned k = first; k < end; k++) {
		if (args[k].type != IMAP_ARG_ATOM || !imap_flag_is_valid(args[k].str, args[k].len)) {
			*error_r = "Invalid flag";
			return -1;
		}
		if (*count_r >= max) {
			*error_r = "Too many flags";
			return -1;
		}
		flags_r[(*count_r)++] = args[k].str;
	}
	return 0;
}

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

static int digits(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* date-text = date-day "-" date-month "-" date-year; returns the length
 * used, -1 when malformed. fixed: date-day-fixed (SP DIGIT / 2DIGIT). */
static int parse_date_text(const char *s, size_t len, bool fixed, struct imap_date *d)
{
	size_t i;
	if (fixed) {
		if (len < 2)
			return -1;
		d->day = s[0] == ' ' ? digits(s + 1, 1) : digits(s, 2);
		i = 2;
	} else {
		i = len >= 2 && s[1] >= '0' && s[1] <= '9' ? 2 : 1;
		d->day = len >= i ? digits(s, i) : -1;
	}
	if (d->day < 1 || len < i + 9 || s[i] != '-' || s[i + 4] != '-')
		return -1;
	d->month = 0;
	for (int m = 0; m < 12; m++)
		if (strncasecmp(s + i + 1, months[m], 3) == 0)
			d->month = m + 1;
	d->year = digits(s + i + 5, 4);
	if (d->month == 0 || d->year < 1 || d->day > days_in_month(d->year, d->month))
		return -1;
	return (int)(i + 9);
}

int imap_parse_date(const char *s, size_t len, struct imap_date *date_r, const char **error_r)
{
	memset(date_r, 0, sizeof(*date_r));
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	}
	int n = parse_date_text(s, len, false, date_r);
	if (n < 0 || (size_t)n != len) {
		*error_r = "Invalid date (want d-Mon-yyyy)";
		return -1;
	}
	return 0;
}

int imap_parse_datetime(const char *s, size_t len, struct imap_date *date_r,
			const char **error_r)
{
	memset(date_r, 0, sizeof(*date_r));
	*error_r = "Invalid date-time (want \"dd-Mon-yyyy hh:mm:ss +zzzz\")";
	int n = parse_date_text(s, len, true, date_r);
	/* SP time SP zone: " hh:mm:ss +zzzz" */
	if (n < 0 || len != (size_t)n + 15)
		return -1;
	const char *t = s + n;
	if (t[0] != ' ' || t[3] != ':' || t[6] != ':' || t[9] != ' ' ||
	    (t[10] != '+' && t[10] != '-'))
		return -1;
	date_r->hour = digits(t + 1, 2);
	date_r->min = digits(t + 4, 2);
	date_r->sec = digits(t + 7, 2);
	int zh = digits(t + 11, 2), zm = digits(t + 13, 2);
	if (date_r->hour < 0 || date_r->hour > 23 || date_r->min < 0 || date_r->min > 59 ||
	    date_r->sec < 0 || date_r->sec > 60 || zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return -1;
	date_r->zone_min = (zh * 60 + zm) * (t[10] == '-' ? -1 : 1);
	*error_r = NULL;
	return 0;
}

int64_t imap_date_to_epoch(const struct imap_date *d)
{
	/* days from civil (proleptic Gregorian) */
	int64_t y = d->year - (d->month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (d->month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d->day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return days * 86400 + d->hour * 3600 + d->min * 60 + d->sec -
		(int64_t)d->zone_min * 60;
}
