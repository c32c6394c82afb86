"""POP3 bad input and limits (TESTING.md items 1 and 17-21): malformed and
out-of-range message numbers, commands in the wrong state, over-long
lines, AUTH garbage, too many errors, HTTP, the authfail delay, a huge
message retrieved with flat memory, and SIGTERM deleting nothing."""
import hashlib
import os
import socket
import time

import pytest

from conftest import (assert_all_dropped, b64, children_of, plain_auth_blob, scaled,
                      stalled_connections)
from pop3_helpers import deliver, fresh_ip, login, new_user, raw


def overlong(c, line):
    """Send an over-long line, then UTF8 as a marker: everything before the
    marker's +OK is a "-ERR Line too long" (an endless line is reported
    again every 64 KiB, so there may be two), and the session lives."""
    c.send(line + b"\r\nUTF8\r\n")
    errors = 0
    for _ in range(5):
        r = c.line()
        if r.startswith(b"+OK UTF8"):
            break
        assert r == b"-ERR Line too long", r
        errors += 1
    assert 1 <= errors <= 3, errors


def alive(c):
    r = c.cmd("NOOP")
    assert r in (b"+OK", b"-ERR NOOP not valid in this state"), r


@pytest.fixture
def session(postel):
    """A logged-in raw session on a maildrop of two messages."""
    user, password = new_user(postel)
    deliver(postel, user)
    deliver(postel, user)
    c = raw(postel, implicit=True)
    c.login(user, password)
    yield c, user
    c.close()


@pytest.mark.parametrize("line", [
    "RETR 0", "RETR 3", "RETR 4294967297", "RETR 4294967296", "RETR -1", "RETR +1",
    "RETR 1x", "RETR 0x1", "RETR", "RETR 1 2", "RETR  1", "RETR 99999999999999999999999",
    "TOP 1 -1", "TOP 1", "TOP 1 x", "TOP 0 1", "TOP 1 1 1", "TOP 1 18446744073709551616",
    "LIST 0", "LIST 3", "LIST -1", "UIDL 0", "UIDL 4294967297", "DELE 0", "DELE 3",
    "DELE", "STAT 1", "NOOP x", "RSET 1", "QUIT now",
])
def test_bad_message_numbers_and_arguments(session, line):
    """TESTING.md item 17."""
    c, _ = session
    r = c.cmd(line)
    assert r.startswith(b"-ERR "), (line, r)
    alive(c)
    assert c.cmd("STAT").startswith(b"+OK 2 ")


def test_double_dele_and_deleted_references(session):
    c, _ = session
    assert c.cmd("DELE 1").startswith(b"+OK")
    for line in ("DELE 1", "RETR 1", "TOP 1 0", "LIST 1", "UIDL 1"):
        assert c.cmd(line).startswith(b"-ERR"), line
    assert c.cmd("STAT").startswith(b"+OK 1 ")
    assert c.cmd("RSET").startswith(b"+OK")
    assert c.cmd("LIST 1").startswith(b"+OK 1 ")


def test_commands_in_the_wrong_state(postel):
    user, password = new_user(postel)
    with raw(postel, implicit=True) as c:
        for line in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1",
                     "UIDL", "PASS x"):
            assert c.cmd(line).startswith(b"-ERR"), line
        assert c.cmd("APOP user 0123456789abcdef").startswith(b"-ERR")
        c.login(user, password)
        for line in (f"USER {user}", "PASS x", "AUTH PLAIN", "STLS", "UTF8", "APOP a b"):
            assert c.cmd(line).startswith(b"-ERR"), line
        assert c.cmd("STAT").startswith(b"+OK 0 0")


def test_overlong_lines(postel):
    user, password = new_user(postel)
    with raw(postel, implicit=True) as c:
        # 100 KB USER: refused, bounded, and the session goes on
        overlong(c, b"USER " + b"a" * 100000)
        assert c.cmd("USER " + "b" * 600).startswith(b"-ERR")
        assert c.cmd("XTND " + "c" * 300).startswith(b"-ERR")
        c.login(user, password)
        assert c.cmd("STAT").startswith(b"+OK")
        # bare LF is not a line end (RFC 1939 3: CRLF)
        c.send(b"NOOP\n")
        assert c.line().startswith(b"-ERR")


