/* fileio.c: see fileio.h. */
#include "store/fileio.h"
#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_write_full(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fileio_read_file(const char *path, size_t max_size, char **data_r,
		     size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_size) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return -1;
	}
	/* read until EOF, not just st_size: the size is only a hint */
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max_size) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max_size) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	buf[len] = '\0';
	*data_r = buf;
	*len_r = len;
	return 0;
}

static int copy_range_fallback(int out_fd, int in_fd, uint64_t offset,
			       uint64_t len, const char **error_r)
{
	char buf[65536];
	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t n = pread(in_fd, buf, want, (off_t)offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = t_printf("read from source failed: %s",
					    strerror(errno));
			return -1;
		}
		if (n == 0) {
			*error_r = "source file is shorter than expected";
			return -1;
		}
		if (fileio_write_full(out_fd, buf, (size_t)n) < 0) {
			*error_r = t_printf("write failed: %s", strerror(errno));
			return -1;
		}
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int fileio_copy_range(int out_fd, int in_fd, uint64_t offset, uint64_t len,
		      const char **error_r)
{
	if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset) {
		*error_r = "copy range out of bounds";
		return -1;
	}
	loff_t off = (loff_t)offset;
	while (len > 0) {
		size_t want = len < (1u << 30) ? (size_t)len : (1u << 30);
		ssize_t n = copy_file_range(in_fd, &off, out_fd, NULL, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EXDEV || errno == EINVAL ||
			    errno == ENOSYS || errno == EOPNOTSUPP ||
			    errno == EBADF || errno == ETXTBSY) {
				/* nothing has been written for this chunk:
				 * finish with plain reads and writes */
				return copy_range_fallback(out_fd, in_fd,
							   (uint64_t)off, len,
							   error_r);
			}
			/* copy_file_range cannot tell which side failed;
			 * ENOSPC/EDQUOT/EFBIG/EIO name the cause clearly */
			*error_r = t_printf("copy failed: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			*error_r = "source file is shorter than expected";
			return -1;
		}
		len -= (uint64_t)n;
	}
	return 0;
}

int fileio_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return ret < 0 ? -1 : 0;
}

static int write_sync(const char *path, int flags, const void *data,
		      size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	if (fd < 0)
		return -1;
	int ret = fileio_write_full(fd, data, len) < 0 || fsync(fd) < 0 ? -1 : 0;
	int e = errno;
	if (close(fd) < 0 && ret == 0) {
		ret = -1;
		e = errno;
	}
	errno = e;
	return ret;
}

int fileio_write_sync(const char *path, const void *data, size_t len)
{
	return write_sync(path, O_TRUNC, data, len);
}

int fileio_create_sync(const char *path, const void *data, size_t len)
{
	return write_sync(path, O_EXCL, data, len);
}

int fileio_fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return fileio_fsync_dir(".");
	if (slash == path)
		return fileio_fsync_dir("/");
	char *parent = xstrndup(path, (size_t)(slash - path));
	int ret = fileio_fsync_dir(parent);
	int e = errno;
	free(parent);
	errno = e;
	return ret;
}

int fileio_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	/* file system without RENAME_NOREPLACE: link() refuses to replace */
	if (link(from, to) < 0)
		return -1;
	if (unlink(from) < 0) {
		int e = errno;
		(void)unlink(to);
		errno = e;
		return -1;
	}
	return 0;
}

int fileio_mkdir(const char *path, mode_t mode, bool *created_r)
{
	*created_r = false;
	if (mkdir(path, mode) == 0) {
		*created_r = true;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	struct stat st;
	if (lstat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}
