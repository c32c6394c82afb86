/* smtp_private.h: state shared by the files of the SMTP session:
 * smtp_session.c (life cycle, input loop, command table), smtp_cmds.c
 * (simple commands), smtp_auth.c (AUTH), smtp_lookup.c (MAIL and RCPT
 * account lookups), smtp_postmaster.c (RCPT to postmaster),
 * smtp_data_in.c (DATA and BDAT receipt), smtp_spool.c (spool file
 * writes) and smtp_deliver.c (headers, local delivery, queueing;
 * smtp_message.h holds its pure parts); lookups, spool writes and
 * delivery run their blocking work on the thread pool. The session (on
 * the base in session/session.h) lives as long as the connection; the
 * transaction (smtp_tx) from MAIL to the end of DATA/RSET, with its own
 * pool. */
#ifndef POSTEL_SMTP_PRIVATE_H
#define POSTEL_SMTP_PRIVATE_H

#include "smtp_session.h"
#include "session/session.h"
#include "smtp_parse.h"
#include "smtp_data.h"
#include "lib/str.h"
#include "lib/mem.h"

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct auth_login;
struct timeout;
struct userdb_target;

/* RFC 5321 4.5.3.1.4: command lines are at most 512 octets with CRLF. */
#define SMTP_LINE_MAX 510
/* RFC 4954 4: an AUTH line may be up to 12288 octets. */
#define SMTP_AUTH_LINE_MAX 12288
#define SMTP_INPUT_MAX (64 * 1024)
#define SMTP_OUTPUT_MAX (256 * 1024)
/* a message up to this size stays in memory; a bigger one spills to a file */
#define SMTP_SPOOL_MEM_MAX (64 * 1024)
/* a spool file larger than this is emptied when its transaction ends */
#define SMTP_SPOOL_KEEP_MAX (1024 * 1024)
/* the most of a MAIL/RCPT path kept for the refusal log */
#define SMTP_LOG_PATH_MAX 128
/* refusal log lines per session; 452 to RCPT is no bad command, so a
 * client could otherwise write the log without end */
#define SMTP_REJECT_LOG_MAX 100
/* the most copies (local and remote) one message may expand into */
#define SMTP_MAX_TARGETS 4096
/* how far past the size limit a BDAT chunk is still read and refused */
#define SMTP_BDAT_SKIP_MAX (16 * 1024 * 1024)

enum smtp_state {
	SMTP_STATE_COMMAND,
	SMTP_STATE_AUTH,        /* waiting for a SASL response line */
	SMTP_STATE_AUTH_FINAL,  /* SCRAM: waiting for the empty final line */
	SMTP_STATE_DATA,        /* reading dot-stuffed DATA */
	SMTP_STATE_BDAT,        /* reading a BDAT chunk's octets */
	SMTP_STATE_BDAT_SKIP,   /* discarding a refused BDAT chunk */
	SMTP_STATE_WAIT,        /* async work (auth check, delay) pending */
};

struct smtp_rcpt_entry {
	struct smtp_rcpt rcpt;
	struct userdb_target *targets;
	unsigned target_count;
};

struct smtp_tx {
	pool_t *pool;
	struct smtp_mail mail;
	struct smtp_rcpt_entry *rcpts;
	unsigned rcpt_count, rcpt_cap;
	unsigned target_total; /* recipients after alias expansion */
	/* message receipt */
	int spool_fd;        /* the session's spool file, borrowed; -1: in memory */
	uint64_t spool_size; /* octets in the file, or in spool_buf when in memory */
	str_t spool_buf;
	bool spool_failed;
	const char *spool_error;
	struct smtp_data_decoder dec;
	bool completing;     /* the end is in: judge and deliver it */
	bool bdat_started;   /* BDAT used in this transaction */
	bool bdat_last;
	bool bdat_failed;    /* a chunk was refused: rest is discarded */
	uint64_t bdat_remaining;
};

struct smtp_session {
	struct session base; /* first: conn, sid, pools, jobs, drain */

