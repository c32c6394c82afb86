"""IMAP NOTIFY (RFC 5465, issue 12 item 7): a session that watches several
mailboxes gets STATUS for deliveries elsewhere, FETCH/EXISTS for its
selected mailbox, LIST for mailbox and subscription changes, all made by
sessions in other workers; NOTIFY NONE stops it; bad arguments get BAD or
NO [BADEVENT]; a client that stops reading gets NOTIFICATIONOVERFLOW with
bounded memory."""
import imaplib
import re
import smtplib
import socket
import time

import pytest

from conftest import BOB, make_message, scaled, token
from imap_helpers import IMAPRaw, fresh_ip, login, new_user, status_of
from test_imap_append_idle import append_raw, in_other_worker, msg_for, pid_of_ip

FOLDERS = [b"INBOX", b"Drafts", b"Sent", b"Junk", b"Trash", b"Archive"]


def notify_session(srv, user, pw):
    """A logged-in raw session and the pid of its worker."""
    ip = fresh_ip()
    c = IMAPRaw(srv.imaps_port, tls=True, source=ip)
    c.login(user, pw)
    return c, pid_of_ip(srv, ip, "imaps")


def other_session(srv, user, pw, pid):
    def make(ip):
        c = IMAPRaw(srv.imaps_port, tls=True, source=ip)
        c.login(user, pw)
        return c
    return in_other_worker(srv, make, "imaps", pid)


def deliver_elsewhere(srv, user, pid):
    """One message over SMTP, from a worker other than pid's."""
    smtp = in_other_worker(srv, lambda ip: smtplib.SMTP(
        "127.0.0.1", srv.smtp_port, timeout=scaled(10), source_address=(ip, 0)),
        "smtp", pid)
    smtp.sendmail(BOB, [user], make_message(token(), sender=BOB, to=user))
    smtp.quit()


def ok(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "OK", (text, tagged, untagged)
    return untagged


def wait_line(c, pattern, limit):
    """The next unsolicited line, which must match pattern within limit s."""
    start = time.monotonic()
    line = c.read_line(timeout=scaled(limit) + 1)
    elapsed = time.monotonic() - start
    assert re.match(pattern, line), line
    assert elapsed < scaled(limit), elapsed
    return line


def no_line(c, wait=1.0):
    """Nothing unsolicited arrives for wait seconds."""
    c.sock.settimeout(scaled(wait))
    try:
        data = c.buf or c.sock.recv(4096)
    except (socket.timeout, TimeoutError):
        data = b""
    assert data == b"", data


def test_capability_and_bad_arguments(postel):
    user, pw = new_user(postel)
    imaplib.Commands.setdefault("NOTIFY", ("AUTH", "SELECTED"))
    c = login(postel, user, pw)
    try:
        # after login: the greeting lists only what logging in needs
        assert b"NOTIFY" in c.capability()[1][0].split()
        for args in [("SET",), ("SET", "(nosuch", "NONE)"), ("GET", "(selected", "NONE)"),
                     ("SET", "(selected", "(MessageNew))"),            # 5.1: pair
                     ("SET", "(personal", "(MessageNew", "(uid)", "MessageExpunge))"),
                     ("SET", "(selected", "NONE)", "(selected-delayed", "NONE)")]:
            with pytest.raises(imaplib.IMAP4.error) as e:
                c._simple_command("NOTIFY", *args)
            assert "BAD" in str(e.value) or "NOTIFY command error" in str(e.value), args
        typ, data = c._simple_command("NOTIFY", "SET", "(personal", "(MailboxMetadataChange))")
        assert typ == "NO", (typ, data)
        typ, _ = c._simple_command("NOTIFY", "NONE")
        assert typ == "OK"
    finally:
        c.logout()
    # the response code, byte-exact
    with IMAPRaw(postel.imaps_port, tls=True) as r:
        r.login(user, pw)
        tagged, _ = r.command("NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))")
        assert tagged.split(b" ", 1)[1].startswith(
            b"NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName "
            b"SubscriptionChange)]"), tagged
        tagged, _ = r.command("NOTIFY SET (mailboxes (" + " ".join(
            f"m{i}" for i in range(101)) + ") NONE)")
        assert tagged.split()[1:3] == [b"NO", b"[LIMIT]"], tagged
        tagged, _ = r.command('NOTIFY SET (mailboxes "a/../b" NONE)')
        assert status_of(tagged) == "BAD", tagged


def test_set_status_then_smtp_delivery_gives_status(postel):
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        untagged = ok(c, "NOTIFY SET STATUS (personal (MessageNew MessageExpunge))")
        names = [re.match(rb'\* STATUS "?([^" ]+)"? \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ '
                          rb'UNSEEN 0\)\r\n$', line)[1] for line in untagged]
        assert sorted(names) == sorted(FOLDERS), untagged
        deliver_elsewhere(postel, user, pid)
        wait_line(c, rb'\* STATUS "?INBOX"? \(MESSAGES 1 UIDNEXT 2\)\r\n$', 1.0)
        # NOTIFY NONE stops it
        assert ok(c, "NOTIFY NONE") == []
        deliver_elsewhere(postel, user, pid)
        no_line(c, 1.5)
        assert ok(c, "NOOP") == []


def test_filters_pick_mailboxes(postel):
    """INBOXES takes INBOX only; a NONE group before PERSONAL excludes."""
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "NOTIFY SET (mailboxes Trash NONE) (personal (MessageNew MessageExpunge "
              "FlagChange))")
        other = other_session(postel, user, pw, pid)
        with other:
            append_raw(other, "Trash", msg_for(token()))
            append_raw(other, "Sent", msg_for(token()))
            wait_line(c, rb'\* STATUS "?Sent"? \(MESSAGES 1 UIDNEXT 2 UNSEEN 1\)\r\n$', 1.0)
            no_line(c, 0.5)


