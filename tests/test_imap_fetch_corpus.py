"""FETCH over the shared MIME corpus (/work/shared/corpus/mime): each
message delivered over SMTP; BODY[] is the stored message. Python's email
package, an independent parser, reads BODY[] again and for every message
(corpus_compare.py) the BODYSTRUCTURE is compared part by part (type,
subtype, parameters, encoding, size in octets, lines of text parts), every
ENVELOPE field (date, subject, from, sender, reply-to, to, cc, bcc,
in-reply-to, message-id) and BODY[n] of every leaf against the bytes
Python's parser cut for it. Where the corpus ships stalwart's
.expected.json, BODY[n] is also checked against its body offsets, and
mime4j's .expected.xml against the part tree. Python is lenient in places:
where it and Postel knowingly differ, KNOWN says so and why, per aspect;
a listed divergence that no longer shows fails too, so the list stays
true. One session; the FETCHes are pipelined."""
import json
import pathlib
import re
import smtplib
import xml.etree.ElementTree as ET

import pytest

from conftest import BOB, scaled
from corpus_compare import (compare_envelope, compare_structure, is_message,
                            is_multi, parse, parts)
from fetch_helpers import FetchClient, fetch_items, fetches
from imap_helpers import new_user, status_of

CORPUS = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "mime"
if not CORPUS.is_dir():
    CORPUS = pathlib.Path("/work/shared/corpus/mime")
FILES = sorted(CORPUS.glob("*.eml")) if CORPUS.is_dir() else []

