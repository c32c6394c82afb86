"""Bad input on the IMAP ports (issue 9 item 13, TESTING.md items 1, 9,
11-13, 18, 20, 21, 23): clear BAD/NO replies, no "+" for literals that
are too big, BYE past the limits, bounded memory, and pipelined
plaintext discarded after STARTTLS."""
import socket
import time

from conftest import (ALICE, USERS, assert_all_dropped, b64, client_tls_context,
                      scaled, stalled_connections)
from imap_helpers import IMAPRaw, fresh_ip, new_user, status_of


def test_starttls_discards_pipelined_plaintext(postel):
    """TESTING.md item 1: `a STARTTLS\\r\\nb NOOP\\r\\n` in one write: only
    the handshake follows the OK; "b NOOP" is never answered."""
    with IMAPRaw(postel.imap_port) as c:
        c.send(b"a STARTTLS\r\nb NOOP\r\n")
        assert c.read_line().startswith(b"a OK")
        assert c.buf == b""
        c.sock = client_tls_context().wrap_socket(c.sock)
        tagged, untagged = c.command("NOOP")
        assert status_of(tagged) == "OK" and untagged == []
        c.send(b"c NOOP\r\n")
        assert c.read_line().startswith(b"c OK")
        assert c.read_available(0.3) == b""


def test_http_request_dropped(postel):
    """TESTING.md item 9: nothing echoed, the connection closed."""
    with IMAPRaw(postel.imap_port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_until_eof(5) == b""


def test_huge_literals_refused_without_continuation(postel):
    """TESTING.md item 11."""
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        for size in (b"4294967295", b"18446744073709551616", b"99999999999999999999999"):
            c.send(b"a1 LOGIN {" + size + b"}\r\n")
            line = c.read_line()
            assert line.startswith(b"a1 BAD"), line
        c.login(user, pw)
        # after login the cap is the command size (64 KiB), still no "+"
        c.send(b'a2 SELECT {70000}\r\n')
        assert c.read_line().startswith(b"a2 BAD [TOOBIG]")
        # a small one is fine
        c.send(b"a3 SELECT {5}\r\n")
        assert c.read_line().startswith(b"+ ")
        c.send(b"INBOX\r\n")
        tagged, _ = c.read_tagged("a3")
        assert status_of(tagged) == "OK"
        # {n+} within LITERAL-'s 4096: no "+" to wait for
        c.send(b"a4 SELECT {5+}\r\nINBOX\r\n")
        tagged, _ = c.read_tagged("a4")
        assert status_of(tagged) == "OK"


def test_deep_nesting_and_nul(postel):
    """TESTING.md item 12."""
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.send(b"a1 ID " + b"(" * 5000 + b"\r\n")
        assert c.read_line().startswith(b"a1 BAD")
        c.send(b'a2 ID ("name" "x\x00y")\r\n')
        assert c.read_line().startswith(b"a2 BAD")
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK"


def test_mailbox_names_outside_the_store(postel):
    """TESTING.md item 13: NO, and no access outside the user's store."""
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        for name in ('"../../etc"', '"/etc"', '"~root"', '"a//b"', '"INBOX/../.."',
                     '"&Jjo"', '"&AGE-"', '"."', '".."'):
            tagged, _ = c.command(f"SELECT {name}")
            assert status_of(tagged) == "NO", (name, tagged)
            tagged, _ = c.command(f"EXAMINE {name}")
            assert status_of(tagged) == "NO", (name, tagged)


def test_auth_garbage(postel):
    """TESTING.md item 18: clean refusals, fresh state after each."""
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True, source=fresh_ip()) as c:
        tagged, _ = c.command("AUTHENTICATE PLAIN !!notbase64")
        assert status_of(tagged) == "BAD"
        for blob in (b64("no-nuls-here"), b64("a\0b\0c\0d"), b64(b"\0\xff\xfe\0pw"), "="):
            tagged, _ = c.command(f"AUTHENTICATE PLAIN {blob}", timeout=30)
            assert status_of(tagged) == "NO", (blob, tagged)
        c.send(b"a9 AUTHENTICATE PLAIN " + b"A" * 70000 + b"\r\n")
        assert c.read_line().startswith(b"a9 BAD Line too long")
        tag = c.tag()
        c.send(f"{tag} AUTHENTICATE LOGIN\r\n")
        assert c.read_line().startswith(b"+ ")
        c.send(b"%%%\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "BAD"
        good = b64(b"\0" + user.encode() + b"\0" + pw.encode())
        tagged, _ = c.command(f"AUTHENTICATE PLAIN {good}", timeout=30)
        assert status_of(tagged) == "OK", tagged


def test_login_timeout_and_slowloris(postel_factory):
    """TESTING.md item 21: a client that never logs in is sent away after
    login_timeout; a stalled TLS handshake after tls_handshake_timeout;
    others are served meanwhile."""
    srv = postel_factory(login_timeout="2", tls_handshake_timeout="1")
    stalled = stalled_connections(srv.imaps_port, 3)
    idle = IMAPRaw(srv.imap_port)
    with IMAPRaw(srv.imaps_port, tls=True) as c:
        c.login(ALICE, USERS[ALICE])
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "OK"
    data = idle.read_until_eof(scaled(10))
    assert data.startswith(b"* BYE"), data
    idle.close()
    assert_all_dropped(stalled)


def test_client_that_never_reads_is_dropped(postel_factory):
    """TESTING.md item 23: replies pile up to the output cap, then the
    connection goes; the server keeps serving."""
    srv = postel_factory(max_bad_commands="4294967295")
    c = IMAPRaw(srv.imap_port)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    chunk = b"x CAPABILITY\r\n" * 4096
    sent = 0
    deadline = time.monotonic() + scaled(30)
    c.sock.settimeout(1)
    closed = False
    while time.monotonic() < deadline and sent < 200 * len(chunk):
        try:
            c.sock.sendall(chunk)
            sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        except socket.timeout:
            break
    # the replies overflowed the output cap: dropped, and logged so
    assert srv.wait_for_log(r"service=imap reason=output_overflow", timeout=scaled(20)), \
        (closed, srv.log_tail())
    c.close()
    with IMAPRaw(srv.imaps_port, tls=True) as d:
        tagged, _ = d.command("NOOP")
        assert status_of(tagged) == "OK"


def test_long_lines_get_a_tagged_bad(postel):
    """RFC 9051 7.1.5: a line past the limit is refused with its own tag
    (a client waiting for that tag must not hang); the limit is 8,192
    octets before login and 32 KiB after it (RFC 7162 4: a QRESYNC SELECT
    with its known UIDs may be long)."""
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True, source=fresh_ip()) as c:
        c.send(b"p1 LOGIN " + b"x" * 9000 + b" y\r\n")
        assert c.read_line().startswith(b"p1 BAD Line too long"), "pre-login"
        c.login(user, pw)
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "OK"
        # 20,000 octets of UID set: taken after login
        uids = ",".join(str(n) for n in range(1, 20000, 2))[:20000].rstrip(",")
        tag = c.tag()
        c.send(f"{tag} UID FETCH {uids} (FLAGS)\r\n".encode())
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK", tagged
        # past 32 KiB: a tagged BAD, and the session goes on
        tag = c.tag()
        c.send(f"{tag} UID FETCH 1{',1' * 20000} (FLAGS)\r\n".encode())
        assert c.read_line().startswith(f"{tag} BAD Line too long".encode())
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK", tagged
