"""SORT, UID SORT, ESORT and THREAD end to end (issue 12 item 2: RFC 5256,
RFC 5267, RFC 5957): the RFC 5256 examples replayed on mailboxes written
down as data (THREAD: one mailbox for both algorithms, as in the RFC), and every sort key and both threading algorithms checked
against a Python reference (sort_thread_ref.py) on a generated mailbox of
several hundred messages with replies, missing parents, duplicate and
absent Message-IDs and loops in References. The commands are those
Roundcube sends (UID SORT (DATE) UTF-8 ALL, UID THREAD REFERENCES UTF-8
ALL, SORT RETURN (...)); mutt and neomutt send neither (they thread
locally from headers)."""
import calendar
import random
import re
import time

from conftest import scaled
from imap_helpers import IMAPRaw, deliver, new_user, status_of
import sort_thread_ref as ref

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def imap_date(t):
    g = time.gmtime(t)
    return f"{g.tm_mday:02d}-{MONTHS[g.tm_mon - 1]}-{g.tm_year} " \
           f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0000"


def rfc5322_date(t, zone_min=0):
    g = time.gmtime(t + zone_min * 60)
    sign = "-" if zone_min < 0 else "+"
    z = abs(zone_min)
    return f"{time.strftime('%a', g)}, {g.tm_mday} {MONTHS[g.tm_mon - 1]} {g.tm_year} " \
           f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} {sign}{z // 60:02d}{z % 60:02d}"


def message(headers, body="body\r\n"):
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n" + body.encode()


def append_all(c, mailbox, items):
    """APPEND each (bytes, internal epoch) with LITERAL- literals,
    pipelined in batches; asserts every one is OK."""
    for start in range(0, len(items), 50):
        tags = []
        out = b""
        for msg, internal in items[start:start + 50]:
            assert len(msg) <= 4096
            tag = c.tag()
            tags.append(tag)
            out += f'{tag} APPEND {mailbox} "{imap_date(internal)}" {{{len(msg)}+}}\r\n'.encode() \
                + msg + b"\r\n"
        c.send(out)
        for tag in tags:
            tagged, _ = c.read_tagged(tag, timeout=30)
            assert status_of(tagged) == "OK", tagged


def answer(c, cmd, prefix):
    tagged, untagged = c.command(cmd, timeout=60)
    assert status_of(tagged) == "OK", (cmd, tagged)
    lines = [l.decode().rstrip("\r\n") for l in untagged if l.startswith(prefix)]
    assert len(lines) == 1, (cmd, untagged)
    return lines[0]


def sort_of(c, cmd):
    return answer(c, cmd, b"* SORT")[len("* SORT"):].split()


def thread_of(c, cmd):
    return answer(c, cmd, b"* THREAD")[len("* THREAD "):]


def session(srv):
    user, pw = new_user(srv)
    c = IMAPRaw(srv.imaps_port, tls=True, timeout=30)
    c.login(user, pw)
    # some generated headers are raw UTF-8: APPEND takes them only with
    # UTF8=ACCEPT enabled (RFC 6855 4)
    tagged, _ = c.command("ENABLE UTF8=ACCEPT")
    assert status_of(tagged) == "OK", tagged
    return c


def test_capabilities_and_errors(postel):
    with session(postel) as c:
        caps = answer(c, "CAPABILITY", b"* CAPABILITY").split()
        for cap in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT",
                    "THREAD=REFERENCES"):
            assert cap in caps, caps
        tagged, _ = c.command("SORT (DATE) UTF-8 ALL")
        assert status_of(tagged) == "BAD", tagged      # no mailbox selected
        c.command("SELECT INBOX")
        tagged, _ = c.command("SORT (DATE) KOI8-R ALL")
        assert tagged.split()[1:3] == [b"NO", b"[BADCHARSET"], tagged
        tagged, _ = c.command("THREAD REFERENCES ISO-8859-2 ALL")
        assert tagged.split()[1:3] == [b"NO", b"[BADCHARSET"], tagged
        for bad in ("SORT DATE UTF-8 ALL", "SORT (DATE) ALL", "SORT (NAME) UTF-8 ALL",
                    "SORT (REVERSE) UTF-8 ALL", "THREAD JWZ UTF-8 ALL", "THREAD UTF-8 ALL",
                    "SORT RETURN (FOO) (DATE) UTF-8 ALL", "SORT (DATE) UTF-8 FROBNICATE"):
            tagged, _ = c.command(bad)
            assert status_of(tagged) == "BAD", (bad, tagged)
        assert sort_of(c, "SORT (DATE) UTF-8 ALL") == []
        assert thread_of(c, "THREAD REFERENCES UTF-8 ALL") == ""


