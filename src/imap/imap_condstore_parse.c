/* imap_condstore_parse.c: RFC 7162 command parameters (see
 * imap_condstore_parse.h). */
#include "imap/imap_condstore_parse.h"
#include "imap/imap_args.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool atom_is(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && strcasecmp(arg->str, word) == 0;
}

int imap_condstore_modseq(const struct imap_arg *arg, bool zero, uint64_t *modseq_r)
{
	/* RFC 7162 7: 1*DIGIT, a positive (or zero) 63-bit integer */
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_parse_number64(arg->str, arg->len, INT64_MAX, modseq_r) < 0)
		return -1;
	return *modseq_r == 0 && !zero ? -1 : 0;
}

int imap_condstore_fetch_modifiers(const struct imap_arg *args, unsigned i, unsigned end,
				   struct imap_fetch_modifiers *mods_r, const char **error_r)
{
	*mods_r = (struct imap_fetch_modifiers){ 0 };
	if (i >= end || args[i].type != IMAP_ARG_LIST || imap_arg_next(args, i) != end) {
		*error_r = "Invalid FETCH modifiers";
		return -1;
	}
	bool changedsince = false;
	for (unsigned k = i + 1; k < end; k++) {
		if (atom_is(&args[k], "CHANGEDSINCE") && !changedsince && k + 1 < end) {
			/* RFC 7162 3.1.4.1: CHANGEDSINCE mod-sequence-value */
			if (imap_condstore_modseq(&args[k + 1], false, &mods_r->changedsince) < 0) {
				*error_r = "CHANGEDSINCE needs a MODSEQ value";
				return -1;
			}
			changedsince = true;
			k++;
		} else if (atom_is(&args[k], "VANISHED") && !mods_r->vanished) {
			mods_r->vanished = true;
		} else {
			*error_r = "Unknown FETCH modifier";
			return -1;
		}
	}
	if (!changedsince) {
		/* RFC 7162 3.2.6: VANISHED only with CHANGEDSINCE; an empty
		 * list modifies nothing and is not fetch-modifiers */
		*error_r = mods_r->vanished ? "VANISHED needs CHANGEDSINCE" :
			"Empty FETCH modifier list";
		return -1;
	}
	return 0;
}

int imap_condstore_store_modifiers(const struct imap_arg *args, unsigned i, unsigned end,
				   uint64_t *unchangedsince_r, bool *has_r,
				   const char **error_r)
{
	*unchangedsince_r = 0;
	*has_r = false;
	if (i >= end || args[i].type != IMAP_ARG_LIST) {
		*error_r = "Invalid STORE modifiers";
		return -1;
	}
	unsigned stop = imap_arg_next(args, i);
	for (unsigned k = i + 1; k < stop; k += 2) {
		/* RFC 7162 3.1.3: UNCHANGEDSINCE mod-sequence-valzer, once */
		if (!atom_is(&args[k], "UNCHANGEDSINCE") || *has_r || k + 1 >= stop ||
		    imap_condstore_modseq(&args[k + 1], true, unchangedsince_r) < 0) {
			*error_r = "Invalid STORE modifier";
			return -1;
		}
		*has_r = true;
	}
	return 0;
}

static int seqset_arg(const struct imap_arg *arg, unsigned max_ranges,
		      struct imap_seqset *set_r, const char **error_r)
{
	if (arg->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(arg->str, arg->len, max_ranges, set_r, error_r) < 0)
		return -1;
	if (set_r->saved || set_r->has_star) {
		/* known-uids and seq-match hold no "$" (RFC 7162 7) and no "*"
		 * (a known UID is a number) */
		imap_seqset_free(set_r);
		return -1;
	}
	return 0;
}

