/* runner_mtasts.h: MTA-STS (RFC 8461) in the queue runner: which policy
 * governs a destination domain, and what it asks of each MX host.
 *
 * runner_mtasts_get() runs on the runner's loop and never blocks it: the
 * _mta-sts.DOMAIN TXT lookup (src/dns), then, only when the TXT id is not
 * the one of a cached unexpired policy (RFC 8461 5.1), the A/AAAA of
 * mta-sts.DOMAIN and the HTTPS fetch (mta_sts_fetch.c: verified
 * certificate, no redirects, 64 KiB, a deadline; RFC 8461 3.3). Policies
 * are cached in memory (bounded) and on disk in DATA/queue/mta-sts/ so a
 * restart keeps them until max_age. Attempts to one domain share one
 * lookup. A fetch that fails keeps an unexpired cached policy; without one
 * the domain is delivered to as without MTA-STS (RFC 8461 5.1), and the
 * attempt line says mta_sts=failed.
 *
 * Per MX host (runner_sts_host_allowed, runner_sts_dest): mode enforce
 * skips a host that matches no mx pattern (RFC 8461 4.1) and requires
 * STARTTLS with a certificate verified for the host name against
 * relay_ca_file or the system store (4.2); testing delivers as without a
 * policy and logs the mismatch (event=mta_sts_mismatch); none does
 * nothing. DANE takes precedence (RFC 8461 2: MTA-STS must not override
 * DANE): the caller passes dane=true for a host DANE governs, and MTA-STS
 * then neither skips it nor changes its TLS. */
#ifndef POSTEL_RUNNER_MTASTS_H
#define POSTEL_RUNNER_MTASTS_H

#include <stdbool.h>

struct runner;
struct runner_mtasts;
struct runner_mtasts_get;
struct mta_sts_policy;
struct smtp_client_dest;

/* One attempt's view: filled by runner_mtasts_get(), owned by the attempt. */
struct runner_sts {
	struct mta_sts_policy *policy; /* a copy, NULL: no policy */
	bool failed;                   /* a TXT record, but no policy came */
	unsigned refused;              /* MX hosts enforce skipped */
};

/* Created once per runner (its CA store is relay_ca_file). */
struct runner_mtasts *runner_mtasts_create(struct runner *r, const char **error_r);
void runner_mtasts_destroy(struct runner_mtasts **m);

typedef void runner_mtasts_callback_t(void *ctx);
/* Fills *out and calls cb(ctx) from the loop, once (never from inside
 * this call); the handle is gone when cb runs. NULL: no lookup (a name
 * that cannot have a policy, or DNS could not start): *out says no
 * policy, cb never runs, the caller goes on at once. */
struct runner_mtasts_get *runner_mtasts_get(struct runner_mtasts *m, const char *domain,
					    struct runner_sts *out,
					    runner_mtasts_callback_t *cb, void *ctx);
/* cb will not run; *g is set to NULL. */
void runner_mtasts_get_cancel(struct runner_mtasts_get **g);
void runner_sts_clear(struct runner_sts *s);

/* false: enforce refuses this MX host (RFC 8461 4.1), logged. */
bool runner_sts_host_allowed(struct runner_sts *s, const char *queue_id,
			     const char *host, bool dane);
/* enforce: STARTTLS required, verified for host with the MTA-STS CA
 * store (RFC 8461 4.2); otherwise dest is left as it is. */
void runner_sts_dest(const struct runner_sts *s, struct runner_mtasts *m,
		     bool dane, struct smtp_client_dest *dest);
/* When MX hosts were refused and no other delivered: the deferral
 * text (451 4.7.5), else NULL. */
const char *runner_sts_refused_text(const struct runner_sts *s, unsigned host_count);
/* For the attempt line: none, testing, enforce (met: the session was
 * TLS, verified as enforce requires), failed (enforce not met, or no
 * policy could be fetched). */
const char *runner_sts_label(const struct runner_sts *s, bool tls);
/* True when a policy in testing or enforce mode applied, or its fetch
 * failed (the label is then not "none"). */
bool runner_sts_governs(const struct runner_sts *s);

#endif
