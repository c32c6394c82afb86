"""IMAP session basics (issue 9 items 7, 8, 13): greeting, CAPABILITY,
STARTTLS, LOGIN and AUTHENTICATE, SELECT/EXAMINE/CLOSE/UNSELECT, NOOP
reporting changes made over SMTP and POP3, LOGOUT, and bad input, with
imaplib and a byte-exact client."""
import base64
import imaplib
import poplib
import re

import pytest

from conftest import ALICE, USERS, client_tls_context, plain_auth_blob, scaled
from imap_helpers import IMAPRaw, deliver, fresh_ip, login, new_user, status_of
from pop3_helpers import login as pop3_login


def caps_of(line):
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
    assert m, line
    return m.group(1).decode().split()


def test_greeting_and_capability_before_tls(postel):
    with IMAPRaw(postel.imap_port) as c:
        assert c.greeting_line.startswith(b"* OK [CAPABILITY IMAP4rev1 ")
        caps = caps_of(c.greeting_line)
        # RFC 9051 6.2.3: no credentials in clear
        assert "STARTTLS" in caps and "LOGINDISABLED" in caps
        assert not [x for x in caps if x.startswith("AUTH=")]
        tagged, untagged = c.command("CAPABILITY")
        assert status_of(tagged) == "OK"
        assert untagged[0].split()[2:] == [x.encode() for x in caps]
        # refused in clear, with the RFC 5530 code
        tagged, _ = c.command(f'LOGIN "{ALICE}" "{USERS[ALICE]}"')
        assert tagged.split()[1:3] == [b"NO", b"[PRIVACYREQUIRED]"], tagged
        tagged, _ = c.command("AUTHENTICATE PLAIN")
        assert tagged.split()[1:3] == [b"NO", b"[PRIVACYREQUIRED]"], tagged


def test_starttls_then_login_and_logout(postel):
    with IMAPRaw(postel.imap_port) as c:
        c.starttls_imap()
        tagged, untagged = c.command("CAPABILITY")
        caps = untagged[0].decode().split()[2:]
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps
        assert "AUTH=PLAIN" in caps
        tagged, _ = c.command("STARTTLS")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.login(ALICE, USERS[ALICE])
        assert b"[CAPABILITY IMAP4rev1" in tagged
        tagged, untagged = c.command("LOGOUT")
        assert status_of(tagged) == "OK"
        assert untagged[0].startswith(b"* BYE ")
        assert c.is_closed()


def test_imaplib_over_993_and_143(postel):
    for implicit in (True, False):
        c = login(postel, ALICE, USERS[ALICE], implicit=implicit)
        typ, data = c.select("INBOX")
        assert typ == "OK"
        assert c.logout()[0] == "BYE"


def test_wrong_password_is_no_authenticationfailed(postel):
    with IMAPRaw(postel.imap_port, source=fresh_ip()) as c:
        c.starttls_imap()
        tagged, _ = c.command(f'LOGIN "{ALICE}" "not-the-password"')
        assert tagged.split()[1:3] == [b"NO", b"[AUTHENTICATIONFAILED]"], tagged
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "BAD"


