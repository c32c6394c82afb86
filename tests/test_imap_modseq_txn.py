"""One MODSEQ per command (store schema 8, RFC 7162 3.1.1: a MODSEQ only
has to grow with each change; the messages one command changes may share
one): a STORE over many messages gives them one MODSEQ and raises
HIGHESTMODSEQ by one, as does an EXPUNGE of many; the next command goes
above; a client that saw HIGHESTMODSEQ n still gets every later change
with CHANGEDSINCE n and QRESYNC. (test_imap_condstore.py holds the rest
of CONDSTORE/QRESYNC; this file keeps that one under 500 lines.)"""
import re

from imap_helpers import IMAPRaw, deliver, new_user, status_of

N = 12


def ok(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "OK", (text, tagged, untagged)
    return tagged, untagged


def highest(lines):
    for line in lines:
        m = re.search(rb"HIGHESTMODSEQ \(?(\d+)", line)
        if m:
            return int(m.group(1))
    return None


def modseqs(untagged):
    """{uid: modseq} of the untagged FETCH lines"""
    out = {}
    for line in untagged:
        uid = re.search(rb" FETCH \(.*UID (\d+)", line)
        ms = re.search(rb"MODSEQ \((\d+)\)", line)
        if uid and ms:
            out[int(uid.group(1))] = int(ms.group(1))
    return out


def test_one_modseq_per_store_and_expunge(postel):
    user, pw = new_user(postel)
    for _ in range(N):
        deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        _, untagged = ok(c, "SELECT INBOX")
        base = highest(untagged)
        uv = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(untagged)).group(1))
        _, untagged = ok(c, "UID SEARCH ALL")
        uids = [int(x) for x in untagged[0].split()[2:]]
        assert len(uids) == N, untagged
        # one STORE over all N: one MODSEQ, HIGHESTMODSEQ + 1
        _, untagged = ok(c, f"STORE 1:{N} +FLAGS (\\Flagged)")
        got = modseqs(untagged)
        assert sorted(got) == uids and set(got.values()) == {base + 1}, untagged
        _, untagged = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        assert highest(untagged) == base + 1, untagged
        # the next STORE goes above; then \Deleted on 4 and one EXPUNGE
        _, untagged = ok(c, "STORE 1:2 -FLAGS (\\Flagged)")
        assert set(modseqs(untagged).values()) == {base + 2}, untagged
        ok(c, "STORE 3:6 +FLAGS.SILENT (\\Deleted)")
        _, untagged = ok(c, "EXPUNGE")
        assert any(x.startswith(b"* VANISHED ") for x in untagged), untagged
        _, untagged = ok(c, "STATUS INBOX (HIGHESTMODSEQ)")
        assert highest(untagged) == base + 4, untagged
    # a client that saw base + 1 gets every change after it, and only those
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        c.login(user, pw)
        ok(c, "ENABLE QRESYNC")
        _, untagged = ok(c, f"SELECT INBOX (QRESYNC ({uv} {base + 1}))")
        gone = [line for line in untagged if line.startswith(b"* VANISHED (EARLIER) ")]
        assert gone == [f"* VANISHED (EARLIER) {uids[2]}:{uids[5]}\r\n".encode()], untagged
        got = modseqs(untagged)
        assert got == {uids[0]: base + 2, uids[1]: base + 2}, untagged
        assert highest(untagged) == base + 4, untagged
        # CHANGEDSINCE base: all N - 4 left, the flagged ones at base + 1
        _, untagged = ok(c, f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base})")
        got = modseqs(untagged)
        assert sorted(got) == uids[:2] + uids[6:], untagged
        assert all(got[u] == base + 1 for u in uids[6:]), untagged
