/* server_notify.c: tell a service manager how the master is doing, as
 * sd_notify(3) does, without linking libsystemd.
 *
 * Contract: when $NOTIFY_SOCKET names a Unix datagram socket (a path, or
 * "@name" for the abstract namespace), server_notify() sends it one
 * datagram of newline-separated "KEY=value" assignments (READY=1,
 * RELOADING=1, STOPPING=1, STATUS=...), as the sd_notify protocol
 * describes; without it nothing is sent. It never blocks (MSG_DONTWAIT)
 * and never fails the caller: a manager that is gone or a full socket is
 * one log line. The master calls it at ready, around a SIGHUP reload and
 * on stop; workers never do. */
#include "server.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int server_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path)) {
		log_warn("event=notify_failed socket=%s error=\"not an absolute path "
			 "or @abstract name\"", log_str(path));
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract: no trailing NUL counted */
	socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
					 (path[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
		   (const struct sockaddr *)&sun, addr_len) < 0) {
		log_warn("event=notify_failed socket=%s error=\"%s\"", log_str(path),
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int server_notify_reloading(void)
{
	/* systemd 253 wants MONOTONIC_USEC with RELOADING=1 (for
	 * Type=notify-reload); older managers ignore it */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long usec = (unsigned long long)ts.tv_sec * 1000000ull +
		(unsigned long long)ts.tv_nsec / 1000;
	return server_notify(t_printf("RELOADING=1\nMONOTONIC_USEC=%llu\n"
				      "STATUS=reloading the configuration", usec));
}
