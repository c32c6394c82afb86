/* imap_private.h: state shared by the files of the IMAP session:
 * imap_session.c (life cycle, input loop with literals, command table,
 * replies), imap_cmds.c (any-state commands: CAPABILITY, NOOP, LOGOUT,
 * ID, ENABLE, NAMESPACE), imap_auth.c (STARTTLS, LOGIN, AUTHENTICATE),
 * imap_store.c (running store work off the event loop) and
 * imap_select.c (SELECT, EXAMINE; CLOSE, UNSELECT are imap_close.c),
 * imap_select_sync.c (reporting mailbox changes to the client),
 * imap_selected.c (the selected state), imap_msgset.c (sequence sets), imap_store_cmd.c
 * (STORE), imap_expunge.c (EXPUNGE), imap_copy.c (COPY, MOVE).
 *
 * States (RFC 9051 3): not authenticated, authenticated, selected,
 * logout. A command runs from its dispatch until its tagged reply
 * (imap_cmd_ok/no/bad); meanwhile no other command is read, so replies
 * never overtake each other and the parser's strings (the arguments)
 * stay valid. A command that waits for the store runs its work on the
 * thread pool (imap_store_run()) and replies from its done callback. */
#ifndef POSTEL_IMAP_PRIVATE_H
#define POSTEL_IMAP_PRIVATE_H

#include "imap_session.h"
#include "session/session.h"
#include "imap/imap_parser.h"
#include "lib/literal.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <stdbool.h>
#include <stdint.h>

struct auth_login;
struct imap_append;
struct imap_idle;
struct session_user;
struct store;
struct store_delivery;
struct store_view;

/* RFC 9051 4 / 7162 4: a server should take command lines of at least
 * 8000 octets; a line past this is refused before login. After it, a
 * QRESYNC SELECT with its known UIDs or a long UID set may need more:
 * IMAP_LINE_MAX_AUTH (Dovecot takes 64 KiB), within IMAP_INPUT_MAX. */
#define IMAP_LINE_MAX 8192
#define IMAP_LINE_MAX_AUTH (32 * 1024)
/* RFC 7888 4: LITERAL- limits {n+} to 4096 octets. */
#define IMAP_NONSYNC_MAX 4096
/* Before login: a LOGIN with literals needs no more (TESTING.md 11). */
#define IMAP_PREAUTH_LITERAL_MAX 1024
/* A command's arguments held in memory (APPEND's message is streamed,
 * not counted here). */
#define IMAP_COMMAND_MAX (64 * 1024)
#define IMAP_MAX_ARGS 4096
#define IMAP_MAX_DEPTH 16
#define IMAP_INPUT_MAX (64 * 1024)
#define IMAP_OUTPUT_MAX (1024 * 1024)
/* RFC 9051 5.4: the autologout timer of an authenticated client is at
 * least 30 minutes; before login a client gets the login deadline. */
#define IMAP_AUTOLOGOUT_MIN_S (30 * 60)
#define IMAP_TAG_LOG_MAX 64

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

enum imap_input {
	IMAP_INPUT_COMMAND,  /* reading command lines */
	IMAP_INPUT_LITERAL,  /* reading a literal's octets */
	IMAP_INPUT_SKIP,     /* skipping a refused {n+} literal's octets */
	IMAP_INPUT_SASL,     /* AUTHENTICATE: a response line */
	IMAP_INPUT_WAIT,     /* a command runs: read nothing */
	IMAP_INPUT_APPEND,   /* APPEND: the message literal, then its line end */
	IMAP_INPUT_IDLE,     /* IDLE: waiting for DONE */
};

/* rev1 \Recent ranges a session keeps; past it the last one widens */
#define IMAP_RECENT_RANGES 16

