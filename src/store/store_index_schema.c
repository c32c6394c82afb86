/* store_index_schema.c: the SQL schema of the index (store_index.h) and
 * the migrations from older versions; store_index.c runs them under the
 * write lock when an open finds user_version below STORE_INDEX_VERSION.
 * A version newer than ours is refused, never touched. */
#include "store/store_index_private.h"

/* 2: mailboxes.new_mtime and tmp_checked (store_index.h)
 * 3: mailbox views (store_view.h): messages.sysflags and guid, the mailbox
 *    counters kept by triggers, the expunge log, the keyword list
 * 4: messages.checkpoints (LF/CRLF checkpoints, store_seek.h), the
 *    expunge log's time and horizon (store_index_horizon.c)
 * 5: messages.structure (the mime_cache.h blob of the message's MIME tree,
 *    NULL until first asked for: store_view_message_structure())
 * 6: the unseen and deleted indexes (SELECT's first unseen message and
 *    EXPUNGE's \Deleted ones without a read of every row) and the
 *    keyword list, kept by triggers on every flag text a message gets
 *    (when appended, copied, flagged or rebuilt), filled for old stores
 * 7: object ids and save dates (RFC 8474, RFC 8514, RFC 8970):
 *    mailboxes.objectid (MAILBOXID), messages.savedate, threadid and
 *    preview, the per-user msgids table (store_index_objectid.c)
 * 8: one MODSEQ per transaction (store_index_modseq.c): the expunge
 *    trigger takes postel_txn_modseq() instead of highestmodseq + 1 per
 *    row, so one EXPUNGE of 500 messages raises HIGHESTMODSEQ by one
 * 9: messages.hdr8bit, set at delivery (store_thread.c): whether the
 *    top-level header is 8-bit, so a legacy session's FETCH knows
 *    without the MIME structure that no RFC 6858 downgrade is due;
 *    mailboxes.thread_keys (the subject keys of mail stored before
 *    session 7, store_thread_backfill.c)
 * 10: messages.dgsize: the size of the RFC 6858 synthetic message
 *    (store_downgrade.c) of an 8-bit one, NULL until first needed (POP3
 *    LIST/STAT, SEARCH LARGER/SMALLER, FETCH RFC822.SIZE without
 *    UTF8=ACCEPT), then read instead of downgrading again. A change of
 *    what mime_downgrade_header() writes must set it NULL again in the
 *    migration of its version.
 * 11: messages.sortkeys: what SORT compares of the message (RFC 5256 3,
 *    RFC 5957), an opaque blob of imap_sort_cache.c, NULL until the
 *    first SORT in the mailbox needs it (store_index_sortkeys.c) */

/* The keywords of a flag text (system flags start with '\', which no
 * keyword holds, nor '"': store_keyword_check()), as rows of json_each:
 * a trigger may not use a recursive CTE to split the words. */
#define STORE_INDEX_KEYWORDS_OF(flags) \
	" SELECT value FROM json_each('[\"' || replace(replace(" flags ", '\\'," \
	" '\\\\'), ' ', '\",\"') || '\"]')" \
	" WHERE value != '' AND substr(value, 1, 1) != '\\'"

/* The expunge trigger of versions 4 to 8: the mailbox counters, the
 * expunge log entry with its time, and HIGHESTMODSEQ set to next (an SQL
 * expression of the mailboxes row) before the entry takes it. */
#define STORE_INDEX_EXPUNGE_TRIGGER(next) \
	"CREATE TRIGGER messages_del AFTER DELETE ON messages BEGIN" \
	" UPDATE mailboxes SET n_messages = n_messages - 1," \
	"  n_size = n_size - old.size," \
	"  n_unseen = n_unseen - ((old.sysflags & 1) = 0)," \
	"  n_deleted = n_deleted - ((old.sysflags & 8) != 0)," \
	"  highestmodseq = " next \
	"  WHERE id = old.mailbox_id;" \
	" INSERT OR REPLACE INTO expunges (mailbox_id, uid, modseq, expunged_at)" \
	"  SELECT old.mailbox_id, old.uid, highestmodseq," \
	"  CAST(strftime('%s', 'now') AS INTEGER) FROM mailboxes" \
	"  WHERE id = old.mailbox_id; END;"

/* What version 9 adds to version 8: a nullable column; no row is read
 * or rewritten (NULL: not known, learnt on first need); and
 * mailboxes.thread_keys, 0 until the first FETCH or SEARCH THREADID in the mailbox has
 * given its thread roots their subject keys (store_thread_backfill.c). */
