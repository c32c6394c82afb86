/* fileio.h: the few durable-file primitives the store and the queue share.
 *
 * Every function retries on EINTR. Functions returning int give 0 on
 * success and -1 with errno set on failure, so the caller can name the path
 * in its own error_r message; fileio_copy_range() builds the message itself
 * because it can fail on either side. Nothing here keeps state, so all of it
 * is safe to call from a worker thread.
 *
 * (These belong in lib/ once that folder is free to edit; they live here so
 * that the store and queue can land without touching other layers.) */
#ifndef POSTEL_STORE_FILEIO_H
#define POSTEL_STORE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* write() all of data or fail; a zero-byte write counts as ENOSPC. */
int fileio_write_full(int fd, const void *data, size_t len);
/* Read the whole of a regular file into a new xmalloc'd, NUL-terminated
 * buffer. Files over max_size fail with EFBIG. */
int fileio_read_file(const char *path, size_t max_size, char **data_r,
		     size_t *len_r);
/* Copy len bytes starting at offset of in_fd to the current position of
 * out_fd: copy_file_range(), falling back to pread()/write() when the
 * kernel or file system cannot do it. A source shorter than offset+len is
 * an error. in_fd's file position is not used or moved. */
int fileio_copy_range(int out_fd, int in_fd, uint64_t offset, uint64_t len,
		      const char **error_r);
/* Open a directory and fsync() it, so that entries created, renamed or
 * removed in it are durable. */
int fileio_fsync_dir(const char *path);
/* rename() that never replaces: renameat2(RENAME_NOREPLACE), or link() and
 * unlink() on file systems without it. EEXIST if "to" exists. */
int fileio_rename_noreplace(const char *from, const char *to);
/* mkdir() that accepts an existing directory. *created_r tells whether the
 * parent directory changed (and so needs an fsync to make it durable). */
int fileio_mkdir(const char *path, mode_t mode, bool *created_r);
/* Create or truncate path (0600, no symlink), write data and fsync it;
 * the directory entry is not fsync'd. -1 with errno set. */
int fileio_write_sync(const char *path, const void *data, size_t len);
/* The same, but path must not exist yet (O_EXCL: errno EEXIST); on
 * another failure a file created stays for the caller to unlink. */
int fileio_create_sync(const char *path, const void *data, size_t len);
/* fsync the parent directory of path. */
int fileio_fsync_parent(const char *path);

#endif