/* (uidvalidity modseq [known-uids] [(known-seqs known-uids)]) */
static int qresync_list(const struct imap_arg *args, unsigned i, unsigned max_ranges,
			struct imap_qresync_params *p)
{
	const char *error;
	if (args[i].type != IMAP_ARG_LIST || args[i].list_len < 2)
		return -1;
	unsigned k = i + 1, stop = imap_arg_next(args, i);
	if (imap_arg_get_number32(&args[k], &p->uidvalidity, &error) < 0 ||
	    p->uidvalidity == 0 || imap_condstore_modseq(&args[k + 1], false, &p->modseq) < 0)
		return -1;
	k += 2;
	if (k < stop && args[k].type == IMAP_ARG_ATOM) {
		if (seqset_arg(&args[k], max_ranges, &p->known_uids, &error) < 0)
			return -1;
		p->has_known_uids = true;
		k++;
	}
	if (k < stop) {
		/* seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
		if (args[k].type != IMAP_ARG_LIST || args[k].list_len != 2 ||
		    imap_arg_next(args, k) != stop ||
		    seqset_arg(&args[k + 1], max_ranges, &p->match_seqs, &error) < 0)
			return -1;
		p->has_seq_match = true;
		if (seqset_arg(&args[k + 2], max_ranges, &p->match_uids, &error) < 0)
			return -1;
		/* RFC 7162 3.2.5: the two sets have the same count, each in
		 * ascending order (7: the pairs are matched by position) */
		if (imap_seqset_count(&p->match_seqs) != imap_seqset_count(&p->match_uids) ||
		    !imap_qresync_match_ascending(args[k + 1].str, args[k + 1].len) ||
		    !imap_qresync_match_ascending(args[k + 2].str, args[k + 2].len))
			return -1;
	}
	return 0;
}

int imap_qresync_params_parse(const struct imap_arg *args, unsigned i, unsigned end,
			      unsigned max_ranges, struct imap_qresync_params *params_r,
			      const char **error_r)
{
	struct imap_qresync_params *p = params_r;
	*p = (struct imap_qresync_params){ 0 };
	if (i >= end || args[i].type != IMAP_ARG_LIST || args[i].list_len == 0 ||
	    imap_arg_next(args, i) != end) {
		*error_r = "Invalid SELECT parameters";
		return -1;
	}
	for (unsigned k = i + 1; k < end; k = imap_arg_next(args, k)) {
		if (atom_is(&args[k], "CONDSTORE") && !p->condstore) {
			p->condstore = true;
		} else if (atom_is(&args[k], "QRESYNC") && !p->qresync && k + 1 < end) {
			p->qresync = p->condstore = true;
			k++;
			if (qresync_list(args, k, max_ranges, p) < 0) {
				imap_qresync_params_free(p);
				*error_r = "Invalid QRESYNC parameters";
				return -1;
			}
		} else {
			imap_qresync_params_free(p);
			*error_r = "Unknown SELECT parameter";
			return -1;
		}
	}
	return 0;
}

void imap_qresync_params_free(struct imap_qresync_params *params)
{
	imap_seqset_free(&params->known_uids);
	imap_seqset_free(&params->match_seqs);
	imap_seqset_free(&params->match_uids);
	params->has_known_uids = params->has_seq_match = false;
}

int imap_condstore_search_modseq(const struct imap_arg *args, unsigned i, unsigned end,
				 uint64_t *modseq_r, unsigned *used_r, const char **error_r)
{
	*error_r = "MODSEQ needs a MODSEQ value";
	if (i >= end)
		return -1;
	if (args[i].type == IMAP_ARG_QUOTED || args[i].type == IMAP_ARG_LITERAL) {
		/* RFC 7162 3.1.5: entry-flag-name = "/flags/" attr-flag;
		 * entry-type-req = "priv" / "shared" / "all" */
		if (args[i].len < 8 || strncasecmp(args[i].str, "/flags/", 7) != 0 ||
		    !imap_flag_is_valid(args[i].str + 7, args[i].len - 7) ||
		    i + 2 >= end ||
		    !(atom_is(&args[i + 1], "priv") || atom_is(&args[i + 1], "shared") ||
		      atom_is(&args[i + 1], "all"))) {
			*error_r = "Invalid MODSEQ entry";
			return -1;
		}
		if (imap_condstore_modseq(&args[i + 2], true, modseq_r) < 0)
			return -1;
		*used_r = 3;
		return 0;
	}
	if (imap_condstore_modseq(&args[i], true, modseq_r) < 0)
		return -1;
	*used_r = 1;
	return 0;
}
