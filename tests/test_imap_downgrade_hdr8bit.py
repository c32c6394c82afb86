"""RFC 6858 downgrade, issue 12 session 8: free for 7-bit mail and checked
against the RFC. Schema 9 keeps messages.hdr8bit (set at delivery), so a
legacy session's FETCH (FLAGS RFC822.SIZE) of 7-bit mail reads no MIME
structure; a row stored before schema 9 (NULL) learns it on first need
and keeps it; items that do not show the top-level header (BODY[TEXT],
BODY[1], BINARY[1]) of parts away from 8-bit headers get the stored
octets; body-part MIME headers and enclosed message/global headers are
downgraded too, with BODYSTRUCTURE's sizes and lines. 8-bit MIME parameters come out as RFC 2231
values, octets that are not UTF-8 as UNKNOWN-8BIT (RFC 1428 3)."""
import contextlib
import email
import re
import sqlite3

from conftest import BOB
from imap_helpers import login
from pop3_helpers import login as pop3_login
from test_imap_utf8_downgrade import (decoded, deliver_utf8, fetch_one, fetch_size,
                                     header_value, pop3_utf8_login, user_with,
                                     utf8_accept_login, utf8_message)


def index_query(srv, user, sql):
    local, domain = user.split("@")
    db = srv.datadir / "mail" / domain / local / "postel-index.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return con.execute(sql).fetchall()


def index_rows(srv, user):
    return index_query(srv, user, "SELECT uid, hdr8bit, structure IS NOT NULL FROM messages"
                       " ORDER BY uid")


def index_exec(srv, user, sql):
    local, domain = user.split("@")
    db = srv.datadir / "mail" / domain / local / "postel-index.sqlite"
    with contextlib.closing(sqlite3.connect(str(db), timeout=10)) as con:
        con.execute(sql)
        con.commit()


def plain(tok):
    return f"From: <{BOB}>\r\nSubject: plain {tok}\r\n\r\nbody k\xf6ln\r\n".encode("latin-1")


def test_delivery_records_hdr8bit_and_7bit_fetch_reads_no_structure(postel):
    user, pw, tok, msg = user_with(postel, plain)
    # the same user gets an 8-bit header too
    deliver_utf8(postel, user, utf8_message(tok))
    assert [r[:2] for r in index_rows(postel, user)] == [(1, 0), (2, 1)]
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        typ, data = c.fetch("1", "(FLAGS RFC822.SIZE)")
        assert typ == "OK", data
        # 7-bit: no structure was read (before: parsed and cached here)
        assert index_rows(postel, user)[0] == (1, 0, 0)
        typ, data = c.fetch("2", "(RFC822.SIZE)")
        assert typ == "OK", data
        assert index_rows(postel, user)[1] == (2, 1, 1)
    finally:
        c.logout()


def nested(tok):
    """7-bit top-level header; part 2 has an 8-bit MIME header, part 3 is a
    message/global whose own header is 8-bit (RFC 6532 3.7)."""
    return (f"From: <{BOB}>\r\nSubject: nested {tok}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b1\r\n\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
            "--b1\r\nContent-Type: text/plain; name=\"fürth.txt\"\r\n"
            "Content-Description: Grüße\r\n\r\nsecond\r\n"
            "--b1\r\nContent-Type: message/global\r\n\r\n"
            f"From: Jörg <joerg@example.com>\r\nSubject: innen ✓ {tok}\r\n\r\n"
            "inner body\r\nline two\r\n"
            "--b1--\r\n").encode()


def test_body_part_and_enclosed_message_headers_downgraded(postel):
    user, pw, tok, msg = user_with(postel, nested)
    assert index_rows(postel, user)[0][1] == 1  # a part header is 8-bit
    index_exec(postel, user, "UPDATE messages SET hdr8bit = NULL")
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        # FLAGS looks at no header: nothing is learnt
        typ, data = c.fetch("1", "(FLAGS UID)")
        assert typ == "OK", data
        assert index_rows(postel, user)[0][1] is None
        # a leaf part away from every 8-bit header: the stored octets
        assert fetch_one(c, "(BODY.PEEK[1])") == b"first part"
        whole = fetch_one(c, "(BODY.PEEK[])")
        assert max(whole) < 0x80, whole
        assert index_rows(postel, user)[0][1] == 1
        assert fetch_size(c) == len(whole)
        hdr, sep, text = whole.partition(b"\r\n\r\n")
        # BODY[TEXT] holds the part headers: the synthetic message's
        assert fetch_one(c, "(BODY.PEEK[TEXT])") == text
        assert fetch_one(c, "(RFC822.TEXT)") == text
        mime2 = fetch_one(c, "(BODY.PEEK[2.MIME])")
        assert b"name*0*=UTF-8''f%C3%BCrth.txt" in mime2, mime2
        assert decoded(header_value(mime2, "Content-Description")) == "Grüße"
        assert fetch_one(c, "(BODY.PEEK[2])") == b"second"
        inner = fetch_one(c, "(BODY.PEEK[3])")
        assert inner in whole and max(inner) < 0x80, inner
        ihdr = fetch_one(c, "(BODY.PEEK[3.HEADER])")
        assert inner.startswith(ihdr)
        assert decoded(header_value(ihdr, "Subject")) == f"innen ✓ {tok}"
        assert decoded(header_value(ihdr, "From")) == "Jörg <joerg@example.com>"
        assert fetch_one(c, "(BODY.PEEK[3.TEXT])") == b"inner body\r\nline two"
        # BODYSTRUCTURE: part 3 is message/rfc822 (RFC 3501 7.4.2: envelope,
        # body and lines belong to MESSAGE/RFC822), size and lines synthetic
        typ, data = c.fetch("1", "(BODYSTRUCTURE)")
        flat = b"".join(p if isinstance(p, bytes) else b"".join(p) for p in data)
        assert max(flat) < 0x80, flat
        m = re.search(rb'"message" "rfc822" NIL NIL NIL "7bit" (\d+) \(.*\) (\d+) NIL NIL NIL NIL\) "mixed"',
                      flat, re.I)
        assert m, flat
        assert int(m.group(1)) == len(inner), (m.group(1), len(inner))
        assert int(m.group(2)) == inner.count(b"\n"), flat
    finally:
        c.logout()


