"""QRESYNC never loses an expunge (RFC 7162 3.2, RFC 5162 erratum 1810,
issue 12): while another session's expunge is held back (no EXPUNGE or
VANISHED during FETCH, STORE, SEARCH: RFC 9051 7.5.1; none between
commands under NOTIFY SELECTED-DELAYED: RFC 5465 6), a MODSEQ the server
sends above the expunge's comes with an OK [HIGHESTMODSEQ n] below it.

Each test plays a client that keeps the mailbox's HIGHESTMODSEQ as RFC
7162 lets it: the highest MODSEQ of a FETCH or SEARCH it was sent, or the
HIGHESTMODSEQ response code if one comes after. It loses the connection
right after the command, resyncs with SELECT (QRESYNC (uv told 1:4)) and
must be told VANISHED (EARLIER) for the UID expunged meanwhile."""
import re

from imap_helpers import IMAPRaw, deliver, new_user, status_of
from test_imap_condstore import fetches, highest, ok, vanished
from test_imap_notify import notify_session, other_session

EXPUNGED = 3   # the UID the other session expunges


def told(lines, start):
    """The HIGHESTMODSEQ a client keeps after lines: the last response
    code, or a higher MODSEQ of a FETCH/SEARCH sent after it"""
    value = start
    for line in lines:
        m = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", line)
        if m:
            value = int(m.group(1))
            continue
        m = re.search(rb"MODSEQ \(?(\d+)\)?", line)
        if m:
            value = max(value, int(m.group(1)))
    return value


def mailbox(postel):
    """A user with UIDs 1..4 in INBOX: (user, pw)"""
    user, pw = new_user(postel)
    for _ in range(4):
        deliver(postel, user)
    return user, pw


def selected(port, user, pw):
    """A session with QRESYNC on and INBOX selected: (c, uidvalidity, hms)"""
    c = IMAPRaw(port, tls=True)
    c.login(user, pw)
    ok(c, "ENABLE QRESYNC")
    _, untagged = ok(c, "SELECT INBOX")
    uv = int(re.search(rb"\[UIDVALIDITY (\d+)\]", b"".join(untagged)).group(1))
    return c, uv, highest(untagged)


def expunge_elsewhere(c):
    """the other session expunges UID 3 and changes message 1's flags
    after it: both MODSEQs are above the first session's"""
    ok(c, "SELECT INBOX")
    ok(c, f"UID STORE {EXPUNGED} +FLAGS.SILENT (\\Deleted)")
    ok(c, f"UID EXPUNGE {EXPUNGED}")
    ok(c, "UID STORE 1 +FLAGS.SILENT (\\Flagged)")