/* The mailbox of the selected state. */
struct imap_selected {
	char *name;            /* canonical (UTF-8), heap */
	struct store_view *view;
	bool readonly;         /* EXAMINE */
	/* rev1 \Recent: the UID ranges [first, end) this session claimed */
	/* up to IMAP_RECENT_RANGES, grown one at a time: most selected
	 * sessions claim none or one (issue 9 item 15) */
	struct imap_recent_range { uint32_t first, end; } *recent;
	unsigned recent_count;
	unsigned exists;       /* what the client was last told */
	/* RFC 5182 "$": the last saved SEARCH result, UIDs ascending */
	uint32_t *saved;
	unsigned saved_count;
	/* idlecatchup9: flag changes of UIDs >= owed_uid since MODSEQ
	 * owed_since, and of any UID since owed_all_since (>= owed_since),
	 * may be untold (imap_select_sync.c "Catching up") */
	bool flags_owed;
	uint32_t flags_owed_uid;
	uint64_t flags_owed_since;
	uint64_t flags_owed_all_since; /* catchfix9 */
};

struct imap_cmd;
typedef void imap_cmd_func_t(struct imap_cmd *cmd);

struct imap_cmd_def {
	const char *name;
	imap_cmd_func_t *func;
	unsigned flags; /* IMAP_CMD_* */
};

enum imap_cmd_flags {
	IMAP_CMD_NOT_AUTH = 1u << 0, /* allowed before login */
	IMAP_CMD_AUTH = 1u << 1,     /* allowed after login */
	IMAP_CMD_SELECTED = 1u << 2, /* allowed with a mailbox selected */
	IMAP_CMD_UID = 1u << 3,      /* has a UID form (RFC 9051 6.4.9) */
	IMAP_CMD_ANY = IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH | IMAP_CMD_SELECTED,
	IMAP_CMD_LOGGED_IN = IMAP_CMD_AUTH | IMAP_CMD_SELECTED,
};

/* The command being run: from the parser, valid until its reply. */
struct imap_cmd {
	struct imap_session *s;
	const struct imap_cmd_def *def;
	const char *tag;
	const char *name;            /* upper-case, without "UID " */
	const struct imap_arg *args; /* after the name (and after UID's name) */
	unsigned count;
	bool uid;                    /* UID FETCH etc. */
};

struct imap_session {
	struct session base; /* first: conn, sid, pools, jobs, drain */

	enum imap_state state;
	enum imap_input input;
	struct imap_parser *parser;
	struct literal_reader literal;
	unsigned bad_commands;
	bool tls_started;
	bool rev2;            /* ENABLE IMAP4rev2 (RFC 9051 6.3.1) */
	bool utf8_accept;     /* names in UTF-8: rev2 (RFC 9051 5.1) */
	bool logout_sent;

	struct imap_cmd cmd;  /* the command running (cmd.tag != NULL) */
	bool sasl_final;      /* AUTHENTICATE: the next line answers server-final */
	struct auth_login *login;
	const char *user;     /* the canonical address, after login */

	struct session_user *suser; /* the user's lane and store handle */
	bool store_busy;      /* a job of this session is out */
	bool lane_held;       /* session_user_hold() for the running command */
	struct imap_selected *sel;
	/* APPEND (imap_append.c): the line being read is an APPEND's; the
	 * message being streamed, and its open delivery (aborted by
	 * imap_store_close() if the session ends first) */
	bool append_cmd;
	struct imap_append *append;
	struct store_delivery *delivery;
	struct imap_idle *idle; /* IDLE running (imap_idle.c) */
	/* MULTIAPPEND (imap_multiappend.c, RFC 3502): the messages of the
	 * running APPEND written before the current one, committed with it
	 * in one step or aborted (also by imap_store_close()) */
	struct store_delivery **multi;
	unsigned multi_count;
	/* UNAUTHENTICATE (imap_unauth.c): the heap copy s->user points to */
	char *user_owned;
	/* UTF8=ACCEPT (imap_utf8.c, RFC 6855): enabled by its own ENABLE
	 * (utf8_accept is also set by IMAP4rev2) */
	bool utf8_enabled;

	/* a large answer written as the client reads (imap_output_end) */
	str_t out;
	size_t out_off;
	void (*out_final)(struct imap_cmd *cmd);
	/* FETCH between its chunks (imap_fetch_cmd.c) */
	struct imap_fetch_job *fetch;

	/* for the disconnect log line */
	unsigned commands;

