"""IMAP hot paths that read only what they report (issue 9 review findings,
src/store/store_view.h): SELECT takes [UNSEEN] and FLAGS from the index's
unseen index and keyword list, not from a listing of every message (so a
keyword once set stays in FLAGS, RFC 9051 7.3.5, even when no message
holds it any more); STORE reports the flags the store returns for its set;
FETCH reads its set in batches of 256 (src/imap/imap_fetch_cmd.c), setting
\\Seen batch by batch; EXPUNGE takes the \\Deleted messages from the
index. A mailbox of 512 messages (copies of one) crosses the batch
boundaries."""
import re

from imap_helpers import IMAPRaw, deliver, new_user, status_of

N = 512


def ok(c, text):
    tagged, untagged = c.command(text)
    assert status_of(tagged) == "OK", (text, tagged)
    return untagged


def fetch_items(untagged):
    """{seq: line} of the untagged FETCH responses"""
    out = {}
    for line in untagged:
        m = re.match(rb"\* (\d+) FETCH ", line)
        if m:
            out[int(m.group(1))] = line
    return out


def mailbox_of(postel, c, n):
    user, pw = new_user(postel)
    deliver(postel, user)
    c.login(user, pw)
    ok(c, "SELECT INBOX")
    count = 1
    while count < n:  # doubling copies: flags kept, bodies shared
        ok(c, "COPY 1:* INBOX")
        count *= 2
        assert f"* {count} EXISTS\r\n".encode() in ok(c, "NOOP")
    return user, pw


def test_fetch_batches_seen_and_select_facts(postel):
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        mailbox_of(postel, c, N)
        untagged = ok(c, "SELECT INBOX")
        assert b"* OK [UNSEEN 1] First unseen\r\n" in untagged
        # FLAGS of every message, in order, across the batches
        items = fetch_items(ok(c, "FETCH 1:* (UID FLAGS)"))
        assert sorted(items) == list(range(1, N + 1))
        uids = [int(re.search(rb"UID (\d+)", items[i]).group(1)) for i in range(1, N + 1)]
        assert uids == sorted(uids)
        # a body fetch sets \Seen batch by batch and says so in each answer
        untagged = ok(c, "FETCH 200:400 (BODY[HEADER.FIELDS (SUBJECT)])")
        assert sorted(fetch_items(untagged)) == list(range(200, 401))
        assert b"".join(untagged).count(b"FLAGS (\\Seen)") == 201
        items = fetch_items(ok(c, "FETCH 199:401 (FLAGS)"))
        assert b"\\Seen" not in items[199] and b"\\Seen" not in items[401]
        assert all(b"\\Seen" in items[i] for i in range(200, 401))
        # sparse UIDs (point lookups) and a UID not there (skipped)
        items = fetch_items(ok(c, f"UID FETCH {uids[0]},{uids[300]},{uids[-1] + 50} (FLAGS)"))
        assert sorted(items) == [1, 301]
        ok(c, "STORE 1:199 +FLAGS.SILENT (\\Seen)")
        ok(c, "STORE 401:* +FLAGS.SILENT (\\Seen)")
        assert not [x for x in ok(c, "SELECT INBOX") if b"[UNSEEN" in x]
        ok(c, "STORE 300 -FLAGS.SILENT (\\Seen)")
        assert b"* OK [UNSEEN 300] First unseen\r\n" in ok(c, "SELECT INBOX")
        # STORE reports its set only, each message once, with its flags
        untagged = ok(c, "STORE 255:258 +FLAGS ($Perf)")
        items = fetch_items(untagged)
        assert sorted(items) == [255, 256, 257, 258], untagged
        assert all(b"FLAGS (\\Seen $Perf)" in line for line in items.values())
        ok(c, "STORE 255:258 -FLAGS.SILENT ($Perf)")
        # no message holds $Perf now; the mailbox's keyword list keeps it
        untagged = ok(c, "SELECT INBOX")
        flags = [x for x in untagged if x.startswith(b"* FLAGS")]
        assert flags and b"$Perf" in flags[0], untagged
        perm = [x for x in untagged if b"[PERMANENTFLAGS" in x]
        assert perm and b"$Perf" in perm[0] and b"\\*" in perm[0], untagged
        # EXPUNGE: the \Deleted ones, highest first
        ok(c, "STORE 250:260 +FLAGS.SILENT (\\Deleted)")
        untagged = ok(c, "EXPUNGE")
        assert [x for x in untagged if x.endswith(b" EXPUNGE\r\n")] == \
            [f"* {i} EXPUNGE\r\n".encode() for i in range(260, 249, -1)]
        assert fetch_items(ok(c, "FETCH 250 (UID)"))[250].find(
            f"UID {uids[260]}".encode()) > 0
