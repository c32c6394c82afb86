/* imap_append_private.h: the state of one APPEND, shared by imap_append.c
 * (the command, one message streamed into the store) and
 * imap_multiappend.c (RFC 3502: further messages on the same command
 * line, committed all together). Nothing else includes it. */
#ifndef POSTEL_IMAP_APPEND_PRIVATE_H
#define POSTEL_IMAP_APPEND_PRIVATE_H

#include "imap/imap_parser.h"
#include "imap/imap_utf8.h"
#include "lib/literal.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "store/store_view.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct imap_session;
struct store;

/* the message goes to the store in pieces of about this size */
#define IMAP_APPEND_CHUNK (64 * 1024)
#define IMAP_APPEND_FLAGS_MAX 64
/* RFC 3502 sets no bound; ours: each message is one open file until the
 * commit, and all of them are within IMAP_MULTIAPPEND_TOTAL_FACTOR times
 * APPENDLIMIT (message_size_limit) together */
#define IMAP_MULTIAPPEND_MAX 100
#define IMAP_MULTIAPPEND_TOTAL_FACTOR 4

enum append_phase {
	APPEND_PHASE_LITERAL, /* reading the message's octets */
	APPEND_PHASE_END,     /* reading the rest of the command line */
};

struct imap_append {
	struct literal_prefix prefix;
	struct literal_reader reader;
	enum append_phase phase;
	bool started;         /* the delivery is open, octets are wanted */
	bool discard;         /* the command was answered: drop the octets */
	bool write_failed;
	bool bad_line;        /* something followed the literal */
	bool utf8;            /* RFC 6855 4: "UTF8 (~{n}" ... ")" */
	struct imap_utf8_scan scan; /* the current message's header */
	bool header_8bit_refused; /* RFC 6855 4: NO, UTF-8 not enabled */
	pool_t *pool;
	const char *address, *mailbox;
	struct store_flags_update flags;
	time_t internaldate;
	str_t buf;            /* octets read, not yet written */
	/* job results */
	int result;           /* 0 ok, 1 no such mailbox, -1 error */
	char error[256];
	uint32_t uidvalidity, uid;
	/* MULTIAPPEND (imap_multiappend.c): the messages before the current
	 * one are in s->multi; their sizes' sum with the current one's */
	uint64_t total;
	struct imap_parser *item_parser;
	struct store_flags_update next_flags; /* the next message's, parsed */
	time_t next_date;
	const char *uid_set;  /* APPENDUID's set after a multi commit */
	const char *refuse_code, *refuse_text; /* a refusal after the abort */
	bool refuse_bad;
};

/* imap_append.c */
/* The flags and date of one message: args[i..count) (RFC 3502 append-msg
 * without the literal); -1 and *error_r: BAD. Resets a->flags/date. */
int imap_append_parse_item(struct imap_append *a, const struct imap_arg *args, unsigned i,
			   unsigned count, const char **error_r);
/* The per-message limits (APPENDLIMIT, empty): -1 with code and text. */
int imap_append_check_size(struct imap_session *s, uint64_t size, const char **code_r,
			   const char **text_r);
/* The command was answered: drop a {n+}'s octets still coming. */
void imap_append_refused(struct imap_session *s);
/* The delivery is open: ask for the octets ("+" unless {n+}). */
void imap_append_start_literal(struct imap_session *s);
/* In a job: the current message's flags and date into s->delivery. */
int imap_append_set_meta(struct imap_session *s, const char **error_r);

/* imap_multiappend.c */
/* After a message's literal, the line goes on (len > 0): the next
 * message's flags, date and literal prefix. Takes over the input. */
void imap_multiappend_next(struct imap_session *s, const char *line, size_t len);
/* In a job: commit s->multi and s->delivery all together. */
void imap_multiappend_commit(struct imap_session *s, struct store *store);
/* A refused APPEND whose discarded {n+} is followed by more of the line:
 * true if that line ends in another {n+} to discard. */
bool imap_multiappend_discard_more(struct imap_session *s, const char *line, size_t len);

#endif
