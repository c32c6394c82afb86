"""SORT, UID SORT and ESORT with a MODSEQ search key (RFC 5256 3 with
RFC 7162): like SEARCH MODSEQ, a CONDSTORE enabling command (7162 3.1:
the first in the selected state is told HIGHESTMODSEQ, and from then on
a flag change's FETCH carries UID and MODSEQ, 3.2), answered with the
highest MODSEQ of the matches: "* SORT n... (MODSEQ m)" (7162 section 7,
sort-data), "MODSEQ m" at the end of ESORT's ESEARCH (3.1.5 with RFC
5267), nothing after an empty answer. Without a MODSEQ key SORT leaves
CONDSTORE off."""
import re

from test_imap_condstore import fetches, highest, ok, open_box, session


def modseqs(postel, user, pw):
    """{uid: modseq}, read by another session (whose FETCH MODSEQ enables
    CONDSTORE there, not in the session under test)"""
    other, _, _ = open_box(postel, user, pw)
    with other:
        _, untagged = ok(other, "FETCH 1:* (UID MODSEQ)")
    return {uid: m for uid, (_, m) in fetches(untagged).items()}


def flag_fetch_has_modseq(c, seq, flag):
    _, untagged = ok(c, f"STORE {seq} +FLAGS ({flag})")
    lines = [x for x in untagged if b" FETCH (" in x]
    assert len(lines) == 1, untagged
    return b"MODSEQ" in lines[0]


def test_sort_modseq_enables_condstore_and_answers_modseq(postel):
    user, pw = session(postel, 3)
    other, _, _ = open_box(postel, user, pw)
    with other:
        ok(other, "STORE 2 +FLAGS (\\Draft)")
    ms = modseqs(postel, user, pw)
    uids = sorted(ms)
    c, _, untagged = open_box(postel, user, pw)  # no CONDSTORE yet
    with c:
        assert highest(untagged) is None, untagged
        assert not flag_fetch_has_modseq(c, 3, "\\Answered")
        ms = modseqs(postel, user, pw)
        # RFC 7162 3.1: enabled by SORT's MODSEQ key; HIGHESTMODSEQ told
        _, untagged = ok(c, f"UID SORT (ARRIVAL) UTF-8 MODSEQ {ms[uids[1]]}")
        # (the view's, as of its last sync: this session's own STORE
        # since may be above it; a lower value only costs a refetch)
        assert highest(untagged) is not None, untagged
        assert highest(untagged) <= max(ms.values()), untagged
        want = [u for u in uids if ms[u] >= ms[uids[1]]]
        top = max(ms[u] for u in want)
        sort = [x for x in untagged if x.startswith(b"* SORT")]
        assert sort == [("* SORT " + " ".join(map(str, want)) +
                         f" (MODSEQ {top})\r\n").encode()], untagged
        # 3.2: from now on a flag change's FETCH carries MODSEQ
        assert flag_fetch_has_modseq(c, 1, "\\Flagged")
        ms = modseqs(postel, user, pw)
        # sequence numbers, and the highest of the matches only
        _, untagged = ok(c, f'SORT (ARRIVAL) UTF-8 UID {uids[1]} MODSEQ "/flags/\\\\draft" all 1')
        assert untagged == [f"* SORT 2 (MODSEQ {ms[uids[1]]})\r\n".encode()], untagged
        # ESORT (RFC 5267): ESEARCH with MODSEQ last (the UIDs are 1..3)
        _, untagged = ok(c, "UID SORT RETURN (ALL COUNT) (ARRIVAL) UTF-8 MODSEQ 1")
        assert re.match(rb'\* ESEARCH \(TAG "t\d+"\) UID COUNT 3 ALL 1:3 MODSEQ ' +
                        str(max(ms.values())).encode() + rb"\r\n$", untagged[0]), untagged
        # nothing matched: no MODSEQ
        _, untagged = ok(c, f"SORT (ARRIVAL) UTF-8 MODSEQ {max(ms.values()) + 1}")
        assert untagged == [b"* SORT\r\n"], untagged


def test_sort_without_modseq_leaves_condstore_off(postel):
    user, pw = session(postel, 2)
    c, _, _ = open_box(postel, user, pw)
    with c:
        _, untagged = ok(c, "SORT (ARRIVAL) UTF-8 ALL")
        assert untagged == [b"* SORT 1 2\r\n"], untagged
        assert not flag_fetch_has_modseq(c, 1, "\\Flagged")
