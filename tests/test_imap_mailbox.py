"""IMAP mailbox commands (issue 9 items 8-10): CREATE, DELETE, RENAME,
SUBSCRIBE, UNSUBSCRIBE, STATUS, LIST (LIST-EXTENDED, LIST-STATUS,
SPECIAL-USE, CHILDREN) and LSUB, with a byte-exact client and imaplib,
the RFC examples, and bad names that must get NO or BAD, never a crash."""
import re

from imap_helpers import IMAPRaw, deliver, login, new_user, status_of


def session(postel):
    user, pw = new_user(postel)
    c = IMAPRaw(postel.imaps_port, tls=True)
    c.login(user, pw)
    return c, user, pw


def ok(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "OK", (text, tagged, untagged)
    return [line.rstrip(b"\r\n") for line in untagged]


def code_of(tagged):
    m = re.match(rb"\S+ (?:OK|NO|BAD) \[([A-Z-]+)", tagged)
    return m.group(1).decode() if m else None


LIST_RE = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|\S+)(.*)$')


def listing(untagged, kind=b"LIST"):
    """{name: (attrs set, extended data)} of the LIST/LSUB lines."""
    out = {}
    for line in untagged:
        m = LIST_RE.match(line)
        if m and m.group(1) == kind:
            name = m.group(3).decode()
            if name.startswith('"'):
                name = name[1:-1]
            out[name] = (set(m.group(2).decode().split()), m.group(4).decode().strip())
    return out


def test_create_list_and_parents(postel):
    c, user, pw = session(postel)
    with c:
        # RFC 9051 6.3.4: the names above are made, a trailing "/" is ignored
        ok(c, "CREATE Projects/2026/q1/")
        names = listing(ok(c, 'LIST "" "*"'))
        for n in ("INBOX", "Drafts", "Sent", "Junk", "Trash", "Archive", "Projects",
                  "Projects/2026", "Projects/2026/q1"):
            assert n in names, (n, names)
        assert "\\HasChildren" in names["Projects"][0]
        assert "\\HasNoChildren" in names["Projects/2026/q1"][0]
        # RFC 6154: the special-use folders
        assert "\\Sent" in names["Sent"][0] and "\\Trash" in names["Trash"][0]
        assert "\\Drafts" in names["Drafts"][0] and "\\Junk" in names["Junk"][0]
        assert "\\Archive" in names["Archive"][0]
        tagged, _ = c.command("CREATE Projects")
        assert tagged.split()[1:3] == [b"NO", b"[ALREADYEXISTS]"], tagged
        tagged, _ = c.command("CREATE inbox")
        assert tagged.split()[1:3] == [b"NO", b"[ALREADYEXISTS]"], tagged
        # '%' stops at the separator, '*' does not (RFC 9051 6.3.9)
        top = listing(ok(c, 'LIST "" "%"'))
        assert "Projects" in top and "Projects/2026" not in top
        assert listing(ok(c, 'LIST "" %')) == top  # list-wildcards in an atom
        sub = listing(ok(c, 'LIST "Projects/" "%"'))
        assert set(sub) == {"Projects/2026"}
        assert set(listing(ok(c, 'LIST "" "Projects/*"'))) == {"Projects/2026",
                                                              "Projects/2026/q1"}
        # INBOX matches in any case
        assert set(listing(ok(c, 'LIST "" "inBox"'))) == {"INBOX"}
        # the separator query
        untagged = ok(c, 'LIST "" ""')
        assert untagged == [b'* LIST (\\Noselect) "/" ""']


