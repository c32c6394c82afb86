/* tls_mem.h: OpenSSL's record-sized blocks kept out of the main heap.
 *
 * tls_mem_init() installs allocation hooks with CRYPTO_set_mem_functions;
 * it must run before anything else calls OpenSSL (first thing in main).
 * A request of TLS_MEM_BIG_MIN bytes or more (the record buffers and the
 * handshake's message buffer, ~16-22 KiB) is served from a pool of
 * fixed-size slots in one mmap'd region of its own, one of up to
 * TLS_MEM_SMALL_MAX from a zone (lib/zone.h), the rest by plain malloc.
 * OpenSSL frees its record buffers between records
 * (SSL_MODE_RELEASE_BUFFERS) and its handshake buffer after the
 * handshake: in the main heap those blocks left holes between the small
 * long-lived objects of the connections whose handshakes overlapped them.
 * The pool keeps a bounded number of free slots resident and gives the
 * pages of the others back (MADV_DONTNEED). Thread-safe (one mutex); a
 * block may be freed by another thread than the one that got it.
 *
 * Off (OpenSSL keeps plain malloc) in a sanitizer build (lib/sanitize.h),
 * so that the sanitizer sees every block, and when tls_mem_init() is not
 * called (unit tests).
 * Blocks OpenSSL hands out must be freed with OPENSSL_free, as OpenSSL
 * requires anyway: free() on a pool or zone block (any size now: the
 * zone serves the small ones) is undefined. Postel's code and the
 * libraries it links (libunbound 1.17 frees what i2d_* gave it with
 * OPENSSL_free) keep to that. */
#ifndef POSTEL_TLS_MEM_H
#define POSTEL_TLS_MEM_H

#include <stdbool.h>
#include <stddef.h>

/* smallest request served from the pool: a TLS record's plaintext */
#define TLS_MEM_BIG_MIN 16384
/* Requests up to this size come from a zone of their own (lib/zone.h):
 * an idle TLS 1.3 connection keeps ~30 of them (AES-GCM contexts 976
 * bytes each, the session 944, the CERT copy 544, locks, keys,
 * transcript hashes), its handshake made a few hundred temporaries
 * more. In the main heap the temporaries left holes among the
 * connections' long-lived blocks; in the zone a freed block is reused by
 * the next of its size. The SSL object itself (7.6 KiB) stays in the
 * heap, where glibc rounds it by 16 bytes, not to a size class. */
#define TLS_MEM_SMALL_MAX 1024

struct tls_mem_stats {
	unsigned slots_used;    /* slots handed out now */
	unsigned slots_hot;     /* free slots kept resident */
	unsigned long served;   /* big requests served from the pool, ever */
	unsigned long fallback; /* big requests the full pool left to malloc */
	size_t small_blocks;    /* blocks out of the small zone now */
	size_t small_bytes;     /* their size classes, summed */
};

/* 0 when installed, or off in a sanitizer build (lib/sanitize.h);
 * -1 when OpenSSL had already allocated (too late). Which it is:
 * tls_mem_enabled(). */
int tls_mem_init(void);
bool tls_mem_enabled(void);
/* whether p lies in the pool's region */
bool tls_mem_owns(const void *p);
/* whether p is a block of the small zone */
bool tls_mem_small_owns(const void *p);
void tls_mem_get_stats(struct tls_mem_stats *stats_r);
/* Give the pages of every free slot kept resident back to the kernel
 * (the slots stay reusable), and those of the small zone's empty spans:
 * called where the process trims its heap once its users rest
 * (session_user.c), like malloc_trim(). */
void tls_mem_trim(void);

#endif
