/* password_scratch.h: yescrypt's scratch memory on transparent huge pages.
 *
 * Contract: between password_scratch_begin() and password_scratch_end() on
 * one thread, an anonymous private mmap() of at least PASSWORD_SCRATCH_MIN
 * bytes made by any library on that thread (libxcrypt's yescrypt region)
 * starts on a 2 MiB boundary and is marked MADV_HUGEPAGE. Every other
 * mmap() (other threads, outside the pair, smaller, file-backed, fixed
 * addresses) is the plain system call. The hash computed is the same; only
 * the page size under it changes. Off under AddressSanitizer, whose own
 * mmap interceptor must see every mapping. */
#ifndef POSTEL_AUTH_PASSWORD_SCRATCH_H
#define POSTEL_AUTH_PASSWORD_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>

/* yescrypt at libxcrypt's default cost ("j9T": N=4096, r=32) maps
 * 128 * r * N = 16 MiB plus a little; smaller regions gain too little. */
#define PASSWORD_SCRATCH_MIN (4u << 20)
#define PASSWORD_SCRATCH_ALIGN (2u << 20) /* x86-64 PMD huge page */

void password_scratch_begin(void);
void password_scratch_end(void);

/* Mappings placed on huge-page boundaries by this thread so far. */
unsigned long password_scratch_count(void);

/* false when this build cannot do it (sanitizers) */
bool password_scratch_supported(void);

#endif
