"""FETCH over the shared MIME corpus (/work/shared/corpus/mime): each
message delivered over SMTP; BODY[] is the stored message, and
BODYSTRUCTURE's types and part count and ENVELOPE's subject and from
agree with Python's email package, an independent parser."""
import email
import email.policy
import email.utils
import itertools
import pathlib
import re
import smtplib

import pytest

from conftest import BOB, scaled
from fetch_helpers import FetchClient, fetch_items, fetches
from imap_helpers import new_user, status_of

CORPUS = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "mime"
if not CORPUS.is_dir():
    CORPUS = pathlib.Path("/work/shared/corpus/mime")
FILES = sorted(CORPUS.glob("*.eml")) if CORPUS.is_dir() else []


# Empty parts between consecutive boundary lines: Postel counts each
# delimiter as a part (RFC 2046 5.1.1, as Dovecot does); Python's feedparser
# folds them away without recording a defect. Part counts are not compared.
CONSECUTIVE_BOUNDARIES = {"032-mimetools-double-boundary-lines.eml",
                          "070-cpython-consecutive-boundaries.eml",
                          "079-dovecot-boundary-colon-empty-parts.eml"}


def wire(data):
    """The message as SMTP carries it: CRLF line ends."""
    return re.sub(rb"\r?\n", b"\r\n", data)


@pytest.fixture(scope="module")
def corpus_box(postel):
    """One mailbox holding the corpus in order: {file name: (seq, sent)}."""
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
    legacy = FetchClient(postel.imaps_port, tls=True)
    legacy.login(user, pw)
    legacy.command("EXAMINE INBOX")
    yield c, seqs, stored, legacy
    legacy.close()
    c.close()


def py_leaves(msg):
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        return sum(py_leaves(p) for p in msg.get_payload()) or 1
    return 1


def imap_kids(bs):
    """The parts of a multipart BODYSTRUCTURE: its leading lists."""
    return list(itertools.takewhile(lambda p: isinstance(p, list), bs))


def imap_leaves(bs):
    if isinstance(bs[0], list):
        return sum(imap_leaves(k) for k in imap_kids(bs))
    return 1


@pytest.mark.parametrize("name", [f.name for f in FILES])
def test_corpus_fetch(corpus_box, name):
    c, seqs, stored, _ = corpus_box
    seq, sent = seqs[name]
    if b"\0" in wire((CORPUS / name).read_bytes()):
        # RFC 5321 2.3.8 / 4.1.1.4: no NUL over SMTP; refused, not mangled
        assert seq is None and "NUL" in sent, sent
        return
    assert seq is not None, f"SMTP refused {name}: {sent}"
    tagged, untagged = c.command(f"FETCH {seq} (BODY.PEEK[] BODYSTRUCTURE ENVELOPE)",
                                 timeout=scaled(30))
    assert status_of(tagged) == "OK", tagged
    items = fetch_items(fetches(untagged)[seq])
    whole = items["BODY[]"]
    assert whole in stored
    py = email.message_from_bytes(whole, policy=email.policy.compat32)
    bs = items["BODYSTRUCTURE"]
    # where Python finds the message malformed the two parsers may
    # legitimately differ in their repair: compare the clean ones
    clean = not any(part.defects for part in py.walk()) and name not in CONSECUTIVE_BOUNDARIES
    if isinstance(bs[0], list):
        top = (b"multipart", bs[len(imap_kids(bs))])
    else:
        top = (bs[0], bs[1])
    ptype = py.get_content_type().split("/")
    if clean:
        assert [t.decode().lower() for t in top] == ptype, (top, ptype)
        assert imap_leaves(bs) == py_leaves(py)
    env = items["ENVELOPE"]
    # raw_items(): compat32 keeps 8-bit header bytes as surrogates
    subj = next((v for k, v in py.raw_items() if k.lower() == "subject"), None)
    if subj is None:
        assert env[1] is None
    else:
        assert env[1] is not None
        # 8-bit (RFC 6532) subjects compared as bytes
        assert re.sub(rb"\s+", b" ", env[1]).strip() == \
            re.sub(rb"\s+", b" ", str(subj).encode("utf-8", "surrogateescape")).strip()
    frm = next((v for k, v in py.raw_items() if k.lower() == "from"), None)
    if frm is None:
        assert env[2] is None or env[2] == env[4]
    else:
        addrs = email.utils.getaddresses([frm])
        mailbox = [a for _, a in addrs if "@" in a]
        if mailbox and env[2]:
            local, _, domain = mailbox[0].rpartition("@")
            assert (env[2][0][2] or b"") == local.encode("utf-8", "surrogateescape")
            assert (env[2][0][3] or b"").lower() == \
                domain.lower().encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("name", [f.name for f in FILES])
def test_corpus_legacy_session_sees_7bit_headers(corpus_box, name):
    """A rev1 session that never enabled UTF8=ACCEPT gets every header in
    7 bits (RFC 6855 7, RFC 6858), and RFC822.SIZE counts what BODY[]
    sends it."""
    _, seqs, _, legacy = corpus_box
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
