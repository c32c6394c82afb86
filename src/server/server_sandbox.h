/* server_sandbox.h: the OS sandbox a worker enters after dropping root.
 *
 * Three layers, each skipped with one log line
 * (event=sandbox_skipped what=... reason=...) where the kernel lacks it:
 *   1. PR_SET_NO_NEW_PRIVS: no exec can ever gain privileges again.
 *   2. seccomp-BPF: a denylist of system calls a mail worker never makes
 *      (exec, ptrace, mounts, modules, bpf, keyrings, namespaces, new
 *      processes; the full list and why it is a denylist are in
 *      server_sandbox.c). They fail with EPERM; threads keep working.
 *   3. Landlock: files only beneath the data directory (read-write) and a
 *      few read-only system files (time zones, resolver configuration,
 *      the DNSSEC trust anchor, CA certificates, /dev/urandom,
 *      /proc/self); /dev/null read-write.
 *      Nothing else, not /etc/passwd nor /etc/hostname. The worker never
 *      binds a TCP port (the master did) and, from Landlock ABI 6, cannot
 *      signal or reach abstract sockets of processes outside its sandbox.
 * One line (event=sandbox_active ...) says what is in force.
 *
 * Call it while the process has ONE thread: Landlock confines only the
 * calling thread and the threads it creates afterwards. Everything opened
 * before stays usable. Not reversible.
 */
#ifndef POSTEL_SERVER_SANDBOX_H
#define POSTEL_SERVER_SANDBOX_H

#include <stdbool.h>

struct server_sandbox_status {
	bool no_new_privs;
	bool seccomp;      /* the kernel takes seccomp filters */
	int landlock_abi;  /* 0: no Landlock */
};

/* What this kernel offers (nothing is applied). */
void server_sandbox_probe(struct server_sandbox_status *status_r);

/* Enter the sandbox with data_dir read-write. Returns 0 when every layer
 * the kernel offers is in force (status_r says which), -1 with error_r
 * when one of them could not be applied (the caller must not go on). */
int server_sandbox_enter(const char *data_dir,
			 struct server_sandbox_status *status_r,
			 const char **error_r);

/* worker_run's call: server_sandbox_enter() on config->data_dir, and
 * config->dns_trust_anchor readable, unless the administrator set
 * `sandbox = no` (logged). */
struct config;
int server_sandbox_worker(const struct config *config, const char **error_r);

#endif