# {file: {aspect: why}}: where Postel and Python's feedparser knowingly
# differ. Aspects are corpus_compare's ("tree", "type", "params",
# "encoding", "size", "lines", "body", "envelope") and "stalwart"/"mime4j"
# for the .expected files.
KNOWN = {
    "001-mime4j-bad-newlines-base64-rfc822.eml": {
        "body": "a base64 message/rfc822 stays opaque (RFC 2046 5.2.1 allows only 7bit/8bit/binary), as Dovecot; feedparser reads the encoded text as its body",
        "mime4j": "mime4j decodes the base64 message/rfc822 and parses what is inside"},
    "004-mime4j-base64-rfc822-nested.eml": {
        "body": "a base64 message/rfc822 stays opaque (RFC 2046 5.2.1), as Dovecot",
        "mime4j": "mime4j decodes the base64 message/rfc822 and parses what is inside"},
    "006-mime4j-plain-bad-header-separator.eml": {
        "mime4j": "a line of only a space ends the header (as feedparser); mime4j takes it as a folded continuation and the lines after it as header"},
    "009-mime4j-ending-boundaries.eml": {
        "tree": "text after a delimiter on its line: Postel prefix-matches the boundary (RFC 2046 5.1.1 note to implementors), feedparser needs the line to hold the delimiter only"},
    "012-mime4j-header-no-blank-line.eml": {
        "mime4j": "a line that is not a field ends the header and starts the body (as Dovecot); mime4j drops it"},
    "013-mime4j-no-header-at-all.eml": {
        "mime4j": "a message without header: Postel and feedparser take the text as the body; mime4j's expected body is empty"},
    "015-mime4j-missing-boundary.eml": {"tree": "no delimiter found: Postel gives the empty multipart one empty text/plain part (the grammar needs one, as Dovecot does), feedparser keeps the body as a string",
        "mime4j": "mime4j's tree has no body at all for a multipart without parts"},
    "016-mime4j-missing-inner-close-boundary.eml": {
        "tree": "an outer delimiter ends an unclosed inner multipart (as mime4j); feedparser takes the inner boundary as absent",
        "mime4j": "mime4j gives the unclosed inner multipart no leaf; Postel one empty text/plain (the grammar needs a part)"},
    "019-mime4j-multipart-empty-parts.eml": {
        "body": "a close delimiter right after the first: Postel's one part is empty (RFC 2046 5.1.1), feedparser puts the epilogue in it"},
    "021-mime4j-multipart-no-part.eml": {"tree": "no delimiter found: Postel gives the empty multipart one empty text/plain part (the grammar needs one, as Dovecot does), feedparser keeps the body as a string",
        "mime4j": "mime4j's tree has no body at all for a multipart without parts"},
    "026-mime4j-very-long-boundary.eml": {
        "tree": "feedparser matches a delimiter line longer than the boundary; Postel (and mime4j) need the line to start with the whole boundary",
        "body": "same: the part runs on to the real delimiter"},
    "027-mime4j-very-very-long-boundary.eml": {
        "tree": "a boundary beyond MIME_BOUNDARY_MAX (RFC 2046 5.1.1 allows 70) is cut and prefix-matched",
        "params": "feedparser folds the long boundary's whitespace differently",
        "body": "same", "mime4j": "same (test-mime-corpus.c lists it too)"},
    "032-mimetools-double-boundary-lines.eml": {
        "tree": "each delimiter opens a part, even an empty one (RFC 2046 5.1.1, as Dovecot); feedparser folds empty parts away",
        "type": "same: the parts shift", "params": "same", "encoding": "same", "body": "same"},
    "040-mimetools-content-length-parts.eml": {"tree": "a quoted boundary folded over two lines: Postel unfolds it (RFC 5322 2.2.3), feedparser keeps the CRLF and finds no delimiter"},
    "041-mimetools-multipart-digest.eml": {"tree": "a quoted boundary folded over two lines: Postel unfolds it (RFC 5322 2.2.3), feedparser keeps the CRLF and finds no delimiter"},
    "044-mimetools-rfc2046-simple-boundary.eml": {"tree": "a quoted boundary folded over two lines: Postel unfolds it (RFC 5322 2.2.3), feedparser keeps the CRLF and finds no delimiter"},
    "065-cpython-boundary-mismatch.eml": {"tree": "no delimiter found: Postel gives the empty multipart one empty text/plain part (the grammar needs one, as Dovecot does), feedparser keeps the body as a string"},
    "070-cpython-consecutive-boundaries.eml": {
        "tree": "each delimiter opens a part, even an empty one (RFC 2046 5.1.1, as Dovecot); feedparser folds empty parts away",
        "type": "same: the parts shift", "body": "same"},
    "073-cpython-multipart-no-boundary-param.eml": {"tree": "no delimiter found: Postel gives the empty multipart one empty text/plain part (the grammar needs one, as Dovecot does), feedparser keeps the body as a string"},
    "079-dovecot-boundary-colon-empty-parts.eml": {
        "tree": "each delimiter opens a part, even an empty one (RFC 2046 5.1.1); feedparser folds empty parts away",
        "type": "same: the parts shift"},
    "080-dovecot-inner-boundary-prefix-a.eml": {
        "tree": "an inner boundary that the outer one prefixes: an outer delimiter line ends the inner part (RFC 2046 5.1.2, as Dovecot)"},
    "082-dovecot-inner-same-boundary.eml": {
        "tree": "an inner multipart reusing the outer boundary: its delimiters are the outer's (as Dovecot), feedparser nests"},
    "083-dovecot-wrong-delimiters.eml": {
        "tree": "text after a delimiter on its line: Postel prefix-matches (RFC 2046 5.1.1 note), feedparser does not"},
    "085-dovecot-part-header-no-blank-line.eml": {
        "tree": "a delimiter inside a part header ends the header (as mime4j); feedparser reads on"},
    "087-dovecot-nested-three-parts.eml": {
        "body": "an outer delimiter ends an unclosed inner multipart; feedparser cuts the last part's line end",
        "stalwart": "stalwart reads the inner part on past the outer delimiter (test-mime-corpus.c lists it too)"},
    "088-dovecot-mime-version-variants.eml": {
        "tree": "nested multiparts all with boundary 1: delimiters are matched innermost first and a non-close delimiter as the last line opens an empty part (as Dovecot)"},
    "090-dovecot-very-long-boundaries-nested.eml": {
        "tree": "text after the boundary on its line: prefix match (RFC 2046 5.1.1 note), feedparser does not"},
    "091-dovecot-ctype-missing-semicolon.eml": {
        "tree": "Content-Type without ';' before boundary=: Postel reads the parameter (as Dovecot), feedparser takes it into the subtype"},
    "093-dovecot-corrupted-headers.eml": {
        "stalwart": "a delimiter inside a part header ends the header (mime4j); stalwart reads on (test-mime-corpus.c)"},
    "096-dovecot-broken-rfc822-attachment.eml": {
        "stalwart": "broken message/rfc822 attachment: stalwart's body starts inside the header (test-mime-corpus.c)"},
    "108-dovecot-boundary-folded-in-quotes.eml": {"tree": "a quoted boundary folded over two lines: Postel unfolds it (RFC 5322 2.2.3), feedparser keeps the CRLF and finds no delimiter"},
    "112-rfcex-rfc-external-body.eml": {
        "params": "parameters without ';' between them on folded lines: Postel splits them, feedparser joins them into one value"},
    "118-mimekit-empty-multipart-alternative.eml": {"tree": "no delimiter found: Postel gives the empty multipart one empty text/plain part (the grammar needs one, as Dovecot does), feedparser keeps the body as a string"},
    "162-flanker-false-multipart.eml": {"tree": "no delimiter found: Postel gives the empty multipart one empty text/plain part (the grammar needs one, as Dovecot does), feedparser keeps the body as a string"},
    "163-flanker-raw-latin1-from.eml": {
        "envelope": "a raw Latin-1 byte in a header is not UTF-8 (RFC 6532 3.2): Postel sends U+FFFD, feedparser keeps the byte"},
    "167-flanker-missing-final-boundary.eml": {
        "body": "no close delimiter: the last part runs to the end with its line end (as Dovecot); feedparser strips it"},
    "183-rubymail-rfc2822-a6-1-obsolete.eml": {
        "envelope": "comments in addresses are not names (RFC 5322 3.2.2, as Dovecot); feedparser's getaddresses keeps them in the name"},
    "186-rubymail-raw-8bit-filename.eml": {
        "params": "raw 8-bit bytes in a parameter: Postel sends them as UTF-8 (RFC 6855 3), feedparser's get_params replaces them with U+FFFD"},
    "242-spamscope-address-as-display-name.eml": {
        "envelope": "an address list with addresses as display names: Postel finds the mailboxes, getaddresses gives up and returns nothing"},
}


