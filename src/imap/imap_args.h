/* imap_args.h: typed readers over imap_parser.h arguments: astring,
 * mailbox, number / number64, flags and flag lists, date and date-time,
 * all per RFC 9051 section 9 (formal syntax).
 *
 * Contract: each reader looks at one argument (or one list) and never
 * past it; 0 ok, -1 with a constant *error_r naming what was wrong. */
#ifndef POSTEL_IMAP_ARGS_H
#define POSTEL_IMAP_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "imap/imap_parser.h"

/* astring = 1*ASTRING-CHAR / string (NIL as an atom counts). */
int imap_arg_get_astring(const struct imap_arg *arg, const char **s_r, size_t *len_r,
			 const char **error_r);
/* An astring; "INBOX" in any case becomes "INBOX" (RFC 9051 5.1). */
int imap_arg_get_mailbox(const struct imap_arg *arg, const char **name_r,
			 const char **error_r);
/* number: 0..4294967295; number64: 0..2^63-1 (RFC 9051 9). */
int imap_arg_get_number32(const struct imap_arg *arg, uint32_t *n_r, const char **error_r);
int imap_arg_get_number64(const struct imap_arg *arg, uint64_t *n_r, const char **error_r);
int imap_parse_number64(const char *s, size_t len, uint64_t max, uint64_t *n_r);

/* flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
 * flag-keyword / flag-extension; "\Recent" and "\*" are never set by a
 * client (RFC 9051 2.3.2). */
bool imap_flag_is_valid(const char *s, size_t len);
/* args[i] a list of flags (or one flag atom): their strings in flags_r
 * (at most max). */
int imap_arg_get_flag_list(const struct imap_arg *args, unsigned i, const char **flags_r,
			   unsigned max, unsigned *count_r, const char **error_r);

struct imap_date {
	int year, month, day;            /* month 1..12 */
	int hour, min, sec, zone_min;    /* date-time only */
};
/* date = date-text / DQUOTE date-text DQUOTE (SEARCH keys) */
int imap_parse_date(const char *s, size_t len, struct imap_date *date_r, const char **error_r);
/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time
 * SP zone DQUOTE (APPEND), given without its quotes (a quoted argument). */
int imap_parse_datetime(const char *s, size_t len, struct imap_date *date_r,
			const char **error_r);
/* Seconds since the epoch, UTC (zone applied). */
int64_t imap_date_to_epoch(const struct imap_date *date);

#endif
