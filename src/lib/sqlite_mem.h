/* sqlite_mem.h: SQLite's memory from a zone of its own (lib/zone.h).
 *
 * A worker closes a user's SQLite handle once the user's sessions rest
 * (session/session_user.c): in glibc's arena its freed blocks sat among
 * the connections' long-lived ones, and the pages they shared stayed
 * resident. From a zone they go back whole. sqlite_mem_init() must run
 * before anything calls SQLite (first thing in main, beside
 * tls_mem_init()); off (SQLite keeps malloc) in a sanitizer build
 * (lib/sanitize.h), so the sanitizer sees every block. */
#ifndef POSTEL_SQLITE_MEM_H
#define POSTEL_SQLITE_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/zone.h"

/* 0 when installed or off; -1 when SQLite was initialised already */
int sqlite_mem_init(void);
/* the same with a zone of reserve bytes (tests: a range that fills) */
int sqlite_mem_init_reserve(size_t reserve);
/* the pages of the zone's empty spans go back (lib/zone.h zone_trim) */
void sqlite_mem_trim(void);
bool sqlite_mem_enabled(void);
void sqlite_mem_get_stats(struct zone_stats *stats_r);

#endif