def test_authenticate_plain_with_and_without_initial_response(postel):
    blob = plain_auth_blob(ALICE, USERS[ALICE])
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        tagged, _ = c.command(f"AUTHENTICATE PLAIN {blob}")
        assert status_of(tagged) == "OK", tagged
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        tag = c.tag()
        c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
        assert c.read_line() == b"+ \r\n"
        c.send(blob + "\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK", tagged
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        # RFC 9051 6.2.2: "*" cancels, BAD
        tag = c.tag()
        c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
        assert c.read_line().startswith(b"+")
        c.send("*\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("AUTHENTICATE NOSUCHMECH")
        assert tagged.split()[1:3] == [b"NO", b"[CANNOT]"], tagged


def test_authenticate_scram_via_imaplib(postel):
    # imaplib has no SCRAM: LOGIN with a literal password instead, which
    # is how clients send passwords with specials (RFC 9051 4.3)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        pw = USERS[ALICE].encode()
        tag = c.tag()
        c.send(f'{tag} LOGIN "{ALICE}" {{{len(pw)}}}\r\n')
        assert c.read_line().startswith(b"+ ")
        c.send(pw + b"\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK", tagged


def select_data(untagged):
    data = {}
    for line in untagged:
        text = line.decode().rstrip("\r\n")
        m = re.match(r"\* (\d+) (EXISTS|RECENT)$", text)
        if m:
            data[m.group(2)] = int(m.group(1))
        m = re.match(r"\* OK \[(UIDVALIDITY|UIDNEXT|UNSEEN) (\d+)\]", text)
        if m:
            data[m.group(1)] = int(m.group(2))
        m = re.match(r"\* OK \[PERMANENTFLAGS \((.*)\)\]", text)
        if m:
            data["PERMANENTFLAGS"] = m.group(1).split()
        m = re.match(r"\* FLAGS \((.*)\)$", text)
        if m:
            data["FLAGS"] = m.group(1).split()
    return data


def test_select_examine_report_the_mailbox(postel):
    user, pw = new_user(postel)
    for _ in range(3):
        deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        tagged, untagged = c.command("EXAMINE INBOX")
        assert tagged.split()[1:3] == [b"OK", b"[READ-ONLY]"], tagged
        d = select_data(untagged)
        assert d["EXISTS"] == 3 and d["RECENT"] == 3 and d["UNSEEN"] == 1
        assert d["UIDNEXT"] == 4 and d["UIDVALIDITY"] > 0
        assert d["PERMANENTFLAGS"] == []
        assert d["FLAGS"] == ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]
        tagged, untagged = c.command("SELECT INBOX")
        assert tagged.split()[1:3] == [b"OK", b"[READ-WRITE]"], tagged
        d2 = select_data(untagged)
        assert d2["UIDVALIDITY"] == d["UIDVALIDITY"] and d2["EXISTS"] == 3
        assert d2["RECENT"] == 3
        assert "\\*" in d2["PERMANENTFLAGS"]
    # RFC 3501 2.3.2: \Recent belongs to the first session that saw them
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        tagged, untagged = c.command("SELECT inbox")
        assert status_of(tagged) == "OK"
        assert select_data(untagged)["RECENT"] == 0
        tagged, untagged = c.command("SELECT Sent")
        assert status_of(tagged) == "OK"
        assert select_data(untagged)["EXISTS"] == 0
        tagged, _ = c.command("SELECT NoSuchBox")
        assert tagged.split()[1:3] == [b"NO", b"[NONEXISTENT]"], tagged
        # a failed SELECT leaves no mailbox selected (RFC 9051 6.3.2)
        tagged, _ = c.command("CLOSE")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command('SELECT "../../etc"')
        assert status_of(tagged) == "NO"


def test_noop_reports_new_mail_and_pop3_deletion(postel):
    user, pw = new_user(postel)
    deliver(postel, user)
    deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        tagged, untagged = c.command("SELECT INBOX")
        assert select_data(untagged)["EXISTS"] == 2
        deliver(postel, user)
        tagged, untagged = c.command("NOOP")
        assert status_of(tagged) == "OK"
        assert b"* 3 EXISTS\r\n" in untagged, untagged
        # the two seen at SELECT and the new one (RFC 3501 7.3.2)
        assert b"* 3 RECENT\r\n" in untagged, untagged
        # the first message deleted over POP3 (RFC 1939 UPDATE)
        p = pop3_login(postel, user, pw)
        p.dele(1)
        p.quit()
        tagged, untagged = c.command("NOOP")
        assert status_of(tagged) == "OK"
        assert untagged == [b"* 1 EXPUNGE\r\n"], untagged
        tagged, untagged = c.command("NOOP")
        assert untagged == []


def test_unselect_and_close(postel):
    user, pw = new_user(postel)
    deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        c.command("SELECT INBOX")
        tagged, _ = c.command("UNSELECT")
        assert status_of(tagged) == "OK"
        tagged, _ = c.command("UNSELECT")
        assert status_of(tagged) == "BAD"
        c.command("EXAMINE INBOX")
        tagged, _ = c.command("CLOSE")
        assert status_of(tagged) == "OK"
        tagged, untagged = c.command("SELECT INBOX")
        assert select_data(untagged)["EXISTS"] == 1


def test_any_state_commands(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        tagged, untagged = c.command('ID ("name" "pytest" "version" "1")')
        assert status_of(tagged) == "OK"
        assert untagged[0].startswith(b'* ID ("name" "Postel"')
        tagged, _ = c.command("ID NIL")
        assert status_of(tagged) == "OK"
        tagged, _ = c.command('ID ("name")')
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("NAMESPACE")
        assert status_of(tagged) == "BAD"  # not before login
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK"
        c.login(ALICE, USERS[ALICE])
        tagged, untagged = c.command("NAMESPACE")
        assert untagged == [b'* NAMESPACE (("" "/")) NIL NIL\r\n']
        _, caps = c.command("CAPABILITY")
        rev2 = b" IMAP4rev2" in caps[0]
        tagged, untagged = c.command("ENABLE IMAP4rev2 X-UNSERVED")
        # nothing enabled that is not served (RFC 5161 3.1); IMAP4rev2
        # only once advertised (test_imap_rev2.py)
        want = b"* ENABLED IMAP4rev2\r\n" if rev2 else b"* ENABLED\r\n"
        assert untagged == [want] and status_of(tagged) == "OK"


def test_bad_input(postel):
    with IMAPRaw(postel.imaps_port, tls=True, source=fresh_ip()) as c:
        tagged, _ = c.command("FROBNICATE")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("UID SELECT INBOX")
        assert status_of(tagged) == "BAD"
        c.send(b"\r\n")
        assert c.read_line().startswith(b"* BAD")
        c.send(b"a1 LOGIN {999999}\r\n")
        # TESTING.md 11: no "+" for a big literal before login
        line = c.read_line()
        assert line.startswith(b"a1 BAD [TOOBIG]"), line
        c.send(b"a2 NOOP " + b"x" * 10000 + b"\r\n")
        line = c.read_line()
        assert line.startswith(b"a2 BAD Line too long"), line
        tagged, _ = c.command("NOOP")
        assert status_of(tagged) == "OK"
    # a non-synchronising literal too big: BAD, then BYE and close
    with IMAPRaw(postel.imaps_port, tls=True, source=fresh_ip()) as c:
        c.send(b"a1 LOGIN {5000+}\r\n")
        assert c.read_line().startswith(b"a1 BAD [TOOBIG]")
        assert c.read_line().startswith(b"* BYE")
        assert c.is_closed()
    # too many bad commands end the session
    with IMAPRaw(postel.imaps_port, tls=True, source=fresh_ip()) as c:
        lines = []
        # one write: the server may close after BYE while a client that
        # sends command by command is still writing (SSLEOFError)
        c.send("".join(f"b{i} BOGUS\r\n" for i in range(25)))
        for _ in range(200):
            try:
                line = c.read_line(timeout=5)
            except Exception:
                break
            lines.append(line)
            if line.startswith(b"* BYE"):
                break
        assert lines[-1].startswith(b"* BYE"), lines[-3:]
        assert c.is_closed()


def test_pipelined_commands_answer_in_order(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        blob = plain_auth_blob(ALICE, USERS[ALICE])
        c.send(f"p1 AUTHENTICATE PLAIN {blob}\r\np2 SELECT INBOX\r\np3 NOOP\r\n"
               "p4 CAPABILITY\r\np5 LOGOUT\r\n")
        tags = []
        for _ in range(200):
            line = c.read_line()
            if line[:1] == b"p":
                tags.append(line.split()[0])
                if line.startswith(b"p5"):
                    break
        assert tags == [b"p1", b"p2", b"p3", b"p4", b"p5"]


def test_greeting_lists_the_login_capabilities_and_login_the_rest(postel):
    """The greeting and CAPABILITY before login list what logging in
    needs (as Dovecot's login_capability); the login's OK carries the
    whole list (RFC 9051 6.2.3), which CAPABILITY then repeats: a short
    greeting on every connection, nothing hidden from a logged-in client."""
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True, source=fresh_ip()) as c:
        greeting = c.greeting_line.split(b"]")[0].split()
        for cap in (b"IMAP4rev1", b"IMAP4rev2", b"LITERAL-", b"SASL-IR", b"AUTH=PLAIN"):
            assert cap in greeting, (cap, c.greeting_line)
        for cap in (b"SORT", b"QRESYNC", b"COMPRESS=DEFLATE", b"UNAUTHENTICATE"):
            assert cap not in greeting, (cap, c.greeting_line)
        assert len(c.greeting_line) < 160, c.greeting_line
        tagged, _ = c.login(user, pw)
        after = tagged.split(b"]")[0].split()
        for cap in (b"SORT", b"QRESYNC", b"COMPRESS=DEFLATE", b"UNAUTHENTICATE", b"IDLE"):
            assert cap in after, (cap, tagged)
        _, untagged = c.command("CAPABILITY")
        assert untagged[0].split()[2:] == after[3:], (untagged, tagged)
