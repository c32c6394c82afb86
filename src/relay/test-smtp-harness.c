/* test-smtp-harness.c: the shared part of the relay client tests. See
 * test-smtp-harness.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/tls.h"
#include "relay/smtp_client.h"
#include "relay/test-smtp-harness.h"

const char *const one_rcpt[] = { "a@x.test" };

ssize_t mem_read(void *ctx, void *buf, size_t size)
{
	struct mem_source *m = ctx;
	size_t n = m->len - m->pos;
	if (n > m->chunk)
		n = m->chunk;
	if (n > size)
		n = size;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

void on_guard(void *ctx)
{
	struct run *r = ctx;
	ioloop_stop(r->loop);
}

void on_result(void *ctx, const struct smtp_client_result *res)
{
	struct run *r = ctx;
	r->calls++;
	for (unsigned i = 0; i < res->rcpt_count && i < MAX_RCPT; i++) {
		r->codes[i] = res->rcpt[i].code;
		snprintf(r->enh[i], sizeof(r->enh[i]), "%s", res->rcpt[i].enhanced);
		snprintf(r->texts[i], sizeof(r->texts[i]), "%s", res->rcpt[i].text);
		r->local[i] = res->rcpt[i].local;
	}
	r->final_code = res->final.code;
	snprintf(r->final_text, sizeof(r->final_text), "%s",
		 res->final.text != NULL ? res->final.text : "");
	r->reusable = res->reusable;
	r->auth_refused = res->auth_refused;
	r->tls = res->tls;
	r->have_peer = res->peer != NULL;
	r->verified = res->peer != NULL && res->peer->verified;
	r->resumed = res->peer != NULL && res->peer->resumed;
	r->dane = res->peer != NULL && res->peer->dane;
	if (r->after == AFTER_SEND_NEXT && r->next != NULL && res->reusable) {
		const struct smtp_client_message *m = r->next;
		r->next = NULL;
		assert_int_equal(smtp_client_send(r->c, m, on_result, r), 0);
		return;
	}
	if (r->after == AFTER_QUIT && res->reusable) {
		smtp_client_quit(&r->c);
		/* let QUIT go out and the client free itself */
		timeout_reset(r->guard, 500);
		return;
	}
	smtp_client_destroy(&r->c);
	ioloop_stop(r->loop);
}

struct smtp_client_settings test_settings(void)
{
	struct smtp_client_settings set = {
		.helo_name = "client.test", .connect_ms = 2000, .greeting_ms = 2000,
		.mail_ms = 2000, .rcpt_ms = 2000, .data_ms = 2000,
		.data_block_ms = 2000, .data_end_ms = 2000,
	};
	return set;
}

void msg_init(struct msg_fixture *m, const char *body, size_t chunk,
		     const char *const *rcpts, unsigned n)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < n; i++)
		m->rcpts[i].address = rcpts[i];
	m->src = (struct mem_source){ .data = body, .len = strlen(body),
				      .chunk = chunk };
	m->msg = (struct smtp_client_message){
		.id = "Q1", .mail_from = "sender@client.test", .rcpts = m->rcpts,
		.rcpt_count = n,
		.source = { .read = mem_read, .ctx = &m->src, .size = strlen(body) },
	};
}

/* Runs one client to fake f until its result (and what after says). */
void run_client(struct run *r, struct fake_smtp *f,
		       const struct smtp_client_settings *set,
		       struct smtp_client_dest *dest,
		       const struct smtp_client_message *msg)
{
	r->loop = ioloop_create();
	dest->ip = "127.0.0.1";
	if (dest->host == NULL)
		dest->host = "localhost";
	dest->port = f->port;
	const char *error = NULL;
	r->guard = timeout_add(r->loop, 10000, on_guard, r);
	r->c = smtp_client_start(r->loop, set, dest, msg, on_result, r, &error);
	assert_non_null(r->c);
	ioloop_run(r->loop);
	smtp_client_destroy(&r->c);
	timeout_remove(&r->guard);
	ioloop_destroy(&r->loop);
	if (!r->no_join)
		fake_smtp_join(f);
}

/* The plain case: start f, connect without TLS, run msg with set (NULL:
 * test_settings()). */
void run_plain(struct run *r, struct fake_smtp *f,
		      const struct smtp_client_message *msg,
		      const struct smtp_client_settings *set)
{
	struct smtp_client_settings def = test_settings();
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE };
	fake_smtp_start(f);
	run_client(r, f, set != NULL ? set : &def, &dest, msg);
}

/* A self-signed certificate for "localhost" made by lib/tls.c in a
 * temporary data directory; the server side of STARTTLS. */

void tls_fixture_init(struct tls_fixture *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test-smtp-client.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	const char *error = NULL;
	t->server = tls_ctx_create("", "", t->dir, "localhost", &error);
	assert_non_null(t->server);
	snprintf(t->ca_file, sizeof(t->ca_file), "%s/tls/selfsigned.crt", t->dir);
}

void tls_fixture_free(struct tls_fixture *t)
{
	tls_ctx_destroy(&t->server);
	char path[160];
	snprintf(path, sizeof(path), "%s/tls/selfsigned.crt", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls/selfsigned.key", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls", t->dir);
	rmdir(path);
	rmdir(t->dir);
}


void run_plain_body(struct run *r, struct fake_smtp *f, struct msg_fixture *m,
		    const char *body, size_t chunk, const char *const *rcpts,
		    unsigned n, enum after after,
		    const struct smtp_client_settings *set)
{
	msg_init(m, body, chunk, rcpts, n);
	*r = (struct run){ .after = after };
	run_plain(r, f, &m->msg, set);
}

void tls_case_init(struct tls_case *c, bool system_ca, const char *body)
{
	memset(c, 0, sizeof(*c));
	tls_fixture_init(&c->t);
	const char *error = NULL;
	c->client = system_ca ? conn_tls_client_create(NULL, 8, &error) :
		conn_tls_client_create(c->t.ca_file, 2, &error);
	assert_non_null(c->client);
	msg_init(&c->m, body, 100, one_rcpt, 1);
	c->set = test_settings();
}

void tls_case_free(struct tls_case *c)
{
	conn_tls_client_destroy(&c->client);
	tls_fixture_free(&c->t);
}

void tls_case_run(struct tls_case *c, struct run *r, struct fake_smtp *f,
		  bool start, struct smtp_client_dest *dest)
{
	if (start)
		fake_smtp_start(f);
	c->m.src.pos = 0;
	run_client(r, f, &c->set, dest, &c->m.msg);
}
