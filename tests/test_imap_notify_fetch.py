"""IMAP NOTIFY gaps (issue 12 item 7, second part): MessageNew's fetch
attributes are sent with the new messages (RFC 5465 5.2); with CONDSTORE
on, the STATUS for other mailboxes carries HIGHESTMODSEQ and FlagChange
FETCHes carry MODSEQ (RFC 5465 5.1, RFC 7162 3.1.6 / 3.2)."""
import re
import time

from conftest import scaled, token
from imap_helpers import new_user, status_of
from test_imap_append_idle import append_raw, msg_for
from test_imap_notify import notify_session, ok, other_session, wait_line


def test_message_new_fetch_attributes_follow_exists(postel):
    user, pw = new_user_pw(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (selected (MessageNew (UID RFC822.SIZE "
              "BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge))")
        other = other_session(postel, user, pw, pid)
        with other:
            subject = token()
            append_raw(other, "INBOX", msg_for(subject))
            wait_line(c, rb"\* 1 EXISTS\r\n$", 1.0)
            wait_line(c, rb"\* \d+ RECENT\r\n$", 1.0)  # rev1
            line = wait_line(c, rb"\* 1 FETCH \(UID 1 RFC822.SIZE \d+ "
                                rb"BODY\[HEADER.FIELDS \(Subject\)\] \{\d+\}\r\n$", 1.0)
            size = int(re.search(rb"\{(\d+)\}", line)[1])
            body = read_exact(c, size)
            assert subject.encode() in body, body
            assert c.read_line(timeout=scaled(2)) == b")\r\n"
            # two more at once: one FETCH each, in order, UID first
            append_raw(other, "INBOX", msg_for(token()))
            append_raw(other, "INBOX", msg_for(token()))
            seen = []
            for _ in range(20):
                line = c.read_line(timeout=scaled(3))
                if b" FETCH " in line:
                    seen.append(re.match(rb"\* (\d+) FETCH \(UID (\d+) ", line).groups())
                    size = int(re.search(rb"\{(\d+)\}", line)[1])
                    read_exact(c, size)
                    assert c.read_line(timeout=scaled(2)) == b")\r\n"
                if len(seen) == 2 and seen[-1] == (b"3", b"3"):
                    break
            assert seen[-1] == (b"3", b"3"), seen
        # PEEK: nothing was marked \Seen; the session still answers in order
        untagged = ok(c, "FETCH 1:3 (FLAGS)")
        assert all(b"\\Seen" not in u for u in untagged), untagged


def test_message_new_fetch_during_idle(postel):
    """NOTIFY and IDLE (RFC 5465 4): IDLE's EXISTS is followed by the
    MessageNew FETCH too, and DONE still ends IDLE."""
    user, pw = new_user_pw(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (selected (MessageNew (RFC822.SIZE) MessageExpunge))")
        tag = c.tag()
        c.send(f"{tag} IDLE\r\n".encode())
        assert c.read_line() == b"+ idling\r\n"
        with other_session(postel, user, pw, pid) as other:
            append_raw(other, "INBOX", msg_for(token()))
            wait_line(c, rb"\* 1 EXISTS\r\n$", 1.0)
            wait_line(c, rb"\* \d+ RECENT\r\n$", 1.0)
            wait_line(c, rb"\* 1 FETCH \(UID 1 RFC822.SIZE \d+\)\r\n$", 1.0)
        c.send(b"DONE\r\n")
        tagged, untagged = c.read_tagged(tag)
        assert status_of(tagged) == "OK" and untagged == [], (tagged, untagged)
        assert ok(c, "NOOP") == []


def test_condstore_status_has_highestmodseq_and_fetch_has_modseq(postel):
    user, pw = new_user_pw(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        append_raw(c, "INBOX", msg_for(token()))
        ok(c, "ENABLE CONDSTORE")
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) "
              "(personal (MessageNew MessageExpunge FlagChange))")
        other = other_session(postel, user, pw, pid)
        with other:
            append_raw(other, "Sent", msg_for(token()))
            wait_line(c, rb'\* STATUS "?Sent"? \(MESSAGES 1 UIDNEXT 2 UNSEEN 1 '
                         rb'HIGHESTMODSEQ \d+\)\r\n$', 1.0)
            ok(other, "SELECT INBOX")
            ok(other, "STORE 1 +FLAGS (\\Flagged)")
            line = wait_line(c, rb"\* 1 FETCH \(FLAGS \([^)]*\) UID 1 MODSEQ \(\d+\)\)\r\n$",
                             1.0)
            assert b"\\Flagged" in line
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK"


def new_user_pw(postel):
    return new_user(postel)


def read_exact(c, size):
    """size octets of a literal, within a bounded time"""
    deadline = time.monotonic() + scaled(3)
    while len(c.buf) < size:
        assert time.monotonic() < deadline, c.buf[:200]
        data = c._recv(max(0.1, deadline - time.monotonic()))
        assert data != b"", "EOF in a literal"
        c.buf += data or b""
    out, c.buf = c.buf[:size], c.buf[size:]
    return out
