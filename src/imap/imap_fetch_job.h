/* imap_fetch_job.h: the FETCH job, private to imap_fetch_cmd.c (the
 * command: items, modifiers, the loop side that writes each chunk) and
 * imap_fetch_job.c (the lane side: batches of index rows, \Seen, one
 * renderer at a time, a chunk per run). Nothing else includes it.
 *
 * Contract: imap_fetch_job_work() runs on the user's lane
 * (imap_store_run) and fills job->chunk with at most IMAP_FETCH_CHUNK
 * bytes; job->finished when the set is done, job->result < 0 on failure
 * (-1 before any output, -2 mid-response) with job->error.
 * imap_fetch_job_free() frees a job and whatever message it renders. */
#ifndef POSTEL_IMAP_FETCH_JOB_H
#define POSTEL_IMAP_FETCH_JOB_H

#include "imap/imap_condstore_parse.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_seqset.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct imap_cmd;
struct imap_fetch_render;
struct mime_tree;

/* the response held in memory at once (the brief's ~256 KiB bound) */
#define IMAP_FETCH_CHUNK (128 * 1024)
/* messages whose index rows are read at once */
#define IMAP_FETCH_BATCH 256

struct imap_fetch_job {
	struct imap_cmd *cmd;
	struct imap_fetch_request req;       /* as asked (+UID for UID FETCH) */
	struct imap_fetch_request req_flags; /* + FLAGS, for \Seen just set */
	uint32_t *uids;                      /* the messages, ascending (cmd pool) */
	unsigned uid_count, uid_pos;
	unsigned needs;
	bool sets_seen;

	unsigned batch_end;                  /* uids[uid_pos..batch_end) listed */
	pool_t *batch_pool;                  /* infos and seen_now */
	struct store_message_info *infos;    /* the batch, UID order */
	bool *seen_now;                      /* \Seen set by this FETCH */
	unsigned info_count, info_pos;

	struct imap_fetch_render *render;
	struct store_message_reader *reader;
	struct mime_tree *tree;
	pool_t *msg_pool;
	struct store_message_info cur;

	str_t chunk;
	bool finished;
	unsigned lost;
	unsigned unknown_cte; /* BINARY of a part in an unknown encoding */
	unsigned undowngradable; /* RFC 6858 limits: store_downgrade_error_limit */
	int result;   /* 0, -1: failed before any output, -2: mid-response */
	char error[256];
	/* RFC 7162: (CHANGEDSINCE n) leaves out messages not changed since;
	 * VANISHED first reports the set's UIDs expunged since (3.2.6) */
	struct imap_fetch_modifiers mods;
	struct imap_seqset uid_set;          /* VANISHED: the set as given */
	/* imap_fetch_run_uids (NOTIFY): in place of the tagged reply */
	void (*final)(struct imap_cmd *cmd);
};

static inline bool imap_fetch_request_has(const struct imap_fetch_request *req,
					  enum imap_fetch_item item)
{
	for (unsigned i = 0; i < req->count; i++)
		if (req->atts[i].item == item)
			return true;
	return false;
}

void imap_fetch_job_free(struct imap_fetch_job *job);
void imap_fetch_job_work(void *ctx, struct store *store);

#endif
