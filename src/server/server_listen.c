/* server_listen.c: bind the listening sockets for every service.
 * Done by the master (as root, for ports below 1024); workers inherit them. */
#include "server.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const service_names[SERVICE_COUNT] = {
	"smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps",
};

const char *service_name(enum service service)
{
	return service_names[service];
}

static int listen_one(const struct config_listen *l, enum service service,
		      struct listener_set *set, const char **error_r)
{
	if (set->count >= SERVER_MAX_LISTENERS) {
		*error_r = "too many listeners";
		return -1;
	}
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && l->addr.ss_family == AF_INET6 && errno == EAFNOSUPPORT) {
		/* a host without IPv6 still serves the IPv4 listeners */
		log_warn("event=listen_skipped service=%s addr=%s reason=no_ipv6",
			 service_names[service], l->text);
		return 0;
	}
	if (fd < 0) {
		*error_r = t_printf("%s: socket: %s", l->text, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0) {
		*error_r = t_printf("%s_listen %s: bind: %s", service_names[service],
				    l->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 1024) < 0) {
		*error_r = t_printf("%s: listen: %s", l->text, strerror(errno));
		close(fd);
		return -1;
	}
	struct listener *li = &set->items[set->count++];
	li->fd = fd;
	li->service = service;
	snprintf(li->text, sizeof(li->text), "%s", l->text);
	log_info("event=listen service=%s addr=%s", service_names[service], l->text);
	return 0;
}

int server_listen_all(const struct config *config, struct listener_set *set_r,
		      const char **error_r)
{
	const struct config_listen_list *lists[SERVICE_COUNT] = {
		&config->smtp_listen, &config->submission_listen,
		&config->submissions_listen, &config->pop3_listen,
		&config->pop3s_listen, &config->imap_listen, &config->imaps_listen,
	};
	set_r->count = 0;
	for (unsigned s = 0; s < SERVICE_COUNT; s++) {
		for (unsigned i = 0; i < lists[s]->count; i++) {
			if (listen_one(&lists[s]->items[i], (enum service)s, set_r,
				       error_r) < 0) {
				server_listen_close(set_r);
				return -1;
			}
		}
	}
	return 0;
}

void server_listen_close(struct listener_set *set)
{
	for (unsigned i = 0; i < set->count; i++)
		close(set->items[i].fd);
	set->count = 0;
}
