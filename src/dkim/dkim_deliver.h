/* dkim_deliver.h: signing at the moment submitted mail is queued.
 *
 * Contract: dkim_deliver_sign() reads the message as the queue entry will
 * hold it (prefix, then msg_fd with pread or msg_mem; msg_size bytes) in
 * pieces of DKIM_DELIVER_CHUNK, finds the From: domain, and when it is
 * the envelope sender's domain (which submission checked the user owns,
 * so one user of a multi-domain server cannot get another domain's
 * signature by writing its address into From:), loads its keys
 * (dkim_key.h) and appends one DKIM-Signature field per key to out, to be
 * written in front of the prefix. It blocks (file reads): call it on a
 * delivery thread. It never fails the delivery: a domain without a key,
 * a message it cannot sign (no single From: address, too large a header,
 * a From: domain other than the sender's)
 * or a broken key leave out empty, with one key=value log line that says
 * why (event=dkim_signed, dkim_skipped or dkim_failed). */
#ifndef POSTEL_DKIM_DELIVER_H
#define POSTEL_DKIM_DELIVER_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/str.h"

#define DKIM_DELIVER_CHUNK (64 * 1024)

/* 1 signed, 0 not signed (no key or not signable), -1 failed (logged) */
int dkim_deliver_sign(const char *sid, const char *data_dir, const char *sender,
		      const str_t *prefix, int msg_fd, const char *msg_mem,
		      uint64_t msg_size, str_t *out);

/* A reader of the message as it will be queued, as read(2): octets, 0 at
 * the end, -1 on error. */
typedef ssize_t dkim_deliver_read_fn(void *ctx, void *buf, size_t size);
/* dkim_deliver_sign() over a reader (the 7-bit converted copy of
 * deliver/deliver_7bit.h). -2 when read() failed: nothing logged, out
 * unchanged, so the caller can fall back to signing another copy. */
int dkim_deliver_sign_read(const char *sid, const char *data_dir, const char *sender,
			   dkim_deliver_read_fn *read, void *ctx, str_t *out);

#endif