def test_delete_rename(postel):
    c, user, pw = session(postel)
    with c:
        ok(c, "CREATE a/b")
        tagged, _ = c.command("DELETE a")
        assert tagged.split()[1:3] == [b"NO", b"[CANNOT]"], tagged
        tagged, _ = c.command("DELETE INBOX")
        assert tagged.split()[1:3] == [b"NO", b"[CANNOT]"], tagged
        tagged, _ = c.command("DELETE nosuch")
        assert tagged.split()[1:3] == [b"NO", b"[NONEXISTENT]"], tagged
        tagged, _ = c.command("RENAME nosuch x")
        assert tagged.split()[1:3] == [b"NO", b"[NONEXISTENT]"], tagged
        tagged, _ = c.command("RENAME a Sent")
        assert tagged.split()[1:3] == [b"NO", b"[ALREADYEXISTS]"], tagged
        tagged, _ = c.command("RENAME a a/b/c")
        assert status_of(tagged) == "NO", tagged
        # RFC 9051 6.3.6: names below move along, names above are made
        ok(c, "RENAME a x/y")
        names = listing(ok(c, 'LIST "" "*"'))
        assert "x" in names and "x/y" in names and "x/y/b" in names
        assert "a" not in names and "a/b" not in names
        ok(c, "DELETE x/y/b")
        ok(c, "DELETE x/y")
        names = listing(ok(c, 'LIST "" "*"'))
        assert "x/y" not in names and "x" in names


