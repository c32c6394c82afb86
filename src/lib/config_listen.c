/* config_listen.c: listen lists ("addr:port, [addr6]:port, ..."), the
 * values of the *_listen keys: each entry a numeric address and a port,
 * at most CONFIG_MAX_LISTEN of them. */
#include "config_private.h"
#include "mem.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* One "addr:port" or "[addr6]:port" entry, already trimmed. */
static int config_parse_listen_entry(const char *entry, size_t len,
				     struct config_listen *listen_r,
				     const char **error_r)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&listen_r->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&listen_r->addr;
	bool v6 = entry[0] == '[';
	const char *host = entry + (v6 ? 1 : 0), *colon;
	char host_buf[INET6_ADDRSTRLEN];
	unsigned long long port;

	if (len >= sizeof(listen_r->text)) {
		*error_r = t_printf("listen address too long %s",
				    log_value(entry, len));
		return -1;
	}
	if (v6) {
		colon = memchr(entry, ']', len);
		if (colon == NULL || colon + 1 == entry + len || colon[1] != ':') {
			*error_r = t_printf("bad listen address %s (expected [IPv6]:port)",
					    log_value(entry, len));
			return -1;
		}
		colon++;
	} else if ((colon = memrchr(entry, ':', len)) == NULL) {
		*error_r = t_printf("missing port in %s", log_value(entry, len));
		return -1;
	} else if (memchr(entry, ':', (size_t)(colon - entry)) != NULL) {
		*error_r = t_printf("bad listen address %s (write IPv6 as [addr]:port)",
				    log_value(entry, len));
		return -1;
	}
	size_t host_len = (size_t)(colon - host) - (v6 ? 1 : 0);
	size_t port_len = len - (size_t)(colon + 1 - entry);
	if (!parse_uint64(colon + 1, port_len, 65535, &port) || port == 0) {
		*error_r = t_printf("bad port %s", log_value(colon + 1, port_len));
		return -1;
	}

	memset(listen_r, 0, sizeof(*listen_r));
	if (host_len < sizeof(host_buf)) {
		memcpy(host_buf, host, host_len);
		host_buf[host_len] = '\0';
	}
	/* inet_pton, never DNS: "localhost" or "*" is an error */
	if (host_len >= sizeof(host_buf) ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, host_buf,
		      v6 ? (void *)&sin6->sin6_addr : (void *)&sin->sin_addr) != 1) {
		*error_r = t_printf("bad %s address %s", v6 ? "IPv6" : "IPv4",
				    log_value(host, host_len));
		return -1;
	}
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		listen_r->addr_len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		listen_r->addr_len = sizeof(*sin);
	}
	memcpy(listen_r->text, entry, len);
	listen_r->text[len] = '\0';
	return 0;
}

int config_parse_listen(const char *value, struct config_listen_list *list_r,
			const char **error_r)
{
	struct config_listen_list list;
	const char *p = value, *entry;
	size_t len = strlen(value);

	memset(&list, 0, sizeof(list));
	config_trim(&p, &len);
	for (bool more = len > 0; more; p++) {
		const char *comma = memchr(p, ',', len);
		size_t entry_len = comma != NULL ? (size_t)(comma - p) : len;

		more = comma != NULL;
		entry = p;
		p += entry_len;
		len -= entry_len + (more ? 1 : 0);
		config_trim(&entry, &entry_len);
		if (entry_len == 0) {
			*error_r = "empty entry in listen list";
			return -1;
		}
		if (list.count == CONFIG_MAX_LISTEN) {
			*error_r = t_printf("too many listen addresses (max %d)",
					    CONFIG_MAX_LISTEN);
			return -1;
		}
		if (config_parse_listen_entry(entry, entry_len,
					      &list.items[list.count], error_r) < 0)
			return -1;
		list.count++;
	}
	*list_r = list;
	return 0;
}