def test_too_many_bad_commands_disconnect(postel):
    with raw(postel) as c:
        c.send(b"".join(b"XYZZY %d\r\n" % i for i in range(40)))
        data = c.read_until_eof(10)
        assert data.count(b"-ERR") <= 23
        assert b"Too many bad commands" in data


def test_http_request_dropped(postel):
    with raw(postel) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_until_eof(5) == b""


def test_auth_garbage(postel):
    """TESTING.md item 18: clean refusals, and fresh state afterwards."""
    user, password = new_user(postel)
    ip = fresh_ip()
    with raw(postel, implicit=True, source=ip) as c:
        assert c.cmd("AUTH PLAIN !!notbase64").startswith(b"-ERR")
        assert c.cmd("AUTH NOSUCH").startswith(b"-ERR")
        assert c.cmd("AUTH PLAIN " + b64("no-nuls-here")).startswith(b"-ERR [AUTH]")
        assert c.cmd("AUTH PLAIN " + b64("a\0b\0c\0d")).startswith(b"-ERR [AUTH]")
        assert c.cmd("AUTH PLAIN " + b64(b"\0\xff\xfe\0pw")).startswith(b"-ERR [AUTH]")
        overlong(c, b"AUTH PLAIN " + b"A" * 70000)
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.cmd("*").startswith(b"-ERR")  # RFC 5034 4: cancelled
        assert c.cmd("AUTH LOGIN").startswith(b"+ ")
        assert c.cmd("%%%").startswith(b"-ERR")
        assert c.cmd("AUTH PLAIN =").startswith(b"-ERR [AUTH]")
        r = c.cmd(f"AUTH PLAIN {plain_auth_blob(user, password)}", timeout=30)
        assert r.startswith(b"+OK"), r


def test_failed_logins_are_delayed_per_address(postel):
    """TESTING.md items 19 and 20."""
    user, password = new_user(postel)
    ip = fresh_ip()
    with raw(postel, implicit=True, source=ip) as c:
        assert c.cmd(f"USER {user}").startswith(b"+OK")
        assert c.cmd("PASS wrong").startswith(b"-ERR [AUTH]")
        # RFC 1939 7: after a failed PASS, USER again
        assert c.cmd("PASS wrong").startswith(b"-ERR")
        c.cmd(f"USER {user}")
        t0 = time.monotonic()
        assert c.cmd("PASS wrong-again", timeout=30).startswith(b"-ERR [AUTH]")
        assert time.monotonic() - t0 >= 0.9
    # another address is not slowed down
    with raw(postel, implicit=True, source=fresh_ip()) as c:
        c.cmd(f"USER {user}")
        t0 = time.monotonic()
        assert c.cmd(f"PASS {password}").startswith(b"+OK")
        assert time.monotonic() - t0 < scaled(0.9)
    # an unknown user fails the same way
    with raw(postel, implicit=True, source=fresh_ip()) as c:
        assert c.cmd("USER nobody@example.org").startswith(b"+OK")
        assert c.cmd("PASS x").startswith(b"-ERR [AUTH]")


