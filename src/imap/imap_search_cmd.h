/* imap_search_cmd.h: what SEARCH (imap_search_cmd.c) shares with SORT
 * and THREAD (imap_sort_cmd.c): the program's bounds, its start from the
 * selection, the answer to a failed job. */
#ifndef POSTEL_IMAP_SEARCH_CMD_H
#define POSTEL_IMAP_SEARCH_CMD_H

struct imap_cmd;
struct imap_search_ctx;
struct imap_search_limits;
struct imap_search_program;

/* imap_search_cmd.c: SEARCH's tagged reply once its answer is queued */
void imap_search_final(struct imap_cmd *cmd);
/* imap_search_cmd.c: a SEARCH, SORT or THREAD job failed: log event and
 * answer NO [LIMIT] (result -2: over a limit) or NO [UNAVAILABLE]. */
void imap_search_job_failed(struct imap_cmd *cmd, const char *event, int result,
			    const char *error);
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

#endif