	/* CONDSTORE and QRESYNC (RFC 7162; imap_condstore.c, imap_qresync.c) */
	bool condstore;       /* enabled (3.1: ENABLE or a CONDSTORE-enabling command) */
	bool qresync;         /* ENABLE QRESYNC (3.2.3): VANISHED, not EXPUNGE */
	/* QRESYNC pending expunges (RFC 7162 3.2, imap_modseq_pending.c):
	 * the HIGHESTMODSEQ to send before the reply, 0: none */
	uint64_t modseq_pending;
	/* NOTIFY (RFC 5465, imap_notify*.c): the groups set, or NULL */
	struct imap_notify *notify;
};

/* imap_session.c */
/* Untagged data ("* ..."); CRLF added. */
void imap_untagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The tagged reply that ends cmd; CRLF added. resp_code may be NULL, else
 * the text inside [...] (RFC 9051 7.1). */
void imap_cmd_ok(struct imap_cmd *cmd, const char *resp_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void imap_cmd_no(struct imap_cmd *cmd, const char *resp_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* BAD: counts towards max_bad_commands. */
void imap_cmd_bad(struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A command waits for a job or a login: read nothing until it replies. */
void imap_cmd_wait(struct imap_cmd *cmd);
/* After a job came back: the session may be gone (freed now, true). */
bool imap_session_check_gone(struct imap_session *s);
/* "* BYE text" and close once written. */
void imap_session_bye(struct imap_session *s, const char *text);
bool imap_session_auth_offered(const struct imap_session *s);
/* The capability list for the current state, without "CAPABILITY". */
const char *imap_capabilities(const struct imap_session *s);
/* A string as an IMAP string: quoted when it can be, else a literal. */
void imap_append_string(str_t *out, const char *s, size_t len);
void imap_append_nstring(str_t *out, const char *s);
/* A mailbox name for the client: modified UTF-7 for rev1, UTF-8 for rev2
 * (RFC 9051 5.1), as an astring. */
void imap_append_mailbox(struct imap_session *s, str_t *out, const char *name);

/* A large answer (SEARCH, LIST, FETCH of many messages): append it to
 * the buffer imap_output_begin() gives, then imap_output_end() writes it
 * in pieces within the output cap as the client reads, and calls
 * final(cmd) (which replies) once all of it is queued. */
str_t *imap_output_begin(struct imap_session *s);
void imap_output_end(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));

/* imap_cmds.c */
imap_cmd_func_t imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id,
	imap_cmd_enable, imap_cmd_namespace, imap_cmd_check;

/* imap_auth.c */
imap_cmd_func_t imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate;
void imap_auth_input_line(struct imap_session *s, const char *line, size_t len);
void imap_auth_abort(struct imap_session *s);

/* imap_store.c: store work for a session, one job at a time, on its
 * user's lane (session_user.h). work(ctx, store) on a pool thread; store
 * is NULL when the user's handle could not be opened (then no view
 * exists either): work must fail at once. done(ctx) on the loop, where the
 * session may be gone: done checks imap_session_check_gone() first (its
 * ctx is its own to free either way). The last thing a command does. */
typedef void imap_store_work_t(void *ctx, struct store *store);
typedef void imap_store_done_t(void *ctx);
void imap_store_run(struct imap_session *s, imap_store_work_t *work,
		    imap_store_done_t *done, void *ctx);
/* The session ends: its view is closed on the lane, the user let go,
 * then done(s) on the loop. */
void imap_store_close(struct imap_session *s, void (*done)(struct imap_session *s));
/* The command ended: the user's handle may be closed while the session
 * rests (session_user_hold(), taken by imap_store_run()). */
void imap_store_release(struct imap_session *s);

/* imap_select.c, imap_select_sync.c, imap_selected.c */
imap_cmd_func_t imap_cmd_select, imap_cmd_examine, imap_cmd_close, imap_cmd_unselect;
/* Sync the selected mailbox and tell the client what changed (EXISTS,
 * EXPUNGE, FETCH FLAGS; RFC 9051 7.4, 7.5), then final(cmd) replies.
 * Not for FETCH, STORE and SEARCH without UID, during which no EXPUNGE
 * may be sent (RFC 9051 7.5.1). */
void imap_select_sync(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));
void imap_selected_free(struct imap_selected **sel);
bool imap_selected_is_recent(const struct imap_selected *sel, uint32_t uid);
/* rev1 \Recent: UIDs first..end-1 claimed by this session; how many of
 * the map are \Recent (also for SELECTED-DELAYED's EXISTS) */
void imap_selected_recent_add(struct imap_selected *sel, uint32_t first, uint32_t end);
unsigned imap_selected_recent_total(const struct imap_selected *sel);
/* "* seq FETCH (FLAGS (...))" for a flag change of the selected mailbox,
 * with \Recent for rev1 and UID MODSEQ once CONDSTORE is on (RFC 7162 3.2) */
struct store_view_flag_change;
void imap_selected_flags_fetch(struct imap_session *s, unsigned seq,
			       const struct store_view_flag_change *fc);

/* imap_append.c: APPEND. imap_append_prefix(): for a line of an APPEND
 * ending in the message's literal prefix: true and the length of the
 * line without it in *len_r (the message is streamed, never parsed). imap_append_input():
 * the octets and the line end (IMAP_INPUT_APPEND); false: wants input. */
imap_cmd_func_t imap_cmd_append;
bool imap_append_prefix(struct imap_session *s, const char *line, size_t len, size_t *len_r);
bool imap_append_input(struct imap_session *s);
void imap_append_free(struct imap_session *s);

/* imap_idle.c: IDLE; a line read while idling (NULL: too long) */
imap_cmd_func_t imap_cmd_idle;
void imap_idle_input_line(struct imap_session *s, const char *line, size_t len);
void imap_idle_free(struct imap_session *s);

/* RFC 5182: keep uids (ascending) as "$", replacing the last. */
void imap_selected_save(struct imap_selected *sel, const uint32_t *uids, unsigned count);

/* imap_search_cmd.c */
imap_cmd_func_t imap_cmd_search;
void imap_search_final(struct imap_cmd *cmd);

/* imap_mailbox.c: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS */
imap_cmd_func_t imap_cmd_create, imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe,
	imap_cmd_unsubscribe, imap_cmd_status;
struct store_mailbox_status;
/* In a job: the user's mailbox names, sorted (an account made before its
 * store gets its folders first); the subscriptions, sorted. */
int imap_mailbox_names(struct store *store, const char *address, pool_t *pool,
		       const char ***names_r, unsigned *count_r, const char **error_r);
int imap_mailbox_subscriptions(struct store *store, const char *address, pool_t *pool,
			       const char ***names_r, unsigned *count_r,
			       const char **error_r);
/* Lookups in a sorted name list: is name there; how many names lie
 * below parent ("parent/..."), from *first_r on. */
int imap_names_cmp(const void *a, const void *b); /* qsort over const char * */
bool imap_names_contain(const char *const *names, unsigned count, const char *name);
unsigned imap_names_below(const char *const *names, unsigned count, const char *parent,
			  unsigned *first_r);
/* STATUS items (RFC 9051 6.3.11, RFC 8438 SIZE, rev1 RECENT) */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 1u << 0,
	IMAP_STATUS_UIDNEXT = 1u << 1,
	IMAP_STATUS_UIDVALIDITY = 1u << 2,
	IMAP_STATUS_UNSEEN = 1u << 3,
	IMAP_STATUS_DELETED = 1u << 4,
	IMAP_STATUS_SIZE = 1u << 5,
	IMAP_STATUS_RECENT = 1u << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1u << 7, /* RFC 7162 3.1.6 */
	IMAP_STATUS_MAILBOXID = 1u << 8, /* RFC 8474 4 (OBJECTID) */
	IMAP_STATUS_APPENDLIMIT = 1u << 9, /* RFC 7889 3.2 */
};
/* args[i] the item list: a mask of IMAP_STATUS_*; -1 for BAD. */
int imap_status_items_parse(const struct imap_session *s, const struct imap_arg *args,
			    unsigned i, unsigned *items_r, const char **error_r);
