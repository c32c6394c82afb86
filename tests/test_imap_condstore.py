"""CONDSTORE and QRESYNC (RFC 7162, issue 12 item 1): ENABLE, SELECT
(CONDSTORE) and HIGHESTMODSEQ, STATUS HIGHESTMODSEQ, FETCH MODSEQ and
(CHANGEDSINCE), STORE (UNCHANGEDSINCE) with [MODIFIED], SEARCH MODSEQ,
MODSEQ in unsolicited FETCH, VANISHED instead of EXPUNGE, SELECT
(QRESYNC ...) with VANISHED (EARLIER), UID FETCH (CHANGEDSINCE VANISHED),
the answer past the expunge log's horizon, and a 10,000-message resync
with the bytes on the wire counted. The RFC's examples (3.1.x, 3.2.5.1
and after) are replayed with the numbers of this server's mailbox."""
import os
import re
import time

from imap_helpers import IMAPRaw, deliver, new_user, status_of


def ok(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "OK", (text, tagged, untagged)
    return tagged, untagged


def code(tagged, name):
    m = re.search(rb"\[" + name.encode() + rb" ([^\]]*)\]", tagged)
    return m.group(1).decode() if m else None


def highest(untagged):
    for line in untagged:
        m = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", line)
        if m:
            return int(m.group(1))
    return None


def fetches(untagged):
    """{uid: (flags set, modseq)} of untagged FETCH lines with UID"""
    out = {}
    for line in untagged:
        if b" FETCH (" not in line:
            continue
        uid = re.search(rb"UID (\d+)", line)
        ms = re.search(rb"MODSEQ \((\d+)\)", line)
        fl = re.search(rb"FLAGS \(([^)]*)\)", line)
        assert uid, line
        out[int(uid.group(1))] = (set(fl.group(1).decode().split()) if fl else None,
                                  int(ms.group(1)) if ms else None)
    return out


def vanished(untagged, earlier):
    """UIDs of VANISHED [(EARLIER)] lines"""
    out = []
    prefix = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
    for line in untagged:
        if line.startswith(prefix) and (earlier or b"(EARLIER)" not in line):
            out += expand(line[len(prefix):].strip().decode())
    return out


def expand(uidset):
    out = []
    for part in uidset.split(","):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def session(postel, n):
    user, pw = new_user(postel)
    for _ in range(n):
        deliver(postel, user)
    return user, pw


def open_box(postel, user, pw, select="SELECT INBOX", enable=None):
    c = IMAPRaw(postel.imaps_port, tls=True)
    c.login(user, pw)
    if enable:
        ok(c, f"ENABLE {enable}")
    tagged, untagged = ok(c, select)
    return c, tagged, untagged


def uid_list(c):
    _, untagged = ok(c, "UID SEARCH ALL")
    return [int(x) for x in untagged[0].split()[2:]]


def test_capability_and_enable(postel):
    user, pw = session(postel, 0)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        tagged, _ = c.login(user, pw)
        caps = tagged.decode().split("[CAPABILITY ", 1)[1].split("]")[0].split()
        assert "CONDSTORE" in caps and "QRESYNC" in caps, caps
        _, untagged = ok(c, "ENABLE CONDSTORE")
        assert untagged == [b"* ENABLED CONDSTORE\r\n"], untagged
        _, untagged = ok(c, "ENABLE CONDSTORE QRESYNC")
        assert untagged == [b"* ENABLED QRESYNC\r\n"], untagged


def test_select_condstore_status_and_fetch_modseq(postel):
    user, pw = session(postel, 3)
    c, tagged, untagged = open_box(postel, user, pw, "SELECT INBOX")
    with c:
        # not enabled: no HIGHESTMODSEQ, no MODSEQ in flag changes
        assert highest(untagged) is None, untagged
        # RFC 7162 3.1.8: SELECT (CONDSTORE) answers OK [HIGHESTMODSEQ]
        _, untagged = ok(c, "SELECT INBOX (CONDSTORE)")
        hms = highest(untagged)
        assert hms is not None and hms >= 3, untagged
        # 3.1.6: STATUS HIGHESTMODSEQ agrees
        _, st = ok(c, "STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
        assert st == [f"* STATUS \"INBOX\" (MESSAGES 3 HIGHESTMODSEQ {hms})\r\n".encode()], st
        # 3.1.4.1: FETCH MODSEQ, each at most HIGHESTMODSEQ, distinct
        _, untagged = ok(c, "FETCH 1:* (UID MODSEQ)")
        got = fetches(untagged)
        assert len(got) == 3 and all(m <= hms for _, m in got.values()), untagged
        assert len({m for _, m in got.values()}) == 3, got


def test_first_enabling_command_in_selected_state(postel):
    user, pw = session(postel, 2)
    c, _, _ = open_box(postel, user, pw)
    with c:
        # RFC 7162 3.1: FETCH MODSEQ enables CONDSTORE; the first enabling
        # command in the selected state is told HIGHESTMODSEQ
        _, untagged = ok(c, "FETCH 1 (UID MODSEQ)")
        assert highest(untagged) is not None, untagged
        _, untagged = ok(c, "FETCH 1 (UID MODSEQ)")
        assert highest(untagged) is None, untagged


def test_implicit_seen_reports_modseq(postel):
    """RFC 7162 3.2 / 3.1.4.1: a FETCH that sets \\Seen reports the flags
    with the MODSEQ the change gave, once CONDSTORE is on"""
    user, pw = session(postel, 1)
    c, _, untagged = open_box(postel, user, pw, "SELECT INBOX (CONDSTORE)")
    with c:
        base = highest(untagged)
        _, untagged = ok(c, "FETCH 1 (BODY[HEADER])")
        text = b"".join(untagged)
        assert re.search(rb"FLAGS \([^)]*\\Seen", text), text
        m = re.search(rb"MODSEQ \((\d+)\)", text)
        assert m and b"UID 1 " in text, text
        modseq = int(m.group(1))
        assert modseq > base, (modseq, base)


def test_changedsince_and_unsolicited_modseq(postel):
    """RFC 7162 3.1.4.1 example: FETCH 1:* (FLAGS) (CHANGEDSINCE n)"""
    user, pw = session(postel, 5)
    c, _, untagged = open_box(postel, user, pw, "SELECT INBOX (CONDSTORE)")
    with c:
        base = highest(untagged)
        uids = uid_list(c)
        other, _, _ = open_box(postel, user, pw)
        with other:
            ok(other, "STORE 2,4 +FLAGS (\\Flagged)")
        _, untagged = ok(c, "FETCH 1:* (UID FLAGS) (CHANGEDSINCE %d)" % base)
        got = fetches(untagged)
        assert sorted(got) == [uids[1], uids[3]], untagged
        assert all("\\Flagged" in f and m > base for f, m in got.values()), got
        # CHANGEDSINCE past everything: nothing
        top = max(m for _, m in got.values())
        _, untagged = ok(c, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % top)
        assert [x for x in untagged if b"FETCH" in x] == [], untagged
        # 3.2: the unsolicited FETCH of a change by another session
        # carries UID and MODSEQ once CONDSTORE is on
        _, untagged = ok(c, "NOOP")
        assert sorted(fetches(untagged)) == [uids[1], uids[3]], untagged
        other, _, _ = open_box(postel, user, pw)
        with other:
            ok(other, "STORE 5 +FLAGS (\\Seen)")
        _, untagged = ok(c, "NOOP")
        got = fetches(untagged)
        assert list(got) == [uids[4]] and got[uids[4]][1] > top, untagged
        # bad forms: BAD
        for bad in ("FETCH 1 (FLAGS) (CHANGEDSINCE 0)", "FETCH 1 (FLAGS) (CHANGEDSINCE x)",
                    "FETCH 1 (FLAGS) (VANISHED)", "FETCH 1 (FLAGS) (FOO)",
                    "FETCH 1 (FLAGS) (CHANGEDSINCE 5) x"):
            tagged, _ = c.command(bad)
            assert status_of(tagged) == "BAD", (bad, tagged)


def test_store_unchangedsince_modified(postel):
    """RFC 7162 3.1.3 examples: conditional STORE, [MODIFIED set]"""
    user, pw = session(postel, 4)
    c, _, untagged = open_box(postel, user, pw, "SELECT INBOX (CONDSTORE)")
    with c:
        uids = uid_list(c)
        _, untagged = ok(c, "FETCH 1:4 (UID MODSEQ)")
        ms = {u: m for u, (_, m) in fetches(untagged).items()}
        # every message unchanged since its MODSEQ: all pass, each FETCH
        # with its new MODSEQ even with .SILENT
        limit = max(ms.values())
        tagged, untagged = ok(c, f"UID STORE {uids[0]},{uids[1]} (UNCHANGEDSINCE {limit}) "
                              "+FLAGS.SILENT (\\Deleted)")
        assert code(tagged, "MODIFIED") is None, tagged
        got = fetches(untagged)
        assert sorted(got) == uids[:2] and all(f is None and m > limit
                                               for f, m in got.values()), untagged
        # message 1 changed since `limit`, message 3 not: 1 is refused
        tagged, untagged = ok(c, f"STORE 1,3 (UNCHANGEDSINCE {limit}) +FLAGS (\\Seen)")
        assert code(tagged, "MODIFIED") == "1", tagged
        got = fetches(untagged)
        assert list(got) == [uids[2]] and "\\Seen" in got[uids[2]][0], untagged
        # UID STORE names UIDs in MODIFIED
        tagged, _ = ok(c, f"UID STORE {uids[0]} (UNCHANGEDSINCE {limit}) +FLAGS (\\Seen)")
        assert code(tagged, "MODIFIED") == str(uids[0]), tagged
        # UNCHANGEDSINCE 0 always fails (3.1.3); the flags stay as they were
        tagged, untagged = ok(c, "STORE 4 (UNCHANGEDSINCE 0) +FLAGS (\\Answered)")
        assert code(tagged, "MODIFIED") == "4" and untagged == [], (tagged, untagged)
        _, untagged = ok(c, "FETCH 4 (FLAGS)")
        assert b"\\Answered" not in untagged[0], untagged
        for bad in ("STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
                    "STORE 1 (FOO 1) +FLAGS (\\Seen)", "STORE 1 () +FLAGS"):
            tagged, _ = c.command(bad)
            assert status_of(tagged) == "BAD", (bad, tagged)


def test_search_modseq(postel):
    """RFC 7162 3.1.5 examples: SEARCH MODSEQ, (MODSEQ n) in the answer"""
    user, pw = session(postel, 4)
    c, _, untagged = open_box(postel, user, pw)
    with c:
        _, untagged = ok(c, "FETCH 1:* (UID MODSEQ)")
        ms = sorted(m for _, m in fetches(untagged).values())
        ok(c, "STORE 2 +FLAGS (\\Draft)")
        _, untagged = ok(c, "FETCH 2 (UID MODSEQ)")
        m2 = list(fetches(untagged).values())[0][1]
        _, untagged = ok(c, f"SEARCH MODSEQ {ms[2]}")
        assert untagged == [f"* SEARCH 2 3 4 (MODSEQ {m2})\r\n".encode()], untagged
        _, untagged = ok(c, f'SEARCH MODSEQ "/flags/\\\\draft" all {m2}')
        assert untagged == [f"* SEARCH 2 (MODSEQ {m2})\r\n".encode()], untagged
        # nothing matched: no MODSEQ (3.1.5)
        _, untagged = ok(c, f"SEARCH MODSEQ {m2 + 1}")
        assert untagged == [b"* SEARCH\r\n"], untagged
        # ESEARCH (RFC 4731 with 7162 3.1.5): MODSEQ n at the end
        tagged, untagged = ok(c, f"UID SEARCH RETURN (COUNT) MODSEQ {ms[0]}")
        assert re.match(rb'\* ESEARCH \(TAG "t\d+"\) UID COUNT 4 MODSEQ ' +
                        str(m2).encode() + rb"\r\n$", untagged[0]), untagged
        tagged, _ = c.command('SEARCH MODSEQ "/flags/\\\\draft" none 5')
        assert status_of(tagged) == "BAD", tagged


def test_qresync_vanished_instead_of_expunge(postel):
    """RFC 7162 3.2.10: once QRESYNC is on, VANISHED replaces EXPUNGE,
    at NOOP and in IDLE"""
    user, pw = session(postel, 5)
    c, _, untagged = open_box(postel, user, pw, enable="QRESYNC")
    with c:
        assert highest(untagged) is not None, untagged
        uids = uid_list(c)
        other, _, _ = open_box(postel, user, pw)
        with other:
            ok(other, "STORE 2,3 +FLAGS.SILENT (\\Deleted)")
            ok(other, "EXPUNGE")
        _, untagged = ok(c, "NOOP")
        assert vanished(untagged, False) == uids[1:3], untagged
        assert not any(x.endswith(b"EXPUNGE\r\n") for x in untagged), untagged
        # in IDLE too
        tag = c.tag()
        c.send(f"{tag} IDLE\r\n".encode())
        assert c.read_line().startswith(b"+ "), "no continuation"
        with open_box(postel, user, pw)[0] as other:
            ok(other, "STORE 1 +FLAGS.SILENT (\\Deleted)")
            ok(other, "EXPUNGE")
        # the \Deleted flag may come first (IDLE pushes each change)
        lines = [c.read_line(timeout=10)]
        while b"VANISHED" not in lines[-1] and len(lines) < 5:
            lines.append(c.read_line(timeout=10))
        assert lines[-1] == f"* VANISHED {uids[0]}\r\n".encode(), lines
        c.send(b"DONE\r\n")
        tagged, _ = c.read_tagged(tag)
        assert status_of(tagged) == "OK", tagged
        # our own EXPUNGE is reported the same way
        ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
        _, untagged = ok(c, "EXPUNGE")
        assert vanished(untagged, False) == [uids[3]], untagged
        # 3.2.11: a SELECT while selected first says [CLOSED]
        _, untagged = ok(c, "SELECT INBOX")
        assert untagged[0].startswith(b"* OK [CLOSED]"), untagged


def synced_box(srv, n):
    """A new user's INBOX of n selected with CONDSTORE: (conn, user, pw,
    uids, uidvalidity, highestmodseq)"""
    user, pw = session(srv, n)
    c, _, untagged = open_box(srv, user, pw, "SELECT INBOX (CONDSTORE)")
    uv = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(untagged)).group(1))
    return c, user, pw, uid_list(c), uv, highest(untagged)


