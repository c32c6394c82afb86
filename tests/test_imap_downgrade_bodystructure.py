"""RFC 6858 downgrade, issue 12 session 9 (the RFC 6858 review's items 1
and 2). BODYSTRUCTURE in a session without UTF8=ACCEPT describes the
synthetic message: a part's Content-ID, MD5, Language, Location and
disposition come from its downgraded header, never the stored 8-bit
values, and a message/global part is message/rfc822 (RFC 3501 7.4.2's
body-type-msg grammar); UTF8=ACCEPT keeps message/global. A message that
has no synthetic form within the limits (more than 64 8-bit headers, one
over 256 KiB) is refused with NO [LIMIT] / -ERR, never shown raw; a part
header whose every field is left out becomes the empty header."""
import re

from conftest import BOB
from imap_helpers import login
from pop3_helpers import login as pop3_login
from test_imap_utf8_downgrade import (fetch_one, fetch_size, header_value, user_with,
                                     utf8_accept_login)


def flat(data):
    return b"".join(p if isinstance(p, bytes) else b"".join(p) for p in data)


def fields_8bit(tok):
    return (f"From: <{BOB}>\r\nSubject: fields {tok}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-ID: <grüße@example.org>\r\n"
            "Content-MD5: Qmxhw6Q=\r\n"
            "Content-Language: dé\r\n"
            "Content-Location: http://example.org/dé.txt\r\n"
            "Content-Disposition: inline; filename=\"dé.txt\"\r\n\r\n"
            "text\r\n"
            "--b1\r\nContent-Type: message/global\r\n\r\n"
            f"From: Jörg <joerg@example.com>\r\nSubject: innen {tok}\r\n\r\n"
            "inner\r\n"
            "--b1--\r\n").encode()


def test_bodystructure_from_the_downgraded_headers(postel):
    user, pw, tok, msg = user_with(postel, fields_8bit)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        typ, data = c.fetch("1", "(BODYSTRUCTURE)")
        assert typ == "OK", data
        bs = flat(data)
        # before: Content-ID, language, location and the disposition's
        # parameter were the stored 8-bit octets (as literals)
        assert max(bs) < 0x80, bs
        assert b"gr" not in bs, bs  # the 8-bit Content-ID is left out: NIL
        mime1 = fetch_one(c, "(BODY.PEEK[1.MIME])")
        assert b"Content-ID" not in mime1, mime1
        # an 8-bit language tag or URI has no 7-bit form: left out of the
        # MIME header, so NIL here (mime_downgrade_field.c)
        assert b"Content-Language" not in mime1 and b"Content-Location" not in mime1
        assert b"Content-MD5: Qmxhw6Q=" in mime1, mime1
        assert re.search(rb'"Qmxhw6Q=" \("inline" \("filename" "[ -~]+"\)\) NIL NIL\)', bs), bs
        # the enclosed message/global: message/rfc822 with its envelope
        m = re.search(rb'"message" "rfc822" NIL NIL NIL "7bit" (\d+) \(', bs, re.I)
        assert m, bs
        assert int(m.group(1)) == len(fetch_one(c, "(BODY.PEEK[2])"))
        typ, data = c.fetch("1", "(BODY)")
        assert typ == "OK" and b'"message" "rfc822"' in flat(data), data
    finally:
        c.logout()
    c = utf8_accept_login(postel, user, pw)
    try:
        typ, data = c.fetch("1", "(BODYSTRUCTURE)")
        assert typ == "OK", data
        bs = flat(data)
        assert b'"message" "global"' in bs, bs
        assert "grüße@example.org".encode() in bs, bs
    finally:
        c.logout()


def many_parts(tok, n=65):
    parts = "".join(f"--b1\r\nContent-Type: text/plain; name=\"dé{i}.txt\"\r\n\r\np{i}\r\n"
                    for i in range(n))
    return (f"From: <{BOB}>\r\nSubject: many {tok}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=b1\r\n\r\n{parts}--b1--\r\n").encode()


def huge_header(tok):
    pad = "".join(f"X-Pad-{i}: {'x' * 900}\r\n" for i in range(300))
    return (f"From: <{BOB}>\r\nSubject: grüße {tok}\r\n{pad}\r\nbody\r\n").encode()