/* "(MESSAGES n ...)"; APPENDLIMIT (RFC 7889 3.2) is the session's
 * message_size_limit, every mailbox alike, as CAPABILITY says */
void imap_status_append(const struct imap_session *s, str_t *out, unsigned items,
			const struct store_mailbox_status *st);

/* imap_fetch_cmd.c: FETCH, UID FETCH; abort: the session ends while a
 * FETCH waits for the client to read (frees its state) */
imap_cmd_func_t imap_cmd_fetch;
void imap_fetch_abort(struct imap_session *s);

/* imap_list.c: LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE) and LSUB */
imap_cmd_func_t imap_cmd_list, imap_cmd_lsub;
/* RFC 6154: "\Sent" etc. for the folders every account gets, else NULL */
const char *imap_list_special_use(const char *name);

/* imap_rev2.c: IMAP4rev2 (RFC 9051) beside rev1; see its contract */
/* IMAP4rev2 is advertised and can be enabled (every folded-in
 * extension works) */
/* ENABLE IMAP4rev2: true if this enabled it now (imap_cmds.c table) */
bool imap_rev2_enable(struct imap_session *s);
/* In a job: the attributes of SELECT's rev2 LIST response (6.3.2) */
int imap_rev2_select_attrs(struct store *store, const char *address, const char *name,
			   pool_t *pool, const char **attrs_r, const char **error_r);

