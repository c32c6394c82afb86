"""THREADID (RFC 8474 5.2) from the same threading as THREAD=REFERENCES
(RFC 5256 4; issue 12 item 6). Both read a message's ids by one rule
(src/mime/mime_references.h) and the store gathers a reply or forward
that links to no known thread into the thread whose root has its base
subject (RFC 5256 4 step 6). So mail delivered in date order, parents
before children, gets THREADID groups equal to the top-level groups of
THREAD=REFERENCES over the same mailbox.

Where they must differ: a THREADID never changes (RFC 8474 5.2), so a
later message cannot merge two threads. A child that arrives first
starts a thread; its parent, arriving later and naming an ancestor that
another thread already holds, joins that other thread: THREAD=REFERENCES
shows one thread, THREADID two (test_later_merge_differs; README). And
only a reply or forward joins by subject: two unrelated messages that
are not replies but share a subject ("Hello") keep their own THREADIDs,
where THREAD=REFERENCES step 6 puts them under one dummy."""
import calendar
import re
import time

from fetch_helpers import FetchClient, fetch_items, fetches
from imap_helpers import new_user, status_of
from test_imap_append_idle import append_raw

BASE = calendar.timegm((2025, 3, 1, 9, 0, 0))


def session(srv):
    user, pw = new_user(srv)
    c = FetchClient(srv.imaps_port, tls=True)
    c.login(user, pw)
    return c


def deliver(c, messages):
    """APPEND each (headers) in order, a minute apart in Date:."""
    for i, headers in enumerate(messages):
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(BASE + 60 * i))
        text = "".join(f"{k}: {v}\r\n" for k, v in headers + [("Date", date)])
        tagged, _ = append_raw(c, "INBOX", (text + f"\r\nbody {i}\r\n").encode())
        assert status_of(tagged) == "OK", tagged


def thread_groups(c):
    """The top-level threads of THREAD=REFERENCES: a set of frozensets."""
    tagged, untagged = c.command("THREAD REFERENCES UTF-8 ALL")
    assert status_of(tagged) == "OK", tagged
    line = [l for l in untagged if l.startswith(b"* THREAD")]
    assert len(line) == 1, untagged
    groups, depth, cur = set(), 0, []
    for tok in re.findall(rb"\(|\)|\d+", line[0][len(b"* THREAD"):]):
        if tok == b"(":
            depth += 1
        elif tok == b")":
            depth -= 1
            if depth == 0:
                groups.add(frozenset(cur))
                cur = []
        else:
            cur.append(int(tok))
    assert depth == 0, line
    return groups


def threadid_groups(c, count):
    tagged, untagged = c.command(f"FETCH 1:{count} (THREADID)")
    assert status_of(tagged) == "OK", tagged
    by_thread = {}
    for seq, resp in fetches(untagged).items():
        by_thread.setdefault(fetch_items(resp)["THREADID"][0], set()).add(seq)
    assert sum(len(s) for s in by_thread.values()) == count, untagged
    return {frozenset(s) for s in by_thread.values()}


MESSAGES = [
    [("Message-ID", "<a1@t.example>"), ("Subject", "budget")],                 # 1
    [("Message-ID", "<a2@t.example>"), ("References", "<a1@t.example>"),
     ("Subject", "Re: budget")],                                                # 2
    [("Message-ID", "<b1@t.example>"), ("Subject", "lunch")],                  # 3
    [("Message-ID", "<a3@t.example>"),
     ("References", "<a1@t.example>\r\n <a2@t.example>"),
     ("Subject", "Re: budget")],                                                # 4
    [("Message-ID", "<b2@t.example>"),
     ("In-Reply-To", "Your note of today <b1@t.example>"),
     ("Subject", "RE: lunch")],                                                 # 5
    # a reply by subject only: no ids name a known message
    [("Message-ID", "<s1@t.example>"), ("Subject", "Re: [team] Lunch")],       # 6
    [("Message-ID", "<c1@t.example>"), ("Subject", "release plan")],           # 7
    # a forward whose parent never arrived: a dummy, then the subject
    [("Message-ID", "<f1@t.example>"), ("References", "<gone@t.example>"),
     ("Subject", "Fwd: release plan")],                                         # 8
    # References rules, In-Reply-To is not read (RFC 5256 4 1.A): its
    # parent is the unknown x9, not a1
    [("Message-ID", "<d1@t.example>"), ("References", "<x9@t.example>"),
     ("In-Reply-To", "<a1@t.example>"), ("Subject", "dinner")],                # 9
    [("Subject", "")],                                                          # 10
    # a reply to the forward, and a reply to the subject-only reply
    [("Message-ID", "<f2@t.example>"), ("In-Reply-To", "<f1@t.example>"),
     ("Subject", "Re: Fwd: release plan")],                                     # 11
    [("References", "<b1@t.example> <s1@t.example>"), ("Subject", "Re: lunch")],  # 12
]


def test_threadid_groups_equal_thread_references(postel):
    with session(postel) as c:
        deliver(c, MESSAGES)
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        refs = thread_groups(c)
        assert refs == {frozenset({1, 2, 4}), frozenset({3, 5, 6, 12}),
                        frozenset({7, 8, 11}), frozenset({9}), frozenset({10})}, refs
        assert threadid_groups(c, len(MESSAGES)) == refs


def test_later_merge_differs(postel):
    """The documented difference: THREAD=REFERENCES merges, THREADID
    cannot (RFC 8474 5.2)."""
    with session(postel) as c:
        deliver(c, [
            # the child first: it starts thread T1; q and p point at T1
            [("Message-ID", "<c@u.example>"), ("References", "<q@u.example> <p@u.example>"),
             ("Subject", "Re: alpha")],
            # a stranger under the unknown r: thread T2, r points at T2
            [("Message-ID", "<d@u.example>"), ("References", "<r@u.example>"),
             ("Subject", "Re: beta")],
            # the child's parent names r: it joins T2 (its References
            # come before its own id), while its child stays in T1;
            # THREAD=REFERENCES shows r > (p > c, d) as one thread
            [("Message-ID", "<p@u.example>"), ("References", "<r@u.example>"),
             ("Subject", "Re: gamma")],
        ])
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        assert thread_groups(c) == {frozenset({1, 2, 3})}
        assert threadid_groups(c, 3) == {frozenset({1}), frozenset({2, 3})}


def test_non_replies_by_subject_differ(postel):
    """A reply joins by subject, a message that is not one does not
    (RFC 5256 4 step 6 gathers both in THREAD=REFERENCES)."""
    with session(postel) as c:
        deliver(c, [[("Message-ID", "<h1@v.example>"), ("Subject", "Hello")],
                    [("Message-ID", "<h2@v.example>"), ("Subject", "hello")],
                    [("Message-ID", "<h3@v.example>"), ("Subject", "Re: HELLO")]])
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        assert thread_groups(c) == {frozenset({1, 2, 3})}
        assert threadid_groups(c, 3) == {frozenset({1, 3}), frozenset({2})}
