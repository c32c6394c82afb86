"""SEARCH and UID SEARCH end to end (issue 9 item 12): keys over flags,
headers and decoded bodies, ESEARCH (RFC 4731) RETURN options, SEARCHRES
(RFC 5182) "$", BADCHARSET, with imaplib and a byte-exact client."""
import smtplib

from conftest import BOB, scaled
from imap_helpers import IMAPRaw, login, new_user, status_of

QP_BODY = (b"Content-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"Gr=FC=DFe aus M=FCnchen, the secret word is zebra=\r\nfish.\r\n")


def send(srv, to, subject, body_part, sender=BOB):
    msg = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
           "MIME-Version: 1.0\r\n").encode() + body_part
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(10)) as s:
        s.sendmail(sender, [to], msg)


def search(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "OK", (text, tagged)
    lines = [l for l in untagged if l.startswith((b"* SEARCH", b"* ESEARCH"))]
    assert len(lines) <= 1, untagged
    return lines[0].decode().rstrip("\r\n") if lines else None


def test_search_keys_and_decoded_bodies(postel):
    user, pw = new_user(postel)
    send(postel, user, "=?utf-8?q?Gr=C3=BC=C3=9Fe?= from Munich", QP_BODY)
    send(postel, user, "plain one", b"Content-Type: text/plain\r\n\r\nnothing here\r\n")
    send(postel, user, "base64", b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n"
         + __import__("base64").encodebytes("Ärger mit ZEBRAFISH".encode()).replace(b"\n", b"\r\n"))
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        c.command("SELECT INBOX")
        assert search(c, "SEARCH ALL") == "* SEARCH 1 2 3"
        assert search(c, "SEARCH BODY zebrafish") == "* SEARCH 1 3"
        assert search(c, 'SEARCH CHARSET UTF-8 BODY "MÜNCHEN"'.encode("utf-8")) == "* SEARCH 1"
        assert search(c, "SEARCH SUBJECT plain") == "* SEARCH 2"
        assert search(c, "SEARCH OR SUBJECT plain SUBJECT base64") == "* SEARCH 2 3"
        assert search(c, "SEARCH NOT SUBJECT plain") == "* SEARCH 1 3"
        assert search(c, "SEARCH FROM example.org 2:*") == "* SEARCH 2 3"
        assert search(c, "UID SEARCH UID 2:3 TEXT nothing") == "* SEARCH 2"
        assert search(c, "SEARCH LARGER 1 SMALLER 100000 UNSEEN") == "* SEARCH 1 2 3"
        assert search(c, "SEARCH DELETED") == "* SEARCH"
        assert search(c, "SEARCH RETURN (MIN MAX COUNT) BODY zebrafish").endswith(
            "MIN 1 MAX 3 COUNT 2")
        assert search(c, "SEARCH RETURN (ALL) ALL").endswith("ALL 1:3")
        assert search(c, "UID SEARCH RETURN (SAVE) SUBJECT plain") is None
        assert search(c, "SEARCH $") == "* SEARCH 2"
        # RFC 5182: "$" as the message set of other commands
        tagged, _ = c.command("STORE $ +FLAGS.SILENT (\\Flagged)")
        assert status_of(tagged) == "OK", tagged
        assert search(c, "SEARCH FLAGGED") == "* SEARCH 2"
        tagged, _ = c.command("SEARCH CHARSET KOI8-R ALL")
        assert tagged.split()[1:3] == [b"NO", b"[BADCHARSET"], tagged
        tagged, _ = c.command("SEARCH FROBNICATE")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("SEARCH " + "(" * 100 + "ALL" + ")" * 100)
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("SEARCH 1:4294967295")
        assert status_of(tagged) == "OK"


def test_search_with_imaplib(postel):
    user, pw = new_user(postel)
    send(postel, user, "hello", b"Content-Type: text/plain\r\n\r\nbody\r\n")
    c = login(postel, user, pw, implicit=True)
    # after login: the greeting lists only what logging in needs
    assert {b"ESEARCH", b"SEARCHRES"} <= set(c.capability()[1][0].split())
    c.select("INBOX")
    assert c.search(None, "SUBJECT", "hello") == ("OK", [b"1"])
    assert c.uid("SEARCH", "ALL") == ("OK", [b"1"])
    assert c.search(None, "SUBJECT", "absent") == ("OK", [b""])
    c.logout()


def test_search_needs_a_selected_mailbox(postel):
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        tagged, _ = c.command("SEARCH ALL")
        assert status_of(tagged) == "BAD"
