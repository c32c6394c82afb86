"""OBJECTID (RFC 8474, issue 12 item 6): EMAILID kept by COPY and MOVE,
MAILBOXID in CREATE's OK, SELECT/EXAMINE and STATUS, stable across
RENAME and new after DELETE + CREATE, THREADID shared by a reply (in
any mailbox, whichever arrives first) and not by a stranger, the SEARCH
keys EMAILID and THREADID (6), and the capability."""
import re

from fetch_helpers import FetchClient, fetch_items, fetches
from imap_helpers import new_user, status_of
from test_imap_append_idle import append_raw

OBJECTID = re.compile(rb"^[A-Za-z0-9_-]{1,255}$")


def session(srv):
    user, pw = new_user(srv)
    c = FetchClient(srv.imaps_port, tls=True)
    c.login(user, pw)
    return c


def append(c, mailbox, text):
    tagged, _ = append_raw(c, mailbox, text.replace("\n", "\r\n").encode())
    m = re.search(rb"APPENDUID \d+ (\d+)", tagged)
    assert m, tagged
    return int(m.group(1))


def ids(c, uid):
    tagged, untagged = c.command(f"UID FETCH {uid} (EMAILID THREADID)")
    assert status_of(tagged) == "OK", tagged
    items = fetch_items(list(fetches(untagged).values())[0])
    email, thread = items["EMAILID"][0], items["THREADID"][0]
    assert OBJECTID.match(email) and OBJECTID.match(thread), items
    return email.decode(), thread.decode()


def mailboxid_code(line):
    m = re.search(rb"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", line)
    return m.group(1).decode() if m else None


def status_id(c, name):
    tagged, untagged = c.command(f"STATUS {name} (MESSAGES MAILBOXID)")
    assert status_of(tagged) == "OK", tagged
    m = re.search(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)", b"".join(untagged))
    assert m, untagged
    return m.group(1).decode()


def test_capability(postel):
    with session(postel) as c:
        tagged, untagged = c.command("CAPABILITY")
        caps = b"".join(untagged).split()
        assert b"OBJECTID" in caps, caps


def test_emailid_kept_by_copy_and_move(postel):
    with session(postel) as c:
        uid = append(c, "INBOX", "Message-ID: <e1@x>\nSubject: e\n\nbody\n")
        other = append(c, "INBOX", "Subject: f\n\nother\n")
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        email, thread = ids(c, uid)
        assert ids(c, other)[0] != email
        tagged, _ = c.command(f"UID COPY {uid} Archive")
        copied = int(re.search(rb"COPYUID \d+ \d+ (\d+)", tagged).group(1))
        tagged, _ = c.command(f"UID MOVE {uid} Trash")
        assert status_of(tagged) == "OK", tagged
        assert status_of(c.command("SELECT Archive")[0]) == "OK"
        assert ids(c, copied) == (email, thread)
        assert status_of(c.command("SELECT Trash")[0]) == "OK"
        assert ids(c, 1) == (email, thread)


def test_mailboxid_create_rename_delete(postel):
    with session(postel) as c:
        tagged, _ = c.command("CREATE Projects")
        created = mailboxid_code(tagged)
        assert created and OBJECTID.match(created.encode()), tagged
        assert status_id(c, "Projects") == created
        assert status_id(c, "INBOX") != created
        assert status_of(c.command("RENAME Projects Work")[0]) == "OK"
        assert status_id(c, "Work") == created
        for cmd in ("SELECT", "EXAMINE"):
            tagged, untagged = c.command(f"{cmd} Work")
            assert status_of(tagged) == "OK", tagged
            assert [mailboxid_code(x) for x in untagged if b"MAILBOXID" in x] == [created]
        c.command("UNSELECT")
        assert status_of(c.command("DELETE Work")[0]) == "OK"
        tagged, _ = c.command("CREATE Work")
        assert mailboxid_code(tagged) not in (None, created), tagged


def test_threadid_reply_and_search(postel):
    with session(postel) as c:
        # the reply arrives before its parent, in another mailbox
        reply = append(c, "INBOX", "Message-ID: <r@x>\nIn-Reply-To: <p@x>\n"
                       "References: <p@x>\nSubject: Re: plan\n\nyes\n")
        append(c, "Archive", "Message-ID: <p@x>\nSubject: plan\n\nplan?\n")
        second = append(c, "INBOX", "Message-ID: <r2@x>\nReferences: <p@x> <r@x>\n"
                        "Subject: Re: plan\n\nno\n")
        stranger = append(c, "INBOX", "Message-ID: <s@x>\nSubject: plan\n\nother\n")
        assert status_of(c.command("SELECT Archive")[0]) == "OK"
        parent_email, parent_thread = ids(c, 1)
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        email, thread = ids(c, reply)
        assert thread == parent_thread
        assert ids(c, second)[1] == thread
        assert ids(c, stranger)[1] != thread
        tagged, untagged = c.command(f"UID SEARCH THREADID {thread}")
        assert status_of(tagged) == "OK", tagged
        assert untagged == [f"* SEARCH {reply} {second}\r\n".encode()], untagged
        tagged, untagged = c.command(f"UID SEARCH EMAILID {email}")
        assert untagged == [f"* SEARCH {reply}\r\n".encode()], untagged
        tagged, untagged = c.command(f"SEARCH NOT EMAILID {email} THREADID {thread}")
        assert untagged == [b"* SEARCH 2\r\n"], untagged
        tagged, untagged = c.command(f"SEARCH EMAILID {parent_email}")
        assert untagged == [b"* SEARCH\r\n"], untagged
        tagged, _ = c.command("SEARCH EMAILID")
        assert status_of(tagged) == "BAD", tagged