def assert_refused(postel, make):
    user, pw, tok, msg = user_with(postel, make)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        for items in ("(BODY.PEEK[])", "(BODY.PEEK[HEADER])", "(RFC822.SIZE)",
                      "(BODYSTRUCTURE)"):
            typ, data = c.fetch("1", items)
            assert typ == "NO", (items, data)
            got = flat(d for d in data if d is not None)
            assert not got or max(got) < 0x80, got
        typ, data = c.fetch("1", "(FLAGS UID)")
        assert typ == "OK", data
    finally:
        c.logout()
    p = pop3_login(postel, user, pw)
    try:
        try:
            resp = p.retr(1)
        except Exception as e:  # poplib.error_proto
            assert "downgrade" in str(e), e
        else:
            raise AssertionError(f"RETR answered: {resp[0]!r}")
    finally:
        p.quit()
    # a client that reads UTF-8 headers gets it
    c = utf8_accept_login(postel, user, pw)
    try:
        assert fetch_one(c, "(BODY.PEEK[])").endswith(msg)
    finally:
        c.logout()


def test_more_8bit_headers_than_regions_refused(postel):
    # before: the 65th part's header went out raw
    assert_refused(postel, many_parts)


def test_header_over_the_limit_refused(postel):
    # before: the whole 270 KB header went out raw
    assert_refused(postel, huge_header)


def test_limit_answer_is_no_limit(postel):
    user, pw, tok, msg = user_with(postel, many_parts)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        tag = c._new_tag()
        c.send(tag + b" FETCH 1 (BODY.PEEK[])\r\n")
        line = c._get_response()
        while line is None or not line.startswith(tag):
            line = c._get_line()
        assert re.match(tag + rb" NO \[LIMIT\] .*UTF8=ACCEPT", line), line
    finally:
        c.logout()


def test_refused_fetch_sets_no_seen(postel):
    """RFC 9051 6.4.5: \\Seen comes with the body fetched; NO [LIMIT]
    sends none (before: the batch set \\Seen all the same)."""
    user, pw, tok, msg = user_with(postel, many_parts)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        for items in ("(BODY[])", "(RFC822)", "(BODY[TEXT])"):
            typ, data = c.fetch("1", items)
            assert typ == "NO", (items, data)
        typ, data = c.fetch("1", "(FLAGS)")
        assert typ == "OK" and b"\\Seen" not in data[0], data
    finally:
        c.logout()
    # a client that reads UTF-8 headers gets it, and marks it
    c = utf8_accept_login(postel, user, pw)
    try:
        typ, data = c.fetch("1", "(BODY[])")
        assert typ == "OK", data
        typ, data = c.fetch("1", "(FLAGS)")
        assert b"\\Seen" in data[0], data
    finally:
        c.logout()


def only_dropped(tok):
    """Part 1's header is a single 8-bit Content-ID (left out) and no
    empty line: the boundary follows at once."""
    return (f"From: <{BOB}>\r\nSubject: dropped {tok}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
            "--b1\r\nContent-ID: <ü@example.org>\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b1--\r\n").encode()


def test_header_with_every_field_dropped_becomes_empty(postel):
    user, pw, tok, msg = user_with(postel, only_dropped)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        whole = fetch_one(c, "(BODY.PEEK[])")
        # before: the part header went out as stored
        assert max(whole) < 0x80, whole
        assert b"--b1\r\n\r\n" in whole, whole
        assert fetch_size(c) == len(whole)
        assert fetch_one(c, "(BODY.PEEK[2])") == b"second"
    finally:
        c.logout()


def ascii_global(tok):
    """No header is 8-bit; part 2 is a message/global all the same."""
    return (f"From: <{BOB}>\r\nSubject: ascii global {tok}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
            "--b1\r\nContent-Type: message/global\r\n\r\n"
            f"From: <joerg@example.com>\r\nSubject: inner {tok}\r\n\r\n"
            "inner body\r\n"
            "--b1--\r\n").encode()


def test_ascii_message_global_is_rfc822_without_utf8(postel):
    # RFC 3501 7.4.2: envelope, body and lines follow MESSAGE/RFC822 only
    # (before: "message" "global" with them, when no header was 8-bit)
    user, pw, tok, msg = user_with(postel, ascii_global)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        for item in ("BODYSTRUCTURE", "BODY"):
            got = fetch_one(c, f"({item})")
            assert b'"message" "rfc822"' in got.lower(), got
            assert b'"global"' not in got.lower(), got
            assert f"inner {tok}".encode() in got, got
    finally:
        c.logout()
    c = utf8_accept_login(postel, user, pw)
    try:
        got = fetch_one(c, "(BODYSTRUCTURE)")
        assert b'"message" "global"' in got.lower(), got
    finally:
        c.logout()
