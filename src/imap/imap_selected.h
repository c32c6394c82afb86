/* imap_selected.h: the selected state (RFC 9051 3.3): the mailbox a
 * session has selected, kept between commands (imap_selected.c), and
 * telling the client how it changed (imap_select_sync.c). SELECT and
 * EXAMINE, which make it, are imap_select.c. */
#ifndef POSTEL_IMAP_SELECTED_H
#define POSTEL_IMAP_SELECTED_H

#include <stdbool.h>
#include <stdint.h>

struct imap_cmd;
struct imap_session;
struct store_view;
struct store_view_flag_change;

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

/* imap_select_sync.c */
/* Sync the selected mailbox and tell the client what changed (EXISTS,
 * EXPUNGE, FETCH FLAGS; RFC 9051 7.4, 7.5), then final(cmd) replies.
 * Not for FETCH, STORE and SEARCH without UID, during which no EXPUNGE
 * may be sent (RFC 9051 7.5.1). */
void imap_select_sync(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));

/* imap_selected.c */
void imap_selected_free(struct imap_selected **sel);
bool imap_selected_is_recent(const struct imap_selected *sel, uint32_t uid);
/* rev1 \Recent: UIDs first..end-1 claimed by this session; how many of
 * the map are \Recent (also for SELECTED-DELAYED's EXISTS) */
void imap_selected_recent_add(struct imap_selected *sel, uint32_t first, uint32_t end);
unsigned imap_selected_recent_total(const struct imap_selected *sel);
/* "* seq FETCH (FLAGS (...))" for a flag change of the selected mailbox,
 * with \Recent for rev1 and UID MODSEQ once CONDSTORE is on (RFC 7162 3.2) */
void imap_selected_flags_fetch(struct imap_session *s, unsigned seq,
			       const struct store_view_flag_change *fc);
/* RFC 5182: keep uids (ascending) as "$", replacing the last. */
void imap_selected_save(struct imap_selected *sel, const uint32_t *uids, unsigned count);
/* idlecatchup9. imap_select_sync.c: imap_select_sync() for IDLE/NOTIFY,
 * sending the net state of a client that fell behind. imap_selected.c:
 * the MODSEQ the client was told everything up to. */
void imap_select_sync_net(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));
uint64_t imap_selected_told_modseq(const struct imap_selected *sel);

#endif
