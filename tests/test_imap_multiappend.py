"""IMAP MULTIAPPEND (RFC 3502, issue 12 item 3): several messages in one
APPEND, stored all or none in one durable commit, APPENDUID with a UID
set (RFC 4315 3). The store's own crash window (renames before the index
commit) is covered by src/store/test-store-multi.c and the backend suite's
test-suite-multi."""
import re
import time

from conftest import BOB, make_message, scaled, token
from imap_helpers import IMAPRaw, login, new_user, status_of


def session(srv, user, pw):
    c = IMAPRaw(srv.imaps_port, tls=True)
    c.login(user, pw)
    return c


def msg_for(tok, n):
    return make_message(f"{tok}-{n}", sender=BOB, to=BOB)


def multiappend(c, mailbox, items):
    """items: [(args, octets, prefix or None)]: one APPEND, "+" awaited for
    each synchronising literal. Returns (tagged, untagged, pluses)."""
    tag = c.tag()
    line = f"{tag} APPEND {mailbox}".encode()
    pluses = 0
    for args, octets, prefix in items:
        prefix = prefix or f"{{{len(octets)}}}"
        line += (b" " + args.encode() if args else b"") + b" " + prefix.encode() + b"\r\n"
        c.send(line)
        if not prefix.endswith("+}"):
            reply = c.read_line()
            if not reply.startswith(b"+"):
                return reply, [], pluses
            pluses += 1
        line = octets
    c.send(line + b"\r\n")
    tagged, untagged = c.read_tagged(tag)
    return tagged, untagged, pluses


def wait_none_stored(srv, user, tok):
    deadline = time.monotonic() + scaled(10)
    while time.monotonic() < deadline:
        if not any(tok.encode() in data for _, data in srv.messages(user)):
            return
        time.sleep(0.05)
    raise AssertionError("a message of the refused MULTIAPPEND was stored")


def test_multiappend_three_messages_one_commit(postel):
    user, pw = new_user(postel)
    tok = token()
    msgs = [msg_for(tok, i) for i in range(3)]
    with session(postel, user, pw) as c:
        tagged, untagged = c.command("CAPABILITY")
        assert b"MULTIAPPEND" in untagged[0].split(), untagged
        tagged, _, pluses = multiappend(c, "Drafts", [
            ("(\\Seen)", msgs[0], None),
            ('(\\Flagged $Work) "01-Jan-2020 10:00:00 +0000"', msgs[1], None),
            ("", msgs[2], None),
        ])
        assert pluses == 3
        m = re.search(rb"\[APPENDUID (\d+) (\d+):(\d+)\]", tagged)
        assert status_of(tagged) == "OK" and m, tagged
        first, last = int(m.group(2)), int(m.group(3))
        assert last == first + 2
        tagged, untagged = c.command("SELECT Drafts")
        assert b"* 3 EXISTS\r\n" in untagged, untagged
        tagged, untagged = c.command("UID FETCH 1:* (FLAGS INTERNALDATE)")
        lines = b"".join(untagged)
        assert re.search(rb"UID %d FLAGS \(\\Seen \\Recent\)" % first, lines), lines
        assert re.search(rb"UID %d FLAGS \(\\Flagged \$Work \\Recent\) INTERNALDATE "
                         rb"\"[ 0]1-Jan-2020 10:00:00 \+0000\"" % (first + 1), lines), lines
        tagged, untagged = c.command(f"UID FETCH {first + 2} BODY.PEEK[]")
        assert msgs[2] in b"".join(untagged)
    got = sorted(data for _, data in postel.messages(user, ".Drafts"))
    assert got == sorted(msgs)


