/* server_sandbox.c: see server_sandbox.h.
 *
 * seccomp: a denylist, not an allowlist. The worker runs glibc, OpenSSL,
 * SQLite and (in test builds) ASan, whose exact system calls change with
 * each version; an allowlist that misses one kills mail delivery on some
 * upgrade. What a worker must never do is a short, stable list: run a
 * program (execve, execveat, uselib), start a process (fork, vfork, clone
 * without CLONE_THREAD), inspect or write another process (ptrace,
 * process_vm_readv/writev), change the file system view (mount, umount2,
 * pivot_root, chroot, the fsopen/fsmount/move_mount/open_tree family,
 * mount_setattr, unshare, setns), load kernel code (init_module,
 * finit_module, delete_module, kexec_load, kexec_file_load, bpf), reach
 * kernel attack surface it has no use for (perf_event_open, userfaultfd,
 * keyctl, add_key, request_key, io_uring_*, which also runs I/O past
 * these checks, open_by_handle_at, personality, iopl, ioperm), or manage
 * the machine (reboot, swapon, swapoff, acct). clone3 answers ENOSYS so
 * glibc falls back to clone, whose flags a filter can read (clone3 passes
 * them in memory). The setuid family is left alone: after the drop it
 * can only fail, and glibc's setuid broadcast to every thread is not
 * worth the risk of an odd failure.
 *
 * A denied call fails with EPERM instead of killing the process: a library
 * probing a call (personality, io_uring) must not take every connection of
 * the worker down with it, and the failure is logged where it is made. A
 * system call from a foreign ABI (int 0x80 on x86-64, x32) is never ours
 * and is the classic way around a filter: it kills the process.
 *
 * Landlock: the ABI version decides which rights exist; rights the kernel
 * does not know are neither handled nor granted. EXECUTE is handled and
 * never granted. SQLite's temporary files go to the data directory
 * (SQLITE_TMPDIR), since /var/tmp and /tmp are closed. DKIM keys
 * (DATA/dkim/, read by workers as they queue mail) are beneath the data
 * directory: its rule covers them; their owners make them read-only. The signal scope
 * (ABI 6) keeps queue_recover's kill(pid, 0) meaningful: a dead writer
 * still answers ESRCH, a live one outside the sandbox EPERM.
 *
 * Sanitizer builds: ASan reports and aborts as usual inside the sandbox
 * (its stacks are symbolized from the extra read-only paths below), but
 * LeakSanitizer cannot run at a sandboxed worker's exit (it needs ptrace
 * and a non-thread clone): leak checks of workers need `sandbox = no`.
 */
#include "server_sandbox.h"
#include "server.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock rights newer than Debian 12's kernel headers (Linux 6.1). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define SANDBOX_NET_BIND_TCP (1ULL << 0)          /* ABI 4 */
#define SANDBOX_SCOPE_ABSTRACT_UNIX (1ULL << 0)   /* ABI 6 */
#define SANDBOX_SCOPE_SIGNAL (1ULL << 1)          /* ABI 6 */

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix */
struct sandbox_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_FILE_READ (LANDLOCK_ACCESS_FS_READ_FILE)
#define FS_DIR_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
/* rights that make sense on a file rather than a directory */
#define FS_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
			LANDLOCK_ACCESS_FS_IOCTL_DEV)
/* beneath the data directory: files and directories, never devices,
 * sockets, FIFOs, symbolic links nor executables */
#define FS_DATA_DIR (FS_DIR_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | \
		     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
		     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | \
		     LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)

struct sandbox_path {
	const char *path;
	uint64_t access;
};

/* What a worker reads outside its data directory. A missing one is
 * skipped. /proc/self resolves to this process's own directory. */
static const struct sandbox_path sandbox_system_paths[] = {
	{ "/etc/localtime", FS_FILE_READ },     /* Date:, Received: */
	{ "/usr/share/zoneinfo", FS_DIR_READ }, /* TZ and /etc/localtime's target */
	{ "/etc/resolv.conf", FS_FILE_READ },   /* relay: resolver */
	{ "/etc/hosts", FS_FILE_READ },
	/* relay: the DNSSEC root trust anchor (dns-root-data), which
	 * libunbound reads at the queue runner's first lookup */
	{ "/usr/share/dns", FS_DIR_READ },
	{ "/etc/ssl/certs", FS_DIR_READ },      /* relay: CA certificates */
	{ "/usr/share/ca-certificates", FS_DIR_READ },
	{ "/dev/urandom", FS_FILE_READ },       /* SQLite, OpenSSL fallback */
	{ "/dev/null", FS_FILE_READ | LANDLOCK_ACCESS_FS_WRITE_FILE },
	{ "/proc/self", FS_DIR_READ },          /* sanitizers read maps */
	/* glibc's malloc: arena count, heap trimming */
	{ "/sys/devices/system/cpu/online", FS_FILE_READ },
	{ "/proc/sys/vm/overcommit_memory", FS_FILE_READ },
	/* iconv's charset modules (RFC 2047 words, SEARCH in ISO-8859-15,
	 * Shift_JIS, ...): glibc loads them from its multiarch gconv
	 * directory; only the few built-in charsets work without */
	{ "/usr/lib/x86_64-linux-gnu/gconv", FS_DIR_READ },
	{ "/usr/lib/aarch64-linux-gnu/gconv", FS_DIR_READ },
	{ "/usr/lib/gconv", FS_DIR_READ },
#ifdef POSTEL_SANITIZED
	/* sanitizer builds only: ASan symbolizes its reports in-process
	 * (libbacktrace), reading the program's and the libraries' debug
	 * information; without these its stacks are bare addresses */
	{ "/proc/self/exe", FS_FILE_READ },
	{ "/usr/lib", FS_DIR_READ },
	{ "/lib", FS_DIR_READ },
#endif
};

