"""RFC 6855 7 / RFC 6858 (issue 12 item 5): an IMAP4rev1 client that never
enabled UTF8=ACCEPT gets an SMTPUTF8 message (8-bit header fields) as the
RFC 6858 synthetic message: every header field 7-bit (encoded words that
Python's email.header decodes back to the original text, an empty group
for an address with no ASCII form), the body as stored, and RFC822.SIZE,
partials, BODY[HEADER], HEADER.FIELDS, RFC822.HEADER, ENVELOPE and
BODYSTRUCTURE all consistent with that message. ENABLE UTF8=ACCEPT and
IMAP4rev2 sessions get the stored octets; 7-bit messages are untouched."""
import email.header
import poplib
import re
import smtplib

from conftest import BOB, client_tls_context, scaled, token
from imap_helpers import IMAPRaw, login, new_user, status_of
from pop3_helpers import login as pop3_login

SUBJECT = "Grüße aus Köln ✓ — a subject long enough to be folded over lines 日本語"
NAME = "Jörg Müller"


def utf8_message(tok):
    return (f"From: {NAME} <{BOB}>\r\n"
            f"To: 田中 <tanaka@例え.jp>, plain <plain@example.org>\r\n"
            f"Subject: {SUBJECT} {tok}\r\n"
            f"Message-ID: <{tok}@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"hej köln {tok}\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
            "second part\r\n--b1--\r\n").encode()


def deliver_utf8(srv, user, msg):
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(10)) as s:
        s.ehlo()
        s.sendmail(BOB, [user], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])


def user_with(postel, make=utf8_message):
    """A new user with one message make(tok) delivered: (user, pw, tok, msg)."""
    user, pw = new_user(postel)
    tok = token()
    msg = make(tok)
    deliver_utf8(postel, user, msg)
    return user, pw, tok, msg


def fetch_one(c, items):
    """The literal of a one-item FETCH (or the plain response line)."""
    typ, data = c.fetch("1", items)
    assert typ == "OK", data
    return data[0][1] if isinstance(data[0], tuple) else data[0]


def fetch_size(c):
    line = fetch_one(c, "(RFC822.SIZE)")
    return int(re.search(rb"RFC822\.SIZE (\d+)", line).group(1))


def header_value(block, name):
    m = re.search(rb"(?im)^" + name.encode() + rb":([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", block)
    assert m, block
    return m.group(1).replace(b"\r\n", b"").decode("ascii")


def decoded(value):
    return str(email.header.make_header(email.header.decode_header(value))).strip()