def test_a_bad_third_message_stores_none(postel):
    user, pw = new_user(postel)
    tok = token()
    m0, m1 = msg_for(tok, 0), msg_for(tok, 1)
    with session(postel, user, pw) as c:
        # a NUL in a {n} literal (RFC 9051 4.3): BAD once read, none stored
        nul = b"Subject: x\r\n\r\na\x00b " + tok.encode()
        tagged, _, _ = multiappend(c, "INBOX", [("", m0, None), ("", m1, None),
                                                ("", nul, None)])
        assert status_of(tagged) == "BAD", tagged
        wait_none_stored(postel, user, tok)
        # an unknown system flag on the third: BAD before its "+"
        tagged, _, pluses = multiappend(c, "INBOX", [("", m0, None), ("", m1, None),
                                                     ("(\\Bogus)", m1, None)])
        assert status_of(tagged) == "BAD" and pluses == 2, tagged
        # the third over APPENDLIMIT: NO [TOOBIG] before its "+" (RFC 7889)
        tagged, _, pluses = multiappend(c, "INBOX", [("", m0, None), ("", m1, None),
                                                     ("", b"", "{52428801}")])
        assert tagged.split()[1:3] == [b"NO", b"[TOOBIG]"] and pluses == 2, tagged
        tagged, untagged = c.command("SELECT INBOX")
        assert b"* 0 EXISTS\r\n" in untagged, untagged
    wait_none_stored(postel, user, tok)
    assert postel.messages(user) == []


def test_nonsync_messages_and_a_refused_tail_is_dropped(postel):
    user, pw = new_user(postel)
    tok = token()
    ms = [msg_for(tok, i) for i in range(3)]
    with session(postel, user, pw) as c:
        tagged, _, pluses = multiappend(c, "INBOX", [
            ("", m, f"{{{len(m)}+}}") for m in ms])
        assert status_of(tagged) == "OK" and pluses == 0, tagged
        assert re.search(rb"APPENDUID \d+ \d+:\d+\]", tagged), tagged
        # refused at the second ({n+} octets still arrive): they and the
        # third message's are read and dropped, never run as commands
        bad = b"x1 LOGOUT"
        tag = c.tag()
        c.send(f"{tag} APPEND INBOX {{{len(ms[0])}+}}\r\n".encode() + ms[0] +
               f" (\\Bogus) {{{len(bad)}+}}\r\n".encode() + bad +
               f" {{{len(bad)}+}}\r\n".encode() + bad + b"\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK", tagged
        tagged, untagged = c.command("STATUS INBOX (MESSAGES)")
        assert b"(MESSAGES 3)" in b"".join(untagged), untagged


def test_count_limit(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        small = b"Subject: s\r\n\r\nx"
        items = [("", small, f"{{{len(small)}+}}")] * 101
        tagged, _, _ = multiappend(c, "INBOX", items)
        assert tagged.split()[1:3] == [b"NO", b"[LIMIT]"], tagged
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK", tagged
        tagged, _, _ = multiappend(c, "INBOX", items[:100])
        assert status_of(tagged) == "OK", tagged
        assert re.search(rb"APPENDUID \d+ 1:100\]", tagged), tagged
    assert len(postel.messages(user)) == 100


def test_kill_during_multiappend_leaves_none(postel_factory):
    postel = postel_factory()
    postel.stable_workers = False  # this test kills the workers on purpose
    user, pw = new_user(postel)
    tok = token()
    big = msg_for(tok, 2) + b"y" * 200000 + b"\r\n"
    c = session(postel, user, pw)
    tag = c.tag()
    m0, m1 = msg_for(tok, 0), msg_for(tok, 1)
    c.send(f"{tag} APPEND INBOX {{{len(m0)}}}\r\n".encode())
    assert c.read_line().startswith(b"+")
    c.send(m0 + f" {{{len(m1)}}}\r\n".encode())
    assert c.read_line().startswith(b"+")
    c.send(m1 + f" {{{len(big)}}}\r\n".encode())
    assert c.read_line().startswith(b"+")
    c.send(big[:100000])
    time.sleep(scaled(0.3))
    postel.kill_children()
    c.close()
    deadline = time.monotonic() + scaled(20)
    while True:
        try:
            imap = login(postel, user, pw, implicit=True)
            break
        except OSError:
            assert time.monotonic() < deadline, "no worker after the kill"
            time.sleep(0.2)
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data == [b"0"], data
    imap.logout()
    assert postel.messages(user) == []
