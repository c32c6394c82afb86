/* dkim_key_cache.h: a delivery thread's cache of parsed DKIM keys.
 *
 * Parsing a PEM key costs more than signing with it (OpenSSL 3's
 * decoders: about a millisecond), so each thread keeps the keys of the
 * last DKIM_CACHE_DOMAINS domains it signed for. An entry is used again
 * only while the domain's directory and every key file in it still have
 * the inode, size and modification time they had when it was loaded: a
 * new key (keygen), a removed or replaced one is seen at the next message,
 * without a reload. Domains without keys are not cached (one failed open
 * a message).
 *
 * Contract: the keys returned stay valid until the next call on the same
 * thread; the cache is freed when the thread exits. Errors as
 * dkim_keys_load(). */
#ifndef POSTEL_DKIM_KEY_CACHE_H
#define POSTEL_DKIM_KEY_CACHE_H

#include "dkim/dkim_key.h"

#define DKIM_CACHE_DOMAINS 16

int dkim_key_cache_get(const char *data_dir, const char *domain,
		       const struct dkim_key **keys_r, unsigned *count_r,
		       const char **error_r);

#endif
