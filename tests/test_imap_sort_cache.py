"""SORT's key records in the index (messages.sortkeys, schema 11;
src/imap/imap_sort_cache.c): the first SORT that needs a message's keys
reads its header and records them; later SORTs read the records, one row
per message, instead of the structure and the header. The answers must
be those of the RFC 5256 / RFC 5957 reference (sort_thread_ref.py)
whether the keys come from records, from headers, or from both in one
SORT; a message delivered after the records were made, an expunge, a flag
change, a damaged record and an index rebuilt from the Maildir must not
change that."""
import contextlib
import copy
import email.utils
import re
import sqlite3

from fetch_helpers import FetchClient
from imap_helpers import new_user, status_of
import sort_thread_ref as ref
from test_imap_sort_thread import (append_all, generated_mailbox, message,
                                   reference_messages, sort_of, thread_of)

CRITERIA = [[("SUBJECT", False)], [("DATE", True)], [("FROM", False), ("SUBJECT", True)],
            [("TO", False)], [("CC", True), ("ARRIVAL", False)], [("DISPLAYFROM", False)],
            [("DISPLAYTO", True), ("SIZE", False)]]


def index_path(srv, user):
    local, domain = user.split("@")
    return srv.datadir / "mail" / domain / local / "postel-index.sqlite"


def index_sql(srv, user, sql):
    """Runs sql on the user's index (the server may be running: WAL);
    returns the first column of the first row, if any."""
    with contextlib.closing(sqlite3.connect(str(index_path(srv, user)), timeout=10)) as con:
        row = con.execute(sql).fetchone()
        con.commit()
    return row[0] if row else None


def recorded(srv, user):
    return index_sql(srv, user, "SELECT count(*) FROM messages WHERE sortkeys IS NOT NULL")


def open_session(srv, items):
    """A new user whose INBOX holds items, selected: (client, user, pw)"""
    user, pw = new_user(srv)
    c = FetchClient(srv.imaps_port, tls=True, timeout=30)
    c.login(user, pw)
    tagged, _ = c.command("ENABLE UTF8=ACCEPT")  # raw UTF-8 in generated headers
    assert status_of(tagged) == "OK", tagged
    c.command("SELECT INBOX")
    append_all(c, "INBOX", items)
    c.command("NOOP")
    return c, user, pw


def check_all(c, msgs):
    # a sparse set too: each record must be the one of its own UID
    subset = [m for m in msgs if m.seq in (3, 7) or 50 <= m.seq <= 60]
    for crit in CRITERIA:
        text = " ".join(("REVERSE " if rev else "") + k for k, rev in crit)
        want = [str(m.seq) for m in ref.sort(msgs, crit)]
        assert sort_of(c, f"SORT ({text}) UTF-8 ALL") == want, text
        want = [str(m.seq) for m in ref.sort(subset, crit)]
        assert sort_of(c, f"SORT ({text}) UTF-8 3,7,50:60") == want, text
    assert thread_of(c, "THREAD ORDEREDSUBJECT UTF-8 ALL") == \
        ref.render(ref.thread_orderedsubject(msgs))


def renumbered(msgs):
    out = []
    for i, m in enumerate(msgs, 1):
        m = copy.copy(m)
        m.seq = i
        out.append(m)
    return out


def test_records_made_once_and_answers_equal(postel):
    items = generated_mailbox(5257, 200)
    msgs = reference_messages(items)
    c, user, _ = open_session(postel, items)
    with c:
        assert recorded(postel, user) == 0          # a delivery records nothing
        # ARRIVAL and SIZE read no header: no record either
        assert sort_of(c, "SORT (SIZE) UTF-8 ALL") == \
            [str(m.seq) for m in ref.sort(msgs, [("SIZE", False)])]
        assert recorded(postel, user) == 0
        # the first SORT reads the headers and records every key
        check_all(c, msgs)
        assert recorded(postel, user) == len(items)
        blobs = index_sql(postel, user, "SELECT group_concat(hex(sortkeys)) FROM messages")
        check_all(c, msgs)                          # from the records alone
        assert index_sql(postel, user,
                         "SELECT group_concat(hex(sortkeys)) FROM messages") == blobs
        # half of them forgotten: one SORT from records and headers both
        index_sql(postel, user, "UPDATE messages SET sortkeys = NULL WHERE uid % 2 = 0")
        check_all(c, msgs)
        assert recorded(postel, user) == len(items)
        # damaged records (short, another version, a length past the
        # end) are made again, never trusted
        index_sql(postel, user, "UPDATE messages SET sortkeys = x'0100' WHERE uid = 3")
        index_sql(postel, user, "UPDATE messages SET sortkeys ="
                  " x'7f' || substr(sortkeys, 2) WHERE uid = 5")
        index_sql(postel, user, "UPDATE messages SET sortkeys ="
                  " substr(sortkeys, 1, 10) || x'ffffff7f' || substr(sortkeys, 15) WHERE uid = 7")
        check_all(c, msgs)
        assert index_sql(postel, user, "SELECT group_concat(hex(sortkeys)) FROM messages") \
            == blobs
        # THREAD=REFERENCES needs Message-IDs, which records do not keep
        assert thread_of(c, "THREAD REFERENCES UTF-8 ALL") == \
            ref.render(ref.thread_references(msgs))