	enum smtp_state state;
	char *helo; /* replaced by each EHLO/HELO, never appended */
	bool esmtp;
	bool tls_started; /* STARTTLS done or implicit TLS */
	const char *auth_user;
	unsigned bad_commands;
	unsigned messages;

	struct auth_login *login; /* an AUTH in progress */
	unsigned delay_reply_code;

	/* the command whose 4xx/5xx replies smtp_reply() logs as refusals
	 * (UNKNOWN: none), and the path it named (MAIL, RCPT), cut to fit */
	enum smtp_cmd_verb cmd_verb;
	char cmd_path[SMTP_LOG_PATH_MAX];
	unsigned rejects_logged;

	struct smtp_tx *tx;
	int spool_fd; /* O_TMPFILE, reused by each message; -1 until needed */
	/* a BDAT chunk being discarded, and the reply owed after it */
	uint64_t skip_remaining;
	struct smtp_reply_err skip_reply;
	bool skip_close;
};

/* smtp_session.c */
void smtp_reply(struct smtp_session *s, unsigned code, const char *enhanced,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void smtp_reply_err(struct smtp_session *s, const struct smtp_reply_err *err);
void smtp_session_close(struct smtp_session *s);
void smtp_session_bad_command(struct smtp_session *s);
bool smtp_session_tls(const struct smtp_session *s);
bool smtp_session_auth_offered(const struct smtp_session *s);
unsigned smtp_session_exts(const struct smtp_session *s);
void smtp_tx_reset(struct smtp_session *s);
void smtp_session_reset(struct smtp_session *s);
/* Resume reading after async work finished. */
void smtp_session_resume(struct smtp_session *s);
/* After async work in the middle of input (a spool write): process what
 * is buffered now, then read again (or free a dead session). */
void smtp_session_continue(struct smtp_session *s);

/* smtp_cmds.c */
typedef void smtp_cmd_handler_t(struct smtp_session *s, const struct smtp_command *cmd);
smtp_cmd_handler_t smtp_cmd_ehlo, smtp_cmd_helo, smtp_cmd_mail, smtp_cmd_rcpt,
	smtp_cmd_rset, smtp_cmd_noop, smtp_cmd_quit, smtp_cmd_vrfy, smtp_cmd_expn,
	smtp_cmd_help, smtp_cmd_starttls, smtp_cmd_auth, smtp_cmd_data, smtp_cmd_bdat;

/* smtp_postmaster.c: RFC 5321 4.5.1 */
bool smtp_rcpt_is_postmaster(const struct smtp_address *to, bool local_domain);
struct userdb;
int smtp_postmaster_resolve(struct userdb *userdb, const char *postmaster_address,
			    pool_t *pool, struct userdb_target **targets_r,
			    unsigned *count_r, const char **error_r);

/* smtp_auth.c */
void smtp_auth_input_line(struct smtp_session *s, const char *line, size_t len);
void smtp_auth_abort(struct smtp_session *s);

/* smtp_lookup.c: account lookups on the thread pool; the session waits,
 * then the reply goes out. sender: MAIL after AUTH (tx installed on
 * success, else freed); rcpt: RCPT, address as resolved. */
void smtp_lookup_sender(struct smtp_session *s, struct smtp_tx *tx);
void smtp_lookup_rcpt(struct smtp_session *s, const struct smtp_rcpt *rcpt,
		      const char *address);

/* smtp_data_in.c: returns false when it needs more input */
bool smtp_data_input(struct smtp_session *s);
bool smtp_bdat_input(struct smtp_session *s);
int smtp_spool_open(struct smtp_session *s);

/* smtp_spool.c: move what the decoder produced to the spool file, on the
 * thread pool, when the memory part is full (or with final at the end of
 * a message that spilled). true: a write is out, the session waits and
 * goes on through smtp_session_continue(). */
bool smtp_spool_flush(struct smtp_session *s, bool final);

/* smtp_deliver.c: the message is complete in the spool; deliver or queue,
 * then reply. */
void smtp_deliver(struct smtp_session *s);

#endif
