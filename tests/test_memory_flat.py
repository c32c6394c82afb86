"""Memory stays flat under repeated commands (issue 8 item 4, TESTING.md
item 28): a million `EHLO <255 chars>` on one connection, and many
`NOOP`, POP3 `USER <255 chars>`, `CAPA`, and `AUTH PLAIN` + `*` (SMTP
and POP3), each on its own connection, pipelined in big writes while the
replies are read. The serving worker's resident memory (VmRSS) may grow by
a few MB at most: before the per-command pool, every EHLO and USER kept
its argument until disconnect (about 256 MB per million) and every AUTH
its mechanism name.

Under POSTEL_ASAN the counts are smaller and memory is not judged: the
sanitizer's quarantine grows by design; the run must still complete."""
import select
import socket
import time

import pytest

from conftest import ASAN, running_postel, scaled
from procs import worker_kib

# RSS growth allowed after the warm-up, in kB
GROWTH_MAX_KB = 4 * 1024
# replies the server may hold unsent: its output cap is 256 KiB (SMTP)
WINDOW_REPLY_BYTES = 96 * 1024
LONG_DOMAIN = ".".join(["a" * 63] * 4)   # 255 octets, a valid domain
LONG_USER = "u" * 255


def count(n):
    return max(n // 50, 2000) if ASAN else n


@pytest.fixture(scope="module")
def srv():
    # one worker: the one serving us is the only child; AUTH in plaintext
    # and no error limit, so 501 to `*` does not end the session
    with running_postel(workers=1, allow_plaintext_auth="yes",
                        max_bad_commands=4294967295) as s:
        yield s


def worker_rss_kb(srv):
    return worker_kib(srv, "status", "VmRSS")


def connect(port, greeting_prefix):
    s = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
    buf = b""
    while b"\n" not in buf:
        data = s.recv(4096)
        assert data, "closed before the greeting"
        buf += data
    assert buf.startswith(greeting_prefix), buf
    s.setblocking(False)
    return s


def pump(sock, unit, lines_per_unit, total, reply_bytes_per_unit, deadline,
         last_line_check):
    """Send `unit` total times in big writes, never more than a window of
    replies outstanding, reading replies as they come; returns when every
    reply line has arrived. Checks the last reply line's shape."""
    window = max(WINDOW_REPLY_BYTES // reply_bytes_per_unit, 8)
    batch = max(window // 2, 4)
    sent = 0
    lines = 0
    tail = b""
    out = b""
    while lines < total * lines_per_unit:
        assert time.monotonic() < deadline, \
            f"too slow: {sent} sent, {lines // lines_per_unit} answered of {total}"
        answered = lines // lines_per_unit
        if not out and sent < total and sent - answered < window:
            n = min(batch, total - sent)
            out = unit * n
            sent += n
        r, w, _ = select.select([sock], [sock] if out else [], [], 1.0)
        if w:
            try:
                k = sock.send(out)
                out = out[k:]
            except BlockingIOError:
                pass
        if r:
            try:
                data = sock.recv(1 << 20)
            except BlockingIOError:
                continue
            assert data, f"server closed after {lines} reply lines: {tail[-300:]!r}"
            lines += data.count(b"\n")
            tail = (tail + data)[-4096:]
    last = tail.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
    assert last_line_check(last), last


def first_reply(port, greeting, command, end):
    """The whole reply to one command, to learn its size and line count."""
    s = connect(port, greeting)
    s.setblocking(True)
    s.sendall(command)
    reply = b""
    while not reply.endswith(end):
        data = s.recv(65536)
        assert data, reply
        reply += data
    s.close()
    return reply


def run_case(srv, port, greeting, unit, lines_per_unit, reply_bytes, n, check,
             prelude=None):
    budget = time.monotonic() + scaled(40)
    sock = connect(port, greeting)
    try:
        if prelude:
            sock.setblocking(True)
            sock.sendall(prelude[0])
            got = b""
            while not got.endswith(prelude[1]):
                data = sock.recv(65536)
                assert data, got
                got += data
            sock.setblocking(False)
        warm = min(20000, n // 10)
        pump(sock, unit, lines_per_unit, warm, reply_bytes, budget, check)
        before = worker_rss_kb(srv)
        pump(sock, unit, lines_per_unit, n - warm, reply_bytes, budget, check)
        after = worker_rss_kb(srv)
    finally:
        sock.close()
    growth = after - before
    print(f"{unit[:12]!r} x{n}: VmRSS {before} -> {after} kB")
    if not ASAN:
        assert growth < GROWTH_MAX_KB, \
            f"worker grew by {growth} kB over {n} x {unit[:20]!r}"


def test_ehlo_million(srv):
    ehlo = f"EHLO {LONG_DOMAIN}\r\n".encode()
    reply = first_reply(srv.smtp_port, b"220 ", ehlo, b"250 SMTPUTF8\r\n")
    run_case(srv, srv.smtp_port, b"220 ", ehlo, reply.count(b"\n"), len(reply),
             count(1000000), lambda last: last == b"250 SMTPUTF8")


def test_smtp_noop(srv):
    run_case(srv, srv.smtp_port, b"220 ", b"NOOP\r\n", 1, 16, count(1000000),
             lambda last: last == b"250 2.0.0 OK")


def test_smtp_auth_cancelled(srv):
    # RFC 4954 4: "334 " then, after "*", 501
    run_case(srv, srv.smtp_port, b"220 ", b"AUTH PLAIN\r\n*\r\n", 2, 64,
             count(1000000), lambda last: last.startswith(b"501 "),
             prelude=(b"EHLO a.example\r\n", b"250 SMTPUTF8\r\n"))


def test_pop3_user(srv):
    run_case(srv, srv.pop3_port, b"+OK ", f"USER {LONG_USER}\r\n".encode(), 1, 16,
             count(1000000), lambda last: last == b"+OK Send PASS")


def test_pop3_capa(srv):
    reply = first_reply(srv.pop3_port, b"+OK ", b"CAPA\r\n", b"\r\n.\r\n")
    run_case(srv, srv.pop3_port, b"+OK ", b"CAPA\r\n", reply.count(b"\n"), len(reply),
             count(1000000), lambda last: last == b".")


def test_pop3_auth_cancelled(srv):
    # RFC 5034 4: "+ " then, after "*", -ERR
    run_case(srv, srv.pop3_port, b"+OK ", b"AUTH PLAIN\r\n*\r\n", 2, 48,
             count(1000000), lambda last: last.startswith(b"-ERR "))
