"""IMAP4rev2 (RFC 9051) beside IMAP4rev1 (RFC 3501), issue 9 item 8:
ENABLE IMAP4rev2 (6.3.1) switches a session to rev2's response rules: no
\\Recent anywhere (SELECT, untagged EXISTS, FETCH FLAGS, STATUS and SEARCH
RECENT/NEW/OLD are BAD), SELECT answers per 6.3.2 (LIST, no RECENT or
[UNSEEN]; [CLOSED] when it replaces a selection), ESEARCH replies, LSUB and
CHECK gone, UTF-8 mailbox names both ways. Sessions that do not enable it
keep rev1's rules exactly.

IMAP4rev2 is always advertised (src/imap/imap_rev2.c: every extension it
folds in is served), so no test here skips."""
import re


from conftest import BOB, make_message, scaled, token
from imap_helpers import IMAPRaw, deliver, new_user, status_of
from test_imap_append_idle import append_raw
from test_imap_mailbox import ok, session

def bad(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "BAD", (text, tagged, untagged)
    return untagged


def rev2_advertised(c):
    caps = ok(c, "CAPABILITY")[0].split()[2:]
    return b"IMAP4rev2" in caps


def rev2_session(postel):
    """A logged-in session with IMAP4rev2 enabled."""
    c, user, pw = session(postel)
    assert rev2_advertised(c)
    # RFC 9051 6.3.1 example
    assert ok(c, "ENABLE IMAP4rev2") == [b"* ENABLED IMAP4rev2"]
    return c, user, pw


def test_enable_without_rev2_keeps_rev1(postel):
    """rev2 is advertised, yet a session that does not enable it gets
    rev1's answers, byte for byte the same as before."""
    user, pw = new_user(postel)
    deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        assert rev2_advertised(c)
        # RFC 5161 3.1: unknown capabilities are ignored, the list is empty
        assert ok(c, "ENABLE X-NOTHING X-UNSERVED") == [b"* ENABLED"]
        untagged = ok(c, "STATUS INBOX (RECENT MESSAGES)")
        assert untagged == [b'* STATUS "INBOX" (MESSAGES 1 RECENT 1)']
        untagged = ok(c, "SELECT INBOX")
        assert b"* 1 RECENT" in untagged
        assert b"* OK [UNSEEN 1] First unseen" in untagged
        assert not [x for x in untagged if x.startswith(b"* LIST")]
        assert ok(c, "SEARCH RECENT") == [b"* SEARCH 1"]
        ok(c, "SUBSCRIBE INBOX")
        assert ok(c, 'LSUB "" "*"') == [b'* LSUB () "/" "INBOX"']
        ok(c, "CHECK")
        untagged = ok(c, "STORE 1 +FLAGS (\\Flagged)")
        assert untagged == [b"* 1 FETCH (FLAGS (\\Flagged \\Recent))"]


def test_enable_rev2(postel):
    c, user, pw = rev2_session(postel)
    with c:
        # RFC 5161 3.2: only what this command newly enabled
        assert ok(c, "ENABLE IMAP4rev2") == [b"* ENABLED"]
        assert ok(c, "ENABLE imap4REV2 X-FOO") == [b"* ENABLED"]
        ok(c, "SELECT INBOX")
        # RFC 9051 6.3.1: ENABLE is valid in the authenticated state only
        bad(c, "ENABLE IMAP4rev2")


def test_select_rev2_response(postel):
    """RFC 9051 6.3.2: FLAGS, EXISTS, LIST (accurate attributes); OK
    PERMANENTFLAGS, UIDVALIDITY, UIDNEXT; no RECENT and no [UNSEEN]."""
    c, user, pw = rev2_session(postel)
    deliver(postel, user)
    deliver(postel, user)
    with c:
        # INBOX in any case is INBOX (RFC 9051 5.1): LIST gives its name
        untagged = ok(c, "SELECT inbox")
        assert b"* 2 EXISTS" in untagged
        assert not [x for x in untagged if b"RECENT" in x or b"UNSEEN" in x], untagged
        assert [x for x in untagged if x.startswith(b"* FLAGS (")]
        for code in (b"PERMANENTFLAGS", b"UIDVALIDITY", b"UIDNEXT"):
            assert [x for x in untagged if x.startswith(b"* OK [" + code + b" ")], code
        assert b'* LIST (\\HasNoChildren) "/" "INBOX"' in untagged
        # a SELECT that replaces one: [CLOSED] first (RFC 9051 7.1), and
        # the special-use attribute of the new mailbox
        untagged = ok(c, "EXAMINE Sent")
        assert untagged[0].startswith(b"* OK [CLOSED]"), untagged
        assert b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"' in untagged
        ok(c, "CREATE Sent/2026")
        untagged = ok(c, "SELECT Sent")
        assert b'* LIST (\\HasChildren \\Sent) "/" "Sent"' in untagged
        # a failed SELECT still closes the old one
        tagged, untagged = c.command("SELECT nosuch")
        assert status_of(tagged) == "NO"
        assert untagged[0].startswith(b"* OK [CLOSED]"), untagged
        tagged, _ = c.command("SEARCH ALL")
        assert status_of(tagged) == "BAD"  # not selected any more


def test_no_recent_in_rev2(postel):
    c, user, pw = rev2_session(postel)
    deliver(postel, user)
    with c:
        # RFC 9051 6.3.11: no RECENT status item
        bad(c, "STATUS INBOX (MESSAGES RECENT)")
        assert ok(c, "STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 1)']
        ok(c, "SELECT INBOX")
        # RFC 9051 6.4.4: no RECENT, NEW or OLD search keys
        for prog in ("RECENT", "NEW", "OLD", "NOT RECENT", "OR SEEN NEW"):
            bad(c, f"SEARCH {prog}")
            bad(c, f"UID SEARCH {prog}")
        # RFC 9051 7.3.4: ESEARCH replies, even without RETURN
        tagged, untagged = c.command("SEARCH ALL")
        tag = tagged.split()[0].decode()
        assert untagged == [f'* ESEARCH (TAG "{tag}") ALL 1\r\n'.encode()]
        tagged, untagged = c.command("SEARCH DELETED")
        tag = tagged.split()[0].decode()
        assert untagged == [f'* ESEARCH (TAG "{tag}")\r\n'.encode()]
        tagged, untagged = c.command("UID SEARCH ALL")
        tag = tagged.split()[0].decode()
        assert untagged == [f'* ESEARCH (TAG "{tag}") UID ALL 1\r\n'.encode()]
        # FETCH FLAGS from STORE, and a new message's EXISTS: no \Recent
        assert ok(c, "STORE 1 +FLAGS (\\Flagged)") == [b"* 1 FETCH (FLAGS (\\Flagged))"]
        deliver(postel, user)
        untagged = ok(c, "NOOP")
        assert b"* 2 EXISTS" in untagged
        assert not [x for x in untagged if b"RECENT" in x], untagged


def test_lsub_and_check_are_gone(postel):
    c, user, pw = rev2_session(postel)
    with c:
        # RFC 9051 E.1: LSUB removed (LIST (SUBSCRIBED) does it) ...
        bad(c, 'LSUB "" "*"')
        ok(c, "SUBSCRIBE INBOX")
        assert ok(c, 'LIST (SUBSCRIBED) "" "*"') == [
            b'* LIST (\\Subscribed \\HasNoChildren) "/" "INBOX"']
        ok(c, "SELECT INBOX")
        # ... and CHECK too
        bad(c, "CHECK")
        ok(c, "NOOP")


def test_utf8_mailbox_names(postel):
    """RFC 9051 5.1: rev2 names are UTF-8 in and out, never modified
    UTF-7; a rev1 session of the same user sees the same mailbox in
    modified UTF-7 (RFC 3501 5.1.3)."""
    c, user, pw = rev2_session(postel)
    name = "Entwürfe/Ärger"
    with c:
        ok(c, f'CREATE "{name}"'.encode())
        untagged = ok(c, 'LIST "" "Entw*"')
        assert f'* LIST (\\HasChildren) "/" "Entwürfe"'.encode() in untagged, untagged
        assert f'* LIST (\\HasNoChildren) "/" "{name}"'.encode() in untagged, untagged
        untagged = ok(c, f'SELECT "{name}"'.encode())
        assert f'* LIST (\\HasNoChildren) "/" "{name}"'.encode() in untagged
        untagged = ok(c, f'STATUS "{name}" (MESSAGES)'.encode())
        assert untagged == [f'* STATUS "{name}" (MESSAGES 0)'.encode()]
        # RFC 9051 7.1: a DELETE refused for the names below it
        tagged, _ = c.command('DELETE "Entwürfe"'.encode())
        assert tagged.split()[1:3] == [b"NO", b"[HASCHILDREN]"], tagged
        # a modified UTF-7 name is just a name in rev2
        ok(c, 'CREATE "Entw&APw-rfe2"')
        assert b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe2"' in ok(c, 'LIST "" "Entw&*"')
    with IMAPRaw(postel.imaps_port, tls=True) as r1:
        r1.login(user, pw)
        untagged = ok(r1, 'LIST "" "Entw*"')
        assert b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/&AMQ-rger"' in untagged, untagged
        # the rev2 session's mUTF-7-looking name, as rev1 spells it
        assert b'* LIST (\\HasNoChildren) "/" "Entw&-APw-rfe2"' in untagged, untagged


def test_rev2_session_beside_rev1_session(postel):
    """Both revisions on one mailbox at once: each gets its own rules."""
    c, user, pw = rev2_session(postel)
    deliver(postel, user)
    with c, IMAPRaw(postel.imaps_port, tls=True) as r1:
        r1.login(user, pw)
        untagged = ok(r1, "SELECT INBOX")
        assert b"* 1 RECENT" in untagged
        untagged = ok(c, "SELECT INBOX")
        assert not [x for x in untagged if b"RECENT" in x]
        deliver(postel, user)
        untagged = ok(r1, "NOOP")
        # the rev2 session claimed no \Recent: both are r1's
        assert b"* 2 EXISTS" in untagged and b"* 2 RECENT" in untagged, untagged
        untagged = ok(c, "NOOP")
        assert b"* 2 EXISTS" in untagged
        assert not [x for x in untagged if b"RECENT" in x], untagged
        ok(c, "STORE 2 +FLAGS (\\Seen)")
        untagged = ok(r1, "NOOP")
        assert [x for x in untagged if re.match(rb"\* 2 FETCH \(FLAGS \(.*\\Recent", x)], untagged


def test_append_and_idle_in_rev2(postel):
    """APPEND takes a UTF-8 name (RFC 9051 5.1); IDLE pushes EXISTS
    without RECENT (RFC 9051 7.4.1, no \\Recent)."""
    c, user, pw = rev2_session(postel)
    with c:
        ok(c, 'CREATE "Entwürfe"'.encode())
        msg = make_message(token(), sender=BOB, to=user)
        tagged, _ = append_raw(c, '"Entwürfe" (\\Draft)', msg)
        assert tagged.split()[1:3] == [b"OK", b"[APPENDUID"], tagged
        assert ok(c, 'STATUS "Entwürfe" (MESSAGES)'.encode()) == [
            '* STATUS "Entwürfe" (MESSAGES 1)'.encode()]
        ok(c, "SELECT INBOX")
        tag = c.tag()
        c.send(f"{tag} IDLE\r\n".encode())
        assert c.read_line().startswith(b"+ ")
        deliver(postel, user)
        assert c.read_line(timeout=scaled(5)) == b"* 1 EXISTS\r\n"
        c.send(b"DONE\r\n")
        tagged, untagged = c.read_tagged(tag)
        assert status_of(tagged) == "OK"
        assert not [x for x in untagged if b"RECENT" in x], untagged