def test_legacy_client_gets_the_downgraded_message(postel):
    user, pw, tok, msg = user_with(postel)
    stored_hdr, _, stored_body = msg.partition(b"\r\n\r\n")
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        whole = fetch_one(c, "(BODY.PEEK[])")
        hdr, sep, body = whole.partition(b"\r\n\r\n")
        # RFC 6858 3: a 7-bit header, the body as stored (8-bit included)
        assert max(hdr) < 0x80, hdr
        assert body == stored_body, body
        assert whole != msg
        for line in hdr.split(b"\r\n"):
            if b"=?" in line:
                assert len(line) <= 76, line  # RFC 2047 2
        assert decoded(header_value(hdr, "Subject")) == f"{SUBJECT} {tok}"
        assert decoded(header_value(hdr, "From")) == f"{NAME} <{BOB}>"
        # the 8-bit address has no ASCII form: an empty group named by who
        to = decoded(header_value(hdr, "To"))
        assert to.startswith("田中 :;"), to
        assert "plain <plain@example.org>" in to, to
        assert header_value(hdr, "Message-ID").strip() == f"<{tok}@example.org>"
        # the size and every view of the message agree with BODY[]
        assert fetch_size(c) == len(whole)
        assert fetch_one(c, "(RFC822)") == whole
        assert fetch_one(c, "(BODY.PEEK[HEADER])") == hdr + sep
        assert fetch_one(c, "(RFC822.HEADER)") == hdr + sep
        assert fetch_one(c, "(BODY.PEEK[TEXT])") == stored_body
        assert fetch_one(c, "(BODY.PEEK[]<0.40>)") == whole[:40]
        n = len(whole)
        assert fetch_one(c, f"(BODY.PEEK[]<{n - 30}.100>)") == whole[n - 30:]
        mid = len(hdr) - 10
        assert fetch_one(c, f"(BODY.PEEK[]<{mid}.25>)") == whole[mid:mid + 25]
        assert fetch_one(c, "(BODY.PEEK[2])") == b"second part"
        fields = fetch_one(c, "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
        assert max(fields) < 0x80, fields
        assert decoded(header_value(fields, "Subject")) == f"{SUBJECT} {tok}"
        env = fetch_one(c, "(ENVELOPE)")
        if isinstance(env, bytes) and b"{" in env:
            raise AssertionError(f"8-bit ENVELOPE literal: {env!r}")
        typ, data = c.fetch("1", "(ENVELOPE BODYSTRUCTURE)")
        flat = b"".join(p if isinstance(p, bytes) else b"".join(p) for p in data)
        assert max(flat) < 0x80, flat
        assert b"=?UTF-8?" in flat, flat
    finally:
        c.logout()


def utf8_accept_login(postel, user, pw):
    """An imaplib session with UTF8=ACCEPT enabled and INBOX selected."""
    c = login(postel, user, pw)
    typ, _ = c._simple_command("ENABLE", "UTF8=ACCEPT")
    assert typ == "OK"
    c.select("INBOX")
    return c


def test_enabled_and_rev2_clients_get_the_stored_octets(postel):
    user, pw, tok, msg = user_with(postel)
    c = utf8_accept_login(postel, user, pw)
    try:
        whole = fetch_one(c, "(BODY.PEEK[])")
        assert whole.endswith(msg)  # after the trace fields delivery adds
        assert fetch_size(c) == len(whole)
    finally:
        c.logout()
    with IMAPRaw(postel.imaps_port, tls=True) as r:
        r.login(user, pw)
        r.command("ENABLE IMAP4rev2")
        tagged, _ = r.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        tagged, untagged = r.command("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
        data = b"".join(untagged)
        assert whole in data, data
        assert f"RFC822.SIZE {len(whole)}".encode() in data, data


def test_7bit_message_untouched_for_a_legacy_client(postel):
    user, pw, tok, msg = user_with(postel, lambda tok: (
        f"From: <{BOB}>\r\nSubject: plain {tok}\r\n\r\nbody k\xf6ln\r\n").encode("latin-1"))
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        whole = fetch_one(c, "(BODY.PEEK[])")
        assert whole.endswith(msg)
        assert fetch_size(c) == len(whole)
    finally:
        c.logout()


def pop3_utf8_login(postel, user, pw):
    """A POP3 session that issued UTF8 (RFC 6856 2: before authentication)."""
    p = poplib.POP3("127.0.0.1", postel.pop3_port, timeout=scaled(10))
    p.stls(client_tls_context())
    assert p._shortcmd("UTF8").startswith(b"+OK")
    p.user(user)
    p.pass_(pw)
    return p


def test_pop3_without_utf8_gets_the_downgraded_header(postel):
    """RFC 6856 2 / RFC 6858: RETR and TOP without UTF8 send the synthetic
    message (7-bit header, body as stored); after UTF8 the stored one."""
    user, pw, tok, msg = user_with(postel)
    p = pop3_login(postel, user, pw)
    try:
        resp, lines, _ = p.retr(1)
        whole = b"\r\n".join(lines) + b"\r\n"
        hdr, _, body = whole.partition(b"\r\n\r\n")
        assert max(hdr) < 0x80, hdr
        assert body == msg.partition(b"\r\n\r\n")[2]
        assert decoded(header_value(hdr, "Subject")) == f"{SUBJECT} {tok}"
        # the +OK counts the octets that follow
        assert resp.split()[1] == str(len(whole)).encode(), resp
        resp, lines, _ = p.top(1, 0)
        assert b"\r\n".join(lines) + b"\r\n" == hdr + b"\r\n\r\n"
    finally:
        p.quit()
    p = pop3_utf8_login(postel, user, pw)
    try:
        resp, lines, _ = p.retr(1)
        assert (b"\r\n".join(lines) + b"\r\n").endswith(msg)
    finally:
        p.quit()