/* imap_store_cmd.c, imap_expunge.c, imap_copy.c: message commands */
imap_cmd_func_t imap_cmd_store, imap_cmd_expunge, imap_cmd_copy, imap_cmd_move;
/* imap_copy.c: the user has a mailbox by this (canonical) name; in a
 * job (NO [NONEXISTENT] or [TRYCREATE] rather than a failure) */
bool imap_mailbox_exists(struct store *store, const char *address, const char *name);

/* sortthread: imap_sort_cmd.c: SORT, UID SORT, THREAD, UID THREAD
 * (RFC 5256, RFC 5267 ESORT, RFC 5957 SORT=DISPLAY) */
imap_cmd_func_t imap_cmd_sort, imap_cmd_thread;
/* imap_search_cmd.c: a SEARCH, SORT or THREAD job failed: log event and
 * answer NO [LIMIT] (result -2: over a limit) or NO [UNAVAILABLE]. */
void imap_search_job_failed(struct imap_cmd *cmd, const char *event, int result,
			    const char *error);
struct imap_search_ctx;
struct imap_search_limits;
struct imap_search_program;
/* imap_search_cmd.c: the program bounds SEARCH, SORT and THREAD share */
extern const struct imap_search_limits imap_search_cmd_limits;
/* imap_search_cmd.c: after imap_search_parse() or imap_sort_parse()
 * (parsed < 0: it failed with error), before the job runs. Answers a
 * failed parse (NO [BADCHARSET] or BAD) or a rev2 program with RECENT,
 * NEW or OLD (BAD) and returns -1: the caller frees its program.
 * Otherwise sets *ctx_r from the selection (rev1's \Recent range, "$")
 * and returns 0. */
int imap_search_program_start(struct imap_cmd *cmd, int parsed, const char *error,
			      const struct imap_search_program *prog,
			      struct imap_search_ctx *ctx_r);
/* imap_unauth.c: UNAUTHENTICATE (RFC 8437) */
imap_cmd_func_t imap_cmd_unauthenticate;

/* imap_utf8.c: UTF8=ACCEPT (RFC 6855). enable: true if newly enabled
 * (imap_cmds.c table). append_form: where the arguments before an APPEND
 * literal end; *utf8_r if the literal is the UTF8 data form "UTF8 (~{n}".
 * append_end: after such a literal, skip its ")" (false: missing). */
bool imap_utf8_enable(struct imap_session *s);
/* header_scan: fed a message's octets in order; eight_bit once an octet
 * >= 0x80 was seen before the empty line that ends the header. Starts
 * zeroed with .state = 1 (IMAP_UTF8_SCAN_INIT). */
struct imap_utf8_scan {
	bool body, eight_bit;
	unsigned char state;
};
#define IMAP_UTF8_SCAN_INIT { .body = false, .eight_bit = false, .state = 1 }
void imap_utf8_header_scan(struct imap_utf8_scan *sc, const char *data, size_t len);
size_t imap_utf8_append_form(const char *line, const struct literal_prefix *prefix,
			     bool *utf8_r);
