/* test-smtp-harness.h: what the relay client tests share: a message in
 * memory read a few octets at a time, one client run on its own loop
 * against a fake server (test-smtp-fake.h) with a 10 s guard, the copy of
 * the last result, and a self-signed "localhost" certificate made by
 * lib/tls.c in a temporary data directory for the TLS tests. */
#ifndef POSTEL_TEST_SMTP_HARNESS_H
#define POSTEL_TEST_SMTP_HARNESS_H

#include "relay/smtp_client.h"
#include "relay/test-smtp-fake.h"

#include <stdbool.h>

#define MAX_RCPT 8
#define SMTP_CLIENT_READ_CHUNK_TEST 65536

struct mem_source {
	const char *data;
	size_t len, pos, chunk;
};

enum after { AFTER_DESTROY, AFTER_QUIT, AFTER_SEND_NEXT };

struct run {
	struct ioloop *loop;
	struct smtp_client *c;
	struct timeout *guard;
	unsigned calls;
	enum after after;
	const struct smtp_client_message *next;
	/* of the last result */
	unsigned codes[MAX_RCPT];
	char enh[MAX_RCPT][16];
	char texts[MAX_RCPT][256];
	bool local[MAX_RCPT];
	unsigned final_code;
	char final_text[256];
	bool reusable, tls, verified, resumed, have_peer, dane, auth_refused;
	bool no_join;     /* the fake serves another session after this */
};

struct msg_fixture {
	struct smtp_client_rcpt rcpts[MAX_RCPT];
	struct mem_source src;
	struct smtp_client_message msg;
};

struct tls_fixture {
	char dir[64];
	char ca_file[128];
	struct tls_ctx *server;
};

#define EHLO_TLS "250-fake\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"

extern const char *const one_rcpt[];

ssize_t mem_read(void *ctx, void *buf, size_t size);
void on_guard(void *ctx);
void on_result(void *ctx, const struct smtp_client_result *res);
struct smtp_client_settings test_settings(void);
void msg_init(struct msg_fixture *m, const char *body, size_t chunk,
	      const char *const *rcpts, unsigned n);
/* Runs one client to fake f until its result (and what after says). */
void run_client(struct run *r, struct fake_smtp *f,
		const struct smtp_client_settings *set,
		struct smtp_client_dest *dest,
		const struct smtp_client_message *msg);
/* The plain case: start f, connect without TLS, run msg with set (NULL:
 * test_settings()). */
void run_plain(struct run *r, struct fake_smtp *f,
	       const struct smtp_client_message *msg,
	       const struct smtp_client_settings *set);
/* run_plain() of body (read chunk octets at a time) to the n rcpts, held
 * in m; r starts afresh with after. */
void run_plain_body(struct run *r, struct fake_smtp *f, struct msg_fixture *m,
		    const char *body, size_t chunk, const char *const *rcpts,
		    unsigned n, enum after after,
		    const struct smtp_client_settings *set);
void tls_fixture_init(struct tls_fixture *t);
void tls_fixture_free(struct tls_fixture *t);

/* What every TLS test starts from: the certificate, a TLS client that
 * trusts it (system_ca: the system store, which does not), "x\n" to one
 * recipient and test_settings(). */
struct tls_case {
	struct tls_fixture t;
	struct conn_tls_client *client;
	struct msg_fixture m;
	struct smtp_client_settings set;
};

void tls_case_init(struct tls_case *c, bool system_ca, const char *body);
void tls_case_free(struct tls_case *c);
/* One run of c's message from its start to f (started here unless
 * already serving) over dest. */
void tls_case_run(struct tls_case *c, struct run *r, struct fake_smtp *f,
		  bool start, struct smtp_client_dest *dest);

#endif
