/* mta_sts.h: MTA-STS (RFC 8461) for the queue runner: the _mta-sts TXT
 * record's id (3.1), the policy (3.2, parsed by dns/dns_parse.h), a
 * durable per-domain cache in DATA/queue/mta-sts/ (5.1), the check of an
 * MX host against the policy (4.1, 5), and the HTTPS fetch of
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt on the event loop
 * (mta_sts_fetch.c, 3.3).
 *
 * The runner's order (RFC 8461 5.1): look up the TXT record; a cached
 * policy is used as long as it has not expired (max_age) and its id is
 * the TXT record's (or the lookup failed); else fetch, and on success
 * store. A fetch failure with a cached unexpired policy keeps using it;
 * without one, delivery goes on as without MTA-STS (opportunistic).
 *
 * Check (RFC 8461 4.1, 5): mode enforce: an MX host that matches no mx
 * pattern must not be used (MTA_STS_REFUSE: the runner tries the next MX
 * or defers), and the one that matches must present a certificate that
 * verifies for its name (strict verification, TLS required); testing:
 * every MX is used as without a policy, and a mismatch is only logged
 * (MTA_STS_TESTING_MISMATCH); none: no policy. */
#ifndef POSTEL_MTA_STS_H
#define POSTEL_MTA_STS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define MTA_STS_ID_MAX 32          /* RFC 8461 3.1: 1*32(ALPHA / DIGIT) */
#define MTA_STS_POLICY_MAX (64 * 1024) /* RFC 8461 3.2 */
#define MTA_STS_MX_MAX 16

enum mta_sts_mode { MTA_STS_MODE_NONE, MTA_STS_MODE_TESTING, MTA_STS_MODE_ENFORCE };

struct mta_sts_policy {
	char id[MTA_STS_ID_MAX + 1];
	enum mta_sts_mode mode;
	time_t fetched;
	long max_age;              /* seconds, at most 31557600 */
	unsigned mx_count;
	char *mx[MTA_STS_MX_MAX];  /* patterns, "*.example.net" allowed */
	char *body;                /* the policy text as fetched */
	size_t body_len;
};

enum mta_sts_verdict {
	MTA_STS_NO_POLICY,         /* no policy or mode none */
	MTA_STS_VERIFY,            /* enforce, matched: TLS required, strict */
	MTA_STS_REFUSE,            /* enforce, no mx pattern matches */
	MTA_STS_TESTING_OK,        /* testing, matched: as without a policy */
	MTA_STS_TESTING_MISMATCH,  /* testing, no match: logged, delivered */
};

/* The id of a TXT record "v=STSv1; id=...;" (3.1): 0, or -1. */
int mta_sts_txt_id(const char *txt, size_t len, char id[MTA_STS_ID_MAX + 1],
		   const char **error_r);
/* The _mta-sts.DOMAIN TXT answer (dns.h): 1 with the id when exactly one
 * record starts with "v=STSv1" and parses; 0 when there is none or more
 * than one (RFC 8461 3.1: then as without a policy record); -1 when the
 * lookup failed (the runner keeps a cached policy). */
struct dns_answer;
int mta_sts_txt_answer(const struct dns_answer *answer,
		       char id[MTA_STS_ID_MAX + 1], const char **error_r);
/* Parses a fetched policy; id is the TXT record's. */
int mta_sts_policy_parse(const char *body, size_t len, const char *id,
			 time_t fetched, struct mta_sts_policy **policy_r,
			 const char **error_r);
void mta_sts_policy_free(struct mta_sts_policy **policy);
/* RFC 8461 5.1: usable without a fetch while unexpired and its id is
 * txt_id (NULL: the TXT lookup failed, keep the cached one). */
bool mta_sts_policy_fresh(const struct mta_sts_policy *policy, const char *txt_id,
			  time_t now);
bool mta_sts_policy_expired(const struct mta_sts_policy *policy, time_t now);
/* mx_host may end in a dot; policy NULL: MTA_STS_NO_POLICY. */
enum mta_sts_verdict mta_sts_check(const struct mta_sts_policy *policy,
				   const char *mx_host);
const char *mta_sts_verdict_name(enum mta_sts_verdict v);
const char *mta_sts_mode_name(enum mta_sts_mode mode);

/* The cache: dir is DATA/queue/mta-sts (created 0700 when missing), one
 * file per domain, written to a temporary file, fsynced and renamed.
 * load: 1 found (policy_r set), 0 none, -1 a damaged file (removed). */
int mta_sts_cache_store(const char *dir, const char *domain,
			const struct mta_sts_policy *policy, const char **error_r);
int mta_sts_cache_load(const char *dir, const char *domain,
		       struct mta_sts_policy **policy_r, const char **error_r);
/* A domain safe as a file name: LDH labels, lowered into out. */
bool mta_sts_domain_ok(const char *domain, char *out, size_t size);

#endif