bool imap_utf8_append_end(bool utf8, const char **line, size_t *len);
/* imap_compress.c: COMPRESS DEFLATE (RFC 4978) */
imap_cmd_func_t imap_cmd_compress;
/* imap_condstore.c: CONDSTORE (RFC 7162 3.1). ENABLE rows (true: newly
 * enabled; QRESYNC implies CONDSTORE). imap_condstore_activate(): a
 * CONDSTORE-enabling command ran (3.1); in the selected state the first
 * one gets "* OK [HIGHESTMODSEQ n]" (3.1.2.1). */
bool imap_condstore_enable(struct imap_session *s);
bool imap_qresync_enable(struct imap_session *s);
void imap_condstore_activate(struct imap_cmd *cmd);
/* "* OK [HIGHESTMODSEQ n]" when a mailbox is selected (3.1.2.1), for ENABLE
 * CONDSTORE or QRESYNC in the selected state */
void imap_condstore_announce(struct imap_session *s);
/* The HIGHESTMODSEQ to report for a view's MODSEQ (never 0: 7162 7
 * mod-sequence-value is positive). */
uint64_t imap_condstore_highest(uint64_t modseq);
/* Once enabled, what an untagged FETCH reporting flags adds after FLAGS
 * (3.2: UID unless has_uid, and MODSEQ); "" when not enabled. In buf. */
const char *imap_condstore_fetch_extra(const struct imap_session *s, uint32_t uid,
				       uint64_t modseq, bool has_uid, char *buf, size_t size);
/* STORE (UNCHANGEDSINCE n) [MODIFIED set] (3.1.3): the tagged code for
 * the refused UIDs (ascending), UIDs for UID STORE, else sequence
 * numbers; NULL when none (cmd pool). */
const char *imap_condstore_modified_code(struct imap_cmd *cmd, const uint32_t *uids,
					 unsigned count);

/* SEARCH MODSEQ (3.1.5): in the job, the highest MODSEQ of the matches
 * (0 for none); on the loop, " (MODSEQ n)" (SEARCH) or " MODSEQ n"
 * (ESEARCH) put at the end of the answer line that starts at out[start]. */
int imap_condstore_search_highest(struct store_view *view, const uint32_t *uids,
				  unsigned count, pool_t *pool, uint64_t *modseq_r,
				  const char **error_r);
void imap_condstore_search_append(str_t *out, size_t start, uint64_t modseq);

/* imap_qresync.c: QRESYNC (RFC 7162 3.2). */
struct imap_qresync_params;
/* In SELECT's job (on the lane, after the view opened): the answer to
 * SELECT ... (QRESYNC (...)) as untagged lines in *text_r (pool):
 * VANISHED (EARLIER) and the FETCH of each message changed (3.2.5.1). */
int imap_qresync_select(struct store_view *view, const struct imap_qresync_params *params,
			pool_t *pool, const char **text_r, const char **error_r);
/* In FETCH's job: UID FETCH ... (CHANGEDSINCE n VANISHED) (3.2.6): the
 * "* VANISHED (EARLIER) uids" line (with CRLF) for the UIDs of uid_set
 * (parsed, "*" resolved to UIDNEXT-1) expunged since `since` that the
 * view's map no longer holds, or "" (pool). */
struct imap_seqset;
int imap_qresync_fetch_vanished(struct store_view *view, uint64_t since,
				const struct imap_seqset *uid_set, pool_t *pool,
				const char **line_r, const char **error_r);
/* Expunges reported to a QRESYNC session (3.2.10): "* VANISHED uids",
 * in lines of at most max_line octets; false: out of room (call again) */
bool imap_qresync_report_vanished(struct imap_session *s, const uint32_t *uids,
				  unsigned count, unsigned *next);

/* imap_qresync_match.c: the highest UID of the client's seq-match pairs
 * that still has its sequence number (RFC 7162 3.2.5.2), 0 for none:
 * nothing the client holds at or below it is gone. */