#define STORE_INDEX_V9 \
	"ALTER TABLE messages ADD COLUMN hdr8bit INTEGER;" \
	"ALTER TABLE mailboxes ADD COLUMN thread_keys INTEGER NOT NULL DEFAULT 0;" \
	"PRAGMA user_version=9;"

/* What version 10 adds to version 9: a nullable column, nothing read or
 * rewritten (NULL: learnt on first need) */
#define STORE_INDEX_V10 \
	"ALTER TABLE messages ADD COLUMN dgsize INTEGER;" \
	"PRAGMA user_version=10;"

/* What version 11 adds to version 10: a nullable column, nothing read
 * or rewritten (NULL: computed by the first SORT that needs it) */
#define STORE_INDEX_V11 \
	"ALTER TABLE messages ADD COLUMN sortkeys BLOB;" \
	"PRAGMA user_version=11;"

/* What version 8 changes in version 7: the expunge trigger only. Existing
 * MODSEQs stay as they are (values only grow from here), so no row is
 * read or rewritten. The trigger needs the connection's function
 * postel_txn_modseq() (store_index_modseq.c): an expunge by a program
 * without it fails (and changes nothing) rather than reusing a MODSEQ. */
#define STORE_INDEX_V8 \
	"DROP TRIGGER IF EXISTS messages_del;" \
	STORE_INDEX_EXPUNGE_TRIGGER("postel_txn_modseq(id, highestmodseq)") \
	"PRAGMA user_version=8;"

/* What version 7 adds to version 6: nullable columns (no row is
 * rewritten; rows of version 6 read savedate as their internal date and
 * threadid as their guid: store_index_private.h), a MAILBOXID for every
 * existing mailbox (a few rows) and the thread table. The trigger gives
 * a new mailbox its MAILBOXID whoever inserts the row; RENAME updates
 * the name only, so the id stays (RFC 8474 4.1). */
#define STORE_INDEX_V7 \
	"ALTER TABLE mailboxes ADD COLUMN objectid TEXT;" \
	"UPDATE mailboxes SET objectid = 'F' || lower(hex(randomblob(12)));" \
	"CREATE TRIGGER IF NOT EXISTS mailboxes_objectid AFTER INSERT ON mailboxes" \
	" WHEN new.objectid IS NULL BEGIN" \
	" UPDATE mailboxes SET objectid = 'F' || lower(hex(randomblob(12)))" \
	" WHERE id = new.id; END;" \
	"ALTER TABLE messages ADD COLUMN savedate INTEGER;" \
	"ALTER TABLE messages ADD COLUMN threadid BLOB;" \
	"ALTER TABLE messages ADD COLUMN preview TEXT;" \
	"CREATE TABLE IF NOT EXISTS msgids (" \
	" msgid TEXT PRIMARY KEY," \
	" threadid BLOB NOT NULL) WITHOUT ROWID;" \
	"PRAGMA user_version=7;"

/* What version 6 adds to version 5. The keywords table keeps every
 * keyword a message of the mailbox was ever given (SELECT's FLAGS,
 * RFC 9051 7.3.5, may list flags no message holds any more). */
#define STORE_INDEX_V6 \
	"CREATE INDEX IF NOT EXISTS messages_unseen ON messages (mailbox_id, uid)" \
	" WHERE (sysflags & 1) = 0;" \
	"CREATE INDEX IF NOT EXISTS messages_deleted ON messages (mailbox_id, uid)" \
	" WHERE (sysflags & 8) != 0;" \
	"CREATE TRIGGER IF NOT EXISTS messages_kw_ins AFTER INSERT ON messages" \
	" WHEN new.flags != '' BEGIN" \
	" INSERT OR IGNORE INTO keywords (mailbox_id, name) SELECT new.mailbox_id, value FROM (" \
	STORE_INDEX_KEYWORDS_OF("new.flags") "); END;" \
	"CREATE TRIGGER IF NOT EXISTS messages_kw_upd AFTER UPDATE OF flags ON messages" \
	" WHEN new.flags != '' BEGIN" \
	" INSERT OR IGNORE INTO keywords (mailbox_id, name) SELECT new.mailbox_id, value FROM (" \
	STORE_INDEX_KEYWORDS_OF("new.flags") "); END;" \
	"INSERT OR IGNORE INTO keywords (mailbox_id, name)" \
	" SELECT m.mailbox_id, k.value FROM messages m, json_each('[\"' ||" \
	" replace(replace(m.flags, '\\', '\\\\'), ' ', '\",\"') || '\"]') k" \
	" WHERE m.flags != '' AND k.value != '' AND substr(k.value, 1, 1) != '\\';" \
	"PRAGMA user_version=6;"

