/* sanitize.h: whether this build runs under a sanitizer that watches
 * memory (AddressSanitizer with GCC or clang, MemorySanitizer with clang).
 *
 * Contract: POSTEL_SANITIZED is defined (as 1) in such a build and
 * undefined otherwise; postel_sanitized is the same as a constant for
 * plain if()s. The code that behaves differently there (worker sandbox:
 * the paths the sanitizer's symbolizer reads, server_sandbox.c; OpenSSL's
 * record pool left off so the sanitizer sees every block, tls_mem.c;
 * password scratch memory off, password_scratch.c) asks this one place. */
#ifndef POSTEL_SANITIZE_H
#define POSTEL_SANITIZE_H

#include <stdbool.h>

#if defined(__SANITIZE_ADDRESS__)
#define POSTEL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define POSTEL_SANITIZED 1
#endif
#endif

#ifdef POSTEL_SANITIZED
static const bool postel_sanitized = true;
#else
static const bool postel_sanitized = false;
#endif

#endif
