"""THREADID subject keys of old mail, given where THREADID is served.

Mail stored before session 7 has no " subject" keys in msgids: a reply
that names no known message-id could not join its root's thread by base
subject (RFC 5256 4 step 6, which THREADID follows: RFC 8474 5.2). The
first FETCH THREADID or SEARCH THREADID in the mailbox gives the roots
their keys (off the loop, once: mailboxes.thread_keys), without any
migration reading every message. THREAD, whose answer does not use the
keys, leaves them alone, and so does a FETCH that asks no THREADID."""
import contextlib
import re
import sqlite3

from conftest import BOB
from imap_helpers import login
from test_imap_downgrade_hdr8bit import index_exec
from test_imap_utf8_downgrade import deliver_utf8, user_with


def old_mail_user(postel):
    """A user with one root message, its index as session 6 left it."""
    user, pw, tok, _ = user_with(postel, lambda tok: (
        f"From: <{BOB}>\r\nSubject: plan {tok}\r\nMessage-ID: <root-{tok}@x.example>\r\n"
        "\r\nroot\r\n").encode())
    index_exec(postel, user, "DELETE FROM msgids WHERE msgid LIKE ' subject %'")
    index_exec(postel, user, "UPDATE mailboxes SET thread_keys = 0")
    return user, pw, tok


def keys_and_done(postel, user):
    local, domain = user.split("@")
    db = postel.datadir / "mail" / domain / local / "postel-index.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        keys = con.execute("SELECT count(*) FROM msgids WHERE msgid LIKE ' subject %'"
                           ).fetchone()[0]
        done = con.execute("SELECT thread_keys FROM mailboxes WHERE name = 'INBOX'"
                           ).fetchone()[0]
    return keys, done


def threadids(c):
    typ, data = c.fetch("1:*", "(THREADID)")
    assert typ == "OK", data
    return [re.search(rb"THREADID \(([^)]*)\)", d).group(1) for d in data]


def in_session(postel, user, pw, fn):
    c = login(postel, user, pw)
    try:
        c.select("INBOX")
        return fn(c)
    finally:
        c.logout()


def test_fetch_threadid_backfills_and_a_later_reply_joins(postel):
    user, pw, tok = old_mail_user(postel)
    ids = in_session(postel, user, pw, threadids)
    assert len(ids) == 1
    assert keys_and_done(postel, user) == (1, 1)
    deliver_utf8(postel, user, (f"From: <{BOB}>\r\nSubject: Re: plan {tok}\r\n"
                                "\r\nreply naming no id\r\n").encode())
    ids = in_session(postel, user, pw, threadids)
    assert len(ids) == 2 and ids[0] == ids[1], ids


def test_search_threadid_backfills(postel):
    user, pw, _ = old_mail_user(postel)
    # the id is read first (that backfills), then the index is reset:
    # only SEARCH may backfill in the session that counts
    tid = in_session(postel, user, pw, threadids)[0].decode()
    index_exec(postel, user, "DELETE FROM msgids WHERE msgid LIKE ' subject %'")
    index_exec(postel, user, "UPDATE mailboxes SET thread_keys = 0")

    def search(c):
        typ, data = c.uid("SEARCH", "THREADID", tid)
        assert typ == "OK", data
        return data[0].split()
    assert in_session(postel, user, pw, search) == [b"1"]
    assert keys_and_done(postel, user) == (1, 1)


def test_thread_and_other_fetches_leave_the_keys(postel):
    user, pw, _ = old_mail_user(postel)

    def thread_and_fetch(c):
        typ, data = c._simple_command("THREAD", "REFERENCES", "UTF-8", "ALL")
        assert typ == "OK", data
        typ, data = c.fetch("1:*", "(FLAGS EMAILID BODY.PEEK[HEADER])")
        assert typ == "OK", data
        typ, data = c.search(None, "SUBJECT", "plan")
        assert typ == "OK" and data[0].split() == [b"1"], data
    in_session(postel, user, pw, thread_and_fetch)
    assert keys_and_done(postel, user) == (0, 0)
