/* deliver_7bit.h: the queue copy of submitted mail signed as 7-bit.
 *
 * Contract: RFC 6376 5.3: a signer SHOULD convert the message to a 7-bit
 * transfer encoding before signing, since a relay that meets a server
 * without 8BITMIME re-encodes it (RFC 6152 3) and breaks the signature.
 * deliver_7bit_sign() signs the queue copy of d (d->prefix, then the
 * message): when the message was given as 8-bit (env.body not 7BIT) and
 * not with SMTPUTF8 (whose header fields stay 8-bit), it signs the copy
 * made 7-bit by mime_7bit.h and returns true: the caller then writes
 * that copy with deliver_7bit_write(), queued as BODY 7BIT (env.body set
 * here, unless 8-bit header text is left), so the runner never converts
 * it again. Otherwise (or when the message cannot
 * be converted, logged) it signs the message as it is (dkim_deliver_sign)
 * and returns false. DKIM-Signature fields are appended to sig. Local
 * copies are never converted. Blocks (file reads): a delivery thread. */
#ifndef POSTEL_DELIVER_7BIT_H
#define POSTEL_DELIVER_7BIT_H

#include "deliver/local_deliver.h"

bool deliver_7bit_sign(struct local_delivery *d, str_t *sig);
/* sig, then the converted d->prefix and message, to the queue writer */
int deliver_7bit_write(struct local_delivery *d, const str_t *sig,
		       struct queue_writer *qw, const char **error_r);

#endif