def wire(data):
    """The message as SMTP carries it: CRLF line ends."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def pipelined(c, commands, timeout):
    """Send every command at once, then read the replies in order:
    [(tagged, untagged)]."""
    tags = [c.tag() for _ in commands]
    c.send(b"".join(f"{t} {cmd}\r\n".encode() for t, cmd in zip(tags, commands)))
    return [c.read_tagged(t, timeout=timeout) for t in tags]


@pytest.fixture(scope="module")
def corpus_box(postel):
    """One mailbox holding the corpus in order, fetched once:
    {file name: (seq, sent, items)} where items are one FETCH's BODY[],
    BODYSTRUCTURE, ENVELOPE and BODY[n] of every non-multipart part."""
    user, pw = new_user(postel)
    seqs = {}
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=scaled(30)) as s:
        for f in FILES:
            msg = wire(f.read_bytes())
            if not msg.endswith(b"\r\n"):
                msg += b"\r\n"
            try:
                s.sendmail(BOB, [user], msg)
            except smtplib.SMTPException as e:
                seqs[f.name] = (None, str(e))
                continue
            seqs[f.name] = (len([v for v in seqs.values() if v[0]]) + 1, msg)
    stored = {wire(data) for _, data in postel.messages(user)}
    # BODY[] is compared with the stored bytes: the session takes UTF-8
    # headers as they are (RFC 6855 3); a legacy session gets them
    # downgraded (RFC 6855 7, test_corpus_legacy_session_sees_7bit_headers)
    c = FetchClient(postel.imaps_port, tls=True)
    c.login(user, pw)
    assert status_of(c.command("ENABLE UTF8=ACCEPT")[0]) == "OK"
    c.command("SELECT INBOX")
    n = len([v for v in seqs.values() if v[0]])
    first = pipelined(c, [f"FETCH {i} (BODY.PEEK[] BODYSTRUCTURE ENVELOPE)"
                          for i in range(1, n + 1)], scaled(60))
    items = {}
    for i, (tagged, untagged) in enumerate(first, 1):
        assert status_of(tagged) == "OK", tagged
        items[i] = fetch_items(fetches(untagged)[i])
    cmds = []
    for i in range(1, n + 1):
        nums = [num for num, node, _ in parts(items[i]["BODYSTRUCTURE"], None)
                if not is_multi(node)]
        cmds.append(f"FETCH {i} (" + " ".join(f"BODY.PEEK[{p}]" for p in nums) + ")")
    for i, (tagged, untagged) in enumerate(pipelined(c, cmds, scaled(60)), 1):
        assert status_of(tagged) == "OK", tagged
        items[i].update(fetch_items(fetches(untagged)[i]))
    legacy = FetchClient(postel.imaps_port, tls=True)
    legacy.login(user, pw)
    legacy.command("EXAMINE INBOX")
    yield seqs, stored, items, legacy
    legacy.close()
    c.close()


def bodies_of(items):
    return {k[5:-1]: v for k, v in items.items()
            if k.startswith("BODY[") and k != "BODY[]"}


def stalwart_bodies(name):
    """{part number: body bytes} from stalwart's offsets, in the file's
    own form and in its LF form (some offsets were computed on that):
    [dict, dict], wire form. Parts below a message/rfc822 are left out."""
    exp = CORPUS / name.replace(".eml", ".expected.json")
    if not exp.exists():
        return None
    ps = json.loads(exp.read_text())["parts"]
    data = (CORPUS / name).read_bytes()
    forms = [data, data.replace(b"\r\n", b"\n")]
    out = [{}, {}]

    def walk(idx, num):
        body = ps[idx]["body"]
        kids = body.get("Multipart") if isinstance(body, dict) else None
        if kids is not None:
            for i, k in enumerate(kids, 1):
                walk(k, f"{num}.{i}" if num else str(i))
            return
        num = num or "1"
        for f, d in zip(forms, out):
            d[num] = wire(f[ps[idx]["offset_body"]:ps[idx]["offset_end"]])
    walk(0, "")
    return out


def mime4j_leaves(name):
    """Leaf bodies (wire form) of mime4j's tree, in order, or None."""
    exp = CORPUS / name.replace(".eml", ".expected.xml")
    if not exp.exists():
        return None
    root = ET.fromstring(exp.read_bytes())
    # the XML puts each body on the line after <body>
    return [wire((b.text or "").encode("utf-8", "surrogateescape"))[2:]
            for b in root.iter("body")]


