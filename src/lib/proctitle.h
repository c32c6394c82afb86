/* proctitle.h: the process title ps shows (its args column), set by
 * rewriting the argv strings in place, as a forked child cannot exec.
 * proctitle_init() remembers main()'s argv area; proctitle_set() writes
 * the title there, cut to the area's length and padded with NULs (the
 * kernel's /proc/PID/cmdline then reads the title alone). The short name
 * (comm, 15 bytes) is prctl(PR_SET_NAME)'s and is set separately. */
#ifndef POSTEL_PROCTITLE_H
#define POSTEL_PROCTITLE_H

void proctitle_init(int argc, char **argv);
/* No-op before proctitle_init() (unit tests, fuzzers). */
void proctitle_set(const char *title);

#endif