/* Files config keys name that a child reads after entering: the queue
 * runner's relay_ca_file (MTA-STS, relayhost) and a dns_trust_anchor
 * outside /usr/share/dns (a locally signed zone's key: libunbound reads
 * it at the runner's first lookup). Read-only; empty skipped. */
static const char *sandbox_config_files[2];

/* ---- seccomp ---- */

#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SANDBOX_ARG0_LOW offsetof(struct seccomp_data, args[0])
#else
#define SANDBOX_ARG0_LOW (offsetof(struct seccomp_data, args[0]) + 4)
#endif

static const int sandbox_denied_syscalls[] = {
	__NR_execve, __NR_execveat, __NR_ptrace,
	__NR_process_vm_readv, __NR_process_vm_writev,
	__NR_mount, __NR_umount2, __NR_pivot_root, __NR_chroot,
	__NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
	__NR_move_mount, __NR_open_tree,
#ifdef __NR_mount_setattr
	__NR_mount_setattr,
#endif
	__NR_unshare, __NR_setns,
	__NR_kexec_load, __NR_kexec_file_load,
	__NR_init_module, __NR_finit_module, __NR_delete_module,
	__NR_bpf, __NR_perf_event_open, __NR_userfaultfd,
	__NR_keyctl, __NR_add_key, __NR_request_key,
	__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
	__NR_open_by_handle_at, __NR_personality,
	__NR_reboot, __NR_swapon, __NR_swapoff, __NR_acct,
#ifdef __NR_fork
	__NR_fork, __NR_vfork,
#endif
#ifdef __NR_uselib
	__NR_uselib,
#endif
#ifdef __NR_iopl
	__NR_iopl, __NR_ioperm,
#endif
};
#define SANDBOX_DENIED_COUNT \
	(sizeof(sandbox_denied_syscalls) / sizeof(sandbox_denied_syscalls[0]))

#ifdef SANDBOX_AUDIT_ARCH
/* arch (3), number and x32 (3), a JEQ+RET pair per denied call, clone3
 * (2), clone (5), allow (1) */
#define SANDBOX_FILTER_MAX (6 + 2 * SANDBOX_DENIED_COUNT + 2 + 5 + 1)

static unsigned sandbox_filter_build(struct sock_filter *f)
{
	unsigned n = 0;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					      SANDBOX_AUDIT_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	/* x32 shares AUDIT_ARCH_X86_64 and sets bit 30 of the number */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
					      0x40000000u, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < SANDBOX_DENIED_COUNT; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (uint32_t)sandbox_denied_syscalls[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ERRNO | EPERM);
	}
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	/* clone: threads (CLONE_THREAD) yes, processes no */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SANDBOX_ARG0_LOW);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return n;
}

/* 1 = installed, 0 = skipped (logged), -1 = failed */
static int sandbox_seccomp_apply(const char **error_r)
{
	struct sock_filter filter[SANDBOX_FILTER_MAX];
	struct sock_fprog prog = {
		.len = (unsigned short)sandbox_filter_build(filter),
		.filter = filter,
	};
	/* TSYNC: should a library have started a thread, it is covered too */
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r == 0)
		return 1;
	if (r < 0 && (errno == ENOSYS || errno == EINVAL)) {
		log_warn("event=sandbox_skipped what=seccomp reason=\"%s\"",
			 errno == ENOSYS ? "kernel without seccomp" :
			 "kernel without seccomp filters");
		return 0;
	}
	*error_r = r > 0 ? t_printf("seccomp: thread %ld could not be synchronised", r) :
		t_printf("seccomp: %s", strerror(errno));
	return -1;
}
#else
static int sandbox_seccomp_apply(const char **error_r)
{
	(void)error_r;
	log_warn("event=sandbox_skipped what=seccomp reason=\"no filter for this architecture\"");
	return 0;
}
#endif

/* ---- Landlock ---- */

static int sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? 0 : (int)abi;
}

static uint64_t sandbox_fs_rights(int abi)
{
	uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return rights;
}

