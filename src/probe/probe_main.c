/* probe_main.c: "postel probe": options, name resolution, one thread per
 * port, then the report. See probe.h.
 *
 *   postel probe [--ports LIST] [--timeout SECS] [--json] [--servername NAME]
 *                [--cafile FILE] [--user USER [--login-plaintext]] HOST
 *   postel probe --dns DOMAIN [--selector SEL] [--resolver ADDR[@PORT]]
 *                [--trust-anchor FILE|none] [--mta-sts-host HOST:PORT]
 *                [--cafile FILE] [--timeout SECS] [--json]
 *
 * With --user the password is read once, from the terminal without echo or
 * as one line from stdin, and wiped when the probe ends.
 *
 * Exit status: 0 when every probed service works, 1 when some fail, 2 on
 * a usage error. Color only when stdout is a terminal (and NO_COLOR is
 * not set). */
#include "cli/commands.h"
#include "probe/probe.h"
#include "dns/dns.h"
#include "probe/probe_dns.h"
#include "probe/probe_report.h"
#include "probe/probe_tls.h"
#include "lib/config.h"
#include "lib/secret.h"
#include "lib/str.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBE_DEFAULT_TIMEOUT_MS 5000
#define PROBE_MAX_TIMEOUT_MS 300000
/* what SASL PLAIN can carry (RFC 4616 limits each field to 255 octets) */
#define PROBE_PASSWORD_MAX 255

struct probe_options {
	struct probe_settings set;
	bool json;
	struct probe_dns_settings dns; /* dns.domain set: --dns mode */
	/* which services, on which ports; port 0: not probed */
	unsigned ports[PROBE_SERVICE_COUNT];
};

static void probe_usage(FILE *out)
{
	fputs("usage: postel probe [OPTIONS] HOST\n"
	      "       postel probe --dns DOMAIN [--selector SEL] [--resolver ADDR[@PORT]]\n"
	      "\n"
	      "Checks the mail ports of HOST (smtp 25, submission 587, submissions 465,\n"
	      "pop3 110, pop3s 995, imap 143, imaps 993) at the same time and says\n"
	      "what works, what fails and why, and which port to use instead.\n"
	      "\n"
	      "options:\n"
	      "  --ports LIST        probe only these: names, standard port numbers or\n"
	      "                      NAME=PORT, comma separated (imaps=10993,submission)\n"
	      "  --timeout SECS      time for each port: connect, greeting, TLS and\n"
	      "                      capabilities together (default 5, up to 300)\n"
	      "  --json              print one JSON document instead of text\n"
	      "  --servername NAME   the name the certificate must match, sent as SNI\n"
	      "                      (default HOST)\n"
	      "  --cafile FILE       trust only the CA certificates in FILE instead of\n"
	      "                      the system's store\n"
	      "  --user USER         also log in as USER on each port that offers\n"
	      "                      authentication; the password is read from the\n"
	      "                      terminal (no echo) or as one line from stdin.\n"
	      "                      It is sent only over TLS with a valid certificate\n"
	      "  --login-plaintext   also log in where there is no TLS (the password\n"
	      "                      travels in the clear)\n"
	      "  --dns DOMAIN        check the DNS of a mail domain instead: MX and its\n"
	      "                      hosts, reverse DNS, SPF, DMARC, DKIM, MTA-STS, TLSA\n"
	      "  --selector SEL      with --dns: the DKIM selector to check\n"
	      "  --resolver ADDR[@PORT]  with --dns: ask this resolver (default: the\n"
	      "                      dns_resolver key, else /etc/resolv.conf)\n"
	      "  --trust-anchor FILE|none  with --dns: validate DNSSEC from the DS or\n"
	      "                      DNSKEY records in FILE (default: the\n"
	      "                      dns_trust_anchor key, " DNS_TRUST_ANCHOR_DEFAULT "\n"
	      "                      when it exists); none: do not validate\n"
	      "  --mta-sts-host HOST:PORT  with --dns: fetch the MTA-STS policy from\n"
	      "                      there instead of mta-sts.DOMAIN:443\n"
	      "  -h, --help          show this help\n"
	      "\n"
	      "Exit status: 0 every probed service works, 1 some fail, 2 usage error.\n",
	      out);
}

static int probe_usage_error(const char *fmt, const char *arg)
{
	fputs("postel probe: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry \"postel probe --help\".\n", stderr);
	return 2;
}