def changed_mailbox(postel, n):
    """A mailbox of n, its UIDVALIDITY and HIGHESTMODSEQ as a client last
    saw them, then (by a session that then ends) flags on 2 and 4 changed,
    3 and 5 expunged: (user, pw, uids, uidvalidity, modseq)"""
    c, user, pw, uids, uv, modseq = synced_box(postel, n)
    with c:
        ok(c, "STORE 2,4 +FLAGS.SILENT (\\Answered)")
        ok(c, "STORE 3,5 +FLAGS.SILENT (\\Deleted)")
        ok(c, "EXPUNGE")
    return user, pw, uids, uv, modseq


def test_select_qresync(postel):
    """RFC 7162 3.2.5.1: SELECT ... (QRESYNC (uidvalidity modseq
    known-uids)) answers VANISHED (EARLIER) and the changed messages"""
    user, pw, uids, uv, modseq = changed_mailbox(postel, 6)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        # before ENABLE QRESYNC: BAD (3.2.5)
        tagged, _ = c.command(f"SELECT INBOX (QRESYNC ({uv} {modseq}))")
        assert status_of(tagged) == "BAD", tagged
        ok(c, "ENABLE QRESYNC")
        tagged, untagged = ok(c, f"SELECT INBOX (QRESYNC ({uv} {modseq} "
                              f"{uids[0]}:{uids[-1]}))")
        assert b"* 4 EXISTS\r\n" in untagged and highest(untagged) > modseq, untagged
        assert vanished(untagged, True) == [uids[2], uids[4]], untagged
        got = fetches(untagged)
        assert sorted(got) == [uids[1], uids[3]], untagged
        assert all("\\Answered" in f and m > modseq for f, m in got.values()), got
        # the FETCH lines carry the sequence numbers after the VANISHED
        assert any(x.startswith(f"* 2 FETCH (UID {uids[1]} ".encode()) for x in untagged)
        assert any(x.startswith(f"* 3 FETCH (UID {uids[3]} ".encode()) for x in untagged)
        # VANISHED comes before the FETCHes (3.2.5.1)
        kinds = [x.split()[1] for x in untagged if b"VANISHED" in x or b"FETCH" in x]
        assert kinds[0] == b"VANISHED", untagged
        # known-uids limits VANISHED; no known-uids: 1:UIDNEXT-1
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq} {uids[0]}:{uids[3]}))")
        assert vanished(untagged, True) == [uids[2]], untagged
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq}))")
        assert vanished(untagged, True) == [uids[2], uids[4]], untagged
        # with seq-match data (3.2.5.2 example's form): same answer
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq} {uids[0]}:{uids[-1]} "
                         f"(1,6 {uids[0]},{uids[5]})))")
        assert vanished(untagged, True) == [uids[2], uids[4]], untagged
        # another UIDVALIDITY: neither VANISHED nor FETCH (3.2.5)
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv + 1} {modseq}))")
        assert not any(b"VANISHED" in x or b"FETCH" in x for x in untagged), untagged
        # up to date: nothing
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {highest(untagged)}))")
        assert not any(b"VANISHED" in x or b"FETCH" in x for x in untagged), untagged
        for bad in ("SELECT INBOX (QRESYNC (0 5))", "SELECT INBOX (QRESYNC (1 5 1:*))",
                    "SELECT INBOX (FOO)", "SELECT INBOX ()"):
            tagged, _ = c.command(bad)
            assert status_of(tagged) == "BAD", (bad, tagged)


