"""Test messages and the checks on what a server stored: token(),
make_message(), check_delivered() (exactly the sent bytes after the
headers the server adds), assert_not_delivered()."""
import re
import uuid

from e2e_env import ALICE, HOSTNAME


def token():
    """A unique marker to find one test's message among many."""
    return "T" + uuid.uuid4().hex


def make_message(tok, sender=ALICE, to=ALICE, subject=None, body=None,
                 date=True, message_id=True, extra_headers=()):
    """A CRLF message carrying tok in its Subject and its last body line.

    The body deliberately holds a line starting with a dot, a line that is
    only a dot-dot, trailing spaces and 8-bit-free text, so the dot-stuffing
    round trip is checked every time."""
    lines = [f"From: <{sender}>", f"To: <{to}>",
             f"Subject: {subject or 'e2e test'} {tok}"]
    if date:
        lines.append("Date: Thu, 01 Jan 2026 12:00:00 +0000")
    if message_id:
        lines.append(f"Message-ID: <{tok}@e2e.test>")
    lines.extend(extra_headers)
    lines.append("")
    if body is None:
        body = ["Hello,", ".a line starting with a dot", "..", "trailing space  ",
                "", "end " + tok]
    lines.extend(body)
    return ("\r\n".join(lines) + "\r\n").encode()


def header_fields(block):
    """Split a CRLF header block into unfolded-by-hand fields (bytes each)."""
    fields = []
    for line in block.split(b"\r\n"):
        if line == b"":
            continue
        if line[:1] in (b" ", b"\t"):
            assert fields, f"continuation line first: {line!r}"
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def check_delivered(srv, address, original, sender, tok=None, tls=None,
                    submission=False, folder="INBOX"):
    """Exactly one message holding tok is in address's folder, and it is
    the original bytes preceded only by the headers the server adds.
    Returns (added header fields, stored bytes)."""
    tok = tok or re.search(rb"T[0-9a-f]{32}", original).group().decode()
    found = srv.find(address, tok, folder)
    assert len(found) == 1, (
        f"{len(found)} messages with {tok} for {address} in {folder}; "
        f"all files: {srv.all_files_containing(tok)}")
    stored = found[0]
    assert stored.endswith(original), (
        f"stored message does not end with the sent bytes\n"
        f"sent:   {original!r}\nstored: {stored!r}")
    prefix = stored[:len(stored) - len(original)]
    assert prefix.endswith(b"\r\n"), prefix
    fields = header_fields(prefix)
    assert len(fields) >= 3, fields
    assert fields[0] == f"Return-Path: <{sender}>".encode(), fields[0]
    assert fields[1] == f"Delivered-To: {address}".encode(), fields[1]
    assert fields[2].startswith(b"Received: from "), fields[2]
    received = fields[2]
    assert f"by {HOSTNAME}".encode() in received, received
    for line in received.split(b"\r\n"):
        assert len(line) <= 998, line
    if tls is not None:
        assert f"version={tls}".encode() in received, received
    elif tls is None:
        pass
    rest = fields[3:]
    names = [f.split(b":", 1)[0].lower() for f in rest]
    if submission:
        has_date = re.search(rb"(?mi)^Date:", original.split(b"\r\n\r\n")[0]) is not None
        has_mid = re.search(rb"(?mi)^Message-ID:", original.split(b"\r\n\r\n")[0]) is not None
        expect = []
        if not has_date:
            expect.append(b"date")
        if not has_mid:
            expect.append(b"message-id")
        assert sorted(names) == sorted(expect), f"added headers {rest}, expected {expect}"
        for f in rest:
            if f.lower().startswith(b"message-id:"):
                assert re.match(rb"(?i)message-id: <[^<>@\s]+@[^<>@\s]+>$", f), f
            if f.lower().startswith(b"date:"):
                assert re.match(rb"(?i)date: (\w{3}, )?\d{1,2} \w{3} \d{4} "
                                rb"\d\d:\d\d(:\d\d)? [+-]\d{4}", f), f
    else:
        assert names == [], f"unexpected added headers {rest}"
    return fields, stored


def assert_not_delivered(srv, tok):
    """No file anywhere in the data directory (Maildirs, tmp/, queue, spool)
    holds the message marked tok."""
    hits = srv.all_files_containing(tok)
    assert hits == [], f"message with {tok} was stored: {hits}"