def test_program_start_shared_with_search(postel):
    """SORT and THREAD start their search program as SEARCH does
    (imap_search_program_start()): under rev1 RECENT and NEW are this
    session's \\Recent messages and "$" the saved result; under IMAP4rev2
    (RFC 9051 6.4.4) RECENT, NEW and OLD are BAD in all three, the reply
    naming the command."""
    user, pw = new_user(postel)
    for _ in range(3):
        deliver(postel, user)
    with IMAPRaw(postel.imaps_port, tls=True, timeout=30) as c:
        c.login(user, pw)
        c.command("SELECT INBOX")          # claims the 3 as \Recent
        assert answer(c, "SEARCH RECENT", b"* SEARCH") == "* SEARCH 1 2 3"
        assert sort_of(c, "SORT (ARRIVAL) UTF-8 RECENT") == ["1", "2", "3"]
        assert sort_of(c, "SORT (ARRIVAL) UTF-8 OLD") == []
        assert thread_of(c, "THREAD ORDEREDSUBJECT UTF-8 NEW") != ""
        tagged, _ = c.command("SEARCH RETURN (SAVE) 2")
        assert status_of(tagged) == "OK", tagged
        assert sort_of(c, "SORT (ARRIVAL) UTF-8 $") == ["2"]
        assert sort_of(c, "SORT (ARRIVAL) UTF-8 NOT $") == ["1", "3"]
    with IMAPRaw(postel.imaps_port, tls=True, timeout=30) as c:
        c.login(user, pw)
        tagged, _ = c.command("ENABLE IMAP4rev2")
        assert status_of(tagged) == "OK", tagged
        c.command("SELECT INBOX")
        for cmd in ("SEARCH RECENT", "UID SEARCH NEW", "SORT (ARRIVAL) UTF-8 RECENT",
                    "UID SORT (DATE) UTF-8 OR SEEN OLD", "THREAD REFERENCES UTF-8 NEW",
                    "UID THREAD ORDEREDSUBJECT UTF-8 NOT RECENT"):
            tagged, _ = c.command(cmd)
            assert status_of(tagged) == "BAD", (cmd, tagged)
            name = cmd.split()[1] if cmd.startswith("UID ") else cmd.split()[0]
            assert f" {name} RECENT, NEW and OLD".encode() in tagged, (cmd, tagged)
        tagged, untagged = c.command("SORT (ARRIVAL) UTF-8 ALL")
        assert status_of(tagged) == "OK", tagged
        tagged, _ = c.command("SORT (ARRIVAL) KOI8-R ALL")
        assert tagged.split()[1:3] == [b"NO", b"[BADCHARSET"], tagged


def test_rfc5256_sort_examples(postel):
    """RFC 5256 3: SORT (SUBJECT REVERSE DATE) answers 5 3 4 1 2 on a
    mailbox where 5 has the first subject, 3 and 4 share the next (3
    sent later) and 1 and 2 the last (1 sent later)."""
    base = calendar.timegm((2000, 3, 6, 12, 0, 0))
    spec = [("ccc", 50), ("Re: ccc", 40), ("bbb", 30), ("[list] bbb", 20), ("aaa", 10)]
    items = [(message([("From", "x@example.org"), ("Subject", s),
                       ("Date", rfc5322_date(base + d * 60, 120))]), base) for s, d in spec]
    with session(postel) as c:
        c.command("SELECT INBOX")
        append_all(c, "INBOX", items)
        c.command("NOOP")
        assert sort_of(c, "SORT (SUBJECT REVERSE DATE) UTF-8 ALL") == "5 3 4 1 2".split()
        assert sort_of(c, 'SORT (SUBJECT) US-ASCII TEXT "not in mailbox"') == []
        assert sort_of(c, "SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994 2:4") == "3 4 2".split()
        # UID SORT answers UIDs; ESORT (RFC 5267) answers ESEARCH in sort order
        uids = sort_of(c, "UID SORT (REVERSE DATE) UTF-8 ALL")
        assert uids == "1 2 3 4 5".split()
        line = answer(c, "SORT RETURN (MIN MAX COUNT ALL) (SUBJECT REVERSE DATE) UTF-8 ALL",
                      b"* ESEARCH")
        assert re.fullmatch(r'\* ESEARCH \(TAG "t\d+"\) MIN 5 MAX 2 COUNT 5 ALL 5,3:4,1:2',
                            line), line
        line = answer(c, "UID SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT ccc", b"* ESEARCH")
        assert line.endswith(" UID COUNT 2"), line
        # RFC 5182 with ESORT: "$" keeps the matches (as a set)
        tagged, untagged = c.command("UID SORT RETURN (SAVE) (SUBJECT) UTF-8 SUBJECT bbb")
        assert status_of(tagged) == "OK" and not untagged, (tagged, untagged)
        assert answer(c, "UID SEARCH $", b"* SEARCH") == "* SEARCH 3 4"