def test_uid_fetch_changedsince_vanished(postel):
    """RFC 7162 3.2.6 example: UID FETCH 300:500 (FLAGS) (CHANGEDSINCE n
    VANISHED)"""
    user, pw, uids, uv, modseq = changed_mailbox(postel, 6)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        ok(c, "SELECT INBOX")
        _, untagged = ok(c, f"UID FETCH {uids[0]}:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        assert untagged[0] == f"* VANISHED (EARLIER) {uids[2]},{uids[4]}\r\n".encode(), untagged
        assert sorted(fetches(untagged)) == [uids[1], uids[3]], untagged
        _, untagged = ok(c, f"UID FETCH {uids[3]}:{uids[5]} (FLAGS) "
                         f"(CHANGEDSINCE {modseq} VANISHED)")
        assert vanished(untagged, True) == [uids[4]], untagged
        # VANISHED needs UID FETCH (3.2.6)
        tagged, _ = c.command(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        assert status_of(tagged) == "BAD", tagged
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "SELECT INBOX")   # QRESYNC not enabled: BAD
        tagged, _ = c.command(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
        assert status_of(tagged) == "BAD", tagged


def test_qresync_past_the_expunge_log_horizon(postel_factory):
    """RFC 7162 3.2.5.2: past the horizon the answer is every known UID
    that is not there; within it, exactly the log's expunges"""
    srv = postel_factory(expunge_log_days=0, expunge_log_max=0)
    c, user, pw, uids, uv, old = synced_box(srv, 8)
    with c:
        ok(c, "STORE 2 +FLAGS.SILENT (\\Deleted)")
        ok(c, "EXPUNGE")
        _, untagged = ok(c, "NOOP")
        time.sleep(1.2)   # older than expunge_log_days=0 by a second
        _, untagged = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        mid = int(re.search(rb"HIGHESTMODSEQ (\d+)", untagged[0]).group(1))
        # this expunge trims the first from the log
        ok(c, f"UID STORE {uids[3]} +FLAGS.SILENT (\\Deleted)")
        ok(c, "EXPUNGE")
    with IMAPRaw(srv.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        # from before the horizon: every known UID not there (2 and 4),
        # and the UIDs never known are not named
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old} {uids[0]}:{uids[5]}))")
        assert vanished(untagged, True) == [uids[1], uids[3]], untagged
        # without known UIDs: 1:UIDNEXT-1 minus what is there; still
        # correct (UIDs below the first were never given out)
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old}))")
        gone = set(vanished(untagged, True))
        assert {uids[1], uids[3]} <= gone and not gone & (set(uids) - {uids[1], uids[3]})
        # from after the horizon: the log alone, exact
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {mid}))")
        assert vanished(untagged, True) == [uids[3]], untagged


