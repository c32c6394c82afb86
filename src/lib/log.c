/* log.c: see log.h. */
#include "log.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_proc = "postel";
static enum log_level log_min = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *proc_name, enum log_level min_level)
{
	log_proc = proc_name;
	log_min = min_level;
}

void log_set_proc(const char *proc_name)
{
	log_proc = proc_name;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level < log_min)
		return;
	char line[4096];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s proc=%s pid=%d ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[level], log_proc, (int)getpid());
	if (n < 0)
		return;
	size_t len = (size_t)n;
	int m = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	if (m < 0)
		return;
	len += (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2; /* long lines are cut, never split */
	line[len++] = '\n';
	/* one write() per line so concurrent processes do not interleave */
	ssize_t w = write(log_fd, line, len);
	(void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap);
	va_end(ap);
	abort();
}

const char *log_value(const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (len > 200)
		len = 200;
	char *out = pool_alloc(pool_temp(), len * 4 + 3);
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
