/* probe_reply.h: parsers for what mail servers say to "postel probe".
 *
 * Pure functions over one line (without its CRLF), so they can be unit
 * tested and fuzzed (fuzz/fuzz-probe-reply.c). Lines are untrusted: every
 * capability word stored is escaped with probe_text_safe() and cut to
 * PROBE_CAP_LEN_MAX, and a list holds at most PROBE_CAPS_MAX words (then
 * it is marked truncated). Nothing here allocates outside the pool given. */
#ifndef POSTEL_PROBE_REPLY_H
#define POSTEL_PROBE_REPLY_H

#include "probe/probe.h"

/* The longest line probe reads from a server (IMAP CAPABILITY lines of
 * real servers reach ~1000 bytes; RFC 5321 4.5.3.1.5 allows 512 for SMTP). */
#define PROBE_LINE_MAX 8192

/* The next line in buf: 1 with *line_r, *line_len_r (CR and LF cut) and
 * *consumed_r (bytes incl. the LF); 0 when no LF yet; -1 when no LF within
 * PROBE_LINE_MAX bytes. */
int probe_line_next(const char *buf, size_t len, const char **line_r,
		    size_t *line_len_r, size_t *consumed_r);

/* RFC 5321 4.2: "NNN-text", "NNN text" or "NNN". 0, or -1 when malformed. */
int probe_smtp_reply_line(const char *line, size_t len, unsigned *code_r,
			  bool *last_r, const char **text_r, size_t *text_len_r);

/* Add one word to a list (escaped, bounded). Duplicates are kept once. */
void probe_caps_add(pool_t *pool, struct probe_caps *caps,
		    const char *word, size_t len);
/* Case-insensitive membership. */
bool probe_caps_has(const struct probe_caps *caps, const char *word);

/* One EHLO keyword line (the text after "250-"): the keyword goes to caps
 * with its parameters ("SIZE 1000" kept whole); "AUTH a b" and the old
 * "AUTH=a b" add their mechanisms to mechs. */
void probe_smtp_ehlo_line(pool_t *pool, struct probe_caps *caps,
			  struct probe_caps *mechs, const char *text, size_t len);
/* One CAPA line of POP3 (RFC 2449): "SASL a b" adds mechanisms. */
void probe_pop3_capa_line(pool_t *pool, struct probe_caps *caps,
			  struct probe_caps *mechs, const char *line, size_t len);
/* IMAP capability atoms (RFC 9051 7.2.2), space separated: each goes to
 * caps, "AUTH=X" also adds X to mechs. */
void probe_imap_caps(pool_t *pool, struct probe_caps *caps,
		     struct probe_caps *mechs, const char *text, size_t len);
/* The capability text in an untagged IMAP line: "* CAPABILITY ..." or a
 * "* OK [CAPABILITY ...] ..." / "* PREAUTH [CAPABILITY ...]" response code.
 * 1 with the atoms' span, 0 when the line carries none. */
int probe_imap_caps_in_line(const char *line, size_t len,
			    const char **caps_r, size_t *caps_len_r);

#endif
