"""IMAP NOTIFY SELECTED-DELAYED (RFC 5465 6, issue 12 item 7): new
messages are reported between commands (EXISTS, then MessageNew's FETCH,
5.2) while another session's expunge waits for a command that may report
it (NOOP); the new message's sequence number counts the message whose
expunge is pending, and the EXPUNGE that NOOP then sends has the right
number (checked against UIDs with UID FETCH)."""
import re

from imap_helpers import new_user
from test_imap_append_idle import append_raw, msg_for
from test_imap_notify import (deliver_elsewhere, no_line, notify_session, ok,
                              other_session, wait_line)
from conftest import token


def uid_map(c, pending=False):
    """{seq: uid} of the selected mailbox, read with UID FETCH; pending:
    a message whose expunge is not reported yet answers NO
    [EXPUNGEISSUED] (RFC 9051 7.1) and is left out"""
    tagged, untagged = c.command("UID FETCH 1:* (UID)")
    want = b"NO [EXPUNGEISSUED]" if pending else b"OK"
    assert tagged.split(b" ", 1)[1].startswith(want), (tagged, untagged)
    out = {}
    for line in untagged:
        m = re.match(rb"\* (\d+) FETCH \(UID (\d+)\)\r\n$", line)
        assert m, line
        out[int(m[1])] = int(m[2])
    return out


def delayed_session(postel, events):
    """A user with two messages in INBOX, a session that selected it and
    set NOTIFY (SELECTED-DELAYED (events)): user, pw, session, its pid."""
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    append_raw(c, "INBOX", msg_for(token()))
    append_raw(c, "INBOX", msg_for(token()))
    ok(c, "SELECT INBOX")
    ok(c, f"NOTIFY SET (SELECTED-DELAYED ({events}))")
    return user, pw, c, pid


def expunge_first_held(c, other):
    """other expunges message 1: c gets its \\Deleted at once (FlagChange),
    its EXPUNGE waits"""
    ok(other, "STORE 1 +FLAGS (\\Deleted)")
    line = wait_line(c, rb"\* 1 FETCH \(FLAGS \(", 1.0)
    assert b"\\Deleted" in line
    ok(other, "EXPUNGE")
    no_line(c, 1.0)


def test_new_message_at_once_expunge_at_noop(postel):
    user, pw, c, pid = delayed_session(
        postel, "MessageNew (UID FLAGS) MessageExpunge FlagChange")
    with c:
        with other_session(postel, user, pw, pid) as other:
            ok(other, "SELECT INBOX")
            expunge_first_held(c, other)
            deliver_elsewhere(postel, user, pid)
            # uid 3 is message 3: message 1 (uid 1) is still there for c
            wait_line(c, rb"\* 3 EXISTS\r\n$", 1.0)
            wait_line(c, rb"\* \d+ RECENT\r\n$", 1.0)  # rev1
            wait_line(c, rb"\* 3 FETCH \(UID 3 FLAGS \([^)]*\)\)\r\n$", 1.0)
            no_line(c, 0.5)
            # a second delivery: 4, the expunge still waiting
            deliver_elsewhere(postel, user, pid)
            wait_line(c, rb"\* 4 EXISTS\r\n$", 1.0)
            wait_line(c, rb"\* \d+ RECENT\r\n$", 1.0)
            wait_line(c, rb"\* 4 FETCH \(UID 4 FLAGS \([^)]*\)\)\r\n$", 1.0)
            assert uid_map(c, pending=True) == {2: 2, 3: 3, 4: 4}
            untagged = ok(c, "NOOP")
            # the new messages' flags were told with them: not again
            assert untagged == [b"* 1 EXPUNGE\r\n"], untagged
            assert uid_map(c) == {1: 2, 2: 3, 3: 4}
        assert ok(c, "NOOP") == []


def test_message_new_without_fetch_attributes_gives_exists(postel):
    """MessageNew alone (no FlagChange, no fetch attributes): EXISTS at
    once, no FETCH; IMAP4rev2 sends no RECENT."""
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "ENABLE IMAP4rev2")
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge))")
        deliver_elsewhere(postel, user, pid)
        wait_line(c, rb"\* 1 EXISTS\r\n$", 1.0)
        no_line(c, 0.5)
        assert ok(c, "NOOP") == []
        assert uid_map(c) == {1: 1}


def test_selected_delayed_sends_flag_changes_at_once(postel):
    """RFC 5465 5.1-5.3: under SELECTED-DELAYED a flag change comes at
    once, an expunge waits for a command that may report it (NOOP)."""
    user, pw, c, pid = delayed_session(postel, "MessageNew MessageExpunge FlagChange")
    with c:
        with other_session(postel, user, pw, pid) as other:
            ok(other, "SELECT INBOX")
            ok(other, "STORE 2 +FLAGS (\\Flagged)")
            line = wait_line(c, rb"\* 2 FETCH \(FLAGS \(", 1.0)
            assert b"\\Flagged" in line
            expunge_first_held(c, other)
            # the message that was 2 is still 2 for this client
            ok(other, "STORE 1 +FLAGS (\\Seen)")
            line = wait_line(c, rb"\* 2 FETCH \(FLAGS \(", 1.0)
            assert b"\\Seen" in line
            untagged = ok(c, "NOOP")
            assert b"* 1 EXPUNGE\r\n" in untagged, untagged
        assert ok(c, "NOOP") == []
