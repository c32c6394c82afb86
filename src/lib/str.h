/* str.h: the one growable string/buffer type, with explicit length.
 *
 * data is always NUL-terminated (for convenience with C APIs) but may
 * contain NULs; len is the truth. Appends never truncate silently: they
 * grow, and allocation failure aborts (see mem.h). A str_t may carry a
 * hard limit (max): str_append_limited() refuses to grow past it. */
#ifndef POSTEL_STR_H
#define POSTEL_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct str {
	char *data;
	size_t len;
	size_t cap;
} str_t;

#define STR_INIT { NULL, 0, 0 }

void str_init(str_t *s);
void str_free(str_t *s);
/* Wipe the contents (secrets) before freeing. */
void str_free_secure(str_t *s);
void str_reserve(str_t *s, size_t extra);
void str_append(str_t *s, const void *data, size_t len);
void str_appendz(str_t *s, const char *z);
void str_appendc(str_t *s, char c);
void str_printf(str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void str_vprintf(str_t *s, const char *fmt, va_list ap);
void str_truncate(str_t *s, size_t len);
/* Remove the first n bytes. */
void str_consume(str_t *s, size_t n);
static inline void str_clear(str_t *s) { str_truncate(s, 0); }
/* Always a valid C string, even for an empty never-grown str_t. */
const char *str_c(const str_t *s);

/* Helpers for byte slices */
bool mem_ieq(const char *a, const char *b, size_t n);
/* Case-insensitive prefix test of a slice against a C string. */
bool slice_iprefix(const char *s, size_t len, const char *prefix);
/* An HTTP/1.x request line or the HTTP/2 preface ("PRI * HTTP/2.0"): a
 * browser or a cross-protocol attack (ALPACA) on a mail port, to be
 * dropped at once without echoing anything (TESTING.md item 9). */
bool line_is_http_request(const char *line, size_t len);
/* Parse a decimal unsigned integer with no sign, no spaces, no overflow
 * past max. Returns false on any violation. */
bool parse_uint64(const char *s, size_t len, unsigned long long max,
		  unsigned long long *value_r);

#endif