def attachment(tok):
    return (f"From: <{BOB}>\r\nSubject: file {tok}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: application/octet-stream; name=\"résumé.pdf\"\r\n"
            "Content-Disposition: attachment; filename=\"résumé.pdf\"\r\n"
            "X-Latin1: ").encode() + "café".encode("latin-1") + b"\r\n\r\nAAAA\r\n"


def test_mime_parameters_and_latin1_downgraded(postel):
    user, pw, tok, msg = user_with(postel, attachment)
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        whole = fetch_one(c, "(BODY.PEEK[])")
        hdr = whole.partition(b"\r\n\r\n")[0]
        assert max(hdr) < 0x80, hdr
        # RFC 2231 4: the type stays, the name is an extended value
        assert b"Content-Type: application/octet-stream;" in hdr, hdr
        assert b"name*0*=UTF-8''r%C3%A9sum%C3%A9.pdf" in hdr, hdr
        assert b"Content-Disposition: attachment;" in hdr, hdr
        assert b"filename*0*=UTF-8''r%C3%A9sum%C3%A9.pdf" in hdr, hdr
        # raw latin1 is not claimed to be UTF-8 (RFC 1428 3)
        assert b"X-Latin1: =?UNKNOWN-8BIT?" in hdr, hdr
        parsed = email.message_from_bytes(whole)
        assert parsed.get_filename() == "résumé.pdf"
        assert fetch_size(c) == len(whole)
    finally:
        c.logout()


def retr(p, n):
    resp, lines, _ = p.retr(n)
    return resp, b"\r\n".join(lines) + b"\r\n"


def test_pop3_list_stat_agree_with_retr_without_utf8(postel):
    """RFC 1939 5: LIST gives the exact size; without UTF8 RETR sends the
    RFC 6858 message (RFC 6856 2), so LIST and STAT give its size. A row
    stored before schema 9 learns it at its first RETR."""
    user, pw, tok, msg = user_with(postel, nested)
    deliver_utf8(postel, user, utf8_message(tok))
    index_exec(postel, user, "UPDATE messages SET hdr8bit = NULL WHERE uid = 2")
    p = pop3_login(postel, user, pw)
    try:
        sizes = {int(n): int(sz) for n, sz in (ln.split() for ln in p.list()[1])}
        resp, whole = retr(p, 1)
        assert max(whole) < 0x80, whole
        assert int(resp.split()[1]) == len(whole) == sizes[1], (resp, sizes)
        # the old row: RETR is exact, LIST follows it from then on
        resp, whole2 = retr(p, 2)
        assert max(whole2.partition(b"\r\n\r\n")[0]) < 0x80
        assert int(resp.split()[1]) == len(whole2)
        assert p.list(2).split()[2] == str(len(whole2)).encode()
        count, octets = p.stat()
        assert (count, octets) == (2, len(whole) + len(whole2))
    finally:
        p.quit()
    assert index_rows(postel, user)[1][1] == 1
    # with UTF8 the stored message and its stored size
    p = pop3_utf8_login(postel, user, pw)
    try:
        resp, stored = retr(p, 1)
        assert stored.endswith(msg)
        assert p.list(1).split()[2] == str(len(stored)).encode()
    finally:
        p.quit()


def test_search_larger_smaller_use_the_synthetic_size(postel):
    """RFC 9051 6.4.4 LARGER/SMALLER compare RFC822.SIZE: in a session
    without UTF8=ACCEPT that of the RFC 6858 message FETCH shows."""
    user, pw, tok, msg = user_with(postel)
    c = utf8_accept_login(postel, user, pw)
    try:
        stored = fetch_size(c)
        typ, data = c.search(None, "LARGER", str(stored - 1))
        assert data[0].split() == [b"1"]
        typ, data = c.search(None, "LARGER", str(stored))
        assert data[0].split() == []
    finally:
        c.logout()
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        size = fetch_size(c)
        assert size != stored  # encoded words are longer than the UTF-8
        for key, n, want in (("LARGER", size - 1, [b"1"]), ("LARGER", size, []),
                             ("SMALLER", size + 1, [b"1"]), ("SMALLER", size, [])):
            typ, data = c.search(None, key, str(n))
            assert typ == "OK", data
            assert data[0].split() == want, (key, n, size, stored, data)
    finally:
        c.logout()
