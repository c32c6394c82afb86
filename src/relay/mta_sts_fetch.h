/* mta_sts_fetch.h: the HTTPS fetch of an MTA-STS policy on the event loop
 * (RFC 8461 3.3); see mta_sts_fetch.c and mta_sts.h. */
#ifndef POSTEL_MTA_STS_FETCH_H
#define POSTEL_MTA_STS_FETCH_H

#include <stddef.h>

struct ioloop;
struct conn_tls_client;
struct mta_sts_fetch;

/* body/len: the policy text (valid during the call) or error != NULL. */
typedef void mta_sts_fetch_callback_t(void *ctx, const char *body, size_t len,
				      const char *error);

/* Connects to ip:port (an address of mta-sts.DOMAIN; port 443 outside
 * tests), tls from relay_ca_file (or the system store). */
struct mta_sts_fetch *
mta_sts_fetch_start(struct ioloop *loop, const char *domain, const char *ip,
		    unsigned port, struct conn_tls_client *tls, unsigned timeout_ms,
		    mta_sts_fetch_callback_t *cb, void *ctx, const char **error_r);
/* Cancels (no callback) or frees after the callback. */
void mta_sts_fetch_free(struct mta_sts_fetch **f);

/* The body of a whole HTTP reply: NULL, or why it is refused (not 200, a
 * redirect, not text/plain, chunked, cut short, over 64 KiB). */
const char *mta_sts_http_body(const char *reply, size_t len, const char **body_r,
			      size_t *body_len_r);

#endif