def test_later_delivery_expunge_and_flags(postel):
    items = generated_mailbox(5258, 60)
    msgs = reference_messages(items)
    c, user, _ = open_session(postel, items)
    with c:
        check_all(c, msgs)
        assert recorded(postel, user) == len(items)
        # delivered after the records were made: sent last, its keys
        # recorded by the next SORT
        base = items[0][1]
        late = [(message([("From", "Aaron <aaron@a.example>"), ("To", "zz@z.example"),
                          ("Subject", "Re: [list] AAA first"),
                          ("Date", "Mon, 1 Jan 2035 00:00:00 +0000")]), base)]
        append_all(c, "INBOX", late)
        c.command("NOOP")
        msgs = msgs + [reference_messages(late)[0]]
        msgs[-1].seq = msgs[-1].uid = len(msgs)
        check_all(c, msgs)
        assert sort_of(c, "SORT (REVERSE DATE) UTF-8 ALL")[0] == str(len(msgs))
        assert recorded(postel, user) == len(msgs)
        # flags change nothing the keys depend on; an expunge renumbers
        tagged, _ = c.command("STORE 1:* +FLAGS (\\Flagged)")
        assert status_of(tagged) == "OK", tagged
        check_all(c, msgs)
        tagged, _ = c.command("STORE 2,5,9,30 +FLAGS (\\Deleted)")
        assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command("EXPUNGE")
        assert status_of(tagged) == "OK", tagged
        msgs = renumbered([m for m in msgs if m.seq not in (2, 5, 9, 30)])
        check_all(c, msgs)


def fetch_reference(c):
    """The reference messages as the server now numbers them (an index
    made again may give new UIDs): from FETCH of what SORT reads."""
    tagged, untagged = c.command("FETCH 1:* (UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER])")
    assert status_of(tagged) == "OK", tagged
    msgs = []
    for resp in untagged:
        m = re.match(rb"\* (\d+) FETCH \(UID (\d+) INTERNALDATE \"([^\"]+)\" "
                     rb"RFC822.SIZE (\d+) BODY\[HEADER\] \{(\d+)\}\r\n", resp)
        if not m:
            continue
        seq, uid, idate, size, n = m.groups()
        start = m.end()
        head = resp[start:start + int(n)].decode("utf-8").rstrip("\r\n")
        internal = int(email.utils.parsedate_to_datetime(
            idate.decode().replace("-", " ", 2)).timestamp())
        headers = []
        for line in head.split("\r\n"):
            name, _, value = line.partition(":")
            headers.append((name, value[1:] if value.startswith(" ") else value))
        msgs.append(ref.Msg(int(seq), int(uid), int(size), internal, headers))
    return msgs


def test_index_rebuilt(postel_factory):
    srv = postel_factory()
    items = generated_mailbox(5259, 80)
    c, user, pw = open_session(srv, items)
    with c:
        before = fetch_reference(c)
        assert len(before) == len(items)
        check_all(c, before)
        assert recorded(srv, user) == len(items)
    srv.stop()
    for suffix in ("", "-wal", "-shm"):
        p = index_path(srv, user).with_name("postel-index.sqlite" + suffix)
        if p.exists():
            p.unlink()
    srv.start()
    with FetchClient(srv.imaps_port, tls=True, timeout=30) as c:
        c.login(user, pw)
        tagged, _ = c.command("ENABLE UTF8=ACCEPT")
        assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
        assert recorded(srv, user) == 0             # rows made again: no record
        after = fetch_reference(c)
        assert len(after) == len(items)
        check_all(c, after)
        assert recorded(srv, user) == len(items)
        check_all(c, after)