def test_flag_change_in_selected_mailbox_gives_fetch(postel):
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        append_raw(c, "INBOX", msg_for(token()))
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) "
              "(personal (MessageNew MessageExpunge))")
        other = other_session(postel, user, pw, pid)
        with other:
            ok(other, "SELECT INBOX")
            ok(other, "STORE 1 +FLAGS (\\Flagged)")
            # no command running: the FETCH comes unsolicited
            line = wait_line(c, rb"\* 1 FETCH \(FLAGS \(", 1.0)
            assert b"\\Flagged" in line
            append_raw(other, "INBOX", msg_for(token()))
            wait_line(c, rb"\* 2 EXISTS\r\n$", 1.0)
            wait_line(c, rb"\* \d+ RECENT\r\n$", 1.0)  # rev1
            ok(other, "STORE 1 +FLAGS (\\Deleted)")
            c.read_line(timeout=scaled(2))
            ok(other, "EXPUNGE")
            # RFC 5465 5.2: SELECTED may send EXPUNGE between commands
            wait_line(c, rb"\* 1 EXPUNGE\r\n$", 1.0)
            # Sent is not selected: a STATUS
            append_raw(other, "Sent", msg_for(token()))
            wait_line(c, rb'\* STATUS "?Sent"? \(MESSAGES 1 UIDNEXT 2\)\r\n$', 1.0)
        assert ok(c, "NOOP") == []


def test_mailbox_and_subscription_changes_give_list(postel):
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "NOTIFY SET (personal (MailboxName SubscriptionChange))")
        other = other_session(postel, user, pw, pid)
        with other:
            ok(other, "CREATE Work")
            wait_line(c, rb'\* LIST \(\) "/" "Work"\r\n$', 1.0)
            ok(other, "CREATE Work/Sub")
            wait_line(c, rb'\* LIST \(\) "/" "Work/Sub"\r\n$', 1.0)
            ok(other, "RENAME Work Play")
            wait_line(c, rb'\* LIST \(\) "/" "Play" \("OLDNAME" \("Work"\)\)\r\n$', 1.0)
            wait_line(c, rb'\* LIST \(\) "/" "Play/Sub" \("OLDNAME" \("Work/Sub"\)\)\r\n$', 1.0)
            ok(other, "SUBSCRIBE Play")
            wait_line(c, rb'\* LIST \(\\Subscribed\) "/" "Play"\r\n$', 1.0)
            ok(other, "UNSUBSCRIBE Play")
            wait_line(c, rb'\* LIST \(\) "/" "Play"\r\n$', 1.0)
            ok(other, "DELETE Play/Sub")
            wait_line(c, rb'\* LIST \(\\NonExistent\) "/" "Play/Sub"\r\n$', 1.0)
        # the same session's own CREATE is told too, after its OK
        tagged, untagged = c.command("CREATE Mine")
        assert status_of(tagged) == "OK"
        wait_line(c, rb'\* LIST \(\) "/" "Mine"\r\n$', 1.0)
        ok(c, "NOTIFY NONE")
        with other_session(postel, user, pw, pid) as other:
            ok(other, "CREATE Quiet")
        no_line(c, 1.0)


