"""IMAP UNAUTHENTICATE (RFC 8437, issue 12 item 6): back to the not
authenticated state on the same connection, the first user's mailbox and
store let go, and a login as another user works."""
from imap_helpers import IMAPRaw, deliver, new_user, status_of


def caps_of(c):
    tagged, untagged = c.command("CAPABILITY")
    assert status_of(tagged) == "OK", tagged
    return untagged[0].split()


def test_unauthenticate_then_login_as_another_user(postel):
    alice, apw = new_user(postel)
    bob, bpw = new_user(postel)
    atok, _ = deliver(postel, alice)
    deliver(postel, alice)
    btok, _ = deliver(postel, bob)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        assert b"UNAUTHENTICATE" not in caps_of(c)
        tagged, _ = c.command("UNAUTHENTICATE")
        assert status_of(tagged) == "BAD", tagged
        c.login(alice, apw)
        assert b"UNAUTHENTICATE" in caps_of(c)
        tagged, untagged = c.command("ENABLE IMAP4rev2")
        assert b"* ENABLED IMAP4rev2\r\n" in untagged, untagged
        tagged, untagged = c.command("SELECT INBOX")
        assert b"* 2 EXISTS\r\n" in untagged, untagged
        tagged, _ = c.command("UNAUTHENTICATE extra")
        assert status_of(tagged) == "BAD", tagged
        tagged, untagged = c.command("UNAUTHENTICATE")
        assert status_of(tagged) == "OK", tagged
        # RFC 8437 3: the selected mailbox is closed without EXPUNGE
        assert not any(b"EXPUNGE" in u for u in untagged), untagged
        # not authenticated: mailbox commands are refused, AUTH= is back
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = c.command("FETCH 1 BODY[]")
        assert status_of(tagged) == "BAD", tagged
        caps = caps_of(c)
        assert b"UNAUTHENTICATE" not in caps and b"AUTH=PLAIN" in caps, caps
        c.login(bob, bpw)
        # what ENABLE switched on was reset: enabling it again is news
        tagged, untagged = c.command("ENABLE IMAP4rev2")
        assert b"* ENABLED IMAP4rev2\r\n" in untagged, untagged
        tagged, untagged = c.command("SELECT INBOX")
        assert b"* 1 EXISTS\r\n" in untagged, untagged
        tagged, untagged = c.command("FETCH 1 BODY.PEEK[]")
        data = b"".join(untagged)
        assert btok.encode() in data and atok.encode() not in data
        # and back to alice, who still has her two
        tagged, _ = c.command("UNAUTHENTICATE")
        assert status_of(tagged) == "OK", tagged
        c.login(alice, apw)
        tagged, untagged = c.command("STATUS INBOX (MESSAGES)")
        assert b"(MESSAGES 2)" in b"".join(untagged), untagged


def test_repeated_unauthenticate_lets_the_user_go(postel):
    alice, apw = new_user(postel)
    deliver(postel, alice)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        for _ in range(20):
            c.login(alice, apw)
            tagged, untagged = c.command("SELECT INBOX")
            assert b"* 1 EXISTS\r\n" in untagged, untagged
            tagged, _ = c.command("UNAUTHENTICATE")
            assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command("LOGOUT")
        assert status_of(tagged) == "OK", tagged