# RFC 5256 4's example: A283, A284 and A285 run on ONE mailbox, whose
# messages 166..208 are the ones since 5-Mar-2000. The RFC does not list
# that mailbox; this is one that must give both of its answers, written
# down as data (sent-date order, subjects, References), not derived from
# the answers: the test used to build a mailbox per answer FROM the
# expected string, so any well-formed thread list (a wrong one too:
# ((177)(183)(182)(188)(184)(185)(186)(187)(189)) passed) came back as
# given. Here a wrong constant or a wrong algorithm fails.
RFC_SENT_ORDER = [166, 167, 168, 169, 172, 170, 171, 173, 174, 175, 176, 178, 181, 180, 179,
                  177, 183, 182, 188, 184, 185, 186, 187, 189, 190, 191, 192, 193, 194, 195,
                  196, 197, 198, 199, 200, 202, 201, 203, 204, 205, 206, 207, 208]
# base subjects shared by replies ("Re: topic N"); every other message
# has a topic of its own
RFC_SUBJECT_OF = {**{n: 174 for n in (175, 176, 178, 181, 180)},
                  **{n: 177 for n in (183, 182, 188, 184, 185, 186, 187, 189)},
                  195: 194, 197: 196, 198: 196, 202: 200, 207: 206}
# References: "x<k>" is a Message-ID no message of the mailbox has (a
# dummy parent for REFERENCES, RFC 5256 4 steps 1-2 and 4)
RFC_REFERENCES_OF = {
    170: "x1", 179: "x1",
    **{n: "x2" for n in (174, 175, 176, 178, 181, 180)},
    **{n: "x3" for n in (177, 183, 182, 188, 185, 187)},
    184: "x3 188", 189: "x3 188", 186: "x3 185",
    194: "x4", 195: "x4", 196: "x4 195", 198: "197", 202: "200", 206: "205", 207: "205 206"}


def rfc_example_mailbox():
    """Messages 1..165 before 5-Mar-2000 (internal date), 166..208 after,
    sent in RFC_SENT_ORDER a minute apart"""
    early = calendar.timegm((2000, 1, 1, 0, 0, 0))
    late = calendar.timegm((2000, 3, 6, 0, 0, 0))
    msgs = []
    for n in range(1, 209):
        if n < 166:
            msgs.append((message([("Subject", f"filler {n}"), ("Message-ID", f"<f{n}@rfc>")]),
                         early))
            continue
        topic = RFC_SUBJECT_OF.get(n)
        hdrs = [("Subject", f"Re: topic {topic}" if topic else f"topic {n}"),
                ("Date", rfc5322_date(late + 3600 + RFC_SENT_ORDER.index(n) * 60)),
                ("Message-ID", f"<m{n}@rfc>")]
        if n in RFC_REFERENCES_OF:
            hdrs.append(("References", " ".join(
                f"<{r}@rfc>" if r.startswith("x") else f"<m{r}@rfc>"
                for r in RFC_REFERENCES_OF[n].split())))
        msgs.append((message(hdrs), late))
    return msgs


# RFC 5256 4, verbatim (the lines of A283's and A285's answers joined)
RFC_ORDEREDSUBJECT = (
    "(166)(167)(168)(169)(172)(170)(171)"
    "(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)"
    "(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)"
    "(193)(194 195)(196 (197)(198))(199)(200 202)(201)"
    "(203)(204)(205)(206 207)(208)")
