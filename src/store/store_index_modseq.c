/* store_index_modseq.c: one MODSEQ per index transaction (schema 8).
 *
 * RFC 7162 3.1.1 asks only that a MODSEQ grow with every change: several
 * messages changed by one command may share one (3.1.1: "each STORE
 * command ... will get a different mod-sequence value"; two commands are
 * two transactions here). Every flag change, expunge and new message of
 * one write transaction gets the same value, highestmodseq+1 taken once
 * per mailbox and transaction: a STORE over 500 messages, a delivery
 * scan, an import raise HIGHESTMODSEQ by one, so the MODSEQs clients see
 * stay short (the bytes of a QRESYNC resync, bench/resync.py).
 *
 * The SQL function postel_txn_modseq(mailbox_id, highestmodseq) is what
 * the expunge trigger, message_add and set_flags set highestmodseq to:
 * the value this transaction gave the mailbox if highestmodseq still
 * holds it, else highestmodseq+1 (remembered). It never returns less
 * than highestmodseq+1 unless highestmodseq is this transaction's own
 * value, which no client can have seen (uncommitted); so every change
 * gets a MODSEQ above every HIGHESTMODSEQ committed before, a message
 * changed twice in one transaction included, and CHANGEDSINCE n still
 * finds every change made after a client saw n. Whatever else raises
 * highestmodseq inside the transaction (an import's floor) makes the
 * next change take a new value. The memory is cleared by the commit and
 * rollback hooks, so no value outlives its transaction; a rolled-back
 * savepoint leaves highestmodseq below the remembered value, which then
 * is taken again. Entries are few (one per mailbox changed in the
 * transaction); past INDEX_TXN_MODSEQS the oldest is forgotten, which
 * costs one more increment, never correctness. */
#include "store/store_index_private.h"

static void txn_modseq_clear(struct store_index *idx)
{
	idx->txn_modseq_count = 0;
	idx->txn_modseq_next = 0;
}

static int txn_modseq_commit_hook(void *ctx)
{
	txn_modseq_clear(ctx);
	return 0; /* the commit goes on */
}

static void txn_modseq_rollback_hook(void *ctx)
{
	txn_modseq_clear(ctx);
}

int64_t index_txn_modseq(struct store_index *idx, int64_t mailbox_id,
			 int64_t highest)
{
	struct index_txn_modseq *e = NULL;
	for (unsigned i = 0; i < idx->txn_modseq_count; i++) {
		if (idx->txn_modseq[i].mailbox_id == mailbox_id) {
			e = &idx->txn_modseq[i];
			break;
		}
	}
	if (e != NULL && e->modseq == highest)
		return highest; /* this transaction's value, uncommitted */
	if (e == NULL) {
		if (idx->txn_modseq_count < INDEX_TXN_MODSEQS) {
			e = &idx->txn_modseq[idx->txn_modseq_count++];
		} else {
			e = &idx->txn_modseq[idx->txn_modseq_next];
			idx->txn_modseq_next = (idx->txn_modseq_next + 1) %
				INDEX_TXN_MODSEQS;
		}
		e->mailbox_id = mailbox_id;
	}
	e->modseq = highest < INT64_MAX ? highest + 1 : highest;
	return e->modseq;
}

static void txn_modseq_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	struct store_index *idx = sqlite3_user_data(ctx);
	sqlite3_result_int64(ctx, index_txn_modseq(idx,
		sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1])));
}

int index_txn_modseq_register(struct store_index *idx, const char **error_r)
{
	txn_modseq_clear(idx);
	/* not deterministic (it remembers); innocuous: it touches nothing
	 * but this connection's memory, so triggers may call it even with
	 * trusted_schema off */
	int rc = sqlite3_create_function(idx->db, "postel_txn_modseq", 2,
					 SQLITE_UTF8 | SQLITE_INNOCUOUS, idx,
					 txn_modseq_sql, NULL, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "open", error_r);
	(void)sqlite3_commit_hook(idx->db, txn_modseq_commit_hook, idx);
	(void)sqlite3_rollback_hook(idx->db, txn_modseq_rollback_hook, idx);
	return 0;
}
