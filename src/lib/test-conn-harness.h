/* test-conn-harness.h: what the conn.c unit tests share (test-conn.c,
 * test-conn-output.c, test-conn-buffers.c, test-conn-deflate.c): a conn
 * on one end of a socketpair and the test as the peer on the other, on
 * its own loop; each line the conn reads is kept ('|' separated; over 16
 * octets it is counted as too long, "CHECK" records the buffer capacity,
 * "QUIT" closes), an idle timeout answers "421 bye" and closes; a test
 * may see each line first (line_hook) and act before each read
 * (read_hook). And a streamer that writes `total` octets through
 * conn_set_output_drained() while the peer reads them. */
#ifndef POSTEL_TEST_CONN_HARNESS_H
#define POSTEL_TEST_CONN_HARNESS_H

#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/str.h"

#include <stdbool.h>
#include <stddef.h>

struct harness {
	struct ioloop *loop;
	struct conn *conn;
	int peer;
	int server_fd;    /* the conn's own end, for socket options */
	str_t lines;      /* each received line, '|' separated */
	unsigned toolong, bare, timeouts, closed;
	bool pause_after_first;
	const char *close_reason;
	size_t capacity_at_check; /* conn_buffer_capacity() at a CHECK line */
	/* a test's own: called before each conn_read_line(); and with each
	 * line read, before the harness looks at it: true when the test
	 * took the line (then it is not kept and not a harness command) */
	void (*read_hook)(struct harness *h);
	bool (*line_hook)(struct harness *h, const char *line, size_t len);
};

/* max_input and max_output: the conn's caps; idle_ms its idle timeout */
void harness_init_full(struct harness *h, unsigned idle_ms, size_t max_input,
		       size_t max_output);
/* max_input 64 */
void harness_init(struct harness *h, unsigned idle_ms, size_t max_output);
void harness_deinit(struct harness *h);
/* A timer callback: stops the loop ctx. */
void harness_stop_loop(void *ctx);
/* Runs the loop for msecs (or until something stops it sooner). */
void harness_run_for(struct ioloop *loop, unsigned msecs);

struct stream {
	struct harness *h;
	size_t sent, received, total, piece;
	bool run_on; /* all received: stop reading, the loop runs on */
	unsigned calls;
	struct io *peer_io;
};

/* The drained callback: the next piece (512 octets unless piece), or
 * the drained callback removed once all total were sent. */
void stream_fill(void *ctx);
/* The peer's read callback: counts what arrives; all of it: the loop
 * stops (or, run_on, the peer stops reading). */
void stream_peer_read(void *ctx);

#endif
