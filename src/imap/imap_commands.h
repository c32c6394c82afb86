/* imap_commands.h: the IMAP commands, one handler per row of the command
 * table (imap_dispatch.c), and the hooks the session calls into the
 * commands that outlive their dispatch: a line read in a command's own
 * input mode (AUTHENTICATE, APPEND, IDLE) and the end of the session
 * (abort or free what a command left). */
#ifndef POSTEL_IMAP_COMMANDS_H
#define POSTEL_IMAP_COMMANDS_H

#include "imap/imap_session_private.h"

#include <stdbool.h>
#include <stddef.h>

/* imap_cmds.c */
imap_cmd_func_t imap_cmd_capability, imap_cmd_noop, imap_cmd_logout, imap_cmd_id,
	imap_cmd_enable, imap_cmd_namespace, imap_cmd_check;

/* imap_auth.c */
imap_cmd_func_t imap_cmd_starttls, imap_cmd_login, imap_cmd_authenticate;
void imap_auth_input_line(struct imap_session *s, const char *line, size_t len);
void imap_auth_abort(struct imap_session *s);

/* imap_select.c, imap_close.c */
imap_cmd_func_t imap_cmd_select, imap_cmd_examine, imap_cmd_close, imap_cmd_unselect;

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

/* imap_search_cmd.c */
imap_cmd_func_t imap_cmd_search;

/* imap_mailbox.c: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS */
imap_cmd_func_t imap_cmd_create, imap_cmd_delete, imap_cmd_rename, imap_cmd_subscribe,
	imap_cmd_unsubscribe, imap_cmd_status;

/* imap_fetch_cmd.c: FETCH, UID FETCH; abort: the session ends while a
 * FETCH waits for the client to read (frees its state) */
imap_cmd_func_t imap_cmd_fetch;
void imap_fetch_abort(struct imap_session *s);

/* imap_list.c: LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE) and LSUB */
imap_cmd_func_t imap_cmd_list, imap_cmd_lsub;

/* imap_store_cmd.c, imap_expunge.c, imap_copy.c: message commands */
imap_cmd_func_t imap_cmd_store, imap_cmd_expunge, imap_cmd_copy, imap_cmd_move;

/* sortthread: imap_sort_cmd.c: SORT, UID SORT, THREAD, UID THREAD
 * (RFC 5256, RFC 5267 ESORT, RFC 5957 SORT=DISPLAY) */
imap_cmd_func_t imap_cmd_sort, imap_cmd_thread;

/* imap_unauth.c: UNAUTHENTICATE (RFC 8437) */
imap_cmd_func_t imap_cmd_unauthenticate;

/* imap_compress.c: COMPRESS DEFLATE (RFC 4978) */
imap_cmd_func_t imap_cmd_compress;

/* imap_notify.c, imap_notify_events.c: NOTIFY (RFC 5465). kick: a command
 * or IDLE's sync ended, notifications may go out (deferred); free: the
 * session ends. imap_idle.c: IDLE reports what waits, if it can; IDLE
 * woke since its sync (idlecatchup9). */
imap_cmd_func_t imap_cmd_notify;
void imap_notify_kick(struct imap_session *s);
void imap_notify_free(struct imap_session *s);
void imap_idle_kick(struct imap_session *s);
bool imap_idle_changed_since(const struct imap_session *s);

#endif
