/* smtp_message.c: header-section scanner, Message-ID and delivery error
 * class. See smtp_message.h. */
#include "smtp/smtp_message.h"
#include "lib/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

enum scan_state {
	SCAN_LINE_START = 0,
	SCAN_NAME,		/* field name so far */
	SCAN_NAME_WSP,		/* WSP after the name (RFC 5322 4.5.3 obs) */
	SCAN_VALUE,		/* rest of a field line */
	SCAN_DONE,		/* the header section has ended */
};

enum field_kind {
	FIELD_NONE = 0,		/* no field open (first line) */
	FIELD_OTHER,
	FIELD_RETURN_PATH,
	FIELD_DELIVERED_TO,
};

void smtp_message_scan_init(struct smtp_message_scan *scan,
			    smtp_message_delivered_to_t *delivered_to,
			    void *context)
{
	memset(scan, 0, sizeof(*scan));
	scan->delivered_to = delivered_to;
	scan->context = context;
	scan->first_line = true;
}

void smtp_message_scan_deinit(struct smtp_message_scan *scan)
{
	free(scan->return_paths);
	memset(scan, 0, sizeof(*scan));
}

/* RFC 5322 3.6.8 ftext: printable US-ASCII except ':' */
static bool is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static void scan_add_return_path(struct smtp_message_scan *scan, uint64_t end)
{
	if (scan->return_path_count == scan->return_path_alloc) {
		scan->return_path_alloc = scan->return_path_alloc == 0 ? 4 :
			scan->return_path_alloc * 2;
		scan->return_paths = xrealloc(scan->return_paths,
			scan->return_path_alloc * sizeof(*scan->return_paths));
	}
	struct smtp_message_range *r = &scan->return_paths[scan->return_path_count++];
	r->start = scan->field_start;
	r->end = end;
}

static void scan_report_delivered_to(struct smtp_message_scan *scan)
{
	const char *v = scan->value;
	size_t len = scan->value_len;
	if (scan->value_overflow || scan->delivered_to == NULL)
		return;
	while (len > 0 && (is_wsp((unsigned char)v[0]) || v[0] == '\r')) {
		v++;
		len--;
	}
	while (len > 0 && (is_wsp((unsigned char)v[len - 1]) || v[len - 1] == '\r'))
		len--;
	if (len >= 2 && v[0] == '<' && v[len - 1] == '>') {
		v++;
		len -= 2;
	}
	scan->delivered_to(scan->context, v, len);
}

/* The field that started at field_start ends before offset end. */
static void scan_close_field(struct smtp_message_scan *scan, uint64_t end)
{
	if (scan->kind == FIELD_RETURN_PATH)
		scan_add_return_path(scan, end);
	else if (scan->kind == FIELD_DELIVERED_TO)
		scan_report_delivered_to(scan);
	scan->kind = FIELD_NONE;
}

/* The name before ':' is complete: decide what field this is. */
static void scan_name_done(struct smtp_message_scan *scan)
{
	scan->kind = FIELD_OTHER;
	if (scan->name_len == 11 && memcmp(scan->name, "return-path", 11) == 0)
		scan->kind = FIELD_RETURN_PATH;
	else if (scan->name_len == 12 && memcmp(scan->name, "delivered-to", 12) == 0)
		scan->kind = FIELD_DELIVERED_TO;
	scan->value_len = 0;
	scan->value_overflow = false;
	scan->state = SCAN_VALUE;
}

static void scan_name_char(struct smtp_message_scan *scan, unsigned char c)
{
	/* Longer names stop growing and cannot match: both wanted ones fit. */
	if (scan->name_len < sizeof(scan->name))
		scan->name[scan->name_len] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	if (scan->name_len <= sizeof(scan->name))
		scan->name_len++;
}

/* One octet at offset off. */
static void scan_octet(struct smtp_message_scan *scan, unsigned char c, uint64_t off)
{
	switch ((enum scan_state)scan->state) {
	case SCAN_LINE_START:
		if (is_wsp(c) && scan->kind != FIELD_NONE) {
			/* RFC 5322 2.2.3: a folded line of the open field */
			scan->state = SCAN_VALUE;
			break;
		}
		scan_close_field(scan, off);
		if (is_ftext(c)) {
			scan->field_start = off;
			scan->name_len = 0;
			scan_name_char(scan, c);
			scan->state = SCAN_NAME;
		} else {
			/* the empty line, or a line that is no field */
			if (off == 0 && (c == '\r' || c == '\n'))
				scan->first_line_empty = true;
			scan->state = SCAN_DONE;
		}
		return;
	case SCAN_NAME:
		if (c == ':') {
			if (scan->first_line)
				scan->first_line_field = true;
			scan_name_done(scan);
		} else if (is_ftext(c)) {
			scan_name_char(scan, c);
		} else if (is_wsp(c) && !scan->first_line) {
			scan->state = SCAN_NAME_WSP;
		} else {
			scan->state = SCAN_DONE;
		}
		return;
	case SCAN_NAME_WSP:
		if (c == ':')
			scan_name_done(scan);
		else if (!is_wsp(c))
			scan->state = SCAN_DONE;
		return;
	case SCAN_VALUE:
		break;
	case SCAN_DONE:
		return;
	}
	/* SCAN_VALUE */
	if (c == '\n') {
		scan->first_line = false;
		scan->state = SCAN_LINE_START;
		return;
	}
	/* RFC 5322 2.2.3: unfolding removes the CRLF, keeps the WSP */
	if (scan->kind == FIELD_DELIVERED_TO && c != '\r') {
		if (scan->value_len < sizeof(scan->value))
			scan->value[scan->value_len++] = (char)c;
		else
			scan->value_overflow = true;
	}
}

bool smtp_message_scan_feed(struct smtp_message_scan *scan, const void *data,
			    size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len && scan->state != SCAN_DONE; i++)
		scan_octet(scan, p[i], scan->size + i);
	scan->size += len;
	return scan->state == SCAN_DONE;
}

void smtp_message_scan_finish(struct smtp_message_scan *scan)
{
	/* a field that runs to the end of the message; a last line that
	 * never reached its ':' was no field and closed nothing */
	if (scan->state == SCAN_VALUE || scan->state == SCAN_LINE_START)
		scan_close_field(scan, scan->size);
	scan->state = SCAN_DONE;
}

bool smtp_message_needs_separator(const struct smtp_message_scan *scan)
{
	return scan->size > 0 && !scan->first_line_field && !scan->first_line_empty;
}

const char *smtp_message_date(time_t t)
{
	struct tm tm;
	char buf[64];
	localtime_r(&t, &tm);
	/* RFC 5322 3.3, in the C locale */
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(buf, sizeof(buf), "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	return t_printf("%s", buf);
}

void smtp_message_id(str_t *out, time_t now, const char *sid, unsigned seq,
		     const char *hostname)
{
	uint64_t rnd = 0;
	ssize_t n = getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK);
	if (n != (ssize_t)sizeof(rnd)) {
		/* no entropy yet (early boot): the clock's nanoseconds still
		 * set apart two messages of one session and second */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		rnd ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
	}
	/* RFC 5322 3.6.4: dot-atom-text "@" dot-atom-text */
	str_printf(out, "<%lld.%s.%u.%016llx@%s>", (long long)now, sid, seq,
		   (unsigned long long)rnd, hostname);
}

bool smtp_message_error_is_storage_full(const char *error)
{
	return error != NULL &&
		(strstr(error, strerror(ENOSPC)) != NULL ||
		 strstr(error, strerror(EDQUOT)) != NULL);
}