static const struct probe_service *probe_service_by_port(unsigned port)
{
	for (unsigned i = 0; i < PROBE_SERVICE_COUNT; i++) {
		if (probe_services[i].port == port)
			return &probe_services[i];
	}
	return NULL;
}

/* --ports: "smtp,993,imaps=10993". 0, or 2 after printing the error. */
static int probe_parse_ports(struct probe_options *o, const char *list)
{
	bool seen[PROBE_SERVICE_COUNT] = { false };
	char *copy = xstrdup(list), *save = NULL;
	int ret = 0;

	memset(o->ports, 0, sizeof(o->ports));
	for (char *item = strtok_r(copy, ",", &save); item != NULL && ret == 0;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const struct probe_service *svc;
		unsigned long long port = 0, number;

		if (eq != NULL)
			*eq = '\0';
		if (parse_uint64(item, strlen(item), 65535, &number))
			svc = probe_service_by_port((unsigned)number);
		else
			svc = probe_service_find(item);
		if (svc == NULL) {
			ret = probe_usage_error("--ports: unknown service \"%s\" (smtp, "
						"submission, submissions, pop3, pop3s, "
						"imap, imaps or their port numbers)", item);
			break;
		}
		port = svc->port;
		if (eq != NULL && (!parse_uint64(eq + 1, strlen(eq + 1), 65535, &port) ||
				   port == 0)) {
			ret = probe_usage_error("--ports: bad port number \"%s\"", eq + 1);
			break;
		}
		unsigned idx = (unsigned)(svc - probe_services);
		if (seen[idx]) {
			ret = probe_usage_error("--ports: %s given twice", svc->name);
			break;
		}
		seen[idx] = true;
		o->ports[idx] = (unsigned)port;
	}
	if (ret == 0 && !memchr(seen, true, sizeof(seen)))
		ret = probe_usage_error("--ports: no service in \"%s\"", list);
	free(copy);
	return ret;
}

/* A domain name or label list as typed: letters, digits, '-', '_', '.'. */
static bool probe_dns_name_ok(const char *name)
{
	size_t len = strlen(name);
	return len > 0 && len <= 253 && name[0] != '.' && name[0] != '-' &&
		strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789-_.") == len && strstr(name, "..") == NULL;
}

/* Decimal seconds, e.g. "5" or "0.5", to milliseconds. */
static int probe_parse_timeout(const char *arg, unsigned *ms_r)
{
	char *end;
	double secs = strtod(arg, &end);

	if (end == arg || *end != '\0' || !(secs > 0) ||
	    secs * 1000 > PROBE_MAX_TIMEOUT_MS)
		return probe_usage_error("--timeout: \"%s\" is not a number of seconds "
					 "from 0.001 to 300", arg);
	*ms_r = (unsigned)(secs * 1000 + 0.5);
	if (*ms_r == 0)
		*ms_r = 1;
	return 0;
}

