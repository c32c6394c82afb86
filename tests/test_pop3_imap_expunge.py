"""A message expunged over IMAP is gone for POP3 too (issue 9): a new
POP3 session's STAT, LIST and UIDL leave it out, and a POP3 session that
listed it before the expunge gets a clear single-line -ERR for RETR/TOP
of it (RFC 1939 7: "-ERR" for a message that cannot be given; Postel
says "-ERR [SYS/TEMP] Message N is no longer available", RFC 3206),
keeps serving its other messages byte for byte, and its DELE/QUIT of the
others still works (RFC 1939 6)."""
from conftest import scaled
from imap_helpers import IMAPRaw, status_of
from pop3_helpers import deliver, new_user, raw


def pop3_session(srv, user, pw):
    c = raw(srv, implicit=True)
    c.login(user, pw)
    return c


def uidl(c):
    r = c.cmd("UIDL")
    assert r.startswith(b"+OK"), r
    return [line.split()[1] for line in c.multi()]


def retr(c, num):
    r = c.cmd(f"RETR {num}", timeout=scaled(10))
    if not r.startswith(b"+OK"):
        return r, None
    return r, b"".join((line[1:] if line.startswith(b"..") else line) + b"\r\n"
                       for line in c.multi(timeout=scaled(10)))


def imap_expunge(srv, user, pw, seq):
    with IMAPRaw(srv.imaps_port, tls=True) as c:
        c.login(user, pw)
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command(f"STORE {seq} +FLAGS.SILENT (\\Deleted)")
        assert status_of(tagged) == "OK", tagged
        tagged, untagged = c.command("EXPUNGE")
        assert status_of(tagged) == "OK", tagged
        assert any(line.rstrip() == f"* {seq} EXPUNGE".encode() for line in untagged), untagged


def test_new_pop3_session_does_not_see_it(postel):
    user, pw = new_user(postel)
    stored = [deliver(postel, user)[1] for _ in range(3)]
    with pop3_session(postel, user, pw) as c:
        before = uidl(c)
        assert len(before) == 3
        assert c.cmd("QUIT").startswith(b"+OK")
    imap_expunge(postel, user, pw, 2)
    with pop3_session(postel, user, pw) as c:
        st = c.cmd("STAT")
        assert st.startswith(b"+OK 2 "), st
        assert uidl(c) == [before[0], before[2]]
        r = c.cmd("LIST")
        assert r.startswith(b"+OK"), r
        assert len(c.multi()) == 2
        assert retr(c, 2)[1] == stored[2]
        r = c.cmd("RETR 3")
        assert r.startswith(b"-ERR"), r
        assert c.cmd("QUIT").startswith(b"+OK")


def test_open_pop3_session_gets_err_for_it(postel):
    user, pw = new_user(postel)
    stored = [deliver(postel, user)[1] for _ in range(3)]
    with pop3_session(postel, user, pw) as c:
        st = c.cmd("STAT")
        assert st.startswith(b"+OK 3 "), st
        before = uidl(c)
        imap_expunge(postel, user, pw, 2)
        # the expunged one: one line, no data, the session goes on
        r, data = retr(c, 2)
        assert r == b"-ERR [SYS/TEMP] Message 2 is no longer available", r
        r = c.cmd("TOP 2 0", timeout=scaled(10))
        assert r == b"-ERR [SYS/TEMP] Message 2 is no longer available", r
        assert c.cmd("NOOP").startswith(b"+OK")
        # the others still come whole, under their numbers of this session
        assert retr(c, 1)[1] == stored[0]
        assert retr(c, 3)[1] == stored[2]
        assert uidl(c) == before     # RFC 1939 7: numbers and UIDs hold
        assert c.cmd("DELE 3").startswith(b"+OK")
        assert c.cmd("QUIT").startswith(b"+OK")
    with pop3_session(postel, user, pw) as c:
        assert uidl(c) == [before[0]]
        assert retr(c, 1)[1] == stored[0]
        assert c.cmd("QUIT").startswith(b"+OK")