/* What version 5 adds to version 4: a nullable column, so the migration
 * is one ALTER and no row is rewritten. */
#define STORE_INDEX_V5 \
	"ALTER TABLE messages ADD COLUMN structure BLOB;" \
	"PRAGMA user_version=5;"

/* What version 4 adds to version 3, run after it by a new index and by
 * every migration. The expunge trigger is replaced to stamp its time. */
#define STORE_INDEX_V4 \
	"ALTER TABLE messages ADD COLUMN checkpoints BLOB;" \
	"ALTER TABLE mailboxes ADD COLUMN expunge_horizon INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE expunges ADD COLUMN expunged_at INTEGER NOT NULL DEFAULT 0;" \
	"DROP TRIGGER IF EXISTS messages_del;" \
	STORE_INDEX_EXPUNGE_TRIGGER("highestmodseq + 1") \
	"PRAGMA user_version=4;"

/* What version 3 adds to version 2, shared by a new index and the
 * migration. The triggers keep the mailbox counters (STATUS without
 * reading rows) and the expunge log (RFC 7162 3.2.5: every expunge gets a
 * MODSEQ of its own, above every earlier one) whoever changes messages.
 * sysflags bits: store_view.h STORE_FLAG_*. */
#define STORE_INDEX_V3 \
	"CREATE TABLE IF NOT EXISTS expunges (" \
	" mailbox_id INTEGER NOT NULL," \
	" uid INTEGER NOT NULL," \
	" modseq INTEGER NOT NULL," \
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;" \
	"CREATE INDEX IF NOT EXISTS expunges_modseq ON expunges (mailbox_id, modseq);" \
	"CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox_id, modseq);" \
	"CREATE TABLE IF NOT EXISTS subscriptions (" \
	" name TEXT PRIMARY KEY) WITHOUT ROWID;" \
	"CREATE TABLE IF NOT EXISTS keywords (" \
	" mailbox_id INTEGER NOT NULL," \
	" name TEXT NOT NULL COLLATE NOCASE," \
	" PRIMARY KEY (mailbox_id, name)) WITHOUT ROWID;" \
	"CREATE TRIGGER IF NOT EXISTS messages_ins AFTER INSERT ON messages BEGIN" \
	" UPDATE mailboxes SET n_messages = n_messages + 1," \
	"  n_size = n_size + new.size," \
	"  n_unseen = n_unseen + ((new.sysflags & 1) = 0)," \
	"  n_deleted = n_deleted + ((new.sysflags & 8) != 0)" \
	"  WHERE id = new.mailbox_id; END;" \
	"CREATE TRIGGER IF NOT EXISTS messages_del AFTER DELETE ON messages BEGIN" \
	" UPDATE mailboxes SET n_messages = n_messages - 1," \
	"  n_size = n_size - old.size," \
	"  n_unseen = n_unseen - ((old.sysflags & 1) = 0)," \
	"  n_deleted = n_deleted - ((old.sysflags & 8) != 0)," \
	"  highestmodseq = highestmodseq + 1" \
	"  WHERE id = old.mailbox_id;" \
	" INSERT OR REPLACE INTO expunges (mailbox_id, uid, modseq)" \
	"  SELECT old.mailbox_id, old.uid, highestmodseq FROM mailboxes" \
	"  WHERE id = old.mailbox_id; END;" \
	"CREATE TRIGGER IF NOT EXISTS messages_flags AFTER UPDATE OF sysflags" \
	" ON messages BEGIN" \
	" UPDATE mailboxes SET" \
	"  n_unseen = n_unseen - ((old.sysflags & 1) = 0) + ((new.sysflags & 1) = 0)," \
	"  n_deleted = n_deleted - ((old.sysflags & 8) != 0) + ((new.sysflags & 8) != 0)" \
	"  WHERE id = new.mailbox_id; END;"

