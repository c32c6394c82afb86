/* log.h: one line per event, key=value fields.
 *
 * Lines go to stderr (or a file) as "ts=... level=... proc=... <fields>".
 * Callers write the fields themselves: log_info("sid=%s event=connect ip=%s").
 * Never log a password or a message body. log_value() quotes a value
 * that came from the network so it cannot forge fields or lines.
 * panic(): our bug, abort. fatal(): cannot continue, exit(1). */
#ifndef POSTEL_LOG_H
#define POSTEL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *proc_name, enum log_level min_level);
void log_set_proc(const char *proc_name);
void log_set_fd(int fd);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Quote untrusted text for a log value: printable ASCII kept, others as
 * \xNN, wrapped in double quotes, cut at 200 bytes. Returns a temp string. */
const char *log_value(const char *s, size_t len);
#define log_str(s) log_value((s), (s) ? strlen(s) : 0)

#endif
