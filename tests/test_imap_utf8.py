"""IMAP UTF8=ACCEPT (RFC 6855, issue 12 item 5) for rev1 clients: ENABLE,
mailbox names in UTF-8 instead of modified UTF-7, APPEND's UTF8 data form
(section 4, also inside a MULTIAPPEND), 8-bit headers stored as sent, and
an APPEND with 8-bit header fields refused (NO) until enabled (section
4), and what a client that did not enable it gets (section 7: the RFC
6858 downgrade, test_imap_utf8_downgrade.py)."""
import re
import smtplib

from conftest import BOB, scaled, token
from imap_helpers import IMAPRaw, new_user, status_of

SUBJECT = "Grüße aus Köln ✓"


def session(srv, user, pw):
    c = IMAPRaw(srv.imaps_port, tls=True)
    c.login(user, pw)
    return c


def utf8_message(tok):
    return (f"From: <{BOB}>\r\nTo: <jø@example.org>\r\nSubject: {SUBJECT} {tok}\r\n"
            f"Message-ID: <{tok}@example.org>\r\n\r\nhej {tok}\r\n").encode()


def append_utf8(c, head, msg, close=b")"):
    """'TAG APPEND head UTF8 (~{n}', the octets after '+', then close."""
    tag = c.tag()
    c.send(f"{tag} APPEND {head} UTF8 (~{{{len(msg)}}}\r\n".encode())
    line = c.read_line()
    if not line.startswith(b"+"):
        return line
    c.send(msg + close + b"\r\n")
    return c.read_tagged(tag)[0]


def append_plain(c, msg):
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{{len(msg)}}}\r\n".encode())
    line = c.read_line()
    if not line.startswith(b"+"):
        return line, []
    c.send(msg + b"\r\n")
    return c.read_tagged(tag)


def test_enable_and_utf8_mailbox_names(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        tagged, untagged = c.command("CAPABILITY")
        assert b"UTF8=ACCEPT" in untagged[0].split(), untagged
        # rev1 without UTF-8: modified UTF-7 in, modified UTF-7 out
        tagged, _ = c.command("CREATE \"&AMk-t&AOk-\"")
        assert status_of(tagged) == "OK", tagged
        tagged, untagged = c.command('LIST "" "*t*"')
        assert b'"&AMk-t&AOk-"' in b"".join(untagged), untagged
        tagged, _ = c.command("CREATE \"Ünï\"".encode())
        assert status_of(tagged) != "OK", tagged
        tagged, untagged = c.command("ENABLE UTF8=ACCEPT")
        assert b"* ENABLED UTF8=ACCEPT\r\n" in untagged, untagged
        tagged, untagged = c.command("ENABLE UTF8=ACCEPT")
        assert not any(b"ENABLED UTF8" in u for u in untagged), untagged
        tagged, untagged = c.command('LIST "" "*t*"')
        assert '"Été"'.encode() in b"".join(untagged), untagged
        tagged, _ = c.command("CREATE \"Ünï\"".encode())
        assert status_of(tagged) == "OK", tagged
        tagged, untagged = c.command("SELECT \"Été\"".encode())
        assert status_of(tagged) == "OK", tagged
    assert postel.maildir(user, ".Ünï").exists() or postel.maildir(user, ".&ANw-n&AO8-").exists()


def test_append_utf8_form(postel):
    user, pw = new_user(postel)
    tok = token()
    msg = utf8_message(tok)
    with session(postel, user, pw) as c:
        # not enabled: the UTF8 form is refused before its "+"
        tagged = append_utf8(c, "INBOX", msg)
        assert status_of(tagged) == "BAD", tagged
        # RFC 6855 4: 8-bit header fields without ENABLE: NO, none stored
        tagged, _ = append_plain(c, msg)
        assert status_of(tagged) == "NO", tagged
        # 8-bit in the body only is no reason to refuse
        body8 = b"Subject: plain\r\n\r\nk\xc3\xb6ln " + tok.encode() + b"\r\n"
        tagged, _ = append_plain(c, body8)
        assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command("ENABLE UTF8=ACCEPT")
        tagged = append_utf8(c, "INBOX (\\Seen)", msg)
        assert status_of(tagged) == "OK" and b"APPENDUID" in tagged, tagged
        # once enabled, 8-bit header fields in a plain literal too
        tagged, _ = append_plain(c, msg)
        assert status_of(tagged) == "OK", tagged
        # the closing ")" is part of the syntax
        tagged = append_utf8(c, "INBOX", msg, close=b"")
        assert status_of(tagged) == "BAD", tagged
        # a MULTIAPPEND of two UTF8 data forms
        m2 = utf8_message(tok + "b")
        tag = c.tag()
        c.send(f"{tag} APPEND INBOX UTF8 (~{{{len(msg)}}}\r\n".encode())
        assert c.read_line().startswith(b"+")
        c.send(msg + f") (\\Flagged) UTF8 (~{{{len(m2)}}}\r\n".encode())
        assert c.read_line().startswith(b"+")
        c.send(m2 + b")\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK", tagged
        assert re.search(rb"APPENDUID \d+ 4:5\]", tagged), tagged
        tagged, untagged = c.command("SELECT INBOX")
        assert b"* 5 EXISTS\r\n" in untagged, untagged
        tagged, untagged = c.command("FETCH 5 (FLAGS BODY.PEEK[])")
        data = b"".join(untagged)
        assert m2 in data and b"\\Flagged" in data, data
    stored = sorted(d for _, d in postel.messages(user))
    assert stored == sorted([body8, msg, msg, msg, m2])  # 8-bit headers as sent


def test_rev2_may_append_8bit_headers(postel):
    user, pw = new_user(postel)
    with session(postel, user, pw) as c:
        c.command("ENABLE IMAP4rev2")
        tagged, _ = append_plain(c, utf8_message(token()))
        assert status_of(tagged) == "OK", tagged


def test_smtputf8_mail_to_a_legacy_and_an_enabled_client(postel):
    user, pw = new_user(postel)
    tok = token()
    msg = utf8_message(tok)
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=scaled(10)) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail(BOB, [user], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    subject = f"{SUBJECT} {tok}".encode()
    for enable in (False, True):
        with session(postel, user, pw) as c:
            if enable:
                c.command("ENABLE UTF8=ACCEPT")
            tagged, _ = c.command("SELECT INBOX")
            assert status_of(tagged) == "OK", tagged
            tagged, untagged = c.command("FETCH 1 (BODY.PEEK[] ENVELOPE)")
            data = b"".join(untagged)
            # stored as sent; a legacy client gets the RFC 6858 synthetic
            # message (test_imap_utf8_downgrade.py), 7-bit header fields
            assert (msg in data) == enable, data
            if enable:
                # 8-bit text goes out in a literal, never as a quoted string
                assert b"}\r\n" + subject in data, data
            assert b'"' + subject not in data, data