static int probe_parse_options(struct probe_options *o, int argc, char **argv)
{
	enum { OPT_PORTS = 256, OPT_TIMEOUT, OPT_JSON, OPT_SERVERNAME, OPT_CAFILE,
	       OPT_USER, OPT_LOGIN_PLAINTEXT, OPT_DNS, OPT_SELECTOR, OPT_RESOLVER,
	       OPT_MTA_STS_HOST, OPT_TRUST_ANCHOR };
	static const struct option long_options[] = {
		{ "ports", required_argument, NULL, OPT_PORTS },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "servername", required_argument, NULL, OPT_SERVERNAME },
		{ "cafile", required_argument, NULL, OPT_CAFILE },
		{ "user", required_argument, NULL, OPT_USER },
		{ "login-plaintext", no_argument, NULL, OPT_LOGIN_PLAINTEXT },
		{ "dns", required_argument, NULL, OPT_DNS },
		{ "selector", required_argument, NULL, OPT_SELECTOR },
		{ "resolver", required_argument, NULL, OPT_RESOLVER },
		{ "mta-sts-host", required_argument, NULL, OPT_MTA_STS_HOST },
		{ "trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->set.timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
	for (unsigned i = 0; i < PROBE_SERVICE_COUNT; i++)
		o->ports[i] = probe_services[i].port;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_PORTS:
			if (probe_parse_ports(o, optarg) != 0)
				return 2;
			break;
		case OPT_TIMEOUT:
			if (probe_parse_timeout(optarg, &o->set.timeout_ms) != 0)
				return 2;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SERVERNAME:
			o->set.servername = optarg;
			break;
		case OPT_CAFILE:
			o->set.cafile = optarg;
			break;
		case OPT_USER:
			if (optarg[0] == '\0' || strpbrk(optarg, "\r\n") != NULL ||
			    strlen(optarg) > PROBE_PASSWORD_MAX)
				return probe_usage_error("--user: \"%s\" is not a user name",
							 optarg);
			o->set.user = optarg;
			break;
		case OPT_LOGIN_PLAINTEXT:
			o->set.login_plaintext = true;
			break;
		case OPT_DNS:
			if (!probe_dns_name_ok(optarg))
				return probe_usage_error("--dns: \"%s\" is not a domain",
							 optarg);
			o->dns.domain = optarg;
			break;
		case OPT_SELECTOR:
			if (!probe_dns_name_ok(optarg))
				return probe_usage_error("--selector: \"%s\" is not a "
							 "selector", optarg);
			o->dns.selector = optarg;
			break;
		case OPT_RESOLVER:
			o->dns.resolver = optarg;
			break;
		case OPT_MTA_STS_HOST:
			o->dns.mta_sts_host = optarg;
			break;
		case OPT_TRUST_ANCHOR:
			o->dns.trust_anchor = optarg;
			break;
		case 'h':
			probe_usage(stdout);
			return 0;
		case ':':
			return probe_usage_error("missing argument to %s", argv[optind - 1]);
		default:
			return probe_usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (o->dns.domain != NULL) {
		if (optind != argc)
			return probe_usage_error("--dns takes no HOST (\"%s\")",
						 argv[optind]);
		if (o->set.user != NULL)
			return probe_usage_error("%s", "--user does not go with --dns");
		o->dns.cafile = o->set.cafile;
		o->dns.timeout_ms = o->set.timeout_ms;
		return -1;
	}
	if (o->dns.selector != NULL || o->dns.resolver != NULL ||
	    o->dns.mta_sts_host != NULL || o->dns.trust_anchor != NULL)
		return probe_usage_error("%s", "--selector, --resolver, --trust-anchor "
					 "and --mta-sts-host go with --dns");
	if (optind != argc - 1)
		return probe_usage_error("%s", optind >= argc ? "HOST missing" :
					 "one HOST only");
	o->set.host = argv[optind];
	if (o->set.host[0] == '\0')
		return probe_usage_error("%s", "empty HOST");
	if (o->set.servername == NULL)
		o->set.servername = o->set.host;
	if (o->set.login_plaintext && o->set.user == NULL)
		return probe_usage_error("%s", "--login-plaintext needs --user");
	return -1;
}

/* Resolve the host once, for every port (first address wins). */
static void probe_resolve(struct probe_settings *set)
{
	static const struct addrinfo gai_hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	const char *host = set->host;
	size_t len = strlen(host);
	char bare[256];

	/* "[::1]" as well as "::1" */
	if (len > 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(bare)) {
		memcpy(bare, host + 1, len - 2);
		bare[len - 2] = '\0';
		host = bare;
	}
	/* The name lookup counts against --timeout too: a resolver that does
	 * not answer is one of the things a person who cannot connect has.
	 * getaddrinfo_a() runs it on glibc's own thread; on a timeout the
	 * request may still be in flight, so it lives on the heap and is left
	 * to the process's exit. */
	struct gaicb *req = xcalloc(1, sizeof(*req));
	req->ar_name = xstrdup(host);
	req->ar_request = &gai_hints;
	struct gaicb *list[1] = { req };
	int err = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (err == 0) {
		struct timespec ts = { .tv_sec = set->timeout_ms / 1000,
				       .tv_nsec = (long)(set->timeout_ms % 1000) * 1000000L };
		const struct gaicb *wait[1] = { req };
		do {
			err = gai_suspend(wait, 1, &ts);
		} while (err == EAI_INTR);
		/* on a timeout gai_suspend() says EAI_AGAIN, but what counts is
		 * that the request is still running */
		if (gai_error(req) == EAI_INPROGRESS) {
			gai_cancel(req);
			set->addr_timeout = true;
			set->addr_error = xstrdup(t_printf("name %s not resolved within %u ms: "
							   "the resolver does not answer",
							   set->host, set->timeout_ms));
			return;
		}
		err = gai_error(req);
		res = req->ar_result;
	}
	free((char *)req->ar_name);
	free(req);
	if (err != 0 || res == NULL) {
		set->addr_error = t_printf("name %s not found: %s", set->host,
					   err != 0 ? gai_strerror(err) : "no address");
		set->addr_error = xstrdup(set->addr_error);
		return;
	}
	memcpy(&set->addr, res->ai_addr, res->ai_addrlen);
	set->addr_len = res->ai_addrlen;
	const void *a = res->ai_family == AF_INET6 ?
		(const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr :
		(const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
	inet_ntop(res->ai_family, a, set->addr_text, sizeof(set->addr_text));
	set->addr_ok = true;
	freeaddrinfo(res);
}

/* The --user password into buf: 0, or -1 after printing why. */
static int probe_read_password(const char *user, char *buf, size_t size)
{
	const char *error = NULL;
	ssize_t len = isatty(STDIN_FILENO) ?
		secret_read_tty(t_printf("Password for %s: ", user), buf, size, &error) :
		secret_read_line(STDIN_FILENO, buf, size, &error);
	if (len == 0)
		error = "empty password";
	if (len <= 0 || memchr(buf, '\r', (size_t)len) != NULL) {
		fprintf(stderr, "postel probe: %s\n",
			error != NULL ? error : "the password holds a CR");
		return -1;
	}
	return 0;
}

struct probe_job {
	const struct probe_settings *set;
	struct probe_port *port;
	pthread_t thread;
	bool started;
};

static void *probe_thread(void *arg)
{
	struct probe_job *job = arg;
	probe_port_run(job->set, job->port);
	return NULL;
}

static void probe_run_ports(const struct probe_settings *set,
			    struct probe_port *ports, unsigned count)
{
	struct probe_job jobs[PROBE_SERVICE_COUNT];

	for (unsigned i = 0; i < count; i++) {
		jobs[i] = (struct probe_job){ .set = set, .port = &ports[i] };
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, probe_thread,
						 &jobs[i]) == 0;
		if (!jobs[i].started) /* no thread: probe it here, in turn */
			probe_port_run(set, &ports[i]);
	}
	for (unsigned i = 0; i < count; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
	}
}

int cmd_probe(struct cli_ctx *ctx, int argc, char **argv)
{
	struct probe_options o;
	struct probe_port ports[PROBE_SERVICE_COUNT];
	char password[PROBE_PASSWORD_MAX + 1];
	unsigned count = 0;
	const char *error;

	memset(&o, 0, sizeof(o));
	int ret = probe_parse_options(&o, argc, argv);
	if (ret >= 0)
		return ret;
	bool color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	if (o.dns.domain != NULL) {
		/* the options win over the config keys the runner uses */
		if (o.dns.resolver == NULL && ctx->config != NULL &&
		    ctx->config->dns_resolver[0] != '\0')
			o.dns.resolver = ctx->config->dns_resolver;
		if (o.dns.trust_anchor == NULL && ctx->config != NULL)
			o.dns.trust_anchor = ctx->config->dns_trust_anchor;
		return probe_dns_main(&o.dns, o.json, color);
	}
	if (o.set.user != NULL) {
		if (probe_read_password(o.set.user, password, sizeof(password)) < 0)
			return 1;
		o.set.password = password;
	}
	o.set.ssl_ctx = probe_tls_ctx_create(o.set.cafile, &error);
	if (o.set.ssl_ctx == NULL) {
		fprintf(stderr, "postel probe: %s\n", error);
		explicit_bzero(password, sizeof(password));
		return 2;
	}
	probe_resolve(&o.set);
	memset(ports, 0, sizeof(ports));
	for (unsigned i = 0; i < PROBE_SERVICE_COUNT; i++) {
		if (o.ports[i] == 0)
			continue;
		ports[count].pool = pool_create(4096);
		ports[count].service = &probe_services[i];
		ports[count].port = o.ports[i];
		count++;
	}
	probe_run_ports(&o.set, ports, count);
	explicit_bzero(password, sizeof(password));
	o.set.password = NULL;

	struct probe_run run = { .set = &o.set, .ports = ports, .count = count };
	if (o.json)
		probe_report_json(stdout, &run);
	else
		probe_report_text(stdout, &run, color);
	fflush(stdout);
	ret = probe_exit_status(&run);
	for (unsigned i = 0; i < count; i++)
		pool_destroy(&ports[i].pool);
	probe_tls_ctx_destroy(&o.set.ssl_ctx);
	free((char *)o.set.addr_error);
	return ret;
}