RFC_REFERENCES = (
    "(166)(167)(168)(169)(172)((170)(179))"
    "(171)(173)((174)(175)(176)(178)(181)(180))"
    "((177)(183)(182)(188 (184)(189))(185 186)(187))"
    "(190)(191)(192)(193)((194)(195 196))(197 198)"
    "(199)(200 202)(201)(203)(204)(205 206 207)(208)")


def test_rfc5256_thread_examples(postel):
    """RFC 5256 4's three THREAD commands and answers on one mailbox."""
    with session(postel) as c:
        append_all(c, "INBOX", rfc_example_mailbox())
        c.command("SELECT INBOX")
        assert thread_of(c, "THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000") == RFC_ORDEREDSUBJECT
        assert thread_of(c, 'THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"') == ""
        assert thread_of(c, "THREAD REFERENCES UTF-8 SINCE 5-MAR-2000") == RFC_REFERENCES


def generated_mailbox(seed, count):
    """(raw messages with internal dates, header lists) with replies,
    missing parents, duplicate / absent / malformed Message-IDs, loops
    in References, In-Reply-To only, subjects with Re:/Fwd:/[blob]/(fwd),
    several time zones, missing or bad dates and date ties."""
    rnd = random.Random(seed)
    names = ["Alice Smith", "bob", '"Doe, Jane"', "Zed", "", "Émile"]
    words = ["budget", "Lunch", "lunch", "release plan", "Hello world", "x", ""]
    base = calendar.timegm((2021, 5, 1, 0, 0, 0))
    out, infos = [], []
    for i in range(count):
        mid = f"<g{i}@gen.example>"
        kind = rnd.random()
        refs = []
        parent = rnd.randrange(i) if i and kind < 0.55 else None
        if parent is not None:
            prefs = infos[parent]["refs"] + ([infos[parent]["mid"]] if infos[parent]["mid"] else [])
            refs = prefs[-rnd.randint(1, 4):]
            subject = rnd.choice(["Re: ", "RE: Re: ", "Fwd: ", "[list] Re: ", ""]) + \
                infos[parent]["subject"] + rnd.choice(["", "", " (fwd)"])
        else:
            subject = rnd.choice(["", "", "[list] ", "Re: "]) + rnd.choice(words)
        if kind > 0.55 and kind < 0.62:
            refs = [f"<missing{rnd.randrange(5)}@gen.example>"]     # missing parent
        if kind > 0.62 and kind < 0.66 and i:
            mid = infos[rnd.randrange(i)]["mid"] or mid              # duplicate
        if kind > 0.66 and kind < 0.69:
            refs = [f"<g{i + 1}@gen.example>", mid]                  # loop
        if kind > 0.69 and kind < 0.72:
            mid = None
        if kind > 0.72 and kind < 0.74:
            mid = "no-brackets@gen.example"
        sent = base + rnd.randrange(0, 30 * 86400, 600)
        zone = rnd.choice([0, 60, -300, 330, -720])
        date = rnd.choice([rfc5322_date(sent, zone)] * 8 + [None, "not a date"])
        hdrs = [("From", f"{rnd.choice(names)} <{rnd.choice('abcdef')}{i % 7}@x{i % 3}.example>"
                 if rnd.random() < 0.9 else "undisclosed-recipients:;")]
        if rnd.random() < 0.8:
            hdrs.append(("To", f"{rnd.choice(names)} <{rnd.choice('uvwxyz')}@y.example>"))
        if rnd.random() < 0.4:
            hdrs.append(("Cc", f"<{rnd.choice('klmn')}{i % 5}@z.example>"))
        hdrs.append(("Subject", subject))
        if date:
            hdrs.append(("Date", date))
        if mid:
            hdrs.append(("Message-ID", mid))
        if refs and rnd.random() < 0.8:
            hdrs.append(("References", " ".join(refs)))
        elif refs:
            hdrs.append(("In-Reply-To", f"Your message of today {refs[-1]}"))
        body = "line of text\r\n" * rnd.randrange(1, 40)
        raw = message([(k, v.encode("utf-8").decode("latin-1") if False else v)
                       for k, v in hdrs], body)
        internal = base + rnd.randrange(0, 30 * 86400, 3600)
        out.append((raw, internal))
        infos.append({"mid": mid if mid and mid.startswith("<") else None,
                      "refs": refs, "subject": ref.base_subject(subject)[0]})
    return out


