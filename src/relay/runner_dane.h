/* runner_dane.h: DANE (RFC 7672) for the queue runner's attempts: for
 * each MX host tried, what TLS the connection needs, from the DNSSEC
 * status of the answers that led to the host and its TLSA records.
 *
 * One runner_dane belongs to one attempt (runner_attempt.c) and follows
 * the host being tried:
 *   - runner_dane_host(): the MX answer (or the implicit MX's NODATA) and
 *     the host's address answers were both validated ("secure"): look up
 *     TLSA _25._tcp.<host> on the loop (RFC 7672 2.2.2; not before, and
 *     never when either was insecure, RFC 7672 2.2.1). cb is called once,
 *     possibly before runner_dane_host() returns.
 *   - runner_dane_skip_host(): the TLSA answer was bogus or did not come
 *     (RFC 7672 2.2: no downgrade); this host must not be tried now.
 *   - runner_dane_dest(): the smtp_client_dest for the host: usable
 *     records: TLS required and authenticated by them (dane.c's
 *     tls_prepare; a failure or no STARTTLS ends the session with a local
 *     4xx, so the entry is deferred, never sent in plaintext); records
 *     present but none usable: TLS required, not authenticated
 *     (SMTP_CLIENT_TLS_ENCRYPT); none, insecure: opportunistic (RFC 7435).
 *   - runner_dane_result(): the outcome of a session, for the log.
 * runner_dane_name() is the dane= value of the attempt's log line:
 *   insecure    the MX or address answers were not validated
 *   none        validated, no TLSA records (opportunistic TLS)
 *   verified    the certificate matched a TLSA record
 *   failed      usable TLSA, no authenticated TLS (no STARTTLS, mismatch)
 *   unusable    TLSA records, none usable: encrypted, not authenticated
 *   tempfail    the TLSA lookup was bogus or failed: host skipped
 *   usable      usable TLSA, no TLS reached yet (the host did not answer)
 *   pending     the TLSA lookup is in flight
 *   -           no host resolved yet */
#ifndef POSTEL_RUNNER_DANE_H
#define POSTEL_RUNNER_DANE_H

#include <stdbool.h>

struct dns_resolver;
struct smtp_client_dest;
struct smtp_client_result;
struct runner_dane;

typedef void runner_dane_callback_t(void *ctx);

struct runner_dane *runner_dane_create(struct dns_resolver *dns, const char *queue_id);
/* Cancels a pending lookup (no callback). */
void runner_dane_free(struct runner_dane **dane);

/* The policy for host (forgets the previous host's); host must stay
 * valid while the dane is used for it. */
void runner_dane_host(struct runner_dane *dane, const char *host, bool mx_secure,
		      bool addr_secure, runner_dane_callback_t *cb, void *ctx);
bool runner_dane_skip_host(const struct runner_dane *dane);
/* Sets tls_mode (unless TLS_NONE or IMPLICIT) and the DANE hook. */
void runner_dane_dest(struct runner_dane *dane, struct smtp_client_dest *dest);
void runner_dane_result(struct runner_dane *dane, const struct smtp_client_result *res);
const char *runner_dane_name(const struct runner_dane *dane);
/* True when usable, unusable or bogus TLSA records decided how the host
 * was reached (not: no lookup, an insecure MX/address, no records). */
bool runner_dane_governs(const struct runner_dane *dane);

#endif
