"""QRESYNC refinements (RFC 7162, issue 12 item 1): SELECT (QRESYNC ...)
sends the FETCH of changed messages for the known UIDs only (3.2.5),
the client's seq-match pairs narrow VANISHED (EARLIER) past the expunge
log's horizon (3.2.5.2) without leaving out a UID that is gone, ENABLE
CONDSTORE with a mailbox selected answers OK [HIGHESTMODSEQ] (3.1), and
UID FETCH (CHANGEDSINCE VANISHED) past the horizon (3.2.6)."""
import re
import time

from imap_helpers import IMAPRaw, status_of
from test_imap_condstore import (changed_mailbox, fetches, highest, ok, open_box,
                                 session, synced_box, vanished)


def fetch_lines(untagged):
    return [x for x in untagged if b" FETCH (" in x]


def test_select_qresync_fetches_known_uids_only(postel):
    user, pw, uids, uv, modseq = changed_mailbox(postel, 6)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        # 2 and 4 changed; the client holds 1:3 only: 2's FETCH alone
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq} {uids[0]}:{uids[2]}))")
        lines = fetch_lines(untagged)
        assert len(lines) == 1 and lines[0].startswith(
            f"* 2 FETCH (UID {uids[1]} FLAGS (\\Answered) MODSEQ (".encode()), untagged
        assert vanished(untagged, True) == [uids[2]], untagged
        # the client holds 4:6: 4's FETCH, 5 vanished
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq} "
                         f"{uids[3]},{uids[4]}:{uids[5]}))")
        assert sorted(fetches(untagged)) == [uids[3]], untagged
        assert vanished(untagged, True) == [uids[4]], untagged
        # known UIDs none of which changed: no FETCH at all
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq} {uids[5]}))")
        assert fetch_lines(untagged) == [], untagged
        # no known UIDs: every changed message (3.2.5.1)
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {modseq}))")
        assert sorted(fetches(untagged)) == [uids[1], uids[3]], untagged


def past_horizon(srv):
    """8 messages; 2 expunged; a client syncs (7 held, MODSEQ old); then 6
    and 7 expunged a second apart, so the log (days=0, max=0) forgets 6's
    expunge and old is behind the horizon. (user, pw, uids, uv, old)"""
    c, user, pw, uids, uv, _ = synced_box(srv, 8)
    with c:
        ok(c, "STORE 2 +FLAGS.SILENT (\\Deleted)")
        ok(c, "EXPUNGE")
        _, untagged = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        old = int(re.search(rb"HIGHESTMODSEQ (\d+)", untagged[0]).group(1))
        ok(c, f"UID STORE {uids[5]} +FLAGS.SILENT (\\Deleted)")
        ok(c, "EXPUNGE")
        time.sleep(1.2)   # older than expunge_log_days=0 by a second
        ok(c, f"UID STORE {uids[6]} +FLAGS.SILENT (\\Deleted)")
        ok(c, "EXPUNGE")
    return user, pw, uids, uv, old


def test_seq_match_narrows_vanished_past_horizon(postel_factory):
    srv = postel_factory(expunge_log_days=0, expunge_log_max=0)
    user, pw, uids, uv, old = past_horizon(srv)
    known = f"{uids[0]}:{uids[7]}"   # a range, 2 (long gone) inside
    with IMAPRaw(srv.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        # without seq-match: every known UID not there, 2 as well
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old} {known}))")
        assert vanished(untagged, True) == [uids[1], uids[5], uids[6]], untagged
        # the client had 1,3,4,5,6,7,8 as 1..7: 4 is still message 3, 6
        # (its 5) is gone: nothing at or below 4 is reported (3.2.5.2)
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old} {known} "
                         f"(1,3,5 {uids[0]},{uids[3]},{uids[5]})))")
        assert vanished(untagged, True) == [uids[5], uids[6]], untagged
        # 8 (its 7) is now message 5: no match there; the highest
        # match (1) bounds the answer and nothing gone is left out
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old} {known} "
                         f"(1,7 {uids[0]},{uids[7]})))")
        assert vanished(untagged, True) == [uids[1], uids[5], uids[6]], untagged
        # no pair matches: the full answer
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old} {known} "
                         f"(6:7 {uids[6]}:{uids[7]})))")
        assert vanished(untagged, True) == [uids[1], uids[5], uids[6]], untagged
        # a match above every gap: nothing to report
        _, untagged = ok(c, f"EXAMINE INBOX (QRESYNC ({uv} {old} {uids[0]}:{uids[4]} "
                         f"(4 {uids[4]})))")
        assert vanished(untagged, True) == [], untagged
        # the pairs are matched by position: the sets ascend (RFC 7162 7)
        for pairs in (f"(3,1 {uids[3]},{uids[0]})", f"(1,3 {uids[3]},{uids[0]})",
                      f"(1,1 {uids[0]},{uids[0]})"):
            tagged, _ = c.command(f"EXAMINE INBOX (QRESYNC ({uv} {old} {known} {pairs}))")
            assert status_of(tagged) == "BAD", (pairs, tagged)


def test_uid_fetch_vanished_past_horizon(postel_factory):
    """RFC 7162 3.2.6 past the horizon: the UIDs of the set that are not
    there, none that is"""
    srv = postel_factory(expunge_log_days=0, expunge_log_max=0)
    user, pw, uids, uv, old = past_horizon(srv)
    with IMAPRaw(srv.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        ok(c, "SELECT INBOX")
        _, untagged = ok(c, f"UID FETCH {uids[0]}:* (FLAGS) (CHANGEDSINCE {old} VANISHED)")
        assert untagged[0] == (f"* VANISHED (EARLIER) {uids[1]},{uids[5]}:{uids[6]}"
                               "\r\n").encode(), untagged
        _, untagged = ok(c, f"UID FETCH {uids[2]}:{uids[5]} (FLAGS) "
                         f"(CHANGEDSINCE {old} VANISHED)")
        assert vanished(untagged, True) == [uids[5]], untagged


def test_enable_condstore_while_selected(postel):
    user, pw = session(postel, 2)
    c, _, _ = open_box(postel, user, pw)
    with c:
        # RFC 7162 3.1: ENABLE CONDSTORE is CONDSTORE-enabling; in the
        # selected state the client is told HIGHESTMODSEQ (STATUS
        # HIGHESTMODSEQ would enable it too: asked after)
        _, untagged = ok(c, "ENABLE CONDSTORE")
        _, st = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", st[0]).group(1))
        assert untagged == [b"* ENABLED CONDSTORE\r\n",
                            f"* OK [HIGHESTMODSEQ {hms}] Highest\r\n".encode()], untagged
        # already on: neither ENABLED nor HIGHESTMODSEQ again
        _, untagged = ok(c, "ENABLE CONDSTORE QRESYNC")
        assert untagged == [b"* ENABLED QRESYNC\r\n"], untagged
        # others stay authenticated-state only (RFC 9051 6.3.1)
        tagged, _ = c.command("ENABLE UTF8=ACCEPT")
        assert status_of(tagged) == "BAD", tagged
    c, _, _ = open_box(postel, user, pw)
    with c:
        # QRESYNC implies CONDSTORE (3.2.3): the same announcement
        _, untagged = ok(c, "ENABLE QRESYNC")
        assert untagged[0] == b"* ENABLED QRESYNC\r\n", untagged
        assert highest(untagged) == hms, untagged
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        # authenticated state: no mailbox, no HIGHESTMODSEQ
        _, untagged = ok(c, "ENABLE CONDSTORE")
        assert untagged == [b"* ENABLED CONDSTORE\r\n"], untagged