def resync(port, user, pw, uv, modseq):
    """A new session's QRESYNC from modseq: its untagged lines"""
    with IMAPRaw(port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        _, untagged = ok(c, f"SELECT INBOX (QRESYNC ({uv} {modseq} 1:4))")
        return untagged


def run_command(postel, command, want_modseq=True):
    user, pw = mailbox(postel)
    c, uv, hms = selected(postel.imaps_port, user, pw)
    with c:
        with IMAPRaw(postel.imaps_port, tls=True) as other:
            other.login(user, pw)
            expunge_elsewhere(other)
        tagged, untagged = c.command(command)
        assert status_of(tagged) in ("OK", "NO"), (tagged, untagged)
        # the expunge is held back: the command may not report it
        assert not any(b"VANISHED" in x or b"EXPUNGE" in x for x in untagged), untagged
        if want_modseq:
            assert any(re.search(rb"MODSEQ \(?\d+", x) for x in untagged), untagged
        kept = told(untagged, hms)
    # the connection is lost here; the client resyncs from what it kept
    untagged = resync(postel.imaps_port, user, pw, uv, kept)
    assert vanished(untagged, True) == [EXPUNGED], (command, kept, untagged)
    assert 1 in fetches(untagged), untagged   # 1's \Flagged, after hms


def test_store_reports_highestmodseq_below_pending_expunge(postel):
    """the audit's case: STORE 1 +FLAGS (\\Seen) answers FETCH with a
    MODSEQ above the expunge of UID 3, which waits"""
    run_command(postel, "STORE 1 +FLAGS (\\Seen)")


def test_uid_store_too(postel):
    run_command(postel, "UID STORE 2 +FLAGS (\\Answered)")


def test_fetch_changedsince(postel):
    run_command(postel, "FETCH 1:2 (FLAGS) (CHANGEDSINCE 1)")


def test_fetch_modseq_and_implicit_seen(postel):
    run_command(postel, "FETCH 2 (MODSEQ)")
    run_command(postel, "FETCH 2 (BODY[HEADER])")


def test_search_modseq(postel):
    run_command(postel, "SEARCH MODSEQ 1")


def test_sort_modseq(postel):
    """SORT with a MODSEQ key reports a MODSEQ too (RFC 7162 3.1.5, 7)"""
    run_command(postel, "SORT (ARRIVAL) UTF-8 MODSEQ 1")


def test_no_highestmodseq_without_pending_expunge(postel):
    """nothing is held back: the answers are as before (no extra line)"""
    user, pw = mailbox(postel)
    c, _, _ = selected(postel.imaps_port, user, pw)
    with c:
        for command in ("STORE 1 +FLAGS (\\Seen)", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
                        "SEARCH MODSEQ 1"):
            _, untagged = ok(c, command)
            assert highest(untagged) is None, (command, untagged)


def test_selected_delayed_flag_change(postel):
    """NOTIFY SELECTED-DELAYED pushes another session's flag change (with
    its MODSEQ) at once while its earlier expunge waits for a command"""
    user, pw = mailbox(postel)
    c, pid = notify_session(postel, user, pw)
    with c:
        ok(c, "ENABLE QRESYNC")
        _, untagged = ok(c, "SELECT INBOX")
        uv = int(re.search(rb"\[UIDVALIDITY (\d+)\]", b"".join(untagged)).group(1))
        hms = highest(untagged)
        ok(c, "NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge FlagChange))")
        with other_session(postel, user, pw, pid) as other:
            expunge_elsewhere(other)
        # the pushed lines, until the \Flagged of message 1 and a quiet second
        pushed = []
        for _ in range(20):
            try:
                pushed.append(c.read_line(timeout=1.5))
            except TimeoutError:
                break
        assert any(b"\\Flagged" in x and b"MODSEQ" in x for x in pushed), pushed
        assert not any(b"VANISHED" in x or b"EXPUNGE" in x for x in pushed), pushed
        kept = told(pushed, hms)
    untagged = resync(postel.imaps_port, user, pw, uv, kept)
    assert vanished(untagged, True) == [EXPUNGED], (kept, pushed, untagged)


def test_own_uid_move_and_uid_expunge_give_vanished(postel):
    """RFC 7162 3.2.10 and RFC 6851 4.3: once QRESYNC is on, the session
    that expunges (UID EXPUNGE, RFC 4315 2.1) or moves (MOVE, UID MOVE)
    is told VANISHED, never EXPUNGE; the other session as well."""
    user, pw = mailbox(postel)
    deliver(postel, user)   # UID 5
    c, _, _ = selected(postel.imaps_port, user, pw)
    with c:
        ok(c, "CREATE Dest")
        for command, gone in (("UID MOVE 2 Dest", [2]), ("MOVE 1 Dest", [1])):
            _, untagged = ok(c, command)
            assert vanished(untagged, False) == gone, (command, untagged)
            assert not any(x.endswith(b"EXPUNGE\r\n") for x in untagged), untagged
            # RFC 6851 4.3: the COPYUID comes before the expunge's report
            assert untagged[0].startswith(b"* OK [COPYUID "), untagged
        ok(c, "UID STORE 3:5 +FLAGS.SILENT (\\Deleted)")
        _, untagged = ok(c, "UID EXPUNGE 4:5")
        assert vanished(untagged, False) == [4, 5], untagged
        assert not any(x.endswith(b"EXPUNGE\r\n") for x in untagged), untagged
        _, untagged = ok(c, "UID SEARCH ALL")
        assert untagged == [b"* SEARCH 3\r\n"], untagged


def test_status_of_selected_mailbox(postel):
    """STATUS (HIGHESTMODSEQ) of the selected mailbox while another
    session's expunge is held back: the session's own value (RFC 7162 3.2;
    RFC 9051 6.3.11 discourages the command, clients send it), which a
    resync from still learns the expunge from"""
    run_command(postel, "STATUS INBOX (HIGHESTMODSEQ MESSAGES)")


def test_list_status_of_selected_mailbox(postel):
    """the same through LIST-STATUS (RFC 5819)"""
    run_command(postel, 'LIST "" "INBOX" RETURN (STATUS (HIGHESTMODSEQ))')


def status_hms(untagged):
    """the HIGHESTMODSEQ of the STATUS line"""
    line = [x for x in untagged if x.startswith(b"* STATUS ")][0]
    return int(re.search(rb"HIGHESTMODSEQ (\d+)", line).group(1))


def test_status_of_selected_mailbox_when_nothing_is_held(postel):
    """nothing held back (only a flag change by another session, or the
    expunge already reported): STATUS gives the mailbox's HIGHESTMODSEQ"""
    user, pw = mailbox(postel)
    c, _, hms = selected(postel.imaps_port, user, pw)
    with c:
        with IMAPRaw(postel.imaps_port, tls=True) as other:
            other.login(user, pw)
            ok(other, "SELECT INBOX")
            ok(other, "UID STORE 1 +FLAGS.SILENT (\\Flagged)")
            _, untagged = ok(other, "STATUS INBOX (HIGHESTMODSEQ)")
            now = status_hms(untagged)
        assert now > hms
        _, untagged = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        assert status_hms(untagged) == now, untagged
        with IMAPRaw(postel.imaps_port, tls=True) as other:
            other.login(user, pw)
            expunge_elsewhere(other)
            _, untagged = ok(other, "STATUS INBOX (HIGHESTMODSEQ)")
            now = status_hms(untagged)
        _, untagged = ok(c, "NOOP")
        assert vanished(untagged, False) == [EXPUNGED], untagged
        _, untagged = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        assert status_hms(untagged) == now, untagged


def test_first_condstore_command_announces_what_the_session_knows(postel):
    """RFC 7162 3.1 and 3.1.2.1: the first CONDSTORE-enabling command in
    the selected state is answered with OK [HIGHESTMODSEQ n] as well; n is
    the mailbox's as this session knows it (its last sync), not the
    store's current value, which counts another session's expunge and
    flag change not reported yet (3.2's rule): a client that resyncs from
    n learns both. Each kind of enabling command."""
    for command in ("FETCH 2 (MODSEQ)", "FETCH 2 (FLAGS) (CHANGEDSINCE 1)",
                    "SEARCH MODSEQ 1", "STATUS INBOX (HIGHESTMODSEQ)",
                    "STORE 2 (UNCHANGEDSINCE 1) +FLAGS.SILENT (\\Seen)",
                    "ENABLE CONDSTORE"):
        user, pw = mailbox(postel)
        with IMAPRaw(postel.imaps_port, tls=True) as c:
            c.login(user, pw)
            _, untagged = ok(c, "SELECT INBOX")
            assert highest(untagged) is None, untagged   # CONDSTORE is off
            uv = int(re.search(rb"\[UIDVALIDITY (\d+)\]", b"".join(untagged)).group(1))
            with IMAPRaw(postel.imaps_port, tls=True) as other:
                other.login(user, pw)
                _, untagged = ok(other, "STATUS INBOX (HIGHESTMODSEQ)")
                before = status_hms(untagged)
                expunge_elsewhere(other)
            tagged, untagged = c.command(command)
            assert status_of(tagged) == "OK", (command, tagged)
            announced = [int(m.group(1)) for m in
                         (re.search(rb"^\* OK \[HIGHESTMODSEQ (\d+)\]", x) for x in untagged)
                         if m]
            assert announced == [before], (command, before, untagged)
        untagged = resync(postel.imaps_port, user, pw, uv, before)
        assert vanished(untagged, True) == [EXPUNGED], (command, untagged)
        assert 1 in fetches(untagged), (command, untagged)
