/* imap_sort_date.c: the sent date of SORT DATE and THREAD (RFC 5256 3:
 * "the date and time from the Date: header, adjusted by time zone to
 * UTC"): RFC 5322 3.3 date-time with the obsolete forms of 4.3 (two- and
 * three-digit years, alphabetic zones, no seconds). */
#include "imap/imap_sort.h"

#include "imap/imap_args.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

/* digits at *p: at least min, at most max; -1 if none */
static long digits(const char **p, int min, int max)
{
	long v = 0;
	int n = 0;
	while (n < max && isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n < min ? -1 : v;
}

/* RFC 5322 4.3 obs-zone, in minutes east of UTC; military zones are
 * "-0000" (unknown) by 4.3, as is anything unrecognised */
static int named_zone(const char *p)
{
	static const struct { const char *name; int min; } zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};
	size_t n = 0;
	while (isalpha((unsigned char)p[n]))
		n++;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == n && strncasecmp(p, zones[i].name, n) == 0)
			return zones[i].min;
	}
	return 0;
}

bool imap_sort_parse_date(const char *s, size_t len, int64_t *epoch_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char buf[160];
	if (s == NULL || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *p = skip_ws(buf);
	/* [day-of-week ","] */
	if (isalpha((unsigned char)*p)) {
		const char *comma = strchr(p, ',');
		if (comma == NULL)
			return false;
		p = skip_ws(comma + 1);
	}
	struct imap_date d = { 0 };
	long day = digits(&p, 1, 2);
	p = skip_ws(p);
	int month = 0;
	for (int m = 0; m < 12; m++) {
		if (strncasecmp(p, months + 3 * m, 3) == 0)
			month = m + 1;
	}
	if (day < 1 || day > 31 || month == 0)
		return false;
	p = skip_ws(p + 3);
	const char *ystart = p;
	long year = digits(&p, 2, 4);
	if (year < 0)
		return false;
	/* RFC 5322 4.3: 2-digit years below 50 are 20xx, others 19xx;
	 * 3-digit years add 1900 */
	if (p - ystart == 2)
		year += year < 50 ? 2000 : 1900;
	else if (p - ystart == 3)
		year += 1900;
	p = skip_ws(p);
	long hour = digits(&p, 1, 2), min = -1, sec = 0;
	if (hour >= 0 && *p == ':') {
		p++;
		min = digits(&p, 2, 2);
		if (*p == ':') {
			p++;
			sec = digits(&p, 2, 2);
		}
	}
	if (hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return false;
	p = skip_ws(p);
	int zone = 0;
	if (*p == '+' || *p == '-') {
		const char *z = p + 1;
		long hhmm = digits(&z, 4, 4);
		if (hhmm < 0 || hhmm % 100 > 59)
			return false;
		zone = (int)(hhmm / 100 * 60 + hhmm % 100) * (*p == '-' ? -1 : 1);
	} else if (isalpha((unsigned char)*p)) {
		zone = named_zone(p);
	}
	d.year = (int)year;
	d.month = month;
	d.day = (int)day;
	d.hour = (int)hour;
	d.min = (int)min;
	d.sec = (int)sec;
	d.zone_min = zone;
	*epoch_r = imap_date_to_epoch(&d);
	return true;
}