/* 1 = rule added, 0 = path absent, -1 = failed */
static int sandbox_landlock_allow(int ruleset, const char *path, uint64_t access,
				  uint64_t handled, const char **error_r)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		*error_r = t_printf("landlock: open(%s): %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*error_r = t_printf("landlock: fstat(%s): %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	struct landlock_path_beneath_attr attr = {
		.allowed_access = access & handled,
		.parent_fd = fd,
	};
	if (!S_ISDIR(st.st_mode))
		attr.allowed_access &= FS_FILE_RIGHTS;
	long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
			 &attr, 0);
	int err = errno;
	close(fd);
	if (r < 0) {
		*error_r = t_printf("landlock: rule for %s: %s", path, strerror(err));
		return -1;
	}
	return 1;
}

static int sandbox_landlock_apply(int abi, const char *data_dir,
				  const char **error_r)
{
	struct sandbox_ruleset_attr attr = { .handled_access_fs = sandbox_fs_rights(abi) };
	size_t attr_size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		/* listeners are bound by the master; a worker never binds */
		attr.handled_access_net = SANDBOX_NET_BIND_TCP;
		attr_size = offsetof(struct sandbox_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = SANDBOX_SCOPE_ABSTRACT_UNIX | SANDBOX_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0) {
		*error_r = t_printf("landlock: create ruleset: %s", strerror(errno));
		return -1;
	}
	int ret = sandbox_landlock_allow(ruleset, data_dir, FS_DATA_DIR,
					 attr.handled_access_fs, error_r);
	if (ret == 0)
		*error_r = t_printf("landlock: data directory %s missing", data_dir);
	for (size_t i = 0; ret > 0 && i < sizeof(sandbox_system_paths) /
		     sizeof(sandbox_system_paths[0]); i++) {
		if (sandbox_landlock_allow(ruleset, sandbox_system_paths[i].path,
					   sandbox_system_paths[i].access,
					   attr.handled_access_fs, error_r) < 0)
			ret = -1;
	}
	for (size_t i = 0; ret > 0 && i < sizeof(sandbox_config_files) /
		     sizeof(sandbox_config_files[0]); i++) {
		const char *f = sandbox_config_files[i];
		if (f != NULL && f[0] != '\0' &&
		    sandbox_landlock_allow(ruleset, f, FS_FILE_READ,
					   attr.handled_access_fs, error_r) < 0)
			ret = -1;
	}
	if (ret > 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		*error_r = t_printf("landlock: restrict self: %s", strerror(errno));
		ret = -1;
	}
	close(ruleset);
	return ret > 0 ? 0 : -1;
}

/* ---- the entry points ---- */

void server_sandbox_probe(struct server_sandbox_status *status_r)
{
	memset(status_r, 0, sizeof(*status_r));
	status_r->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0;
	/* PR_GET_SECCOMP fails with EINVAL on a kernel without seccomp */
#ifdef SANDBOX_AUDIT_ARCH
	status_r->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
#endif
	status_r->landlock_abi = sandbox_landlock_abi();
}

static int sandbox_enter(const char *data_dir,
			 struct server_sandbox_status *status_r, const char **error_r)
{
	int landlock_abi = sandbox_landlock_abi();
	int landlock_errno = errno;
	memset(status_r, 0, sizeof(*status_r));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*error_r = t_printf("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -1;
	}
	status_r->no_new_privs = true;

	/* before Landlock closes /var/tmp: SQLite reads it at its first
	 * temporary file, and no SQLite file is open in a thread yet */
	if (setenv("SQLITE_TMPDIR", data_dir, 1) < 0) {
		*error_r = t_printf("setenv(SQLITE_TMPDIR): %s", strerror(errno));
		return -1;
	}
	if (landlock_abi == 0) {
		log_warn("event=sandbox_skipped what=landlock reason=\"%s\"",
			 landlock_errno == EOPNOTSUPP ? "disabled at boot" :
			 "kernel without landlock");
	} else {
		if (sandbox_landlock_apply(landlock_abi, data_dir, error_r) < 0)
			return -1;
		status_r->landlock_abi = landlock_abi;
	}

	int r = sandbox_seccomp_apply(error_r);
	if (r < 0)
		return -1;
	status_r->seccomp = r > 0;
	log_info("event=sandbox_active no_new_privs=yes seccomp=%s landlock=%s data_dir=%s",
		 status_r->seccomp ? "yes" : "no",
		 status_r->landlock_abi > 0 ? t_printf("abi%d", status_r->landlock_abi) : "no",
		 log_str(data_dir));
	return 0;
}

int server_sandbox_enter(const char *data_dir,
			 struct server_sandbox_status *status_r,
			 const char **error_r)
{
	return sandbox_enter(data_dir, status_r, error_r);
}

int server_sandbox_worker(const struct config *config, const char **error_r)
{
	struct server_sandbox_status status;
	if (!config->sandbox) {
		log_warn("event=sandbox_skipped what=all reason=\"sandbox = no\"");
		return 0;
	}
	sandbox_config_files[0] = config->relay_ca_file;
	sandbox_config_files[1] = config->dns_trust_anchor;
	return server_sandbox_enter(config->data_dir, &status, error_r);
}
