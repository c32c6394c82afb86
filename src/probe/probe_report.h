/* probe_report.h: what probe prints: per-port details, the summary table
 * and advice as text (color only when asked, i.e. on a terminal), or one
 * JSON document (probe_json.c). Every string a server sent was escaped
 * when it was stored or is escaped here; nothing raw reaches the output. */
#ifndef POSTEL_PROBE_REPORT_H
#define POSTEL_PROBE_REPORT_H

#include "probe/probe.h"

#include <stdio.h>

struct probe_run {
	const struct probe_settings *set;
	struct probe_port *ports;
	unsigned count;
};

/* Advice for a failing port: the likely cause, then the port to use
 * instead. NULL for a port that works. Temp pool. */
const char *probe_advice(const struct probe_run *run, unsigned i);
/* The advice for port i said once for every failing port that shares
 * its cause (the name does not resolve, one certificate): NULL when port
 * i works or was in an earlier port's group; else the text, with in[]
 * (run->count entries) true for each port of the group. A group of one
 * gets probe_advice(). Temp pool. */
const char *probe_advice_shared(const struct probe_run *run, unsigned i, bool in[]);
/* Advice about the server as a whole when no port could even be reached
 * (then the cause is rarely the ports), else NULL. */
const char *probe_advice_overall(const struct probe_run *run);
/* One word per result: "ok", "warning", "FAIL". */
const char *probe_status_name(enum probe_status status);
const char *probe_login_name(enum probe_login_state state);

void probe_report_text(FILE *out, const struct probe_run *run, bool color);
void probe_report_json(FILE *out, const struct probe_run *run);

/* JSON pieces (probe_json.c): a string escaped to ASCII (null for NULL),
 * a key with the comma before it unless *first, a key and a string. */
void probe_json_str(FILE *out, const char *s);
void probe_json_key(FILE *out, const char *key, bool *first);
void probe_json_kv_str(FILE *out, const char *key, const char *value, bool *first);

/* Exit status: 0 when every probed port works (warnings allowed), else 1. */
int probe_exit_status(const struct probe_run *run);

#endif
