"""RFC 6858 downgrade, issue 12 session 8: free for 7-bit mail and checked
against the RFC. Schema 9 keeps messages.hdr8bit (set at delivery), so a
legacy session's FETCH (FLAGS RFC822.SIZE) of 7-bit mail reads no MIME
structure; a row stored before schema 9 (NULL) learns it on first need
and keeps it; items that do not show the top-level header (BODY[TEXT],
BODY[1], BINARY[1]) never ask. 8-bit MIME parameters come out as RFC 2231
values, octets that are not UTF-8 as UNKNOWN-8BIT (RFC 1428 3)."""
import contextlib
import email
import sqlite3

from conftest import BOB
from imap_helpers import login
from test_imap_utf8_downgrade import fetch_one, fetch_size, user_with


def index_rows(srv, user):
    local, domain = user.split("@")
    db = srv.datadir / "mail" / domain / local / "postel-index.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        return con.execute("SELECT uid, hdr8bit, structure IS NOT NULL FROM messages"
                           " ORDER BY uid").fetchall()


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
    from test_imap_utf8_downgrade import deliver_utf8, utf8_message
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


def test_old_row_learns_hdr8bit_on_first_need(postel):
    user, pw, tok, msg = user_with(postel)
    index_exec(postel, user, "UPDATE messages SET hdr8bit = NULL")
    assert index_rows(postel, user)[0][1] is None
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        # items inside the body do not look at the top-level header
        fetch_one(c, "(BODY.PEEK[TEXT])")
        fetch_one(c, "(BODY.PEEK[1])")
        fetch_one(c, "(BINARY.PEEK[1])")
        assert index_rows(postel, user)[0][1] is None
        whole = fetch_one(c, "(BODY.PEEK[])")
        assert max(whole.partition(b"\r\n\r\n")[0]) < 0x80
        assert index_rows(postel, user)[0][1] == 1
        assert fetch_size(c) == len(whole)
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