def worker_rss_kb(srv):
    total = []
    for pid in children_of(srv.pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total.append(int(line.split()[1]))
        except OSError:
            pass
    return max(total)


def test_big_message_streams_with_flat_memory(postel_factory):
    """RETR of a 200 MiB message (issue 3's size): the workers' RSS stays
    within 64 MiB of where it started, the bytes arrive intact, and RETR is
    not slower than a slow reader makes it."""
    srv = postel_factory(allow_plaintext_auth="yes")
    user, password = new_user(srv)
    deliver(srv, user)  # creates the maildrop
    # a Maildir file as the store writes it: LF line ends, S= and W= sizes
    block = b"".join(b"%07d .dot-line and some text to fill the line up to about 80\n" % i
                     for i in range(1000))
    block += b".\n..\n"
    head = b"From: <big@example.org>\nSubject: big\n\n"
    reps = (200 * 1024 * 1024) // len(block)
    wire_block = block.replace(b"\n", b"\r\n")
    sha = hashlib.sha256(head.replace(b"\n", b"\r\n"))
    file_size = len(head) + reps * len(block)
    size = len(head) + head.count(b"\n") + reps * len(wire_block)
    path = srv.maildir(user) / "new" / f"{int(time.time())}.M1P1.big,S={file_size},W={size}"
    tmp = srv.maildir(user) / "tmp" / path.name
    with open(tmp, "wb") as f:
        f.write(head)
        for _ in range(reps):
            f.write(block)
            sha.update(wire_block)
    os.rename(tmp, path)
    with raw(srv) as c:
        c.login(user, password)
        assert c.cmd("STAT").startswith(b"+OK 2 ")
        before = worker_rss_kb(srv)
        assert c.cmd("RETR 2") == f"+OK {size} octets".encode()
        got = hashlib.sha256()
        received, peak, pending = 0, before, c.buf
        c.buf = b""
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        deadline = time.monotonic() + scaled(300)
        tail = b""
        while time.monotonic() < deadline:
            data = pending or c.sock.recv(1 << 20)
            pending = b""
            assert data, "connection closed mid-message"
            # undo the dot-stuffing line by line (lines never split here
            # across chunks in a way that matters: keep the tail)
            data = tail + data
            cut = data.rfind(b"\r\n") + 2
            if cut < 2:
                tail = data
                continue
            tail = data[cut:]
            chunk = data[:cut]
            if chunk.endswith(b"\r\n.\r\n") or chunk == b".\r\n":
                chunk = chunk[:-3]
                done = True
            else:
                done = False
            lines = chunk.split(b"\r\n")
            chunk = b"\r\n".join(line[1:] if line.startswith(b".") else line
                                 for line in lines)
            got.update(chunk)
            received += len(chunk)
            if received // (8 << 20) != (received - len(chunk)) // (8 << 20):
                peak = max(peak, worker_rss_kb(srv))
                time.sleep(0.02)  # a slow reader: output must wait for it
            if done:
                break
        assert got.hexdigest() == sha.hexdigest()
        assert received == size
        assert peak - before < 64 * 1024, (before, peak)
        assert c.cmd("NOOP") == b"+OK"


def test_huge_maildrop_listing(postel):
    """LIST and UIDL of 30,000 messages (over 512 KiB of reply) are
    written as the client reads, not refused for their size."""
    user, password = new_user(postel)
    deliver(postel, user)
    new = postel.maildir(user) / "new"
    n = 30000
    for i in range(n):
        (new / f"1700000000.M{i:06d}P1.many,S=8,W=11").write_bytes(b"S: x\n\nb\n")
    with raw(postel, implicit=True) as c:
        c.login(user, password)
        assert c.cmd("STAT").startswith(f"+OK {n + 1} ".encode())
        assert c.cmd("UIDL").startswith(b"+OK")
        uidl = c.multi(timeout=60)
        assert len(uidl) == n + 1 and len(set(x.split()[1] for x in uidl)) == n + 1
        assert c.cmd("LIST").startswith(f"+OK {n + 1} messages".encode())
        listing = c.multi(timeout=60)
        assert listing[-1] == f"{n + 1} 11".encode()
        assert c.cmd("NOOP") == b"+OK"


def test_stalled_tls_handshakes_time_out(postel_factory):
    """TESTING.md item 21: clients that connect to 995 and never finish
    the handshake (or stall after STLS) are dropped after
    tls_handshake_timeout; others are served meanwhile."""
    srv = postel_factory(tls_handshake_timeout="1")
    user, password = new_user(srv)
    stalled = stalled_connections(srv.pop3s_port, 5)
    after_stls = raw(srv)
    assert after_stls.cmd("STLS").startswith(b"+OK")
    p = login(srv, user, password, implicit=True)
    assert p.stat() == (0, 0)
    p.quit()
    assert_all_dropped(stalled + [after_stls.sock])


def test_sigterm_deletes_nothing(postel_factory):
    srv = postel_factory()
    user, password = new_user(srv)
    tok, _ = deliver(srv, user)
    c = raw(srv, implicit=True)
    c.login(user, password)
    assert c.cmd("DELE 1").startswith(b"+OK")
    problems = srv.stop()
    assert not problems, problems
    data = c.read_until_eof(10)
    assert data.startswith(b"-ERR [SYS/TEMP]"), data
    c.close()
    assert srv.find(user, tok)
    srv.start()
