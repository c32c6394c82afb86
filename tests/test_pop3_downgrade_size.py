"""RFC 6858 downgraded size, issue 12 session 9 (item 4): schema 10 keeps
the synthetic message's size in messages.dgsize, learnt on first need (POP3
login without UTF8, SEARCH LARGER/SMALLER, FETCH) and read from then on:
a later login, SEARCH or FETCH RFC822.SIZE does not downgrade again. A row
stored before schema 9 (hdr8bit NULL) is sized at login, so POP3 LIST and
STAT give what RETR sends from the start and never change (RFC 1939 5)."""
import re

from imap_helpers import login
from pop3_helpers import login as pop3_login
from test_imap_downgrade_hdr8bit import index_exec, index_query, nested, retr
from test_imap_utf8_downgrade import fetch_size, user_with


def dg_rows(srv, user):
    return index_query(srv, user, "SELECT uid, hdr8bit, dgsize, size FROM messages"
                       " ORDER BY uid")


def test_pop3_list_of_an_old_row_is_what_retr_sends(postel):
    user, pw, tok, msg = user_with(postel, nested)
    # as a row of schema 8 would be: nothing known
    index_exec(postel, user, "UPDATE messages SET hdr8bit = NULL")
    p = pop3_login(postel, user, pw)
    try:
        listed = int(p.list(1).split()[2])
        count, octets = p.stat()
        resp, whole = retr(p, 1)
        assert max(whole.partition(b"\r\n\r\n")[0]) < 0x80
        # before: LIST said the stored size until the first RETR
        assert listed == len(whole) == octets, (listed, len(whole), octets)
        assert int(p.list(1).split()[2]) == listed
    finally:
        p.quit()
    [(uid, eight, dg, size)] = dg_rows(postel, user)
    assert (eight, dg) == (1, len(whole)) and size != dg


def test_downgraded_size_is_read_not_recomputed(postel):
    user, pw, tok, msg = user_with(postel, nested)
    assert dg_rows(postel, user)[0][2] is None  # not known at delivery
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        real = fetch_size(c)
    finally:
        c.logout()
    assert dg_rows(postel, user)[0][2] == real  # learnt by FETCH
    # a value only the row can have given: proves it is read
    fake = real + 1000
    index_exec(postel, user, f"UPDATE messages SET dgsize = {fake}")
    p = pop3_login(postel, user, pw)
    try:
        assert int(p.list(1).split()[2]) == fake
        assert p.stat() == (1, fake)
    finally:
        p.quit()
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        assert fetch_size(c) == fake
        typ, data = c.search(None, "LARGER", str(fake - 1))
        assert data[0].split() == [b"1"], data
        typ, data = c.search(None, "LARGER", str(fake))
        assert data[0].split() == [], data
        # BODY[] downgrades: RFC822.SIZE with it is computed, and the row
        # that disagreed is corrected
        typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK", data
        m = re.search(rb"RFC822\.SIZE (\d+)", data[0][0])
        assert int(m.group(1)) == real == len(data[0][1]), data[0][0]
    finally:
        c.logout()
    assert dg_rows(postel, user)[0][2] == real


def test_retr_after_a_failed_login_sizing_passes_no_size(postel):
    """A login that could not size the message (here: its file cut short
    meanwhile) lists the stored size; RETR must not hand that on as the
    known synthetic size (before: it did, so the row was "corrected" from
    a stored size it never held, and one that happened to match was never
    written)."""
    user, pw, tok, msg = user_with(postel, nested)
    p = pop3_login(postel, user, pw)  # the structure row, then no dgsize
    p.quit()
    index_exec(postel, user, "UPDATE messages SET dgsize = NULL")
    [(path, _)] = postel.messages(user)
    raw = path.read_bytes()
    stored = dg_rows(postel, user)[0][3]
    path.write_bytes(raw[:10])
    try:
        p = pop3_login(postel, user, pw)
        listed = int(p.list(1).split()[2])
    finally:
        path.write_bytes(raw)
    try:
        assert listed == stored, (listed, stored)  # sizing failed: stored
        mark = len(postel.log())
        resp, whole = retr(p, 1)
        assert max(whole.partition(b"\r\n\r\n")[0]) < 0x80
    finally:
        p.quit()
    assert dg_rows(postel, user)[0][2] == len(whole)
    assert "event=dgsize_corrected" not in postel.log()[mark:], postel.log()[mark:]