def reference_messages(items):
    msgs = []
    for seq, (raw, internal) in enumerate(items, 1):
        head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
        headers = [tuple(l.split(": ", 1)) for l in head.split("\r\n")]
        msgs.append(ref.Msg(seq, seq, len(raw), internal, headers))
    return msgs


def test_generated_mailbox_against_reference(postel):
    items = generated_mailbox(5256, 360)
    msgs = reference_messages(items)
    with session(postel) as c:
        c.command("SELECT INBOX")
        started = time.monotonic()
        append_all(c, "INBOX", items)
        c.command("NOOP")
        appended = time.monotonic() - started
        criteria = [[("SUBJECT", False)], [("DATE", False)], [("ARRIVAL", True)],
                    [("SIZE", False), ("DATE", True)], [("FROM", False), ("SUBJECT", True)],
                    [("TO", False)], [("CC", True), ("ARRIVAL", False)],
                    [("DISPLAYFROM", False)], [("DISPLAYTO", True), ("SIZE", False)]]
        for crit in criteria:
            text = " ".join(("REVERSE " if rev else "") + k for k, rev in crit)
            want = [str(m.seq) for m in ref.sort(msgs, crit)]
            assert sort_of(c, f"SORT ({text}) UTF-8 ALL") == want, text
        # a search program narrows what is sorted; UID SORT answers UIDs
        larger = [m for m in msgs if m.size > 300]
        want = [str(m.uid) for m in ref.sort(larger, [("DATE", True)])]
        assert sort_of(c, "UID SORT (REVERSE DATE) UTF-8 LARGER 300") == want
        started = time.monotonic()
        got = thread_of(c, "THREAD REFERENCES UTF-8 ALL")
        took = time.monotonic() - started
        assert got == ref.render(ref.thread_references(msgs))
        assert thread_of(c, "UID THREAD REFERENCES UTF-8 ALL") == \
            ref.render(ref.thread_references(msgs), uid=True)
        assert thread_of(c, "THREAD ORDEREDSUBJECT UTF-8 ALL") == \
            ref.render(ref.thread_orderedsubject(msgs))
        some = [m for m in msgs if m.size <= 300]
        assert thread_of(c, "THREAD REFERENCES UTF-8 SMALLER 301") == \
            ref.render(ref.thread_references(some))
        print(f"appended={len(items)} in {appended:.2f}s thread_references={took:.3f}s")
        assert took < scaled(10)


def test_decoded_and_folded_strings(postel):
    """Subjects and display names compare RFC 2047 decoded and case
    folded (i;unicode-casemap's simple folding, RFC 5256 2.1, RFC 5957)."""
    base = calendar.timegm((2022, 1, 1, 0, 0, 0))
    spec = [("=?utf-8?q?=C3=84PFEL?=", "=?utf-8?q?=C3=89mile?= <z@x.example>"),
            ("Re: =?utf-8?q?=C3=A4pfel?=", "emile <a@x.example>"),
            ("zebra", "<b@x.example>"),
            ("[list] Apfel", "\"Zoe\" <c@x.example>")]
    items = [(message([("From", f), ("Subject", s), ("Date", rfc5322_date(base))]), base + i)
             for i, (s, f) in enumerate(spec)]
    with session(postel) as c:
        c.command("SELECT INBOX")
        append_all(c, "INBOX", items)
        c.command("NOOP")
        # "apfel" < "zebra" < "äpfel" (twice: REVERSE ARRIVAL decides)
        assert sort_of(c, "SORT (SUBJECT REVERSE ARRIVAL) UTF-8 ALL") == "4 3 2 1".split()
        # "b@x.example" (no name) < "emile" < "zoe" < "émile"
        assert sort_of(c, "SORT (DISPLAYFROM) UTF-8 ALL") == "3 2 4 1".split()
        # FROM is the addr-mailbox: a < b < c < z
        assert sort_of(c, "SORT (FROM) UTF-8 ALL") == "2 3 4 1".split()
        # one sent date for all: threads in mailbox order, "Äpfel" joined
        assert thread_of(c, "THREAD ORDEREDSUBJECT UTF-8 ALL") == "(1 2)(3)(4)"