def known(name, aspect):
    return KNOWN.get(name, {}).get(aspect)


@pytest.mark.parametrize("name", [f.name for f in FILES])
def test_corpus_fetch(corpus_box, name):
    seqs, stored, items, _ = corpus_box
    seq, sent = seqs[name]
    if b"\0" in wire((CORPUS / name).read_bytes()):
        # RFC 5321 2.3.8 / 4.1.1.4: no NUL over SMTP; refused, not mangled
        assert seq is None and "NUL" in sent, sent
        return
    assert seq is not None, f"SMTP refused {name}: {sent}"
    it = items[seq]
    whole = it["BODY[]"]
    assert whole in stored
    py = parse(whole)
    bs, bodies = it["BODYSTRUCTURE"], bodies_of(it)
    bad = compare_structure(bs, py, bodies) + compare_envelope(it["ENVELOPE"], py)
    sw = stalwart_bodies(name)
    if sw is not None:
        for num, got in bodies.items():
            if num in sw[0] and got not in (sw[0][num], sw[1][num]):
                bad.append(("stalwart", num, (got[:60], sw[0][num][:60])))
    m4 = mime4j_leaves(name)
    if m4 is not None:
        leaves = [bodies.get(num) for num, node, _ in parts(bs, None)
                  if not is_multi(node) and not is_message(node)]
        if leaves != m4:
            bad.append(("mime4j", "", (len(leaves), len(m4))))
    seen = {a for a, _, _ in bad}
    unexplained = [b for b in bad if not known(name, b[0])]
    assert not unexplained, unexplained
    stale = [a for a in KNOWN.get(name, {}) if a not in seen]
    assert not stale, f"listed divergences no longer seen, remove them: {stale}"


@pytest.mark.parametrize("name", [f.name for f in FILES])
def test_corpus_legacy_session_sees_7bit_headers(corpus_box, name):
    """A rev1 session that never enabled UTF8=ACCEPT gets every header in
    7 bits (RFC 6855 7, RFC 6858), and RFC822.SIZE counts what BODY[]
    sends it."""
    seqs, _, _, legacy = corpus_box
    seq, _ = seqs[name]
    if seq is None:
        return
    tagged, untagged = legacy.command(
        f"FETCH {seq} (RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[])", timeout=scaled(30))
    assert status_of(tagged) == "OK", tagged
    items = fetch_items(fetches(untagged)[seq])
    header = items["BODY[HEADER]"]
    assert all(b < 0x80 for b in header), header
    assert items["BODY[]"].startswith(header)
    assert int(items["RFC822.SIZE"]) == len(items["BODY[]"])
