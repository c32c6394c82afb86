"""PREVIEW (RFC 8970, issue 12 item 6): FETCH PREVIEW and PREVIEW (LAZY)
from the first text part, transfer-decoded (quoted-printable, base64),
converted to UTF-8 (ISO-8859-1), HTML stripped, text/plain preferred in
a multipart/alternative, white space collapsed, at most 256 characters;
a message without a text part has the empty preview (3.1). The preview
is cached in the index: a second FETCH answers the same; an unknown
modifier is BAD; the capability."""
import pytest

from fetch_helpers import fetch_items, fetches
from imap_helpers import status_of
from test_imap_objectid import append, session

CASES = [
    ("Subject: plain\n\n  Hello,\n\n\tworld   again\n", "Hello, world again"),
    ("Content-Type: text/plain; charset=iso-8859-1\n"
     "Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe aus K=F6ln=\n!\n",
     "Grüße aus Köln!"),
    ("Content-Transfer-Encoding: base64\n\nSGVsbG8gYmFzZTY0IHdvcmxk\n", "Hello base64 world"),
    ("Content-Type: text/html\n\n<html><head><style>p {}</style></head><body>"
     "<p>Fish &amp; <b>chips</b></p></body></html>\n", "Fish & chips"),
    ("Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n"
     "<p>rich</p>\n--b\nContent-Type: text/plain\n\nplain wins\n--b--\n", "plain wins"),
    ("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: image/png\n"
     "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n", ""),
    ("Subject: long\n\n" + "word " * 100 + "\n", ("word " * 52)[:256]),
]


def preview_of(c, seq, item="PREVIEW"):
    tagged, untagged = c.command(f"FETCH {seq} ({item})")
    assert status_of(tagged) == "OK", tagged
    value = fetch_items(fetches(untagged)[seq])["PREVIEW"]
    assert value is not None  # 3.1: NIL only when it cannot be generated
    return value.decode("utf-8")


def test_preview_cases(postel):
    with session(postel) as c:
        tagged, untagged = c.command("CAPABILITY")
        assert b"PREVIEW" in b"".join(untagged).split()
        for text, _ in CASES:
            append(c, "INBOX", text)
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        for seq, (_, want) in enumerate(CASES, 1):
            assert preview_of(c, seq) == want, seq
            assert len(preview_of(c, seq)) <= 256
            # cached now; LAZY answers the same
            assert preview_of(c, seq, "PREVIEW (LAZY)") == want, seq


@pytest.mark.parametrize("items", ["PREVIEW (EAGER)", "PREVIEW (LAZY FOO)"])
def test_preview_bad_modifier(postel, items):
    with session(postel) as c:
        append(c, "INBOX", "Subject: x\n\nx\n")
        assert status_of(c.command("SELECT INBOX")[0]) == "OK"
        tagged, _ = c.command(f"FETCH 1 ({items})")
        assert status_of(tagged) == "BAD", tagged