uint32_t imap_qresync_match_floor(const struct store_view *view,
				  const struct imap_seqset *seqs,
				  const struct imap_seqset *uids);
/* imap_notify.c, imap_notify_events.c: NOTIFY (RFC 5465). kick: a command
 * or IDLE's sync ended, notifications may go out (deferred); free: the
 * session ends. imap_idle.c: IDLE reports what waits, if it can. */
imap_cmd_func_t imap_cmd_notify;
void imap_notify_kick(struct imap_session *s);
void imap_notify_free(struct imap_session *s);
void imap_idle_kick(struct imap_session *s);
/* imap_fetch_cmd.c, for NOTIFY's MessageNew (RFC 5465 5.2): FETCH of uids
 * (ascending) with req's items plus UID, final(cmd) in place of a reply */
struct imap_fetch_request;
void imap_fetch_run_uids(struct imap_cmd *cmd, const uint32_t *uids, unsigned count,
			 const struct imap_fetch_request *req, void (*final)(struct imap_cmd *cmd));
/* OBJECTID (RFC 8474), PREVIEW (RFC 8970), SAVEDATE (RFC 8514):
 * imap_objectid.c is reached through imap_fetch_render_private.h and
 * imap_search_eval_private.h */
struct store_view;
/* imap_objectid.c, on the lane: where THREADID is served (RFC 8474 5.2),
 * the mailbox's old mail gets its subject keys first, once per mailbox
 * (store_view_thread_backfill()); a failure is logged, not answered */
void imap_objectid_thread_backfill(struct store_view *view);
/* imap_preview.c: on the lane; *preview_r from pool ("" for no text) */
int imap_preview_get(struct store_view *view, uint32_t uid, pool_t *pool,
		     const char **preview_r, const char **error_r);
/* imap_fetch_downgrade.c: RFC 6858 downgrading for a session without
 * UTF8=ACCEPT / IMAP4rev2 (see its contract): makes info, *tree (read
 * into pool if NULL and needed) and *reader (opened if NULL) those of
 * the synthetic message when its header is 8-bit; -1 with *error_r when
 * the message cannot be read. */
struct mime_tree;
struct store_message_info;
struct store_message_reader;
int imap_fetch_downgrade(const struct imap_session *s, const struct imap_fetch_request *req,
			 struct store_view *view, uint32_t uid,
			 struct store_message_info *info, struct mime_tree **tree,
			 pool_t *pool, struct store_message_reader **reader,
			 const char **error_r);
/* Whether imap_fetch_downgrade() of req would refuse the message
 * (store_downgrade_error_limit), judged from its structure alone: RFC
 * 9051 6.4.5 sets \Seen as a side effect of fetching the body, so a
 * message answered NO [LIMIT] (nothing sent) is not marked */
bool imap_fetch_downgrade_refused(const struct imap_session *s,
				  const struct imap_fetch_request *req, struct store_view *view,
				  struct store_message_info *info);
/* imap_modseq_pending.c: RFC 7162 3.2, a MODSEQ sent while an expunge
 * is held back comes with an OK [HIGHESTMODSEQ] below it (see its
 * contract). check: on the lane, after the command's MODSEQs were read;
 * report: on the loop, before the tagged reply. */
void imap_modseq_pending_check(struct imap_session *s, bool reports_modseq);
void imap_modseq_pending_report(struct imap_session *s);
/* idlecatchup9. imap_modseq_pending.c, on the lane: STATUS/LIST-STATUS
 * of the selected mailbox with an expunge held back answer the view's
 * MODSEQ (RFC 7162 3.2). imap_select_sync.c: imap_select_sync() for
 * IDLE/NOTIFY, sending the net state of a client that fell behind.
 * imap_selected.c: the MODSEQ the client was told everything up to.
 * imap_idle.c: the socket's unsent-output cap; IDLE woke since its sync. */
void imap_modseq_pending_status(struct imap_session *s, const char *name,
				struct store_mailbox_status *st);
void imap_select_sync_net(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));
uint64_t imap_selected_told_modseq(const struct imap_selected *sel);
void imap_idle_socket_init(int fd);
bool imap_idle_changed_since(const struct imap_session *s);

#endif