static const char store_index_schema[] =
	"CREATE TABLE IF NOT EXISTS mailboxes ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL,"
	" new_mtime INTEGER NOT NULL DEFAULT 0,"
	" tmp_checked INTEGER NOT NULL DEFAULT 0,"
	" first_recent_uid INTEGER NOT NULL DEFAULT 1,"
	" n_messages INTEGER NOT NULL DEFAULT 0,"
	" n_unseen INTEGER NOT NULL DEFAULT 0,"
	" n_deleted INTEGER NOT NULL DEFAULT 0,"
	" n_size INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '',"
	" filename TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" internaldate INTEGER NOT NULL,"
	" sysflags INTEGER NOT NULL DEFAULT 0,"
	" guid BLOB,"
	" PRIMARY KEY (mailbox_id, uid),"
	" UNIQUE (mailbox_id, filename));"
	STORE_INDEX_V3
	STORE_INDEX_V4
	STORE_INDEX_V5
	STORE_INDEX_V6
	STORE_INDEX_V7
	STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;

/* version 1 to 2: the columns that let an open skip the Maildir scan */
#define STORE_INDEX_MIGRATE_1 \
	"ALTER TABLE mailboxes ADD COLUMN new_mtime INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE mailboxes ADD COLUMN tmp_checked INTEGER NOT NULL DEFAULT 0;"

/* version 2 to 3: sysflags from the flag text, counters from a count of
 * the rows (once), then the tables and triggers of version 3 */
#define STORE_INDEX_MIGRATE_2 \
	"ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;" \
	"ALTER TABLE mailboxes ADD COLUMN n_messages INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE mailboxes ADD COLUMN n_unseen INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE mailboxes ADD COLUMN n_deleted INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE mailboxes ADD COLUMN n_size INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE messages ADD COLUMN sysflags INTEGER NOT NULL DEFAULT 0;" \
	"ALTER TABLE messages ADD COLUMN guid BLOB;" \
	"UPDATE messages SET guid = randomblob(16);" \
	"UPDATE messages SET sysflags =" \
	" (instr(' ' || flags || ' ', ' \\Seen ') > 0) * 1 +" \
	" (instr(' ' || flags || ' ', ' \\Answered ') > 0) * 2 +" \
	" (instr(' ' || flags || ' ', ' \\Flagged ') > 0) * 4 +" \
	" (instr(' ' || flags || ' ', ' \\Deleted ') > 0) * 8 +" \
	" (instr(' ' || flags || ' ', ' \\Draft ') > 0) * 16;" \
	"UPDATE mailboxes SET" \
	" first_recent_uid = uidnext," \
	" n_messages = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id)," \
	" n_size = (SELECT coalesce(sum(size), 0) FROM messages m" \
	"  WHERE m.mailbox_id = mailboxes.id)," \
	" n_unseen = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id" \
	"  AND (m.sysflags & 1) = 0)," \
	" n_deleted = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id" \
	"  AND (m.sysflags & 8) != 0);" \
	STORE_INDEX_V3

static const char store_index_migrate_1[] =
	STORE_INDEX_MIGRATE_1 STORE_INDEX_MIGRATE_2 STORE_INDEX_V4
	STORE_INDEX_V5 STORE_INDEX_V6 STORE_INDEX_V7 STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_2[] =
	STORE_INDEX_MIGRATE_2 STORE_INDEX_V4 STORE_INDEX_V5 STORE_INDEX_V6
	STORE_INDEX_V7 STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_3[] =
	STORE_INDEX_V4 STORE_INDEX_V5 STORE_INDEX_V6 STORE_INDEX_V7
	STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_4[] =
	STORE_INDEX_V5 STORE_INDEX_V6 STORE_INDEX_V7 STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_5[] =
	STORE_INDEX_V6 STORE_INDEX_V7 STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_6[] = STORE_INDEX_V7 STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_7[] = STORE_INDEX_V8 STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_8[] = STORE_INDEX_V9 STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_9[] = STORE_INDEX_V10 STORE_INDEX_V11;
static const char store_index_migrate_10[] = STORE_INDEX_V11;

const char *index_schema_sql(int from_version)
{
	switch (from_version) {
	case 1:
		return store_index_migrate_1;
	case 2:
		return store_index_migrate_2;
	case 3:
		return store_index_migrate_3;
	case 4:
		return store_index_migrate_4;
	case 5:
		return store_index_migrate_5;
	case 6:
		return store_index_migrate_6;
	case 7:
		return store_index_migrate_7;
	case 8:
		return store_index_migrate_8;
	case 9:
		return store_index_migrate_9;
	case 10:
		return store_index_migrate_10;
	default:
		return store_index_schema;
	}
}
