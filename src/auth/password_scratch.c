/* password_scratch.c: see password_scratch.h.
 *
 * Why: libxcrypt's yescrypt maps a fresh 16 MiB region for every hash and
 * unmaps it afterwards. On 4 KiB pages that is ~4,100 page faults, and
 * yescrypt's random reads across the region miss the TLB on most of them:
 * 63 ms of CPU per hash on this machine (24 ms of it in the kernel), 12 ms
 * with the region on 2 MiB pages. A login is one hash, so this is most of
 * what a login costs. The memory a hash needs (its defence) is unchanged.
 *
 * How: libxcrypt takes no caller-supplied region, so Postel defines mmap()
 * itself, which the dynamic linker binds for every library. Outside a
 * begin/end pair it is exactly the system call glibc's mmap() makes. Inside
 * one, a large anonymous mapping is over-allocated by one huge page, trimmed
 * to a 2 MiB-aligned start (libxcrypt later munmap()s exactly what it asked
 * for) and marked MADV_HUGEPAGE, which the kernel honours in its default
 * "madvise" THP mode and, with no huge page free, ignores (small pages, as
 * before). Under ASan the interposer is compiled out. */
#include "auth/password_scratch.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/sanitize.h"

static _Thread_local bool scratch_on;
static _Thread_local unsigned long scratch_count;

void password_scratch_begin(void)
{
	scratch_on = true;
}

void password_scratch_end(void)
{
	scratch_on = false;
}

unsigned long password_scratch_count(void)
{
	return scratch_count;
}

#ifdef POSTEL_SANITIZED

bool password_scratch_supported(void)
{
	return false;
}

#else

bool password_scratch_supported(void)
{
	return true;
}

static void *scratch_sys_mmap(void *addr, size_t len, int prot, int flags,
			      int fd, off_t off)
{
	/* glibc's mmap(): an offset that is not page-aligned is EINVAL */
	if ((off & 4095) != 0) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void *scratch_map_aligned(size_t len, int prot, int flags)
{
	const uintptr_t align = PASSWORD_SCRATCH_ALIGN;
	if (len > SIZE_MAX - align)
		return MAP_FAILED;
	char *raw = scratch_sys_mmap(NULL, len + align, prot, flags, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	uintptr_t start = ((uintptr_t)raw + align - 1) & ~(align - 1);
	size_t head = start - (uintptr_t)raw;
	size_t tail = align - head;
	if (head > 0)
		(void)munmap(raw, head);
	if (tail > 0)
		(void)munmap((char *)start + len, tail);
	/* advice only: without it the region is ordinary small pages */
	(void)madvise((void *)start, len, MADV_HUGEPAGE);
	scratch_count++;
	return (void *)start;
}

/* Interposes glibc's mmap() for the whole process; see the top comment.
 * The asm label names the symbol "mmap" (the one libxcrypt imports): with
 * _FILE_OFFSET_BITS=64 <sys/mman.h> would call our definition mmap64. */
void *password_scratch_mmap(void *addr, size_t len, int prot, int flags,
			    int fd, off_t off) __asm__("mmap");
void *password_scratch_mmap(void *addr, size_t len, int prot, int flags,
			    int fd, off_t off)
{
	if (scratch_on && addr == NULL && fd == -1 && off == 0 &&
	    len >= PASSWORD_SCRATCH_MIN &&
	    (flags & (MAP_ANONYMOUS | MAP_PRIVATE)) == (MAP_ANONYMOUS | MAP_PRIVATE) &&
	    (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_STACK |
		      MAP_HUGETLB | MAP_SHARED)) == 0)
		return scratch_map_aligned(len, prot, flags);
	return scratch_sys_mmap(addr, len, prot, flags, fd, off);
}

#endif