def test_client_that_stops_reading_gets_overflow(postel):
    """RFC 5465 5.8: the client does not read while renames pile LIST
    responses up; the server says NOTIFICATIONOVERFLOW and stops NOTIFY
    instead of buffering without limit or cutting the connection."""
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        other = other_session(postel, user, pw, pid)
        with other:
            ok(other, "CREATE P")
            long = "x" * 200
            for i in range(80):
                ok(other, f"CREATE P/{long}{i}")
            ok(c, "NOTIFY SET (personal (MailboxName))")
            # c reads nothing from here on
            names = ["P", "Q", "R"]
            deadline = time.monotonic() + scaled(60)
            overflow = False
            for i in range(400):
                ok(other, f"RENAME {names[i % 3]} {names[(i + 1) % 3]}")
                if i % 10 == 9 and "event=notify_overflow" in postel.log():
                    overflow = True
                    break
                if time.monotonic() > deadline:
                    break
            assert overflow, "no overflow after the renames"
            assert "event=output_overflow" not in postel.log()
            seen = False
            for _ in range(100000):
                line = c.read_line(timeout=scaled(10))
                if b"[NOTIFICATIONOVERFLOW]" in line:
                    assert line.startswith(b"* OK [NOTIFICATIONOVERFLOW]"), line
                    seen = True
                    break
                assert line.startswith(b"* LIST "), line
            assert seen
            # NOTIFY is off now: nothing more comes; the session works
            ok(other, "CREATE After")
            no_line(c, 1.0)
            assert ok(c, "NOOP") == []


def test_status_arrives_during_idle(postel):
    """NOTIFY and IDLE together (RFC 5465 3): the STATUS of another mailbox
    comes while IDLE waits, the selected mailbox's EXISTS too, and DONE
    still ends IDLE."""
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (selected (MessageNew MessageExpunge)) "
              "(personal (MessageNew MessageExpunge))")
        tag = c.tag()
        c.send(f"{tag} IDLE\r\n".encode())
        assert c.read_line() == b"+ idling\r\n"
        other = other_session(postel, user, pw, pid)
        with other:
            append_raw(other, "Archive", msg_for(token()))
            wait_line(c, rb'\* STATUS "?Archive"? \(MESSAGES 1 UIDNEXT 2\)\r\n$', 1.0)
            append_raw(other, "INBOX", msg_for(token()))
            wait_line(c, rb"\* 1 EXISTS\r\n$", 1.0)
            wait_line(c, rb"\* \d+ RECENT\r\n$", 1.0)
            append_raw(other, "Junk", msg_for(token()))
            wait_line(c, rb'\* STATUS "?Junk"? \(MESSAGES 1 UIDNEXT 2\)\r\n$', 1.0)
        c.send(b"DONE\r\n")
        tagged, untagged = c.read_tagged(tag)
        assert status_of(tagged) == "OK" and untagged == [], (tagged, untagged)
        assert ok(c, "NOOP") == []


def test_selected_delayed_waits_for_a_command(postel):
    """RFC 5465 5.2: SELECTED-DELAYED sends no EXPUNGE unsolicited; the
    next command that may report it (NOOP) does; other mailboxes still
    get their STATUS at once."""
    user, pw = new_user(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        append_raw(c, "INBOX", msg_for(token()))
        ok(c, "SELECT INBOX")
        ok(c, "NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) "
              "(personal (MessageNew MessageExpunge))")
        other = other_session(postel, user, pw, pid)
        with other:
            ok(other, "SELECT INBOX")
            ok(other, "STORE 1 +FLAGS (\\Deleted)")
            ok(other, "EXPUNGE")
            no_line(c, 1.0)
            assert ok(c, "NOOP") == [b"* 1 EXPUNGE\r\n"]
            append_raw(other, "Drafts", msg_for(token()))
            wait_line(c, rb'\* STATUS "?Drafts"? \(MESSAGES 1 UIDNEXT 2\)\r\n$', 1.0)