def fill_maildir(srv, user, n):
    """n small messages dropped into the user's new/ as Maildir files
    (the store picks them up at the next SELECT): 10,000 by SMTP would
    take minutes"""
    deliver(srv, user)  # creates the store
    new = srv.maildir(user) / "new"
    st = os.stat(new)
    for i in range(n - 1):
        data = (f"From: a@example.com\nTo: {user}\nSubject: resync {i}\n"
                f"Message-ID: <resync{i}@example.com>\n\nbody {i}\n").encode()
        wire = len(data) + data.count(b"\n")
        path = new / f"1795000000.M{i}P1Q{i}.resync,S={len(data)},W={wire}"
        path.write_bytes(data)
        os.chown(path, st.st_uid, st.st_gid)


class Counting(IMAPRaw):
    """IMAPRaw that counts the bytes it reads and writes"""
    rx = tx = 0

    def send(self, data):
        self.tx += len(data)
        super().send(data)

    def read_line(self, timeout=None):
        line = super().read_line(timeout=timeout)
        self.rx += len(line)
        return line


def test_resync_10000_messages(postel):
    """Issue 12: a client syncs 10,000 messages, another session sets flags
    on 200 and expunges 300; SELECT QRESYNC brings exactly those 500
    changes, VANISHED (EARLIER) for the expunges"""
    n = 10000
    user, pw = new_user(postel)
    fill_maildir(postel, user, n)
    c, _, untagged = open_box(postel, user, pw, "SELECT INBOX (CONDSTORE)", enable=None)
    with c:
        assert f"* {n} EXISTS\r\n".encode() in untagged, untagged
        uv = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(untagged)).group(1))
        modseq = highest(untagged)
        uids = uid_list(c)
        _, untagged = ok(c, "FETCH 1:* (FLAGS MODSEQ)")
        assert len(untagged) == n
    # the other session: flags on 200, 300 expunged (disjoint)
    flagged = uids[100:4100:20]
    gone = uids[5000:8000:10]
    assert len(flagged) == 200 and len(gone) == 300
    with open_box(postel, user, pw)[0] as other:
        ok(other, "UID STORE %s +FLAGS.SILENT (\\Flagged)" % ",".join(map(str, flagged)))
        ok(other, "UID STORE %s +FLAGS.SILENT (\\Deleted)" % ",".join(map(str, gone)))
        ok(other, "EXPUNGE")
    with Counting(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        c.rx = c.tx = 0
        t0 = time.monotonic()
        _, untagged = ok(c, f"SELECT INBOX (QRESYNC ({uv} {modseq} {uids[0]}:{uids[-1]}))")
        seconds = time.monotonic() - t0
        assert f"* {n - 300} EXISTS\r\n".encode() in untagged, untagged[:10]
        assert sorted(vanished(untagged, True)) == gone
        got = fetches(untagged)
        assert sorted(got) == flagged, len(got)
        assert all("\\Flagged" in f for f, _ in got.values())
        print(f"\nresync: {n} messages, 200 flag changes + 300 expunges: "
              f"{c.rx} bytes read, {c.tx} bytes sent, {seconds:.3f} s")
        assert c.rx < 40000, c.rx