def test_rename_inbox_moves_its_messages(postel):
    user, pw = new_user(postel)
    deliver(postel, user)
    deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        untagged = ok(c, "STATUS INBOX (MESSAGES)")
        assert untagged == [b'* STATUS "INBOX" (MESSAGES 2)']
        ok(c, "RENAME INBOX Old")
        assert ok(c, "STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 0)']
        assert ok(c, "STATUS Old (MESSAGES)") == [b'* STATUS "Old" (MESSAGES 2)']


def test_status_items(postel):
    user, pw = new_user(postel)
    _, raw1 = deliver(postel, user)
    _, raw2 = deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        untagged = ok(c, "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT)")
        m = re.match(rb'\* STATUS "INBOX" \((.*)\)$', untagged[0])
        assert m, untagged
        v = m.group(1).split()
        d = dict(zip([x.decode() for x in v[::2]], [int(x) for x in v[1::2]]))
        assert d["MESSAGES"] == 2 and d["UIDNEXT"] == 3 and d["UNSEEN"] == 2
        assert d["DELETED"] == 0 and d["RECENT"] == 2 and d["UIDVALIDITY"] > 0
        # RFC 8438: the sum of RFC822.SIZE, CRLF line endings
        size = sum(len(r.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")) for r in (raw1, raw2))
        assert d["SIZE"] == size, (d, size)
        tagged, _ = c.command("STATUS INBOX (BOGUS)")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("STATUS INBOX")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("STATUS nosuch (MESSAGES)")
        assert tagged.split()[1:3] == [b"NO", b"[NONEXISTENT]"], tagged
        # STATUS of the selected mailbox is allowed
        ok(c, "SELECT INBOX")
        assert ok(c, "STATUS INBOX (MESSAGES)") == [b'* STATUS "INBOX" (MESSAGES 2)']


def test_subscriptions_lsub_and_list_extended(postel):
    c, user, pw = session(postel)
    with c:
        ok(c, "CREATE foo/bar")
        ok(c, "CREATE baz")
        ok(c, "SUBSCRIBE foo/bar")
        ok(c, "SUBSCRIBE baz")
        ok(c, "SUBSCRIBE gone")  # RFC 9051 6.3.7: need not exist
        lsub = listing(ok(c, 'LSUB "" "*"'), b"LSUB")
        assert set(lsub) == {"foo/bar", "baz", "gone"}
        # RFC 3501 6.3.9: the parent of a subscribed name, for "%"
        lsub = listing(ok(c, 'LSUB "" "%"'), b"LSUB")
        assert lsub["foo"][0] == {"\\Noselect"} and "baz" in lsub and "gone" in lsub
        # RFC 5258: subscribed names, the missing one \NonExistent
        ext = listing(ok(c, 'LIST (SUBSCRIBED) "" "*"'))
        assert set(ext) == {"foo/bar", "baz", "gone"}
        assert "\\Subscribed" in ext["baz"][0]
        assert {"\\NonExistent", "\\Subscribed"} <= ext["gone"][0]
        # RECURSIVEMATCH: a parent with a subscribed child gets CHILDINFO
        ext = listing(ok(c, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'))
        assert ext["foo"][1] == '("CHILDINFO" ("SUBSCRIBED"))', ext
        assert "\\Subscribed" not in ext["foo"][0]
        tagged, _ = c.command('LIST (RECURSIVEMATCH) "" "%"')
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command('LIST (BOGUS) "" "%"')
        assert status_of(tagged) == "BAD"
        # RETURN (SUBSCRIBED CHILDREN) over all mailboxes; several patterns
        ext = listing(ok(c, 'LIST "" ("baz" "foo*") RETURN (SUBSCRIBED CHILDREN)'))
        assert set(ext) == {"baz", "foo", "foo/bar"}
        assert "\\Subscribed" in ext["baz"][0] and "\\Subscribed" not in ext["foo"][0]
        assert "\\HasChildren" in ext["foo"][0]
        ok(c, "UNSUBSCRIBE gone")
        ok(c, "UNSUBSCRIBE baz")
        assert set(listing(ok(c, 'LSUB "" "*"'), b"LSUB")) == {"foo/bar"}
        # RFC 6154: the SPECIAL-USE selection
        su = listing(ok(c, 'LIST (SPECIAL-USE) "" "*"'))
        assert set(su) == {"Drafts", "Sent", "Junk", "Trash", "Archive"}
        su = listing(ok(c, 'LIST "" "S*" RETURN (SPECIAL-USE)'))
        assert su["Sent"][0] >= {"\\Sent"}


def test_list_status(postel):
    user, pw = new_user(postel)
    deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "CREATE p/q")
        ok(c, "RENAME p/q r/q")  # leaves "r" made above, "p" empty
        untagged = ok(c, 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
        # RFC 5819: each LIST of a selectable mailbox is followed by its STATUS
        i = untagged.index(b'* LIST (\\HasNoChildren) "/" "INBOX"')
        assert untagged[i + 1] == b'* STATUS "INBOX" (MESSAGES 1 UNSEEN 1)'
        assert b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0)' in untagged
        tagged, _ = c.command('LIST "" "*" RETURN (STATUS (NOPE))')
        assert status_of(tagged) == "BAD"


def test_mutf7_names(postel):
    c, user, pw = session(postel)
    with c:
        # RFC 3501 5.1.3: "K&AOQ-se" is "Käse"
        ok(c, "CREATE K&AOQ-se/Alt")
        names = listing(ok(c, 'LIST "" "K&AOQ-se*"'))
        assert set(names) == {"K&AOQ-se", "K&AOQ-se/Alt"}
        tagged, _ = c.command("CREATE K&AOQ")
        assert status_of(tagged) == "NO"
        ok(c, "RENAME K&AOQ-se/Alt K&AOQ-se/Neu")
        assert ok(c, 'STATUS "K&AOQ-se/Neu" (MESSAGES)') == [
            b'* STATUS "K&AOQ-se/Neu" (MESSAGES 0)']


def test_delete_and_rename_of_the_selected_mailbox(postel):
    c, user, pw = session(postel)
    with c:
        ok(c, "CREATE Work")
        ok(c, "SELECT Work")
        ok(c, "RENAME Work Job")
        # the selection follows its mailbox: its view syncs under the new name
        ok(c, "NOOP")
        assert not [x for x in postel.log().splitlines()
                    if "event=sync_failed" in x and user in x], postel.log_tail()
        ok(c, "CREATE Job/sub")
        tagged, _ = c.command("DELETE Job")  # has a child: refused, still selected
        assert status_of(tagged) == "NO"
        ok(c, "NOOP")
        ok(c, "DELETE Job/sub")
        # RFC 9051 6.3.5: deleting the selected mailbox ends the selection
        tagged, untagged = c.command("DELETE Job")
        assert status_of(tagged) == "OK", tagged
        assert untagged and untagged[0].startswith(b"* OK [CLOSED]"), untagged
        tagged, _ = c.command("CLOSE")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("SELECT Job")
        assert tagged.split()[1:3] == [b"NO", b"[NONEXISTENT]"], tagged


def test_bad_names_never_crash(postel):
    c, user, pw = session(postel)
    with c:
        for name in ('".."', '"/x"', '"a//b"', '"a/../b"', '"~x"', '"x.y"',
                     '"a\\\\b"', '""', '"/"', "{3}\r\na\x01b", "{2}\r\n\r\n"):
            for cmd in ("CREATE", "DELETE", "SUBSCRIBE"):
                if name.startswith("{"):
                    head, lit = name.split("\r\n", 1)
                    c.send(f"x1 {cmd} {head}\r\n".encode())
                    line = c.read_line()
                    assert line.startswith(b"+"), line
                    c.send(lit.encode() + b"\r\n")
                    tagged, _ = c.read_tagged("x1")
                else:
                    tagged, _ = c.command(f"{cmd} {name}")
                assert status_of(tagged) in ("NO", "BAD"), (cmd, name, tagged)
        # 1000 levels deep, and a 10 KB name (as a literal: over the line cap)
        deep = "/".join(["a"] * 1000)
        tagged, _ = c.command(f'CREATE "{deep}"')
        assert status_of(tagged) in ("NO", "BAD"), tagged
        big = "b" * 10240
        c.send(f"x2 CREATE {{{len(big)}}}\r\n".encode())
        line = c.read_line()
        if line.startswith(b"+"):
            c.send(big.encode() + b"\r\n")
            tagged, _ = c.read_tagged("x2")
        else:
            tagged = line
        assert status_of(tagged) in ("NO", "BAD"), tagged
        # pattern caps: long patterns and many wildcards are refused, not slow
        tagged, _ = c.command('LIST "" "' + "*a%" * 200 + '"')
        assert status_of(tagged) == "BAD", tagged
        tagged, _ = c.command('LIST "" "' + "*a" * 20 + '"')
        assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command("RENAME INBOX INBOX")
        assert status_of(tagged) == "NO"
        tagged, _ = c.command("CREATE")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("RENAME a")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command("LIST")
        assert status_of(tagged) == "BAD"
        tagged, _ = c.command('LIST "" ("a" ("b"))')
        assert status_of(tagged) == "BAD"
        ok(c, "NOOP")


def test_imaplib_every_mailbox_command(postel):
    user, pw = new_user(postel)
    c = login(postel, user, pw, implicit=True)
    try:
        typ, caps = c.capability()
        caps = caps[0].decode().split()
        for cap in ("LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN", "STATUS=SIZE"):
            assert caps.count(cap) == 1, (cap, caps)
        assert c.create("Reports/2026")[0] == "OK"
        assert c.subscribe("Reports/2026")[0] == "OK"
        typ, data = c.list()
        assert typ == "OK" and any(b'"Reports/2026"' in d or b" Reports/2026" in d for d in data)
        typ, data = c.lsub()
        assert typ == "OK" and len(data) == 1 and data[0].endswith(b'"Reports/2026"')
        typ, data = c.status("Reports/2026", "(MESSAGES UIDNEXT)")
        assert typ == "OK" and data[0] == b'"Reports/2026" (MESSAGES 0 UIDNEXT 1)'
        assert c.rename("Reports/2026", "Reports/2025")[0] == "OK"
        assert c.unsubscribe("Reports/2026")[0] == "OK"
        assert c.delete("Reports/2025")[0] == "OK"
        assert c.delete("Reports")[0] == "OK"
        typ, data = c.list('""', "Reports*")
        assert typ == "OK" and data == [None]
    finally:
        c.logout()


def test_selected_mailbox_deleted_by_another_session(postel):
    """RFC 9051 7.1.5: a session whose selected mailbox another session
    deleted is told so with BYE at its next sync, not left failing
    quietly at every NOOP."""
    user, pw = new_user(postel)
    with IMAPRaw(postel.imaps_port, tls=True) as a, \
            IMAPRaw(postel.imaps_port, tls=True) as b:
        a.login(user, pw)
        b.login(user, pw)
        tagged, _ = a.command("CREATE Doomed")
        assert status_of(tagged) == "OK"
        tagged, _ = a.command("SELECT Doomed")
        assert status_of(tagged) == "OK"
        tagged, _ = b.command("DELETE Doomed")
        assert status_of(tagged) == "OK", tagged
        a.send(b"n1 NOOP\r\n")
        line = a.read_line()
        assert line.startswith(b"* BYE [UNAVAILABLE]"), line
        assert a.is_closed()
